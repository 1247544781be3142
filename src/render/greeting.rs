//! Human lines for the service layers: greeting, service identification and STARTTLS.
//! Pure: values may carry network text, which the human renderer escapes.

use super::lines::{Line, Tone};
use crate::report::greeting::{
    GreetingReport, GreetingState, ServiceReport, StarttlsReport, StarttlsResult,
};

/// At most this many capabilities are listed on one line.
const MAX_CAPABILITIES: usize = 24;

/// The lines for one probe's greeting, service and STARTTLS parts (any may be absent).
pub fn greeting_lines(
    port: u16,
    greeting: Option<&GreetingReport>,
    service: Option<&ServiceReport>,
    starttls: Option<&StarttlsReport>,
) -> Vec<Line> {
    let mut out = Vec::new();
    if let Some(g) = greeting {
        greeting_part(g, &mut out);
    }
    if let Some(s) = service
        && let Some(line) = service_line(port, s)
    {
        out.push(line);
    }
    if let Some(st) = starttls {
        out.push(starttls_line(st));
    }
    out
}

fn greeting_part(g: &GreetingReport, out: &mut Vec<Line>) {
    let (value, tone) = match g.state {
        GreetingState::Silent => (
            "silent: accepted the connection, said nothing".to_string(),
            Tone::Warn,
        ),
        GreetingState::Closed => (
            "closed by the server without a word".to_string(),
            Tone::Warn,
        ),
        GreetingState::Reset => ("reset by the server without a word".to_string(), Tone::Bad),
        GreetingState::Error => ("could not be read".to_string(), Tone::Bad),
        GreetingState::Banner | GreetingState::Reply => (summary(g), Tone::Plain),
    };
    out.push(Line::new(0, "greeting", value, tone));
    if let Some(asked) = &g.asked {
        out.push(Line::new(1, "asked", asked.clone(), Tone::Dim));
    }
    if let Some(software) = &g.software {
        out.push(Line::new(1, "software", software.clone(), Tone::Plain));
    }
    if let Some(http) = &g.http {
        let mut v = format!("{} {} {}", http.version, http.status, http.reason);
        if let Some(location) = &http.location {
            v.push_str(&format!(" → {location}"));
        }
        out.push(Line::new(1, "http", v.trim_end().to_string(), Tone::Plain));
    }
    if let Some(m) = &g.mysql {
        let v = match (&m.error, m.ssl) {
            (Some(e), _) => format!("error {}: {e}", m.error_code.unwrap_or(0)),
            (None, true) => "handshake; TLS capable".to_string(),
            (None, false) => "handshake; no TLS capability".to_string(),
        };
        out.push(Line::new(1, "mysql", v, Tone::Plain));
    }
    if let Some(caps) = &g.capabilities
        && !caps.is_empty()
    {
        let mut v = caps
            .iter()
            .take(MAX_CAPABILITIES)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if caps.len() > MAX_CAPABILITIES {
            v.push_str(&format!(", … (+{})", caps.len() - MAX_CAPABILITIES));
        }
        out.push(Line::new(1, "capabilities", v, Tone::Dim));
    }
    if let Some(ms) = g.banner_ms {
        out.push(Line::new(
            1,
            "time",
            format!("{ms:.1} ms to first byte"),
            Tone::Dim,
        ));
    }
    if g.truncated {
        out.push(Line::new(
            1,
            "note",
            format!("greeting cut after {} bytes", g.bytes),
            Tone::Warn,
        ));
    }
}

/// `smtp · 220 mx.example ESMTP Postfix (+2 lines)`.
fn summary(g: &GreetingReport) -> String {
    let mut lines = g.text.lines();
    let first = lines.next().unwrap_or_default().trim_end_matches('\r');
    let more = lines.count();
    let mut v = match &g.protocol {
        Some(p) => format!("{p} · {first}"),
        None => first.to_string(),
    };
    if more > 0 {
        v.push_str(&format!(" (+{more} lines)"));
    }
    if let Some(hex) = &g.hex {
        v = format!("binary: {hex}");
    }
    v
}

fn service_line(port: u16, s: &ServiceReport) -> Option<Line> {
    let registered = match &s.port_name {
        Some(name) => format!("port {port} is {name}"),
        None => format!("port {port}"),
    };
    let line = match (&s.detected, s.mismatch) {
        (Some(d), true) => Line::new(
            0,
            "service",
            format!("{registered}, but the server speaks {d}"),
            Tone::Warn,
        ),
        (Some(d), false) => Line::new(
            0,
            "service",
            format!("{registered}; server speaks {d}"),
            Tone::Good,
        ),
        (None, _) if s.port_name.is_some() => Line::new(
            0,
            "service",
            format!("{registered}; not identified"),
            Tone::Dim,
        ),
        (None, _) => return None,
    };
    Some(line)
}

fn starttls_line(st: &StarttlsReport) -> Line {
    let timing = st
        .ms
        .map(|ms| format!(" in {ms:.1} ms"))
        .unwrap_or_default();
    let reply = st
        .reply
        .as_deref()
        .map(|r| format!(" ({})", first_line(r)))
        .unwrap_or_default();
    let (value, tone) = match st.result {
        StarttlsResult::Negotiated => {
            let how = if st.offered { "" } else { " (not advertised)" };
            (
                format!("{}: negotiated{timing}{how}{reply}", st.protocol),
                Tone::Good,
            )
        }
        StarttlsResult::Refused => (format!("{}: refused{reply}", st.protocol), Tone::Bad),
        StarttlsResult::NotOffered => (
            format!("{}: not offered by the server{reply}", st.protocol),
            Tone::Warn,
        ),
        StarttlsResult::Error => {
            let why = st.error.as_deref().unwrap_or("error");
            (format!("{}: failed ({why}){reply}", st.protocol), Tone::Bad)
        }
    };
    let value = if st.from_greeting {
        format!("{value} (dialect chosen from the greeting: TLS was asked for)")
    } else {
        value
    };
    Line::new(0, "starttls", value, tone)
}

fn first_line(text: &str) -> &str {
    text.lines()
        .next()
        .unwrap_or_default()
        .trim_end_matches('\r')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::greeting::SmtpGreeting;

    fn smtp_greeting() -> GreetingReport {
        GreetingReport {
            state: GreetingState::Banner,
            protocol: Some("smtp".into()),
            text: "220-mx.example ESMTP Postfix\r\n220 hi".into(),
            software: Some("Postfix".into()),
            banner_ms: Some(1.25),
            capabilities: Some(vec!["PIPELINING".into(), "STARTTLS".into()]),
            smtp: Some(SmtpGreeting {
                code: 220,
                host: Some("mx.example".into()),
                size: None,
                auth: vec![],
            }),
            ..GreetingReport::default()
        }
    }

    #[test]
    fn banner_service_and_negotiated_starttls() {
        let service = ServiceReport {
            port_name: Some("smtp".into()),
            detected: Some("smtp".into()),
            expected: Some("smtp".into()),
            mismatch: false,
        };
        let st = StarttlsReport {
            protocol: "smtp".into(),
            offered: true,
            result: StarttlsResult::Negotiated,
            reply: Some("220 2.0.0 Ready to start TLS".into()),
            error: None,
            ms: Some(3.0),
            from_greeting: false,
        };
        let lines = greeting_lines(25, Some(&smtp_greeting()), Some(&service), Some(&st));
        let find = |label: &str| {
            lines
                .iter()
                .find(|l| l.label == label)
                .expect(label)
                .clone()
        };
        assert_eq!(
            find("greeting").value,
            "smtp · 220-mx.example ESMTP Postfix (+1 lines)"
        );
        assert_eq!(find("capabilities").value, "PIPELINING, STARTTLS");
        assert_eq!(find("time").value, "1.2 ms to first byte");
        assert_eq!(
            (find("service").value.as_str(), find("service").tone),
            ("port 25 is smtp; server speaks smtp", Tone::Good)
        );
        assert_eq!(
            find("starttls").value,
            "smtp: negotiated in 3.0 ms (220 2.0.0 Ready to start TLS)"
        );
    }

    #[test]
    fn mismatch_silence_and_failures() {
        let service = ServiceReport {
            port_name: Some("https".into()),
            detected: Some("ssh".into()),
            expected: Some("tls".into()),
            mismatch: true,
        };
        let lines = greeting_lines(443, Some(&GreetingReport::default()), Some(&service), None);
        assert_eq!(
            lines[0].value,
            "silent: accepted the connection, said nothing"
        );
        let s = lines
            .iter()
            .find(|l| l.label == "service")
            .expect("service");
        assert_eq!(
            (s.value.as_str(), s.tone),
            ("port 443 is https, but the server speaks ssh", Tone::Warn)
        );
        let refused = StarttlsReport {
            protocol: "imap".into(),
            result: StarttlsResult::Refused,
            reply: Some("s1 NO not now\r\nmore".into()),
            ..StarttlsReport::default()
        };
        let l = greeting_lines(143, None, None, Some(&refused));
        assert_eq!(
            (l[0].value.as_str(), l[0].tone),
            ("imap: refused (s1 NO not now)", Tone::Bad)
        );
        let broke = StarttlsReport {
            protocol: "xmpp".into(),
            result: StarttlsResult::Error,
            error: Some("timeout".into()),
            ..StarttlsReport::default()
        };
        assert_eq!(
            greeting_lines(5222, None, None, Some(&broke))[0].value,
            "xmpp: failed (timeout)"
        );
        assert!(greeting_lines(40000, None, Some(&ServiceReport::default()), None).is_empty());
    }
}
