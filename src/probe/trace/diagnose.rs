//! From probe answers to hops, and from hops to one diagnosis word and sentence. Pure.

use std::net::{IpAddr, SocketAddr};

use super::{ProbeAnswer, ends_path, errno_text};
use crate::report::IcmpInfo;
use crate::report::trace::{
    DiagnosisWord, HopReply, ReferenceDistance, ReferenceSource, TraceDiagnosis, TraceEnd, TraceHop,
};

/// Summarizes the answers to one TTL: the answer that matters most (one ending the path, else
/// the first one), the other addresses seen, and every probe's round-trip time.
pub(crate) fn summarize_hop(ttl: u8, answers: &[ProbeAnswer]) -> TraceHop {
    let chosen = answers
        .iter()
        .find(|a| ends_path(a.kind))
        .or_else(|| answers.iter().find(|a| a.kind != HopReply::Silent));
    let address = chosen.and_then(|a| a.from);
    let mut also = Vec::new();
    for from in answers.iter().filter_map(|a| a.from) {
        if Some(from) != address && !also.contains(&from) {
            also.push(from);
        }
    }
    let reply = chosen.map_or(HopReply::Silent, |a| a.kind);
    TraceHop {
        ttl,
        address,
        also,
        hostname: None,
        rtt_ms: answers.iter().map(|a| a.rtt_ms).collect(),
        reply,
        icmp: chosen.and_then(|a| a.icmp.clone()),
        errno: chosen
            .filter(|a| matches!(a.kind, HopReply::LocalError | HopReply::Unattributed))
            .and_then(|a| a.errno),
    }
}

/// The diagnosis of a trace to `destination` that ended as `ended` after `hops`.
///
/// `reference` is the destination's distance measured on another port of the same host, used
/// to tell a middlebox's RST from the host's own: a RST alone is never `reached`.
pub fn diagnose(
    hops: &[TraceHop],
    ended: TraceEnd,
    destination: SocketAddr,
    reference: Option<&ReferenceDistance>,
) -> TraceDiagnosis {
    let end = hops.iter().rev().find(|h| ends_path(h.reply));
    match (ended, end) {
        (TraceEnd::Answered, Some(end)) => answered(end, destination, reference),
        (TraceEnd::Rejected, Some(end)) => rejected(hops, end, destination),
        (TraceEnd::LocalError | TraceEnd::Unsupported, Some(end)) => local(end, destination),
        (TraceEnd::SilentHops | TraceEnd::MaxHops, _) => silent(hops, ended, destination),
        (_, None) => verdict(
            DiagnosisWord::Unknown,
            None,
            "The trace ended without an answer to interpret.".to_string(),
        ),
    }
}

fn verdict(word: DiagnosisWord, hop: Option<u8>, sentence: String) -> TraceDiagnosis {
    TraceDiagnosis {
        word,
        hop,
        sentence,
    }
}

fn answered(
    end: &TraceHop,
    destination: SocketAddr,
    reference: Option<&ReferenceDistance>,
) -> TraceDiagnosis {
    let (ip, port, k) = (destination.ip(), destination.port(), end.ttl);
    if end.reply == HopReply::SynAck {
        return verdict(
            DiagnosisWord::Reached,
            Some(k),
            format!("{ip} port {port} is open: it answered SYN-ACK at hop {k}."),
        );
    }
    let Some(r) = reference else {
        return verdict(
            DiagnosisWord::Unknown,
            None,
            format!(
                "A RST came back at hop {k}, from {ip} itself or from a middlebox in front of \
                 it; no other port of {ip} could be measured to tell which."
            ),
        );
    };
    let what = reference_text(r);
    match (r.hops, r.reply) {
        (Some(d), Some(_)) if d > k => verdict(
            DiagnosisWord::MiddleboxReset,
            Some(k),
            format!(
                "A RST came back already at hop {k}, but {ip} is {d} hops away: {what} \
                 answered at hop {d}. A middlebox at hop {k} resets connections to port {port}."
            ),
        ),
        (Some(d), Some(HopReply::SynAck)) if d == k => verdict(
            DiagnosisWord::Reached,
            Some(k),
            format!(
                "{ip} answered RST at hop {k}, the distance at which {what} answered SYN-ACK: \
                 port {port} is closed on the host itself."
            ),
        ),
        (Some(d), Some(_)) if d == k && r.source == ReferenceSource::Given => verdict(
            DiagnosisWord::Reached,
            Some(k),
            format!(
                "{ip} answered RST at hop {k}, the same distance as on {what}: port {port} is \
                 closed on the host itself."
            ),
        ),
        (Some(d), Some(_)) if d == k => verdict(
            DiagnosisWord::Unknown,
            None,
            format!(
                "A RST came back at hop {k}, and {what} was answered by a RST at hop {k} too: \
                 either {ip} is {k} hops away and closed on both, or a middlebox at hop {k} \
                 resets both. No port of {ip} answered SYN-ACK to tell (name an open one with \
                 --reference-port)."
            ),
        ),
        (Some(d), _) => verdict(
            DiagnosisWord::Unknown,
            None,
            format!(
                "A RST came back at hop {k}, but {what} answered nearer, at hop {d}: the path \
                 differs between ports, so who sent the RST cannot be known."
            ),
        ),
        (None, _) => verdict(
            DiagnosisWord::Unknown,
            None,
            format!(
                "A RST came back at hop {k}; {what} did not answer, so whether {ip} itself or \
                 a middlebox in front of it sent the RST cannot be known."
            ),
        ),
    }
}

/// `port 443 (open earlier in this run)`.
fn reference_text(r: &ReferenceDistance) -> String {
    let why = match r.source {
        ReferenceSource::Given => "--reference-port",
        ReferenceSource::OpenInRun => "open earlier in this run",
        ReferenceSource::CommonPort => "a common port found open",
        ReferenceSource::RandomPort => "a random high port",
    };
    let others: Vec<String> = r
        .tried
        .iter()
        .filter(|p| **p != r.port)
        .map(u16::to_string)
        .collect();
    let also = if others.is_empty() {
        String::new()
    } else {
        format!("; also tried {}", others.join(", "))
    };
    format!("port {} ({why}{also})", r.port)
}

fn rejected(hops: &[TraceHop], end: &TraceHop, destination: SocketAddr) -> TraceDiagnosis {
    let icmp = icmp_text(end.icmp.as_ref());
    let Some(from) = end.address else {
        return verdict(
            DiagnosisWord::RejectedAt,
            Some(end.ttl),
            format!(
                "An ICMP {icmp} from an unknown sender ended the path at hop {}.",
                end.ttl
            ),
        );
    };
    if from == destination.ip() {
        return verdict(
            DiagnosisWord::RejectedAt,
            Some(end.ttl),
            format!(
                "{from} itself (hop {}) answered ICMP {icmp} for port {}.",
                end.ttl,
                destination.port()
            ),
        );
    }
    // A router that filters after its own TTL check answers "time exceeded" for TTL j and
    // rejects from TTL j+1 on, from the same address: it is hop j.
    let hop = first_hop_of(hops, from).unwrap_or(end.ttl);
    verdict(
        DiagnosisWord::RejectedAt,
        Some(hop),
        format!(
            "Hop {hop} ({from}) refuses port {}: it answered ICMP {icmp}.",
            destination.port()
        ),
    )
}

/// The probes never made it out, or their answers cannot be attributed.
fn local(end: &TraceHop, destination: SocketAddr) -> TraceDiagnosis {
    let errno = errno_text(end.errno).unwrap_or_else(|| "an error".to_string());
    match (end.reply, end.address, end.icmp.as_ref()) {
        (HopReply::LocalError, Some(own), Some(icmp)) => verdict(
            DiagnosisWord::RejectedAt,
            Some(0),
            format!(
                "This machine's own firewall refuses the SYN: ICMP {} from our own address {own}.",
                icmp_text(Some(icmp))
            ),
        ),
        (HopReply::Unattributed, _, _) => verdict(
            DiagnosisWord::Unknown,
            None,
            format!(
                "The kernel reported \"{errno}\" for TTL {} without saying who sent it: either \
                 this machine has no route to {}, or this kernel does not report ICMP senders \
                 for TCP (Linux 5.8 or later is needed). No trace is possible.",
                end.ttl,
                destination.ip()
            ),
        ),
        _ => verdict(
            DiagnosisWord::Unknown,
            None,
            format!("This machine could not send the probes: {errno}."),
        ),
    }
}

fn silent(hops: &[TraceHop], ended: TraceEnd, destination: SocketAddr) -> TraceDiagnosis {
    let port = destination.port();
    let last_tried = hops.last().map_or(0, |h| h.ttl);
    let Some(last) = hops.iter().rev().find(|h| h.reply != HopReply::Silent) else {
        return verdict(
            DiagnosisWord::DroppedAfter,
            Some(0),
            format!(
                "Nothing answered, not even hop 1: the SYN to port {port} is dropped before \
                 the first router answers (perhaps by this machine's own firewall), or ICMP \
                 does not come back."
            ),
        );
    };
    if ended == TraceEnd::MaxHops && last.ttl == last_tried {
        return verdict(
            DiagnosisWord::Unknown,
            None,
            format!(
                "Every hop up to {last_tried} answered \"time exceeded\": {} is further away \
                 than {last_tried} hops, or the path loops.",
                destination.ip()
            ),
        );
    }
    let who = last.address.map_or(String::new(), |a| format!(" ({a})"));
    verdict(
        DiagnosisWord::DroppedAfter,
        Some(last.ttl),
        format!(
            "Hop {}{who} was the last to answer; nothing came back from hop {} to {last_tried}: \
             the SYN to port {port} is dropped after hop {} (or the hops beyond send no ICMP \
             and the destination drops it).",
            last.ttl,
            last.ttl + 1,
            last.ttl
        ),
    )
}

/// The TTL at which `address` first answered "time exceeded".
fn first_hop_of(hops: &[TraceHop], address: IpAddr) -> Option<u8> {
    hops.iter()
        .find(|h| {
            h.reply == HopReply::TimeExceeded
                && (h.address == Some(address) || h.also.contains(&address))
        })
        .map(|h| h.ttl)
}

/// `admin-prohibited (type 3, code 13)`.
fn icmp_text(icmp: Option<&IcmpInfo>) -> String {
    icmp.map_or_else(
        || "error".to_string(),
        |i| format!("{} (type {}, code {})", i.name, i.icmp_type, i.code),
    )
}
