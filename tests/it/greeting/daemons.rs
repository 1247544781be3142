//! Greetings read from real daemons on loopback: OpenSSH, Postfix, Dovecot (IMAP, POP3,
//! LMTP, ManageSieve), vsftpd, and the service-identification verdicts built from them.

use std::process::Command;

use reach::probe::greeting::{self, GreetingOptions, Limits};
use reach::report::greeting::GreetingState;

use crate::support::{connect, daemons, loopback, mail};

fn opts() -> GreetingOptions {
    GreetingOptions::default()
}

#[tokio::test]
async fn openssh_identification_string_matches_ssh_dash_v() {
    let Some(sshd) = mail::sshd() else { return };
    let mut stream = connect(loopback(sshd.port)).await;
    let g = greeting::read(&mut stream, 22, "localhost", &opts()).await;
    assert_eq!(g.state, GreetingState::Banner);
    assert_eq!(g.protocol.as_deref(), Some("ssh"));
    let ident = g.ssh.as_ref().expect("parsed identification");
    assert_eq!(ident.proto_version, "2.0");
    assert!(ident.software.starts_with("OpenSSH_"), "{ident:?}");
    // `ssh -V` (same openssh build) prints e.g. "OpenSSH_9.2p1 Debian-2+deb12u3, OpenSSL 3.0…".
    let v = Command::new("ssh").arg("-V").output().expect("ssh -V");
    let version = String::from_utf8_lossy(&v.stderr);
    let expected = version.split(',').next().unwrap_or_default().trim();
    assert_eq!(g.software.as_deref(), Some(expected));
    let ms = g.banner_ms.expect("time to banner");
    assert!(ms > 0.0 && ms < 2000.0, "{ms}");
    eprintln!("measured: sshd time to banner {ms:.2} ms");

    // The same server on a port registered for HTTPS is a visible mismatch.
    let service = greeting::identify_service(443, Some(&g));
    assert_eq!(service.port_name.as_deref(), Some("https"));
    assert_eq!(service.detected.as_deref(), Some("ssh"));
    assert!(service.mismatch);
    assert!(!greeting::identify_service(22, Some(&g)).mismatch);
}

#[tokio::test]
async fn postfix_greeting_and_ehlo_capabilities() {
    let Some(postfix) = mail::postfix() else {
        return;
    };
    let mut stream = connect(loopback(postfix.port)).await;
    let mut g = greeting::read(&mut stream, 587, "localhost", &opts()).await;
    assert_eq!(g.protocol.as_deref(), Some("smtp"), "{g:?}");
    assert_eq!(g.software.as_deref(), Some("Postfix"));
    assert_eq!(
        g.smtp.as_ref().and_then(|s| s.host.as_deref()),
        Some("mx.reach.test")
    );
    greeting::capabilities(&mut stream, &mut g, "client.example", &Limits::default())
        .await
        .expect("EHLO");
    for cap in [
        "PIPELINING",
        "STARTTLS",
        "ENHANCEDSTATUSCODES",
        "8BITMIME",
        "CHUNKING",
    ] {
        assert!(g.advertises(cap), "{cap} in {:?}", g.capabilities);
    }
    assert_eq!(
        g.smtp.as_ref().and_then(|s| s.size),
        Some(10_240_000),
        "Postfix's default message_size_limit"
    );
}

#[tokio::test]
async fn dovecot_imap_pop3_lmtp_and_sieve_greetings() {
    let Some(dc) = mail::dovecot() else { return };

    let mut s = connect(loopback(dc.imap)).await;
    let mut g = greeting::read(&mut s, 143, "localhost", &opts()).await;
    assert_eq!(g.protocol.as_deref(), Some("imap"), "{g:?}");
    assert!(
        g.software
            .as_deref()
            .is_some_and(|s| s.starts_with("Dovecot")),
        "{g:?}"
    );
    assert!(g.advertises("STARTTLS") && g.advertises("IMAP4rev1"));
    greeting::capabilities(&mut s, &mut g, "x", &Limits::default())
        .await
        .expect("no-op");

    let mut s = connect(loopback(dc.pop3)).await;
    let mut g = greeting::read(&mut s, 110, "localhost", &opts()).await;
    assert_eq!(g.protocol.as_deref(), Some("pop3"));
    assert!(
        g.software
            .as_deref()
            .is_some_and(|s| s.starts_with("Dovecot"))
    );
    greeting::capabilities(&mut s, &mut g, "x", &Limits::default())
        .await
        .expect("CAPA");
    assert!(
        g.advertises("STLS") && g.advertises("UIDL"),
        "{:?}",
        g.capabilities
    );

    let mut s = connect(loopback(dc.lmtp)).await;
    let mut g = greeting::read(&mut s, 24, "localhost", &opts()).await;
    assert_eq!(g.protocol.as_deref(), Some("lmtp"), "{g:?}");
    greeting::capabilities(&mut s, &mut g, "client.example", &Limits::default())
        .await
        .expect("LHLO");
    assert!(
        g.advertises("STARTTLS") && g.advertises("PIPELINING"),
        "{:?}",
        g.capabilities
    );

    // ManageSieve on an unregistered port: identified from its words alone.
    let mut s = connect(loopback(dc.sieve)).await;
    let g = greeting::read(&mut s, dc.sieve, "localhost", &opts()).await;
    assert_eq!(g.protocol.as_deref(), Some("sieve"), "{g:?}");
    let implementation = g.software.as_deref().unwrap_or_default();
    assert!(
        implementation.starts_with("Dovecot") && implementation.ends_with("Pigeonhole"),
        "{g:?}"
    );
    assert!(g.advertises("STARTTLS"));
}

#[tokio::test]
async fn vsftpd_greeting_and_feat() {
    let Some(ftp) = mail::vsftpd() else { return };
    let mut s = connect(loopback(ftp.port)).await;
    let mut g = greeting::read(&mut s, ftp.port, "localhost", &opts()).await;
    assert_eq!(g.protocol.as_deref(), Some("ftp"), "{g:?}");
    assert!(
        g.software
            .as_deref()
            .is_some_and(|s| s.starts_with("vsFTPd 3.")),
        "{g:?}"
    );
    greeting::capabilities(&mut s, &mut g, "x", &Limits::default())
        .await
        .expect("FEAT");
    assert!(
        g.capabilities.iter().flatten().any(|c| c == "AUTH TLS"),
        "{:?}",
        g.capabilities
    );
}

#[tokio::test]
async fn implicit_tls_greetings_are_read_after_the_handshake() {
    let Some(dc) = mail::dovecot() else { return };
    let tcp = connect(loopback(dc.imaps)).await;
    let (fp, mut tls) = daemons::tls_fingerprint(tcp).await;
    assert_eq!(fp, dc.cert.fingerprint);
    let g = greeting::read_after_tls(&mut tls, 993, "localhost", &GreetingOptions::default()).await;
    assert!(g.over_tls);
    assert_eq!(g.protocol.as_deref(), Some("imap"));
    assert!(!greeting::identify_service(993, Some(&g)).mismatch);

    let tcp = connect(loopback(dc.pop3s)).await;
    let (_, mut tls) = daemons::tls_fingerprint(tcp).await;
    let g = greeting::read_after_tls(&mut tls, 995, "localhost", &GreetingOptions::default()).await;
    assert_eq!(g.protocol.as_deref(), Some("pop3"));

    // An IMAP server on the HTTPS port, seen inside TLS, is a mismatch.
    let tcp = connect(loopback(dc.imaps)).await;
    let (_, mut tls) = daemons::tls_fingerprint(tcp).await;
    // HTTP is what 443 carries inside TLS, so the probe asks `HEAD /`; Dovecot answers in IMAP.
    let g = greeting::read_after_tls(&mut tls, 443, "localhost", &GreetingOptions::default()).await;
    assert_eq!(g.protocol.as_deref(), Some("imap"), "{g:?}");
    assert!(greeting::identify_service(443, Some(&g)).mismatch);
}
