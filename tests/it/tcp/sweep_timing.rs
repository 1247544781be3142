//! Adaptive connect deadlines (`--timing`, README "Sweep timing") on a slow path: the lab with
//! 300 ms added to every IPv4 round trip (`lab.sh delay`), swept at default settings. Every
//! open and closed port must still be classified right (no false `filtered`), the dropped one
//! must be `filtered`, and an explicit `--timeout` must never be shortened.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use lab::{Lab, Role};
use serde_json::Value;

use crate::support::{find_binary, lab, skip_or_fail};

/// Added to every round trip.
const DELAY_MS: u32 = 300;
/// The swept ports: the lab's special ports (61000-61006) and 93 more the server closes.
const FIRST: u16 = 61000;
const LAST: u16 = 61099;

/// What the lab answers on each swept port (tests/lab/README.md).
fn expected(port: u16) -> (&'static str, &'static str) {
    match port {
        lab::PORT_DROPPED_AT_R2 => ("filtered", "timeout"),
        lab::PORT_ADMIN_PROHIBITED_AT_R1 => ("rejected", "icmp_admin_prohibited"),
        lab::PORT_UNREACHABLE_AT_R1 => ("rejected", "icmp_port_unreachable"),
        lab::PORT_LOCAL_REJECT => ("error", "local_icmp"),
        lab::PORT_OPEN => ("open", "syn_ack"),
        _ => ("closed", "rst"),
    }
}

/// Sweeps FIRST-LAST of the server from the client with `extra` flags; returns each port's
/// JSON line and the wall time.
fn sweep(lab: &Lab, extra: &[&str]) -> (BTreeMap<u16, Value>, Duration) {
    let ports = format!("{FIRST}-{LAST}");
    let server = lab::SERVER_V4.to_string();
    let mut args = vec!["--json", "--no-tls", "-p", &ports];
    args.extend_from_slice(extra);
    args.push(&server);
    let started = Instant::now();
    let out = lab.run(
        Role::Client,
        env!("CARGO_BIN_EXE_reach"),
        &args,
        Duration::from_secs(60),
    );
    let elapsed = started.elapsed();
    let lines: BTreeMap<u16, Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .map(|v| (v["port"].as_u64().expect("port") as u16, v))
        .collect();
    assert_eq!(
        lines.len(),
        usize::from(LAST - FIRST + 1),
        "one line per port\nstderr:\n{}",
        out.stderr
    );
    (lines, elapsed)
}

#[test]
fn a_default_sweep_over_a_300ms_path_classifies_every_port() {
    if lab::serve_child_request() {
        return;
    }
    if find_binary("python3").is_none() {
        skip_or_fail("the lab's delay line needs python3");
        return;
    }
    let Some(mut lab) = Lab::up_or_skip() else {
        return;
    };
    lab.listen();
    lab.delay(DELAY_MS);

    let (lines, elapsed) = sweep(&lab, &[]);
    for (port, line) in &lines {
        let (state, reason) = expected(*port);
        assert_eq!(line["tcp"]["state"], state, "port {port}: {line}");
        assert_eq!(line["tcp"]["reason"], reason, "port {port}: {line}");
        let ms = line["tcp"]["connect_ms"].as_f64().expect("connect_ms");
        if state == "open" || (state == "closed" && *port != lab::PORT_RESET_BY_R2) {
            // The server's answers really did come over the slow path.
            assert!(
                ms >= f64::from(DELAY_MS),
                "port {port} answered in {ms} ms: {line}"
            );
        }
    }
    // The drop is declared after two learned windows, each longer than the round trip, and
    // the sweep does not wait the 3 s of the old fixed deadline for it.
    let dropped = lines[&lab::PORT_DROPPED_AT_R2]["tcp"]["connect_ms"]
        .as_f64()
        .expect("connect_ms");
    assert!(
        dropped >= 2.0 * f64::from(DELAY_MS),
        "filtered after {dropped} ms, less than two round trips"
    );
    assert!(
        elapsed < Duration::from_secs(8),
        "a 100-port sweep took {elapsed:?}"
    );

    // An explicit --timeout is the whole deadline, never shortened by what was learned.
    let (lines, _) = sweep(&lab, &["--timeout", "1500ms"]);
    let dropped = &lines[&lab::PORT_DROPPED_AT_R2]["tcp"];
    assert_eq!(dropped["state"], "filtered", "{dropped}");
    let ms = dropped["connect_ms"].as_f64().expect("connect_ms");
    assert!(
        ms >= 1500.0,
        "an explicit 1.5 s deadline ended after {ms} ms"
    );
    for (port, line) in &lines {
        assert_eq!(
            line["tcp"]["state"],
            expected(*port).0,
            "port {port}: {line}"
        );
    }
}
