//! Certificate summaries checked against what `openssl x509` printed for the same fixtures
//! (testdata/certs, see testdata/README.md), and against malformed input.

use super::*;
use std::collections::HashMap;

fn fixture(name: &str) -> (Vec<u8>, HashMap<String, String>) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/certs/");
    let der = std::fs::read(format!("{dir}{name}.der")).expect("fixture DER");
    let expect = std::fs::read_to_string(format!("{dir}{name}.expect")).expect("fixture expect");
    let map = expect
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    (der, map)
}

/// `2026-11-21 10:49:49Z` (openssl iso_8601) → `2026-11-21T10:49:49Z`.
fn iso(openssl: &str) -> String {
    openssl.replacen(' ', "T", 1)
}

/// openssl prints `DNS:a, IP Address:2001:DB8:0:0:0:0:0:1`; we print `a`, `2001:db8::1`.
fn openssl_sans(text: &str) -> Vec<String> {
    text.split(", ")
        .map(|s| {
            if let Some(dns) = s.strip_prefix("DNS:") {
                dns.to_string()
            } else if let Some(ip) = s.strip_prefix("IP Address:") {
                ip.parse::<std::net::IpAddr>().expect("ip").to_string()
            } else {
                s.to_string()
            }
        })
        .collect()
}

fn check_against_openssl(name: &str) -> CertSummary {
    let (der, want) = fixture(name);
    let not_before = iso(&want["notBefore"]);
    // Judge the certificate one day into its validity: the fixtures may be old.
    let now = crate::cert::tests::unix_of(&not_before) + DAY;
    let s = summarize(&der, now);
    assert_eq!(s.parse_error, None, "{name}");
    assert_eq!(s.subject, want["subject"], "{name} subject");
    assert_eq!(s.issuer, want["issuer"], "{name} issuer");
    assert_eq!(
        s.serial
            .replace(':', "")
            .to_uppercase()
            .trim_start_matches('0'),
        want["serial"].trim_start_matches('0'),
        "{name} serial"
    );
    assert_eq!(s.not_before.as_deref(), Some(not_before.as_str()));
    assert_eq!(s.not_after, Some(iso(&want["notAfter"])), "{name} notAfter");
    assert_eq!(s.sha256, want["sha256"], "{name} fingerprint");
    let sans = want
        .get("sans")
        .map(|t| openssl_sans(t))
        .unwrap_or_default();
    assert_eq!(s.sans, sans, "{name} SANs");
    assert_eq!(s.signature_algorithm, want["signature"], "{name} signature");
    assert!(!s.expired && !s.not_yet_valid, "{name} validity");
    s
}

/// Inverse of [`rfc3339`] for the fixtures' timestamps.
fn unix_of(rfc: &str) -> i64 {
    (0..200_000i64)
        .map(|d| d * DAY)
        .find(|t| rfc3339(*t)[..10] == rfc[..10])
        .map(|t| {
            let hms: Vec<i64> = rfc[11..19]
                .split(':')
                .map(|x| x.parse().expect("num"))
                .collect();
            t + hms[0] * 3600 + hms[1] * 60 + hms[2]
        })
        .expect("date in range")
}

#[test]
fn rsa_leaf_matches_openssl() {
    let s = check_against_openssl("leaf-rsa");
    assert_eq!(s.key_type, "RSA");
    assert_eq!(s.key_bits, Some(2048));
    assert!(!s.is_ca && !s.self_issued && !s.self_signed);
    assert_eq!(
        s.ca_issuers_url.as_deref(),
        Some("http://ca.example.test/root.crt")
    );
    assert_eq!(s.sans[3], "2001:db8::1");
}

#[test]
fn ec_leaf_with_multivalued_rdn_matches_openssl() {
    let s = check_against_openssl("leaf-ec384");
    assert_eq!(s.key_type, "ECDSA");
    assert_eq!(s.key_curve.as_deref(), Some("P-384"));
    assert_eq!(s.key_bits, Some(384));
}

#[test]
fn self_signed_root_and_ed25519_are_recognised() {
    let ca = check_against_openssl("ca-rsa");
    assert!(ca.is_ca && ca.self_issued && ca.self_signed);
    let ed = check_against_openssl("self-ed25519");
    assert_eq!(ed.key_type, "Ed25519");
    assert!(ed.self_signed && ed.self_issued);
}

#[test]
fn days_left_and_validity_follow_now() {
    let (der, want) = fixture("self-ed25519");
    let not_after = unix_of(&iso(&want["notAfter"]));
    let s = summarize(&der, not_after - 3 * DAY);
    assert_eq!(s.days_left, Some(3));
    let s = summarize(&der, not_after + 1);
    assert!(s.expired);
    assert_eq!(s.days_left, Some(-1));
    let s = summarize(&der, unix_of(&iso(&want["notBefore"])) - 10);
    assert!(s.not_yet_valid && !s.expired);
}

#[test]
fn rfc3339_handles_epoch_leap_years_and_negatives() {
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    assert_eq!(rfc3339(4_102_444_800), "2100-01-01T00:00:00Z");
}

#[test]
fn pem_round_trips_through_x509_parser() {
    let (der, _) = fixture("leaf-rsa");
    let pem = to_pem(&der);
    let (_, parsed) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).expect("pem parses");
    assert_eq!(parsed.contents, der);
    assert!(pem.lines().all(|l| l.len() <= 64));
}

/// xorshift64*: deterministic noise without a dependency.
fn noise(seed: &mut u64) -> u64 {
    *seed ^= *seed >> 12;
    *seed ^= *seed << 25;
    *seed ^= *seed >> 27;
    seed.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

#[test]
fn malformed_der_never_panics() {
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    for name in ["leaf-rsa", "leaf-ec384", "self-ed25519", "ca-rsa"] {
        let (der, _) = fixture(name);
        // Every truncation.
        for len in 0..der.len() {
            let s = summarize(&der[..len], 0);
            assert!(
                s.parse_error.is_some() || len > 0,
                "{name} truncated to {len}"
            );
        }
        // Random byte flips.
        for _ in 0..3000 {
            let mut bad = der.clone();
            for _ in 0..=(noise(&mut seed) % 4) {
                let at = (noise(&mut seed) as usize) % bad.len();
                bad[at] = noise(&mut seed) as u8;
            }
            let _ = summarize(&bad, 0);
        }
    }
    // Pure noise, including noise that starts like a SEQUENCE.
    for _ in 0..3000 {
        let len = (noise(&mut seed) % 600) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| noise(&mut seed) as u8).collect();
        if let Some(first) = bytes.first_mut() {
            *first = 0x30;
        }
        let s = summarize(&bytes, 0);
        assert_eq!(s.sha256.len(), 95);
    }
    let empty = summarize(&[], 0);
    assert!(empty.parse_error.is_some());
}
