//! Runs over many targets: input files and stdin, CIDR sweeps, rate and concurrency limits,
//! and bounded memory on a long streamed input — all against real loopback sockets.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{TempDir, free_port, full_queue_listener, json_lines, reach};

#[test]
fn input_file_with_comments_blank_lines_and_a_bad_line() {
    let port = free_port();
    let text = format!(
        "# inventory\n\n127.0.0.1:{port}   # a closed one\nlocalhost:{port}\nbad:99999\n127.0.0.2:{port},a.example\n"
    );
    let dir = TempDir::new("inventory");
    let path = dir.write("inventory.txt", &text);
    let out = reach(&["--json", "-4", "-i", path.to_str().unwrap()]);
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines.iter().all(|r| r["tcp"]["state"] == "closed"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 5") && err.contains("bad:99999"), "{err}");
    // A bad line is a usage error, reported after the good lines were probed.
    assert_eq!(out.status.code(), Some(64));
}

#[test]
fn targets_from_stdin() {
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_reach"))
        .args(["--json", "-i", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(
        child.stdin.take().unwrap(),
        "127.0.0.1:{port}\n127.0.0.3:{port}"
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(json_lines(&out).len(), 2);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn cidr_sweep_and_its_cap() {
    let port = free_port();
    let out = reach(&["--json", "-p", &port.to_string(), "127.0.0.8/29"]);
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 8);
    let mut addrs: Vec<&str> = lines
        .iter()
        .map(|r| r["address"].as_str().unwrap())
        .collect();
    addrs.sort();
    assert_eq!(addrs[0], "127.0.0.10");
    let out = reach(&["127.0.0.0/16"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--max-addresses"));
    let out = reach(&[
        "--json",
        "--max-addresses",
        "70000",
        "-p",
        &port.to_string(),
        "--summary-only",
        "127.1.0.0/24",
    ]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn rate_limit_spaces_new_connections() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let arrivals = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = std::sync::Arc::clone(&arrivals);
    std::thread::spawn(move || {
        for s in listener.incoming() {
            seen.lock().unwrap().push(Instant::now());
            drop(s);
        }
    });
    let targets: Vec<String> = (1..=11)
        .map(|i| format!("127.0.0.1:{port},n{i}.example"))
        .collect();
    let mut args = vec!["--json", "--no-sni", "--rate", "20"];
    args.extend(targets.iter().map(String::as_str));
    let out = reach(&args);
    assert_eq!(json_lines(&out).len(), 11);
    let times = arrivals.lock().unwrap().clone();
    assert_eq!(times.len(), 11);
    let span = *times.last().unwrap() - times[0];
    // 11 connections at 20/s need at least 10 gaps of 50 ms.
    assert!(
        span >= Duration::from_millis(450),
        "11 connections arrived within {span:?}"
    );
}

#[test]
fn concurrency_limit_bounds_probes_in_flight() {
    // Four filtered ports with a 300 ms deadline: at most two in flight means at least two
    // rounds of deadlines; unlimited, they all finish in one.
    let held: Vec<_> = (0..4).map(|_| full_queue_listener()).collect();
    let ports: Vec<String> = held.iter().map(|(_, _, p)| p.to_string()).collect();
    let ports = ports.join(",");
    let started = Instant::now();
    let out = reach(&[
        "--json",
        "--timeout",
        "300ms",
        "-c",
        "2",
        "-p",
        &ports,
        "127.0.0.1",
    ]);
    let limited = started.elapsed();
    assert_eq!(json_lines(&out).len(), 4);
    assert!(
        limited >= Duration::from_millis(590),
        "-c 2 finished 4 deadlines in {limited:?}"
    );
    let started = Instant::now();
    let out = reach(&[
        "--json",
        "--timeout",
        "300ms",
        "--per-address",
        "1",
        "-p",
        &ports,
        "127.0.0.1",
    ]);
    let per_address = started.elapsed();
    assert_eq!(json_lines(&out).len(), 4);
    assert!(
        per_address >= Duration::from_millis(1190),
        "--per-address 1 took {per_address:?}"
    );
}

#[test]
fn global_deadline_cuts_the_run_short() {
    let (_l, _f, port) = full_queue_listener();
    let started = Instant::now();
    let out = reach(&[
        "--json",
        "--timeout",
        "5s",
        "--deadline",
        "500ms",
        &format!("127.0.0.1:{port}"),
    ]);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--deadline reached"));
}

/// Peak resident memory of a child, sampled from /proc until it exits (KiB).
fn peak_rss_kib(mut child: std::process::Child) -> (u64, std::process::ExitStatus) {
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Ok(text) = std::fs::read_to_string(&status_path) {
            for line in text.lines() {
                if let Some(v) = line.strip_prefix("VmHWM:") {
                    let kib: u64 = v.trim().trim_end_matches("kB").trim().parse().unwrap_or(0);
                    peak = peak.max(kib);
                }
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            return (peak, status);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn run_streamed(lines: usize, port: u16) -> u64 {
    let mut child = Command::new(env!("CARGO_BIN_EXE_reach"))
        .args(["--json", "-i", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let mut buf = String::new();
        for i in 0..lines {
            buf.push_str(&format!(
                "127.0.{}.{}:{port}\n",
                (i / 250) % 250,
                1 + i % 250
            ));
        }
        stdin.write_all(buf.as_bytes()).unwrap();
    });
    let (peak, status) = peak_rss_kib(child);
    writer.join().unwrap();
    assert_eq!(status.code(), Some(1));
    peak
}

#[test]
fn memory_stays_bounded_on_a_long_streamed_input() {
    let port = free_port();
    let small = run_streamed(1_000, port);
    let large = run_streamed(10_000, port);
    // Ten times the input must not mean ten times the memory: allow generous noise.
    assert!(
        large < small * 2 + 8 * 1024,
        "1k lines: {small} KiB, 10k lines: {large} KiB"
    );
    assert!(large < 50 * 1024, "10k probes peaked at {large} KiB");
}
