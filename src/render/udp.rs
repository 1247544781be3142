//! The UDP layer in the human report: the verdict sentence, what was sent (and deliberately
//! not sent), and the answer parsed like a greeting. Values are escaped by the renderer.

use std::net::IpAddr;

use super::human::fmt_ms;
use super::lines::{Line, Tone};
use crate::report::{IcmpEvidence, UdpReason, UdpReport, UdpState};

/// The UDP verdict as a sentence: state, evidence, who answered, time.
pub(crate) fn verdict(udp: &UdpReport) -> (Tone, String) {
    let from = |ip: Option<IpAddr>| ip.map(|a| format!(" from {a}")).unwrap_or_default();
    let icmp_name = udp.icmp.as_ref().map_or("", |i| i.name.as_str());
    let t = fmt_ms(udp.elapsed_ms);
    match udp.state {
        UdpState::Open => {
            let who = udp
                .answer
                .as_ref()
                .and_then(|a| a.protocol.as_deref())
                .map_or("an answer".to_string(), |p| {
                    format!("{} answered", p.to_uppercase())
                });
            let rtt = fmt_ms(udp.rtt_ms.unwrap_or(udp.elapsed_ms));
            let size = udp.answer.as_ref().map_or(0, |a| a.bytes);
            (
                Tone::Good,
                format!("UDP open: {who} in {rtt} ({size} bytes)"),
            )
        }
        UdpState::Closed if udp.reason == UdpReason::Refused => (
            Tone::Bad,
            format!(
                "UDP closed: port unreachable in {t} (the system does not say who sent it; \
                 nothing listening)"
            ),
        ),
        UdpState::Closed => (
            Tone::Bad,
            format!(
                "UDP closed: ICMP {icmp_name}{} in {t} (nothing listening)",
                from(udp.icmp_from)
            ),
        ),
        UdpState::Rejected => (
            Tone::Bad,
            format!(
                "UDP rejected: ICMP {icmp_name}{} in {t}",
                from(udp.icmp_from)
            ),
        ),
        UdpState::Unreachable => {
            let why = match udp.reason {
                UdpReason::NoRoute => "no route to the address".to_string(),
                _ => format!("ICMP {icmp_name}{}", from(udp.icmp_from)),
            };
            (Tone::Bad, format!("UDP unreachable: {why} in {t}"))
        }
        UdpState::OpenFiltered => {
            let unseen = if udp.icmp_evidence == IcmpEvidence::Unavailable {
                ", or rejected by an ICMP error this system does not report"
            } else {
                ""
            };
            (
                Tone::Warn,
                format!(
                    "UDP open|filtered: no answer to {} datagram{} within {t} (open and \
                     ignoring this request, or dropped{unseen}: UDP cannot tell these apart)",
                    udp.sent.datagrams,
                    if udp.sent.datagrams == 1 { "" } else { "s" }
                ),
            )
        }
        UdpState::Error => {
            let why = match udp.reason {
                UdpReason::LocalPolicy => {
                    "the local system refused to send (firewall or policy)".to_string()
                }
                UdpReason::LocalIcmp => {
                    format!("rejected by this host's own firewall (ICMP {icmp_name})")
                }
                UdpReason::LocalResources => {
                    "out of local resources (file descriptors or ports)".to_string()
                }
                _ => format!("local error (errno {})", udp.errno.unwrap_or(0)),
            };
            (Tone::Bad, format!("UDP error: {why}"))
        }
    }
}

/// The lines under the verdict: what was sent, what was not, the answer.
pub(crate) fn lines(udp: &UdpReport) -> Vec<Line> {
    let mut lines = vec![Line::new(
        0,
        "sent",
        format!(
            "{} ({} bytes{})",
            udp.sent.what,
            udp.sent.bytes,
            if udp.sent.datagrams > 1 {
                format!(", {} times", udp.sent.datagrams)
            } else {
                String::new()
            }
        ),
        Tone::Dim,
    )];
    if let Some(not_sent) = &udp.not_sent {
        lines.push(Line::new(0, "not sent", not_sent.clone(), Tone::Dim));
    }
    let Some(answer) = &udp.answer else {
        return lines;
    };
    match (&answer.summary, &answer.parse_error) {
        (Some(summary), _) => lines.push(Line::new(0, "answer", summary.clone(), Tone::Good)),
        (None, Some(why)) => lines.push(Line::new(
            0,
            "answer",
            format!(
                "{} bytes that do not parse as the request's protocol: {why}",
                answer.bytes
            ),
            Tone::Warn,
        )),
        (None, None) => lines.push(Line::new(
            0,
            "answer",
            format!("{} bytes", answer.bytes),
            Tone::Plain,
        )),
    }
    for (name, value) in &answer.fields {
        lines.push(Line::new(1, name.clone(), value.clone(), Tone::Plain));
    }
    if answer.protocol.is_none() {
        lines.push(Line::new(1, "hex", answer.hex.clone(), Tone::Dim));
        lines.push(Line::new(1, "text", answer.text.clone(), Tone::Dim));
    }
    lines
}
