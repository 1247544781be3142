//! The QUIC section of the human report: the transport's verdict line and its evidence
//! (version, Retry, Version Negotiation, CONNECTION_CLOSE, datagrams, ICMP).

use super::lines::{Line, Tone};
use crate::report::IcmpEvidence;
use crate::report::quic::{QuicReport, QuicState};
use crate::report::word;

fn ms(value: f64) -> String {
    format!("{value:.1} ms")
}

/// The QUIC verdict as a sentence, for the headline of a probe that stopped there.
pub fn quic_verdict(quic: &QuicReport) -> (Tone, String) {
    let t = ms(quic.handshake_ms);
    let detail = quic.detail.clone().unwrap_or_else(|| word(&quic.reason));
    match quic.state {
        QuicState::Open => (Tone::Good, format!("QUIC answered in {t}")),
        QuicState::Filtered if quic.icmp_evidence == IcmpEvidence::Unavailable => (
            Tone::Warn,
            format!(
                "QUIC filtered: {detail} (dropped, or rejected by an ICMP error this system does \
                 not report)"
            ),
        ),
        QuicState::Filtered => (Tone::Warn, format!("QUIC filtered: {detail}")),
        state => (Tone::Bad, format!("QUIC {}: {detail} in {t}", word(&state))),
    }
}

/// The detail lines of the QUIC layer.
pub fn quic_lines(quic: &QuicReport) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut parts = Vec::new();
    if let Some(version) = &quic.version {
        parts.push(format!("version {version}"));
    }
    if quic.retry {
        parts.push("Retry seen".to_string());
    }
    parts.push(format!(
        "{} datagram(s) sent, {} received",
        quic.datagrams_sent, quic.datagrams_received
    ));
    parts.push(ms(quic.handshake_ms));
    let tone = if quic.state == QuicState::Open {
        Tone::Plain
    } else {
        Tone::Bad
    };
    lines.push(Line::new(0, "quic", parts.join(", "), tone));
    if !quic.versions_offered.is_empty() {
        lines.push(Line::new(
            1,
            "offered",
            quic.versions_offered.join(", "),
            Tone::Plain,
        ));
    }
    if let Some(close) = &quic.close {
        let alert = close
            .alert
            .as_ref()
            .map(|a| format!(" (TLS alert {a})"))
            .unwrap_or_default();
        let reason = if close.reason.is_empty() {
            String::new()
        } else {
            format!(": {}", close.reason)
        };
        lines.push(Line::new(
            1,
            "close",
            format!("{} 0x{:x}{alert}{reason}", close.name, close.code),
            Tone::Bad,
        ));
    }
    lines
}
