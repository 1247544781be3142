//! UDP verdicts through the network lab (tests/lab/README.md): rejected with ICMP
//! admin-prohibited and port unreachable at r1, dropped at r2, closed at the server, and real
//! DNS, NTP and SNMP daemons answering in the server namespace; IPv4 and IPv6.

use std::net::IpAddr;
use std::process::{Child, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::support::TempDir;
use crate::support::lab::{self, Lab, Role};
use crate::support::udp::{self, Bind};

/// Daemons started in the server namespace; killed with the lab.
struct Served {
    children: Vec<Child>,
    _dir: TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Starts unbound (53), chronyd (123) and snmpd (161) in the server namespace, each bound to
/// the server's addresses, and waits until each answers from the client namespace.
fn serve(lab: &Lab) -> Option<Served> {
    let dir = TempDir::new("udp-lab");
    let addrs = ["203.0.113.10", "2001:db8:3::10"];
    let mut served = Served {
        children: Vec::new(),
        _dir: dir,
    };
    let commands = [
        (
            "unbound",
            udp::unbound(
                &served._dir,
                &Bind {
                    addrs: &addrs,
                    port: 53,
                },
            )?,
        ),
        (
            "chronyd",
            udp::chronyd(
                &served._dir,
                &Bind {
                    addrs: &addrs,
                    port: 123,
                },
            )?,
        ),
        (
            "snmpd",
            udp::snmpd(
                &served._dir,
                &Bind {
                    addrs: &addrs,
                    port: 161,
                },
            )?,
        ),
    ];
    for (name, cmd) in commands {
        let mut inside = lab.command(Role::Server, cmd.get_program());
        inside.args(cmd.get_args());
        for (k, v) in cmd.get_envs() {
            if let Some(v) = v {
                inside.env(k, v);
            }
        }
        let log = std::fs::File::create(served._dir.join(&format!("{name}.log"))).ok()?;
        let child = inside
            .stdin(Stdio::null())
            .stdout(log.try_clone().ok()?)
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start {name} in the lab: {e}"));
        served.children.push(child);
    }
    Some(served)
}

fn reach_in_client(lab: &Lab, args: &[&str]) -> Vec<Value> {
    let out = lab.run(
        Role::Client,
        env!("CARGO_BIN_EXE_reach"),
        args,
        Duration::from_secs(60),
    );
    out.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn verdicts(server: IpAddr, r1: IpAddr) {
    let Some(lab) = Lab::up_or_skip() else {
        return;
    };
    let ports = [
        lab::PORT_DROPPED_AT_R2,
        lab::PORT_ADMIN_PROHIBITED_AT_R1,
        lab::PORT_CLOSED,
        lab::PORT_UNREACHABLE_AT_R1,
    ]
    .map(|p| p.to_string())
    .join(",");
    let target = server.to_string();
    let lines = reach_in_client(
        &lab,
        &["--json", "-u", "--timeout", "1s", "-p", &ports, &target],
    );
    assert_eq!(lines.len(), 4, "{lines:?}");
    let find = |port: u16| {
        lines
            .iter()
            .find(|l| l["port"] == port)
            .unwrap_or_else(|| panic!("no line for {port}: {lines:?}"))
    };
    let check = |port: u16, state: &str, reason: &str, from: Option<IpAddr>| {
        let u = &find(port)["udp"];
        assert_eq!(u["state"], state, "{port}: {u}");
        assert_eq!(u["reason"], reason, "{port}: {u}");
        let from = from.map_or(Value::Null, |a| Value::from(a.to_string()));
        assert_eq!(u["icmp_from"], from, "{port}: {u}");
        assert!(u["elapsed_ms"].as_f64().unwrap() < 1500.0, "{port}: {u}");
    };
    check(lab::PORT_DROPPED_AT_R2, "open_filtered", "no_answer", None);
    check(
        lab::PORT_ADMIN_PROHIBITED_AT_R1,
        "rejected",
        "icmp_admin_prohibited",
        Some(r1),
    );
    check(
        lab::PORT_UNREACHABLE_AT_R1,
        "rejected",
        "icmp_port_unreachable",
        Some(r1),
    );
    check(
        lab::PORT_CLOSED,
        "closed",
        "icmp_port_unreachable",
        Some(server),
    );
}

#[test]
fn udp_verdicts_through_the_lab_ipv4() {
    verdicts(lab::SERVER_V4, lab::R1_V4);
}

#[test]
fn udp_verdicts_through_the_lab_ipv6() {
    verdicts(lab::SERVER_V6, lab::R1_V6);
}

/// The "done means": `reach -u -p 53,123,161,5354 LAB-HOST` against real daemons.
fn done_means(server: IpAddr) {
    let Some(lab) = Lab::up_or_skip() else {
        return;
    };
    let Some(_served) = serve(&lab) else {
        return;
    };
    let target = server.to_string();
    // Daemons take a moment to bind: retry the whole run until the DNS port answers.
    let mut lines = Vec::new();
    for _ in 0..20 {
        lines = reach_in_client(
            &lab,
            &[
                "--json",
                "-u",
                "--timeout",
                "1s",
                "-p",
                "53,123,161,5354",
                &target,
            ],
        );
        let all_up = [53, 123, 161].iter().all(|p| {
            lines
                .iter()
                .any(|l| l["port"] == *p && l["udp"]["state"] == "open")
        });
        if all_up {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let state = |port: u16| {
        let l = lines.iter().find(|l| l["port"] == port).expect("line");
        (
            l["udp"]["state"].clone(),
            l["udp"]["answer"]["protocol"].clone(),
        )
    };
    assert_eq!(state(53), ("open".into(), "dns".into()), "{lines:?}");
    assert_eq!(state(123), ("open".into(), "ntp".into()), "{lines:?}");
    assert_eq!(state(161), ("open".into(), "snmp".into()), "{lines:?}");
    assert_eq!(state(5354).0, "closed", "{lines:?}");
}

#[test]
fn done_means_dns_ntp_snmp_open_and_a_closed_port_ipv4() {
    done_means(lab::SERVER_V4);
}

#[test]
fn done_means_dns_ntp_snmp_open_and_a_closed_port_ipv6() {
    done_means(lab::SERVER_V6);
}
