//! TCP path traces through the namespace lab (tests/lab/README.md), IPv4 and IPv6, run as an
//! unprivileged user (uid 65534) inside the client namespace: no root is needed to trace.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use lab::{Lab, Role};
use serde_json::Value;

use crate::support::lab;

/// Per-probe deadline of the traces.
const TIMEOUT: Duration = Duration::from_secs(1);

/// Traces `port` on the server's IPv4 and IPv6 address at once, as uid 65534, in a fresh lab.
/// Returns the two trace reports (v4, v6), or `None` when the lab is skipped.
fn trace_both(port: u16, reference: Option<u16>) -> Option<[Value; 2]> {
    let mut lab = Lab::up_or_skip()?;
    lab.listen();
    Some(run_traces(&lab, port, reference))
}

fn run_traces(lab: &Lab, port: u16, reference: Option<u16>) -> [Value; 2] {
    let reference = reference.map_or("-".to_string(), |p| p.to_string());
    let request = format!(
        "trace {} {reference} {} {}",
        TIMEOUT.as_millis(),
        SocketAddr::new(lab::SERVER_V4, port),
        SocketAddr::new(lab::SERVER_V6, port)
    );
    let lines = lab.run_child(Role::Client, true, &request);
    assert_eq!(lines.len(), 2, "two traces: {lines:?}");
    let parse = |line: &String| -> Value {
        let json: Value = serde_json::from_str(line).expect("child JSON");
        json["trace"].clone()
    };
    [parse(&lines[0]), parse(&lines[1])]
}

/// `(ttl, address, reply)` of every hop.
fn hops(trace: &Value) -> Vec<(u64, Option<String>, String)> {
    trace["hops"]
        .as_array()
        .expect("hops")
        .iter()
        .map(|h| {
            (
                h["ttl"].as_u64().expect("ttl"),
                h["address"].as_str().map(str::to_string),
                h["reply"].as_str().expect("reply").to_string(),
            )
        })
        .collect()
}

fn hop(ttl: u64, address: Option<IpAddr>, reply: &str) -> (u64, Option<String>, String) {
    (ttl, address.map(|a| a.to_string()), reply.to_string())
}

fn assert_diagnosis(trace: &Value, word: &str, at: u64) {
    let d = &trace["diagnosis"];
    assert_eq!(d["word"], word, "{trace:#}");
    assert_eq!(d["hop"], at, "{trace:#}");
    assert!(
        d["sentence"].as_str().is_some_and(|s| !s.is_empty()),
        "{trace:#}"
    );
}

/// The three lab addresses of one family: r1, r2, server.
fn path(v6: bool) -> [IpAddr; 3] {
    if v6 {
        [lab::R1_V6, lab::R2_V6, lab::SERVER_V6]
    } else {
        [lab::R1_V4, lab::R2_V4, lab::SERVER_V4]
    }
}

#[test]
fn trace_to_a_port_dropped_at_r2_ends_after_hop_1_in_about_two_deadlines() {
    if lab::serve_child_request() {
        return;
    }
    let Some(traces) = trace_both(lab::PORT_DROPPED_AT_R2, None) else {
        return;
    };
    for (trace, v6) in traces.iter().zip([false, true]) {
        let [r1, _, _] = path(v6);
        assert_diagnosis(trace, "dropped_after", 1);
        assert_eq!(trace["ended"], "silent_hops", "{trace:#}");
        let mut expected = vec![hop(1, Some(r1), "time_exceeded")];
        expected.extend((2..=6).map(|ttl| hop(ttl, None, "silent")));
        assert_eq!(hops(trace), expected, "{trace:#}");
        // Every silent hop was probed again after the rate-limit pause: 3 probes + 1 retry.
        let rtts = trace["hops"][1]["rtt_ms"].as_array().expect("rtt_ms");
        assert_eq!(rtts.len(), 4, "{trace:#}");
        assert!(rtts.iter().all(Value::is_null), "{trace:#}");
        // Concurrent hops: about two deadlines (first round + one retry wave), not one per hop.
        let elapsed = trace["elapsed_ms"].as_f64().expect("elapsed_ms");
        assert!(
            elapsed < 4.0 * TIMEOUT.as_secs_f64() * 1000.0,
            "took {elapsed} ms: {trace:#}"
        );
    }
}

fn rejected_by_r1(port: u16, name: &str, v4_code: u64, v6_code: u64) {
    let Some(traces) = trace_both(port, None) else {
        return;
    };
    for (trace, v6) in traces.iter().zip([false, true]) {
        let [r1, _, _] = path(v6);
        assert_diagnosis(trace, "rejected_at", 1);
        assert_eq!(trace["ended"], "rejected", "{trace:#}");
        assert_eq!(
            hops(trace),
            vec![
                hop(1, Some(r1), "time_exceeded"),
                hop(2, Some(r1), "icmp_error")
            ],
            "{trace:#}"
        );
        let icmp = &trace["hops"][1]["icmp"];
        assert_eq!(icmp["name"], name, "{trace:#}");
        let (version, icmp_type, code) = if v6 { (6, 1, v6_code) } else { (4, 3, v4_code) };
        assert_eq!(icmp["version"], version, "{trace:#}");
        assert_eq!(icmp["type"], icmp_type, "{trace:#}");
        assert_eq!(icmp["code"], code, "{trace:#}");
        let sentence = trace["diagnosis"]["sentence"].as_str().unwrap_or_default();
        assert!(sentence.contains(name), "{sentence}");
    }
}

#[test]
fn trace_to_a_port_rejected_by_r1_names_hop_1_and_admin_prohibited() {
    if lab::serve_child_request() {
        return;
    }
    rejected_by_r1(lab::PORT_ADMIN_PROHIBITED_AT_R1, "admin-prohibited", 13, 1);
}

#[test]
fn trace_to_a_port_rejected_by_r1_names_hop_1_and_port_unreachable() {
    if lab::serve_child_request() {
        return;
    }
    rejected_by_r1(lab::PORT_UNREACHABLE_AT_R1, "port-unreachable", 3, 4);
}

#[test]
fn trace_finds_the_forged_reset_of_r2_one_hop_short_of_the_server() {
    if lab::serve_child_request() {
        return;
    }
    let Some(traces) = trace_both(lab::PORT_RESET_BY_R2, Some(lab::PORT_OPEN)) else {
        return;
    };
    for (trace, v6) in traces.iter().zip([false, true]) {
        let [r1, _, server] = path(v6);
        assert_diagnosis(trace, "middlebox_reset", 2);
        assert_eq!(
            hops(trace),
            vec![
                hop(1, Some(r1), "time_exceeded"),
                hop(2, Some(server), "rst")
            ],
            "{trace:#}"
        );
        assert_eq!(trace["reference"]["port"], lab::PORT_OPEN, "{trace:#}");
        assert_eq!(trace["reference"]["hops"], 3, "{trace:#}");
    }
}

#[test]
fn trace_without_a_reference_port_measures_the_host_on_a_random_port_and_finds_the_forgery() {
    if lab::serve_child_request() {
        return;
    }
    let Some(traces) = trace_both(lab::PORT_RESET_BY_R2, None) else {
        return;
    };
    for trace in &traces {
        // Nothing listens on 443, 80 or 22 in the lab: a random high port's RST comes from
        // the server at hop 3, one hop beyond the forged one.
        assert_diagnosis(trace, "middlebox_reset", 2);
        let reference = &trace["reference"];
        assert_eq!(reference["source"], "random_port", "{trace:#}");
        assert_eq!(reference["reply"], "rst", "{trace:#}");
        assert_eq!(reference["hops"], 3, "{trace:#}");
    }
}

#[test]
fn trace_to_a_closed_port_with_nothing_open_is_unknown_not_reached() {
    if lab::serve_child_request() {
        return;
    }
    let Some(traces) = trace_both(lab::PORT_CLOSED, None) else {
        return;
    };
    for trace in &traces {
        // The server's own RST at hop 3, and a random port's RST at hop 3 too: the server, or a
        // middlebox at hop 3 resetting everything? Without a SYN-ACK nobody can tell.
        assert_eq!(trace["diagnosis"]["word"], "unknown", "{trace:#}");
        assert!(trace["diagnosis"]["hop"].is_null(), "{trace:#}");
        assert_eq!(trace["reference"]["reply"], "rst", "{trace:#}");
        assert_eq!(trace["reference"]["hops"], 3, "{trace:#}");
        let sentence = trace["diagnosis"]["sentence"].as_str().unwrap_or_default();
        assert!(sentence.contains("--reference-port"), "{sentence}");
    }
}

#[test]
fn trace_to_the_open_port_reaches_the_server_at_hop_3() {
    if lab::serve_child_request() {
        return;
    }
    let Some(traces) = trace_both(lab::PORT_OPEN, None) else {
        return;
    };
    for (trace, v6) in traces.iter().zip([false, true]) {
        let [r1, r2, server] = path(v6);
        assert_diagnosis(trace, "reached", 3);
        assert_eq!(trace["ended"], "answered", "{trace:#}");
        assert_eq!(
            hops(trace),
            vec![
                hop(1, Some(r1), "time_exceeded"),
                hop(2, Some(r2), "time_exceeded"),
                hop(3, Some(server), "syn_ack"),
            ],
            "{trace:#}"
        );
        // Every probe of every hop was answered, each with its own round-trip time.
        for h in trace["hops"].as_array().expect("hops") {
            let rtts = h["rtt_ms"].as_array().expect("rtt_ms");
            assert_eq!(rtts.len(), 3, "{trace:#}");
            assert!(rtts.iter().all(Value::is_f64), "{trace:#}");
        }
    }
}

#[test]
fn trace_to_the_closed_port_reaches_the_server_at_hop_3_like_the_reference() {
    if lab::serve_child_request() {
        return;
    }
    let Some(traces) = trace_both(lab::PORT_CLOSED, Some(lab::PORT_OPEN)) else {
        return;
    };
    for (trace, v6) in traces.iter().zip([false, true]) {
        let [r1, r2, server] = path(v6);
        assert_diagnosis(trace, "reached", 3);
        assert_eq!(
            hops(trace),
            vec![
                hop(1, Some(r1), "time_exceeded"),
                hop(2, Some(r2), "time_exceeded"),
                hop(3, Some(server), "rst"),
            ],
            "{trace:#}"
        );
        assert_eq!(trace["reference"]["hops"], 3, "{trace:#}");
        let sentence = trace["diagnosis"]["sentence"].as_str().unwrap_or_default();
        assert!(sentence.contains("closed on the host itself"), "{sentence}");
    }
}

#[test]
fn trace_refused_by_the_local_firewall_says_hop_0() {
    if lab::serve_child_request() {
        return;
    }
    let Some(traces) = trace_both(lab::PORT_LOCAL_REJECT, None) else {
        return;
    };
    for (trace, client) in traces.iter().zip([lab::CLIENT_V4, lab::CLIENT_V6]) {
        assert_diagnosis(trace, "rejected_at", 0);
        assert_eq!(trace["ended"], "local_error", "{trace:#}");
        assert_eq!(
            hops(trace),
            vec![hop(1, Some(client), "local_error")],
            "{trace:#}"
        );
    }
}

/// Back-to-back traces through one rejecting router exhaust its ICMP rate limit (IPv4: a
/// burst of 6, then one per second): the later traces must still say "rejected at hop 1", not
/// mistake the rate-limited silence for a drop.
#[test]
fn back_to_back_traces_through_a_rate_limited_router_are_still_rejections() {
    if lab::serve_child_request() {
        return;
    }
    let Some(lab) = Lab::up_or_skip() else {
        return;
    };
    for round in 0..3 {
        let traces = run_traces(&lab, lab::PORT_ADMIN_PROHIBITED_AT_R1, None);
        for trace in &traces {
            assert_diagnosis(trace, "rejected_at", 1);
            let elapsed = trace["elapsed_ms"].as_f64().expect("elapsed_ms");
            eprintln!("round {round}: {} in {elapsed:.0} ms", trace["address"]);
        }
    }
}
