//! The NetBIOS, CLDAP and STUN probes against real servers started by the tests: nmbd and a
//! Samba AD domain controller in network namespaces of their own (they need ports 137 and
//! 389 and a non-loopback interface), coturn's turnserver on loopback.

use std::time::Duration;

use serde_json::Value;

use crate::support::udp::{self, Netns};
use crate::support::{TempDir, daemons::Daemon, free_port, json_lines, reach};

fn json(out: &std::process::Output) -> Value {
    let lines = json_lines(out);
    assert_eq!(
        lines.len(),
        1,
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    lines[0].clone()
}

fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

#[test]
fn nmbd_answers_node_status_with_its_name_table() {
    let dir = TempDir::new("udp-nmbd");
    let Some(ns) = Netns::new("nmbd", "192.0.2.137") else {
        return;
    };
    let Some(cmd) = udp::nmbd(&dir, &ns) else {
        return;
    };
    let nmbd = Daemon::start("nmbd", cmd, &dir, &[]);
    assert!(
        ns.wait_open("netbios", 137, Duration::from_secs(30)),
        "nmbd never answered:\n{}",
        nmbd.log_text()
    );
    // Port 137 chooses the NetBIOS probe by itself.
    let line = json(&ns.reach(&["--json", "-u", "192.0.2.137:137"]));
    let u = &line["udp"];
    assert_eq!(u["state"], "open", "{line}");
    assert_eq!(u["probe"], "netbios");
    let a = &u["answer"];
    assert_eq!(a["protocol"], "netbios", "{a}");
    assert_eq!(a["fields"]["name"], udp::NETBIOS_HOST);
    assert_eq!(a["fields"]["workgroup"], udp::NETBIOS_GROUP);
    // Samba sends a zero unit ID: it does not know a MAC.
    assert_eq!(a["fields"]["mac"], "00:00:00:00:00:00");
    let names = a["fields"]["names"].as_str().unwrap();
    assert!(names.contains("LABHOST<20> UNIQUE file server"), "{names}");
    assert!(
        names.contains("REACHLAB<00> GROUP domain/workgroup"),
        "{names}"
    );
    udp::record_seed(
        "udp_answers",
        "nmbd-node-status",
        &unhex(a["hex"].as_str().unwrap()),
    );
    let out = ns.reach(&["-u", "192.0.2.137:137"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("UDP open: NETBIOS answered in"), "{text}");
    assert!(
        text.contains("answer     NetBIOS node status: LABHOST in REACHLAB, 5 names"),
        "{text}"
    );
}

#[test]
fn a_samba_domain_controller_answers_the_cldap_root_dse() {
    let dir = TempDir::new("udp-cldap");
    let Some(ns) = Netns::new("cldap", "192.0.2.138") else {
        return;
    };
    let Some(cmd) = udp::samba_dc(&dir, &ns) else {
        return;
    };
    let samba = Daemon::start("samba", cmd, &dir, &[]);
    assert!(
        ns.wait_open("cldap", 389, Duration::from_secs(60)),
        "samba's CLDAP server never answered:\n{}",
        samba.log_text()
    );
    let line = json(&ns.reach(&["--json", "-u", "192.0.2.138:389"]));
    let u = &line["udp"];
    assert_eq!(u["probe"], "cldap", "{line}");
    let a = &u["answer"];
    assert_eq!(a["protocol"], "cldap", "{line}");
    let f = &a["fields"];
    assert_eq!(f["dns_host_name"], "dc1.lab.test", "{a}");
    assert_eq!(f["default_naming_context"], "DC=lab,DC=test");
    assert_eq!(f["supported_ldap_version"], "2; 3");
    assert_eq!(f["result"], "success");
    assert!(
        f["vendor_name"].as_str().unwrap().starts_with("Samba Team"),
        "{a}"
    );
    assert_eq!(
        a["summary"],
        "CLDAP rootDSE of dc1.lab.test, naming context DC=lab,DC=test, LDAP versions 2; 3"
    );
    udp::record_seed(
        "udp_answers",
        "samba-cldap-rootdse",
        &unhex(a["hex"].as_str().unwrap()),
    );
}

#[test]
fn coturn_answers_a_binding_request_with_the_mapped_address() {
    let dir = TempDir::new("udp-stun");
    let port = free_port();
    let Some(cmd) = udp::turnserver(&dir, port) else {
        return;
    };
    let _turn = udp::start("turnserver", cmd, &dir, port, udp::STUN_REQUEST);
    let target = format!("127.0.0.1:{port}");
    let line = json(&reach(&["--json", "-u", "--udp-probe", "stun", &target]));
    let u = &line["udp"];
    assert_eq!(u["state"], "open", "{line}");
    assert_eq!(u["probe"], "stun");
    let a = &u["answer"];
    assert_eq!(a["protocol"], "stun", "{a}");
    assert_eq!(a["fields"]["class"], "success");
    // The mapped address is reach's own socket: loopback, some port.
    let mapped = a["fields"]["xor_mapped_address"].as_str().unwrap();
    assert!(mapped.starts_with("127.0.0.1:"), "{a}");
    assert_eq!(a["fields"]["mapped_address"], mapped);
    assert_eq!(a["fields"]["response_origin"], target.as_str());
    assert!(
        a["fields"]["software"]
            .as_str()
            .unwrap()
            .starts_with("Coturn-"),
        "{a}"
    );
    udp::record_seed(
        "udp_answers",
        "coturn-binding",
        &unhex(a["hex"].as_str().unwrap()),
    );
    // Port 3478 would choose STUN by itself; here the flag did. Without it, an empty datagram,
    // which coturn ignores: silence.
    let line = json(&reach(&["--json", "--timeout", "300ms", "-u", &target]));
    assert_eq!(line["udp"]["probe"], "empty");
    assert_eq!(line["udp"]["state"], "open_filtered", "{line}");
}
