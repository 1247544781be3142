//! The revocation check against responses and CRLs made by OpenSSL are in the integration
//! tests (tests/it/tls/revocation.rs); here the pieces that need no server.

use super::*;

#[test]
fn a_short_and_a_long_sequence_header() {
    assert_eq!(sequence(&[1, 2]), vec![0x30, 2, 1, 2]);
    let long = vec![0u8; 300];
    assert_eq!(&sequence(&long)[..4], &[0x30, 0x82, 0x01, 0x2c]);
}

/// A seed of the `revocation_answers` fuzz target (made with OpenSSL, see fuzz/README.md):
/// (kind, now, answer, leaf, issuer).
fn seed(name: &str) -> (u8, i64, Vec<u8>, Vec<u8>, Issuer) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds/revocation_answers")
        .join(name);
    let data = std::fs::read(path).expect("seed");
    let now = 1_767_225_600 + i64::from(u32::from_be_bytes([data[1], data[2], data[3], data[4]]));
    let mut rest = &data[5..];
    let mut blobs = Vec::new();
    for _ in 0..3 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        blobs.push(rest[2..2 + len].to_vec());
        rest = &rest[2 + len..];
    }
    let (_, issuer) = x509_parser::parse_x509_certificate(&blobs[2]).expect("issuer");
    let issuer = Issuer {
        name_der: issuer.subject().as_raw().to_vec(),
        spki_der: issuer.public_key().raw.to_vec(),
    };
    (data[0], now, blobs[0].clone(), blobs[1].clone(), issuer)
}

#[test]
fn openssl_answers_verify_and_say_what_openssl_wrote() {
    let revoked = CertStatus::Revoked {
        at: Some(1_735_689_600), // 2025-01-01T00:00:00Z
        reason: Some(1),         // keyCompromise
    };
    let cases = [
        ("ocsp-revoked-delegated", revoked, "delegated"),
        ("ocsp-good-issuer", CertStatus::Good, "the issuer"),
        ("crl-revoked", revoked, "the issuer"),
        ("crl-pem-good", CertStatus::Good, "the issuer"),
        ("http-ocsp-revoked", revoked, "delegated"),
        ("http-crl-good", CertStatus::Good, "the issuer"),
    ];
    for (name, status, signer) in cases {
        let (kind, now, answer, leaf, issuer) = seed(name);
        let (_, leaf) = x509_parser::parse_x509_certificate(&leaf).expect("leaf");
        let body = if kind >= 2 {
            http::parse_response(&answer, 1 << 20).expect("HTTP 200")
        } else {
            answer
        };
        let checked = if kind.is_multiple_of(2) {
            ocsp::verify(&body, &leaf, &issuer, now)
        } else {
            crl::check(&body, &leaf, &issuer, now)
        }
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(checked.status, status, "{name}");
        assert!(
            checked.signer.contains(signer),
            "{name}: {}",
            checked.signer
        );
        // A day after nextUpdate the same answer is out of date, not good.
        if let Some(next) = checked.next_update {
            let late = next + 86_400;
            let stale = if kind.is_multiple_of(2) {
                ocsp::verify(&body, &leaf, &issuer, late)
            } else {
                crl::check(&body, &leaf, &issuer, late)
            };
            assert!(stale.unwrap_err().contains("out of date"), "{name}");
        }
        // Another issuer key: nothing verifies.
        let stranger = Issuer {
            spki_der: leaf.public_key().raw.to_vec(),
            ..issuer.clone()
        };
        let err = if kind.is_multiple_of(2) {
            ocsp::verify(&body, &leaf, &stranger, now)
        } else {
            crl::check(&body, &leaf, &stranger, now)
        };
        assert!(err.is_err(), "{name}: verified with the wrong key");
    }
}

#[test]
fn the_ocsp_request_names_the_certificate_as_openssl_does() {
    let (_, now, answer, leaf, issuer) = seed("ocsp-revoked-delegated");
    let (_, leaf) = x509_parser::parse_x509_certificate(&leaf).expect("leaf");
    let request = ocsp::request(&leaf, &issuer).expect("request");
    // OpenSSL's response names the same CertID (SHA-1 of the issuer's name and key, serial).
    assert!(ocsp::verify(&answer, &leaf, &issuer, now).is_ok());
    let cert_id_in_request = &request[request.len() - 2 - 20 - 2 - 20 - 4..];
    assert!(
        answer
            .windows(cert_id_in_request.len())
            .any(|w| w == cert_id_in_request),
        "the response carries the request's issuer hashes and serial"
    );
}
