//! The TLS part of a report: handshake, certificate chain, checks and the virtual-host verdict.
//!
//! Owned by the TLS layer; the verdict engine (`crate::verdict`) turns it into problems.

use serde::Serialize;

pub use crate::cert::CertSummary;

/// Why a TLS handshake did not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsFailureKind {
    /// The server sent a fatal alert (named in `tls.error.alert`).
    Alert,
    /// No answer, or no complete handshake, before the deadline.
    Timeout,
    /// The server answered with something that is not TLS.
    NotTls,
    /// The server speaks only TLS 1.0/1.1 (or SSL 3): version, cipher and certificate are read
    /// from its plaintext ServerHello and Certificate.
    LegacyVersion,
    /// A TLS 1.2 server chose a cipher suite or group the TLS library does not implement
    /// (CBC, DHE, static RSA, RC4, 3DES, P-521…): not old, just unimplemented here.
    UnsupportedSuite,
    /// The server closed the connection during the handshake.
    Closed,
    /// The connection was reset during the handshake.
    Reset,
    /// A local I/O error.
    Io,
    /// No common version, cipher or group.
    Incompatible,
    /// The server's handshake signature does not verify.
    BadSignature,
    /// The server broke the protocol.
    Protocol,
    /// The server's handshake message (its certificate chain) is larger than the TLS library
    /// accepts (64 KiB); the chain is read from a TLS 1.2 retry when it can be.
    Oversized,
    /// The SNI name cannot be sent (not a DNS name).
    InvalidSni,
}

/// A TLS alert, by its RFC 8446 code; serializes as its name (`unrecognized_name`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TlsAlert(pub u8);

impl TlsAlert {
    /// `unrecognized_name` (112): the server does not serve the SNI name.
    pub const UNRECOGNIZED_NAME: TlsAlert = TlsAlert(112);

    /// The RFC 8446 / IANA name, or `alert_<n>` for an unassigned code.
    pub fn name(self) -> String {
        let name = match self.0 {
            0 => "close_notify",
            10 => "unexpected_message",
            20 => "bad_record_mac",
            21 => "decryption_failed",
            22 => "record_overflow",
            30 => "decompression_failure",
            40 => "handshake_failure",
            41 => "no_certificate",
            42 => "bad_certificate",
            43 => "unsupported_certificate",
            44 => "certificate_revoked",
            45 => "certificate_expired",
            46 => "certificate_unknown",
            47 => "illegal_parameter",
            48 => "unknown_ca",
            49 => "access_denied",
            50 => "decode_error",
            51 => "decrypt_error",
            60 => "export_restriction",
            70 => "protocol_version",
            71 => "insufficient_security",
            80 => "internal_error",
            86 => "inappropriate_fallback",
            90 => "user_canceled",
            100 => "no_renegotiation",
            109 => "missing_extension",
            110 => "unsupported_extension",
            111 => "certificate_unobtainable",
            112 => "unrecognized_name",
            113 => "bad_certificate_status_response",
            114 => "bad_certificate_hash_value",
            115 => "unknown_psk_identity",
            116 => "certificate_required",
            120 => "no_application_protocol",
            121 => "ech_required",
            code => return format!("alert_{code}"),
        };
        name.to_string()
    }
}

impl Serialize for TlsAlert {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name())
    }
}

/// Why a TLS handshake did not complete.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TlsFailure {
    /// The failure's verdict word.
    pub kind: TlsFailureKind,
    /// The alert when the server sent one (`handshake_failure`, `unrecognized_name`…).
    pub alert: Option<TlsAlert>,
    /// Human detail.
    pub detail: String,
    /// What the server sent instead of TLS (`not_tls`), bounded, as lossy UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub received: Option<String>,
}

/// A certificate check that failed: the words of `tls.verify.errors`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CertProblem {
    /// The chain ends at an issuer that is not a trusted root.
    UnknownIssuer,
    /// The server did not send an intermediate that the chain needs.
    IncompleteChain,
    /// The leaf is self-signed and not a trusted root.
    SelfSigned,
    /// A certificate in the chain has expired.
    Expired,
    /// A certificate in the chain is not valid yet.
    NotYetValid,
    /// A CA certificate is used as the server certificate.
    CaUsedAsLeaf,
    /// The leaf does not cover the requested name.
    NameMismatch,
    /// A signature in the chain does not verify.
    BadSignature,
    /// The chain is not valid for TLS server authentication.
    WrongPurpose,
    /// A signature algorithm in the chain is not supported.
    UnsupportedAlgorithm,
    /// A certificate is malformed.
    BadEncoding,
    /// A certificate has an unknown critical extension.
    UnhandledCriticalExtension,
    /// A certificate in the chain is revoked.
    Revoked,
    /// The server sent no certificate.
    NoCertificate,
    /// A key too small to be trusted (RSA below 2048 bits, EC below 224).
    WeakKey,
    /// A certificate signed with a broken algorithm (MD5, SHA-1).
    WeakSignatureAlgorithm,
    /// The chain was sent out of order (the leaf is not first).
    ChainOrder,
    /// Untrusted for another reason (the note says which).
    Untrusted,
}

impl CertProblem {
    /// A problem of trust (the chain), as opposed to the name or a notice.
    pub fn is_trust(self) -> bool {
        !matches!(self, CertProblem::NameMismatch | CertProblem::ChainOrder)
    }

    /// Worth saying, but not a failure: the probe still reached what was asked.
    pub fn is_notice(self) -> bool {
        self == CertProblem::ChainOrder
    }
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
    pub errors: Vec<CertProblem>,
    /// One readable sentence per problem, in the order of `errors`.
    pub notes: Vec<String>,
    /// Days until the first certificate in the presented chain expires (negative: expired).
    pub earliest_expiry_days: Option<i64>,
    /// Subject of the certificate that expires first.
    pub earliest_expiry_subject: Option<String>,
}

/// A stapled OCSP response: what it says, and whether that can be trusted.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct OcspReport {
    /// Whether the server stapled a response at all.
    pub stapled: bool,
    /// Size of the stapled response in bytes.
    pub size: usize,
    /// OCSP response status (`successful`, `try_later`, …) when it parsed.
    pub response_status: Option<String>,
    /// The certificate status the response gives (for this certificate when a SingleResponse
    /// names it, else the first): `good`, `revoked`, `unknown`. Trust it only when `verified`.
    pub cert_status: Option<String>,
    /// thisUpdate (RFC 3339).
    pub this_update: Option<String>,
    /// nextUpdate (RFC 3339).
    pub next_update: Option<String>,
    /// For `revoked`: when (RFC 3339).
    pub revoked_at: Option<String>,
    /// For `revoked`: the CRLReason (`key_compromise`, `superseded`…), when given.
    pub revocation_reason: Option<String>,
    /// The response is about this certificate, signed by its issuer (or a responder the
    /// issuer delegated), and current. `false` when unchecked (`--revocation off`) or when a
    /// check failed (`problem` says which).
    pub verified: bool,
    /// Who signed it, when verified: `the issuer`, or the delegated responder.
    pub signer: Option<String>,
    /// Why it is not trusted, when it was checked and is not.
    pub problem: Option<String>,
    /// Why the response could not be read, when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parse_error: Option<String>,
}

/// How far revocation is checked (`--revocation`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationMode {
    /// Not at all (a stapled response is still shown, unchecked).
    Off,
    /// The stapled OCSP response, verified (the default: no extra connection).
    #[default]
    Staple,
    /// Also ask the OCSP responder named in the leaf's AIA extension.
    Ocsp,
    /// Also fetch the CRL from the leaf's CRL distribution point.
    Crl,
}

/// The leaf's revocation status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationStatus {
    /// A verified answer says it is not revoked.
    Good,
    /// A verified answer says it is revoked: a certificate problem (`revoked`).
    Revoked,
    /// A verified OCSP answer says the responder does not know the certificate.
    Unknown,
    /// No verified answer (no staple, nothing to ask, the fetch or the check failed).
    Unavailable,
}

/// Where a revocation answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationSource {
    /// The OCSP response the server stapled.
    Staple,
    /// The OCSP responder in the leaf's AIA extension.
    Ocsp,
    /// The CRL at the leaf's distribution point.
    Crl,
}

/// The revocation verdict of the leaf certificate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RevocationReport {
    /// What was asked (`--revocation`).
    pub mode: RevocationMode,
    /// The status.
    pub status: RevocationStatus,
    /// Which answer decided (`None` for `unavailable`).
    pub source: Option<RevocationSource>,
    /// The responder or CRL location asked (`ocsp`, `crl`).
    pub url: Option<String>,
    /// For `revoked`: when (RFC 3339).
    pub revoked_at: Option<String>,
    /// For `revoked`: the CRLReason, when given.
    pub reason: Option<String>,
    /// The answer's thisUpdate (RFC 3339).
    pub this_update: Option<String>,
    /// The answer's nextUpdate (RFC 3339).
    pub next_update: Option<String>,
    /// Who signed the answer: `the issuer`, or the delegated responder.
    pub signer: Option<String>,
    /// One sentence: what was checked, or why no answer could be trusted.
    pub detail: String,
    /// Time spent fetching (`ocsp`, `crl`).
    pub ms: Option<f64>,
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

/// The virtual-host verdict: did the server route the requested name?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Vhost {
    /// The certificate served for the SNI name covers it.
    Matched,
    /// The server answered with its default certificate, which does not cover the name.
    DefaultFallback,
    /// The server refused the name with an `unrecognized_name` alert.
    UnrecognizedName,
    /// A non-default certificate that does not cover the name.
    Mismatch,
    /// Another alert for this name, while the address serves a certificate to other names
    /// (Caddy answers `internal_error`).
    Refused,
    /// The connection was closed, reset or left silent for this name, while the address
    /// serves a certificate to other names (a TCP-mode SNI router with no default backend).
    NotRouted,
    /// The name is covered, but by the certificate the server gives everyone (no SNI, or an
    /// unknown name): no virtual host of its own (`--vhost-reference always`).
    MatchedDefault,
}

impl Vhost {
    /// The name was not routed: the server fell back to its default or turned the name away.
    /// That explains a name mismatch instead of being explained by it.
    pub fn not_routed(self) -> bool {
        matches!(
            self,
            Vhost::DefaultFallback | Vhost::UnrecognizedName | Vhost::Refused | Vhost::NotRouted
        )
    }

    /// The name reached a certificate that covers it.
    pub fn routed(self) -> bool {
        matches!(self, Vhost::Matched | Vhost::MatchedDefault)
    }
}

/// Which reference handshake a [`VhostReference`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferenceKind {
    /// No SNI at all.
    NoSni,
    /// A random name under `.invalid`, which no server can have configured.
    UnknownName,
    /// Another SNI name of the same run (when the probe's own name was turned away).
    OtherName,
}

/// One reference handshake made for the virtual-host verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VhostReference {
    /// Which reference.
    pub kind: ReferenceKind,
    /// The SNI it sent (`null`: none).
    pub sni: Option<String>,
    /// The leaf it got.
    pub cert: Option<CertRef>,
    /// Why it got none (`alert internal_error`, `closed`, `timeout`, `no connection`…).
    pub error: Option<String>,
    /// Its leaf is the one served for the probe's name.
    pub same_as_served: bool,
    /// Made earlier in this run for the same address, port, transport and preamble, and not
    /// repeated for this probe (only for a name its certificate does not cover, when the
    /// served certificate is one of the remembered ones).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub remembered: bool,
    /// It failed in a way that may pass (a timeout, no connection): not remembered.
    #[serde(skip)]
    pub transient: bool,
}

/// The TLS layer of one probe.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TlsReport {
    /// Where the handshake ran: `tcp`, or `quic` (TLS 1.3 inside QUIC).
    pub transport: super::quic::TlsTransport,
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
    /// The leaf's revocation status (`--revocation`; absent when off or no certificate).
    pub revocation: Option<RevocationReport>,
    /// Virtual-host verdict (absent when no SNI was sent or no verdict was possible).
    pub vhost: Option<Vhost>,
    /// The certificate served without SNI, when it was fetched for the vhost verdict.
    pub default_cert: Option<CertRef>,
    /// The reference handshakes behind the vhost verdict (empty when none was needed).
    pub references: Vec<VhostReference>,
    /// The references remembered for this endpoint no longer matched: it was asked again and
    /// answered with other default certificates (a load balancer whose back ends differ).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub defaults_changed: bool,
    /// Set when only a legacy handshake was possible (read from the plaintext messages).
    pub legacy: Option<LegacyReport>,
    /// Set when the handshake failed.
    pub error: Option<TlsFailure>,
}

impl TlsReport {
    /// The leaf certificate, if one was seen.
    pub fn leaf(&self) -> Option<&CertSummary> {
        self.chain.first()
    }
}
