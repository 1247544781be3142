//! STARTTLS against real mail and file-transfer daemons: Postfix (SMTP), Dovecot (LMTP,
//! IMAP, POP3, ManageSieve) and vsftpd (FTP AUTH TLS). Each negotiated upgrade is followed by
//! a TLS handshake that must present the daemon's own certificate.

use crate::support::words::*;
use reach::probe::greeting::{self, GreetingOptions};
use reach::probe::preamble::{self, PreambleOptions};
use reach::probe::starttls::{self, StarttlsOptions};
use reach::report::greeting::StarttlsReport;
use reach::service::StarttlsProto;

use crate::support::{connect, daemons, loopback, mail};

/// Runs the composite preamble with `proto` on `port` and returns the report, checking that a
/// TLS handshake on the handed-back stream presents `fingerprint`.
async fn upgrade_and_handshake(
    port: u16,
    proto: StarttlsProto,
    fingerprint: &[u8],
) -> StarttlsReport {
    let mut opts = PreambleOptions::for_port(port, "localhost");
    opts.starttls = Some(proto);
    let stream = connect(loopback(port)).await;
    let pre = preamble::run(stream, &opts).await;
    let report = pre.starttls.clone().expect("starttls report");
    assert_eq!(
        word(&report.result),
        "negotiated",
        "{report:?} greeting {:?}",
        pre.greeting
    );
    assert!(pre.tls_ready);
    let (fp, _tls) = daemons::tls_fingerprint(pre.stream.expect("stream handed back")).await;
    assert_eq!(fp, fingerprint, "the daemon's own certificate");
    let ms = report.ms.expect("negotiation time");
    assert!(ms > 0.0 && ms < 5000.0);
    let banner = pre
        .greeting
        .as_ref()
        .and_then(|g| g.banner_ms)
        .unwrap_or(f64::NAN);
    eprintln!("measured: {proto} time to banner {banner:.2} ms, STARTTLS negotiation {ms:.2} ms");
    report
}

#[tokio::test]
async fn smtp_starttls_negotiated_with_postfix() {
    let Some(postfix) = mail::postfix() else {
        return;
    };
    let r =
        upgrade_and_handshake(postfix.port, StarttlsProto::Smtp, &postfix.cert.fingerprint).await;
    assert!(r.offered);
    assert_eq!(r.protocol, "smtp");
    assert!(
        r.reply
            .as_deref()
            .is_some_and(|t| t.starts_with("220 2.0.0")),
        "{r:?}"
    );
}

#[tokio::test]
async fn smtp_starttls_not_offered_and_forced_refusal_with_postfix() {
    let Some(postfix) = mail::postfix() else {
        return;
    };
    // No TLS configured, so STARTTLS is not advertised: not attempted.
    let stream = connect(loopback(postfix.plain_port)).await;
    let up = starttls::upgrade(
        stream,
        StarttlsProto::Smtp,
        None,
        &StarttlsOptions::default(),
    )
    .await;
    assert_eq!(
        (word(&up.report.result).as_str(), up.report.offered),
        ("not_offered", false)
    );
    assert!(up.stream.is_none());
    let g = up.greeting.expect("greeting read by the dialect");
    assert_eq!(g.software.as_deref(), Some("Postfix"));
    assert!(g.capabilities.is_some(), "EHLO was sent");

    // Forced anyway: the server's refusal is reported verbatim.
    let forced = StarttlsOptions {
        force: true,
        ..StarttlsOptions::default()
    };
    let stream = connect(loopback(postfix.plain_port)).await;
    let up = starttls::upgrade(stream, StarttlsProto::Smtp, None, &forced).await;
    assert_eq!(word(&up.report.result), "refused", "{:?}", up.report);
    let reply = up.report.reply.expect("refusal text");
    assert!(reply.starts_with('5') || reply.starts_with('4'), "{reply}");
}

#[tokio::test]
async fn smtps_greeting_inside_implicit_tls() {
    let Some(postfix) = mail::postfix() else {
        return;
    };
    let opts = PreambleOptions::for_port(465, "localhost");
    assert!(opts.implicit_tls);
    let pre = preamble::run(connect(loopback(postfix.smtps_port)).await, &opts).await;
    assert!(pre.tls_ready && pre.greeting.is_none() && pre.starttls.is_none());
    let (fp, mut tls) = daemons::tls_fingerprint(pre.stream.expect("stream")).await;
    assert_eq!(fp, postfix.cert.fingerprint);
    let g = greeting::read_after_tls(&mut tls, 465, "localhost", &GreetingOptions::default()).await;
    assert!(g.over_tls);
    assert_eq!(g.protocol.as_deref(), Some("smtp"));
    assert_eq!(g.software.as_deref(), Some("Postfix"));
}

#[tokio::test]
async fn dovecot_imap_pop3_lmtp_sieve_starttls() {
    let Some(dc) = mail::dovecot() else { return };
    let fp = &dc.cert.fingerprint;
    let r = upgrade_and_handshake(dc.imap, StarttlsProto::Imap, fp).await;
    assert!(
        r.offered && r.reply.as_deref().is_some_and(|t| t.starts_with("s1 OK")),
        "{r:?}"
    );
    let r = upgrade_and_handshake(dc.pop3, StarttlsProto::Pop3, fp).await;
    assert!(
        r.offered && r.reply.as_deref().is_some_and(|t| t.starts_with("+OK")),
        "{r:?}"
    );
    let r = upgrade_and_handshake(dc.lmtp, StarttlsProto::Lmtp, fp).await;
    assert!(
        r.offered && r.reply.as_deref().is_some_and(|t| t.starts_with("220")),
        "{r:?}"
    );
    let r = upgrade_and_handshake(dc.sieve, StarttlsProto::Sieve, fp).await;
    assert!(
        r.offered && r.reply.as_deref().is_some_and(|t| t.starts_with("OK")),
        "{r:?}"
    );
}

#[tokio::test]
async fn ftp_auth_tls_with_vsftpd() {
    let Some(ftp) = mail::vsftpd() else { return };
    let r = upgrade_and_handshake(ftp.port, StarttlsProto::Ftp, &ftp.cert.fingerprint).await;
    assert!(r.offered, "vsftpd lists AUTH TLS in FEAT");
    assert!(
        r.reply.as_deref().is_some_and(|t| t.starts_with("234")),
        "{r:?}"
    );
}

#[tokio::test]
async fn a_dialect_that_does_not_match_the_greeting_is_not_attempted() {
    let Some(sshd) = mail::sshd() else { return };
    let mut opts = PreambleOptions::for_port(sshd.port, "localhost");
    opts.starttls = Some(StarttlsProto::Smtp);
    let pre = preamble::run(connect(loopback(sshd.port)).await, &opts).await;
    let r = pre.starttls.expect("report");
    assert_eq!(
        (
            word(&r.result).as_str(),
            r.error.as_deref(),
            r.reply.as_deref()
        ),
        ("error", Some("other_protocol"), Some("ssh"))
    );
    assert!(!pre.tls_ready && pre.stream.is_none());
    assert_eq!(pre.service.detected.as_deref(), Some("ssh"));
}
