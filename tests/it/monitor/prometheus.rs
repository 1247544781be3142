//! A real Prometheus (Debian package `prometheus`) on loopback, with its own configuration
//! and data directory in a temp dir, scrapes two `reach serve` instances sharded by
//! `hashmod` over `__param_target` (the multi-target pattern of blackbox_exporter). The test
//! asks Prometheus's HTTP API for the series of every target (success, certificate expiry,
//! why a probe stopped, the shard that probed it) and checks that a target outside the
//! module's allow-list is refused by the exporter and never probed.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use reach::demo::pki::Validity;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{Pki, spec, tls_on};
use crate::support::daemons::Daemon;
use crate::support::{TempDir, free_port, require_binary};

/// GET `path` from 127.0.0.1:`port` (HTTP/1.0, whole answer within 10 s): status and body.
async fn get(port: u16, path: &str) -> (u16, String) {
    let run = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        stream
            .write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
            .await?;
        let mut answer = Vec::new();
        stream.take(8 << 20).read_to_end(&mut answer).await?;
        Ok::<_, std::io::Error>(answer)
    };
    let answer = tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .expect("answer within 10 s")
        .expect("HTTP exchange");
    let text = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, body.to_string())
}

/// Prometheus's `hashmod` of `value` (md5, the last 8 bytes big-endian, modulo `modulus`),
/// computed with `openssl dgst` so the test knows which shard each target goes to.
fn hashmod(value: &str, modulus: u64) -> u64 {
    let mut child = Command::new("openssl")
        .args(["dgst", "-md5", "-r"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("openssl");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(value.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let hex = String::from_utf8_lossy(&out.stdout);
    let digest = hex.split_whitespace().next().unwrap();
    u64::from_str_radix(&digest[16..32], 16).unwrap() % modulus
}

/// Runs an instant query; the result vector.
async fn query(prometheus: u16, expr: &str) -> Vec<Value> {
    let encoded: String = url_encode(expr);
    let (status, body) = get(prometheus, &format!("/api/v1/query?query={encoded}")).await;
    assert_eq!(status, 200, "{expr}: {body}");
    let json: Value = serde_json::from_str(&body).expect("Prometheus answers JSON");
    json["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_two_sharded_exporters_and_the_allow_list_holds() {
    let Some(prometheus_bin) = require_binary(&["prometheus"], "prometheus") else {
        return;
    };
    let Some(_) = require_binary(&["openssl"], "openssl") else {
        return;
    };
    let pki = Pki::new();
    let name = "www.example";
    let good = pki.leaf(&[name], Validity::Current);
    let expired = pki.leaf(&[name], Validity::Expired);
    // Targets: good servers until both shards have one, plus one expired.
    let mut servers = vec![tls_on("127.0.0.1", 0, spec(&[name], &expired, Some(&expired))).await];
    let mut shards = BTreeMap::new();
    while shards
        .values()
        .collect::<std::collections::BTreeSet<_>>()
        .len()
        < 2
        || servers.len() < 3
    {
        assert!(servers.len() < 40, "hashmod put 40 targets on one shard");
        servers.push(tls_on("127.0.0.1", 0, spec(&[name], &good, Some(&good))).await);
        for s in &servers {
            let t = s.addr().to_string();
            let shard = hashmod(&t, 2);
            shards.insert(t, shard);
        }
    }
    let expired_target = servers[0].addr().to_string();
    // Outside the allow-list (127.0.0.0/30), though on loopback: refused, never probed.
    let refused = format!("127.0.0.9:{}", servers[1].addr().port());

    let dir = TempDir::new("prometheus");
    std::fs::write(dir.join("ca.pem"), pki._root_pem()).unwrap();
    dir.write(
        "reach.toml",
        r#"[server]
max_timeout = "5s"

[module.web]
ports = []
allow_networks = ["127.0.0.0/30"]
allow_names = ["localhost"]
sni = ["www.example"]
tls = { ca_file = ["ca.pem"], no_default_roots = true }
expect = { min_days = 7 }
"#,
    );
    // `ports = []` means 443 only: every lab port must be listed.
    let ports: Vec<String> = servers
        .iter()
        .map(|s| s.addr().port().to_string())
        .collect();
    let config = std::fs::read_to_string(dir.join("reach.toml"))
        .unwrap()
        .replace("ports = []", &format!("ports = [{}]", ports.join(", ")));
    dir.write("reach.toml", &config);
    let exporter_ports = [free_port(), free_port()];
    let exporters: Vec<Daemon> = exporter_ports
        .iter()
        .enumerate()
        .map(|(i, port)| {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_reach"));
            cmd.args(["serve", "--config", "reach.toml", "--listen"])
                .arg(format!("127.0.0.1:{port}"));
            Daemon::start(&format!("reach-serve-{i}"), cmd, &dir, &[*port])
        })
        .collect();
    // The refusal, straight from the exporter.
    let (status, body) = get(
        exporter_ports[0],
        &format!("/probe?target={refused}&module=web"),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("outside the module's allow_networks"),
        "{body}"
    );

    let mut targets: Vec<String> = shards.keys().cloned().collect();
    targets.push(refused.clone());
    let target_list = targets
        .iter()
        .map(|t| format!("'{t}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let prometheus_port = free_port();
    dir.write(
        "prometheus.yml",
        &format!(
            r#"global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: reach
    metrics_path: /probe
    params:
      module: [web]
    static_configs:
      - targets: [{target_list}]
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - source_labels: [__param_target]
        modulus: 2
        target_label: __tmp_shard
        action: hashmod
      - source_labels: [__tmp_shard]
        target_label: shard
      - source_labels: [__tmp_shard]
        regex: '0'
        target_label: __address__
        replacement: 127.0.0.1:{e0}
      - source_labels: [__tmp_shard]
        regex: '1'
        target_label: __address__
        replacement: 127.0.0.1:{e1}
"#,
            e0 = exporter_ports[0],
            e1 = exporter_ports[1],
        ),
    );
    let mut cmd = Command::new(prometheus_bin);
    cmd.arg("--config.file=prometheus.yml")
        .arg("--storage.tsdb.path=data")
        .arg(format!("--web.listen-address=127.0.0.1:{prometheus_port}"))
        .arg("--log.level=warn");
    let prometheus = Daemon::start("prometheus", cmd, &dir, &[prometheus_port]);

    // Wait (bounded) until Prometheus is ready (it answers 503 while it starts), then until
    // every allowed target has been scraped.
    let started = Instant::now();
    while get(prometheus_port, "/-/ready").await.0 != 200 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "Prometheus not ready after 60 s:\n{}",
            prometheus.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let wanted = shards.len();
    loop {
        let got = query(prometheus_port, "probe_success").await;
        if got.len() >= wanted {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "only {} of {wanted} targets scraped after 60 s: {got:?}\n{}",
            got.len(),
            prometheus.log_text()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let by_instance = |series: &[Value]| -> BTreeMap<String, Value> {
        series
            .iter()
            .map(|s| {
                (
                    s["metric"]["instance"].as_str().unwrap_or("").to_string(),
                    s.clone(),
                )
            })
            .collect()
    };
    let success = by_instance(&query(prometheus_port, "probe_success").await);
    let expiry = by_instance(&query(prometheus_port, "probe_ssl_earliest_cert_expiry").await);
    let stopped = by_instance(&query(prometheus_port, "reach_probe_stopped").await);
    let now = reach::cert::now_unix() as f64;
    for (target, shard) in &shards {
        let s = &success[target];
        assert_eq!(s["metric"]["shard"], shard.to_string(), "{s}");
        let value = s["value"][1].as_str().unwrap();
        let until: f64 = expiry[target]["value"][1]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        if *target == expired_target {
            assert_eq!(value, "0", "{s}");
            assert!(until < now, "the expired chain's expiry is in the past");
            let why = &stopped[target]["metric"];
            assert_eq!(
                (why["layer"].as_str(), why["reason"].as_str()),
                (Some("certificate"), Some("expired"))
            );
        } else {
            assert_eq!(value, "1", "{s}");
            assert!(until > now + 80.0 * 86400.0, "{until}");
            assert!(!stopped.contains_key(target));
        }
    }
    // The refused target: Prometheus saw the exporter say no (up 0) and has no probe series.
    assert!(!success.contains_key(&refused));
    let up = by_instance(&query(prometheus_port, "up").await);
    assert_eq!(up[&refused]["value"][1], "0", "{:?}", up[&refused]);
    // Each exporter probed its own shard, and refused only what was outside the list.
    for (i, port) in exporter_ports.iter().enumerate() {
        let (_, metrics) = get(*port, "/metrics").await;
        let own = shards.values().filter(|s| **s == i as u64).count();
        assert!(
            metrics.contains("reach_exporter_scrapes_total{module=\"web\",result=\"probed\"}"),
            "exporter {i} probed nothing of its {own} targets:\n{metrics}"
        );
    }
    // A range query: what a graph of probe_ssl_earliest_cert_expiry reads.
    let end = reach::cert::now_unix() + 1;
    let (status, body) = get(
        prometheus_port,
        &format!(
            "/api/v1/query_range?query=probe_ssl_earliest_cert_expiry&start={}&end={end}&step=1",
            end - 60
        ),
    )
    .await;
    assert_eq!(status, 200);
    let graph: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(graph["data"]["resultType"], "matrix");
    assert_eq!(
        graph["data"]["result"].as_array().map(Vec::len),
        Some(wanted),
        "{body}"
    );
    if let Ok(path) = std::env::var("REACH_PROMETHEUS_OUT") {
        let lines: Vec<String> = graph["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                format!(
                    "{} {} {}",
                    s["metric"],
                    s["values"].as_array().map_or(0, Vec::len),
                    s["values"]
                        .as_array()
                        .and_then(|v| v.last())
                        .cloned()
                        .unwrap_or_default()
                )
            })
            .collect();
        std::fs::write(path, lines.join("\n")).unwrap();
    }
    drop((prometheus, exporters, servers));
}
