//! Certificates and handshakes at the edges, through the binary against real servers: an
//! RSA-1024 leaf and a SHA-1-signed leaf (`openssl s_server`), a certificate message over
//! 64 KiB, a server that resets right after its ServerHello, a leaf sent without its
//! intermediate, and a chain sent out of order. Needs the `openssl` CLI; skips without it
//! unless `CI=true`.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use reach::demo::pki::{Credential, DemoCa, KeyKind, LeafSpec};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::daemons::{Daemon, run_in};
use crate::support::tls::*;
use crate::support::{TempDir, free_port, loopback, reach_json, require_binary};

/// One probe's JSON line and the exit code.
async fn probe_json(args: &[&str]) -> (Value, i32) {
    let (mut lines, code) = reach_json(args).await;
    assert!(!lines.is_empty(), "no output for {args:?}");
    (lines.swap_remove(0), code)
}

fn words(json: &Value, path: &str) -> Vec<String> {
    json["tls"]["verify"][path]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|w| w.as_str().unwrap_or("?").to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn problems(json: &Value) -> Vec<String> {
    json["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .map(|p| {
            format!(
                "{} {}",
                p["layer"].as_str().unwrap(),
                p["reason"].as_str().unwrap()
            )
        })
        .collect()
}

/// A leaf for `name` made by the openssl CLI (`key_args` choose the key, `sign_args` the
/// digest), signed by `ca`; PEM paths (certificate, key).
fn openssl_leaf(
    dir: &TempDir,
    ca: &DemoCa,
    name: &str,
    key_args: &[&str],
    sign_args: &[&str],
    extra_sans: usize,
) -> Option<(String, String)> {
    let openssl = require_binary(&["openssl"], "openssl")?;
    let ca_cert = dir.write("ca.pem", &ca.cert_pem());
    let ca_key = dir.write("ca.key", &ca.key_pem());
    let mut sans = format!("subjectAltName=DNS:{name}");
    for i in 0..extra_sans {
        sans.push_str(&format!(",DNS:filler-{i:05}.{name}"));
    }
    let ext = dir.write("ext.cnf", &format!("{sans}\n"));
    let mut req = Command::new(&openssl);
    req.args(["req", "-new", "-nodes", "-subj", &format!("/CN={name}")])
        .args(key_args)
        .args(["-keyout", "leaf.key", "-out", "leaf.csr"]);
    run_in(dir, req);
    let mut sign = Command::new(&openssl);
    sign.args([
        "x509", "-req", "-in", "leaf.csr", "-days", "30", "-out", "leaf.pem",
    ])
    .args(sign_args)
    .arg("-CA")
    .arg(&ca_cert)
    .arg("-CAkey")
    .arg(&ca_key)
    .arg("-extfile")
    .arg(&ext);
    run_in(dir, sign);
    let path = |f: &str| dir.join(f).to_str().expect("utf-8").to_string();
    Some((path("leaf.pem"), path("leaf.key")))
}

/// `openssl s_server` with a certificate and key file (and more certificates to send after
/// it), at low security level so that it serves weak certificates at all.
fn s_server(
    dir: &TempDir,
    cert: &str,
    key: &str,
    chain: Option<&str>,
) -> Option<(Daemon, SocketAddr)> {
    let openssl = require_binary(&["openssl"], "openssl")?;
    let port = free_port();
    let accept = loopback(port).to_string();
    let mut cmd = Command::new(openssl);
    cmd.args([
        "s_server",
        "-accept",
        &accept,
        "-cert",
        cert,
        "-key",
        key,
        "-quiet",
        "-cipher",
        "DEFAULT@SECLEVEL=0",
    ]);
    if let Some(chain) = chain {
        cmd.args(["-cert_chain", chain]);
    }
    Some((Daemon::start("s_server", cmd, dir, &[port]), loopback(port)))
}

fn ca_path(dir: &TempDir, ca: &DemoCa) -> String {
    dir.write("trust.pem", &ca.cert_pem())
        .to_str()
        .expect("utf-8")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rsa_1024_leaf_is_a_weak_key_not_a_bad_signature() {
    let ca = root("Edge Root");
    let dir = TempDir::new("weak-key");
    let Some((cert, key)) = openssl_leaf(
        &dir,
        &ca,
        "weak.test",
        &["-newkey", "rsa:1024"],
        &["-sha256"],
        0,
    ) else {
        return;
    };
    let Some((_srv, addr)) = s_server(&dir, &cert, &key, None) else {
        return;
    };
    let trust = ca_path(&dir, &ca);
    let target = addr.to_string();
    let (json, code) =
        probe_json(&["--ca-file", &trust, "--tls", "--sni", "weak.test", &target]).await;
    assert!(
        json["tls"]["error"].is_null(),
        "the handshake completed: {json}"
    );
    assert_eq!(json["tls"]["verify"]["trusted"], false);
    assert_eq!(words(&json, "errors"), ["weak_key"], "{json}");
    assert_eq!(
        (
            json["stopped"]["layer"].as_str(),
            json["stopped"]["reason"].as_str()
        ),
        (Some("certificate"), Some("weak_key"))
    );
    let note = json["tls"]["verify"]["notes"][0].as_str().unwrap();
    assert!(note.contains("1024-bit RSA key"), "{note}");
    assert_eq!(code, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sha1_signed_leaf_is_a_weak_signature_algorithm() {
    let ca = DemoCa::root("Edge RSA Root", KeyKind::Rsa2048).expect("root");
    let dir = TempDir::new("sha1");
    let Some((cert, key)) = openssl_leaf(
        &dir,
        &ca,
        "sha1.test",
        &["-newkey", "rsa:2048"],
        &["-sha1"],
        0,
    ) else {
        return;
    };
    let Some((_srv, addr)) = s_server(&dir, &cert, &key, None) else {
        return;
    };
    let trust = ca_path(&dir, &ca);
    let target = addr.to_string();
    let (json, code) =
        probe_json(&["--ca-file", &trust, "--tls", "--sni", "sha1.test", &target]).await;
    assert_eq!(
        words(&json, "errors"),
        ["weak_signature_algorithm"],
        "{json}"
    );
    assert_eq!(json["tls"]["verify"]["trusted"], false);
    assert_eq!(json["stopped"]["reason"], "weak_signature_algorithm");
    assert_eq!(code, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_message_over_64_kib_is_named_and_still_judged() {
    let ca = root("Edge Root");
    let dir = TempDir::new("oversized");
    // 1,500 extra names: a leaf of about 35 KB, sent with two copies of itself after it, so
    // the certificate message is over 100 KB while each certificate stays verifiable.
    let Some((cert, key)) = openssl_leaf(
        &dir,
        &ca,
        "big.test",
        &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
        &["-sha256"],
        1_500,
    ) else {
        return;
    };
    let pem = std::fs::read_to_string(&cert).expect("leaf PEM");
    let chain = dir.write("chain.pem", &pem.repeat(2));
    let chain = chain.to_str().expect("utf-8");
    let Some((_srv, addr)) = s_server(&dir, &cert, &key, Some(chain)) else {
        return;
    };
    let trust = ca_path(&dir, &ca);
    let target = addr.to_string();
    let (json, code) =
        probe_json(&["--ca-file", &trust, "--tls", "--sni", "big.test", &target]).await;
    assert_eq!(json["tls"]["error"]["kind"], "oversized", "{json}");
    let detail = json["tls"]["error"]["detail"].as_str().unwrap();
    assert!(
        detail.contains("certificate message is") && detail.contains("bytes, beyond the 64 KiB"),
        "{detail}"
    );
    assert_eq!(
        json["tls"]["chain"][0]["subject"], "CN=big.test",
        "chain read anyway"
    );
    assert_eq!(json["tls"]["verify"]["trusted"], true, "{json}");
    assert_eq!(json["stopped"]["reason"], "oversized");
    assert_eq!(code, 3);
}

/// Forwards a client to `backend`, but passes only the server's first record back and then
/// resets the client: a real TLS 1.3 ServerHello followed by a reset.
async fn reset_after_server_hello(backend: SocketAddr) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(server) = TcpStream::connect(backend).await else {
                    return;
                };
                // Linger 0: when the last half is dropped, the client gets a RST.
                let _ = socket2::SockRef::from(&client).set_linger(Some(Duration::ZERO));
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let upstream = tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut cr, &mut sw).await;
                });
                let mut header = [0u8; 5];
                if sr.read_exact(&mut header).await.is_ok() {
                    let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
                    let mut body = vec![0u8; len];
                    if sr.read_exact(&mut body).await.is_ok() {
                        let _ = cw.write_all(&header).await;
                        let _ = cw.write_all(&body).await;
                    }
                }
                upstream.abort();
                let _ = upstream.await;
                drop(cw);
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_after_the_server_hello_is_a_reset_not_a_legacy_server() {
    let ca = root("Edge Root");
    let leaf = ca.issue(&LeafSpec::server(&["r.test"])).expect("leaf");
    let srv = server(routes(&[], Some(&leaf))).await;
    let proxy = reset_after_server_hello(srv.addr()).await;
    let dir = TempDir::new("reset-hello");
    let trust = ca_path(&dir, &ca);
    let target = proxy.to_string();
    let (json, code) =
        probe_json(&["--ca-file", &trust, "--tls", "--sni", "r.test", &target]).await;
    let kind = json["tls"]["error"]["kind"].as_str().unwrap();
    assert!(kind == "reset" || kind == "closed", "{json}");
    assert!(
        json["tls"]["legacy"].is_null(),
        "not a legacy server: {json}"
    );
    assert_eq!(code, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leaf_without_its_intermediate_says_so() {
    let ca = root("Edge Root");
    let inter = ca
        .intermediate("Edge Intermediate", KeyKind::EcdsaP256)
        .expect("inter");
    let leaf: Credential = inter
        .issue(&LeafSpec::server(&["alone.test"]))
        .expect("leaf")
        .leaf_only();
    let srv = server(routes(&[], Some(&leaf))).await;
    let dir = TempDir::new("leaf-only");
    let trust = ca_path(&dir, &ca);
    let target = srv.addr().to_string();
    let (json, code) = probe_json(&["--ca-file", &trust, "--sni", "alone.test", &target]).await;
    assert_eq!(json["stopped"]["reason"], "unknown_issuer", "{json}");
    let note = json["tls"]["verify"]["notes"][0].as_str().unwrap();
    assert!(
        note.contains("sent no intermediate") && note.contains("--ca-file"),
        "{note}"
    );
    assert_eq!(code, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_out_of_order_is_said_but_still_trusted() {
    let ca = root("Edge Root");
    let inter = ca
        .intermediate("Edge Intermediate", KeyKind::EcdsaP256)
        .expect("inter");
    let mut leaf = inter
        .issue(&LeafSpec::server(&["order.test"]))
        .expect("leaf");
    // leaf, root, intermediate: the intermediate should come right after the leaf.
    leaf.chain.insert(1, ca.cert().clone());
    let srv = server(routes(&[], Some(&leaf))).await;
    let dir = TempDir::new("order");
    let trust = ca_path(&dir, &ca);
    let target = srv.addr().to_string();
    let (json, code) = probe_json(&["--ca-file", &trust, "--sni", "order.test", &target]).await;
    assert_eq!(problems(&json), ["certificate chain_order"], "{json}");
    assert!(json["stopped"].is_null(), "a notice, not a stop: {json}");
    assert_eq!(json["tls"]["verify"]["trusted"], true);
    assert_eq!(code, 0);
}
