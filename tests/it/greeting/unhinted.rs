//! Real daemons and scripted servers on ports that give no hint (ephemeral loopback ports no
//! service table knows), probed as `reach 127.0.0.1:PORT` would: the product and version named
//! from the greeting, TLS and HTTP found by the follow-up probes, `--no-probe` only listening.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reach::probe::plan::PlanOptions;
use reach::report::Report;
use reach::report::greeting::{FollowUp, GreetingReport, Identification};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::{context, probe, unhinted};
use crate::support::{chat, db, mail, scripted, web};

fn greeting(report: &Report) -> GreetingReport {
    report.greeting.clone().expect("a greeting report")
}

/// Probes `port` unless a service table knows it (then the test proves nothing; say so).
async fn probe_unhinted(port: u16) -> Option<Report> {
    if !unhinted(port) {
        eprintln!("skipped: port {port} is registered, not unhinted");
        return None;
    }
    Some(
        probe(
            port,
            &context(Duration::from_secs(1), PlanOptions::default()),
        )
        .await,
    )
}

fn named(g: &GreetingReport, product: &str) {
    assert_eq!(g.product.as_deref(), Some(product), "{g:#?}");
    assert_eq!(g.identification, Some(Identification::Table));
    assert!(g.cpe.as_deref().is_some_and(|c| c.starts_with("cpe:2.3:")) || g.cpe.is_none());
}

#[tokio::test]
async fn openssh_product_and_version() {
    let Some(sshd) = mail::sshd() else { return };
    let Some(report) = probe_unhinted(sshd.port).await else {
        return;
    };
    let g = greeting(&report);
    named(&g, "OpenSSH");
    // `ssh -V` of the same build: "OpenSSH_9.2p1 Debian-2+deb12u3, OpenSSL 3.0.x …".
    let v = Command::new("ssh").arg("-V").output().expect("ssh -V");
    let text = String::from_utf8_lossy(&v.stderr);
    let expected = text
        .split([' ', ','])
        .next()
        .and_then(|w| w.strip_prefix("OpenSSH_"))
        .expect("ssh -V version");
    assert_eq!(g.version.as_deref(), Some(expected));
    assert_eq!(
        g.cpe.as_deref(),
        Some(format!("cpe:2.3:a:openbsd:openssh:{expected}:*:*:*:*:*:*:*").as_str())
    );
}

#[tokio::test]
async fn vsftpd_product_and_version() {
    let Some(ftp) = mail::vsftpd() else { return };
    let Some(report) = probe_unhinted(ftp.port).await else {
        return;
    };
    let g = greeting(&report);
    assert_eq!(g.protocol.as_deref(), Some("ftp"));
    named(&g, "vsftpd");
    let version = g.version.clone().expect("vsftpd says its version");
    assert!(g.text.contains(&format!("vsFTPd {version}")), "{g:#?}");
}

#[tokio::test]
async fn postfix_and_dovecot_products() {
    if let Some(postfix) = mail::postfix()
        && let Some(report) = probe_unhinted(postfix.plain_port).await
    {
        let g = greeting(&report);
        assert_eq!(g.protocol.as_deref(), Some("smtp"));
        // Postfix's default banner names no version (smtpd_banner = $myhostname ESMTP $mail_name).
        named(&g, "Postfix");
    }
    let Some(dc) = mail::dovecot() else { return };
    for (port, protocol) in [(dc.imap, "imap"), (dc.lmtp, "lmtp")] {
        let Some(report) = probe_unhinted(port).await else {
            continue;
        };
        let g = greeting(&report);
        assert_eq!(g.protocol.as_deref(), Some(protocol), "{g:#?}");
        named(&g, "Dovecot");
    }
}

#[tokio::test]
async fn mariadb_product_and_version() {
    let Some(m) = db::mariadb(false) else { return };
    let Some(report) = probe_unhinted(m.port).await else {
        return;
    };
    let g = greeting(&report);
    assert_eq!(g.protocol.as_deref(), Some("mysql"));
    named(&g, "MariaDB");
    let raw = g
        .mysql
        .as_ref()
        .and_then(|h| h.server_version.clone())
        .expect("server version");
    let version = g.version.clone().expect("version");
    assert!(
        raw.contains(&format!("{version}-MariaDB")),
        "{raw} / {version}"
    );
}

#[tokio::test]
async fn http_found_by_head_on_an_unhinted_port() {
    let Some(nginx) = web::nginx() else { return };
    let Some(report) = probe_unhinted(nginx.http).await else {
        return;
    };
    let g = greeting(&report);
    assert_eq!(g.protocol.as_deref(), Some("http"), "{g:#?}");
    assert_eq!(g.found_by, Some(FollowUp::HttpHead));
    assert_eq!(
        g.follow_ups,
        [FollowUp::TlsClientHello, FollowUp::HttpHead],
        "TLS first, then HTTP"
    );
    named(&g, "nginx");
    assert!(g.version.is_some(), "nginx/1.x.y");
    assert_eq!(g.http.as_ref().map(|h| h.status), Some(301));
}

#[tokio::test]
async fn tls_found_by_client_hello_and_checked_whole() {
    let Some(nginx) = web::nginx() else { return };
    let Some(report) = probe_unhinted(nginx.https).await else {
        return;
    };
    let g = greeting(&report);
    assert_eq!(g.protocol.as_deref(), Some("tls"));
    assert_eq!(g.found_by, Some(FollowUp::TlsClientHello));
    assert!(
        g.text
            .starts_with(&format!("TLS found on port {}", nginx.https)),
        "{}",
        g.text
    );
    // The probe went on into the full TLS and certificate checks.
    let tls = report.tls.as_ref().expect("a TLS layer");
    assert!(tls.error.is_none(), "{tls:#?}");
    assert!(tls.version.is_some());
    let leaf = tls.chain.first().expect("the certificate chain");
    assert_eq!(leaf.sha256.replace(':', "").to_lowercase(), {
        nginx
            .cert
            .fingerprint
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    });
}

/// The same with an in-process rustls server: needs no daemon.
#[tokio::test]
async fn tls_found_on_a_scripted_rustls_server() {
    let (acceptor, _fp) = scripted::tls_acceptor();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(stream).await {
                    let mut buf = [0u8; 64];
                    let _ = tokio::time::timeout(Duration::from_secs(2), tls.read(&mut buf)).await;
                }
            });
        }
    });
    let Some(report) = probe_unhinted(port).await else {
        server.abort();
        return;
    };
    server.abort();
    let g = greeting(&report);
    assert_eq!(g.found_by, Some(FollowUp::TlsClientHello), "{g:#?}");
    let tls = report.tls.as_ref().expect("TLS checks ran");
    assert!(tls.version.is_some(), "{tls:#?}");
    assert!(!tls.chain.is_empty());
}

#[tokio::test]
async fn redis_and_postgres_found_by_their_own_requests() {
    if let Some(r) = web::redis(None)
        && let Some(report) = probe_unhinted(r.port).await
    {
        let g = greeting(&report);
        assert_eq!(g.protocol.as_deref(), Some("redis"), "{g:#?}");
        assert_eq!(g.found_by, Some(FollowUp::RedisPing));
    }
    let Some(cluster) = db::pg_cluster() else {
        return;
    };
    let pg = cluster.start(false);
    let Some(report) = probe_unhinted(pg.port).await else {
        return;
    };
    let g = greeting(&report);
    assert_eq!(g.protocol.as_deref(), Some("postgres"), "{g:#?}");
    assert_eq!(g.found_by, Some(FollowUp::PostgresSslRequest));
}

#[tokio::test]
async fn chat_and_directory_daemons_are_reported_as_they_answer() {
    // These speak only after a client's stream header or bind request: what the follow-ups
    // get out of them is printed (for the record), and nothing is named that is not there.
    let mut ports = Vec::new();
    let irc = chat::inspircd();
    if let Some(i) = &irc {
        ports.push(("inspircd", i.port));
    }
    let ldap = chat::slapd(false);
    if let Some(s) = &ldap {
        ports.push(("slapd", s.port));
    }
    for (name, port) in ports {
        let Some(report) = probe_unhinted(port).await else {
            continue;
        };
        let g = greeting(&report);
        eprintln!(
            "measured: {name} on an unhinted port: protocol {:?}, product {:?}, follow-ups {:?}",
            g.protocol, g.product, g.follow_ups
        );
        assert!(g.product.is_none() || g.identification == Some(Identification::Table));
    }
}

/// A silent server: records every byte it receives.
async fn silent_server() -> (
    u16,
    Arc<std::sync::Mutex<Vec<u8>>>,
    tokio::task::JoinHandle<()>,
) {
    let got = Arc::new(std::sync::Mutex::new(Vec::new()));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let sink = got.clone();
    let task = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let sink = sink.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    sink.lock().expect("lock").extend_from_slice(&buf[..n]);
                }
                let _ = stream.shutdown().await;
            });
        }
    });
    (port, got, task)
}

#[tokio::test]
async fn silent_port_follow_ups_are_bounded_and_no_probe_only_listens() {
    let (port, got, task) = silent_server().await;
    if !unhinted(port) {
        task.abort();
        return;
    }
    let gt = Duration::from_millis(500);
    let started = Instant::now();
    let report = probe(port, &context(gt, PlanOptions::default())).await;
    let took = started.elapsed();
    let g = greeting(&report);
    assert!(g.is_silent());
    assert_eq!(
        g.follow_ups,
        [
            FollowUp::TlsClientHello,
            FollowUp::HttpHead,
            FollowUp::PostgresSslRequest,
            FollowUp::RedisPing
        ]
    );
    assert!(g.found_by.is_none() && g.product.is_none());
    // Listening takes one greeting deadline; the four follow-ups share one more.
    assert!(took < gt * 2 + Duration::from_millis(700), "{took:?}");
    eprintln!(
        "measured: silent port, greeting deadline {gt:?}: {:.0} ms in all (listening + follow-ups)",
        took.as_secs_f64() * 1000.0
    );
    let sent = got.lock().expect("lock").len();
    assert!(sent > 0 && sent < 2048, "bounded probes, {sent} bytes");

    got.lock().expect("lock").clear();
    let quiet = PlanOptions {
        no_probe: true,
        ..PlanOptions::default()
    };
    let report = probe(port, &context(gt, quiet)).await;
    let g = greeting(&report);
    assert!(g.is_silent() && g.follow_ups.is_empty());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        got.lock().expect("lock").is_empty(),
        "--no-probe sent bytes"
    );
    task.abort();
}
