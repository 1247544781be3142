//! TCP verdicts against real routers and firewalls: the namespace lab (tests/lab/README.md),
//! probed from inside the client namespace, IPv4 and IPv6, through the library and the CLI.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use lab::{Lab, Role};
use serde_json::Value;

use crate::support::lab;

/// The connect deadline the probes use; a dropped port must be reported within about this.
const DEADLINE: Duration = Duration::from_secs(1);

/// One expected verdict: port, state, reason, who sent the ICMP (`None`: nobody).
struct Case {
    port: u16,
    state: &'static str,
    reason: &'static str,
    icmp_from: Option<IpAddr>,
}

fn cases(r1: IpAddr, client: IpAddr) -> Vec<Case> {
    let case = |port, state, reason, icmp_from| Case {
        port,
        state,
        reason,
        icmp_from,
    };
    vec![
        case(lab::PORT_DROPPED_AT_R2, "filtered", "timeout", None),
        case(
            lab::PORT_ADMIN_PROHIBITED_AT_R1,
            "rejected",
            "icmp_admin_prohibited",
            Some(r1),
        ),
        // The forged RST is indistinguishable from the server's at the TCP layer; only the
        // trace (hop distance) tells them apart.
        case(lab::PORT_RESET_BY_R2, "closed", "rst", None),
        case(lab::PORT_OPEN, "open", "syn_ack", None),
        case(lab::PORT_CLOSED, "closed", "rst", None),
        case(
            lab::PORT_UNREACHABLE_AT_R1,
            "rejected",
            "icmp_port_unreachable",
            Some(r1),
        ),
        // Our own firewall: nothing reached the network.
        case(lab::PORT_LOCAL_REJECT, "error", "local_icmp", Some(client)),
    ]
}

/// Checks one JSON verdict (`tcp` object in `line`) against `case`.
fn check(line: &Value, case: &Case, server: IpAddr) {
    let what = format!("port {} on {server}: {line}", case.port);
    assert_eq!(line["address"], server.to_string(), "{what}");
    assert_eq!(line["port"], case.port, "{what}");
    let tcp = &line["tcp"];
    assert_eq!(tcp["state"], case.state, "state, {what}");
    assert_eq!(tcp["reason"], case.reason, "reason, {what}");
    let icmp_from = case.icmp_from.map(|a| Value::from(a.to_string()));
    assert_eq!(
        tcp["icmp_from"],
        icmp_from.unwrap_or(Value::Null),
        "icmp_from, {what}"
    );
    let connect_ms = tcp["connect_ms"].as_f64().expect("connect_ms is a number");
    let limit_ms = 2.0 * DEADLINE.as_secs_f64() * 1000.0;
    assert!(
        connect_ms < limit_ms,
        "verdict took {connect_ms} ms, more than twice the deadline, {what}"
    );
    if case.state == "filtered" {
        assert!(
            connect_ms >= DEADLINE.as_secs_f64() * 1000.0 * 0.9,
            "filtered before the deadline ran out, {what}"
        );
    }
}

fn library_verdicts(server: IpAddr, r1: IpAddr, client: IpAddr) {
    let Some(mut lab) = Lab::up_or_skip() else {
        return;
    };
    lab.listen();
    let cases = cases(r1, client);
    let addrs: Vec<String> = cases
        .iter()
        .map(|c| SocketAddr::new(server, c.port).to_string())
        .collect();
    let request = format!("connect {} {}", DEADLINE.as_millis(), addrs.join(" "));
    let lines = lab.run_child(Role::Client, false, &request);
    assert_eq!(lines.len(), cases.len(), "one verdict per port: {lines:?}");
    for (line, case) in lines.iter().zip(&cases) {
        let json: Value = serde_json::from_str(line).expect("child JSON");
        check(&json, case, server);
        let elapsed = json["elapsed_ms"].as_f64().expect("elapsed_ms");
        assert!(
            elapsed < 2.0 * DEADLINE.as_secs_f64() * 1000.0,
            "connect() returned after {elapsed} ms: {line}"
        );
    }
}

#[test]
fn library_tcp_verdicts_ipv4() {
    if lab::serve_child_request() {
        return;
    }
    library_verdicts(lab::SERVER_V4, lab::R1_V4, lab::CLIENT_V4);
}

#[test]
fn library_tcp_verdicts_ipv6() {
    if lab::serve_child_request() {
        return;
    }
    library_verdicts(lab::SERVER_V6, lab::R1_V6, lab::CLIENT_V6);
}

/// The same verdicts through the binary: `reach --json --no-tls --timeout 1s ADDR:PORT...`.
fn cli_verdicts(server: IpAddr, r1: IpAddr, client: IpAddr) {
    let Some(mut lab) = Lab::up_or_skip() else {
        return;
    };
    lab.listen();
    let cases = cases(r1, client);
    let targets: Vec<String> = cases
        .iter()
        .map(|c| SocketAddr::new(server, c.port).to_string())
        .collect();
    let mut args = vec!["--json", "--no-tls", "--timeout", "1s"];
    args.extend(targets.iter().map(String::as_str));
    let out = lab.run(
        Role::Client,
        env!("CARGO_BIN_EXE_reach"),
        &args,
        Duration::from_secs(30),
    );
    let lines: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert_eq!(
        lines.len(),
        cases.len(),
        "one JSON line per target\nstdout:\n{}\nstderr:\n{}",
        out.stdout,
        out.stderr
    );
    for case in &cases {
        let line = lines
            .iter()
            .find(|l| l["port"] == case.port)
            .unwrap_or_else(|| panic!("no line for port {}: {}", case.port, out.stdout));
        check(line, case, server);
    }
}

#[test]
fn cli_tcp_verdicts_ipv4() {
    if lab::serve_child_request() {
        return;
    }
    cli_verdicts(lab::SERVER_V4, lab::R1_V4, lab::CLIENT_V4);
}

#[test]
fn cli_tcp_verdicts_ipv6() {
    if lab::serve_child_request() {
        return;
    }
    cli_verdicts(lab::SERVER_V6, lab::R1_V6, lab::CLIENT_V6);
}

/// A server that accepts and resets at once, across the lab's routers: the port is open and
/// its greeting was reset, on every one of many probes (a sweep's exit code may not depend on
/// whether the RST overtook the end of `connect()`). Both families in one run.
#[test]
fn accept_then_reset_is_open_every_time_across_routers() {
    if lab::serve_child_request() {
        return;
    }
    let Some(mut lab) = Lab::up_or_skip() else {
        return;
    };
    lab.listen_resetting();
    let targets: String = [lab::SERVER_V4, lab::SERVER_V6]
        .iter()
        .flat_map(|&server| {
            std::iter::repeat_n(SocketAddr::new(server, lab::PORT_RESET_ON_ACCEPT), 150)
        })
        .map(|addr| format!("{addr}\n"))
        .collect();
    let file = lab.dir().join("targets.txt");
    std::fs::write(&file, targets).expect("write the targets");
    let args = [
        "--json",
        "--no-tls",
        "--timeout",
        "2s",
        "-i",
        file.to_str().expect("utf-8 path"),
    ];
    let out = lab.run(
        Role::Client,
        env!("CARGO_BIN_EXE_reach"),
        &args,
        Duration::from_secs(60),
    );
    let lines: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert_eq!(lines.len(), 300, "stderr:\n{}", out.stderr);
    for line in &lines {
        assert_eq!(line["tcp"]["state"], "open", "{line}");
        assert_eq!(line["tcp"]["reason"], "syn_ack", "{line}");
        assert_eq!(line["greeting"]["state"], "reset", "{line}");
        assert!(line["stopped"].is_null(), "{line}");
    }
    assert!(out.success, "exit code of the sweep: {out:?}");
}
