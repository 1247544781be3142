//! The virtual-host verdict: did the server route the SNI name? The certificate served for the
//! name is compared with reference handshakes on fresh connections: no SNI at all, and a name
//! nobody can have configured (a random label under `.invalid`). Front ends differ in which of
//! the two their catch-all answers (HAProxy can send each to a different backend), so a match
//! with either is a fallback. When the name's own handshake fails, another name of the same
//! run tells a refusal of this name from a server that refuses everything.

use std::future::Future;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};

use super::context::TlsContext;
use super::handshake;
use crate::cert;
use crate::report::tls::{
    CertRef, ReferenceKind, TlsAlert, TlsFailureKind, TlsReport, Vhost, VhostReference,
};

/// Whether the probe sent SNI and got far enough for a verdict to be worth more handshakes.
pub fn decidable(report: &TlsReport) -> bool {
    report.sni.is_some() && report.legacy.is_none()
}

/// The served certificate covers the requested name.
pub fn name_covered(report: &TlsReport) -> bool {
    report.verify.as_ref().is_some_and(|v| v.name_match)
}

/// The name was refused with `unrecognized_name`: a verdict without any comparison.
pub fn refused_by_name(report: &TlsReport) -> bool {
    report
        .error
        .as_ref()
        .is_some_and(|e| e.alert == Some(TlsAlert::UNRECOGNIZED_NAME))
}

/// A failure that a front end gives a name it does not route: an alert, a close, a reset or
/// silence. (Not `not_tls`, `legacy`… which say something about the server, not the name.)
pub fn routing_failure(report: &TlsReport) -> Option<TlsFailureKind> {
    let kind = report.error.as_ref()?.kind;
    matches!(
        kind,
        TlsFailureKind::Alert
            | TlsFailureKind::Closed
            | TlsFailureKind::Reset
            | TlsFailureKind::Timeout
    )
    .then_some(kind)
}

/// One reference handshake on a fresh connection from `open_fresh`: the leaf it got, or why
/// it got none.
pub async fn fetch<S, F, Fut>(
    open_fresh: &F,
    kind: ReferenceKind,
    sni: Option<&str>,
    fallback_name: ServerName<'static>,
    ctx: &TlsContext,
) -> VhostReference
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: Fn() -> Fut,
    Fut: Future<Output = Option<S>>,
{
    let Some(stream) = open_fresh().await else {
        return VhostReference {
            transient: true,
            ..reference(kind, sni, None, Some("no connection".into()))
        };
    };
    let connect_name = sni
        .and_then(|name| ServerName::try_from(name.to_string()).ok())
        .unwrap_or(fallback_name);
    let attempt = handshake::run(stream, connect_name, sni.is_some(), ctx).await;
    let error = attempt.failure.as_ref().map(failure_word);
    VhostReference {
        transient: attempt
            .failure
            .as_ref()
            .is_some_and(|f| f.kind == TlsFailureKind::Timeout),
        ..reference(kind, sni, attempt.seen.chain.first(), error)
    }
}

/// A reference from what its handshake produced: the leaf, or why there was none.
pub fn reference(
    kind: ReferenceKind,
    sni: Option<&str>,
    leaf: Option<&rustls::pki_types::CertificateDer<'_>>,
    error: Option<String>,
) -> VhostReference {
    let cert = leaf.map(|leaf| {
        let summary = cert::summarize(leaf, cert::now_unix());
        CertRef {
            subject: summary.subject,
            sha256: summary.sha256,
        }
    });
    let error = match cert {
        Some(_) => None,
        None => Some(error.unwrap_or_else(|| "no certificate".into())),
    };
    VhostReference {
        kind,
        sni: sni.map(str::to_string),
        cert,
        error,
        same_as_served: false,
        remembered: false,
        transient: false,
    }
}

/// A failed reference handshake in a word: `alert internal_error`, `timeout`, `closed`…
pub fn failure_word(failure: &crate::report::tls::TlsFailure) -> String {
    match failure.alert {
        Some(alert) => format!("alert {}", alert.name()),
        None => crate::report::word(&failure.kind),
    }
}

/// A name no server can have configured (RFC 2606 `.invalid`), different on every run.
pub fn unknown_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("reach-{:x}{:x}.invalid", std::process::id(), nanos)
}

/// The verdict once the references are in: `report` has the served leaf (or the failure).
pub fn verdict(report: &TlsReport, references: &mut [VhostReference]) -> Option<Vhost> {
    if refused_by_name(report) {
        return Some(Vhost::UnrecognizedName);
    }
    if let Some(kind) = routing_failure(report) {
        // The address serves a certificate to another name (or to no name): this name is
        // turned away, not TLS in general.
        let serves_others = references.iter().any(|r| r.cert.is_some());
        return serves_others.then_some(if kind == TlsFailureKind::Alert {
            Vhost::Refused
        } else {
            Vhost::NotRouted
        });
    }
    let leaf = report.leaf()?;
    for reference in references.iter_mut() {
        reference.same_as_served = reference
            .cert
            .as_ref()
            .is_some_and(|c| c.sha256 == leaf.sha256);
    }
    let is_default = references.iter().any(|r| r.same_as_served);
    Some(match (name_covered(report), is_default) {
        (true, true) => Vhost::MatchedDefault,
        (true, false) => Vhost::Matched,
        (false, true) => Vhost::DefaultFallback,
        (false, false) => Vhost::Mismatch,
    })
}

/// The two sets of references got the same certificates (or the same failures), kind by kind.
pub fn same_certificates(a: &[VhostReference], b: &[VhostReference]) -> bool {
    let answer = |r: &VhostReference| {
        (
            r.kind,
            r.cert.as_ref().map(|c| c.sha256.clone()),
            r.error.clone(),
        )
    };
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| answer(x) == answer(y))
}
