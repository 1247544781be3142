//! QUIC through the namespace lab (tests/lab/README.md): a UDP port dropped at r2 is `filtered`
//! within one deadline, one rejected by r1 is `rejected` naming r1, a port nothing listens on
//! is `closed` by the server's own ICMP; IPv4 and IPv6, through the binary in the client
//! namespace. Needs root; skips otherwise unless `CI=true`.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::lab::{self, Lab, Role};

fn verdicts(server: IpAddr, r1: IpAddr) {
    let Some(lab) = Lab::up_or_skip() else {
        return;
    };
    let target = |port| SocketAddr::new(server, port).to_string();
    let (dropped, rejected, closed) = (
        target(lab::PORT_DROPPED_AT_R2),
        target(lab::PORT_ADMIN_PROHIBITED_AT_R1),
        target(lab::PORT_CLOSED),
    );
    let started = Instant::now();
    let out = lab.run(
        Role::Client,
        env!("CARGO_BIN_EXE_reach"),
        &[
            "--json",
            "--quic",
            "--timeout",
            "1s",
            "--sni",
            "a.example",
            &dropped,
            &rejected,
            &closed,
        ],
        Duration::from_secs(30),
    );
    let took = started.elapsed();
    let lines: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert_eq!(
        lines.len(),
        3,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout,
        out.stderr
    );
    let line = |port: u16| {
        lines
            .iter()
            .find(|l| l["port"] == port)
            .unwrap_or_else(|| panic!("no line for {port}: {}", out.stdout))
    };
    let dropped = line(lab::PORT_DROPPED_AT_R2);
    assert_eq!(dropped["quic"]["state"], "filtered", "{dropped}");
    assert_eq!(dropped["quic"]["reason"], "timeout");
    let ms = dropped["quic"]["handshake_ms"].as_f64().expect("ms");
    assert!((900.0..2000.0).contains(&ms), "one deadline: {ms} ms");
    assert_eq!(dropped["stopped"]["layer"], "quic");
    let rejected = line(lab::PORT_ADMIN_PROHIBITED_AT_R1);
    assert_eq!(rejected["quic"]["state"], "rejected", "{rejected}");
    assert_eq!(rejected["quic"]["reason"], "icmp_admin_prohibited");
    assert_eq!(rejected["quic"]["icmp_from"], r1.to_string());
    let closed = line(lab::PORT_CLOSED);
    assert_eq!(closed["quic"]["state"], "closed", "{closed}");
    assert_eq!(closed["quic"]["icmp_from"], server.to_string());
    // The probes run concurrently: the whole run is one deadline, not three.
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(!out.success, "a filtered port fails the run");
}

#[test]
fn quic_verdicts_through_the_lab_ipv4() {
    if lab::serve_child_request() {
        return;
    }
    verdicts(lab::SERVER_V4, lab::R1_V4);
}

#[test]
fn quic_verdicts_through_the_lab_ipv6() {
    if lab::serve_child_request() {
        return;
    }
    verdicts(lab::SERVER_V6, lab::R1_V6);
}
