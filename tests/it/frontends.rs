//! The virtual-host verdict behind real front ends that treat unknown names their own way:
//! HAProxy in TCP mode routing by `req.ssl_sni` (no-SNI clients and unknown names to different
//! backends; no default backend at all), Caddy (alert `internal_error` for a name it does not
//! serve), and a wildcard default that covers every name (`--vhost-reference always`). Each
//! through the binary, against in-process TLS backends or the daemons' own TLS. Skips without
//! haproxy or caddy unless `CI=true`.

use std::net::SocketAddr;
use std::process::Command;

use reach::demo::pki::{Credential, DemoCa, LeafSpec};
use reach::demo::tls_server::ServerHandle;
use serde_json::Value;

use crate::support::daemons::Daemon;
use crate::support::tls::*;
use crate::support::{TempDir, free_port, loopback, reach_json, require_binary};

/// One probe's JSON line and the exit code.
async fn probe_json(args: &[&str]) -> (Value, i32) {
    let (mut lines, code) = reach_json(args).await;
    assert!(!lines.is_empty(), "no output for {args:?}");
    (lines.swap_remove(0), code)
}

fn by_sni<'a>(lines: &'a [Value], name: &str) -> &'a Value {
    lines
        .iter()
        .find(|l| l["tls"]["sni"] == name)
        .unwrap_or_else(|| panic!("no line for {name}: {lines:?}"))
}

/// A TLS backend serving `credential` to every client.
async fn backend(credential: &Credential) -> ServerHandle {
    server(routes(&[], Some(credential))).await
}

fn haproxy(dir: &TempDir, frontends: &str, ports: &[u16]) -> Option<Daemon> {
    let binary = require_binary(&["/usr/sbin/haproxy"], "haproxy")?;
    let config = format!(
        "global\n  maxconn 256\ndefaults\n  mode tcp\n  timeout connect 2s\n  \
         timeout client 5s\n  timeout server 5s\n{frontends}"
    );
    let path = dir.write("haproxy.cfg", &config);
    let mut cmd = Command::new(binary);
    cmd.args(["-db", "-f"]).arg(path);
    Some(Daemon::start("haproxy", cmd, dir, ports))
}

fn ca_file(dir: &TempDir, ca: &DemoCa) -> String {
    dir.write("ca.pem", &ca.cert_pem())
        .to_str()
        .expect("utf-8 path")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn haproxy_sends_unknown_names_to_a_catch_all_other_than_the_no_sni_backend() {
    let ca = root("Front End Root");
    let issue = |name: &str| ca.issue(&LeafSpec::server(&[name])).expect("leaf");
    let (a, no_sni, catch_all) = (issue("a.test"), issue("nosni.test"), issue("catchall.test"));
    let (ba, bn, bc) = (
        backend(&a).await,
        backend(&no_sni).await,
        backend(&catch_all).await,
    );
    let dir = TempDir::new("haproxy");
    let port = free_port();
    let frontends = format!(
        "frontend fe\n  bind 127.0.0.1:{port}\n  tcp-request inspect-delay 2s\n  \
         tcp-request content accept if {{ req.ssl_hello_type 1 }}\n  \
         use_backend be_a if {{ req.ssl_sni -i a.test }}\n  \
         use_backend be_nosni if !{{ req.ssl_sni -m found }}\n  default_backend be_catchall\n\
         backend be_a\n  server a {}\nbackend be_nosni\n  server n {}\n\
         backend be_catchall\n  server c {}\n",
        ba.addr(),
        bn.addr(),
        bc.addr()
    );
    let Some(_haproxy) = haproxy(&dir, &frontends, &[port]) else {
        return;
    };
    let ca_path = ca_file(&dir, &ca);
    let target = loopback(port).to_string();

    let (json, code) = probe_json(&["--ca-file", &ca_path, "--sni", "nope.test", &target]).await;
    assert_eq!(json["tls"]["vhost"], "default_fallback", "{json}");
    assert_eq!(json["stopped"]["reason"], "default_fallback");
    assert_eq!(code, 4);
    let refs = json["tls"]["references"].as_array().expect("references");
    let unknown = refs
        .iter()
        .find(|r| r["kind"] == "unknown_name")
        .expect("unknown-name reference");
    assert_eq!(unknown["same_as_served"], true, "{json}");
    assert!(unknown["sni"].as_str().unwrap().ends_with(".invalid"));
    let no_sni_ref = refs.iter().find(|r| r["kind"] == "no_sni").expect("no SNI");
    assert_eq!(no_sni_ref["same_as_served"], false);
    assert_eq!(no_sni_ref["cert"]["subject"], "CN=nosni.test");

    let (json, code) = probe_json(&["--ca-file", &ca_path, "--sni", "a.test", &target]).await;
    assert_eq!((json["tls"]["vhost"].as_str(), code), (Some("matched"), 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn haproxy_without_a_default_backend_drops_unknown_names_not_routed() {
    let ca = root("Front End Root");
    let a = ca.issue(&LeafSpec::server(&["a.test"])).expect("leaf");
    let ba = backend(&a).await;
    let dir = TempDir::new("haproxy-strict");
    let port = free_port();
    let frontends = format!(
        "frontend fe\n  bind 127.0.0.1:{port}\n  tcp-request inspect-delay 2s\n  \
         tcp-request content accept if {{ req.ssl_hello_type 1 }}\n  \
         use_backend be_a if {{ req.ssl_sni -i a.test }}\nbackend be_a\n  server a {}\n",
        ba.addr()
    );
    let Some(_haproxy) = haproxy(&dir, &frontends, &[port]) else {
        return;
    };
    let ca_path = ca_file(&dir, &ca);
    let target = loopback(port).to_string();
    let (lines, code) = reach_json(&[
        "--ca-file",
        &ca_path,
        "--sni",
        "a.test",
        "--sni",
        "nope.test",
        &target,
    ])
    .await;
    let nope = by_sni(&lines, "nope.test");
    assert_eq!(nope["tls"]["vhost"], "not_routed", "{nope}");
    assert_eq!(nope["stopped"]["layer"], "vhost");
    assert!(
        nope["tls"]["error"]["kind"].is_string(),
        "the close stays visible"
    );
    assert_eq!(by_sni(&lines, "a.test")["tls"]["vhost"], "matched");
    assert_eq!(code, 4);

    // Alone, the name cannot be compared with another: the failure stays a TLS failure.
    let (json, code) = probe_json(&["--ca-file", &ca_path, "--sni", "nope.test", &target]).await;
    assert_eq!(json["stopped"]["layer"], "tls", "{json}");
    assert_eq!(code, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caddy_refuses_a_name_it_does_not_serve_with_an_alert() {
    let Some(caddy) = require_binary(&["/usr/bin/caddy"], "caddy") else {
        return;
    };
    let ca = root("Caddy Root");
    let a = ca.issue(&LeafSpec::server(&["a.test"])).expect("leaf");
    let dir = TempDir::new("caddy");
    let cert = dir.write("a.pem", &a.chain_pem());
    let key = dir.write("a.key", &a.key_pem());
    let (https, http) = (free_port(), free_port());
    let caddyfile = format!(
        "{{\n  admin off\n  http_port {http}\n  https_port {https}\n  skip_install_trust\n  \
         servers {{\n    protocols h1 h2\n  }}\n}}\n\
         a.test:{https} {{\n  bind 127.0.0.1\n  tls {} {}\n  respond \"a\"\n}}\n",
        cert.display(),
        key.display()
    );
    let file = dir.write("Caddyfile", &caddyfile);
    let mut cmd = Command::new(caddy);
    cmd.args(["run", "--adapter", "caddyfile", "--config"])
        .arg(&file)
        .env("HOME", dir.path())
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_CONFIG_HOME", dir.join("config"));
    let _caddy = Daemon::start("caddy", cmd, &dir, &[https]);
    let ca_path = ca_file(&dir, &ca);
    let target = loopback(https).to_string();
    let (lines, code) = reach_json(&[
        "--ca-file",
        &ca_path,
        "--sni",
        "a.test",
        "--sni",
        "nope.test",
        &target,
    ])
    .await;
    let nope = by_sni(&lines, "nope.test");
    assert_eq!(nope["tls"]["vhost"], "refused", "{nope}");
    assert_eq!(nope["tls"]["error"]["alert"], "internal_error");
    assert_eq!(
        (
            nope["stopped"]["layer"].as_str(),
            nope["stopped"]["reason"].as_str()
        ),
        (Some("vhost"), Some("refused"))
    );
    assert_eq!(by_sni(&lines, "a.test")["tls"]["vhost"], "matched");
    assert_eq!(code, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wildcard_default_covers_the_name_matched_default_when_asked() {
    let ca = root("Wildcard Root");
    let wildcard = ca
        .issue(&LeafSpec::server(&["*.example.test"]))
        .expect("leaf");
    let srv: ServerHandle = backend(&wildcard).await;
    let dir = TempDir::new("wildcard");
    let ca_path = ca_file(&dir, &ca);
    let target: SocketAddr = srv.addr();
    let target = target.to_string();
    let (json, code) =
        probe_json(&["--ca-file", &ca_path, "--sni", "a.example.test", &target]).await;
    assert_eq!((json["tls"]["vhost"].as_str(), code), (Some("matched"), 0));
    assert_eq!(
        json["tls"]["references"],
        serde_json::json!([]),
        "no extra handshake"
    );
    let (json, code) = probe_json(&[
        "--ca-file",
        &ca_path,
        "--vhost-reference",
        "always",
        "--sni",
        "A.Example.Test",
        &target,
    ])
    .await;
    assert_eq!(json["tls"]["vhost"], "matched_default", "{json}");
    assert_eq!(
        json["tls"]["sni"], "A.Example.Test",
        "the SNI goes out as given"
    );
    assert_eq!(json["reached"], "vhost");
    assert_eq!(code, 0);
}
