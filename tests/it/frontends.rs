//! The virtual-host verdict behind real front ends that treat unknown names their own way:
//! HAProxy in TCP mode routing by `req.ssl_sni` (no-SNI clients and unknown names to different
//! backends; no default backend at all), Caddy (alert `internal_error` for a name it does not
//! serve), HAProxy `strict-sni` and hitch `sni-nomatch-abort` (alert `unrecognized_name`),
//! HAProxy `tcp-request content reject` and `silent-drop` (closed or silent: `not_routed`), and
//! a wildcard default that covers every name (`--vhost-reference always`). Each
//! through the binary, against in-process TLS backends or the daemons' own TLS. Skips without
//! haproxy, hitch or caddy unless `CI=true`.

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

/// `a.pem` in `dir`: the chain and key of `credential` in one file, as HAProxy's `crt` and
/// hitch's `pem-file` take them.
fn combined_pem(dir: &TempDir, credential: &Credential) -> std::path::PathBuf {
    dir.write(
        "a.pem",
        &format!("{}{}", credential.chain_pem(), credential.key_pem()),
    )
}

/// What `--sni a.test --sni nope.test` says about `nope.test` at `target`, with the exit code,
/// after checking that `a.test` itself was routed.
async fn unknown_name(ca_path: &str, target: &str) -> (Value, i32) {
    let args = [
        "--ca-file",
        ca_path,
        "--handshake-timeout",
        "1s",
        "--sni",
        "a.test",
        "--sni",
        "nope.test",
        target,
    ];
    let (lines, code) = reach_json(&args).await;
    assert_eq!(
        by_sni(&lines, "a.test")["tls"]["vhost"],
        "matched",
        "{lines:?}"
    );
    (by_sni(&lines, "nope.test").clone(), code)
}

/// The unknown name stopped at the virtual host with `word`, the failure still visible.
fn assert_stopped_at_vhost(json: &Value, word: &str, tls_error: &str) {
    assert_eq!(json["tls"]["vhost"], word, "{json}");
    assert_eq!(json["stopped"]["layer"], "vhost", "{json}");
    assert_eq!(json["stopped"]["reason"], word, "{json}");
    assert_eq!(json["tls"]["error"]["kind"], tls_error, "{json}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn haproxy_strict_sni_answers_an_unknown_name_with_unrecognized_name() {
    let ca = root("Strict Root");
    let a = ca.issue(&LeafSpec::server(&["a.test"])).expect("leaf");
    let dir = TempDir::new("haproxy-strict-sni");
    let pem = combined_pem(&dir, &a);
    let port = free_port();
    // TLS terminated by HAProxy itself, in HTTP mode: `strict-sni` refuses any name its
    // certificates do not cover, and clients without SNI.
    let frontends = format!(
        "frontend fe\n  mode http\n  bind 127.0.0.1:{port} ssl crt {} strict-sni\n  \
         http-request return status 200\n",
        pem.display()
    );
    let Some(_haproxy) = haproxy(&dir, &frontends, &[port]) else {
        return;
    };
    let ca_path = ca_file(&dir, &ca);
    let target = loopback(port).to_string();
    let (nope, code) = unknown_name(&ca_path, &target).await;
    assert_stopped_at_vhost(&nope, "unrecognized_name", "alert");
    assert_eq!(nope["tls"]["error"]["alert"], "unrecognized_name", "{nope}");
    assert_eq!(code, 4);
    // The alert names the refusal by itself: no other name is needed to tell it.
    let (json, code) = probe_json(&["--ca-file", &ca_path, "--sni", "nope.test", &target]).await;
    assert_eq!(
        (json["tls"]["vhost"].as_str(), code),
        (Some("unrecognized_name"), 4)
    );
    // In the summary's matrix the refused name's row says it got no certificate, in the
    // certificate's column.
    let out = crate::support::reach_async(&[
        "--ca-file",
        &ca_path,
        "--sni",
        "a.test",
        "--sni",
        "nope.test",
        &target,
    ])
    .await;
    let text = String::from_utf8_lossy(&out.stdout);
    let row = text
        .lines()
        .find(|l| l.trim_start().starts_with(&target) && l.ends_with("sni=nope.test"))
        .unwrap_or_else(|| panic!("no matrix row for nope.test: {text}"));
    assert!(
        row.contains(" unrecognized_name (no certificate)  sni=nope.test"),
        "{row}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hitch_with_sni_nomatch_abort_answers_an_unknown_name_with_unrecognized_name() {
    let Some(hitch) = require_binary(&["/usr/sbin/hitch"], "hitch") else {
        return;
    };
    let ca = root("Hitch Root");
    let a = ca.issue(&LeafSpec::server(&["a.test"])).expect("leaf");
    let dir = TempDir::new("hitch");
    let pem = combined_pem(&dir, &a);
    let (port, backend_port) = (free_port(), free_port());
    let mut config = format!(
        "frontend = \"[127.0.0.1]:{port}\"\nbackend = \"[127.0.0.1]:{backend_port}\"\n\
         pem-file = \"{}\"\nsni-nomatch-abort = on\ndaemon = off\nworkers = 1\n",
        pem.display()
    );
    // As root, hitch wants a user to drop to after reading its keys.
    if crate::support::is_root() {
        config.push_str("user = \"nobody\"\n");
    }
    let path = dir.write("hitch.conf", &config);
    let mut cmd = Command::new(hitch);
    cmd.arg(format!("--config={}", path.display()));
    let _hitch = Daemon::start("hitch", cmd, &dir, &[port]);
    let ca_path = ca_file(&dir, &ca);
    let (nope, code) = unknown_name(&ca_path, &loopback(port).to_string()).await;
    assert_stopped_at_vhost(&nope, "unrecognized_name", "alert");
    assert_eq!(code, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn haproxy_rejecting_or_silently_dropping_unknown_names_is_not_routed() {
    let ca = root("Router Root");
    let a = ca.issue(&LeafSpec::server(&["a.test"])).expect("leaf");
    let dir = TempDir::new("haproxy-drop");
    let pem = combined_pem(&dir, &a);
    let (reject, silent, tls) = (free_port(), free_port(), free_port());
    // Two TCP-mode SNI routers in front of one TLS terminator serving a.test: one closes the
    // connection of any other name (`reject`), one drops it without a packet (`silent-drop`).
    let router = |name: &str, port: u16, action: &str| {
        format!(
            "frontend {name}\n  bind 127.0.0.1:{port}\n  tcp-request inspect-delay 2s\n  \
             tcp-request content {action} if {{ req.ssl_hello_type 1 }} \
             !{{ req.ssl_sni -i a.test }}\n  \
             tcp-request content accept if {{ req.ssl_hello_type 1 }}\n  default_backend be_a\n"
        )
    };
    let frontends = format!(
        "{}{}backend be_a\n  server a 127.0.0.1:{tls}\nfrontend tls_a\n  mode http\n  \
         bind 127.0.0.1:{tls} ssl crt {}\n  http-request return status 200\n",
        router("fe_reject", reject, "reject"),
        router("fe_silent", silent, "silent-drop"),
        pem.display()
    );
    let Some(_haproxy) = haproxy(&dir, &frontends, &[reject, silent, tls]) else {
        return;
    };
    let ca_path = ca_file(&dir, &ca);
    let (nope, code) = unknown_name(&ca_path, &loopback(reject).to_string()).await;
    assert_stopped_at_vhost(&nope, "not_routed", "closed");
    assert_eq!(code, 4);
    let (nope, code) = unknown_name(&ca_path, &loopback(silent).to_string()).await;
    assert_stopped_at_vhost(&nope, "not_routed", "timeout");
    assert_eq!(code, 4);
}
