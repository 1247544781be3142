//! Unit tests of the trace: answer classification, walk stop rules, diagnosis words, and real
//! traces over loopback.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::diagnose::summarize_hop;
use super::walk::{path_end, silent_run_end};
use super::*;
use crate::report::trace::{ReferenceDistance, ReferenceSource};

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn tcp(state: TcpState, reason: TcpReason, icmp: Option<(u8, u8, &str)>) -> TcpReport {
    TcpReport {
        state,
        reason,
        icmp_from: icmp.map(|(_, _, from)| ip(from)),
        icmp: icmp.map(|(t, c, _)| IcmpInfo {
            version: 4,
            icmp_type: t,
            code: c,
            name: crate::probe::tcp::icmp_name(4, t, c).to_string(),
        }),
        errno: None,
        connect_ms: 0.5,
        icmp_evidence: crate::report::IcmpEvidence::ErrorQueue,
    }
}

fn answer(kind: HopReply, from: Option<&str>) -> ProbeAnswer {
    ProbeAnswer {
        kind,
        from: from.map(ip),
        rtt_ms: (kind != HopReply::Silent).then_some(1.0),
        icmp: None,
        errno: None,
    }
}

const DEST: &str = "203.0.113.10";

#[test]
fn connect_verdicts_become_hop_answers() {
    let dest = ip(DEST);
    let cases = [
        (
            tcp(TcpState::Open, TcpReason::SynAck, None),
            HopReply::SynAck,
            Some(DEST),
        ),
        (
            tcp(TcpState::Closed, TcpReason::Rst, None),
            HopReply::Rst,
            Some(DEST),
        ),
        (
            tcp(TcpState::Filtered, TcpReason::Timeout, None),
            HopReply::Silent,
            None,
        ),
        (
            tcp(
                TcpState::Unreachable,
                TcpReason::IcmpTimeExceeded,
                Some((11, 0, "192.0.2.1")),
            ),
            HopReply::TimeExceeded,
            Some("192.0.2.1"),
        ),
        (
            tcp(
                TcpState::Rejected,
                TcpReason::IcmpAdminProhibited,
                Some((3, 13, "192.0.2.1")),
            ),
            HopReply::IcmpError,
            Some("192.0.2.1"),
        ),
        (
            tcp(
                TcpState::Unreachable,
                TcpReason::IcmpHostUnreachable,
                Some((3, 1, "198.51.100.2")),
            ),
            HopReply::IcmpError,
            Some("198.51.100.2"),
        ),
        (
            tcp(
                TcpState::Error,
                TcpReason::LocalIcmp,
                Some((3, 13, "192.0.2.2")),
            ),
            HopReply::LocalError,
            Some("192.0.2.2"),
        ),
        (
            tcp(TcpState::Unreachable, TcpReason::NoRoute, None),
            HopReply::Unattributed,
            None,
        ),
        (
            tcp(TcpState::Error, TcpReason::LocalPolicy, None),
            HopReply::LocalError,
            None,
        ),
    ];
    for (report, kind, from) in cases {
        let a = ProbeAnswer::from_tcp(&report, dest);
        assert_eq!(a.kind, kind, "{report:?}");
        assert_eq!(a.from, from.map(ip), "{report:?}");
        assert_eq!(a.rtt_ms.is_some(), kind != HopReply::Silent, "{report:?}");
    }
}

#[test]
fn a_hop_shows_the_answer_that_ends_the_path_and_every_rtt() {
    let answers = [
        answer(HopReply::Silent, None),
        answer(HopReply::TimeExceeded, Some("192.0.2.1")),
        answer(HopReply::Rst, Some(DEST)),
    ];
    let hop = summarize_hop(4, &answers);
    assert_eq!(hop.reply, HopReply::Rst);
    assert_eq!(hop.address, Some(ip(DEST)));
    assert_eq!(hop.also, vec![ip("192.0.2.1")]);
    assert_eq!(hop.rtt_ms, vec![None, Some(1.0), Some(1.0)]);

    let silent = summarize_hop(5, &vec![answer(HopReply::Silent, None); 4]);
    assert_eq!(silent.reply, HopReply::Silent);
    assert_eq!(silent.address, None);
    assert_eq!(silent.rtt_ms, vec![None; 4]);
}

fn walk_of(hops: &[(u8, HopReply, Option<&str>)]) -> BTreeMap<u8, Vec<ProbeAnswer>> {
    hops.iter()
        .map(|&(ttl, kind, from)| (ttl, vec![answer(kind, from)]))
        .collect()
}

#[test]
fn the_lowest_ending_ttl_ends_the_path() {
    let answers = walk_of(&[
        (1, HopReply::TimeExceeded, Some("192.0.2.1")),
        (2, HopReply::Silent, None),
        (3, HopReply::Rst, Some(DEST)),
        (4, HopReply::SynAck, Some(DEST)),
    ]);
    assert_eq!(path_end(&answers), Some((3, TraceEnd::Answered)));
    let answers = walk_of(&[(2, HopReply::IcmpError, Some("192.0.2.1"))]);
    assert_eq!(path_end(&answers), Some((2, TraceEnd::Rejected)));
    let answers = walk_of(&[(1, HopReply::Unattributed, None)]);
    assert_eq!(path_end(&answers), Some((1, TraceEnd::Unsupported)));
    let answers = walk_of(&[(1, HopReply::LocalError, Some("192.0.2.2"))]);
    assert_eq!(path_end(&answers), Some((1, TraceEnd::LocalError)));
    let answers = walk_of(&[(1, HopReply::TimeExceeded, Some("192.0.2.1"))]);
    assert_eq!(path_end(&answers), None);
}

#[test]
fn a_run_of_silent_hops_after_the_last_answer_ends_the_trace() {
    let mut answers = walk_of(&[
        (1, HopReply::TimeExceeded, Some("192.0.2.1")),
        (2, HopReply::Silent, None),
        (3, HopReply::Silent, None),
        (5, HopReply::Silent, None),
    ]);
    // TTL 4 is still in flight: not yet a run.
    assert_eq!(silent_run_end(&answers, 1, 3), None);
    answers.insert(4, vec![answer(HopReply::Silent, None)]);
    assert_eq!(silent_run_end(&answers, 1, 3), Some(4));
    // A later answer restarts the count.
    answers.insert(
        6,
        vec![answer(HopReply::TimeExceeded, Some("198.51.100.2"))],
    );
    assert_eq!(silent_run_end(&answers, 1, 3), None);
    // Nothing answered at all: the run counts from the first TTL tried.
    let answers = walk_of(&[(3, HopReply::Silent, None), (4, HopReply::Silent, None)]);
    assert_eq!(silent_run_end(&answers, 3, 2), Some(4));
}

fn hops(list: &[(u8, HopReply, Option<&str>)]) -> Vec<TraceHop> {
    list.iter()
        .map(|&(ttl, kind, from)| summarize_hop(ttl, &[answer(kind, from)]))
        .collect()
}

fn dest(port: u16) -> SocketAddr {
    SocketAddr::new(ip(DEST), port)
}

#[test]
fn diagnosis_dropped_after_the_last_answering_hop() {
    let trace = hops(&[
        (1, HopReply::TimeExceeded, Some("192.0.2.1")),
        (2, HopReply::Silent, None),
        (3, HopReply::Silent, None),
    ]);
    let d = diagnose(&trace, TraceEnd::SilentHops, dest(61000), None);
    assert_eq!((d.word, d.hop), (DiagnosisWord::DroppedAfter, Some(1)));
    assert!(
        d.sentence
            .contains("Hop 1 (192.0.2.1) was the last to answer"),
        "{}",
        d.sentence
    );

    let nothing = hops(&[(1, HopReply::Silent, None), (2, HopReply::Silent, None)]);
    let d = diagnose(&nothing, TraceEnd::SilentHops, dest(61000), None);
    assert_eq!((d.word, d.hop), (DiagnosisWord::DroppedAfter, Some(0)));
}

#[test]
fn diagnosis_rejected_at_the_hop_that_sent_the_icmp() {
    let mut trace = hops(&[
        (1, HopReply::TimeExceeded, Some("192.0.2.1")),
        (2, HopReply::IcmpError, Some("192.0.2.1")),
    ]);
    trace[1].icmp = Some(IcmpInfo {
        version: 4,
        icmp_type: 3,
        code: 13,
        name: "admin-prohibited".to_string(),
    });
    let d = diagnose(&trace, TraceEnd::Rejected, dest(61001), None);
    assert_eq!((d.word, d.hop), (DiagnosisWord::RejectedAt, Some(1)));
    assert!(
        d.sentence.contains("admin-prohibited (type 3, code 13)"),
        "{}",
        d.sentence
    );

    // A sender never seen before is placed at the TTL it answered.
    let trace = hops(&[
        (1, HopReply::Silent, None),
        (2, HopReply::IcmpError, Some("198.51.100.2")),
    ]);
    let d = diagnose(&trace, TraceEnd::Rejected, dest(61001), None);
    assert_eq!((d.word, d.hop), (DiagnosisWord::RejectedAt, Some(2)));

    // Our own firewall.
    let trace = hops(&[(1, HopReply::LocalError, Some("192.0.2.2"))]);
    let mut trace = trace;
    trace[0].icmp = Some(IcmpInfo {
        version: 4,
        icmp_type: 3,
        code: 13,
        name: "admin-prohibited".to_string(),
    });
    let d = diagnose(&trace, TraceEnd::LocalError, dest(61001), None);
    assert_eq!((d.word, d.hop), (DiagnosisWord::RejectedAt, Some(0)));
}

fn reference(
    hops: Option<u8>,
    reply: Option<HopReply>,
    source: ReferenceSource,
) -> ReferenceDistance {
    ReferenceDistance {
        port: 61003,
        hops,
        reply,
        source,
        tried: vec![443, 61003],
    }
}

#[test]
fn diagnosis_tells_a_middlebox_reset_from_the_hosts_own_and_never_says_reached_from_a_rst_alone() {
    use ReferenceSource::{Given, OpenInRun, RandomPort};
    let trace = hops(&[
        (1, HopReply::TimeExceeded, Some("192.0.2.1")),
        (2, HopReply::Rst, Some(DEST)),
    ]);
    let word = |r: Option<ReferenceDistance>| {
        let d = diagnose(&trace, TraceEnd::Answered, dest(61002), r.as_ref());
        (d.word, d.hop, d.sentence)
    };
    // Anything answering from further away proves the RST at hop 2 was forged nearer.
    for (reply, source) in [(HopReply::SynAck, OpenInRun), (HopReply::Rst, RandomPort)] {
        let (w, hop, sentence) = word(Some(reference(Some(3), Some(reply), source)));
        assert_eq!(
            (w, hop),
            (DiagnosisWord::MiddleboxReset, Some(2)),
            "{sentence}"
        );
        assert!(sentence.contains("3 hops away"), "{sentence}");
        assert!(sentence.contains("also tried 443"), "{sentence}");
    }
    // A SYN-ACK at the same distance: the host is there, its RST is its own.
    let (w, hop, sentence) = word(Some(reference(Some(2), Some(HopReply::SynAck), OpenInRun)));
    assert_eq!((w, hop), (DiagnosisWord::Reached, Some(2)));
    assert!(sentence.contains("closed on the host itself"), "{sentence}");
    // A RST at the same distance settles nothing, unless the user vouched for the port.
    let (w, _, sentence) = word(Some(reference(Some(2), Some(HopReply::Rst), RandomPort)));
    assert_eq!(w, DiagnosisWord::Unknown, "{sentence}");
    assert!(sentence.contains("--reference-port"), "{sentence}");
    let (w, hop, _) = word(Some(reference(Some(2), Some(HopReply::Rst), Given)));
    assert_eq!((w, hop), (DiagnosisWord::Reached, Some(2)));
    // Nothing to compare with, or no answer: unknown, never reached.
    for r in [None, Some(reference(None, None, Given))] {
        let (w, hop, sentence) = word(r);
        assert_eq!((w, hop), (DiagnosisWord::Unknown, None), "{sentence}");
        assert!(sentence.contains("cannot be known") || sentence.contains("no other port"));
    }
}

#[test]
fn diagnosis_of_an_open_port_unattributed_errors_and_the_hop_limit() {
    let trace = hops(&[(3, HopReply::SynAck, Some(DEST))]);
    let d = diagnose(&trace, TraceEnd::Answered, dest(61003), None);
    assert_eq!((d.word, d.hop), (DiagnosisWord::Reached, Some(3)));
    assert!(d.sentence.contains("open"), "{}", d.sentence);

    let trace = hops(&[(1, HopReply::Unattributed, None)]);
    let d = diagnose(&trace, TraceEnd::Unsupported, dest(61003), None);
    assert_eq!((d.word, d.hop), (DiagnosisWord::Unknown, None));
    assert!(d.sentence.contains("Linux 5.8"), "{}", d.sentence);

    let trace = hops(&[
        (1, HopReply::TimeExceeded, Some("192.0.2.1")),
        (2, HopReply::TimeExceeded, Some("198.51.100.2")),
    ]);
    let d = diagnose(&trace, TraceEnd::MaxHops, dest(61003), None);
    assert_eq!((d.word, d.hop), (DiagnosisWord::Unknown, None));
}

#[test]
fn only_filtered_rejected_and_unreachable_verdicts_are_worth_a_trace() {
    let worth = |state, reason| worth_tracing(&tcp(state, reason, None));
    assert!(worth(TcpState::Filtered, TcpReason::Timeout));
    assert!(worth(TcpState::Rejected, TcpReason::IcmpAdminProhibited));
    assert!(worth(TcpState::Unreachable, TcpReason::IcmpHostUnreachable));
    assert!(!worth(TcpState::Open, TcpReason::SynAck));
    assert!(!worth(TcpState::Closed, TcpReason::Rst));
    assert!(!worth(TcpState::Error, TcpReason::LocalPolicy));
}

fn quick() -> TraceOptions {
    TraceOptions {
        timeout: Duration::from_millis(500),
        max_hops: 4,
        reverse_dns: false,
        ..TraceOptions::default()
    }
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_loopback_listener_is_reached_at_hop_1() {
    for bind in ["127.0.0.1:0", "[::1]:0"] {
        let listener = tokio::net::TcpListener::bind(bind).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let report = trace(addr, &quick()).await;
        assert_eq!(report.ended, TraceEnd::Answered, "{report:?}");
        assert_eq!(report.hops.len(), 1, "{report:?}");
        assert_eq!(report.hops[0].reply, HopReply::SynAck);
        assert_eq!(report.hops[0].rtt_ms.len(), 3);
        assert_eq!(report.diagnosis.word, DiagnosisWord::Reached);
        assert_eq!(report.diagnosis.hop, Some(1));
    }
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_closed_loopback_port_is_a_reset_at_hop_1_and_a_reference_port_confirms_it() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let open_port = listener.local_addr().unwrap().port();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_addr = closed.local_addr().unwrap();
    drop(closed);
    let opts = TraceOptions {
        reference_port: Some(open_port),
        ..quick()
    };
    let report = trace(closed_addr, &opts).await;
    assert_eq!(report.hops.len(), 1, "{report:?}");
    assert_eq!(report.hops[0].reply, HopReply::Rst);
    assert_eq!(
        report.reference,
        Some(ReferenceDistance {
            port: open_port,
            hops: Some(1),
            reply: Some(HopReply::SynAck),
            source: ReferenceSource::Given,
            tried: vec![open_port],
        })
    );
    assert_eq!(report.diagnosis.word, DiagnosisWord::Reached);
    assert!(
        report
            .diagnosis
            .sentence
            .contains("closed on the host itself")
    );
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_closed_loopback_port_is_checked_against_a_port_open_earlier_in_the_run() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let open_addr = listener.local_addr().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_addr = closed.local_addr().unwrap();
    drop(closed);
    let open = OpenPorts::default();
    open.record(open_addr);
    let report = trace_in_run(closed_addr, &quick(), &open).await;
    let reference = report.reference.expect("measured");
    assert_eq!(
        (
            reference.port,
            reference.hops,
            reference.reply,
            reference.source
        ),
        (
            open_addr.port(),
            Some(1),
            Some(HopReply::SynAck),
            ReferenceSource::OpenInRun
        )
    );
    assert_eq!(report.diagnosis.word, DiagnosisWord::Reached);
    assert!(
        report
            .diagnosis
            .sentence
            .contains("open earlier in this run")
    );
}

/// Where the system cannot say who sent an ICMP error, the trace says so and shows no path.
#[cfg(not(target_os = "linux"))]
#[tokio::test]
async fn elsewhere_the_trace_says_it_is_unsupported_instead_of_printing_a_path() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let report = trace(listener.local_addr().unwrap(), &quick()).await;
    assert_eq!(report.ended, TraceEnd::Unsupported, "{report:?}");
    assert!(report.hops.is_empty(), "{report:?}");
    assert_eq!(report.diagnosis.word, DiagnosisWord::Unknown);
    assert!(
        report.diagnosis.sentence.contains("not supported"),
        "{report:?}"
    );
}
