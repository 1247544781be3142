//! Certificate summary from DER (x509-parser): pure, no I/O, never panics on malformed input.

use serde::Serialize;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::oid_registry::{OID_PKIX_ACCESS_DESCRIPTOR_CA_ISSUERS, Oid};
use x509_parser::public_key::PublicKey;

mod dn;

pub use dn::rfc4514;

/// Seconds in a day, for `days_left`.
const DAY: i64 = 86_400;

/// Everything a user wants to see about one certificate, as presented by the server.
///
/// Built by [`summarize`]; a certificate that does not parse still yields a summary (with
/// `parse_error` set and its fingerprint), so a hostile server can never hide its chain.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CertSummary {
    /// Subject distinguished name in RFC 4514 form (`CN=example.com,O=Example`).
    pub subject: String,
    /// Issuer distinguished name in RFC 4514 form.
    pub issuer: String,
    /// DNS names and IP addresses from the subjectAltName extension, in certificate order.
    pub sans: Vec<String>,
    /// Start of validity (RFC 3339, UTC).
    pub not_before: Option<String>,
    /// End of validity (RFC 3339, UTC).
    pub not_after: Option<String>,
    /// Whole days from now until `not_after` (negative once expired).
    pub days_left: Option<i64>,
    /// The validity period ended before now.
    pub expired: bool,
    /// The validity period starts after now.
    pub not_yet_valid: bool,
    /// Serial number as colon-separated hex bytes, as encoded.
    pub serial: String,
    /// `RSA`, `ECDSA`, `Ed25519`, `Ed448`, `DSA` or the key algorithm's OID.
    pub key_type: String,
    /// Key size in bits (RSA modulus, EC field size); `None` when unknown.
    pub key_bits: Option<u32>,
    /// Named curve for EC keys (`P-256`, `P-384`, `P-521`).
    pub key_curve: Option<String>,
    /// Signature algorithm the issuer used (`sha256WithRSAEncryption`, `ecdsa-with-SHA256`…).
    pub signature_algorithm: String,
    /// SHA-256 of the DER, uppercase hex bytes joined by `:` (as `openssl x509 -fingerprint`).
    pub sha256: String,
    /// SHA-256 of the SubjectPublicKeyInfo (the key pin of HPKP, `curl --pinnedpubkey` and
    /// DANE SPKI), in the same form as `sha256`; empty when the certificate does not parse.
    pub spki_sha256: String,
    /// basicConstraints says this is a CA.
    pub is_ca: bool,
    /// Subject and issuer are the same name.
    pub self_issued: bool,
    /// Self-issued and its signature verifies with its own key.
    pub self_signed: bool,
    /// Where the issuer's certificate can be downloaded (AIA caIssuers), if stated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_issuers_url: Option<String>,
    /// Why the DER could not be parsed; the other fields are then mostly empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parse_error: Option<String>,
    /// The certificate in PEM, when asked for (`--show-certs`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pem: Option<String>,
    /// `not_before` as a Unix time, for the chain checks.
    #[serde(skip)]
    pub not_before_unix: Option<i64>,
    /// `not_after` as a Unix time, for the chain checks.
    #[serde(skip)]
    pub not_after_unix: Option<i64>,
}

impl CertSummary {
    /// The same summary with its time-dependent fields recomputed for `now`.
    pub(crate) fn dated(mut self, now: i64) -> CertSummary {
        if let (Some(not_before), Some(not_after)) = (self.not_before_unix, self.not_after_unix) {
            self.days_left = Some((not_after - now).div_euclid(DAY));
            self.expired = now > not_after;
            self.not_yet_valid = now < not_before;
        }
        self
    }

    /// The first 8 hex digits of the fingerprint: enough to tell certificates apart in a table.
    pub fn short_fingerprint(&self) -> String {
        self.sha256.chars().filter(|c| *c != ':').take(8).collect()
    }
}

/// Summarizes one DER certificate as of `now_unix` (seconds since the Unix epoch).
pub fn summarize(der: &[u8], now_unix: i64) -> CertSummary {
    let sha256 = fingerprint(der);
    match x509_parser::parse_x509_certificate(der) {
        Ok((_rest, x509)) => {
            let mut summary = from_parsed(&x509, now_unix);
            summary.sha256 = sha256;
            summary
        }
        Err(e) => CertSummary {
            sha256,
            parse_error: Some(format!("certificate does not parse: {e}")),
            ..CertSummary::default()
        },
    }
}

/// The current time as a Unix time (0 if the clock is before 1970).
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// PEM text for one DER certificate.
pub fn to_pem(der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::with_capacity(der.len().div_ceil(3) * 4);
    for chunk in der.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                b64.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                b64.push('=');
            }
        }
    }
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

/// SHA-256 of `der` as uppercase hex bytes joined by `:`.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    hex_colon(digest.as_ref(), true)
}

fn hex_colon(bytes: &[u8], upper: bool) -> String {
    let digits: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push(char::from(digits[usize::from(b >> 4)]));
        out.push(char::from(digits[usize::from(b & 0xf)]));
    }
    out
}

fn from_parsed(x509: &X509Certificate<'_>, now: i64) -> CertSummary {
    let not_before = x509.validity().not_before.timestamp();
    let not_after = x509.validity().not_after.timestamp();
    let self_issued = x509.subject().as_raw() == x509.issuer().as_raw();
    let (key_type, key_bits, key_curve) = describe_key(x509);
    CertSummary {
        subject: rfc4514(x509.subject()),
        issuer: rfc4514(x509.issuer()),
        sans: sans(x509),
        not_before: Some(rfc3339(not_before)),
        not_after: Some(rfc3339(not_after)),
        days_left: None,
        expired: false,
        not_yet_valid: false,
        serial: hex_colon(x509.raw_serial(), false),
        key_type,
        key_bits,
        key_curve,
        signature_algorithm: signature_name(&x509.signature_algorithm.algorithm),
        sha256: String::new(),
        spki_sha256: fingerprint(x509.public_key().raw),
        is_ca: x509.is_ca(),
        self_issued,
        self_signed: self_issued && x509.verify_signature(None).is_ok(),
        ca_issuers_url: ca_issuers_url(x509),
        parse_error: None,
        pem: None,
        not_before_unix: Some(not_before),
        not_after_unix: Some(not_after),
    }
    .dated(now)
}

fn sans(x509: &X509Certificate<'_>) -> Vec<String> {
    let Ok(Some(ext)) = x509.subject_alternative_name() else {
        return Vec::new();
    };
    ext.value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => Some((*dns).to_string()),
            GeneralName::IPAddress(bytes) => Some(ip_text(bytes)),
            _ => None,
        })
        .collect()
}

fn ip_text(bytes: &[u8]) -> String {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        std::net::Ipv4Addr::from(v4).to_string()
    } else if let Ok(v6) = <[u8; 16]>::try_from(bytes) {
        std::net::Ipv6Addr::from(v6).to_string()
    } else {
        format!("ip:{}", hex_colon(bytes, false))
    }
}

fn ca_issuers_url(x509: &X509Certificate<'_>) -> Option<String> {
    x509.extensions()
        .iter()
        .find_map(|ext| match ext.parsed_extension() {
            ParsedExtension::AuthorityInfoAccess(aia) => aia
                .accessdescs
                .iter()
                .find(|d| d.access_method == OID_PKIX_ACCESS_DESCRIPTOR_CA_ISSUERS)
                .and_then(|d| match &d.access_location {
                    GeneralName::URI(uri) => Some((*uri).to_string()),
                    _ => None,
                }),
            _ => None,
        })
}

/// (type, bits, curve) of the subject public key.
fn describe_key(x509: &X509Certificate<'_>) -> (String, Option<u32>, Option<String>) {
    let spki = x509.public_key();
    let alg = spki.algorithm.algorithm.to_id_string();
    match alg.as_str() {
        "1.3.101.112" => return ("Ed25519".into(), Some(256), None),
        "1.3.101.113" => return ("Ed448".into(), Some(456), None),
        _ => {}
    }
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => ("RSA".into(), Some(significant_bits(rsa.modulus)), None),
        Ok(PublicKey::EC(_)) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|oid| oid.to_id_string());
            let (name, bits) = match curve.as_deref() {
                Some("1.2.840.10045.3.1.7") => (Some("P-256".to_string()), Some(256)),
                Some("1.3.132.0.34") => (Some("P-384".to_string()), Some(384)),
                Some("1.3.132.0.35") => (Some("P-521".to_string()), Some(521)),
                Some(other) => (Some(other.to_string()), None),
                None => (None, None),
            };
            ("ECDSA".into(), bits, name)
        }
        Ok(PublicKey::DSA(y)) => ("DSA".into(), Some(significant_bits(y)), None),
        _ => (alg, None, None),
    }
}

/// Bits in a big-endian unsigned integer, ignoring leading zero bytes and bits.
fn significant_bits(be: &[u8]) -> u32 {
    let trimmed: &[u8] = match be.iter().position(|b| *b != 0) {
        Some(first) => &be[first..],
        None => return 0,
    };
    let leading = trimmed.first().map_or(0, |b| b.leading_zeros());
    u32::try_from(trimmed.len() * 8)
        .unwrap_or(u32::MAX)
        .saturating_sub(leading)
}

fn signature_name(oid: &Oid<'_>) -> String {
    let id = oid.to_id_string();
    let name = match id.as_str() {
        "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption",
        "1.2.840.113549.1.1.4" => "md5WithRSAEncryption",
        "1.2.840.113549.1.1.10" => "rsassaPss",
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption",
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption",
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption",
        "1.2.840.10045.4.1" => "ecdsa-with-SHA1",
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256",
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384",
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512",
        "1.3.101.112" => "ED25519",
        "1.3.101.113" => "ED448",
        _ => return id,
    };
    name.to_string()
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a Unix time (proleptic Gregorian, UTC).
pub fn rfc3339(unix: i64) -> String {
    let days = unix.div_euclid(DAY);
    let secs = unix.rem_euclid(DAY);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Days since 1970-01-01 → (year, month, day); Howard Hinnant's `civil_from_days`.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests;
