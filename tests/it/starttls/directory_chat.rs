//! STARTTLS against real directory and chat servers: OpenLDAP slapd (StartTLS extended
//! operation), Prosody (XMPP client and server streams) and InspIRCd (IRC STARTTLS).

use crate::support::words::*;
use reach::probe::preamble::{self, PreambleOptions};
use reach::probe::starttls::{self, StarttlsOptions};
use reach::report::greeting::GreetingState;
use reach::service::StarttlsProto;

use crate::support::{chat, connect, daemons, loopback};

#[tokio::test]
async fn ldap_starttls_with_and_without_a_certificate() {
    let Some(ldap) = chat::slapd(true) else {
        return;
    };
    let mut opts = PreambleOptions::for_port(389, "localhost");
    opts.port = ldap.port;
    opts.starttls = Some(StarttlsProto::Ldap);
    let pre = preamble::run(connect(loopback(ldap.port)).await, &opts).await;
    let r = pre.starttls.clone().expect("report");
    assert_eq!(
        (word(&r.result).as_str(), r.offered),
        ("negotiated", true),
        "{r:?}"
    );
    assert_eq!(r.reply.as_deref(), Some("resultCode 0 (success)"));
    let g = pre.greeting.expect("the response doubles as greeting");
    assert_eq!(
        (g.state, g.protocol.as_deref()),
        (GreetingState::Reply, Some("ldap"))
    );
    let (fp, _tls) = daemons::tls_fingerprint(pre.stream.expect("stream")).await;
    assert_eq!(fp, ldap.cert.fingerprint);
    drop(ldap);

    let Some(plain) = chat::slapd(false) else {
        return;
    };
    let up = starttls::upgrade(
        connect(loopback(plain.port)).await,
        StarttlsProto::Ldap,
        None,
        &StarttlsOptions::default(),
    )
    .await;
    assert_eq!(word(&up.report.result), "refused", "{:?}", up.report);
    let reply = up.report.reply.expect("refusal");
    assert!(reply.starts_with("resultCode "), "{reply}");
    assert!(!reply.starts_with("resultCode 0 "), "{reply}");
}

#[tokio::test]
async fn xmpp_client_and_server_streams_with_prosody() {
    let Some(xmpp) = chat::prosody() else { return };
    for (port, proto) in [
        (xmpp.c2s, StarttlsProto::Xmpp),
        (xmpp.s2s, StarttlsProto::XmppServer),
    ] {
        let opts = StarttlsOptions {
            domain: "localhost".into(),
            ..StarttlsOptions::default()
        };
        let up = starttls::upgrade(connect(loopback(port)).await, proto, None, &opts).await;
        assert_eq!(
            (word(&up.report.result).as_str(), up.report.offered),
            ("negotiated", true),
            "{proto}: {:?} {:?}",
            up.report,
            up.greeting
        );
        assert!(
            up.report
                .reply
                .as_deref()
                .is_some_and(|r| r.contains("<proceed"))
        );
        let g = up.greeting.expect("stream features");
        assert_eq!(g.protocol.as_deref(), Some("xmpp"));
        assert!(g.advertises("starttls"), "{:?}", g.capabilities);
        let (fp, _tls) = daemons::tls_fingerprint(up.stream.expect("stream")).await;
        assert_eq!(fp, xmpp.cert.fingerprint, "{proto}");
    }
}

#[tokio::test]
async fn irc_starttls_with_inspircd() {
    let Some(irc) = chat::inspircd() else { return };
    let mut opts = PreambleOptions::for_port(6667, "localhost");
    opts.port = irc.port;
    let pre = preamble::run(connect(loopback(irc.port)).await, &opts).await;
    let r = pre.starttls.clone().expect("report");
    assert_eq!(
        (word(&r.result).as_str(), r.offered),
        ("negotiated", true),
        "{r:?} {:?}",
        pre.greeting
    );
    assert!(
        r.reply.as_deref().is_some_and(|t| t.starts_with("670")),
        "{r:?}"
    );
    // With hostname lookups off, InspIRCd says nothing until spoken to: a silent greeting.
    assert_eq!(pre.greeting.map(|g| g.state), Some(GreetingState::Silent));
    let (fp, _tls) = daemons::tls_fingerprint(pre.stream.expect("stream")).await;
    assert_eq!(fp, irc.cert.fingerprint);
}
