//! `reach --trace` and `--explain` through the binary, in the namespace lab, as an
//! unprivileged user: the diagnoses of issue 5 end to end, IPv4 and IPv6.

use std::net::{IpAddr, SocketAddr};
use std::process::Stdio;

use lab::{Lab, Role};
use serde_json::Value;

use crate::support::lab;

fn reach_unprivileged(lab: &Lab, args: &[&str]) -> Vec<Value> {
    let out = lab
        .command_unprivileged(Role::Client, env!("CARGO_BIN_EXE_reach"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run reach in the lab");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn diagnoses(server: IpAddr) {
    if lab::serve_child_request() {
        return;
    }
    let Some(mut lab) = Lab::up_or_skip() else {
        return;
    };
    lab.listen();
    let target = |port: u16| SocketAddr::new(server, port).to_string();
    let common = [
        "--json",
        "--no-tls",
        "--timeout",
        "1s",
        "--reference-port",
        "61004",
    ];
    let cases = [
        (lab::PORT_DROPPED_AT_R2, "--trace", "dropped_after", 1),
        (
            lab::PORT_ADMIN_PROHIBITED_AT_R1,
            "--trace",
            "rejected_at",
            1,
        ),
        (lab::PORT_RESET_BY_R2, "--trace", "middlebox_reset", 2),
        (61003, "--trace", "reached", 3),
        // --explain traces only what failed on the path.
        (
            lab::PORT_ADMIN_PROHIBITED_AT_R1,
            "--explain",
            "rejected_at",
            1,
        ),
    ];
    for (port, flag, word, hop) in cases {
        let mut args = common.to_vec();
        let t = target(port);
        args.extend([flag, t.as_str()]);
        let lines = reach_unprivileged(&lab, &args);
        assert_eq!(lines.len(), 1, "{args:?}");
        let d = &lines[0]["trace"]["diagnosis"];
        assert_eq!(d["word"], word, "{args:?}: {}", lines[0]["trace"]);
        assert_eq!(d["hop"], hop, "{args:?}: {}", lines[0]["trace"]);
    }
    // No --reference-port: the host's distance is measured on other ports automatically.
    let auto = ["--json", "--no-tls", "--timeout", "1s", "--trace"];
    // 61002 alone: nothing else is open; a random port's RST comes from hop 3.
    let t = target(lab::PORT_RESET_BY_R2);
    let lines = reach_unprivileged(&lab, &[&auto[..], &[t.as_str()]].concat());
    let trace = &lines[0]["trace"];
    assert_eq!(trace["diagnosis"]["word"], "middlebox_reset", "{trace}");
    assert_eq!(trace["diagnosis"]["hop"], 2, "{trace}");
    assert_eq!(trace["reference"]["source"], "random_port", "{trace}");
    // 61004 alone: a RST at hop 3, and only RSTs at hop 3 elsewhere: unknown, not reached.
    let t = target(lab::PORT_CLOSED);
    let lines = reach_unprivileged(&lab, &[&auto[..], &[t.as_str()]].concat());
    let trace = &lines[0]["trace"];
    assert_eq!(trace["diagnosis"]["word"], "unknown", "{trace}");
    // 61004 next to 61003 in the same run: 61003's SYN-ACK at hop 3 proves the RST is the
    // server's own.
    let (open, closed) = (target(lab::PORT_OPEN), target(lab::PORT_CLOSED));
    let lines = reach_unprivileged(
        &lab,
        &[&auto[..], &[open.as_str(), closed.as_str()]].concat(),
    );
    let closed_line = lines
        .iter()
        .find(|l| l["port"] == lab::PORT_CLOSED)
        .expect("the closed port's line");
    let trace = &closed_line["trace"];
    assert_eq!(trace["diagnosis"]["word"], "reached", "{trace}");
    assert_eq!(trace["diagnosis"]["hop"], 3, "{trace}");
    assert_eq!(trace["reference"]["source"], "open_in_run", "{trace}");
    assert_eq!(trace["reference"]["port"], lab::PORT_OPEN, "{trace}");
    assert_eq!(trace["reference"]["reply"], "syn_ack", "{trace}");

    let t = target(61003);
    let lines = reach_unprivileged(&lab, &["--json", "--no-tls", "--explain", &t]);
    assert!(
        lines[0]["trace"].is_null(),
        "an open port needs no explanation"
    );
}

#[test]
fn cli_trace_diagnoses_ipv4() {
    diagnoses(lab::SERVER_V4);
}

#[test]
fn cli_trace_diagnoses_ipv6() {
    diagnoses(lab::SERVER_V6);
}
