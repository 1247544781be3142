//! The human lines of a path trace: one per hop, like traceroute, then the diagnosis.

use super::lines::{Line, Tone};
use crate::report::trace::{
    DiagnosisWord, HopReply, ReferenceSource, TraceEnd, TraceHop, TraceReport,
};

/// Turns a trace into report lines (pure; the renderer escapes values and adds colour).
pub fn trace_lines(trace: &TraceReport) -> Vec<Line> {
    let mut lines = vec![Line::new(
        0,
        "trace",
        format!("TCP SYNs to {} with TTL 1, 2, 3…", destination_text(trace)),
        Tone::Plain,
    )];
    for hop in &trace.hops {
        lines.push(Line::new(
            1,
            format!("{:>2}", hop.ttl),
            hop_text(hop),
            hop_tone(hop.reply),
        ));
    }
    if let Some(note) = end_note(trace) {
        lines.push(Line::new(1, "end", note, Tone::Dim));
    }
    if let Some(reference) = &trace.reference {
        let why = match reference.source {
            ReferenceSource::Given => "--reference-port",
            ReferenceSource::OpenInRun => "open earlier in this run",
            ReferenceSource::CommonPort => "a common port, open",
            ReferenceSource::RandomPort => "a random high port",
        };
        let value = match (reference.hops, reference.reply) {
            (Some(hops), Some(reply)) => format!(
                "port {} ({why}) answered {} at hop {hops}",
                reference.port,
                reply_word(reply)
            ),
            _ => format!("port {} ({why}) did not answer", reference.port),
        };
        lines.push(Line::new(1, "reference", value, Tone::Dim));
    }
    let diagnosis = &trace.diagnosis;
    let word = match diagnosis.hop {
        Some(hop) => format!("{} {hop}", diagnosis.word.as_str()),
        None => diagnosis.word.as_str().to_string(),
    };
    lines.push(Line::new(
        0,
        "diagnosis",
        format!("{word}: {}", diagnosis.sentence),
        word_tone(diagnosis.word),
    ));
    lines
}

fn reply_word(reply: HopReply) -> &'static str {
    match reply {
        HopReply::SynAck => "SYN-ACK",
        HopReply::Rst => "RST",
        _ => "something else",
    }
}

fn destination_text(trace: &TraceReport) -> String {
    std::net::SocketAddr::new(trace.address, trace.port).to_string()
}

/// `192.0.2.1 (r1.example)  0.05 ms  *  0.04 ms  admin-prohibited`.
fn hop_text(hop: &TraceHop) -> String {
    let mut parts = Vec::new();
    match (hop.address, &hop.hostname) {
        (Some(address), Some(name)) => parts.push(format!("{address} ({name})")),
        (Some(address), None) => parts.push(address.to_string()),
        (None, _) if hop.reply == HopReply::Unattributed => {
            parts.push("? (an ICMP error arrived; the kernel did not say from whom)".to_string());
        }
        (None, _) => {}
    }
    for rtt in &hop.rtt_ms {
        parts.push(match rtt {
            Some(ms) => format_ms(*ms),
            None => "*".to_string(),
        });
    }
    for other in &hop.also {
        parts.push(format!("also {other}"));
    }
    match hop.reply {
        HopReply::SynAck => parts.push("open (SYN-ACK)".to_string()),
        HopReply::Rst => parts.push("RST".to_string()),
        HopReply::IcmpError | HopReply::LocalError => {
            if let Some(icmp) = &hop.icmp {
                parts.push(format!("ICMP {}", icmp.name));
            }
            if hop.reply == HopReply::LocalError {
                parts.push("(refused on this machine)".to_string());
            }
        }
        HopReply::TimeExceeded | HopReply::Silent | HopReply::Unattributed => {}
    }
    parts.join("  ")
}

fn format_ms(ms: f64) -> String {
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

fn end_note(trace: &TraceReport) -> Option<String> {
    let silent_run = trace
        .hops
        .iter()
        .rev()
        .take_while(|h| h.reply == HopReply::Silent)
        .count();
    match trace.ended {
        TraceEnd::SilentHops => Some(format!(
            "stopped after {silent_run} silent hops in a row (each probed again after a pause)"
        )),
        TraceEnd::MaxHops => Some(format!(
            "hop limit reached ({} hops)",
            trace.hops.last().map_or(0, |h| h.ttl)
        )),
        TraceEnd::Unsupported => {
            Some("trace incomplete: the hops cannot be known on this system".to_string())
        }
        TraceEnd::LocalError => Some("trace stopped: this machine refused the probes".to_string()),
        TraceEnd::Answered | TraceEnd::Rejected => None,
    }
}

fn hop_tone(reply: HopReply) -> Tone {
    match reply {
        HopReply::TimeExceeded => Tone::Plain,
        HopReply::SynAck => Tone::Good,
        HopReply::Rst | HopReply::Unattributed => Tone::Warn,
        HopReply::IcmpError | HopReply::LocalError => Tone::Bad,
        HopReply::Silent => Tone::Dim,
    }
}

fn word_tone(word: DiagnosisWord) -> Tone {
    match word {
        DiagnosisWord::Reached => Tone::Good,
        DiagnosisWord::DroppedAfter | DiagnosisWord::RejectedAt | DiagnosisWord::MiddleboxReset => {
            Tone::Bad
        }
        DiagnosisWord::Unknown => Tone::Warn,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::IcmpInfo;
    use crate::report::trace::{TraceDiagnosis, TraceHop};

    fn hop(ttl: u8, address: Option<&str>, rtt: &[Option<f64>], reply: HopReply) -> TraceHop {
        TraceHop {
            ttl,
            address: address.map(|a| a.parse().unwrap()),
            also: Vec::new(),
            hostname: None,
            rtt_ms: rtt.to_vec(),
            reply,
            icmp: None,
            errno: None,
        }
    }

    fn report(hops: Vec<TraceHop>, ended: TraceEnd, word: DiagnosisWord, at: u8) -> TraceReport {
        TraceReport {
            address: "203.0.113.10".parse().unwrap(),
            port: 61001,
            hops,
            diagnosis: TraceDiagnosis {
                word,
                hop: Some(at),
                sentence: "Hop 1 (192.0.2.1) refuses port 61001.".to_string(),
            },
            ended,
            reference: None,
            elapsed_ms: 12.0,
        }
    }

    #[test]
    fn a_rejecting_hop_names_its_icmp_and_the_diagnosis_comes_last() {
        let mut rejecting = hop(2, Some("192.0.2.1"), &[Some(0.04)], HopReply::IcmpError);
        rejecting.icmp = Some(IcmpInfo {
            version: 4,
            icmp_type: 3,
            code: 13,
            name: "admin-prohibited".to_string(),
        });
        let hops = vec![
            hop(
                1,
                Some("192.0.2.1"),
                &[Some(0.05), None, Some(12.345)],
                HopReply::TimeExceeded,
            ),
            rejecting,
        ];
        let lines = trace_lines(&report(
            hops,
            TraceEnd::Rejected,
            DiagnosisWord::RejectedAt,
            1,
        ));
        assert_eq!(lines[0].label, "trace");
        assert_eq!(
            lines[0].value,
            "TCP SYNs to 203.0.113.10:61001 with TTL 1, 2, 3…"
        );
        assert_eq!(lines[1].label, " 1");
        assert_eq!(lines[1].value, "192.0.2.1  0.05 ms  *  12.3 ms");
        assert_eq!(lines[2].value, "192.0.2.1  0.04 ms  ICMP admin-prohibited");
        assert_eq!(lines[2].tone, Tone::Bad);
        let last = lines.last().unwrap();
        assert_eq!(last.label, "diagnosis");
        assert_eq!(
            last.value,
            "rejected_at 1: Hop 1 (192.0.2.1) refuses port 61001."
        );
        assert_eq!(last.tone, Tone::Bad);
        assert_eq!(lines.len(), 4);
    }

    #[test]
    fn silent_hops_show_stars_and_why_the_trace_stopped() {
        let hops = vec![
            hop(1, Some("192.0.2.1"), &[Some(0.1)], HopReply::TimeExceeded),
            hop(2, None, &[None, None, None, None], HopReply::Silent),
            hop(3, None, &[None, None, None, None], HopReply::Silent),
        ];
        let lines = trace_lines(&report(
            hops,
            TraceEnd::SilentHops,
            DiagnosisWord::DroppedAfter,
            1,
        ));
        assert_eq!(lines[2].value, "*  *  *  *");
        assert_eq!(lines[2].tone, Tone::Dim);
        assert_eq!(lines[4].label, "end");
        assert!(lines[4].value.starts_with("stopped after 2 silent hops"));
    }

    #[test]
    fn an_unattributed_error_is_never_shown_as_a_normal_hop() {
        let hops = vec![hop(1, None, &[Some(0.1)], HopReply::Unattributed)];
        let lines = trace_lines(&report(
            hops,
            TraceEnd::Unsupported,
            DiagnosisWord::Unknown,
            1,
        ));
        assert!(lines[1].value.starts_with("? (an ICMP error arrived"));
        assert_eq!(
            lines[2].value,
            "trace incomplete: the hops cannot be known on this system"
        );
    }

    #[test]
    fn hostnames_and_open_ports_are_shown() {
        let mut open = hop(3, Some("203.0.113.10"), &[Some(0.2)], HopReply::SynAck);
        open.hostname = Some("server.example".to_string());
        let lines = trace_lines(&report(
            vec![open],
            TraceEnd::Answered,
            DiagnosisWord::Reached,
            3,
        ));
        assert_eq!(
            lines[1].value,
            "203.0.113.10 (server.example)  0.20 ms  open (SYN-ACK)"
        );
        assert_eq!(lines[1].tone, Tone::Good);
        assert_eq!(lines[2].tone, Tone::Good);
    }
}
