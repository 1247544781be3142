//! OCSP (RFC 6960): reading a response (stapled, or from the responder), verifying it for one
//! certificate, and building the request the responder is asked with.
//!
//! A response is trusted only when all of these hold: it is a `successful` basic response; one
//! of its SingleResponses names this certificate (CertID: the hash of the issuer's name and
//! key, and the serial number); it is signed by the issuer itself, or by a responder
//! certificate the issuer signed with the OCSP-signing extended key usage, valid now; and now
//! is within its `thisUpdate` … `nextUpdate` window (five minutes of clock skew allowed).
//! Anything less is reported as unverified, never as a status.
//!
//! The DER is read by hand (a few nested SEQUENCEs); the signature, algorithm identifiers and
//! certificates inside go through x509-parser, which has no OCSP types of its own.

use x509_parser::certificate::X509Certificate;
use x509_parser::der_parser::asn1_rs::BitString;
use x509_parser::prelude::FromDer;
use x509_parser::x509::{AlgorithmIdentifier, SubjectPublicKeyInfo};

use super::revocation::{CertStatus, Checked, Issuer};
use crate::cert::rfc3339;
use crate::report::tls::OcspReport;

/// Clock skew tolerated on `thisUpdate` and `nextUpdate`.
pub(crate) const SKEW_SECONDS: i64 = 300;

/// One DER element: (tag byte, contents, the whole element, rest of input).
type Element<'a> = (u8, &'a [u8], &'a [u8], &'a [u8]);

fn element(input: &[u8]) -> Option<Element<'_>> {
    let (&tag, after_tag) = input.split_first()?;
    let (&first, after_len) = after_tag.split_first()?;
    let (len, body) = if first < 0x80 {
        (usize::from(first), after_len)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || after_len.len() < n {
            return None;
        }
        let len = after_len[..n]
            .iter()
            .fold(0usize, |acc, b| acc << 8 | usize::from(*b));
        (len, &after_len[n..])
    };
    let contents = body.get(..len)?;
    let header = input.len() - body.len();
    Some((tag, contents, &input[..header + len], &body[len..]))
}

/// The contents of an element with `tag`, and the rest.
fn expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (t, contents, _, rest) = element(input)?;
    (t == tag).then_some((contents, rest))
}

/// The whole element with `tag` (header included), and the rest.
fn expect_raw(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (t, _, raw, rest) = element(input)?;
    (t == tag).then_some((raw, rest))
}

const SEQUENCE: u8 = 0x30;
const ENUMERATED: u8 = 0x0a;
const OCTET_STRING: u8 = 0x04;
const INTEGER: u8 = 0x02;
const OID: u8 = 0x06;
const BIT_STRING: u8 = 0x03;
const GENERALIZED_TIME: u8 = 0x18;

/// id-pkix-ocsp-basic (1.3.6.1.5.5.7.48.1.1), contents of the OID.
const OCSP_BASIC: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01];
/// id-sha1 (1.3.14.3.2.26).
const SHA1: &[u8] = &[0x2b, 0x0e, 0x03, 0x02, 0x1a];
/// id-sha256, id-sha384, id-sha512 (2.16.840.1.101.3.4.2.1/2/3).
const SHA2_PREFIX: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02];

/// `YYYYMMDDHHMMSS[.f]Z` → Unix seconds.
pub(crate) fn generalized_time(contents: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(contents).ok()?;
    if text.len() < 15 || !text.ends_with('Z') || !text.is_char_boundary(14) {
        return None;
    }
    let digits = &text[..14];
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |range: std::ops::Range<usize>| digits[range].parse::<i64>().ok();
    let (year, month, day) = (n(0..4)?, n(4..6)?, n(6..8)?);
    let (hour, minute, second) = (n(8..10)?, n(10..12)?, n(12..14)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second.min(60))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The CRLReason words (RFC 5280 §5.3.1), `reason_<n>` for an unassigned code.
pub(crate) fn reason_word(code: u8) -> String {
    match code {
        0 => "unspecified",
        1 => "key_compromise",
        2 => "ca_compromise",
        3 => "affiliation_changed",
        4 => "superseded",
        5 => "cessation_of_operation",
        6 => "certificate_hold",
        8 => "remove_from_crl",
        9 => "privilege_withdrawn",
        10 => "aa_compromise",
        other => return format!("reason_{other}"),
    }
    .to_string()
}

/// A CertID: which certificate a SingleResponse is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CertId<'a> {
    /// Contents of the hash algorithm's OID.
    hash_oid: &'a [u8],
    issuer_name_hash: &'a [u8],
    issuer_key_hash: &'a [u8],
    /// Contents of the serial number INTEGER.
    serial: &'a [u8],
}

/// One SingleResponse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Single<'a> {
    cert_id: CertId<'a>,
    status: CertStatus,
    this_update: Option<i64>,
    next_update: Option<i64>,
}

/// A parsed response, as far as it could be read.
#[derive(Debug, Default)]
pub(crate) struct Response<'a> {
    /// `successful`, `try_later`… (`None`: not even that could be read).
    status: Option<&'static str>,
    /// The signed part, whole (header included), for the signature check.
    tbs: &'a [u8],
    signature_algorithm: &'a [u8],
    /// Contents of the signature BIT STRING (unused-bits byte first).
    signature: &'a [u8],
    /// Certificates the response carries (a delegated responder's), DER.
    certs: Vec<&'a [u8]>,
    singles: Vec<Single<'a>>,
    /// Where reading stopped, when it did not get through.
    error: Option<&'static str>,
}

fn response_status(code: u8) -> &'static str {
    match code {
        0 => "successful",
        1 => "malformed_request",
        2 => "internal_error",
        3 => "try_later",
        5 => "sig_required",
        6 => "unauthorized",
        _ => "unknown_status",
    }
}

/// Reads `der` as far as it goes.
pub(crate) fn parse(der: &[u8]) -> Response<'_> {
    let mut r = Response::default();
    if read(der, &mut r).is_none() && r.error.is_none() {
        r.error = Some("not a complete OCSP response");
    }
    r
}

fn read<'a>(der: &'a [u8], r: &mut Response<'a>) -> Option<()> {
    let (response, _) = expect(der, SEQUENCE)?;
    let (status, rest) = expect(response, ENUMERATED)?;
    r.status = Some(response_status(*status.first()?));
    if r.status != Some("successful") {
        // Only a successful response has a body.
        return Some(());
    }
    // responseBytes [0] EXPLICIT SEQUENCE { responseType OID, response OCTET STRING }
    let (explicit, _) = expect(rest, 0xa0)?;
    let (bytes, _) = expect(explicit, SEQUENCE)?;
    let (oid, rest) = expect(bytes, OID)?;
    if oid != OCSP_BASIC {
        r.error = Some("not a basic OCSP response");
        return None;
    }
    let (basic, _) = expect(rest, OCTET_STRING)?;
    let (basic, _) = expect(basic, SEQUENCE)?;
    let (tbs, rest) = expect_raw(basic, SEQUENCE)?;
    r.tbs = tbs;
    let (alg, rest) = expect_raw(rest, SEQUENCE)?;
    r.signature_algorithm = alg;
    let (signature, rest) = expect(rest, BIT_STRING)?;
    r.signature = signature;
    if let Some((certs, _)) = expect(rest, 0xa0) {
        let (mut list, _) = expect(certs, SEQUENCE)?;
        while let Some((cert, next)) = expect_raw(list, SEQUENCE) {
            r.certs.push(cert);
            list = next;
        }
    }
    // ResponseData: version [0] (optional), responderID ([1] or [2]), producedAt, responses.
    let (data, _) = expect(tbs, SEQUENCE)?;
    let mut rest = data;
    if let Some((_, after)) = expect(rest, 0xa0) {
        rest = after;
    }
    let (_, _, _, after) = element(rest)?;
    let (_produced, after) = expect(after, GENERALIZED_TIME)?;
    let (mut responses, _) = expect(after, SEQUENCE)?;
    while let Some((single, next)) = expect(responses, SEQUENCE) {
        r.singles.push(read_single(single)?);
        responses = next;
    }
    Some(())
}

fn read_single(single: &[u8]) -> Option<Single<'_>> {
    let (cert_id, rest) = expect(single, SEQUENCE)?;
    let (alg, id_rest) = expect(cert_id, SEQUENCE)?;
    let (hash_oid, _) = expect(alg, OID)?;
    let (issuer_name_hash, id_rest) = expect(id_rest, OCTET_STRING)?;
    let (issuer_key_hash, id_rest) = expect(id_rest, OCTET_STRING)?;
    let (serial, _) = expect(id_rest, INTEGER)?;
    let (status_tag, status_body, _, rest) = element(rest)?;
    let status = match status_tag {
        0x80 => CertStatus::Good,
        0xa1 => {
            // RevokedInfo: revocationTime, revocationReason [0] EXPLICIT ENUMERATED OPTIONAL.
            let (time, after) = expect(status_body, GENERALIZED_TIME)?;
            let reason = expect(after, 0xa0)
                .and_then(|(r, _)| expect(r, ENUMERATED))
                .and_then(|(code, _)| code.first().copied());
            CertStatus::Revoked {
                at: generalized_time(time),
                reason,
            }
        }
        _ => CertStatus::Unknown,
    };
    let (this_update, rest) = expect(rest, GENERALIZED_TIME)?;
    let next_update = expect(rest, 0xa0)
        .and_then(|(next, _)| expect(next, GENERALIZED_TIME))
        .and_then(|(t, _)| generalized_time(t));
    Some(Single {
        cert_id: CertId {
            hash_oid,
            issuer_name_hash,
            issuer_key_hash,
            serial,
        },
        status,
        this_update: generalized_time(this_update),
        next_update,
    })
}

/// The digest of `data` with the CertID hash algorithm `oid` (`None`: not one we know).
fn digest(oid: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    use ring::digest as d;
    let alg = if oid == SHA1 {
        &d::SHA1_FOR_LEGACY_USE_ONLY
    } else if oid.len() == SHA2_PREFIX.len() + 1 && oid.starts_with(SHA2_PREFIX) {
        match oid[SHA2_PREFIX.len()] {
            1 => &d::SHA256,
            2 => &d::SHA384,
            3 => &d::SHA512,
            _ => return None,
        }
    } else {
        return None;
    };
    Some(d::digest(alg, data).as_ref().to_vec())
}

/// Whether `id` names `leaf` issued by `issuer`.
fn names(id: &CertId<'_>, leaf: &X509Certificate<'_>, issuer: &Issuer) -> bool {
    let Some(key) = issuer.key_bits() else {
        return false;
    };
    id.serial == leaf.raw_serial()
        && digest(id.hash_oid, &issuer.name_der).as_deref() == Some(id.issuer_name_hash)
        && digest(id.hash_oid, &key).as_deref() == Some(id.issuer_key_hash)
}

/// Whether `spki` signed `data` with `algorithm` and `signature`.
pub(crate) fn signed_by(
    spki: &SubjectPublicKeyInfo<'_>,
    algorithm: &AlgorithmIdentifier<'_>,
    signature: &BitString<'_>,
    data: &[u8],
) -> bool {
    x509_parser::verify::verify_signature(spki, algorithm, signature, data).is_ok()
}

/// Whether `spki` signed the response `r`.
fn response_signed_by(spki: &SubjectPublicKeyInfo<'_>, r: &Response<'_>) -> bool {
    let Ok((_, algorithm)) = AlgorithmIdentifier::from_der(r.signature_algorithm) else {
        return false;
    };
    let Some((&0, bits)) = r.signature.split_first() else {
        return false;
    };
    signed_by(spki, &algorithm, &BitString::new(0, bits), r.tbs)
}

/// The OCSP-signing extended key usage.
fn may_sign_ocsp(cert: &X509Certificate<'_>) -> bool {
    matches!(cert.extended_key_usage(), Ok(Some(eku)) if eku.value.ocsp_signing)
}

/// Checks `der` for `leaf` issued by `issuer` at `now` (see the module documentation).
/// `Err` says why the response cannot be trusted.
pub(crate) fn verify(
    der: &[u8],
    leaf: &X509Certificate<'_>,
    issuer: &Issuer,
    now: i64,
) -> Result<Checked, String> {
    let r = parse(der);
    match r.status {
        Some("successful") => {}
        Some(other) => return Err(format!("the responder answered {other}")),
        None => return Err(r.error.unwrap_or("not an OCSP response").to_string()),
    }
    if let Some(error) = r.error {
        return Err(error.to_string());
    }
    let Some(single) = r.singles.iter().find(|s| names(&s.cert_id, leaf, issuer)) else {
        return Err(format!(
            "the response is about {} other certificate(s), not this one (no CertID names its \
             serial and issuer)",
            r.singles.len()
        ));
    };
    let issuer_spki = issuer
        .spki()
        .ok_or_else(|| "the issuer's public key cannot be read".to_string())?;
    let signer = if response_signed_by(&issuer_spki, &r) {
        "the issuer".to_string()
    } else {
        delegated_signer(&r, issuer, &issuer_spki, now)?
    };
    let this_update = single
        .this_update
        .ok_or_else(|| "its thisUpdate cannot be read".to_string())?;
    if this_update > now + SKEW_SECONDS {
        return Err(format!(
            "it is not valid yet (thisUpdate {})",
            rfc3339(this_update)
        ));
    }
    if let Some(next) = single.next_update
        && next < now - SKEW_SECONDS
    {
        return Err(format!("it is out of date (nextUpdate {})", rfc3339(next)));
    }
    Ok(Checked {
        status: single.status,
        this_update: Some(this_update),
        next_update: single.next_update,
        signer,
    })
}

/// A responder certificate in the response that the issuer signed for OCSP, valid now, and
/// whose key signed the response; `Err` when there is none.
fn delegated_signer(
    r: &Response<'_>,
    issuer: &Issuer,
    issuer_spki: &SubjectPublicKeyInfo<'_>,
    now: i64,
) -> Result<String, String> {
    let mut why = "it is not signed by the issuer, and carries no responder certificate";
    for der in &r.certs {
        let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
            why = "its responder certificate cannot be read";
            continue;
        };
        let issued = cert.issuer().as_raw() == issuer.name_der.as_slice()
            && signed_by(
                issuer_spki,
                &cert.signature_algorithm,
                &cert.signature_value,
                cert.tbs_certificate.as_ref(),
            );
        if !issued {
            why = "its responder certificate was not issued by the certificate's issuer";
            continue;
        }
        if !may_sign_ocsp(&cert) {
            why = "its responder certificate lacks the OCSP-signing extended key usage";
            continue;
        }
        let validity = cert.validity();
        if now < validity.not_before.timestamp() || now > validity.not_after.timestamp() {
            why = "its responder certificate is not valid now";
            continue;
        }
        if !response_signed_by(cert.public_key(), r) {
            why = "its signature does not verify";
            continue;
        }
        return Ok(format!(
            "a responder the issuer delegated ({})",
            crate::cert::rfc4514(cert.subject())
        ));
    }
    Err(why.to_string())
}

/// DER: `tag`, the length of `body`, `body`.
fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = body.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(body);
    out
}

/// The OCSPRequest for `leaf` issued by `issuer` (SHA-1 CertID, as RFC 5019 responders
/// expect; no nonce: the response's own validity window is checked instead).
pub(crate) fn request(leaf: &X509Certificate<'_>, issuer: &Issuer) -> Option<Vec<u8>> {
    let key = issuer.key_bits()?;
    let mut alg = tlv(OID, SHA1);
    alg.extend_from_slice(&[0x05, 0x00]);
    let mut cert_id = tlv(SEQUENCE, &alg);
    cert_id.extend(tlv(OCTET_STRING, &digest(SHA1, &issuer.name_der)?));
    cert_id.extend(tlv(OCTET_STRING, &digest(SHA1, &key)?));
    cert_id.extend(tlv(INTEGER, leaf.raw_serial()));
    let request = tlv(SEQUENCE, &tlv(SEQUENCE, &cert_id));
    let request_list = tlv(SEQUENCE, &request);
    let tbs_request = tlv(SEQUENCE, &request_list);
    Some(tlv(SEQUENCE, &tbs_request))
}

/// What a stapled response says, read without trusting it (`verified` is set by the
/// revocation check).
pub fn summarize(der: &[u8]) -> OcspReport {
    let mut report = OcspReport {
        stapled: !der.is_empty(),
        size: der.len(),
        ..OcspReport::default()
    };
    if der.is_empty() {
        return report;
    }
    let r = parse(der);
    report.response_status = r.status.map(str::to_string);
    if let Some(single) = r.singles.first() {
        report.cert_status = Some(single.status.word().to_string());
        report.this_update = single.this_update.map(rfc3339);
        report.next_update = single.next_update.map(rfc3339);
        if let CertStatus::Revoked { at, reason } = single.status {
            report.revoked_at = at.map(rfc3339);
            report.revocation_reason = reason.map(reason_word);
        }
    }
    let status_expected = matches!(r.status, None | Some("successful"));
    if status_expected && (r.error.is_some() || r.singles.is_empty()) {
        report.parse_error = Some(r.error.unwrap_or("no SingleResponse").to_string());
    }
    report
}

#[cfg(test)]
mod tests;
