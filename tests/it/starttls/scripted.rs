//! STARTTLS and greeting behaviour against scripted loopback servers: NNTP (no installable
//! server here), and hostile or odd services — silent, hanging up, resetting, streaming
//! forever, dripping, and TLS where a banner was expected.

use crate::support::words::*;
use std::time::{Duration, Instant};

use tokio::io::{AsyncWriteExt, BufReader};

use crate::support::scripted::{self, read_line, say, serve_once};
use crate::support::{LaunchAsync, connect, daemons, loopback};
use reach::probe::greeting::{self, GreetingOptions, Limits};
use reach::probe::preamble::{self, PreambleOptions};
use reach::report::greeting::GreetingState;
use reach::service::StarttlsProto;

const INN_GREETING: &str =
    "200 news.reach.test InterNetNews NNRP server INN 2.7.1 ready (posting ok)\r\n";

fn quick() -> Limits {
    Limits {
        first_byte: Duration::from_millis(500),
        total: Duration::from_secs(2),
        settle: Duration::from_millis(100),
        max_bytes: 16 * 1024,
    }
}

#[tokio::test]
async fn nntp_starttls_negotiated_then_real_tls() {
    let (acceptor, fingerprint) = scripted::tls_acceptor();
    let port = serve_once(move |stream| async move {
        let mut r = BufReader::new(stream);
        say(&mut r, INN_GREETING).await;
        assert_eq!(read_line(&mut r).await, "CAPABILITIES\r\n");
        say(
            &mut r,
            "101 Capability list:\r\nVERSION 2\r\nREADER\r\nSTARTTLS\r\nOVER\r\n.\r\n",
        )
        .await;
        assert_eq!(read_line(&mut r).await, "STARTTLS\r\n");
        say(&mut r, "382 Continue with TLS negotiation\r\n").await;
        let _ = acceptor.accept(r.into_inner()).await;
    })
    .await;
    let mut opts = PreambleOptions::for_port(119, "localhost");
    opts.port = port;
    opts.starttls = Some(StarttlsProto::Nntp);
    let pre = preamble::run(connect(loopback(port)).await, &opts).await;
    let g = pre.greeting.clone().expect("greeting");
    assert_eq!(
        (g.protocol.as_deref(), g.software.as_deref()),
        (Some("nntp"), Some("INN 2.7.1"))
    );
    assert!(g.advertises("STARTTLS") && g.advertises("READER"));
    let r = pre.starttls.clone().expect("report");
    assert_eq!((word(&r.result).as_str(), r.offered), ("negotiated", true));
    assert_eq!(
        r.reply.as_deref(),
        Some("382 Continue with TLS negotiation")
    );
    let (fp, _tls) = daemons::tls_fingerprint(pre.stream.expect("stream")).await;
    assert_eq!(fp, fingerprint);
}

#[tokio::test]
async fn nntp_starttls_refused_and_not_offered() {
    let port = serve_once(|stream| async move {
        let mut r = BufReader::new(stream);
        say(&mut r, INN_GREETING).await;
        read_line(&mut r).await;
        say(
            &mut r,
            "101 Capability list:\r\nVERSION 2\r\nSTARTTLS\r\n.\r\n",
        )
        .await;
        read_line(&mut r).await;
        say(&mut r, "580 Can not initiate TLS negotiation\r\n").await;
    })
    .await;
    let mut opts = PreambleOptions::for_port(119, "localhost");
    opts.starttls = Some(StarttlsProto::Nntp);
    let pre = preamble::run(connect(loopback(port)).await, &opts).await;
    let r = pre.starttls.expect("report");
    assert_eq!((word(&r.result).as_str(), r.offered), ("refused", true));
    assert_eq!(
        r.reply.as_deref(),
        Some("580 Can not initiate TLS negotiation")
    );
    assert!(pre.stream.is_none());

    let port = serve_once(|stream| async move {
        let mut r = BufReader::new(stream);
        say(&mut r, INN_GREETING).await;
        read_line(&mut r).await;
        say(
            &mut r,
            "101 Capability list:\r\nVERSION 2\r\nREADER\r\n.\r\n",
        )
        .await;
        read_line(&mut r).await;
    })
    .await;
    let pre = preamble::run(connect(loopback(port)).await, &opts).await;
    assert_eq!(word(&pre.starttls.expect("report").result), "not_offered");
}

#[tokio::test]
async fn a_server_that_stalls_after_starttls_is_an_error_within_the_deadline() {
    let port = serve_once(|stream| async move {
        let mut r = BufReader::new(stream);
        say(&mut r, "220 mx.reach.test ESMTP Postfix\r\n").await;
        read_line(&mut r).await;
        say(&mut r, "250-mx.reach.test\r\n250 STARTTLS\r\n").await;
        read_line(&mut r).await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    })
    .await;
    let mut opts = PreambleOptions::for_port(25, "localhost");
    opts.limits = quick();
    opts.starttls_deadline = Duration::from_secs(1);
    let started = Instant::now();
    let pre = preamble::run(connect(loopback(port)).await, &opts).await;
    let took = started.elapsed();
    let r = pre.starttls.expect("report");
    assert_eq!(
        (word(&r.result).as_str(), r.offered, r.error.as_deref()),
        ("error", true, Some("timeout"))
    );
    assert!(took < Duration::from_millis(1500), "{took:?}");
    assert!(pre.stream.is_none() && !pre.tls_ready);
}

#[tokio::test]
async fn an_anonymous_220_greeting_takes_the_chosen_dialect() {
    let port = serve_once(|stream| async move {
        let mut r = BufReader::new(stream);
        say(&mut r, "220 Service ready\r\n").await;
        let feat = read_line(&mut r).await;
        say(&mut r, "211 no-features\r\n").await;
        let auth = read_line(&mut r).await;
        // Echo what arrived, so the client side can check it.
        say(
            &mut r,
            &format!("234 {} | {}\r\n", feat.trim(), auth.trim()),
        )
        .await;
    })
    .await;
    let up = reach::probe::starttls::upgrade(
        connect(loopback(port)).await,
        StarttlsProto::Ftp,
        None,
        &reach::probe::starttls::StarttlsOptions::default(),
    )
    .await;
    assert_eq!(up.greeting.and_then(|g| g.protocol).as_deref(), Some("ftp"));
    // FTP asks even when FEAT does not list AUTH (RFC 4217 makes listing optional).
    assert_eq!(
        (word(&up.report.result).as_str(), up.report.offered),
        ("negotiated", false)
    );
    assert_eq!(up.report.reply.as_deref(), Some("234 FEAT | AUTH TLS"));
}

#[tokio::test]
async fn a_silent_service_is_its_own_verdict() {
    let port = serve_once(|stream| async move {
        tokio::time::sleep(Duration::from_secs(3)).await;
        drop(stream);
    })
    .await;
    let mut s = connect(loopback(port)).await;
    let opts = GreetingOptions {
        limits: quick(),
        ..GreetingOptions::default()
    };
    let started = Instant::now();
    let g = greeting::read(&mut s, port, "localhost", &opts).await;
    assert_eq!(
        (g.state, g.protocol.as_deref(), g.bytes),
        (GreetingState::Silent, None, 0)
    );
    assert!(g.is_silent() && g.banner_ms.is_none());
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(450) && waited < Duration::from_millis(1500),
        "{waited:?}"
    );
    let json = serde_json::to_value(&g).expect("json");
    assert_eq!(
        (json["state"].as_str(), json["protocol"].is_null()),
        (Some("silent"), true)
    );
}

#[tokio::test]
async fn hang_up_and_reset_without_a_word() {
    let port = serve_once(|stream| async move { drop(stream) }).await;
    let mut s = connect(loopback(port)).await;
    let g = greeting::read(&mut s, port, "localhost", &GreetingOptions::default()).await;
    assert_eq!(g.state, GreetingState::Closed);

    if crate::support::wine_cannot("Wine closes an SO_LINGER 0 socket with a FIN, not a RST") {
        return;
    }
    let port = serve_once(|stream| async move {
        // SO_LINGER 0: close sends a RST instead of a FIN.
        let std = stream.into_std().expect("std");
        socket2::SockRef::from(&std)
            .set_linger(Some(Duration::ZERO))
            .expect("linger");
        drop(std);
    })
    .await;
    let mut s = connect(loopback(port)).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let g = greeting::read(&mut s, port, "localhost", &GreetingOptions::default()).await;
    assert_eq!(g.state, GreetingState::Reset);
}

#[tokio::test]
async fn an_endless_stream_is_cut_at_the_byte_limit() {
    let port = serve_once(|mut stream| async move {
        let junk = vec![b'\x1b'; 64 * 1024];
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && stream.write_all(&junk).await.is_ok() {}
    })
    .await;
    let mut s = connect(loopback(port)).await;
    let opts = GreetingOptions {
        limits: quick(),
        ..GreetingOptions::default()
    };
    let started = Instant::now();
    let g = greeting::read(&mut s, port, "localhost", &opts).await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        (g.state, g.bytes, g.truncated),
        (GreetingState::Banner, 16 * 1024, true)
    );
    assert!(g.text.len() <= 4096);
}

#[tokio::test]
async fn a_drip_fed_banner_stops_at_the_total_deadline() {
    let port = serve_once(|mut stream| async move {
        for _ in 0..100 {
            if stream.write_all(b"2").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let mut s = connect(loopback(port)).await;
    let opts = GreetingOptions {
        limits: quick(),
        ..GreetingOptions::default()
    };
    let started = Instant::now();
    let g = greeting::read(&mut s, port, "localhost", &opts).await;
    let took = started.elapsed();
    assert!(took < Duration::from_millis(2600), "{took:?}");
    assert_eq!(g.state, GreetingState::Banner);
    assert!(g.bytes > 5);
}

#[tokio::test]
async fn tls_on_the_ssh_port_is_visible() {
    let port = serve_once(|mut stream| async move {
        // What a TLS server that dislikes silence sends: a fatal protocol_version alert.
        let _ = stream
            .write_all(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46])
            .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    })
    .await;
    let mut s = connect(loopback(port)).await;
    let g = greeting::read(&mut s, 22, "localhost", &GreetingOptions::default()).await;
    assert_eq!(g.protocol.as_deref(), Some("tls"));
    assert_eq!(
        g.tls.as_ref().and_then(|t| t.alert.as_deref()),
        Some("protocol_version")
    );
    let service = greeting::identify_service(22, Some(&g));
    assert_eq!(
        (
            service.port_name.as_deref(),
            service.detected.as_deref(),
            service.mismatch
        ),
        (Some("ssh"), Some("tls"), true)
    );
}

#[tokio::test]
async fn http_head_carries_the_host_header() {
    let port = serve_once(|stream| async move {
        let mut r = BufReader::new(stream);
        // Echo the request line and Host header back (a panic here would not fail the test).
        let request_line = read_line(&mut r).await;
        let host = read_line(&mut r).await;
        let reply = format!(
            "HTTP/1.1 204 No Content\r\nServer: {} | {}\r\n\r\n",
            request_line.trim(),
            host.trim()
        );
        say(&mut r, &reply).await;
    })
    .await;
    let mut s = connect(loopback(port)).await;
    let info = greeting::http_head(&mut s, "www.reach.test", port, false, &quick())
        .await
        .expect("http");
    let expected = format!("HEAD / HTTP/1.1 | Host: www.reach.test:{port}");
    assert_eq!(
        (info.status, info.server.as_deref()),
        (204, Some(expected.as_str()))
    );
}

/// The binary against a scripted SMTP server: `--starttls smtp --json`, within a deadline.
async fn starttls_verdict(port: u16, extra: &[&str]) -> (serde_json::Value, Duration) {
    let target = format!("127.0.0.1:{port}");
    let mut args = vec!["--json", "--starttls", "smtp"];
    args.extend_from_slice(extra);
    args.push(&target);
    let started = Instant::now();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_reach"))
        .args(&args)
        .kill_on_drop(true)
        .output_retrying()
        .await
        .expect("run reach");
    let json = serde_json::from_slice(&out.stdout).expect("one JSON line");
    (json, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ehlo_reply_cut_at_the_limit_is_not_not_offered() {
    let port = serve_once(move |stream| async move {
        let mut r = BufReader::new(stream);
        say(&mut r, "220 mx.test ESMTP\r\n").await;
        let _ = read_line(&mut r).await;
        let mut reply = String::new();
        for i in 0..10_000 {
            reply.push_str(&format!("250-X-FILLER-{i:05} some extension\r\n"));
        }
        reply.push_str("250 STARTTLS\r\n");
        say(&mut r, &reply).await;
        let _ = read_line(&mut r).await;
    })
    .await;
    let (json, _) = starttls_verdict(port, &[]).await;
    assert_eq!(json["starttls"]["result"], "error", "{json}");
    assert_eq!(json["starttls"]["error"], "capabilities_truncated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_greeting_that_never_ends_is_an_error_within_the_greeting_deadlines() {
    let port = serve_once(move |mut stream| async move {
        let _ = stream.write_all(b"220-mx.test says hello\r\n").await;
        tokio::time::sleep(Duration::from_secs(30)).await;
    })
    .await;
    let (json, took) = starttls_verdict(port, &["--greeting-timeout", "500ms"]).await;
    assert_eq!(json["starttls"]["result"], "error", "{json}");
    assert_eq!(json["starttls"]["error"], "incomplete_greeting");
    // 2T for the greeting read, documented; generous margin for a loaded machine (Wine on a
    // loaded machine adds seconds of its own).
    if !crate::support::wine_cannot("its timing is not the probe's") {
        assert!(took < Duration::from_secs(6), "took {took:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_spoke_smtp_is_not_a_refusal() {
    let port = serve_once(move |mut stream| async move {
        let _ = stream.write_all(b"X").await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    })
    .await;
    let (json, _) = starttls_verdict(port, &["--greeting-timeout", "500ms"]).await;
    assert_eq!(json["starttls"]["result"], "error", "{json}");
    assert_eq!(json["starttls"]["error"], "not_smtp");
    assert_eq!(json["stopped"]["reason"], "error");
}
