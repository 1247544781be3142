//! The TLS part of a report: handshake, certificate chain, checks and the virtual-host verdict.
//!
//! Owned by the TLS layer; the exit-code logic only relies on [`TlsReport::handshake_failed`]
//! and [`TlsReport::certificate_problem`].

use serde::Serialize;

pub use crate::cert::CertSummary;

/// Why a TLS handshake did not complete.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TlsFailure {
    /// Stable word: `alert`, `timeout`, `not_tls`, `legacy_only`, `closed`, `reset`, `io`,
    /// `incompatible`, `bad_signature`, `protocol`, `invalid_sni`.
    pub kind: String,
    /// The alert name when the server sent one (`handshake_failure`, `unrecognized_name`…).
    pub alert: Option<String>,
    /// Human detail.
    pub detail: String,
    /// What the server sent instead of TLS (`not_tls`), bounded, as lossy UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub received: Option<String>,
}

/// Certificate checks, each its own verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerifyReport {
    /// The chain leads to a trusted root and every certificate in it is valid now.
    pub trusted: bool,
    /// The leaf covers the requested name (RFC 6125: DNS names, wildcards, IP SANs).
    pub name_match: bool,
    /// The name (or IP address) checked against the leaf.
    pub name: String,
    /// Stable words for every problem found: `unknown_issuer`, `incomplete_chain`,
    /// `self_signed`, `expired`, `not_yet_valid`, `ca_used_as_leaf`, `name_mismatch`,
    /// `bad_signature`, `wrong_purpose`, `unsupported_algorithm`, `bad_encoding`, …
    pub errors: Vec<String>,
    /// One readable sentence per problem, in the order of `errors`.
    pub notes: Vec<String>,
    /// Days until the first certificate in the presented chain expires (negative: expired).
    pub earliest_expiry_days: Option<i64>,
    /// Subject of the certificate that expires first.
    pub earliest_expiry_subject: Option<String>,
}

/// A stapled OCSP response.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OcspReport {
    /// Whether the server stapled a response at all.
    pub stapled: bool,
    /// Size of the stapled response in bytes.
    pub size: usize,
    /// OCSP response status (`successful`, `try_later`, …) when it parsed.
    pub response_status: Option<String>,
    /// The leaf's status in the first SingleResponse: `good`, `revoked`, `unknown`. The
    /// response's signature is NOT checked: this is what the server claims.
    pub cert_status: Option<String>,
    /// thisUpdate (RFC 3339).
    pub this_update: Option<String>,
    /// nextUpdate (RFC 3339).
    pub next_update: Option<String>,
    /// Why the response could not be read, when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parse_error: Option<String>,
}

/// What a server that only speaks legacy TLS (or only ciphers/groups we do not implement)
/// chose, read from its plaintext ServerHello and Certificate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LegacyReport {
    /// Version the server chose (`TLSv1.0`, `TLSv1.1`, `TLSv1.2`, `SSLv3`).
    pub version: String,
    /// Cipher suite the server chose (IANA name, or hex when unknown).
    pub cipher: String,
    /// Fixed note: `legacy TLS only: handshake not completed`.
    pub note: String,
}

/// The default certificate (served without SNI) next to the virtual-host verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CertRef {
    /// Subject (RFC 4514).
    pub subject: String,
    /// SHA-256 fingerprint.
    pub sha256: String,
}

/// The virtual-host verdict words.
pub mod vhost {
    /// The certificate served for the SNI name covers it.
    pub const MATCHED: &str = "matched";
    /// The server answered with its default certificate, which does not cover the name.
    pub const DEFAULT_FALLBACK: &str = "default_fallback";
    /// The server refused the name with an `unrecognized_name` alert.
    pub const UNRECOGNIZED_NAME: &str = "unrecognized_name";
    /// A non-default certificate that does not cover the name.
    pub const MISMATCH: &str = "mismatch";
}

/// The TLS layer of one probe.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TlsReport {
    /// The SNI actually sent (`null`: none).
    pub sni: Option<String>,
    /// Negotiated protocol version (`TLSv1.3`); for a legacy server, the version it chose.
    pub version: Option<String>,
    /// Negotiated cipher suite (IANA name); for a legacy server, the suite it chose.
    pub cipher: Option<String>,
    /// Key-exchange group (`X25519`, `secp256r1`…).
    pub group: Option<String>,
    /// Negotiated ALPN protocol.
    pub alpn: Option<String>,
    /// The server's handshake signature scheme (`ecdsa_secp256r1_sha256`…).
    pub signature_scheme: Option<String>,
    /// The server asked for a client certificate (mutual TLS).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub client_cert_requested: bool,
    /// We sent one.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub client_cert_sent: bool,
    /// Handshake duration (until failure, when it failed).
    pub handshake_ms: Option<f64>,
    /// Every certificate as presented, leaf first.
    pub chain: Vec<CertSummary>,
    /// Certificate verdicts (absent when no certificate was seen).
    pub verify: Option<VerifyReport>,
    /// Stapled OCSP response (absent when the handshake did not get that far).
    pub ocsp: Option<OcspReport>,
    /// Virtual-host verdict word (see [`vhost`]).
    pub vhost: Option<String>,
    /// The certificate served without SNI, when it was fetched for the vhost verdict.
    pub default_cert: Option<CertRef>,
    /// Set when only a legacy handshake was possible (read from the plaintext messages).
    pub legacy: Option<LegacyReport>,
    /// Set when the handshake failed.
    pub error: Option<TlsFailure>,
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
        let vhost_bad = self.vhost.as_deref().is_some_and(|v| v != vhost::MATCHED);
        !self.handshake_failed() && (cert_bad || vhost_bad)
    }

    /// The leaf certificate, if one was seen.
    pub fn leaf(&self) -> Option<&CertSummary> {
        self.chain.first()
    }
}
