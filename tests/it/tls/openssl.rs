//! Against real `openssl s_server` processes on loopback: a TLS 1.0-only server, a TLS 1.2
//! server with only an RSA-key-exchange CBC suite, a P-521-only server (all reported as
//! `legacy` from their plaintext messages), and client-certificate-required mode.
//! Needs the `openssl` CLI (Debian package `openssl`); skips without it unless `CI=true`.

use crate::support::words::*;
use std::net::SocketAddr;
use std::process::Command;

use reach::demo::pki::{Credential, KeyKind, LeafSpec};
use reach::probe::tls::TlsRequest;

use crate::support::daemons::{Daemon, run_in};
use crate::support::tls::*;
use crate::support::{TempDir, free_port, loopback, require_binary};

const OPENSSL: &str = "openssl";

/// Starts `openssl s_server` with `cred` plus `extra` arguments; `None` (after the skip
/// policy) when openssl is not installed.
fn s_server(cred: &Credential, extra: &[&str], dir: &TempDir) -> Option<(Daemon, SocketAddr)> {
    let openssl = require_binary(&[OPENSSL], "openssl")?;
    let cert = dir.write("server.pem", &cred.chain_pem());
    let key = dir.write("server.key", &cred.key_pem());
    let port = free_port();
    let accept = loopback(port).to_string();
    let mut args = vec![
        "s_server",
        "-accept",
        &accept,
        "-cert",
        cert.to_str().expect("utf-8 path"),
        "-key",
        key.to_str().expect("utf-8 path"),
        "-quiet",
    ];
    args.extend_from_slice(extra);
    let mut cmd = Command::new(openssl);
    cmd.args(&args);
    Some((Daemon::start("s_server", cmd, dir, &[port]), loopback(port)))
}

fn rsa_leaf(ca: &reach::demo::pki::DemoCa, name: &str) -> Credential {
    ca.issue(&LeafSpec {
        key: KeyKind::Rsa2048,
        ..LeafSpec::server(&[name])
    })
    .expect("leaf")
}

/// One SNI probe without the vhost follow-up (s_server serves one connection at a time).
fn request(name: &str) -> TlsRequest {
    TlsRequest {
        want_vhost: false,
        ..sni(name)
    }
}

#[tokio::test]
async fn tls10_only_server_is_reported_as_legacy() {
    let ca = root("OpenSSL Root");
    let leaf = rsa_leaf(&ca, "legacy.test");
    let dir = TempDir::new("s_server-tls1");
    let Some((_srv, addr)) = s_server(&leaf, &["-tls1", "-cipher", "DEFAULT@SECLEVEL=0"], &dir)
    else {
        return;
    };
    let (ctx, _d) = context(&[&ca], |_| {});
    let report = probe(addr, &request("legacy.test"), &ctx).await;
    let error = report.error.as_ref().expect("no modern handshake");
    assert_eq!(word(&error.kind), "legacy_version", "{error:?}");
    assert!(
        error
            .detail
            .starts_with("legacy TLS only: handshake not completed")
    );
    let legacy = report.legacy.as_ref().expect("legacy report");
    assert_eq!(legacy.version, "TLSv1.0");
    assert!(legacy.cipher.contains("_CBC_SHA"), "{}", legacy.cipher);
    assert_eq!(report.version.as_deref(), Some("TLSv1.0"));
    assert_eq!(report.chain.len(), 1);
    assert_eq!(
        report.chain[0].sha256,
        leaf.leaf_sha256(),
        "certificate from the plaintext message"
    );
    let verify = report.verify.as_ref().expect("checked anyway");
    assert!(verify.trusted && verify.name_match);
    assert!(report.error.is_some() && !certificate_problem(&report));
}

#[tokio::test]
async fn rsa_key_exchange_only_server_is_tls12_with_an_unsupported_suite() {
    let ca = root("OpenSSL Root");
    let leaf = rsa_leaf(&ca, "cbc.test");
    let dir = TempDir::new("s_server-cbc");
    let args = ["-tls1_2", "-cipher", "AES128-SHA"];
    let Some((_srv, addr)) = s_server(&leaf, &args, &dir) else {
        return;
    };
    let (ctx, _d) = context(&[&ca], |_| {});
    let report = probe(addr, &request("cbc.test"), &ctx).await;
    let error = report.error.as_ref().expect("no common suite");
    assert_eq!(word(&error.kind), "unsupported_suite", "{error:?}");
    assert_eq!(
        error.alert.map(|a| a.name()).as_deref(),
        Some("handshake_failure")
    );
    let legacy = report.legacy.as_ref().expect("legacy report");
    assert_eq!(legacy.version, "TLSv1.2");
    assert_eq!(legacy.cipher, "TLS_RSA_WITH_AES_128_CBC_SHA");
    assert_eq!(report.chain[0].sha256, leaf.leaf_sha256());
}

#[tokio::test]
async fn p521_only_server_is_an_unsupported_suite_with_its_group() {
    let ca = root("OpenSSL Root");
    let leaf = rsa_leaf(&ca, "p521.test");
    let dir = TempDir::new("s_server-p521");
    let args = [
        "-tls1_2",
        "-groups",
        "P-521",
        "-cipher",
        "ECDHE-RSA-AES128-GCM-SHA256",
    ];
    let Some((_srv, addr)) = s_server(&leaf, &args, &dir) else {
        return;
    };
    let (ctx, _d) = context(&[&ca], |_| {});
    let report = probe(addr, &request("p521.test"), &ctx).await;
    let error = report.error.as_ref().expect("no common group");
    assert_eq!(word(&error.kind), "unsupported_suite", "{error:?}");
    assert_eq!(report.group.as_deref(), Some("secp521r1"));
    assert_eq!(
        report.cipher.as_deref(),
        Some("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")
    );
    assert!(error.detail.contains("secp521r1"), "{}", error.detail);
}

#[tokio::test]
async fn client_certificate_required_fails_without_and_works_with_one() {
    let ca = root("OpenSSL Root");
    let client_ca = root("OpenSSL Client Root");
    let leaf = ca.issue(&LeafSpec::server(&["mtls.test"])).expect("leaf");
    let client = client_ca
        .issue(&LeafSpec {
            client: true,
            ..LeafSpec::server(&["client.test"])
        })
        .expect("client cert");
    let dir = TempDir::new("s_server-mtls");
    let client_ca_file = dir.write("client-ca.pem", &client_ca.cert_pem());
    let args = [
        "-Verify",
        "1",
        "-CAfile",
        client_ca_file.to_str().expect("utf-8 path"),
    ];
    let Some((_srv, addr)) = s_server(&leaf, &args, &dir) else {
        return;
    };

    let (ctx, _d) = context(&[&ca], |_| {});
    let report = probe(addr, &request("mtls.test"), &ctx).await;
    let error = report
        .error
        .as_ref()
        .expect("refused without a client certificate");
    assert_eq!(word(&error.kind), "alert", "{error:?}");
    assert_eq!(
        error.alert.map(|a| a.name()).as_deref(),
        Some("certificate_required")
    );
    assert!(report.client_cert_requested && !report.client_cert_sent);

    let cert = dir.write("client.pem", &client.chain_pem());
    let key = dir.write("client.key", &client.key_pem());
    let (ctx, _d) = context(&[&ca], |o| {
        o.client_cert = Some(cert);
        o.client_key = Some(key);
    });
    let report = probe(addr, &request("mtls.test"), &ctx).await;
    assert_eq!(report.error, None);
    assert!(report.client_cert_sent);
    assert_eq!(report.version.as_deref(), Some("TLSv1.3"));
    assert!(report.verify.as_ref().expect("verified").trusted);
}

/// Runs `openssl args…` in `dir` to completion; panics with its stderr on failure.
fn openssl(dir: &TempDir, args: &[&str]) -> String {
    let mut cmd = Command::new(OPENSSL);
    cmd.args(args);
    run_in(dir, cmd)
}

/// An OCSP response from `openssl ocsp` for `leaf`, good or revoked.
fn ocsp_response(
    ca: &reach::demo::pki::DemoCa,
    leaf: &Credential,
    revoked: bool,
    dir: &TempDir,
) -> Vec<u8> {
    dir.write("ca.pem", &ca.cert_pem());
    dir.write("ca.key", &ca.key_pem());
    dir.write("leaf.pem", &reach::cert::to_pem(&leaf.chain[0]));
    let serial = openssl(dir, &["x509", "-in", "leaf.pem", "-noout", "-serial"]);
    let serial = serial.trim().trim_start_matches("serial=");
    let line = if revoked {
        format!("R\t351231235959Z\t250101000000Z\t{serial}\tunknown\t/CN=leaf\n")
    } else {
        format!("V\t351231235959Z\t\t{serial}\tunknown\t/CN=leaf\n")
    };
    dir.write("index.txt", &line);
    openssl(
        dir,
        &[
            "ocsp",
            "-issuer",
            "ca.pem",
            "-cert",
            "leaf.pem",
            "-no_nonce",
            "-reqout",
            "req.der",
        ],
    );
    openssl(
        dir,
        &[
            "ocsp",
            "-index",
            "index.txt",
            "-rsigner",
            "ca.pem",
            "-rkey",
            "ca.key",
            "-CA",
            "ca.pem",
            "-reqin",
            "req.der",
            "-respout",
            "resp.der",
            "-ndays",
            "1",
        ],
    );
    std::fs::read(dir.path().join("resp.der")).expect("response written")
}

#[tokio::test]
async fn stapled_ocsp_status_from_openssl_is_read() {
    if require_binary(&[OPENSSL], "openssl").is_none() {
        return;
    }
    let ca = root("OCSP Root");
    for revoked in [false, true] {
        let leaf = ca.issue(&LeafSpec::server(&["ocsp.test"])).expect("leaf");
        let dir = TempDir::new("ocsp");
        let response = ocsp_response(&ca, &leaf, revoked, &dir);
        let mut spec = routes(&[], Some(&leaf));
        spec.ocsp = Some(response.clone());
        let srv = server(spec).await;
        let (ctx, _d) = context(&[&ca], |_| {});
        let report = probe(srv.addr(), &sni("ocsp.test"), &ctx).await;
        let ocsp = report.ocsp.as_ref().expect("ocsp seen");
        assert!(ocsp.stapled);
        assert_eq!(ocsp.size, response.len());
        assert_eq!(ocsp.response_status.as_deref(), Some("successful"));
        let want = if revoked { "revoked" } else { "good" };
        assert_eq!(ocsp.cert_status.as_deref(), Some(want), "{ocsp:?}");
        let this = ocsp.this_update.as_deref().expect("thisUpdate");
        let next = ocsp.next_update.as_deref().expect("nextUpdate");
        assert!(this < next && this.ends_with('Z'), "{this} {next}");
        assert_eq!(ocsp.parse_error, None);
    }
}
