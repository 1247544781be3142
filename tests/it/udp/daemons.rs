//! UDP probes against real daemons started by the tests on loopback: unbound (DNS), chronyd
//! (NTP), snmpd; a closed port and a silent one; latency mode on UDP answers; every line
//! checked against the JSON contract mirror.

use std::time::Duration;

use serde_json::Value;

use crate::support::udp::{self, Bind};
use crate::support::{TempDir, free_port, json_lines, reach};

fn one(args: &[&str]) -> (Value, std::process::Output) {
    let out = reach(&[&["--json"], args].concat());
    let lines = json_lines(&out);
    assert_eq!(
        lines.len(),
        1,
        "one line from reach {args:?}\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (lines[0].clone(), out)
}

fn free_udp_port() -> u16 {
    // A port free for TCP and UDP alike (unbound also listens on TCP).
    loop {
        let port = free_port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

#[test]
fn unbound_answers_the_root_soa_and_a_named_query() {
    let dir = TempDir::new("udp-unbound");
    let port = free_udp_port();
    let Some(cmd) = udp::unbound(
        &dir,
        &Bind {
            addrs: &["127.0.0.1"],
            port,
        },
    ) else {
        return;
    };
    let _unbound = udp::start("unbound", cmd, &dir, port, udp::DNS_QUERY);
    let target = format!("udp://127.0.0.1:{port}");
    let (line, out) = one(&["--udp-probe", "dns", &target]);
    assert_eq!(out.status.code(), Some(0), "{line}");
    let u = &line["udp"];
    assert_eq!(u["state"], "open", "{line}");
    assert_eq!(u["reason"], "answer");
    assert_eq!(u["probe"], "dns");
    assert_eq!(line["reached"], "udp");
    assert_eq!(line["tcp"], Value::Null);
    let a = &u["answer"];
    assert_eq!(a["protocol"], "dns");
    assert_eq!(a["fields"]["rcode"], "NOERROR");
    assert!(a["fields"]["flags"].as_str().unwrap().contains("qr"), "{a}");
    assert!(
        a["fields"]["answer"]
            .as_str()
            .unwrap()
            .contains("SOA ns.test."),
        "{a}"
    );
    udp::record_seed(
        "udp_answers",
        "unbound-soa",
        &unhex(a["hex"].as_str().unwrap()),
    );
    // --query, and -u with a port list: the port chooses nothing, the flag does.
    let (line, _) = one(&[
        "-u",
        "--udp-probe",
        "dns",
        "--query",
        "lab.test",
        &format!("127.0.0.1:{port}"),
    ]);
    let a = &line["udp"]["answer"];
    assert_eq!(
        a["summary"],
        format!("NOERROR, 1 answer: lab.test. 300 A {}", udp::LAB_TEST_A),
        "{line}"
    );
    let (line, _) = one(&[
        "-u",
        "--udp-probe",
        "dns",
        "--query",
        "nosuch.test/AAAA",
        &target,
    ]);
    assert_eq!(
        line["udp"]["answer"]["fields"]["rcode"], "NXDOMAIN",
        "{line}"
    );
    // The human report: the verdict and the parsed answer, like a greeting.
    let out = reach(&["--udp-probe", "dns", &target]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("127.0.0.1:{port}/udp  UDP open: DNS answered in")),
        "{text}"
    );
    assert!(
        text.contains("answer     NOERROR, 1 answer: . 3600 SOA ns.test."),
        "{text}"
    );
}

#[test]
fn chronyd_answers_with_its_stratum_and_the_offset_is_measured() {
    let dir = TempDir::new("udp-chrony");
    let port = free_udp_port();
    let Some(cmd) = udp::chronyd(
        &dir,
        &Bind {
            addrs: &["127.0.0.1"],
            port,
        },
    ) else {
        return;
    };
    let _chronyd = udp::start("chronyd", cmd, &dir, port, &udp::ntp_request());
    let (line, out) = one(&["-u", "--udp-probe", "ntp", &format!("127.0.0.1:{port}")]);
    assert_eq!(out.status.code(), Some(0), "{line}");
    let a = &line["udp"]["answer"];
    assert_eq!(a["protocol"], "ntp", "{line}");
    assert_eq!(a["fields"]["stratum"], "8", "{line}");
    assert_eq!(a["fields"]["version"], "4");
    // The same clock on both ends: the offset is well under a second.
    let offset: f64 = a["fields"]["offset_ms"].as_str().unwrap().parse().unwrap();
    assert!(offset.abs() < 1000.0, "{offset}");
    let delay: f64 = a["fields"]["delay_ms"].as_str().unwrap().parse().unwrap();
    assert!((0.0..1000.0).contains(&delay), "{delay}");
    udp::record_seed(
        "udp_answers",
        "chronyd-ntp",
        &unhex(a["hex"].as_str().unwrap()),
    );
}

#[test]
fn a_closed_port_is_closed_by_the_host_and_a_silent_one_is_open_filtered() {
    if !crate::support::wine_cannot(
        "Wine does not turn an ICMP port unreachable into WSAECONNRESET on a UDP receive",
    ) {
        let closed = free_udp_port();
        let (line, out) = one(&["-u", &format!("127.0.0.1:{closed}")]);
        assert_eq!(out.status.code(), Some(1), "{line}");
        assert_eq!(line["udp"]["state"], "closed");
        assert_eq!(line["stopped"]["layer"], "udp");
        assert_eq!(line["stopped"]["reason"], "closed");
        if cfg!(target_os = "linux") {
            assert_eq!(line["udp"]["reason"], "icmp_port_unreachable");
            assert_eq!(line["udp"]["icmp_from"], "127.0.0.1");
        }
    }
    // A socket that reads and never answers.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let started = std::time::Instant::now();
    let (line, out) = one(&[
        "--timeout",
        "600ms",
        "--udp-retries",
        "1",
        &format!("udp://127.0.0.1:{port}"),
    ]);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(2), "{line}");
    let u = &line["udp"];
    assert_eq!(u["state"], "open_filtered", "{line}");
    assert_eq!(u["reason"], "no_answer");
    assert_eq!(u["sent"]["datagrams"], 2);
    assert_eq!(u["probe"], "empty");
    let ms = u["elapsed_ms"].as_f64().unwrap();
    assert!((550.0..3000.0).contains(&ms), "{ms}");
    let out = reach(&["--timeout", "300ms", &format!("udp://127.0.0.1:{port}")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("UDP open|filtered: no answer to 3 datagrams"),
        "{text}"
    );
    assert!(text.contains("UDP cannot tell these apart"), "{text}");
}

#[test]
fn a_payload_answer_that_parses_as_nothing_is_open_with_its_bytes_in_hex() {
    let echo = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = echo.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        echo.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        if let Ok((n, from)) = echo.recv_from(&mut buf) {
            let mut reply = b"\x1b[31mhi\x00".to_vec();
            reply.extend_from_slice(&buf[..n]);
            let _ = echo.send_to(&reply, from);
        }
    });
    let (line, out) = one(&[
        "--udp-payload",
        "c0ffee",
        &format!("udp://127.0.0.1:{port}"),
    ]);
    handle.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{line}");
    let u = &line["udp"];
    assert_eq!(u["probe"], "payload");
    assert_eq!(u["sent"]["hex"], "c0ffee");
    assert_eq!(u["answer"]["hex"], "1b5b33316d686900c0ffee");
    assert_eq!(u["answer"]["protocol"], Value::Null);
    assert_eq!(u["answer"]["text"], ".[31mhi....");
}

#[test]
fn latency_mode_times_udp_answers() {
    let dir = TempDir::new("udp-latency");
    let port = free_udp_port();
    let Some(cmd) = udp::unbound(
        &dir,
        &Bind {
            addrs: &["127.0.0.1"],
            port,
        },
    ) else {
        return;
    };
    let _unbound = udp::start("unbound", cmd, &dir, port, udp::DNS_QUERY);
    let (line, out) = one(&[
        "-n",
        "3",
        "--interval",
        "10ms",
        "--warmup",
        "0",
        "--udp-probe",
        "dns",
        &format!("udp://127.0.0.1:{port}"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{line}");
    let stats = &line["stats"];
    assert_eq!(stats["sent"], 3, "{line}");
    assert_eq!(stats["received"], 3);
    assert_eq!(stats["attempts"][0]["state"], "open");
    assert_eq!(stats["attempts"][0]["reason"], "answer");
    assert_eq!(stats["layers"][0]["layer"], "udp");
    assert!(stats["min_ms"].as_f64().unwrap() > 0.0);
    let closed = free_udp_port();
    let (line, out) = one(&[
        "-u",
        "-n",
        "2",
        "--interval",
        "10ms",
        &format!("127.0.0.1:{closed}"),
    ]);
    assert_eq!(out.status.code(), Some(1), "{line}");
    assert_eq!(line["stats"]["received"], 0);
    assert_eq!(line["stats"]["attempts"][1]["state"], "closed");
}

#[test]
fn snmpd_answers_a_discovery_without_a_community_and_sysdescr_with_one() {
    let dir = TempDir::new("udp-snmpd");
    let port = free_udp_port();
    let Some(cmd) = udp::snmpd(
        &dir,
        &Bind {
            addrs: &["127.0.0.1"],
            port,
        },
    ) else {
        return;
    };
    let discovery = reach_discovery_bytes();
    let _snmpd = udp::start("snmpd", cmd, &dir, port, &discovery);
    let target = format!("127.0.0.1:{port}");
    // No community: an SNMPv3 discovery, and the report says what was not sent.
    let (line, out) = one(&["-u", "--udp-probe", "snmp", &target]);
    assert_eq!(out.status.code(), Some(0), "{line}");
    let u = &line["udp"];
    assert_eq!(u["state"], "open", "{line}");
    assert!(u["not_sent"].as_str().unwrap().contains("--snmp-community"));
    assert!(
        !u["sent"]["hex"]
            .as_str()
            .unwrap()
            .contains(&hex(udp::COMMUNITY))
    );
    let a = &u["answer"];
    assert_eq!(a["fields"]["version"], "3", "{a}");
    assert_eq!(a["fields"]["engine_enterprise"], "8072 (Net-SNMP)");
    assert!(
        a["fields"]["varbinds"]
            .as_str()
            .unwrap()
            .contains("usmStatsUnknownEngineIDs.0")
    );
    udp::record_seed(
        "udp_answers",
        "snmpd-v3-report",
        &unhex(a["hex"].as_str().unwrap()),
    );
    // With the community: sysDescr.0.
    let (line, _) = one(&[
        "-u",
        "--snmp-community",
        udp::COMMUNITY,
        "--udp-probe",
        "snmp",
        &target,
    ]);
    let a = &line["udp"]["answer"];
    assert_eq!(
        a["summary"],
        format!("SNMPv2c response: sysDescr.0 = {}", udp::SYS_DESCR),
        "{line}"
    );
    assert_eq!(line["udp"]["not_sent"], Value::Null);
    udp::record_seed(
        "udp_answers",
        "snmpd-v2c-sysdescr",
        &unhex(a["hex"].as_str().unwrap()),
    );
}

/// The SNMPv3 discovery reach sends (a copy, to wait for snmpd without a community).
fn reach_discovery_bytes() -> Vec<u8> {
    let (line, _) = one(&[
        "--timeout",
        "100ms",
        "--udp-retries",
        "0",
        "-u",
        "--udp-probe",
        "snmp",
        "127.0.0.1:9",
    ]);
    unhex(line["udp"]["sent"]["hex"].as_str().unwrap())
}

fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}
