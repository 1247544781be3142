//! Greetings and STARTTLS against real database servers: PostgreSQL (SSLRequest) and MariaDB
//! (SSL request packet after the server handshake).

use crate::support::words::*;
use reach::probe::greeting::{self, GreetingOptions};
use reach::probe::preamble::{self, PreambleOptions};
use reach::probe::starttls::{self, StarttlsOptions};
use reach::report::greeting::GreetingState;
use reach::service::StarttlsProto;

use crate::support::{connect, daemons, db, loopback};

#[tokio::test]
async fn postgres_sslrequest_with_ssl_on_and_off() {
    let Some(cluster) = db::pg_cluster() else {
        return;
    };
    {
        let pg = cluster.start(true);
        let mut opts = PreambleOptions::for_port(pg.port, "localhost");
        opts.starttls = Some(StarttlsProto::Postgres);
        let pre = preamble::run(connect(loopback(pg.port)).await, &opts).await;
        let r = pre.starttls.clone().expect("report");
        assert_eq!(
            (word(&r.result).as_str(), r.offered, r.reply.as_deref()),
            ("negotiated", true, Some("S"))
        );
        let g = pre.greeting.clone().expect("answer as greeting");
        assert_eq!(
            (g.state, g.protocol.as_deref()),
            (GreetingState::Reply, Some("postgres"))
        );
        assert_eq!(pre.service.detected.as_deref(), Some("postgres"));
        let (fp, _tls) = daemons::tls_fingerprint(pre.stream.expect("stream")).await;
        assert_eq!(fp, cluster.cert.fingerprint);

        // Without STARTTLS asked for, the greeting probe on 5432 still identifies it.
        let mut s = connect(loopback(pg.port)).await;
        let opts = GreetingOptions::default();
        let g = greeting::read(&mut s, 5432, "localhost", &opts).await;
        assert_eq!(g.protocol.as_deref(), Some("postgres"));
        assert!(g.postgres.expect("answer").ssl);
    }
    let pg = cluster.start(false);
    let up = starttls::upgrade(
        connect(loopback(pg.port)).await,
        StarttlsProto::Postgres,
        None,
        &StarttlsOptions::default(),
    )
    .await;
    assert_eq!(
        (word(&up.report.result).as_str(), up.report.reply.as_deref()),
        ("not_offered", Some("N"))
    );
    assert!(up.stream.is_none());
}

#[tokio::test]
async fn mariadb_handshake_and_ssl_request() {
    let Some(m) = db::mariadb(true) else { return };
    let mut s = connect(loopback(m.port)).await;
    let g = greeting::read(&mut s, 3306, "localhost", &GreetingOptions::default()).await;
    assert_eq!(g.protocol.as_deref(), Some("mysql"), "{g:?}");
    let hs = g.mysql.clone().expect("handshake");
    assert_eq!(hs.protocol_version, Some(10));
    assert!(hs.ssl);
    assert!(
        hs.server_version
            .as_deref()
            .is_some_and(|v| v.contains("MariaDB"))
    );
    assert!(
        g.software
            .as_deref()
            .is_some_and(|s| s.starts_with("MariaDB 10.")),
        "{g:?}"
    );

    let up = starttls::upgrade(
        s,
        StarttlsProto::Mysql,
        Some(g),
        &StarttlsOptions::default(),
    )
    .await;
    assert_eq!(
        (word(&up.report.result).as_str(), up.report.offered),
        ("negotiated", true)
    );
    let (fp, _tls) = daemons::tls_fingerprint(up.stream.expect("stream")).await;
    assert_eq!(fp, m.cert.fingerprint);
}

#[tokio::test]
async fn mariadb_without_tls_does_not_offer_it() {
    let Some(m) = db::mariadb(false) else { return };
    let mut opts = PreambleOptions::for_port(3306, "localhost");
    opts.port = m.port;
    opts.starttls = Some(StarttlsProto::Mysql);
    let pre = preamble::run(connect(loopback(m.port)).await, &opts).await;
    let r = pre.starttls.expect("report");
    assert_eq!(
        (word(&r.result).as_str(), r.offered),
        ("not_offered", false),
        "{:?}",
        pre.greeting
    );
    assert!(
        !pre.greeting
            .expect("greeting")
            .mysql
            .expect("handshake")
            .ssl
    );
}
