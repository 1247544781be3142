//! The human report: one verdict line per probe that reads like a diagnosis, detail lines
//! beneath it, colour when asked. Every network-supplied string is escaped here.

use std::io::{self, Write};
use std::net::IpAddr;

use super::lines::{Line, Tone};
use super::sanitize::escape;
use crate::report::{
    Attempt, DnsOutcome, IcmpEvidence, LatencyStats, Layer, Report, Stopped, TcpReason, TcpReport,
    TcpState, word,
};
use crate::verdict::{self, Headline};

/// How probes are shown: colour, and whether every probe line names its SNI.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Style {
    /// Emit ANSI colour codes.
    pub color: bool,
    /// Name the SNI on every probe line, also when it is the host's own name: in an IP × SNI
    /// run (several names) a line without it would be ambiguous.
    pub every_sni: bool,
}

impl Style {
    fn paint(self, tone: Tone, text: &str) -> String {
        if !self.color {
            return text.to_string();
        }
        let code = match tone {
            Tone::Plain => return text.to_string(),
            Tone::Good => "32",
            Tone::Warn => "33",
            Tone::Bad => "31",
            Tone::Dim => "2",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }
}

/// `host:port (address)`, with IPv6 in brackets, and ` sni=NAME` when the SNI is not the host
/// (or, with `every_sni`, always).
pub fn probe_label(report: &Report, every_sni: bool) -> String {
    let host_port = |host: &str| {
        if host.contains(':') {
            format!("[{host}]:{}", report.port)
        } else {
            format!("{host}:{}", report.port)
        }
    };
    let mut label = match report.address {
        Some(addr) if addr.to_string() != report.host => {
            format!("{} ({addr})", host_port(&report.host))
        }
        _ => host_port(&report.host),
    };
    if report.udp.is_some() {
        label.push_str("/udp");
    }
    // With several names on one address, the SNI is what tells the probes apart.
    if let Some(sni) = report.tls.as_ref().and_then(|t| t.sni.as_deref())
        && (sni != report.host || every_sni)
    {
        label.push_str(&format!(" sni={sni}"));
    }
    label
}

/// Writes one probe: the verdict line, then its detail lines.
pub fn write_report(
    w: &mut impl Write,
    report: &Report,
    style: Style,
    show_certs: bool,
) -> io::Result<()> {
    let (tone, verdict) = verdict_line(report);
    writeln!(
        w,
        "{}  {}",
        escape(&probe_label(report, style.every_sni)),
        style.paint(tone, &verdict)
    )?;
    for line in detail_lines(report, show_certs) {
        write_line(w, &line, style)?;
    }
    Ok(())
}

/// Writes one detail line, escaping its value.
pub fn write_line(w: &mut impl Write, line: &Line, style: Style) -> io::Result<()> {
    let indent = "  ".repeat(usize::from(line.indent) + 1);
    if line.value.is_empty() {
        return writeln!(w, "{indent}{}", line.label);
    }
    let value = style.paint(line.tone, &escape(&line.value));
    if line.label.is_empty() {
        writeln!(w, "{indent}{value}")
    } else {
        writeln!(w, "{indent}{:<10} {value}", line.label)
    }
}

/// One latency-mode attempt as it happens (PsPing's per-attempt line).
pub fn write_attempt(
    w: &mut impl Write,
    report: &Report,
    attempt: &Attempt,
    style: Style,
) -> io::Result<()> {
    let tone = if attempt.state.is_open() {
        Tone::Good
    } else {
        Tone::Bad
    };
    let mut text = format!("{} {}", attempt.state.human(), fmt_ms(attempt.connect_ms));
    if !attempt.state.is_open() {
        text = format!("{} ({})", attempt.state.human(), word(&attempt.reason));
    }
    if let Some(tls) = attempt.tls_handshake_ms {
        text.push_str(&format!(", tls {}", fmt_ms(tls)));
    }
    let tone = match attempt.stopped {
        Some(stopped) if !stopped.layer.is_transport() && stopped.layer > Layer::Tcp => {
            text.push_str(&format!(
                ", {} {}",
                stopped.layer.as_str(),
                stopped.reason.word()
            ));
            Tone::Bad
        }
        _ => tone,
    };
    writeln!(
        w,
        "{}  #{:<4} {}",
        escape(&probe_label(report, style.every_sni)),
        attempt.seq,
        style.paint(tone, &text)
    )
}

/// The verdict line's text, without the probe label or colour (for the plugin status line).
pub(crate) fn headline_text(report: &Report) -> String {
    verdict_line(report).1
}

fn verdict_line(report: &Report) -> (Tone, String) {
    match verdict::headline(report) {
        Headline::Expectation(failed) => {
            let text = format!(
                "EXPECT {} failed: wanted {}, saw {}",
                word(&failed.check),
                failed.wanted,
                failed.seen
            );
            (Tone::Bad, text)
        }
        Headline::Stopped(stopped) => {
            let (tone, text) = stopped_line(report, stopped);
            // `--expect closed` on a closed port: the stop is what was asked for.
            let asked_for = stopped.layer.is_transport() && !report.expect.is_empty();
            if asked_for {
                (Tone::Good, format!("{text} (as expected)"))
            } else {
                (tone, text)
            }
        }
        Headline::Reached(layer) => reached_line(report, layer),
    }
}

fn stopped_line(report: &Report, stopped: &Stopped) -> (Tone, String) {
    match stopped.layer {
        Layer::Dns => return dns_line(report),
        Layer::Tcp => {
            if let Some(tcp) = &report.tcp {
                return tcp_verdict(tcp);
            }
        }
        Layer::Quic => {
            if let Some(quic) = &report.quic {
                return super::quic::quic_verdict(quic);
            }
        }
        Layer::Udp => {
            if let Some(udp) = &report.udp {
                return super::udp::verdict(udp);
            }
        }
        Layer::Internal => {
            let detail = report
                .problems
                .first()
                .map(|p| p.detail.as_str())
                .unwrap_or("");
            return (
                Tone::Bad,
                format!("INTERNAL error: reach failed on this probe ({detail}); please report it"),
            );
        }
        _ => {}
    }
    (
        Tone::Bad,
        format!(
            "{} {} ({})",
            stopped.layer.as_str().to_uppercase(),
            stopped.reason.word(),
            timings(report)
        ),
    )
}

fn dns_line(report: &Report) -> (Tone, String) {
    let Some(dns) = &report.dns else {
        return (Tone::Bad, "DNS error: resolver failure".to_string());
    };
    let text = match dns.outcome {
        DnsOutcome::Nxdomain => "DNS nxdomain: the name does not exist".to_string(),
        DnsOutcome::NoRecords => match &dns.detail {
            Some(d) => format!("DNS no_records: {d}"),
            None => "DNS no_records: the name has no address of the asked family".to_string(),
        },
        DnsOutcome::Timeout => format!(
            "DNS timeout: {}",
            dns.detail
                .as_deref()
                .unwrap_or("the resolver did not answer in time")
        ),
        _ => format!(
            "DNS error: {}",
            dns.detail.as_deref().unwrap_or("resolver failure")
        ),
    };
    (Tone::Bad, text)
}

/// `TCP open in …, TLS in …`: the timings of the layers that ran.
fn timings(report: &Report) -> String {
    let connected = report
        .tcp
        .as_ref()
        .map(|t| format!("TCP open in {}", fmt_ms(t.connect_ms)))
        .unwrap_or_else(|| quic_timing(report));
    let handshake = report
        .tls
        .as_ref()
        .and_then(|t| t.handshake_ms)
        .map(|ms| format!(", TLS in {}", fmt_ms(ms)))
        .unwrap_or_default();
    format!("{connected}{handshake}")
}

/// `QUIC`: the transport of a QUIC probe, in the timings (its handshake is the TLS one).
fn quic_timing(report: &Report) -> String {
    match &report.quic {
        Some(quic) => match &quic.version {
            Some(v) => format!("QUIC v{v}"),
            None => "QUIC".to_string(),
        },
        None => String::new(),
    }
}

fn reached_line(report: &Report, reached: Option<Layer>) -> (Tone, String) {
    if let Some(udp) = &report.udp {
        return super::udp::verdict(udp);
    }
    let (tone, tcp_text) = match (&report.tcp, &report.quic) {
        (Some(tcp), _) => tcp_verdict(tcp),
        (None, Some(quic)) => super::quic::quic_verdict(quic),
        (None, None) => return (Tone::Bad, "not probed".to_string()),
    };
    match reached {
        Some(Layer::Vhost) => (
            Tone::Good,
            format!(
                "OK: right virtual host, certificate trusted ({})",
                timings(report)
            ),
        ),
        Some(Layer::Certificate) => (
            Tone::Good,
            format!("OK: TLS done, certificate trusted ({})", timings(report)),
        ),
        Some(Layer::Greeting) => {
            let proto = report
                .greeting
                .as_ref()
                .and_then(|g| g.protocol.as_deref())
                .unwrap_or("a service");
            (Tone::Good, format!("{tcp_text}, {proto} answered"))
        }
        _ => (tone, tcp_text),
    }
}

/// The TCP verdict as a sentence: state, evidence, who answered, time.
pub fn tcp_verdict(tcp: &TcpReport) -> (Tone, String) {
    let t = fmt_ms(tcp.connect_ms);
    let from = |ip: Option<IpAddr>| ip.map(|a| format!(" from {a}")).unwrap_or_default();
    let icmp_name = tcp.icmp.as_ref().map_or("", |i| i.name.as_str());
    match tcp.state {
        TcpState::Open => (Tone::Good, format!("TCP open (SYN-ACK in {t})")),
        TcpState::Closed => (
            Tone::Bad,
            format!("TCP closed: RST received in {t} (nothing listening)"),
        ),
        TcpState::Rejected => (
            Tone::Bad,
            format!(
                "TCP rejected: ICMP {icmp_name}{} in {t}",
                from(tcp.icmp_from)
            ),
        ),
        TcpState::Unreachable => {
            let why = match tcp.reason {
                TcpReason::NoRoute => "no route to the address".to_string(),
                _ => format!("ICMP {icmp_name}{}", from(tcp.icmp_from)),
            };
            (Tone::Bad, format!("TCP unreachable: {why} in {t}"))
        }
        TcpState::Filtered if tcp.icmp_evidence == IcmpEvidence::Unavailable => (
            Tone::Warn,
            format!(
                "TCP filtered: no answer within {t} (dropped, or rejected by an ICMP error \
                 this system does not report)"
            ),
        ),
        TcpState::Filtered => (
            Tone::Warn,
            format!("TCP filtered: no answer within {t} (silently dropped)"),
        ),
        TcpState::Error => {
            let why = match tcp.reason {
                TcpReason::LocalPolicy => {
                    "the local system refused the connection (firewall or policy)".to_string()
                }
                TcpReason::LocalIcmp => {
                    format!("rejected by this host's own firewall (ICMP {icmp_name})")
                }
                TcpReason::LocalResources => {
                    "out of local resources (file descriptors or ports)".to_string()
                }
                _ => format!("local error (errno {})", tcp.errno.unwrap_or(0)),
            };
            (Tone::Bad, format!("TCP error: {why}"))
        }
    }
}

/// Every line below the verdict line, layer by layer.
pub fn detail_lines(report: &Report, show_certs: bool) -> Vec<Line> {
    let mut lines = Vec::new();
    if let Some(quic) = &report.quic {
        lines.extend(super::quic::quic_lines(quic));
    }
    if let Some(udp) = &report.udp {
        lines.extend(super::udp::lines(udp));
    }
    // Inside-TLS greetings (HTTPS status, IMAPS banner) read best after the TLS lines.
    let after_tls = report.greeting.as_ref().is_some_and(|g| g.over_tls);
    let before = report.greeting.as_ref().filter(|_| !after_tls);
    lines.extend(super::greeting::greeting_lines(
        report.port,
        before,
        report.service.as_ref().filter(|_| !after_tls),
        report.starttls.as_ref(),
    ));
    if let Some(tls) = &report.tls {
        lines.extend(super::tls::tls_lines(tls, show_certs));
    }
    if after_tls {
        lines.extend(super::greeting::greeting_lines(
            report.port,
            report.greeting.as_ref(),
            report.service.as_ref(),
            None,
        ));
    }
    if let Some(trace) = &report.trace {
        lines.extend(super::trace::trace_lines(trace));
    }
    lines.extend(verdict_lines(report));
    if let Some(stats) = &report.stats {
        lines.extend(stats_lines(stats));
    }
    lines
}

/// The verdict in detail: where the probe stopped and why, every other problem found, and
/// each expectation with what was wanted and seen.
fn verdict_lines(report: &Report) -> Vec<Line> {
    let mut lines = Vec::new();
    if let Some(stopped) = &report.stopped
        && stopped.layer > Layer::Tcp
        && !stopped.layer.is_transport()
    {
        let detail = report
            .problems
            .first()
            .map(|p| format!(" ({})", p.detail))
            .unwrap_or_default();
        lines.push(Line::new(
            0,
            "verdict",
            format!(
                "stopped at {}: {}{detail}",
                stopped.layer.as_str(),
                stopped.reason.word()
            ),
            Tone::Bad,
        ));
    } else if let Some(reached) = report.reached
        && reached > Layer::Tcp
        && !reached.is_transport()
        && report.stopped.is_none()
    {
        let what = match reached {
            Layer::Vhost => "reached the right virtual host",
            Layer::Certificate => "TLS handshake done, certificate trusted and name covered",
            _ => "reached",
        };
        lines.push(Line::new(
            0,
            "verdict",
            format!("{what} ({})", reached.as_str()),
            Tone::Good,
        ));
    }
    // The stop explains the rest; the rest stays visible.
    // The first problem is the stop (already the headline), unless nothing stopped the probe.
    let shown = usize::from(report.stopped.is_some());
    for problem in report
        .problems
        .iter()
        .skip(shown)
        .filter(|p| p.layer != Layer::Expect)
    {
        lines.push(Line::new(
            1,
            "also",
            format!(
                "{} {}: {}",
                problem.layer.as_str(),
                problem.reason.word(),
                problem.detail
            ),
            Tone::Warn,
        ));
    }
    for expect in &report.expect {
        let (verdict, tone) = if expect.ok {
            ("met", Tone::Good)
        } else {
            ("failed", Tone::Bad)
        };
        lines.push(Line::new(
            0,
            "expect",
            format!(
                "{} {verdict}: wanted {}, saw {}",
                word(&expect.check),
                expect.wanted,
                expect.seen
            ),
            tone,
        ));
    }
    lines
}

/// The latency-mode summary (PsPing's closing block).
pub fn stats_lines(stats: &LatencyStats) -> Vec<Line> {
    let mut lines = vec![Line::new(
        0,
        "attempts",
        format!(
            "sent {}, received {}, lost {} ({:.1}% loss){}",
            stats.sent,
            stats.received,
            stats.lost,
            stats.loss_pct,
            if stats.warmup > 0 {
                format!(", after {} warm-up", stats.warmup)
            } else {
                String::new()
            }
        ),
        if stats.lost == 0 {
            Tone::Good
        } else {
            Tone::Warn
        },
    )];
    for tally in stats
        .layers
        .iter()
        .filter(|t| t.layer > Layer::Tcp || t.failed > 0)
    {
        let value = if tally.failed == 0 {
            format!("ok {}/{}", tally.ok, tally.tried)
        } else {
            let why: Vec<String> = tally
                .reasons
                .iter()
                .map(|r| format!("{} ×{}", r.reason.word(), r.count))
                .collect();
            format!(
                "failed {}/{}: {}",
                tally.failed,
                tally.tried,
                why.join(", ")
            )
        };
        let tone = if tally.failed == 0 {
            Tone::Good
        } else {
            Tone::Bad
        };
        lines.push(Line::new(1, tally.layer.as_str(), value, tone));
    }
    if let (Some(min), Some(avg), Some(max)) = (stats.min_ms, stats.avg_ms, stats.max_ms) {
        lines.push(Line::new(
            0,
            "connect",
            format!(
                "min {} avg {} max {} stddev {}",
                fmt_ms(min),
                fmt_ms(avg),
                fmt_ms(max),
                fmt_ms(stats.stddev_ms.unwrap_or(0.0))
            ),
            Tone::Plain,
        ));
        lines.push(Line::new(
            0,
            "",
            format!(
                "           p50 {} p95 {} p99 {}",
                fmt_ms(stats.p50_ms.unwrap_or(0.0)),
                fmt_ms(stats.p95_ms.unwrap_or(0.0)),
                fmt_ms(stats.p99_ms.unwrap_or(0.0))
            ),
            Tone::Plain,
        ));
    }
    if let Some(tls) = &stats.tls_handshake {
        lines.push(Line::new(
            0,
            "tls",
            format!(
                "min {} avg {} max {} stddev {} p50 {} p95 {} p99 {}",
                fmt_ms(tls.min_ms),
                fmt_ms(tls.avg_ms),
                fmt_ms(tls.max_ms),
                fmt_ms(tls.stddev_ms),
                fmt_ms(tls.p50_ms),
                fmt_ms(tls.p95_ms),
                fmt_ms(tls.p99_ms)
            ),
            Tone::Plain,
        ));
    }
    lines
}

/// A text histogram of the successful connect times.
pub fn histogram_lines(stats: &LatencyStats) -> Vec<Line> {
    let samples: Vec<f64> = stats
        .attempts
        .iter()
        .filter(|a| a.state.is_open())
        .map(|a| a.connect_ms)
        .collect();
    let buckets = crate::stats::histogram(&samples, 10);
    let peak = buckets.iter().map(|b| b.count).max().unwrap_or(0).max(1);
    buckets
        .iter()
        .map(|b| {
            let bar = "#".repeat((b.count * 40).div_ceil(peak));
            Line::new(
                0,
                "",
                format!(
                    "{:>10} – {:<10} {:>5} {bar}",
                    fmt_ms(b.from_ms),
                    fmt_ms(b.to_ms),
                    b.count
                ),
                Tone::Plain,
            )
        })
        .collect()
}

/// Milliseconds with a precision that suits their size.
pub fn fmt_ms(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else if ms >= 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.2} ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::IcmpInfo;

    fn tcp(state: TcpState, reason: TcpReason) -> TcpReport {
        TcpReport {
            state,
            reason,
            icmp_from: None,
            icmp: None,
            errno: None,
            connect_ms: 3000.0,
            icmp_evidence: IcmpEvidence::ErrorQueue,
        }
    }

    #[test]
    fn verdict_sentences_name_the_evidence_and_the_sender() {
        let mut rejected = tcp(TcpState::Rejected, TcpReason::IcmpAdminProhibited);
        rejected.icmp_from = Some("198.51.100.1".parse().unwrap());
        rejected.icmp = Some(IcmpInfo {
            version: 4,
            icmp_type: 3,
            code: 13,
            name: "admin-prohibited".into(),
        });
        let (_, text) = tcp_verdict(&rejected);
        assert!(
            text.contains("rejected: ICMP admin-prohibited from 198.51.100.1"),
            "{text}"
        );
        let mut filtered = tcp(TcpState::Filtered, TcpReason::Timeout);
        let (_, text) = tcp_verdict(&filtered);
        assert!(text.contains("filtered: no answer within 3.00 s"), "{text}");
        assert!(text.contains("silently dropped"), "{text}");
        // Where ICMP errors are not reported (older Windows), silence proves less.
        filtered.icmp_evidence = IcmpEvidence::Unavailable;
        let (_, text) = tcp_verdict(&filtered);
        assert!(
            text.contains("dropped, or rejected by an ICMP error this system does not report"),
            "{text}"
        );
        let (_, text) = tcp_verdict(&tcp(TcpState::Closed, TcpReason::Rst));
        assert!(text.contains("closed: RST"), "{text}");
    }

    #[test]
    fn labels_bracket_ipv6_and_show_the_address_of_names() {
        let mut r = Report {
            host: "2001:db8::1".into(),
            port: 443,
            ..Report::default()
        };
        r.address = Some("2001:db8::1".parse().unwrap());
        assert_eq!(probe_label(&r, false), "[2001:db8::1]:443");
        r.host = "www.example".into();
        assert_eq!(probe_label(&r, false), "www.example:443 (2001:db8::1)");
        // The host's own name as SNI goes without saying, except in an IP × SNI run.
        r.tls = Some(crate::report::TlsReport {
            sni: Some("www.example".into()),
            ..Default::default()
        });
        assert_eq!(probe_label(&r, false), "www.example:443 (2001:db8::1)");
        assert_eq!(
            probe_label(&r, true),
            "www.example:443 (2001:db8::1) sni=www.example"
        );
    }

    #[test]
    fn detail_values_are_escaped_and_coloured_only_on_request() {
        let line = Line::new(0, "greeting", "evil\x1b[2Jbanner", Tone::Bad);
        let mut out = Vec::new();
        write_line(&mut out, &line, Style::default()).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("evil\\x1b[2Jbanner"));
        assert!(!text.contains('\x1b'));
        let mut out = Vec::new();
        let color = Style {
            color: true,
            ..Style::default()
        };
        write_line(&mut out, &line, color).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("\x1b[31m") && text.contains("evil\\x1b[2Jbanner"));
    }
}
