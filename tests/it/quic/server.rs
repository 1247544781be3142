//! QUIC through the binary against the in-process quinn server of `reach demo`
//! (`reach::demo::quic_server`), for what Caddy cannot be made to show: a default certificate
//! for unknown names (`default_fallback`), a Retry before every handshake, a refusal with a
//! transport error (CONNECTION_REFUSED) and a failed ALPN negotiation (crypto_error 0x178), a
//! TCP and a QUIC server on the same port number serving different certificates. Version
//! negotiation needs a scripted server (`support::quic::version_negotiation_server`): every
//! real server speaks version 1.

use std::time::{Duration, Instant};

use reach::demo::pki::LeafSpec;
use reach::demo::quic_server::{QuicBehaviour, QuicServerSpec};
use serde_json::Value;

use crate::support::quic::{quic_routes, quic_server, quic_server_on, version_negotiation_server};
use crate::support::tls::{root, routes, server};
use crate::support::{TempDir, reach_async, reach_json};

/// Why these skip under Wine (docs/platforms.md).
const QUIC_UNDER_WINE: &str =
    "Wine 8 refuses IP_RECVECN, which quinn-udp sets on every socket it wraps";

fn by_sni<'a>(lines: &'a [Value], name: &str) -> &'a Value {
    lines
        .iter()
        .find(|l| l["tls"]["sni"] == name)
        .unwrap_or_else(|| panic!("no line for {name}: {lines:?}"))
}

fn stopped(line: &Value) -> (Option<&str>, Option<&str>) {
    (
        line["stopped"]["layer"].as_str(),
        line["stopped"]["reason"].as_str(),
    )
}

fn contract(lines: &[Value]) {
    let mut omitted = std::collections::BTreeSet::new();
    for line in lines {
        crate::json_contract::check(line, &mut omitted);
    }
}

/// A root, its CA file, and leaves for `a.test` and `default.test`.
struct Pki {
    ca: reach::demo::pki::DemoCa,
    ca_file: String,
    _dir: TempDir,
}

fn pki(tag: &str) -> Pki {
    let dir = TempDir::new(tag);
    let ca = root("QUIC server root");
    let ca_file = dir.write("ca.pem", &ca.cert_pem()).display().to_string();
    Pki {
        ca,
        ca_file,
        _dir: dir,
    }
}

/// One QUIC probe of `a.test` (plus `extra` arguments) against a server for `a.test` alone,
/// shaped by `tweak`: the JSON line, checked against the contract, and the exit code.
async fn probe_a_test(
    tag: &str,
    tweak: impl FnOnce(&mut QuicServerSpec),
    extra: &[&str],
) -> (Value, i32) {
    let pki = pki(tag);
    let a = pki.ca.issue(&LeafSpec::server(&["a.test"])).expect("leaf");
    let mut spec = quic_routes(&[("a.test", &a)], None);
    tweak(&mut spec);
    let srv = quic_server(spec);
    let target = srv.addr().to_string();
    let mut args = vec!["--quic", "--ca-file", &pki.ca_file, "--sni", "a.test"];
    args.extend_from_slice(extra);
    args.push(&target);
    let (lines, code) = reach_json(&args).await;
    contract(&lines);
    (lines[0].clone(), code)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_routed_name_is_matched_and_an_unknown_one_falls_back_to_the_default() {
    if crate::support::wine_cannot(QUIC_UNDER_WINE) {
        return;
    }
    let pki = pki("quic-vhost");
    let a = pki.ca.issue(&LeafSpec::server(&["a.test"])).expect("leaf");
    let default = pki
        .ca
        .issue(&LeafSpec::server(&["default.test"]))
        .expect("leaf");
    let srv = quic_server(quic_routes(&[("a.test", &a)], Some(&default)));
    let target = srv.addr().to_string();
    let (lines, code) = reach_json(&[
        "--quic",
        "--ca-file",
        &pki.ca_file,
        "--sni",
        "a.test",
        "--sni",
        "b.test",
        &target,
    ])
    .await;
    assert_eq!(lines.len(), 2, "{lines:?}");
    let a_line = by_sni(&lines, "a.test");
    assert_eq!(a_line["quic"]["state"], "open", "{a_line}");
    assert_eq!(a_line["quic"]["version"], "1");
    assert_eq!(a_line["quic"]["retry"], false);
    assert_eq!(a_line["tls"]["transport"], "quic");
    assert_eq!(a_line["tls"]["alpn"], "h3");
    assert_eq!(a_line["tls"]["chain"][0]["sha256"], a.leaf_sha256());
    assert_eq!(a_line["tls"]["vhost"], "matched");
    assert_eq!(a_line["reached"], "vhost");

    let b_line = by_sni(&lines, "b.test");
    assert_eq!(b_line["quic"]["state"], "open", "{b_line}");
    assert_eq!(b_line["tls"]["chain"][0]["sha256"], default.leaf_sha256());
    assert_eq!(b_line["tls"]["verify"]["trusted"], true);
    assert_eq!(b_line["tls"]["verify"]["name_match"], false);
    assert_eq!(b_line["tls"]["vhost"], "default_fallback", "{b_line}");
    assert_eq!(
        stopped(b_line),
        (Some("vhost"), Some("default_fallback")),
        "{b_line}"
    );
    // The reference handshakes went over QUIC too: the server saw them.
    let seen = srv.sni_seen();
    assert!(seen.contains(&None), "a no-SNI reference: {seen:?}");
    assert_eq!(code, 4, "the wrong virtual host is a certificate problem");
    contract(&lines);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_is_reported_and_the_handshake_still_completes() {
    if crate::support::wine_cannot(QUIC_UNDER_WINE) {
        return;
    }
    let (line, code) = probe_a_test("quic-retry", |spec| spec.retry = true, &[]).await;
    let line = &line;
    assert_eq!(line["quic"]["state"], "open", "{line}");
    assert_eq!(line["quic"]["retry"], true, "{line}");
    assert_eq!(line["tls"]["version"], "TLSv1.3");
    assert_eq!(line["tls"]["vhost"], "matched");
    assert_eq!(code, 0, "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_offering_only_unknown_versions_is_version_negotiation() {
    if crate::support::wine_cannot(QUIC_UNDER_WINE) {
        return;
    }
    let addr = version_negotiation_server(&[0x1a2a_3a4a, 0xff00_001d]).await;
    let started = Instant::now();
    let (lines, code) = reach_json(&["--quic", "--sni", "a.test", &addr.to_string()]).await;
    let line = &lines[0];
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "a Version Negotiation ends the probe at once"
    );
    assert_eq!(line["quic"]["state"], "version_negotiation", "{line}");
    assert_eq!(line["quic"]["reason"], "version_negotiation");
    assert_eq!(
        line["quic"]["versions_offered"],
        serde_json::json!(["0x1a2a3a4a", "draft-29"]),
        "{line}"
    );
    assert!(line["tls"].is_null(), "no TLS without a common version");
    assert_eq!(stopped(line), (Some("quic"), Some("version_negotiation")));
    assert_eq!(code, 3, "{line}");
    contract(&lines);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_with_a_transport_error_is_named() {
    if crate::support::wine_cannot(QUIC_UNDER_WINE) {
        return;
    }
    let refuse = |spec: &mut QuicServerSpec| spec.behaviour = QuicBehaviour::Refuse;
    let (line, code) = probe_a_test("quic-refuse", refuse, &[]).await;
    let line = &line;
    assert_eq!(line["quic"]["state"], "transport_error", "{line}");
    assert_eq!(line["quic"]["reason"], "connection_close");
    assert_eq!(line["quic"]["close"]["code"], 2);
    assert_eq!(line["quic"]["close"]["name"], "connection_refused");
    assert!(line["quic"]["close"]["alert"].is_null());
    assert_eq!(stopped(line), (Some("quic"), Some("transport_error")));
    assert_eq!(code, 3, "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_alpn_in_common_is_crypto_error_0x178() {
    if crate::support::wine_cannot(QUIC_UNDER_WINE) {
        return;
    }
    let (line, code) = probe_a_test("quic-alpn", |_| {}, &["--alpn", "smtp"]).await;
    let line = &line;
    let close = &line["quic"]["close"];
    assert_eq!(close["code"], 0x178, "{line}");
    assert_eq!(close["name"], "crypto_error");
    assert_eq!(close["alert"], "no_application_protocol");
    assert_eq!(line["tls"]["error"]["alert"], "no_application_protocol");
    assert_eq!(stopped(line).0, Some("tls"), "{line}");
    assert_eq!(code, 3, "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_and_quic_serving_different_certificates_on_one_port_disagree() {
    if crate::support::wine_cannot(QUIC_UNDER_WINE) {
        return;
    }
    let pki = pki("quic-disagree");
    let over_tcp = pki.ca.issue(&LeafSpec::server(&["a.test"])).expect("leaf");
    let over_quic = pki.ca.issue(&LeafSpec::server(&["a.test"])).expect("leaf");
    // The same port number for both: a free UDP twin of an ephemeral TCP port.
    let mut pair = None;
    for _ in 0..20 {
        let tcp = server(routes(&[("a.test", &over_tcp)], None)).await;
        let spec = quic_routes(&[("a.test", &over_quic)], None);
        if let Some(quic) = quic_server_on(tcp.addr().port(), spec) {
            pair = Some((tcp, quic));
            break;
        }
    }
    let (tcp, _quic) = pair.expect("a port free over both TCP and UDP");
    let target = tcp.addr().to_string();
    let out = reach_async(&[
        "--color",
        "never",
        "--quic",
        "--also-tcp",
        "--ca-file",
        &pki.ca_file,
        "--sni",
        "a.test",
        &target,
    ])
    .await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("TCP and QUIC disagree on {target}")),
        "{text}"
    );
    assert!(text.contains(&format!("{target} quic")), "{text}");
    // Both certificates are valid for the name: said, not failed.
    assert_eq!(out.status.code(), Some(0), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_shows_a_quic_handshake_and_a_quic_default_fallback() {
    if crate::support::wine_cannot(QUIC_UNDER_WINE) {
        return;
    }
    let out = reach_async(&["demo", "--json"]).await;
    assert_eq!(out.status.code(), Some(0), "every demo step as expected");
    let lines = crate::support::json_lines(&out);
    let quic: Vec<&Value> = lines
        .iter()
        .filter(|l| l["tls"]["transport"] == "quic")
        .collect();
    assert_eq!(quic.len(), 2, "{quic:?}");
    let shop = quic[0];
    assert_eq!(shop["tls"]["sni"], "shop.demo.example", "{shop}");
    assert_eq!(shop["quic"]["state"], "open");
    assert_eq!(shop["tls"]["vhost"], "matched");
    let www = quic[1];
    assert_eq!(www["tls"]["sni"], "www.demo.example", "{www}");
    assert_eq!(www["tls"]["vhost"], "default_fallback");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_mode_times_each_quic_handshake() {
    if crate::support::wine_cannot(QUIC_UNDER_WINE) {
        return;
    }
    let extra = ["-n", "5", "--interval", "10ms"];
    let (line, code) = probe_a_test("quic-latency", |_| {}, &extra).await;
    let stats = &line["stats"];
    assert_eq!(
        (stats["sent"].as_u64(), stats["received"].as_u64()),
        (Some(5), Some(5)),
        "{line}"
    );
    let attempts = stats["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 5);
    for attempt in attempts {
        assert_eq!(attempt["state"], "open", "{attempt}");
        assert_eq!(attempt["reason"], "handshake");
        assert!(attempt["connect_ms"].as_f64().is_some_and(|ms| ms > 0.0));
        assert!(attempt["stopped"].is_null());
    }
    let layers: Vec<(&str, u64)> = stats["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .map(|l| {
            (
                l["layer"].as_str().unwrap_or(""),
                l["ok"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(layers[0], ("quic", 5), "{layers:?}");
    assert!(layers.contains(&("tls", 5)), "{layers:?}");
    // The virtual-host verdict once, for the series.
    assert_eq!(line["tls"]["vhost"], "matched", "{line}");
    assert_eq!(code, 0);
}
