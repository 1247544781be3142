//! Certificate checks: a verifier that records the chain and lets the handshake finish
//! (signatures still verified), and the verdicts computed from the recorded chain.

use std::sync::{Arc, Mutex, MutexGuard};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, DigitallySignedStruct, Error, OtherError, RootCertStore};
use rustls::{SignatureScheme, client};

use super::chain_cache::ChainCache;
use crate::cert::CertSummary;
use crate::report::tls::{CertProblem, VerifyReport};

/// What the server presented during one handshake.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    /// The chain as presented, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The stapled OCSP response (empty: none).
    pub ocsp: Vec<u8>,
    /// The certificate message arrived (so `ocsp` is meaningful).
    pub certificate_seen: bool,
    /// The server's handshake signature scheme.
    pub scheme: Option<SignatureScheme>,
    /// The server asked for a client certificate.
    pub client_cert_requested: bool,
    /// We had one to offer for its signature schemes.
    pub client_cert_sent: bool,
    /// The handshake signature was made with a key too weak for the TLS library to verify
    /// (RSA below 2048 bits): its size. The handshake went on, unverified, so the certificate
    /// can be judged and named `weak_key` instead of looking like tampering.
    pub weak_signature_key: Option<u32>,
}

/// A `ServerCertVerifier` that records everything and accepts any chain; the verdicts are
/// computed afterwards by [`judge`]. Handshake signatures are still checked against the leaf's
/// key, so the connection is authenticated to whoever holds that key.
#[derive(Debug, Clone)]
pub struct Recorder {
    provider: Arc<CryptoProvider>,
    seen: Arc<Mutex<Seen>>,
}

impl Recorder {
    /// A recorder with an empty record.
    pub fn new(provider: Arc<CryptoProvider>) -> Recorder {
        Recorder {
            provider,
            seen: Arc::default(),
        }
    }

    /// A handle on the record, readable after the handshake (or its failure).
    pub fn seen(&self) -> Arc<Mutex<Seen>> {
        self.seen.clone()
    }
}

impl Recorder {
    /// A signature the library refused because the leaf's RSA key is below 2048 bits is let
    /// through, recorded: the key is the finding (`weak_key`, an untrusted certificate), not a
    /// forged handshake. Any other failure stands.
    fn unless_weak_key(
        &self,
        verified: Result<HandshakeSignatureValid, Error>,
        cert: &CertificateDer<'_>,
    ) -> Result<HandshakeSignatureValid, Error> {
        let Err(error) = verified else {
            return verified;
        };
        match weak_rsa_bits(cert) {
            Some(bits) => {
                lock(&self.seen).weak_signature_key = Some(bits);
                Ok(HandshakeSignatureValid::assertion())
            }
            None => Err(error),
        }
    }
}

/// The RSA modulus size of `cert`'s key when it is below the 2048-bit minimum.
fn weak_rsa_bits(cert: &CertificateDer<'_>) -> Option<u32> {
    let summary = crate::cert::summarize(cert, 0);
    weak_key(&summary)
}

/// Key too small to be trusted: RSA (or DSA) below 2048 bits, an elliptic curve below 224.
fn weak_key(summary: &CertSummary) -> Option<u32> {
    let bits = summary.key_bits?;
    let weak = match summary.key_type.as_str() {
        "RSA" | "DSA" => bits < 2048,
        "ECDSA" => bits < 224,
        _ => false,
    };
    weak.then_some(bits)
}

/// The chain is out of order when a certificate is not followed by its issuer although the
/// issuer was sent further down (TLS 1.2 requires the order; TLS 1.3 clients should cope).
fn chain_order(summaries: &[CertSummary]) -> Option<String> {
    for (i, pair) in summaries.windows(2).enumerate() {
        let (cert, next) = (&pair[0], &pair[1]);
        if cert.self_issued || next.subject == cert.issuer {
            continue;
        }
        let later = summaries[i + 2..]
            .iter()
            .position(|c| c.subject == cert.issuer)?;
        return Some(format!(
            "the chain is out of order: the issuer of {} is certificate #{} instead of #{}",
            cert.subject,
            i + 2 + later,
            i + 1
        ));
    }
    None
}

/// A signature algorithm broken for certificates (MD5, SHA-1).
fn weak_signature_algorithm(summary: &CertSummary) -> bool {
    let name = summary.signature_algorithm.to_ascii_lowercase();
    name.contains("md5") || name.contains("md2") || name.contains("sha1")
}

/// Locks a record, ignoring poisoning (the data stays usable).
pub fn lock(seen: &Mutex<Seen>) -> MutexGuard<'_, Seen> {
    seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let mut seen = lock(&self.seen);
        seen.chain = std::iter::once(end_entity)
            .chain(intermediates)
            .map(|c| c.clone().into_owned())
            .collect();
        seen.ocsp = ocsp_response.to_vec();
        seen.certificate_seen = true;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        lock(&self.seen).scheme = Some(dss.scheme);
        let verified = verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        );
        self.unless_weak_key(verified, cert)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        lock(&self.seen).scheme = Some(dss.scheme);
        let verified = verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        );
        self.unless_weak_key(verified, cert)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Inputs of the chain verdict.
pub struct Judge<'a> {
    /// Trust anchors.
    pub roots: &'a RootCertStore,
    /// Signature algorithms the chain may use.
    pub provider: &'a CryptoProvider,
    /// The name (or IP) the leaf must cover; `None` when it is not a valid name.
    pub expected: Option<&'a ServerName<'static>>,
    /// The text of that name, for the report.
    pub name_text: &'a str,
    /// Current Unix time.
    pub now: i64,
    /// Chains already found trusted with these roots.
    pub cache: &'a ChainCache,
}

/// Each check its own verdict: trust, name, expiry. `summaries` are the chain's summaries
/// (same order as `chain`).
pub fn judge(
    j: &Judge<'_>,
    chain: &[CertificateDer<'_>],
    summaries: &[CertSummary],
) -> VerifyReport {
    let mut v = VerifyReport {
        trusted: false,
        name_match: false,
        name: j.name_text.to_string(),
        errors: Vec::new(),
        notes: Vec::new(),
        earliest_expiry_days: None,
        earliest_expiry_subject: None,
    };
    if let Some(first) = summaries
        .iter()
        .filter(|s| s.days_left.is_some())
        .min_by_key(|s| s.not_after_unix)
    {
        v.earliest_expiry_days = first.days_left;
        v.earliest_expiry_subject = Some(first.subject.clone());
    }
    let (Some(leaf_der), Some(leaf)) = (chain.first(), summaries.first()) else {
        add(
            &mut v,
            CertProblem::NoCertificate,
            "the server sent no certificate".into(),
        );
        return v;
    };
    let parsed = match ParsedCertificate::try_from(leaf_der) {
        Ok(p) => p,
        Err(e) => {
            let note = if leaf_der.len() > usize::from(u16::MAX) {
                format!(
                    "the leaf certificate is {} bytes, larger than the 64 KiB the certificate \
                     verifier accepts",
                    leaf_der.len()
                )
            } else {
                format!("the leaf certificate cannot be used: {e}")
            };
            add(&mut v, CertProblem::BadEncoding, note);
            return v;
        }
    };
    match j.expected {
        Some(name) => match client::verify_server_name(&parsed, name) {
            Ok(()) => v.name_match = true,
            Err(_) => {
                let sans = if leaf.sans.is_empty() {
                    "none".into()
                } else {
                    leaf.sans.join(", ")
                };
                add(
                    &mut v,
                    CertProblem::NameMismatch,
                    format!("{} is not covered (SANs: {sans})", j.name_text),
                );
            }
        },
        None => add(
            &mut v,
            CertProblem::NameMismatch,
            format!("{:?} is not a DNS name or IP address", j.name_text),
        ),
    }
    // Weak keys and broken signature algorithms are named as such; the library would
    // otherwise report them as an unsupported algorithm or a bad signature.
    let mut weak = false;
    for cert in summaries {
        if let Some(bits) = weak_key(cert) {
            weak = true;
            add(
                &mut v,
                CertProblem::WeakKey,
                format!(
                    "{} has a {bits}-bit {} key (the minimum is {})",
                    cert.subject,
                    cert.key_type,
                    if cert.key_type == "ECDSA" { 224 } else { 2048 }
                ),
            );
        }
    }
    for cert in summaries.iter().filter(|c| !c.self_signed) {
        if weak_signature_algorithm(cert) {
            weak = true;
            add(
                &mut v,
                CertProblem::WeakSignatureAlgorithm,
                format!(
                    "{} is signed with {}",
                    cert.subject, cert.signature_algorithm
                ),
            );
        }
    }
    if let Some(note) = chain_order(summaries) {
        add(&mut v, CertProblem::ChainOrder, note);
    }
    let algs = j.provider.signature_verification_algorithms.all;
    let at = |t: i64| {
        UnixTime::since_unix_epoch(std::time::Duration::from_secs(t.max(0).unsigned_abs()))
    };
    let intermediates = &chain[1..];
    let key: String = summaries.iter().map(|s| s.sha256.as_str()).collect();
    if j.cache.trusted_at(&key, j.now) {
        v.trusted = !weak;
        return v;
    }
    match client::verify_server_cert_signed_by_trust_anchor(
        &parsed,
        j.roots,
        intermediates,
        at(j.now),
        algs,
    ) {
        Ok(()) => {
            v.trusted = !weak;
            if let Some((from, until)) = validity_window(summaries).filter(|_| !weak) {
                j.cache.remember(key, from, until);
            }
        }
        Err(err) => {
            // Validity is reported from the summaries (it covers intermediates), then the chain is
            // re-judged at a moment when every presented certificate was valid, so "expired" does
            // not hide "and it was never trusted anyway".
            let mut recheck = Some(err);
            for s in summaries {
                if s.expired {
                    add(
                        &mut v,
                        CertProblem::Expired,
                        format!(
                            "{} expired on {}",
                            s.subject,
                            s.not_after.as_deref().unwrap_or("?")
                        ),
                    );
                } else if s.not_yet_valid {
                    add(
                        &mut v,
                        CertProblem::NotYetValid,
                        format!(
                            "{} is valid only from {}",
                            s.subject,
                            s.not_before.as_deref().unwrap_or("?")
                        ),
                    );
                }
            }
            if summaries.iter().any(|s| s.expired || s.not_yet_valid) {
                recheck = valid_moment(summaries).and_then(|t| {
                    client::verify_server_cert_signed_by_trust_anchor(
                        &parsed,
                        j.roots,
                        intermediates,
                        at(t),
                        algs,
                    )
                    .err()
                });
            }
            if let Some(err) = recheck {
                explain(&mut v, &err, summaries);
            }
        }
    }
    if weak {
        // What the library called an unsupported algorithm or a bad signature is the weak
        // key or algorithm already named.
        let explained = [CertProblem::UnsupportedAlgorithm, CertProblem::BadSignature];
        let kept: Vec<(CertProblem, String)> = v
            .errors
            .iter()
            .copied()
            .zip(v.notes.iter().cloned())
            .filter(|(p, _)| !explained.contains(p))
            .collect();
        (v.errors, v.notes) = kept.into_iter().unzip();
    }
    v
}

/// The period in which every presented certificate is valid, if there is one.
fn validity_window(summaries: &[CertSummary]) -> Option<(i64, i64)> {
    let start = summaries.iter().filter_map(|s| s.not_before_unix).max()?;
    let end = summaries.iter().filter_map(|s| s.not_after_unix).min()?;
    (start <= end).then_some((start, end))
}

/// A time inside every presented certificate's validity window, if there is one.
fn valid_moment(summaries: &[CertSummary]) -> Option<i64> {
    validity_window(summaries).map(|(start, end)| start + (end - start) / 2)
}

fn add(v: &mut VerifyReport, problem: CertProblem, note: String) {
    if !v.errors.contains(&problem) {
        v.errors.push(problem);
        v.notes.push(note);
    }
}

/// Maps a webpki chain error to the report's words.
fn explain(v: &mut VerifyReport, err: &Error, summaries: &[CertSummary]) {
    let leaf = &summaries[0];
    let Error::InvalidCertificate(cert_err) = err else {
        add(v, CertProblem::Untrusted, err.to_string());
        return;
    };
    match cert_err {
        CertificateError::UnknownIssuer => unknown_issuer(v, summaries),
        CertificateError::Other(OtherError(inner))
            if inner.to_string().contains("CaUsedAsEndEntity") =>
        {
            if leaf.self_signed {
                add(
                    v,
                    CertProblem::SelfSigned,
                    format!("{} is self-signed", leaf.subject),
                );
            } else {
                add(
                    v,
                    CertProblem::CaUsedAsLeaf,
                    format!(
                        "{} is a CA certificate used as a server certificate",
                        leaf.subject
                    ),
                );
            }
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            add(
                v,
                CertProblem::Expired,
                "a certificate in the chain has expired".into(),
            );
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            add(
                v,
                CertProblem::NotYetValid,
                "a certificate in the chain is not valid yet".into(),
            );
        }
        CertificateError::BadSignature => add(
            v,
            CertProblem::BadSignature,
            "a signature in the chain does not verify".into(),
        ),
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            add(
                v,
                CertProblem::WrongPurpose,
                "the chain is not valid for TLS server authentication".into(),
            );
        }
        CertificateError::UnsupportedSignatureAlgorithmContext { .. }
        | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
            add(
                v,
                CertProblem::UnsupportedAlgorithm,
                format!("unsupported signature algorithm in the chain: {cert_err}"),
            );
        }
        CertificateError::BadEncoding => add(
            v,
            CertProblem::BadEncoding,
            "a certificate in the chain is malformed".into(),
        ),
        CertificateError::UnhandledCriticalExtension => {
            add(
                v,
                CertProblem::UnhandledCriticalExtension,
                "a certificate has an unknown critical extension".into(),
            );
        }
        CertificateError::Revoked => add(
            v,
            CertProblem::Revoked,
            "a certificate in the chain is revoked".into(),
        ),
        other => add(v, CertProblem::Untrusted, other.to_string()),
    }
}

/// `UnknownIssuer`: self-signed, a missing intermediate, or a CA nobody here trusts.
fn unknown_issuer(v: &mut VerifyReport, summaries: &[CertSummary]) {
    let leaf = &summaries[0];
    if leaf.self_signed {
        add(
            v,
            CertProblem::SelfSigned,
            format!("{} is self-signed and not a trusted root", leaf.subject),
        );
        return;
    }
    let top = summaries.last().unwrap_or(leaf);
    let issuer_sent = summaries.iter().any(|s| s.subject == top.issuer);
    if !top.self_issued && !issuer_sent && top.ca_issuers_url.is_some() {
        // The top of the chain names an issuer the server did not send, and says where to
        // download it: the classic missing intermediate. (Without that hint, a private CA
        // that is simply not trusted here looks the same, so we say unknown_issuer.)
        add(
            v,
            CertProblem::IncompleteChain,
            format!(
                "the server did not send the issuer of {} ({}); it is published at {}",
                top.subject,
                top.issuer,
                top.ca_issuers_url.as_deref().unwrap_or("?")
            ),
        );
    } else if summaries.len() == 1 {
        // Only the leaf came: the issuer may be an intermediate the server forgot or a private
        // CA; saying "not a trusted root" alone sends users after the wrong fix.
        add(
            v,
            CertProblem::UnknownIssuer,
            format!(
                "the server sent no intermediate: issuer {} is either a missing intermediate \
                 (configure the full chain on the server) or a private CA (give it with --ca-file)",
                top.issuer
            ),
        );
    } else {
        add(
            v,
            CertProblem::UnknownIssuer,
            format!("issuer {} is not a trusted root", top.issuer),
        );
    }
}
