//! Benchmark: cost of one TLS probe (handshake, chain summary and verdicts) in client CPU,
//! against an `openssl s_server` in another process so its CPU is not counted, compared with a
//! loop of `openssl s_client` runs. Prints the figures and the goals (≤ 300 µs CPU per probe,
//! ≥ 50× the s_client loop); never fails on speed. `cargo bench --bench tls_probe_cpu`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

// The integration tests' support tree, of which this uses the TLS helpers and `Daemon`.
#[allow(dead_code)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use reach::demo::pki::{KeyKind, LeafSpec};
use reach::probe::tls::TlsRequest;
use support::daemons::Daemon;
use support::tls::*;
use support::{TempDir, find_binary, free_port, loopback};

/// User + system CPU time of this process (from /proc/self/stat, USER_HZ = 100).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("proc stat");
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let after = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<u64> = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .map(|f| f.parse().expect("tick count"))
        .collect();
    Duration::from_millis((fields[0] + fields[1]) * 10)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(measure());
}

async fn measure() {
    let Some(openssl) = find_binary("openssl") else {
        eprintln!("skipped: needs the openssl CLI (Debian package openssl)");
        return;
    };
    let ca = root("Perf Root");
    let inter = ca
        .intermediate("Perf Intermediate", KeyKind::EcdsaP256)
        .expect("intermediate");
    let leaf = inter
        .issue(&LeafSpec::server(&["perf.test"]))
        .expect("leaf");
    let dir = TempDir::new("perf");
    let cert = dir.write("server.pem", &reach::cert::to_pem(&leaf.chain[0]));
    let chain = dir.write("chain.pem", &inter.cert_pem());
    let key = dir.write("server.key", &leaf.key_pem());
    let port = free_port();
    let addr = loopback(port);
    let accept = addr.to_string();
    let args = [
        "s_server",
        "-accept",
        &accept,
        "-cert",
        cert.to_str().expect("path"),
        "-key",
        key.to_str().expect("path"),
        "-cert_chain",
        chain.to_str().expect("path"),
        "-quiet",
    ];
    let mut cmd = Command::new(&openssl);
    cmd.args(args);
    let _srv = Daemon::start("s_server", cmd, &dir, &[port]);
    let (ctx, _d) = context(&[&ca], |_| {});
    let req = TlsRequest {
        want_vhost: false,
        ..sni("perf.test")
    };

    for _ in 0..20 {
        let report = probe(addr, &req, &ctx).await;
        assert_eq!(report.error, None);
        assert!(report.verify.as_ref().expect("verified").trusted);
    }
    let probes = 300u32;
    let (cpu0, wall0) = (cpu_time(), Instant::now());
    for _ in 0..probes {
        let report = probe(addr, &req, &ctx).await;
        assert_eq!(report.chain.len(), 2);
    }
    let cpu = (cpu_time() - cpu0) / probes;
    let wall = wall0.elapsed() / probes;

    let runs = 20u32;
    let started = Instant::now();
    for _ in 0..runs {
        let status = Command::new(&openssl)
            .args([
                "s_client",
                "-connect",
                &accept,
                "-servername",
                "perf.test",
                "-brief",
            ])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .expect("s_client runs");
        assert!(status.success());
    }
    let s_client = started.elapsed() / runs;
    let speedup = s_client.as_secs_f64() / wall.as_secs_f64();
    eprintln!(
        "per probe: client CPU {} µs, wall {} µs; openssl s_client loop: {} µs per run; {speedup:.0}× faster",
        cpu.as_micros(),
        wall.as_micros(),
        s_client.as_micros()
    );
    println!(
        "goals: CPU ≤ 300 µs per probe ({}), ≥ 50× the s_client loop ({})",
        if cpu <= Duration::from_micros(300) {
            "met"
        } else {
            "missed"
        },
        if speedup >= 50.0 { "met" } else { "missed" }
    );
}
