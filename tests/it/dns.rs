//! Name-resolution verdicts against a real DNS responder on loopback: every address probed,
//! NXDOMAIN, no records of the asked family and resolver timeout kept apart.

use std::net::IpAddr;

use crate::support::dns::{Answer, DnsServer};

use crate::support::{free_port, json_lines, reach};

fn server() -> DnsServer {
    let v4: IpAddr = "127.0.0.1".parse().unwrap();
    let v4b: IpAddr = "127.0.0.2".parse().unwrap();
    let v6: IpAddr = "::1".parse().unwrap();
    DnsServer::start(&[
        ("two.test", Answer::Addresses(vec![v4, v4b, v6])),
        ("v4only.test", Answer::Addresses(vec![v4])),
        ("slow.test", Answer::Silent),
    ])
}

#[test]
fn every_address_of_a_name_is_probed_separately() {
    let dns = server();
    let port = free_port();
    let resolver = dns.addr.to_string();
    let out = reach(&[
        "--json",
        "--resolver",
        &resolver,
        &format!("two.test:{port}"),
    ]);
    let lines = json_lines(&out);
    let mut addresses: Vec<String> = lines
        .iter()
        .map(|r| r["address"].as_str().unwrap().to_string())
        .collect();
    addresses.sort();
    assert_eq!(addresses, ["127.0.0.1", "127.0.0.2", "::1"]);
    assert!(
        lines
            .iter()
            .all(|r| r["dns"]["outcome"] == "resolved" && r["host"] == "two.test")
    );
    let out = reach(&[
        "--json",
        "-4",
        "--resolver",
        &resolver,
        &format!("two.test:{port}"),
    ]);
    assert_eq!(json_lines(&out).len(), 2);
}

#[test]
fn nxdomain_no_records_and_timeout_are_distinct_verdicts_with_exit_5() {
    let dns = server();
    let resolver = dns.addr.to_string();
    let cases = [
        (vec!["nosuch.test:443"], "nxdomain"),
        (vec!["-6", "v4only.test:443"], "no_records"),
        (vec!["--dns-timeout", "500ms", "slow.test:443"], "timeout"),
    ];
    for (args, outcome) in cases {
        let mut full = vec!["--json", "--resolver", &resolver];
        full.extend(args.iter().copied());
        let out = reach(&full);
        assert_eq!(out.status.code(), Some(5), "{args:?}");
        let r = &json_lines(&out)[0];
        assert_eq!(r["dns"]["outcome"], outcome, "{args:?}: {r}");
        assert_eq!(r["stopped"]["layer"], "dns");
        assert!(r["address"].is_null() && r["tcp"].is_null());
    }
}

#[test]
fn localhost_never_needs_a_resolver() {
    // A resolver that answers nothing: localhost must still resolve, locally.
    let dns = DnsServer::start(&[("localhost", Answer::Silent)]);
    let port = free_port();
    let out = reach(&[
        "--json",
        "-4",
        "--dns-timeout",
        "300ms",
        "--resolver",
        &dns.addr.to_string(),
        &format!("localhost:{port}"),
    ]);
    let r = &json_lines(&out)[0];
    assert_eq!(r["address"], "127.0.0.1");
    assert_eq!(r["tcp"]["state"], "closed");
}
