//! Latency mode over TLS: every attempt connects and completes a TLS handshake, and the
//! handshake times get the same statistics as the connect times. A real TLS server on loopback.

use reach::demo::pki::LeafSpec;
use reach::demo::tls_server::{ServerSpec, spawn_sni_server};

use crate::support::{LaunchAsync, TempDir, tls};

#[tokio::test(flavor = "multi_thread")]
async fn every_attempt_measures_the_tls_handshake_too() {
    let root = tls::root("latency root");
    let leaf = root.issue(&LeafSpec::server(&["lat.example"])).unwrap();
    let dir = TempDir::new("latency");
    let ca = dir.write("ca.pem", &root.cert_pem());
    let spec = ServerSpec {
        routes: vec![("lat.example".into(), leaf.clone())],
        default: Some(leaf),
        ..ServerSpec::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = spawn_sni_server(listener, spec).unwrap();
    let target = server.addr().to_string();
    let ca = ca.display().to_string();
    let args = [
        "--json",
        "-n",
        "4",
        "--warmup",
        "1",
        "--interval",
        "10ms",
        "--ca-file",
        &ca,
        "--sni",
        "lat.example",
        &target,
    ];
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_reach"))
        .args(args)
        .output_retrying()
        .await
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line: serde_json::Value =
        serde_json::from_slice(out.stdout.split(|b| *b == b'\n').next().unwrap()).unwrap();
    let stats = &line["stats"];
    assert_eq!(stats["sent"], 4);
    assert_eq!(stats["received"], 4);
    let attempts = stats["attempts"].as_array().unwrap();
    assert!(
        attempts
            .iter()
            .all(|a| a["tls_handshake_ms"].as_f64().is_some_and(|ms| ms > 0.0)),
        "{stats}"
    );
    let tls = &stats["tls_handshake"];
    let (min, p95, max) = (
        tls["min_ms"].as_f64().unwrap(),
        tls["p95_ms"].as_f64().unwrap(),
        tls["max_ms"].as_f64().unwrap(),
    );
    assert!(min <= p95 && p95 <= max, "{tls}");
    // Warm-up included, five handshakes with the SNI reached the server.
    let seen = server.sni_seen();
    assert_eq!(
        seen.iter()
            .filter(|s| s.as_deref() == Some("lat.example"))
            .count(),
        5,
        "{seen:?}"
    );

    // Human mode prints each attempt as it happens, with its handshake time.
    let human = [
        "--color",
        "never",
        "-n",
        "2",
        "--interval",
        "10ms",
        "--ca-file",
        &ca,
        "--sni",
        "lat.example",
        &target,
    ];
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_reach"))
        .args(human)
        .output_retrying()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("#1") && text.contains(", tls "), "{text}");
    assert!(text.contains("tls        min"), "{text}");
}
