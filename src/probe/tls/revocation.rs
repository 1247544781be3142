//! Revocation of the leaf certificate (`--revocation off|staple|ocsp|crl`, default `staple`):
//! the stapled OCSP response is verified ([`ocsp::verify`]); with `ocsp` the responder named in
//! the leaf's AIA extension is asked too, with `crl` the CRL at its distribution point is
//! fetched ([`crl::check`]), each over plain HTTP under its own deadline and size bound
//! ([`http`]), and only to the location the certificate names.
//!
//! A verified `revoked` answer is a certificate problem (`revoked`: the chain is not trusted);
//! every other outcome is reported and changes no verdict (soft fail, as browsers do): a
//! responder that is down, an unverifiable staple or a CRL that cannot be fetched say so in
//! `tls.revocation`, never `good`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
use x509_parser::oid_registry::OID_PKIX_ACCESS_DESCRIPTOR_OCSP;
use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo;

use super::context::TlsContext;
use super::ocsp;
use crate::cert::rfc3339;
use crate::report::tls::{
    CertProblem, RevocationMode, RevocationReport, RevocationSource, RevocationStatus, TlsReport,
};

pub(crate) mod crl;
pub(crate) mod http;

/// The largest OCSP response fetched.
const MAX_OCSP: usize = 64 * 1024;
/// The largest CRL fetched (large public CAs publish CRLs of several megabytes).
const MAX_CRL: usize = 16 * 1024 * 1024;

/// How revocation is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevocationOptions {
    /// What to check.
    pub mode: RevocationMode,
    /// Deadline of each fetch (resolution, connect, request and answer).
    pub timeout: Duration,
}

impl Default for RevocationOptions {
    fn default() -> Self {
        RevocationOptions {
            mode: RevocationMode::Staple,
            timeout: Duration::from_secs(5),
        }
    }
}

/// Answers fetched in this run (`ocsp`, `crl`), by leaf certificate: a latency series or a
/// sweep of many names served the same certificate asks its responder once. Bounded.
#[derive(Debug, Default)]
pub(crate) struct Fetched {
    answers: Mutex<HashMap<Vec<u8>, RevocationReport>>,
}

/// Most leaves remembered; the memory is emptied when it is full.
const FETCHED_CAPACITY: usize = 256;

impl Fetched {
    fn get(&self, leaf: &[u8]) -> Option<RevocationReport> {
        let answers = self.answers.lock().unwrap_or_else(|p| p.into_inner());
        answers.get(leaf).cloned()
    }

    fn remember(&self, leaf: &[u8], report: &RevocationReport) {
        let mut answers = self.answers.lock().unwrap_or_else(|p| p.into_inner());
        if answers.len() >= FETCHED_CAPACITY {
            answers.clear();
        }
        answers.insert(leaf.to_vec(), report.clone());
    }
}

/// A certificate's status in a verified answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CertStatus {
    Good,
    Revoked {
        /// Unix time.
        at: Option<i64>,
        /// CRLReason code.
        reason: Option<u8>,
    },
    Unknown,
}

impl CertStatus {
    pub(crate) fn word(self) -> &'static str {
        match self {
            CertStatus::Good => "good",
            CertStatus::Revoked { .. } => "revoked",
            CertStatus::Unknown => "unknown",
        }
    }
}

/// A verified answer about one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Checked {
    pub status: CertStatus,
    pub this_update: Option<i64>,
    pub next_update: Option<i64>,
    /// `the issuer`, or the delegated responder.
    pub signer: String,
}

/// The certificate that issued the leaf: its subject (DER, the whole Name) and public key
/// (DER, the whole SubjectPublicKeyInfo).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Issuer {
    pub name_der: Vec<u8>,
    pub spki_der: Vec<u8>,
}

impl Issuer {
    pub(crate) fn spki(&self) -> Option<SubjectPublicKeyInfo<'_>> {
        SubjectPublicKeyInfo::from_der(&self.spki_der)
            .ok()
            .map(|(_, spki)| spki)
    }

    /// The public key's BIT STRING contents, without the unused-bits byte (what OCSP hashes).
    pub(crate) fn key_bits(&self) -> Option<Vec<u8>> {
        self.spki().map(|s| s.subject_public_key.data.to_vec())
    }
}

/// DER SEQUENCE around `contents` (trust anchors keep only the contents).
fn sequence(contents: &[u8]) -> Vec<u8> {
    let mut out = vec![0x30];
    let len = contents.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(contents);
    out
}

/// The issuer of `leaf`: a certificate the server sent, or a trust anchor, whose subject is
/// the leaf's issuer and whose key verifies the leaf's signature.
pub(crate) fn find_issuer(
    leaf: &X509Certificate<'_>,
    intermediates: &[CertificateDer<'_>],
    roots: &RootCertStore,
) -> Option<Issuer> {
    let wanted = leaf.issuer().as_raw();
    let sent = intermediates.iter().filter_map(|der| {
        let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
        (cert.subject().as_raw() == wanted).then(|| Issuer {
            name_der: wanted.to_vec(),
            spki_der: cert.public_key().raw.to_vec(),
        })
    });
    let anchors = roots
        .roots
        .iter()
        .filter(|anchor| sequence(anchor.subject.as_ref()) == wanted)
        .map(|anchor| Issuer {
            name_der: wanted.to_vec(),
            spki_der: sequence(anchor.subject_public_key_info.as_ref()),
        });
    sent.chain(anchors).find(|issuer| {
        issuer.spki().is_some_and(|spki| {
            ocsp::signed_by(
                &spki,
                &leaf.signature_algorithm,
                &leaf.signature_value,
                leaf.tbs_certificate.as_ref(),
            )
        })
    })
}

/// The leaf's OCSP responder URLs (AIA) or CRL distribution points, in order.
fn locations(leaf: &X509Certificate<'_>, mode: RevocationMode) -> Vec<String> {
    let mut urls = Vec::new();
    for ext in leaf.extensions() {
        match (mode, ext.parsed_extension()) {
            (RevocationMode::Ocsp, ParsedExtension::AuthorityInfoAccess(aia)) => {
                for desc in &aia.accessdescs {
                    if desc.access_method == OID_PKIX_ACCESS_DESCRIPTOR_OCSP
                        && let GeneralName::URI(uri) = &desc.access_location
                    {
                        urls.push((*uri).to_string());
                    }
                }
            }
            (RevocationMode::Crl, ParsedExtension::CRLDistributionPoints(points)) => {
                for point in points.iter() {
                    if let Some(DistributionPointName::FullName(names)) = &point.distribution_point
                    {
                        for name in names {
                            if let GeneralName::URI(uri) = name {
                                urls.push((*uri).to_string());
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    urls
}

fn unavailable(mode: RevocationMode, detail: String) -> RevocationReport {
    RevocationReport {
        mode,
        status: RevocationStatus::Unavailable,
        source: None,
        url: None,
        revoked_at: None,
        reason: None,
        this_update: None,
        next_update: None,
        signer: None,
        detail,
        ms: None,
    }
}

fn answered(mode: RevocationMode, source: RevocationSource, checked: &Checked) -> RevocationReport {
    let (status, revoked_at, reason) = match checked.status {
        CertStatus::Good => (RevocationStatus::Good, None, None),
        CertStatus::Unknown => (RevocationStatus::Unknown, None, None),
        CertStatus::Revoked { at, reason } => (
            RevocationStatus::Revoked,
            at.map(rfc3339),
            reason.map(ocsp::reason_word),
        ),
    };
    let from = match source {
        RevocationSource::Staple => "the stapled OCSP response",
        RevocationSource::Ocsp => "the OCSP responder",
        RevocationSource::Crl => "the CRL",
    };
    let detail = match status {
        RevocationStatus::Revoked => format!(
            "revoked{}{}, per {from}, signed by {}",
            revoked_at
                .as_deref()
                .map(|t| format!(" on {t}"))
                .unwrap_or_default(),
            reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default(),
            checked.signer
        ),
        RevocationStatus::Unknown => {
            format!(
                "{from}, signed by {}, does not know this certificate",
                checked.signer
            )
        }
        _ => format!("not revoked, per {from}, signed by {}", checked.signer),
    };
    RevocationReport {
        mode,
        status,
        source: Some(source),
        url: None,
        revoked_at,
        reason,
        this_update: checked.this_update.map(rfc3339),
        next_update: checked.next_update.map(rfc3339),
        signer: Some(checked.signer.clone()),
        detail,
        ms: None,
    }
}

/// Checks the revocation of the leaf of `chain` (as presented) as `ctx` asks, with `staple`
/// the stapled OCSP response (empty: none). Fills `report.ocsp`'s verification,
/// `report.revocation`, and a `revoked` certificate problem.
pub(crate) async fn check(
    report: &mut TlsReport,
    chain: &[CertificateDer<'_>],
    staple: &[u8],
    ctx: &TlsContext,
) {
    let mode = ctx.revocation.mode;
    if mode == RevocationMode::Off {
        return;
    }
    let Some(leaf_der) = chain.first() else {
        return;
    };
    let Ok((_, leaf)) = x509_parser::parse_x509_certificate(leaf_der) else {
        report.revocation = Some(unavailable(
            mode,
            "the leaf certificate cannot be read".to_string(),
        ));
        return;
    };
    let now = crate::cert::now_unix();
    let fetches = matches!(mode, RevocationMode::Ocsp | RevocationMode::Crl);
    let known = if fetches {
        ctx.fetched.get(leaf_der)
    } else {
        None
    };
    // Finding the issuer costs a signature verification: only done when an answer about the
    // leaf is to be verified (a staple, or a responder or CRL not asked yet in this run).
    let wants_issuer = !staple.is_empty() || (fetches && known.is_none());
    let issuer = if wants_issuer {
        find_issuer(&leaf, &chain[1..], &ctx.roots)
    } else {
        None
    };
    let no_issuer = || {
        "the leaf's issuer is neither in the chain the server sent nor a trust anchor, so no \
         answer about it can be verified"
            .to_string()
    };
    let stapled = (!staple.is_empty()).then(|| match &issuer {
        Some(issuer) => ocsp::verify(staple, &leaf, issuer, now),
        None => Err(no_issuer()),
    });
    if let (Some(result), Some(summary)) = (&stapled, report.ocsp.as_mut()) {
        match result {
            Ok(checked) => {
                summary.verified = true;
                summary.signer = Some(checked.signer.clone());
                summary.cert_status = Some(checked.status.word().to_string());
            }
            Err(why) => summary.problem = Some(why.clone()),
        }
    }
    let from_staple = match &stapled {
        Some(Ok(checked)) => answered(mode, RevocationSource::Staple, checked),
        Some(Err(why)) => {
            let claims = report
                .ocsp
                .as_ref()
                .and_then(|o| o.cert_status.clone())
                .map(|s| format!(" (it says {s})"))
                .unwrap_or_default();
            unavailable(
                mode,
                format!("the stapled OCSP response is not trusted{claims}: {why}"),
            )
        }
        None => unavailable(mode, "the server stapled no OCSP response".to_string()),
    };
    let mut verdict = match mode {
        RevocationMode::Ocsp | RevocationMode::Crl => match (&issuer, known) {
            (_, Some(known)) => known,
            (Some(issuer), None) => {
                let answer = fetched(mode, &leaf, issuer, now, ctx).await;
                ctx.fetched.remember(leaf_der, &answer);
                answer
            }
            (None, None) => unavailable(mode, no_issuer()),
        },
        _ => from_staple.clone(),
    };
    // A verified `revoked` staple stands whatever the responder or CRL said.
    if from_staple.status == RevocationStatus::Revoked
        && verdict.status != RevocationStatus::Revoked
    {
        verdict = RevocationReport {
            mode,
            ..from_staple
        };
    }
    if verdict.status == RevocationStatus::Revoked
        && let Some(verify) = report.verify.as_mut()
    {
        verify.trusted = false;
        if !verify.errors.contains(&CertProblem::Revoked) {
            verify.errors.push(CertProblem::Revoked);
            verify
                .notes
                .push(format!("the certificate was {}", verdict.detail));
        }
    }
    report.revocation = Some(verdict);
}

/// Asks the responder (`ocsp`) or fetches the CRL (`crl`) the leaf names.
async fn fetched(
    mode: RevocationMode,
    leaf: &X509Certificate<'_>,
    issuer: &Issuer,
    now: i64,
    ctx: &TlsContext,
) -> RevocationReport {
    let (source, what) = match mode {
        RevocationMode::Crl => (RevocationSource::Crl, "CRL distribution point"),
        _ => (RevocationSource::Ocsp, "OCSP responder (AIA)"),
    };
    let urls = locations(leaf, mode);
    let Some(url) = urls
        .iter()
        .find(|u| u.to_ascii_lowercase().starts_with("http://"))
    else {
        let detail = match urls.first() {
            Some(first) => format!(
                "the certificate names no http:// {what}, only {first} (https:// and other \
                 locations are not fetched)"
            ),
            None => format!("the certificate names no {what}"),
        };
        return unavailable(mode, detail);
    };
    let started = Instant::now();
    let (max_body, body) = match mode {
        RevocationMode::Crl => (MAX_CRL, None),
        _ => match ocsp::request(leaf, issuer) {
            Some(request) => (MAX_OCSP, Some(request)),
            None => return unavailable(mode, "no OCSP request can be built".to_string()),
        },
    };
    let limits = http::Limits {
        timeout: ctx.revocation.timeout,
        max_body,
    };
    let fetched = http::fetch(
        url,
        body.as_deref().map(|b| ("application/ocsp-request", b)),
        limits,
    )
    .await;
    let ms = Some(started.elapsed().as_secs_f64() * 1000.0);
    let checked = fetched.and_then(|answer| match mode {
        RevocationMode::Crl => crl::check(&answer, leaf, issuer, now),
        _ => ocsp::verify(&answer, leaf, issuer, now),
    });
    let mut report = match checked {
        Ok(checked) => answered(mode, source, &checked),
        Err(why) => unavailable(mode, why),
    };
    report.url = Some(url.clone());
    report.ms = ms;
    report
}

#[cfg(test)]
mod tests;
