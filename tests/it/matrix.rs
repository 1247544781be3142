//! The IP × SNI matrix over real TLS servers: three loopback addresses × four names, one
//! address still serving an old certificate, one name nobody routes. Drives the binary.

use reach::demo::pki::{LeafSpec, Validity};
use reach::demo::tls_server::{ServerSpec, spawn_sni_server};

use crate::support::{LaunchAsync, TempDir, tls};

fn names() -> [&'static str; 4] {
    ["a.example", "b.example", "c.example", "nosuch.example"]
}

#[tokio::test(flavor = "multi_thread")]
async fn three_addresses_by_four_names_flags_the_disagreeing_node_and_the_fallback() {
    let root = tls::root("matrix root");
    let leaf = |n: &str| root.issue(&LeafSpec::server(&[n])).unwrap();
    let old_b = root
        .issue(&LeafSpec {
            validity: Validity::EndsIn(3),
            ..LeafSpec::server(&["b.example"])
        })
        .unwrap();
    let default = leaf("default.example");
    let (a, b, c) = (leaf("a.example"), leaf("b.example"), leaf("c.example"));
    let ca = TempDir::new("matrix");
    let ca_file = ca.write("ca.pem", &root.cert_pem());
    let mut servers = Vec::new();
    let mut addresses = Vec::new();
    for (i, host) in ["127.0.0.1", "127.0.0.2", "127.0.0.3"].iter().enumerate() {
        // The third node still serves last month's b.example certificate.
        let b_cert = if i == 2 { &old_b } else { &b };
        let spec = ServerSpec {
            routes: vec![
                ("a.example".into(), a.clone()),
                ("b.example".into(), b_cert.clone()),
                ("c.example".into(), c.clone()),
            ],
            default: Some(default.clone()),
            ..ServerSpec::default()
        };
        let listener = tokio::net::TcpListener::bind((*host, 0)).await.unwrap();
        let server = spawn_sni_server(listener, spec).unwrap();
        addresses.push(server.addr().to_string());
        servers.push(server);
    }
    let mut args = vec![
        "--color".to_string(),
        "never".into(),
        "--ca-file".into(),
        ca_file.display().to_string(),
    ];
    for name in names() {
        args.push("--sni".into());
        args.push(name.into());
    }
    args.extend(addresses.iter().cloned());
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_reach"))
        .args(&args)
        .output_retrying()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    // 12 probes; the worst verdict is the wrong virtual host: a certificate problem.
    assert!(text.contains("12 probes"), "{text}");
    assert_eq!(out.status.code(), Some(4), "{text}");
    let matrix = &text[text
        .find("  vhosts")
        .unwrap_or_else(|| panic!("no matrix: {text}"))..];
    // A name's header line, then its three rows, each naming the SNI too.
    let section = |name: &str| -> String {
        let lines: Vec<&str> = matrix.lines().collect();
        let start = lines
            .iter()
            .position(|l| *l == format!("    {name}") || l.starts_with(&format!("    {name} ")))
            .unwrap_or_else(|| panic!("no {name} row: {matrix}"));
        let rows = &lines[start + 1..start + 4];
        assert!(
            rows.iter().all(|r| r.ends_with(&format!("sni={name}"))),
            "{matrix}"
        );
        lines[start..start + 4].join("\n")
    };
    assert!(
        section("b.example").contains("addresses disagree: 2 different certificates"),
        "{matrix}"
    );
    assert!(!section("a.example").contains("disagree"), "{matrix}");
    assert!(
        section("nosuch.example").contains("fell back to the default certificate"),
        "{matrix}"
    );
    assert_eq!(
        section("nosuch.example")
            .matches("default_fallback")
            .count(),
        3,
        "{matrix}"
    );
    assert_eq!(
        section("c.example").matches("matched").count(),
        3,
        "{matrix}"
    );

    // The same run as JSON: one line per (address, name), with the vhost word.
    args.push("--json".into());
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_reach"))
        .args(&args)
        .output_retrying()
        .await
        .unwrap();
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 12);
    let fallbacks = lines
        .iter()
        .filter(|l| l["tls"]["vhost"] == "default_fallback")
        .count();
    assert_eq!(fallbacks, 3);
    assert!(lines.iter().all(|l| l["tls"]["sni"].is_string()));
    drop(servers);
}
