//! QUIC (`--quic`, `h3://`) against a real HTTP/3 server: Caddy 2.6 (Debian's serves HTTP/3 on
//! the UDP twin of its HTTPS port by default) with several SNI sites, a default for clients
//! without SNI (`default_sni`) and certificates on disk. The QUIC version, ALPN, chain and the
//! virtual-host verdicts come from the same code as over TCP; Caddy refuses a name it does
//! not serve with CONNECTION_CLOSE 0x150 (TLS alert 80), which is `refused`. Also: a closed UDP
//! port is `closed` with the kernel's ICMP, at once. Skips without caddy unless `CI=true`.

mod lab;

use std::process::Command;
use std::time::{Duration, Instant};

use reach::demo::pki::LeafSpec;
use serde_json::Value;

use crate::support::daemons::Daemon;
use crate::support::tls::root;
use crate::support::{TempDir, free_port, loopback, reach_json, require_binary};

fn by_sni<'a>(lines: &'a [Value], name: &str) -> &'a Value {
    lines
        .iter()
        .find(|l| l["tls"]["sni"] == name)
        .unwrap_or_else(|| panic!("no line for {name}: {lines:?}"))
}

/// Caddy serving `a.test` and `b.test` (and `default.test` to clients without SNI) over
/// h1, h2 and h3 on one port; returns the daemon, the CA file and the port.
fn caddy(dir: &TempDir) -> Option<(Daemon, String, u16)> {
    let binary = require_binary(&["/usr/bin/caddy"], "caddy")?;
    let ca = root("QUIC Root");
    let mut sites = String::new();
    for name in ["a.test", "b.test", "default.test"] {
        let leaf = ca.issue(&LeafSpec::server(&[name])).expect("leaf");
        let cert = dir.write(&format!("{name}.pem"), &leaf.chain_pem());
        let key = dir.write(&format!("{name}.key"), &leaf.key_pem());
        sites.push_str(&format!(
            "{name}:{{port}} {{\n  bind 127.0.0.1\n  tls {} {}\n  respond \"{name}\"\n}}\n",
            cert.display(),
            key.display()
        ));
    }
    let (https, http) = (free_port(), free_port());
    let caddyfile = format!(
        "{{\n  admin off\n  http_port {http}\n  https_port {https}\n  skip_install_trust\n  \
         default_sni default.test\n}}\n{}",
        sites.replace("{port}", &https.to_string())
    );
    let file = dir.write("Caddyfile", &caddyfile);
    let mut cmd = Command::new(binary);
    cmd.args(["run", "--adapter", "caddyfile", "--config"])
        .arg(&file)
        .env("HOME", dir.path())
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_CONFIG_HOME", dir.join("config"));
    let daemon = Daemon::start("caddy", cmd, dir, &[https]);
    let ca_path = dir.write("ca.pem", &ca.cert_pem());
    Some((daemon, ca_path.to_str().expect("utf-8").to_string(), https))
}

/// Caddy opens its UDP socket next to the TCP one it is waited for: until then a QUIC probe
/// meets a closed port. Waits (bounded) for a QUIC answer.
async fn wait_for_h3(ca: &str, target: &str) {
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        let (lines, _) = reach_json(&["--quic", "--ca-file", ca, "--sni", "a.test", target]).await;
        if lines.first().is_some_and(|l| l["quic"]["state"] == "open") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("caddy did not answer QUIC on {target}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caddy_over_quic_routes_its_names_and_refuses_others() {
    let dir = TempDir::new("caddy-quic");
    let Some((_caddy, ca, port)) = caddy(&dir) else {
        return;
    };
    let target = loopback(port).to_string();
    wait_for_h3(&ca, &target).await;

    let (lines, code) = reach_json(&[
        "--quic",
        "--ca-file",
        &ca,
        "--sni",
        "a.test",
        "--sni",
        "b.test",
        "--sni",
        "nosuch.test",
        &target,
    ])
    .await;
    assert_eq!(lines.len(), 3, "the IP × SNI matrix: {lines:?}");
    for name in ["a.test", "b.test"] {
        let line = by_sni(&lines, name);
        assert_eq!(line["quic"]["state"], "open", "{line}");
        assert_eq!(line["quic"]["version"], "1");
        assert!(line["tcp"].is_null());
        let tls = &line["tls"];
        assert_eq!(tls["transport"], "quic");
        assert_eq!(tls["version"], "TLSv1.3");
        assert_eq!(tls["alpn"], "h3");
        assert_eq!(tls["chain"][0]["subject"], format!("CN={name}"));
        assert_eq!(tls["verify"]["trusted"], true);
        assert_eq!(tls["verify"]["name_match"], true);
        assert_eq!(tls["vhost"], "matched");
        assert_eq!(line["reached"], "vhost");
    }
    let nosuch = by_sni(&lines, "nosuch.test");
    // The server answered QUIC, then refused the name: CONNECTION_CLOSE 0x150 = alert 80.
    assert_eq!(nosuch["quic"]["state"], "open", "{nosuch}");
    assert_eq!(nosuch["quic"]["close"]["code"], 0x150);
    assert_eq!(nosuch["quic"]["close"]["alert"], "internal_error");
    assert_eq!(nosuch["tls"]["error"]["alert"], "internal_error");
    assert_eq!(nosuch["tls"]["vhost"], "refused");
    assert_eq!(
        (
            nosuch["stopped"]["layer"].as_str(),
            nosuch["stopped"]["reason"].as_str()
        ),
        (Some("vhost"), Some("refused"))
    );
    let refs = nosuch["tls"]["references"].as_array().expect("references");
    let no_sni = refs.iter().find(|r| r["kind"] == "no_sni").expect("no SNI");
    assert_eq!(
        no_sni["cert"]["subject"], "CN=default.test",
        "default_sni over QUIC too"
    );
    assert_eq!(code, 4, "a refused name exits 4, as over TCP");
    let mut omitted = std::collections::BTreeSet::new();
    for line in &lines {
        crate::json_contract::check(line, &mut omitted);
    }

    // Without SNI: the default site's certificate, judged against the address.
    let (lines, code) = reach_json(&["--quic", "--ca-file", &ca, "--no-sni", &target]).await;
    let line = &lines[0];
    assert_eq!(
        line["tls"]["chain"][0]["subject"], "CN=default.test",
        "{line}"
    );
    assert!(line["tls"]["vhost"].is_null(), "no SNI, no vhost verdict");
    assert_eq!(code, 4, "the default certificate does not cover 127.0.0.1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_h3_target_is_quic_and_also_tcp_compares_the_transports() {
    let dir = TempDir::new("caddy-h3");
    let Some((_caddy, ca, port)) = caddy(&dir) else {
        return;
    };
    let target = loopback(port).to_string();
    wait_for_h3(&ca, &target).await;
    let (lines, code) = reach_json(&[
        "--ca-file",
        &ca,
        "--quic",
        "--also-tcp",
        "--sni",
        "a.test",
        &target,
    ])
    .await;
    assert_eq!(code, 0, "{lines:?}");
    let transports: Vec<&str> = lines
        .iter()
        .filter_map(|l| l["tls"]["transport"].as_str())
        .collect();
    assert_eq!(transports, ["tcp", "quic"], "{lines:?}");
    assert_eq!(lines[0]["tcp"]["state"], "open");
    assert_eq!(lines[1]["quic"]["state"], "open");
    assert_eq!(
        lines[0]["tls"]["chain"][0]["sha256"], lines[1]["tls"]["chain"][0]["sha256"],
        "Caddy serves the same certificate over both"
    );
    // An h3:// URL is QUIC without --quic (an IP host: nothing to resolve).
    let url = format!("h3://127.0.0.1:{port}/");
    let (lines, code) = reach_json(&["--ca-file", &ca, "--sni", "b.test", &url]).await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["quic"]["state"], "open", "{lines:?}");
    assert_eq!(lines[0]["tls"]["vhost"], "matched");
    assert_eq!(code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_udp_port_is_closed_at_once_with_the_kernels_icmp() {
    if crate::support::wine_cannot(
        "Wine 8 refuses IP_RECVECN, which quinn-udp sets on every socket it wraps",
    ) {
        return;
    }
    let closed = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let started = Instant::now();
    let (lines, code) = reach_json(&["--quic", "-t", "3s", &loopback(port).to_string()]).await;
    let line = &lines[0];
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "no wait for the deadline"
    );
    assert_eq!(line["quic"]["state"], "closed", "{line}");
    if cfg!(target_os = "linux") {
        assert_eq!(line["quic"]["reason"], "icmp_port_unreachable");
        assert_eq!(line["quic"]["icmp_from"], "127.0.0.1");
    }
    assert_eq!((line["stopped"]["layer"].as_str(), code), (Some("quic"), 1));
    crate::json_contract::check(line, &mut Default::default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_udp_port_is_filtered_within_one_deadline() {
    if crate::support::wine_cannot(
        "Wine 8 refuses IP_RECVECN, which quinn-udp sets on every socket it wraps",
    ) {
        return;
    }
    // Bound and never read: no ICMP comes back, no QUIC either.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let target = silent.local_addr().expect("addr").to_string();
    let started = Instant::now();
    let (lines, code) = reach_json(&["--quic", "-t", "700ms", &target]).await;
    let took = started.elapsed();
    let line = &lines[0];
    assert_eq!(line["quic"]["state"], "filtered", "{line}");
    assert_eq!(line["quic"]["reason"], "timeout");
    assert!(
        took < Duration::from_secs(3),
        "one deadline, not the TLS one too: {took:?}"
    );
    assert_eq!(code, 2, "silence exits 2, as on TCP");
    crate::json_contract::check(line, &mut Default::default());
}
