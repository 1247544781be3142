//! The contract of the TLS report: JSON keys and values as documented, and the human lines
//! (tones, the default certificate beside a bad vhost verdict, PEM only when asked).

use reach::demo::pki::{LeafSpec, Validity};
use reach::render::lines::Tone;
use reach::render::tls::tls_lines;
use reach::report::Report;
use serde_json::Value;

use crate::support::tls::*;

fn at<'a>(v: &'a Value, path: &str) -> &'a Value {
    path.split('.')
        .fold(v, |v, key| match key.parse::<usize>() {
            Ok(i) => &v[i],
            Err(_) => &v[key],
        })
}

#[tokio::test]
async fn json_uses_the_contract_keys() {
    let ca = root("Json Root");
    let a = ca
        .issue(&LeafSpec::server(&["a.test", "127.0.0.1"]))
        .expect("leaf");
    let default = ca
        .issue(&LeafSpec::server(&["default.test"]))
        .expect("leaf");
    let srv = server(routes(&[("a.test", &a)], Some(&default))).await;
    let (ctx, _d) = context(&[&ca], |_| {});

    let tls = probe(srv.addr(), &sni("b.test"), &ctx).await;
    let json = serde_json::to_value(&Report {
        tls: Some(tls),
        ..Report::default()
    })
    .expect("serializes");
    let t = &json["tls"];
    assert_eq!(at(t, "version"), "TLSv1.3");
    assert!(
        at(t, "cipher")
            .as_str()
            .expect("cipher")
            .starts_with("TLS_")
    );
    assert_eq!(at(t, "group"), "X25519");
    assert_eq!(at(t, "alpn"), &Value::Null);
    assert_eq!(at(t, "sni"), "b.test");
    assert!(at(t, "handshake_ms").as_f64().expect("ms") > 0.0);
    assert_eq!(at(t, "chain.0.subject"), "CN=default.test");
    assert!(
        at(t, "chain.0.issuer")
            .as_str()
            .expect("issuer")
            .contains("CN=Json Root")
    );
    assert_eq!(at(t, "chain.0.sans.0"), "default.test");
    assert!(
        at(t, "chain.0.not_after")
            .as_str()
            .expect("date")
            .ends_with('Z')
    );
    // 90 days from the second the certificate was made: 89 once a second has passed since.
    let days_left = at(t, "chain.0.days_left").as_i64().expect("days");
    assert!((89..=90).contains(&days_left), "{days_left}");
    assert_eq!(at(t, "chain.0.sha256"), default.leaf_sha256().as_str());
    assert_eq!(at(t, "verify.trusted"), true);
    assert_eq!(at(t, "verify.name_match"), false);
    assert_eq!(at(t, "verify.errors.0"), "name_mismatch");
    assert_eq!(at(t, "vhost"), "default_fallback");
    assert_eq!(at(t, "default_cert.subject"), "CN=default.test");
    assert_eq!(at(t, "default_cert.sha256"), default.leaf_sha256().as_str());
    assert_eq!(at(t, "ocsp.stapled"), false);
    assert_eq!(at(t, "legacy"), &Value::Null);
    assert_eq!(at(t, "error"), &Value::Null);
    assert!(
        t.get("chain").and_then(|c| c[0].get("pem")).is_none(),
        "no PEM unless asked"
    );
}

#[tokio::test]
async fn failures_serialize_as_kind_alert_detail() {
    let srv = server(reach::demo::tls_server::ServerSpec {
        behaviour: reach::demo::tls_server::Behaviour::Banner(b"220 mail.test ESMTP\r\n".to_vec()),
        ..Default::default()
    })
    .await;
    let ca = root("Json Root");
    let (ctx, _d) = context(&[&ca], |_| {});
    let tls = probe(srv.addr(), &sni("mail.test"), &ctx).await;
    let t = serde_json::to_value(&tls).expect("serializes");
    assert_eq!(at(&t, "error.kind"), "not_tls");
    assert_eq!(at(&t, "error.alert"), &Value::Null);
    assert_eq!(at(&t, "error.received"), "220 mail.test ESMTP");
    assert!(
        at(&t, "error.detail")
            .as_str()
            .expect("detail")
            .contains("not TLS")
    );
}

#[tokio::test]
async fn human_lines_show_each_check_with_its_tone() {
    let ca = root("Lines Root");
    let a = ca.issue(&LeafSpec::server(&["a.test"])).expect("leaf");
    let expired = ca
        .issue(&LeafSpec {
            validity: Validity::Expired,
            ..LeafSpec::server(&["old.test"])
        })
        .expect("leaf");
    let srv = server(routes(&[("a.test", &a), ("old.test", &expired)], Some(&a))).await;
    let (ctx, _d) = context(&[&ca], |o| o.keep_pem = true);

    let good = probe(srv.addr(), &sni("a.test"), &ctx).await;
    let lines = tls_lines(&good, false);
    let find = |lines: &[reach::render::lines::Line], label: &str| {
        lines
            .iter()
            .find(|l| l.label == label)
            .cloned()
            .unwrap_or_else(|| panic!("no {label} line in {lines:?}"))
    };
    assert_eq!(find(&lines, "tls").tone, Tone::Good);
    assert!(find(&lines, "tls").value.contains("TLSv1.3"));
    assert!(find(&lines, "tls").value.contains("SNI a.test"));
    assert_eq!(find(&lines, "trusted").tone, Tone::Good);
    assert_eq!(find(&lines, "name").tone, Tone::Good);
    assert_eq!(find(&lines, "vhost").tone, Tone::Good);
    assert!(
        lines.iter().all(|l| l.label != "pem"),
        "PEM hidden unless show_certs"
    );
    assert!(
        lines.iter().all(|l| l.label != "default cert"),
        "same cert as default"
    );
    let with_pem = tls_lines(&good, true);
    assert!(
        with_pem
            .iter()
            .any(|l| l.value == "-----BEGIN CERTIFICATE-----")
    );

    let old = probe(srv.addr(), &sni("old.test"), &ctx).await;
    let lines = tls_lines(&old, false);
    assert_eq!(find(&lines, "trusted").tone, Tone::Bad);
    assert!(find(&lines, "trusted").value.contains("expired"));
    assert_eq!(find(&lines, "name").tone, Tone::Good);
    assert_eq!(find(&lines, "expiry").tone, Tone::Bad);
    assert_eq!(find(&lines, "valid").tone, Tone::Bad);

    let fallback = probe(srv.addr(), &sni("b.test"), &ctx).await;
    let lines = tls_lines(&fallback, false);
    assert_eq!(find(&lines, "vhost").tone, Tone::Bad);
    assert!(find(&lines, "vhost").value.starts_with("default_fallback"));
    assert_eq!(find(&lines, "name").tone, Tone::Bad);
}
