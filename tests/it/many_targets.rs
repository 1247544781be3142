//! Runs over many targets: input files and stdin, CIDR sweeps, rate and concurrency limits,
//! and bounded memory on a long streamed input — all against real loopback sockets.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Launch, TempDir, free_port, full_queue_listener, json_lines, reach};

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
        .spawn_retrying()
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
        .spawn_retrying()
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

/// Runs reach with `args` and stdin from `stdin`, failing the test if it has not exited within
/// `limit` (the "does not hang" bound: generous, never a timing measurement).
fn reach_within(args: &[&str], stdin: Stdio, limit: Duration) -> std::process::Output {
    use std::io::Read;
    let mut child = Command::new(env!("CARGO_BIN_EXE_reach"))
        .args(args)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn_retrying()
        .unwrap();
    // Read both pipes as the child writes, keeping at most 1 MiB of each.
    let drain = |pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut pipe = pipe;
            let mut kept = Vec::new();
            let _ = (&mut pipe).take(1 << 20).read_to_end(&mut kept);
            let _ = std::io::copy(&mut pipe, &mut std::io::sink());
            kept
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("reach {args:?} was still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    std::process::Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

fn stderr_lines(out: &std::process::Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn a_directory_as_input_fails_once_with_64() {
    let dir = std::env::temp_dir().join(format!("reach-test-{}-dir", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = reach_within(
        &["-i", dir.to_str().unwrap()],
        Stdio::null(),
        Duration::from_secs(5),
    );
    let _ = std::fs::remove_dir(&dir);
    assert_eq!(out.status.code(), Some(64));
    let err = stderr_lines(&out);
    assert_eq!(err.len(), 1, "{err:?}");
    assert!(err[0].contains("is a directory"), "{err:?}");
    assert!(out.stdout.is_empty());
}

#[cfg(unix)]
#[test]
fn dev_zero_as_input_stops_at_once_with_one_message() {
    // One endless line of NUL bytes: once a 2 GiB allocation and an abort.
    let out = reach_within(
        &["--json", "-i", "/dev/zero"],
        Stdio::null(),
        Duration::from_secs(5),
    );
    assert_eq!(out.status.code(), Some(64));
    let err = stderr_lines(&out);
    assert_eq!(err.len(), 1, "{err:?}");
    assert!(err[0].contains("looks binary"), "{err:?}");
    assert!(out.stdout.is_empty());
}

#[test]
fn a_binary_file_as_input_stops_after_a_few_lines_with_one_message() {
    // The reach executable itself: a real binary, with NUL bytes on its first lines.
    let out = reach_within(
        &["--json", "-i", env!("CARGO_BIN_EXE_reach")],
        Stdio::null(),
        Duration::from_secs(5),
    );
    assert_eq!(out.status.code(), Some(64));
    let err = stderr_lines(&out);
    assert_eq!(err.len(), 1, "one message, not one per line: {err:?}");
    // Five bad lines, or fewer when a long line of binary ends it at once: the exact count
    // depends on the executable's layout.
    assert!(err[0].contains("the input looks binary ("), "{err:?}");
    assert!(out.stdout.is_empty(), "no probe of fragments of the file");
}

#[test]
fn an_input_without_targets_says_so_and_exits_64() {
    let temp_dir = TempDir::new("input");
    let empty = temp_dir.write("empty.txt", "");
    let comments = temp_dir.write("comments.txt", "# nothing to check yet\n\n");
    for (path, why) in [
        (&empty, "the input is empty"),
        (&comments, "only comments and blank lines"),
    ] {
        let out = reach_within(
            &["-i", path.to_str().unwrap()],
            Stdio::null(),
            Duration::from_secs(5),
        );
        assert_eq!(out.status.code(), Some(64));
        let err = stderr_lines(&out);
        assert_eq!(err.len(), 1, "{err:?}");
        assert!(err[0].contains(&format!("no targets: {why}")), "{err:?}");
        let _ = std::fs::remove_file(path);
    }
    let out = reach_within(&["-i", "-"], Stdio::null(), Duration::from_secs(5));
    assert_eq!(out.status.code(), Some(64));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("stdin: no targets"),
        "{out:?}"
    );
}

#[test]
fn a_100_mb_line_is_skipped_in_bounded_memory() {
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_reach"))
        .args(["--json", "-i", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn_retrying()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        writeln!(stdin, "127.0.0.1:{port}").unwrap();
        let block = vec![b'a'; 1 << 20];
        for _ in 0..100 {
            stdin.write_all(&block).unwrap();
        }
        writeln!(stdin, "\n127.0.0.2:{port}").unwrap();
    });
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap());
    let stderr = child.stderr.take().unwrap();
    let err_reader = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap());
    let (peak, status) = peak_rss_kib(child);
    writer.join().unwrap();
    let text = reader.join().unwrap();
    let err = err_reader.join().unwrap();
    assert_eq!(status.code(), Some(64));
    assert_eq!(text.lines().count(), 2, "both short lines probed: {text}");
    assert!(
        err.contains("line 2: longer than 8192 bytes, skipped"),
        "{err}"
    );
    // Held whole, the line alone would cost 100 MiB.
    assert!(peak < 40 * 1024, "peaked at {peak} KiB");
}

/// Runs reach with stdout piped, reads its first line, closes the pipe (as `| head -1` does)
/// and returns the exit status, failing the test if reach has not exited within 5 s.
fn first_line_then_close(args: &[&str]) -> (String, std::process::ExitStatus) {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_reach"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn_retrying()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader is dropped here: the pipe is closed.
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (first, status);
        }
        if started.elapsed() > Duration::from_secs(5) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("reach {args:?} still running 5 s after its stdout was closed");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_closed_stdout_stops_the_run_at_once_with_141() {
    let port = free_port();
    // 20,000 closed loopback ports, then one listener that sees whether the run got that far.
    let last = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    last.set_nonblocking(true).unwrap();
    let mut text = String::new();
    for i in 0..20_000 {
        text.push_str(&format!(
            "127.0.{}.{}:{port}\n",
            (i / 250) % 250,
            1 + i % 250
        ));
    }
    text.push_str(&format!("{}\n", last.local_addr().unwrap()));
    let temp_dir = TempDir::new("input");
    let path = temp_dir.write("20000-closed.txt", &text);
    for format in ["--color=never", "--json"] {
        let (first, status) = first_line_then_close(&[format, "-i", path.to_str().unwrap()]);
        assert!(first.contains(&port.to_string()), "{first}");
        assert_eq!(status.code(), Some(141), "{format}");
    }
    // Neither run reached the end of the input.
    let accepted = last.accept();
    assert!(
        matches!(&accepted, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the last target was probed: {accepted:?}"
    );
    let _ = std::fs::remove_file(path);
}

#[test]
fn deadline_counts_the_probes_it_cut_off_and_the_summary_says_so() {
    // Four filtered ports, at most two probes at once: at the deadline two had started (and
    // wait for a 5 s connect timeout), two had not. The count is of those that started.
    let held: Vec<_> = (0..4).map(|_| full_queue_listener()).collect();
    let ports: Vec<String> = held.iter().map(|(_, _, p)| p.to_string()).collect();
    let ports = ports.join(",");
    let args = [
        "--timeout",
        "5s",
        "--deadline",
        "500ms",
        "-c",
        "2",
        "-p",
        ports.as_str(),
        "127.0.0.1",
    ];
    let mut human = vec!["--color=never"];
    human.extend(args);
    let out = reach_within(&human, Stdio::null(), Duration::from_secs(4));
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("summary    no probe finished"), "{text}");
    assert!(
        text.contains("cut short  --deadline reached: 2 probes cut off"),
        "{text}"
    );
    let mut json = vec!["--json"];
    json.extend(args);
    let out = reach_within(&json, Stdio::null(), Duration::from_secs(4));
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = stderr_lines(&out);
    assert_eq!(
        err,
        ["reach: --deadline reached: 2 probes cut off, no probe started after it"]
    );
}
