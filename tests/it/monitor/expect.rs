//! Every expectation flag through the binary: each says wanted and seen, in the human line
//! and in JSON `expect[]`, and a failed one exits 6.

use reach::demo::pki::Validity;
use serde_json::Value;

use super::{Pki, reach, spec, stdout, tls_on};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_expectation_names_wanted_and_seen_and_fails_with_6() {
    let pki = Pki::new();
    let leaf = pki.leaf(&["www.example", "api.example"], Validity::EndsIn(10));
    let mut server_spec = spec(&["www.example"], &leaf, None);
    server_spec.alpn = vec!["h2".into()];
    let server = tls_on("127.0.0.1", 0, server_spec).await;
    let target = format!("{},www.example", server.addr());
    let ca = pki.ca();
    let issuing_fp = reach::cert::fingerprint(pki.issuing.cert());
    let base = [
        target.as_str(),
        "--ca-file",
        &ca,
        "--no-default-roots",
        "--json",
    ];

    // Everything that holds.
    let mut args = base.to_vec();
    args.extend([
        "--expect-state",
        "open",
        "--expect-san",
        "www.example",
        "--expect-san",
        "api.example",
        "--expect-issuer",
        "CN=Example Issuing CA",
        "--expect-subject",
        "^CN=www\\.example",
        "--expect-fingerprint",
        &issuing_fp,
        "--expect-tls-min",
        "1.2",
        "--expect-alpn",
        "h2",
        "--expect-vhost",
        "matched",
        "--min-days",
        "5",
    ]);
    let out = reach(&args).await;
    let json: Value = serde_json::from_str(&stdout(&out)).expect("one JSON report");
    let checks: Vec<(&str, bool)> = json["expect"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["check"].as_str().unwrap(), e["ok"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        checks,
        [
            ("state", true),
            ("tls_min", true),
            ("alpn", true),
            ("min_days", true),
            ("san", true),
            ("san", true),
            ("issuer", true),
            ("subject", true),
            ("fingerprint", true),
            ("vhost", true),
        ],
        "{json}"
    );
    assert_eq!(out.status.code(), Some(0), "{json}");
    assert_eq!(
        json["expect"][8]["seen"],
        "chain[1] (CN=Example Issuing CA,O=reach demo PKI)"
    );

    // Each failing one, alone: exit 6 and a headline naming wanted and seen.
    let other_fp = "00".repeat(32);
    let cases: [(&[&str], &str, &str); 7] = [
        (
            &["--min-days", "30"],
            "min_days",
            "wanted at least 30 days left on every certificate, saw ",
        ),
        (
            &["--expect-san", "nosuch.example"],
            "san",
            "wanted a certificate for nosuch.example, saw SANs www.example, api.example",
        ),
        (
            &["--expect-issuer", "Let's Encrypt"],
            "issuer",
            "wanted /Let's Encrypt/, saw CN=Example Issuing CA,O=reach demo PKI",
        ),
        (
            &["--expect-fingerprint", &other_fp],
            "fingerprint",
            "saw not in the chain; leaf is ",
        ),
        (
            &["--expect-tls-min", "1.3", "--tls-max", "1.2"],
            "tls_min",
            "wanted TLSv1.3 or newer, saw TLSv1.2",
        ),
        (
            &["--expect-alpn", "http/1.1", "--alpn", "h2"],
            "alpn",
            "wanted http/1.1, saw h2",
        ),
        (
            &["--expect-vhost", "default_fallback"],
            "vhost",
            "wanted default_fallback, saw matched",
        ),
    ];
    for (flags, check, said) in cases {
        let mut args = base.to_vec();
        args.pop();
        args.extend_from_slice(flags);
        let human = reach(&args).await;
        let text = stdout(&human);
        assert_eq!(human.status.code(), Some(6), "{flags:?}: {text}");
        let headline = text.lines().next().unwrap_or_default();
        assert!(
            headline.contains(&format!("EXPECT {check} failed: ")) && headline.contains(said),
            "{flags:?}: {headline}"
        );
    }

    // Expectations above a layer never reached fail and say where the probe stopped.
    let closed = crate::support::free_port();
    let out = reach(&[
        &format!("127.0.0.1:{closed}"),
        "--min-days",
        "1",
        "--expect-banner",
        "^SSH-",
        "--json",
    ])
    .await;
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    // The stop explains them: the headline and the exit code are the closed port's.
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json["stopped"]["reason"], "closed");
    assert_eq!(
        json["expect"][0]["seen"],
        "no greeting (stopped at tcp: closed)"
    );
    assert_eq!(
        json["expect"][1]["seen"],
        "no certificate (stopped at tcp: closed)"
    );
    // A bad pattern is a usage error.
    let out = reach(&["127.0.0.1:1", "--expect-issuer", "("]).await;
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--expect-issuer"));
}
