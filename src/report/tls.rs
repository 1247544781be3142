//! The TLS part of a report: handshake, certificate chain, checks and the virtual-host verdict.
//!
//! Owned by the TLS layer; the exit-code logic only relies on [`TlsReport::handshake_failed`]
//! and [`TlsReport::certificate_problem`].

use serde::Serialize;

/// Why a TLS handshake did not complete.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TlsFailure {
    /// Stable word: `alert`, `timeout`, `not_tls`, `legacy_only`, `closed`, `io`, …
    pub kind: String,
    /// The alert name when the server sent one (`handshake_failure`, `unrecognized_name`…).
    pub alert: Option<String>,
    /// Human detail.
    pub detail: String,
}

/// Certificate checks, each its own verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerifyReport {
    /// The chain leads to a trusted root.
    pub trusted: bool,
    /// The leaf covers the requested name.
    pub name_match: bool,
    /// Stable words for every problem found (`unknown_issuer`, `expired`, `name_mismatch`…).
    pub errors: Vec<String>,
}

/// The TLS layer of one probe.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TlsReport {
    /// The SNI actually sent (`null`: none).
    pub sni: Option<String>,
    /// Negotiated protocol version (`TLSv1.3`).
    pub version: Option<String>,
    /// Negotiated cipher suite.
    pub cipher: Option<String>,
    /// Handshake duration.
    pub handshake_ms: Option<f64>,
    /// Set when the handshake failed.
    pub error: Option<TlsFailure>,
    /// Certificate verdicts (absent when no certificate was seen).
    pub verify: Option<VerifyReport>,
    /// Virtual-host verdict word.
    pub vhost: Option<String>,
}

impl TlsReport {
    /// The handshake did not complete.
    pub fn handshake_failed(&self) -> bool {
        self.error.is_some()
    }

    /// The handshake completed but a certificate check (or the virtual host) failed.
    pub fn certificate_problem(&self) -> bool {
        let cert_bad = self
            .verify
            .as_ref()
            .is_some_and(|v| !v.trusted || !v.name_match);
        let vhost_bad = self.vhost.as_deref().is_some_and(|v| v != "matched");
        !self.handshake_failed() && (cert_bad || vhost_bad)
    }
}
