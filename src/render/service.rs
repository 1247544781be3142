//! Human lines for the service layers: the greeting, what the port is registered for versus
//! what answered, and the STARTTLS upgrade. Pure; values are escaped by the renderer.

use super::human::fmt_ms;
use super::lines::{Line, Tone};
use crate::report::greeting::{GreetingReport, GreetingState, ServiceReport, StarttlsReport};

/// Longest greeting excerpt shown on one line; the JSON carries the whole bounded text.
const EXCERPT: usize = 200;

/// `service`, `greeting` (and parsed fields) lines.
pub fn greeting_lines(greeting: &GreetingReport, service: Option<&ServiceReport>) -> Vec<Line> {
    let mut lines = Vec::new();
    if let Some(service) = service.filter(|s| s.port_name.is_some() || s.detected.is_some()) {
        let registered = service.port_name.as_deref().unwrap_or("unregistered");
        let (value, tone) = match (&service.detected, service.mismatch) {
            (Some(detected), true) => (
                format!("port is {registered}, but the server speaks {detected}"),
                Tone::Warn,
            ),
            (Some(detected), false) => (
                format!("{detected} (port registered for {registered})"),
                Tone::Plain,
            ),
            (None, _) => (
                format!("unidentified (port registered for {registered})"),
                Tone::Dim,
            ),
        };
        lines.push(Line::new(0, "service", value, tone));
    }
    let over = if greeting.over_tls {
        " (inside TLS)"
    } else {
        ""
    };
    let (label, value, tone) = match greeting.state {
        GreetingState::Silent => (
            "greeting",
            format!("silent: accepts connections but says nothing{over}"),
            Tone::Warn,
        ),
        GreetingState::Closed => (
            "greeting",
            format!("closed without a word{over}"),
            Tone::Warn,
        ),
        GreetingState::Reset => (
            "greeting",
            format!("reset without a word{over}"),
            Tone::Warn,
        ),
        GreetingState::Error => ("greeting", format!("read failed{over}"), Tone::Warn),
        GreetingState::Banner | GreetingState::Reply => {
            let proto = greeting.protocol.as_deref().unwrap_or("unknown");
            let first = greeting.text.lines().next().unwrap_or("");
            let excerpt: String = first.chars().take(EXCERPT).collect();
            let time = greeting
                .banner_ms
                .map(|ms| format!(" after {}", fmt_ms(ms)))
                .unwrap_or_default();
            let word = if greeting.state == GreetingState::Reply {
                "reply"
            } else {
                "greeting"
            };
            (word, format!("{proto}{over}{time}: {excerpt}"), Tone::Plain)
        }
    };
    lines.push(Line::new(0, label, value, tone));
    if let Some(software) = &greeting.software {
        lines.push(Line::new(1, "software", software.clone(), Tone::Plain));
    }
    if let Some(ssh) = &greeting.ssh {
        lines.push(Line::new(
            1,
            "ssh",
            format!("protocol {}", ssh.proto_version),
            Tone::Dim,
        ));
    }
    if let Some(http) = &greeting.http {
        let server = http
            .server
            .as_deref()
            .map(|s| format!(", server {s}"))
            .unwrap_or_default();
        lines.push(Line::new(
            1,
            "http",
            format!("{} {} {}{server}", http.version, http.status, http.reason),
            Tone::Plain,
        ));
    }
    if let Some(caps) = &greeting.capabilities
        && !caps.is_empty()
    {
        lines.push(Line::new(1, "capabilities", caps.join(" "), Tone::Dim));
    }
    if greeting.truncated {
        lines.push(Line::new(
            1,
            "",
            format!("(stopped reading after {} bytes)", greeting.bytes),
            Tone::Dim,
        ));
    }
    lines
}

/// The `starttls` line.
pub fn starttls_lines(upgrade: &StarttlsReport) -> Vec<Line> {
    let offered = if upgrade.offered {
        "advertised"
    } else {
        "not advertised"
    };
    let time = upgrade
        .ms
        .map(|ms| format!(" in {}", fmt_ms(ms)))
        .unwrap_or_default();
    let tone = if upgrade.failed() {
        Tone::Bad
    } else {
        Tone::Good
    };
    let mut value = format!("{}: {} ({offered}){time}", upgrade.protocol, upgrade.result);
    if upgrade.failed()
        && let Some(reply) = upgrade.reply.as_ref().or(upgrade.error.as_ref())
    {
        value.push_str(&format!("; server said: {reply}"));
    }
    vec![Line::new(0, "starttls", value, tone)]
}
