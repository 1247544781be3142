//! Client-first greeting probes against real servers: nginx (`HEAD /` in plaintext and
//! inside TLS) and Redis (`PING`, with and without a password).

use reach::probe::greeting::{self, GreetingOptions, Limits};
use reach::probe::preamble::{self, PreambleOptions};
use reach::report::greeting::GreetingState;
use reach::service;

use crate::support::{connect, daemons, loopback, web};

#[tokio::test]
async fn nginx_head_in_plaintext_and_after_tls() {
    let Some(nginx) = web::nginx() else { return };
    // `http://www.reach.test:PORT`: the scheme, not the port, says HTTP.
    let mut opts = PreambleOptions::for_port(nginx.http, "www.reach.test");
    opts.ask = service::scheme("http").map(|s| s.ask);
    let pre = preamble::run(connect(loopback(nginx.http)).await, &opts).await;
    let g = pre.greeting.expect("greeting");
    assert_eq!(
        (g.state, g.protocol.as_deref()),
        (GreetingState::Reply, Some("http"))
    );
    let http = g.http.clone().expect("http");
    assert_eq!(http.status, 301);
    assert_eq!(http.location.as_deref(), Some("https://www.reach.test/"));
    assert!(
        g.software
            .as_deref()
            .is_some_and(|s| s.starts_with("nginx")),
        "{g:?}"
    );

    let tcp = connect(loopback(nginx.https)).await;
    let (fp, mut tls) = daemons::tls_fingerprint(tcp).await;
    assert_eq!(fp, nginx.cert.fingerprint);
    let info = greeting::http_head(&mut tls, "www.reach.test", 443, true, &Limits::default())
        .await
        .expect("HEAD over TLS");
    assert_eq!(info.status, 204);
    assert!(
        info.server
            .as_deref()
            .is_some_and(|s| s.starts_with("nginx"))
    );

    // The same through read_after_tls on the HTTPS port.
    let (_, mut tls) = daemons::tls_fingerprint(connect(loopback(nginx.https)).await).await;
    let g = greeting::read_after_tls(&mut tls, 443, "www.reach.test", &GreetingOptions::default())
        .await;
    assert_eq!((g.protocol.as_deref(), g.over_tls), (Some("http"), true));
    assert!(!greeting::identify_service(443, Some(&g)).mismatch);
}

#[tokio::test]
async fn redis_ping_with_and_without_a_password() {
    let Some(open) = web::redis(None) else { return };
    let mut s = connect(loopback(open.port)).await;
    let opts = GreetingOptions {
        ask: service::scheme("redis").map(|s| s.ask),
        ..GreetingOptions::default()
    };
    let g = greeting::read(&mut s, open.port, "localhost", &opts).await;
    assert_eq!(
        (g.protocol.as_deref(), g.asked.as_deref()),
        (Some("redis"), Some("PING"))
    );
    let reply = g.redis.expect("reply");
    assert_eq!((reply.reply.as_str(), reply.error), ("PONG", false));

    let Some(locked) = web::redis(Some("s3cret")) else {
        return;
    };
    let mut s = connect(loopback(locked.port)).await;
    let g = greeting::read(&mut s, 6379, "localhost", &GreetingOptions::default()).await;
    assert_eq!(g.protocol.as_deref(), Some("redis"));
    assert!(g.redis.expect("reply").auth_required);
}
