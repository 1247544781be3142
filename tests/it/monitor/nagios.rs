//! `--format nagios` side by side with `check_ssl_cert` (Debian monitoring-plugins-contrib)
//! on the same servers: in-process TLS servers with a good, a soon-expiring, an almost
//! expired, an expired, a wrong-name (default fallback) certificate, a closed port, and a
//! real `openssl s_server` with an expired certificate. Both must give the same status
//! wherever both can decide. With REACH_COMPARE_OUT=FILE the table goes to FILE
//! (docs/compare.md is made from it).

use std::time::Instant;

use reach::demo::pki::Validity;

use super::{Pki, reach, spec, stdout, tls_on};
use crate::support::daemons::Daemon;
use crate::support::{TempDir, free_port, require_binary};

const CHECK_SSL_CERT: &str = "/usr/lib/nagios/plugins/check_ssl_cert";

struct Seen {
    code: i32,
    line: String,
    ms: u128,
}

async fn reach_nagios(port: u16, name: &str, ca: &str, extra: &[&str]) -> Seen {
    let target = format!("127.0.0.1:{port},{name}");
    let mut args = vec![
        target.as_str(),
        "--format",
        "nagios",
        "--ca-file",
        ca,
        "--no-default-roots",
    ];
    args.extend_from_slice(extra);
    let started = Instant::now();
    let out = reach(&args).await;
    Seen {
        code: out.status.code().unwrap_or(-1),
        line: stdout(&out).lines().next().unwrap_or_default().to_string(),
        ms: started.elapsed().as_millis(),
    }
}

async fn check_ssl_cert(port: u16, name: &str, ca: &str) -> Seen {
    let started = Instant::now();
    // Addresses only (no name lookups); no OCSP, CRL or SCT fetches: loopback only.
    let out = tokio::process::Command::new(CHECK_SSL_CERT)
        .args([
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "--sni",
            name,
            "-m",
            name,
        ])
        .args([
            "--rootcert-file",
            ca,
            "--ignore-sct",
            "--ignore-ocsp",
            "--timeout",
            "10",
        ])
        .kill_on_drop(true)
        .output()
        .await
        .expect("run check_ssl_cert");
    Seen {
        code: out.status.code().unwrap_or(-1),
        line: stdout(&out)
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_string(),
        ms: started.elapsed().as_millis(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_status_agrees_with_check_ssl_cert() {
    let pki = Pki::new();
    let ca = pki.ca();
    let name = "www.example";
    let good = pki.leaf(&[name], Validity::Current);
    let soon = pki.leaf(&[name], Validity::EndsIn(18));
    let very_soon = pki.leaf(&[name], Validity::EndsIn(10));
    let expired = pki.leaf(&[name], Validity::Expired);
    let other = pki.leaf(&["default.example"], Validity::Current);
    let servers = [
        (
            "good certificate",
            tls_on("127.0.0.1", 0, spec(&[name], &good, None)).await,
            0,
        ),
        (
            "18 days left (warning 20)",
            tls_on("127.0.0.1", 0, spec(&[name], &soon, None)).await,
            1,
        ),
        (
            "10 days left (critical 15)",
            tls_on("127.0.0.1", 0, spec(&[name], &very_soon, None)).await,
            2,
        ),
        (
            "expired",
            tls_on("127.0.0.1", 0, spec(&[name], &expired, None)).await,
            2,
        ),
        (
            "wrong name: the default certificate",
            tls_on("127.0.0.1", 0, spec(&[], &other, Some(&other))).await,
            2,
        ),
    ];
    let mut cases: Vec<(&str, u16, i32)> = servers
        .iter()
        .map(|(what, server, code)| (*what, server.addr().port(), *code))
        .collect();
    cases.push(("closed port", free_port(), 2));
    // A real daemon: openssl s_server with the expired certificate.
    let dir = TempDir::new("nagios-s_server");
    let daemon = match require_binary(&["openssl"], "openssl") {
        Some(openssl) => {
            std::fs::write(dir.join("cert.pem"), reach::cert::to_pem(&expired.chain[0])).unwrap();
            let intermediates: String = expired.chain[1..]
                .iter()
                .map(|c| reach::cert::to_pem(c))
                .collect();
            std::fs::write(dir.join("chain.pem"), intermediates).unwrap();
            std::fs::write(dir.join("key.pem"), expired.key_pem()).unwrap();
            let port = free_port();
            let mut cmd = std::process::Command::new(openssl);
            cmd.args(["s_server", "-quiet", "-www", "-accept"])
                .arg(format!("127.0.0.1:{port}"))
                .args([
                    "-cert",
                    "cert.pem",
                    "-cert_chain",
                    "chain.pem",
                    "-key",
                    "key.pem",
                ]);
            cases.push(("expired, openssl s_server", port, 2));
            Some(Daemon::start("s_server", cmd, &dir, &[port]))
        }
        None => None,
    };

    let mut rows = Vec::new();
    for (what, port, code) in &cases {
        let seen = reach_nagios(*port, name, &ca, &[]).await;
        assert_eq!(seen.code, *code, "{what}: {}", seen.line);
        assert!(
            seen.line
                .starts_with(["REACH OK", "REACH WARNING", "REACH CRITICAL"][*code as usize]),
            "{what}: {}",
            seen.line
        );
        rows.push((what.to_string(), seen));
    }
    // Thresholds given: 10 days with --warn-days 12 --crit-days 5 is a warning.
    let port = cases[2].1;
    let seen = reach_nagios(port, name, &ca, &["--warn-days", "12", "--crit-days", "5"]).await;
    assert_eq!(seen.code, 1, "{}", seen.line);
    assert!(
        seen.line.contains("days_left=10;12;5;;") || seen.line.contains("days_left=9;12;5;;"),
        "{}",
        seen.line
    );
    // Bad usage and "could not check" are UNKNOWN.
    let out = reach(&["--format", "nagios", "--bogus"]).await;
    assert_eq!(out.status.code(), Some(3));
    let out = reach(&[
        "--format=nagios",
        "127.0.0.1:1",
        "--crit-days",
        "30",
        "--warn-days",
        "20",
    ])
    .await;
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));

    let Some(_) = require_binary(&[CHECK_SSL_CERT], "monitoring-plugins-contrib") else {
        return;
    };
    let mut table = String::from(
        "| case | reach --format nagios | exit | ms | check_ssl_cert | exit | ms |\n|---|---|---|---|---|---|---|\n",
    );
    for ((what, port, _), (_, ours)) in cases.iter().zip(&rows) {
        let theirs = check_ssl_cert(*port, name, &ca).await;
        assert_eq!(
            ours.code, theirs.code,
            "{what}: reach said {:?}, check_ssl_cert said {:?}",
            ours.line, theirs.line
        );
        let short = |l: &str| {
            l.split(" | ")
                .next()
                .unwrap_or(l)
                .split('|')
                .next()
                .unwrap_or(l)
                .replace('|', "/")
        };
        table.push_str(&format!(
            "| {what} | `{}` | {} | {} | `{}` | {} | {} |\n",
            short(&ours.line).replace(&port.to_string(), "PORT"),
            ours.code,
            ours.ms,
            short(&theirs.line),
            theirs.code,
            theirs.ms
        ));
    }
    if let Ok(path) = std::env::var("REACH_COMPARE_OUT") {
        std::fs::write(path, &table).expect("write the comparison");
    }
    drop((servers, daemon));
}
