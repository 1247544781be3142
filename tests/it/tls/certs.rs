//! Certificate verdicts, each on its own, against an in-process TLS server on loopback:
//! trusted, expired, not yet valid, self-signed, unknown issuer, incomplete chain, CA used as a
//! leaf, wildcards, RSA/ECDSA/Ed25519 keys, OCSP stapling, PEM on request.

use crate::support::words::*;
use reach::demo::pki::{DemoCa, KeyKind, LeafSpec, Validity, self_signed};

use crate::support::tls::*;

/// Serves `chain` as the default and probes it with SNI `name`.
async fn probe_served(
    cred: &reach::demo::pki::Credential,
    name: &str,
    trusted: &[&DemoCa],
) -> reach::report::TlsReport {
    let srv = server(routes(&[], Some(cred))).await;
    let (ctx, _dir) = context(trusted, |_| {});
    probe(srv.addr(), &sni(name), &ctx).await
}

#[tokio::test]
async fn valid_chain_through_an_intermediate_is_trusted() {
    let ca = root("Cert Root");
    let inter = ca
        .intermediate("Cert Intermediate", KeyKind::EcdsaP384)
        .expect("intermediate");
    let leaf = inter.issue(&LeafSpec::server(&["ok.test"])).expect("leaf");
    let report = probe_served(&leaf, "ok.test", &[&ca]).await;
    assert_eq!(report.error, None);
    let verify = report.verify.as_ref().expect("verified");
    assert!(
        verify.trusted && verify.name_match && verify.errors.is_empty(),
        "{verify:?}"
    );
    assert_eq!(report.chain.len(), 2);
    assert_eq!(
        report.chain[1].subject,
        "CN=Cert Intermediate,O=reach demo PKI"
    );
    assert!(report.chain[1].is_ca);
    assert_eq!(report.chain[1].key_curve.as_deref(), Some("P-384"));
    assert_eq!(report.vhost.map(|v| word(&v)).as_deref(), Some("matched"));
    // Earliest expiry is the leaf (90 days) rather than the intermediate (10 years).
    let days = verify.earliest_expiry_days.expect("expiry");
    assert!((88..=90).contains(&days), "{days}");
    assert_eq!(
        verify.earliest_expiry_subject.as_deref(),
        Some("CN=ok.test")
    );
    assert_eq!(report.ocsp.as_ref().map(|o| o.stapled), Some(false));
    assert!(report.chain[0].pem.is_none(), "PEM only on request");
}

#[tokio::test]
async fn expired_leaf_is_expired_but_otherwise_trusted() {
    let ca = root("Cert Root");
    let spec = LeafSpec {
        validity: Validity::Expired,
        ..LeafSpec::server(&["old.test"])
    };
    let report = probe_served(&ca.issue(&spec).expect("leaf"), "old.test", &[&ca]).await;
    assert_eq!(
        report.error, None,
        "handshake completes despite the certificate"
    );
    let verify = report.verify.as_ref().expect("verified");
    assert!(!verify.trusted && verify.name_match);
    assert_eq!(words(&verify.errors), vec!["expired".to_string()]);
    assert!(report.chain[0].expired);
    assert_eq!(report.chain[0].days_left, Some(-1));
    assert_eq!(verify.earliest_expiry_days, Some(-1));
    assert!(certificate_problem(&report));
}

#[tokio::test]
async fn expired_and_untrusted_says_both() {
    let ca = root("Cert Root");
    let stranger = root("Stranger Root");
    let spec = LeafSpec {
        validity: Validity::Expired,
        ..LeafSpec::server(&["old.test"])
    };
    let report = probe_served(&stranger.issue(&spec).expect("leaf"), "old.test", &[&ca]).await;
    assert_error(&report, "expired");
    assert_error(&report, "unknown_issuer");
}

#[tokio::test]
async fn not_yet_valid_leaf() {
    let ca = root("Cert Root");
    let spec = LeafSpec {
        validity: Validity::NotYetValid,
        ..LeafSpec::server(&["future.test"])
    };
    let report = probe_served(&ca.issue(&spec).expect("leaf"), "future.test", &[&ca]).await;
    assert_eq!(
        report.verify.as_ref().map(|v| words(&v.errors)),
        Some(vec!["not_yet_valid".to_string()])
    );
    assert!(report.chain[0].not_yet_valid);
}

#[tokio::test]
async fn self_signed_leaf_with_and_without_ca_flag() {
    let ca = root("Cert Root");
    for is_ca in [false, true] {
        let spec = LeafSpec {
            is_ca,
            ..LeafSpec::server(&["self.test"])
        };
        let report = probe_served(&self_signed(&spec).expect("cert"), "self.test", &[&ca]).await;
        assert_eq!(report.error, None);
        let verify = report.verify.as_ref().expect("verified");
        assert_eq!(
            words(&verify.errors),
            vec!["self_signed".to_string()],
            "is_ca={is_ca}: {verify:?}"
        );
        assert!(verify.name_match);
        assert!(report.chain[0].self_signed);
    }
}

#[tokio::test]
async fn leaf_from_an_unknown_ca_is_unknown_issuer() {
    let ca = root("Cert Root");
    let stranger = root("Stranger Root");
    let leaf = stranger
        .issue(&LeafSpec::server(&["x.test"]))
        .expect("leaf");
    let report = probe_served(&leaf, "x.test", &[&ca]).await;
    let verify = report.verify.as_ref().expect("verified");
    assert_eq!(words(&verify.errors), vec!["unknown_issuer".to_string()]);
    assert!(
        verify.notes[0].contains("Stranger Root"),
        "{:?}",
        verify.notes
    );
}

#[tokio::test]
async fn missing_intermediate_is_incomplete_chain() {
    let ca = root("Cert Root");
    let inter = ca
        .intermediate("Cert Intermediate", KeyKind::EcdsaP256)
        .expect("intermediate");
    let spec = LeafSpec {
        ca_issuers_url: Some("http://ca.example.test/inter.crt".into()),
        ..LeafSpec::server(&["chain.test"])
    };
    let full = inter.issue(&spec).expect("leaf");
    let report = probe_served(&full.leaf_only(), "chain.test", &[&ca]).await;
    assert_eq!(report.chain.len(), 1);
    let verify = report.verify.as_ref().expect("verified");
    assert_eq!(words(&verify.errors), vec!["incomplete_chain".to_string()]);
    assert!(verify.notes[0].contains("http://ca.example.test/inter.crt"));
    // The same leaf with its intermediate is fine.
    let report = probe_served(&full, "chain.test", &[&ca]).await;
    assert!(report.verify.as_ref().expect("verified").trusted);
}

#[tokio::test]
async fn ca_certificate_used_as_a_leaf() {
    let ca = root("Cert Root");
    let spec = LeafSpec {
        is_ca: true,
        ..LeafSpec::server(&["ca-leaf.test"])
    };
    let report = probe_served(&ca.issue(&spec).expect("leaf"), "ca-leaf.test", &[&ca]).await;
    assert_eq!(
        report.verify.as_ref().map(|v| words(&v.errors)),
        Some(vec!["ca_used_as_leaf".to_string()])
    );
}

#[tokio::test]
async fn wildcard_covers_one_label_only() {
    let ca = root("Cert Root");
    let wild = ca.issue(&LeafSpec::server(&["*.wild.test"])).expect("leaf");
    let srv = server(routes(
        &[("a.wild.test", &wild), ("a.b.wild.test", &wild)],
        Some(&wild),
    ))
    .await;
    let (ctx, _dir) = context(&[&ca], |_| {});
    let report = probe(srv.addr(), &sni("a.wild.test"), &ctx).await;
    assert!(report.verify.as_ref().expect("verified").name_match);
    let report = probe(srv.addr(), &sni("a.b.wild.test"), &ctx).await;
    assert_error(&report, "name_mismatch");
    let report = probe(srv.addr(), &sni("wild.test"), &ctx).await;
    assert_error(&report, "name_mismatch");
}

#[tokio::test]
async fn key_types_are_reported() {
    let ca = root("Cert Root");
    for (kind, key_type, bits, scheme) in [
        (KeyKind::Rsa2048, "RSA", Some(2048), "rsa_pss_rsae_sha512"),
        (
            KeyKind::EcdsaP256,
            "ECDSA",
            Some(256),
            "ecdsa_secp256r1_sha256",
        ),
        (KeyKind::Ed25519, "Ed25519", Some(256), "ed25519"),
    ] {
        let spec = LeafSpec {
            key: kind,
            ..LeafSpec::server(&["key.test"])
        };
        let report = probe_served(&ca.issue(&spec).expect("leaf"), "key.test", &[&ca]).await;
        assert_eq!(report.error, None, "{kind:?}");
        assert!(
            report.verify.as_ref().expect("verified").trusted,
            "{kind:?}"
        );
        assert_eq!(report.chain[0].key_type, key_type);
        assert_eq!(report.chain[0].key_bits, bits);
        assert_eq!(report.signature_scheme.as_deref(), Some(scheme));
        assert_eq!(
            report.chain[0].signature_algorithm, "ecdsa-with-SHA256",
            "issued by the P-256 root"
        );
    }
}

#[tokio::test]
async fn stapled_ocsp_is_reported_and_pem_is_kept_on_request() {
    let ca = root("Cert Root");
    let leaf = ca.issue(&LeafSpec::server(&["staple.test"])).expect("leaf");
    let mut spec = routes(&[], Some(&leaf));
    // OCSPResponse { tryLater }: the server staples whatever it is given.
    spec.ocsp = Some(vec![0x30, 0x03, 0x0a, 0x01, 0x03]);
    let srv = server(spec).await;
    let (ctx, _dir) = context(&[&ca], |o| o.keep_pem = true);
    let report = probe(srv.addr(), &sni("staple.test"), &ctx).await;
    let ocsp = report.ocsp.as_ref().expect("ocsp seen");
    assert!(ocsp.stapled);
    assert_eq!(ocsp.size, 5);
    assert_eq!(ocsp.response_status.as_deref(), Some("try_later"));
    let pem = report.chain[0].pem.as_deref().expect("pem kept");
    assert_eq!(pem, reach::cert::to_pem(&leaf.chain[0]));
}
