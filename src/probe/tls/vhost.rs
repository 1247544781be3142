//! The virtual-host verdict: compare the certificate served for the SNI name with the one the
//! server hands out when no SNI is sent (its default).

use std::future::Future;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};

use super::context::TlsContext;
use super::handshake;
use crate::cert;
use crate::report::tls::{CertRef, TlsAlert, TlsReport, Vhost};

/// Fetches the default certificate (no SNI) on a fresh connection; `None` when the connection
/// could not be opened or the server sent no certificate.
pub async fn fetch_default<S, F, Fut>(
    open_fresh: &F,
    connect_name: ServerName<'static>,
    ctx: &TlsContext,
) -> Option<CertRef>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: Fn() -> Fut,
    Fut: Future<Output = Option<S>>,
{
    let stream = open_fresh().await?;
    let attempt = handshake::run(stream, connect_name, false, ctx).await;
    let leaf = attempt.seen.chain.first()?;
    let summary = cert::summarize(leaf, cert::now_unix());
    Some(CertRef {
        subject: summary.subject,
        sha256: summary.sha256,
    })
}

/// Whether the probe got far enough for a verdict (a certificate, or a refusal of the name);
/// otherwise the default certificate is not worth another connection.
pub fn decidable(report: &TlsReport) -> bool {
    refused(report) || (report.legacy.is_none() && report.leaf().is_some())
}

/// The served certificate covers the requested name.
pub fn name_covered(report: &TlsReport) -> bool {
    report.verify.as_ref().is_some_and(|v| v.name_match)
}

fn refused(report: &TlsReport) -> bool {
    report
        .error
        .as_ref()
        .is_some_and(|e| e.alert == Some(TlsAlert::UNRECOGNIZED_NAME))
}

/// The verdict for a probe that sent SNI, given the default certificate (if fetched).
pub fn verdict(report: &TlsReport, default: Option<&CertRef>) -> Option<Vhost> {
    if refused(report) {
        return Some(Vhost::UnrecognizedName);
    }
    if report.legacy.is_some() {
        return None;
    }
    let leaf = report.leaf()?;
    if name_covered(report) {
        Some(Vhost::Matched)
    } else if default.is_some_and(|d| d.sha256 == leaf.sha256) {
        Some(Vhost::DefaultFallback)
    } else {
        Some(Vhost::Mismatch)
    }
}
