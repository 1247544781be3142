//! The TCP verdicts, latency mode, output formats and exit codes of the built binary, over
//! real sockets on loopback.

use std::time::Instant;

use crate::support::{
    free_port, full_queue_listener, json_lines, reach, skip_or_fail, startup_seconds,
};

#[test]
fn open_port_is_open_with_syn_ack_and_exit_0() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let out = reach(&["--json", &format!("127.0.0.1:{port}")]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 1);
    let r = &lines[0];
    assert_eq!(r["target"], format!("127.0.0.1:{port}"));
    assert_eq!(r["host"], "127.0.0.1");
    assert_eq!(r["address"], "127.0.0.1");
    assert_eq!(r["port"], port);
    assert_eq!(r["tcp"]["state"], "open");
    assert_eq!(r["tcp"]["reason"], "syn_ack");
    assert!(r["tcp"]["icmp_from"].is_null());
    assert!(r["tcp"]["connect_ms"].as_f64().unwrap() >= 0.0);
    assert_eq!(r["reached"], "tcp");
}

#[test]
fn closed_port_is_a_reset_not_an_icmp_and_exits_1() {
    let port = free_port();
    let out = reach(&["--json", &format!("127.0.0.1:{port}")]);
    assert_eq!(out.status.code(), Some(1));
    let r = &json_lines(&out)[0];
    assert_eq!(r["tcp"]["state"], "closed");
    assert_eq!(r["tcp"]["reason"], "rst");
    assert!(r["tcp"]["icmp_from"].is_null());
    assert_eq!(r["stopped"]["layer"], "tcp");
}

#[test]
fn ipv6_loopback_and_bracket_syntax() {
    let Ok(listener) = std::net::TcpListener::bind("[::1]:0") else {
        skip_or_fail("no IPv6 loopback on this machine");
        return;
    };
    let port = listener.local_addr().unwrap().port();
    let out = reach(&["--json", &format!("[::1]:{port}")]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json_lines(&out)[0]["address"], "::1");
}

#[test]
fn full_accept_queue_is_filtered_after_one_deadline_and_exits_2() {
    let (_listener, _fillers, port) = full_queue_listener();
    let startup = startup_seconds();
    let started = Instant::now();
    let out = reach(&["--json", "--timeout", "1s", &format!("127.0.0.1:{port}")]);
    let elapsed = started.elapsed().as_secs_f64() - startup;
    assert_eq!(out.status.code(), Some(2));
    let r = &json_lines(&out)[0];
    assert_eq!(r["tcp"]["state"], "filtered");
    assert_eq!(r["tcp"]["reason"], "timeout");
    let ms = r["tcp"]["connect_ms"].as_f64().unwrap();
    assert!((990.0..1500.0).contains(&ms), "connect_ms {ms}");
    assert!(elapsed < 2.5, "took {elapsed:.2}s for one 1s deadline");
}

#[test]
fn filtered_ports_in_a_sweep_cost_one_deadline_not_one_each() {
    let (_l1, _f1, p1) = full_queue_listener();
    let (_l2, _f2, p2) = full_queue_listener();
    let (_l3, _f3, p3) = full_queue_listener();
    let open = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let p4 = open.local_addr().unwrap().port();
    let ports = format!("{p1},{p2},{p3},{p4}");
    let startup = startup_seconds();
    let started = Instant::now();
    // The silent open port is not the subject: no follow-up probes after its silence.
    let out = reach(&[
        "--json",
        "--timeout",
        "1s",
        "--no-probe",
        "-p",
        &ports,
        "127.0.0.1",
    ]);
    let elapsed = started.elapsed().as_secs_f64() - startup;
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 4);
    let filtered = lines
        .iter()
        .filter(|r| r["tcp"]["state"] == "filtered")
        .count();
    assert_eq!(filtered, 3);
    // Wine on a loaded machine adds seconds of its own that no startup measure removes.
    if !crate::support::wine_cannot("its timing is not the probe's") {
        assert!(
            elapsed < 2.5,
            "three filtered ports took {elapsed:.2}s with a 1s deadline"
        );
    }
    // The worst verdict decides the exit code.
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn port_ranges_expand_in_order_for_humans() {
    let base = free_port();
    let spec = format!("{}-{}", base, base + 2);
    let out = reach(&["--color", "never", "-p", &spec, "127.0.0.1"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with(&format!("127.0.0.1:{base} ")),
        "{text}"
    );
    assert!(
        lines[2].starts_with(&format!("127.0.0.1:{} ", base + 2)),
        "{text}"
    );
    assert!(text.contains("3 probes"), "{text}");
}

#[test]
fn latency_mode_counts_attempts_and_reports_statistics() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accept in the background so the backlog never fills.
    std::thread::spawn(move || {
        for s in listener.incoming() {
            drop(s)
        }
    });
    let out = reach(&[
        "--json",
        "-n",
        "5",
        "--warmup",
        "2",
        "--interval",
        "10ms",
        &format!("127.0.0.1:{port}"),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let r = &json_lines(&out)[0];
    let s = &r["stats"];
    assert_eq!(s["sent"], 5);
    assert_eq!(s["received"], 5);
    assert_eq!(s["lost"], 0);
    assert_eq!(s["warmup"], 2);
    assert_eq!(s["attempts"].as_array().unwrap().len(), 5);
    let min = s["min_ms"].as_f64().unwrap();
    let avg = s["avg_ms"].as_f64().unwrap();
    let max = s["max_ms"].as_f64().unwrap();
    let p95 = s["p95_ms"].as_f64().unwrap();
    assert!(min <= avg && avg <= max && p95 <= max && min <= p95, "{s}");
}

#[test]
fn latency_mode_against_a_closed_port_loses_everything_with_the_reason() {
    let port = free_port();
    let out = reach(&[
        "--color",
        "never",
        "-n",
        "3",
        "--interval",
        "10ms",
        &format!("127.0.0.1:{port}"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("#1") && text.contains("#3"),
        "per-attempt lines: {text}"
    );
    assert!(text.contains("closed (rst)"), "{text}");
    assert!(
        text.contains("sent 3, received 0, lost 3 (100.0% loss)"),
        "{text}"
    );
}

#[test]
fn latency_mode_for_a_duration_and_with_histogram() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in listener.incoming() {
            drop(s)
        }
    });
    let started = Instant::now();
    let out = reach(&[
        "--color",
        "never",
        "-n",
        "300ms",
        "--warmup",
        "0",
        "--interval",
        "50ms",
        "--histogram",
        &format!("127.0.0.1:{port}"),
    ]);
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("p50") && text.contains("p95") && text.contains('#'),
        "{text}"
    );
    assert!(elapsed < 2.0, "a 300ms run took {elapsed:.2}s");
}

#[test]
fn usage_errors_are_one_line_exit_64_and_nothing_on_stdout() {
    let long_label = format!("{}.example", "a".repeat(300));
    for bad in ["host:99999", "[::1", "", &long_label] {
        let out = reach(&[bad]);
        assert_eq!(out.status.code(), Some(64), "{bad:?}");
        assert!(out.stdout.is_empty(), "{bad:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "{bad:?}: {err}");
        assert!(err.contains("invalid target"), "{err}");
    }
    let out = reach(&["--timeout", "soon", "127.0.0.1"]);
    assert_eq!(out.status.code(), Some(64));
    let out = reach(&["--no-such-flag"]);
    assert_eq!(out.status.code(), Some(64));
    let out = reach(&[]);
    assert_eq!(out.status.code(), Some(64));
}

#[test]
fn quiet_prints_nothing_and_expect_inverts_the_check() {
    let port = free_port();
    let target = format!("127.0.0.1:{port}");
    let out = reach(&["-q", &target]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
    let out = reach(&["-q", "--expect", "closed", &target]);
    assert_eq!(out.status.code(), Some(0));
    let out = reach(&["-q", "--expect", "open", &target]);
    assert_eq!(out.status.code(), Some(6));
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let port = free_port();
    let target = format!("127.0.0.1:{port}");
    let plain = reach(&[&target]);
    assert!(
        !plain.stdout.contains(&0x1b),
        "piped output must not be coloured"
    );
    let coloured = reach(&["--color", "always", &target]);
    assert!(coloured.stdout.contains(&0x1b));
}

#[test]
fn the_demo_shows_open_closed_and_filtered() {
    if crate::support::wine_cannot(
        "the demo starts a QUIC server (Wine 8 refuses IP_RECVECN) and shows a closed UDP port (Wine reports no port unreachable)",
    ) {
        return;
    }
    let out = reach(&["demo"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("TCP open"), "{text}");
    assert!(text.contains("TCP closed: RST"), "{text}");
    assert!(text.contains("TCP filtered"), "{text}");
    assert!(text.contains("greeting   silent"), "{text}");
    assert!(text.contains("software   OpenSSH 9.2p1"), "{text}");
    assert!(text.contains("starttls   smtp: negotiated"), "{text}");
    assert!(text.contains("vhost      matched"), "{text}");
    assert!(text.contains("VHOST default_fallback"), "{text}");
    assert!(text.contains("CERTIFICATE expired"), "{text}");
    assert!(text.contains("CERTIFICATE self_signed"), "{text}");
}

#[test]
fn latency_mode_stops_when_stdout_is_closed() {
    use crate::support::Launch;
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    use std::time::Duration;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // 1000 attempts 10 ms apart: 10 s if the series ignored the closed pipe.
    let mut child = Command::new(env!("CARGO_BIN_EXE_reach"))
        .args([
            "-n",
            "1000",
            "--interval",
            "10ms",
            &format!("127.0.0.1:{port}"),
        ])
        .stdout(Stdio::piped())
        .spawn_retrying()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.contains("#1"), "{first}");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(5) {
            let _ = child.kill();
            panic!("the series went on after its stdout was closed");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(status.code(), Some(141));
}

/// How a test knows that reach has started (and installed its signal handlers). The signal
/// tests are Unix-only: they send SIGINT/SIGTERM (Ctrl-C on Windows is not tested, see
/// docs/platforms.md).
#[cfg(unix)]
enum Ready<'a> {
    /// It printed a line.
    FirstLine,
    /// It connected to this listener.
    Connected(&'a std::net::TcpListener),
}

/// Starts reach with `args` (and `input` on stdin), sends `signal` `after` it is `ready`, and
/// returns its exit code and stdout, failing the test if it has not exited 5 s after the signal.
#[cfg(unix)]
fn signalled(
    args: &[&str],
    input: &str,
    ready: Ready<'_>,
    signal: nix::sys::signal::Signal,
    after: std::time::Duration,
) -> (Option<i32>, String) {
    use crate::support::Launch;
    use std::io::{BufRead, Write};
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_reach"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn_retrying()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    drop(stdin);
    let stdout = child.stdout.take().unwrap();
    let (first_tx, first_rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        for line in std::io::BufReader::new(stdout).lines() {
            text.push_str(&line.unwrap());
            text.push('\n');
            let _ = first_tx.send(());
        }
        text
    });
    match ready {
        Ready::FirstLine => first_rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("a first line of output"),
        Ready::Connected(listener) => drop(listener.accept().unwrap()),
    }
    std::thread::sleep(after);
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, signal).unwrap();
    let sent = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if sent.elapsed() > std::time::Duration::from_secs(5) {
            let _ = child.kill();
            panic!("reach {args:?} still running 5 s after {signal}");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    (status.code(), reader.join().unwrap())
}

#[cfg(unix)]
#[test]
fn ctrl_c_in_latency_mode_prints_the_statistics_so_far_and_exits_130() {
    use nix::sys::signal::Signal;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let target = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
    // 100 attempts 100 ms apart would take 10 s: interrupted after about 5.
    let args = ["-n", "100", "--interval", "100ms", target.as_str()];
    let (code, out) = signalled(
        &args,
        "",
        Ready::FirstLine,
        Signal::SIGINT,
        std::time::Duration::from_millis(400),
    );
    assert_eq!(code, Some(130), "{out}");
    let sent: u32 = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("attempts   sent "))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no statistics block: {out}"));
    assert!((1..100).contains(&sent), "sent {sent}: {out}");
    assert!(out.contains("connect    min "), "{out}");
    assert!(out.contains("interrupted by SIGINT"), "{out}");
    // SIGTERM: the same, 143; in JSON the report carries the statistics. A fresh listener, so
    // that its first connection is this run's.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let target = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
    let args = [
        "--json",
        "-n",
        "100",
        "--interval",
        "100ms",
        target.as_str(),
    ];
    let (code, out) = signalled(
        &args,
        "",
        Ready::Connected(&listener),
        Signal::SIGTERM,
        std::time::Duration::from_millis(400),
    );
    assert_eq!(code, Some(143), "{out}");
    let report: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let sent = report["stats"]["sent"].as_u64().unwrap();
    assert!((1..100).contains(&sent), "{report}");
    assert_eq!(
        report["stats"]["attempts"].as_array().unwrap().len() as u64,
        sent
    );
}

#[cfg(unix)]
#[test]
fn sigint_stops_probes_in_flight_and_prints_what_finished() {
    use nix::sys::signal::Signal;
    let (_l1, _f1, p1) = full_queue_listener();
    let (_l2, _f2, p2) = full_queue_listener();
    let closed = free_port();
    // Two probes wait for a 10 s deadline; the closed one is done (and printed: input from
    // stdin is printed as it finishes) at once.
    let input = format!("127.0.0.1:{p1}\n127.0.0.1:{p2}\n127.0.0.1:{closed}\n");
    let args = ["--color=never", "--timeout", "10s", "-i", "-"];
    let started = Instant::now();
    let (code, out) = signalled(
        &args,
        &input,
        Ready::FirstLine,
        Signal::SIGINT,
        std::time::Duration::from_millis(300),
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(code, Some(130), "{out}");
    assert!(
        out.contains(&format!("127.0.0.1:{closed}  TCP closed")),
        "{out}"
    );
    assert!(out.contains("summary    1 probes: 1 tcp closed"), "{out}");
    assert!(
        out.contains("cut short  interrupted by SIGINT: 2 probes cut off"),
        "{out}"
    );
}

/// A server that accepts and resets at once (SO_LINGER 0), as a crashing or overloaded service
/// does: the port is open, whether the reset reaches the kernel before or after the connect
/// returns. Both races are run many times over, so the verdict may not depend on the timing.
#[test]
fn accept_then_reset_is_open_every_time() {
    if crate::support::wine_cannot("Wine closes an SO_LINGER 0 socket with a FIN, not a RST") {
        return;
    }
    use std::io::Write as _;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let _ = socket2::SockRef::from(&stream).set_linger(Some(std::time::Duration::ZERO));
            drop(stream);
        }
    });
    let dir = crate::support::TempDir::new("reset-sweep");
    let mut lines = String::new();
    for _ in 0..300 {
        lines.push_str(&format!("127.0.0.1:{port}\n"));
    }
    let mut file = std::fs::File::create(dir.join("targets.txt")).unwrap();
    file.write_all(lines.as_bytes()).unwrap();
    let path = dir.join("targets.txt");
    let out = reach(&["--json", "--no-tls", "-i", path.to_str().unwrap()]);
    let reports = json_lines(&out);
    assert_eq!(reports.len(), 300);
    for r in &reports {
        assert_eq!(r["tcp"]["state"], "open", "{r}");
        assert_eq!(r["greeting"]["state"], "reset", "{r}");
    }
    assert_eq!(out.status.code(), Some(0));
}
