//! Handshake behaviour against in-process servers on loopback: ALPN, version limits, mutual
//! TLS, a silent server (timeout), a non-TLS server, hostile subjects, latency mode, and the
//! typed configuration errors.

use crate::support::words::*;
use std::time::{Duration, Instant};

use reach::demo::pki::{LeafSpec, self_signed};
use reach::demo::tls_server::Behaviour;
use reach::probe::tls::{self, TlsConfigError, TlsContext, TlsOptions, TlsRequest, TlsVersion};
use reach::render::lines::Line;
use reach::render::sanitize::escape;
use reach::render::tls::tls_lines;

use crate::support::{TempDir, connect, skip_or_fail, tls::*};

#[tokio::test]
async fn alpn_is_negotiated_or_refused() {
    let ca = root("Hs Root");
    let leaf = ca.issue(&LeafSpec::server(&["alpn.test"])).expect("leaf");
    let mut spec = routes(&[], Some(&leaf));
    spec.alpn = vec!["h2".into(), "http/1.1".into()];
    let srv = server(spec).await;

    let (ctx, _d) = context(&[&ca], |o| o.alpn = vec!["http/1.1".into(), "h2".into()]);
    let report = probe(srv.addr(), &sni("alpn.test"), &ctx).await;
    assert_eq!(report.alpn.as_deref(), Some("h2"), "server preference wins");

    let (ctx, _d) = context(&[&ca], |o| o.alpn = vec!["imap".into()]);
    let report = probe(srv.addr(), &sni("alpn.test"), &ctx).await;
    let error = report.error.as_ref().expect("refused");
    assert_eq!(
        error.alert.map(|a| a.name()).as_deref(),
        Some("no_application_protocol")
    );

    let (ctx, _d) = context(&[&ca], |_| {});
    let report = probe(srv.addr(), &sni("alpn.test"), &ctx).await;
    assert_eq!(report.alpn, None, "nothing offered, nothing negotiated");
}

#[tokio::test]
async fn version_limits_are_obeyed() {
    let ca = root("Hs Root");
    let leaf = ca.issue(&LeafSpec::server(&["v.test"])).expect("leaf");
    let modern = server(routes(&[], Some(&leaf))).await;
    let mut spec = routes(&[], Some(&leaf));
    spec.versions = vec![TlsVersion::Tls12];
    let tls12_only = server(spec).await;

    let (ctx, _d) = context(&[&ca], |o| o.max_version = Some(TlsVersion::Tls12));
    let report = probe(modern.addr(), &sni("v.test"), &ctx).await;
    assert_eq!(report.version.as_deref(), Some("TLSv1.2"));
    assert_eq!(
        report.cipher.as_deref(),
        Some("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256")
    );
    assert_eq!(report.group.as_deref(), Some("X25519"));

    let (ctx, _d) = context(&[&ca], |o| o.min_version = Some(TlsVersion::Tls13));
    let report = probe(tls12_only.addr(), &sni("v.test"), &ctx).await;
    let error = report.error.as_ref().expect("no common version");
    assert_eq!(
        error.alert.map(|a| a.name()).as_deref(),
        Some("protocol_version")
    );
    // The legacy probe still says what the server would pick, and that we excluded it.
    assert_eq!(word(&error.kind), "alert");
    assert!(
        error.detail.contains("excluded by the version settings"),
        "{}",
        error.detail
    );
    assert_eq!(
        report.legacy.as_ref().map(|l| l.version.as_str()),
        Some("TLSv1.2")
    );
    assert_eq!(
        report.chain[0].sha256,
        leaf.leaf_sha256(),
        "certificate read from plaintext"
    );

    let bad = TlsOptions {
        min_version: Some(TlsVersion::Tls13),
        max_version: Some(TlsVersion::Tls12),
        ..TlsOptions::default()
    };
    assert!(matches!(
        TlsContext::load(&bad),
        Err(TlsConfigError::Settings(_))
    ));
}

#[tokio::test]
async fn mutual_tls_fails_without_and_succeeds_with_a_client_certificate() {
    let ca = root("Hs Root");
    let client_ca = root("Client Root");
    let leaf = ca.issue(&LeafSpec::server(&["mtls.test"])).expect("leaf");
    let client = client_ca
        .issue(&LeafSpec {
            client: true,
            ..LeafSpec::server(&["client.test"])
        })
        .expect("client cert");
    for version in [TlsVersion::Tls13, TlsVersion::Tls12] {
        let mut spec = routes(&[], Some(&leaf));
        spec.client_ca = vec![client_ca.cert().clone()];
        spec.versions = vec![version];
        let srv = server(spec).await;

        let (ctx, _d) = context(&[&ca], |_| {});
        let report = probe(srv.addr(), &sni("mtls.test"), &ctx).await;
        let error = report
            .error
            .as_ref()
            .expect("rejected without a certificate");
        assert_eq!(word(&error.kind), "alert", "{version:?}: {error:?}");
        assert!(
            report.client_cert_requested && !report.client_cert_sent,
            "{report:?}"
        );
        assert_eq!(
            report.chain[0].sha256,
            leaf.leaf_sha256(),
            "server cert still shown"
        );

        let keys = TempDir::new("client");
        let cert = keys.write("client.pem", &client.chain_pem());
        let key = keys.write("client.key", &client.key_pem());
        let (ctx, _d) = context(&[&ca], |o| {
            o.client_cert = Some(cert.clone());
            o.client_key = Some(key.clone());
        });
        let report = probe(srv.addr(), &sni("mtls.test"), &ctx).await;
        assert_eq!(report.error, None, "{version:?}");
        assert!(report.client_cert_requested && report.client_cert_sent);
    }
}

#[tokio::test]
async fn silent_server_is_a_handshake_timeout() {
    let srv = server(reach::demo::tls_server::ServerSpec {
        behaviour: Behaviour::Silent,
        ..Default::default()
    })
    .await;
    let ca = root("Hs Root");
    let (ctx, _d) = context(&[&ca], |o| o.handshake_timeout = Duration::from_millis(300));
    let started = Instant::now();
    let report = probe(srv.addr(), &sni("silent.test"), &ctx).await;
    let error = report.error.as_ref().expect("timed out");
    assert_eq!(word(&error.kind), "timeout");
    assert!(error.detail.contains("no answer"), "{}", error.detail);
    let ms = report.handshake_ms.expect("timed");
    assert!((290.0..2000.0).contains(&ms), "{ms}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "vhost follow-up is bounded too"
    );
}

#[tokio::test]
async fn ssh_banner_is_not_tls() {
    let srv = server(reach::demo::tls_server::ServerSpec {
        behaviour: Behaviour::Banner(b"SSH-2.0-OpenSSH_9.9 reach-demo\r\n".to_vec()),
        ..Default::default()
    })
    .await;
    let ca = root("Hs Root");
    let (ctx, _d) = context(&[&ca], |_| {});
    let report = probe(srv.addr(), &sni("ssh.test"), &ctx).await;
    let error = report.error.as_ref().expect("not tls");
    assert_eq!(word(&error.kind), "not_tls");
    assert_eq!(
        error.received.as_deref(),
        Some("SSH-2.0-OpenSSH_9.9 reach-demo")
    );
    assert_eq!(report.legacy, None);
}

#[tokio::test]
async fn invalid_sni_is_refused_before_connecting_anything() {
    assert!(!tls::sni_is_valid("192.0.2.1"));
    assert!(!tls::sni_is_valid("bad name"));
    assert!(tls::sni_is_valid("good.example"));
    let ca = root("Hs Root");
    let leaf = ca.issue(&LeafSpec::server(&["x.test"])).expect("leaf");
    let srv = server(routes(&[], Some(&leaf))).await;
    let (ctx, _d) = context(&[&ca], |_| {});
    let report = probe(srv.addr(), &sni("bad name"), &ctx).await;
    assert_eq!(
        report.error.as_ref().map(|e| word(&e.kind)).as_deref(),
        Some("invalid_sni")
    );
    assert!(srv.sni_seen().is_empty());
}

#[tokio::test]
async fn escape_sequences_in_a_subject_reach_the_lines_raw_and_leave_escaped() {
    let evil = "evil\x1b[2J\x1b[31mred\x07.test";
    let cert = self_signed(&LeafSpec {
        common_name: Some(evil.to_string()),
        ..LeafSpec::server(&["evil.test"])
    })
    .expect("cert");
    let srv = server(routes(&[], Some(&cert))).await;
    let ca = root("Hs Root");
    let (ctx, _d) = context(&[&ca], |_| {});
    let report = probe(srv.addr(), &sni("evil.test"), &ctx).await;
    assert_eq!(report.chain[0].subject, format!("CN={evil}"));
    let lines: Vec<Line> = tls_lines(&report, false);
    let leaf = lines.iter().find(|l| l.label == "leaf").expect("leaf line");
    assert_eq!(
        leaf.value,
        format!("CN={evil}"),
        "the Line keeps the text unchanged"
    );
    let shown = escape(&leaf.value);
    assert!(!shown.contains('\x1b') && !shown.contains('\x07'));
    assert_eq!(shown, "CN=evil\\x1b[2J\\x1b[31mred\\x07.test");
}

#[tokio::test]
async fn handshake_only_times_a_handshake() {
    let ca = root("Hs Root");
    let leaf = ca.issue(&LeafSpec::server(&["fast.test"])).expect("leaf");
    let srv = server(routes(&[], Some(&leaf))).await;
    let (ctx, _d) = context(&[&ca], |_| {});
    let ms = tls::handshake_only(connect(srv.addr()).await, &sni("fast.test"), &ctx)
        .await
        .expect("handshake");
    assert!(ms > 0.0 && ms < 2000.0, "{ms}");
    let silent = server(reach::demo::tls_server::ServerSpec {
        behaviour: Behaviour::Silent,
        ..Default::default()
    })
    .await;
    let (ctx, _d) = context(&[&ca], |o| o.handshake_timeout = Duration::from_millis(200));
    let failure = tls::handshake_only(connect(silent.addr()).await, &sni("x.test"), &ctx)
        .await
        .expect_err("times out");
    assert_eq!(word(&failure.kind), "timeout");
}

#[tokio::test]
async fn the_tls_stream_is_usable_after_the_probe() {
    use tokio::io::AsyncReadExt;
    let ca = root("Hs Root");
    let leaf = ca.issue(&LeafSpec::server(&["use.test"])).expect("leaf");
    let srv = server(routes(&[], Some(&leaf))).await;
    let (ctx, _d) = context(&[&ca], |_| {});
    let addr = srv.addr();
    let req = TlsRequest {
        want_vhost: false,
        ..sni("use.test")
    };
    let open_fresh = move || async move { tokio::net::TcpStream::connect(addr).await.ok() };
    let (report, stream) = tls::probe(connect(addr).await, open_fresh, &req, &ctx).await;
    assert_eq!(report.error, None);
    let mut stream = stream.expect("stream returned");
    let mut greeting = vec![0u8; 22];
    tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut greeting))
        .await
        .expect("in time")
        .expect("read");
    assert_eq!(greeting, b"hello from reach demo\n");
}

#[test]
fn configuration_errors_are_typed() {
    let dir = TempDir::new("cfg");
    let missing = TlsOptions {
        ca_files: vec![dir.path().join("absent.pem")],
        ..TlsOptions::default()
    };
    assert!(matches!(
        TlsContext::load(&missing),
        Err(TlsConfigError::Read { .. })
    ));
    let garbage = TlsOptions {
        ca_files: vec![dir.write("garbage.pem", "not a certificate\n")],
        ..TlsOptions::default()
    };
    let err = TlsContext::load(&garbage).expect_err("no certificate");
    assert!(err.to_string().contains("garbage.pem"), "{err}");

    let ca = root("Cfg Root");
    let a = ca.issue(&LeafSpec::server(&["a.test"])).expect("a");
    let b = ca.issue(&LeafSpec::server(&["b.test"])).expect("b");
    let mismatched = TlsOptions {
        client_cert: Some(dir.write("a.pem", &a.chain_pem())),
        client_key: Some(dir.write("b.key", &b.key_pem())),
        ..TlsOptions::default()
    };
    assert!(matches!(
        TlsContext::load(&mismatched),
        Err(TlsConfigError::Invalid { .. })
    ));
    let half = TlsOptions {
        client_cert: Some(dir.path().join("a.pem")),
        ..TlsOptions::default()
    };
    assert!(matches!(
        TlsContext::load(&half),
        Err(TlsConfigError::Settings(_))
    ));

    let added = TlsOptions {
        ca_files: vec![dir.write("ca.pem", &ca.cert_pem())],
        ..TlsOptions::default()
    };
    let ctx = TlsContext::load(&added).expect("loads");
    assert_eq!(ctx.trust_anchor_count(), webpki_roots_count() + 1);
}

fn webpki_roots_count() -> usize {
    TlsContext::load(&TlsOptions::default())
        .expect("built-in roots")
        .trust_anchor_count()
}

/// The orchestration runs probes on a multi-threaded runtime: the futures must be `Send`.
#[test]
fn probe_futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let ca = root("Send Root");
    let (ctx, _d) = context(&[&ca], |_| {});
    let req = sni("send.test");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let stream = connect(addr).await;
        let open_fresh = move || async move { tokio::net::TcpStream::connect(addr).await.ok() };
        let probe = tls::probe(stream, open_fresh, &req, &ctx);
        assert_send(&probe);
        let stream = connect(addr).await;
        let timing = tls::handshake_only(stream, &req, &ctx);
        assert_send(&timing);
    });
}

#[test]
fn system_trust_store_loads_on_request() {
    if !std::path::Path::new("/etc/ssl/certs/ca-certificates.crt").exists() {
        skip_or_fail("the system trust store (Debian package ca-certificates)");
        return;
    }
    let system_only = TlsOptions {
        system_roots: true,
        replace_roots: true,
        ..TlsOptions::default()
    };
    let ctx = TlsContext::load(&system_only).expect("system roots load");
    assert!(
        ctx.trust_anchor_count() > 50,
        "{}",
        ctx.trust_anchor_count()
    );
    let nothing = TlsOptions {
        replace_roots: true,
        ..TlsOptions::default()
    };
    assert!(matches!(
        TlsContext::load(&nothing),
        Err(TlsConfigError::Settings(_))
    ));
}
