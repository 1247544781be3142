//! What a user meets before any probe: `--help` (grouped by layer, `-h` short), `--version`,
//! value errors that name their flag (exit 64, one line on stderr, nothing on stdout), a hint
//! for a mistyped subcommand instead of a DNS query, the man page and the shell completions.

use std::process::Output;

use crate::support::dns::{Answer, DnsServer};
use crate::support::{Launch, TempDir, free_port, reach, require_binary};

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A usage error as README promises it: exit 64, nothing on stdout, one line on stderr.
#[track_caller]
fn usage_error(args: &[&str]) -> String {
    let out = reach(args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(64), "reach {args:?}: {err}");
    assert!(out.stdout.is_empty(), "reach {args:?} printed on stdout");
    assert_eq!(err.trim_end().lines().count(), 1, "reach {args:?}: {err}");
    assert!(err.starts_with("reach: "), "{err}");
    err
}

#[test]
fn value_errors_name_their_flag_in_one_line() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["-p", "0", "127.0.0.1"],
            "--ports \"0\": port 0 is not a port",
        ),
        (
            &["-p", "20-10", "127.0.0.1"],
            "--ports \"20-10\": range 20-10 runs backwards",
        ),
        (
            &["--timeout", "100000h", "127.0.0.1"],
            "--timeout \"100000h\": too large",
        ),
        (
            &["--timeout", "soon", "127.0.0.1"],
            "--timeout \"soon\": expected a duration",
        ),
        (
            &["-n", "-1", "127.0.0.1"],
            "-n \"-1\": a count must be at least 1",
        ),
        (&["-n", "0", "127.0.0.1"], "-n \"0\": expected a count"),
        (
            &["-4", "[::1]:443"],
            "-4 \"[::1]:443\": ::1 is an IPv6 address",
        ),
        (
            &["-6", "127.0.0.1:443"],
            "-6 \"127.0.0.1:443\": 127.0.0.1 is an IPv4 address",
        ),
        (
            &["--alpn", "", "127.0.0.1"],
            "--alpn \"\": empty protocol name",
        ),
        (
            &["--alpn", "h2,,http/1.1", "127.0.0.1"],
            "--alpn \"h2,,http/1.1\": empty protocol",
        ),
        (
            &["--resolver", "999.1.1.1", "x.example"],
            "--resolver \"999.1.1.1\"",
        ),
    ];
    for (args, wanted) in cases {
        let err = usage_error(args);
        assert!(
            err.contains(wanted),
            "reach {args:?}: {err:?} lacks {wanted:?}"
        );
        assert!(!err.contains("-- -1"), "clap's `-- -1` tip: {err}");
    }
}

#[test]
fn clap_errors_are_one_line_too() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["--color", "sometimes", "127.0.0.1"],
            "'--color <WHEN>' [possible values: auto",
        ),
        (
            &["--jsn", "127.0.0.1"],
            "a similar argument exists: '--json'",
        ),
        (
            &["completions"],
            "required arguments were not provided: <SHELL>",
        ),
        (
            &["completions", "tcsh"],
            "invalid value 'tcsh' for '<SHELL>'",
        ),
    ];
    for (args, wanted) in cases {
        let err = usage_error(args);
        assert!(
            err.contains(wanted),
            "reach {args:?}: {err:?} lacks {wanted:?}"
        );
    }
}

#[test]
fn files_that_cannot_be_read_are_named_by_their_flag() {
    let dir = TempDir::new("usage");
    let missing = dir.join("missing.pem");
    let missing = missing.to_str().unwrap();
    let err = usage_error(&["--ca-file", missing, "127.0.0.1"]);
    assert!(
        err.contains(&format!("cannot read --ca-file {missing:?}")),
        "{err}"
    );
    let err = usage_error(&["--cert", missing, "--key", missing, "127.0.0.1"]);
    assert!(
        err.contains(&format!("cannot read --cert {missing:?}")),
        "{err}"
    );
    let junk = dir.write("junk.pem", "not a certificate\n");
    let junk = junk.to_str().unwrap();
    let err = usage_error(&["--ca-file", junk, "127.0.0.1"]);
    assert!(
        err.contains(&format!("invalid --ca-file {junk:?}")),
        "{err}"
    );
}

#[test]
fn a_target_like_a_mistyped_subcommand_gets_a_hint_and_no_dns_query() {
    let dns = DnsServer::start(&[("demo2", Answer::NxDomain)]);
    let resolver = dns.addr.to_string();
    let err = usage_error(&["--resolver", &resolver, "completion", "bash"]);
    assert!(
        err.contains("did you mean `reach completions bash`?"),
        "{err}"
    );
    let err = usage_error(&["--resolver", &resolver, "demo2"]);
    assert!(err.contains("did you mean `reach demo`?"), "{err}");
    assert!(
        err.contains("demo2:443"),
        "the way to probe such a host: {err}"
    );
    assert_eq!(dns.queries(), 0, "a hint must not cost a DNS query");
    // With a port it is a host like any other, and is looked up.
    let out = reach(&["--resolver", &resolver, "--dns-timeout", "2s", "demo2:443"]);
    assert_eq!(out.status.code(), Some(5), "{}", stdout(&out));
    assert!(dns.queries() > 0);
}

#[test]
fn a_resolver_that_does_not_answer_is_named() {
    let silent = format!("127.0.0.1:{}", free_port());
    let out = reach(&["--resolver", &silent, "--dns-timeout", "500ms", "x.example"]);
    assert_eq!(out.status.code(), Some(5));
    let text = stdout(&out);
    assert!(text.contains(&format!("resolver {silent}")), "{text}");
}

#[test]
fn help_is_grouped_by_layer_short_with_h_and_long_with_help() {
    let short = stdout(&reach(&["-h"]));
    let long = stdout(&reach(&["--help"]));
    let headings = [
        "Targets:",
        "TCP:",
        "TLS:",
        "STARTTLS/greeting:",
        "Trace:",
        "Latency mode:",
        "Many targets:",
        "Output:",
        "Expectations:",
    ];
    for help in [&short, &long] {
        let mut at = 0;
        for heading in headings {
            let found = help[at..]
                .lines()
                .position(|l| l == heading)
                .unwrap_or_else(|| panic!("{heading} missing or out of order:\n{help}"));
            at += help[at..]
                .lines()
                .take(found + 1)
                .map(|l| l.len() + 1)
                .sum::<usize>();
        }
        assert!(help.contains("Examples:\n  reach example.com"), "{help}");
    }
    // -h: one line per option; --help: the paragraphs too.
    assert!(short.lines().count() * 2 < long.lines().count());
    assert!(!short.contains("PortQry takes them"), "{short}");
    assert!(
        long.contains("Lists and ranges as PortQry takes them"),
        "{long}"
    );
    assert!(
        long.contains("Exit codes: 0 reached what was asked"),
        "{long}"
    );
    let out = reach(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stderr.is_empty());
}

#[test]
fn version_names_the_build_target() {
    let out = reach(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    let line = text.trim_end();
    let target = line
        .strip_prefix(&format!("reach {} (", env!("CARGO_PKG_VERSION")))
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{line:?}"));
    assert!(target.starts_with(std::env::consts::ARCH), "{target}");
    assert!(target.contains(std::env::consts::OS), "{target}");
}

#[test]
fn the_man_page_is_roff_generated_from_the_options() {
    let out = reach(&["man"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let page = stdout(&out);
    assert!(page.starts_with(".ie"), "{}", &page[..page.len().min(200)]);
    for needle in [
        ".TH reach 1",
        ".SH NAME",
        ".SH SYNOPSIS",
        ".SH OPTIONS",
        "ca\\-file",
    ] {
        assert!(page.contains(needle), "{needle} missing");
    }
    // It renders: man(1) formats it without complaint.
    let Some(man) = require_binary(&["man"], "man-db") else {
        return;
    };
    let dir = TempDir::new("man");
    let file = dir.write("reach.1", &page);
    let shown = std::process::Command::new(man)
        .arg("-l")
        .arg(&file)
        .env("MANWIDTH", "100")
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .output()
        .expect("run man");
    assert!(shown.status.success(), "{}", stderr(&shown));
    let text = stdout(&shown);
    assert!(text.contains("Ports for targets that name none"), "{text}");
}

#[test]
fn completions_are_generated_for_every_shell_and_bash_accepts_its_script() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = reach(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", stderr(&out));
        let script = stdout(&out);
        assert!(script.contains("--ca-file"), "{shell}: {script}");
        assert!(script.contains("completions"), "{shell}");
    }
    let Some(bash) = require_binary(&["bash"], "bash") else {
        return;
    };
    let dir = TempDir::new("completions");
    let script = dir.write("reach.bash", &stdout(&reach(&["completions", "bash"])));
    let checked = std::process::Command::new(&bash)
        .arg("-n")
        .arg(&script)
        .output()
        .expect("run bash -n");
    assert!(checked.status.success(), "bash -n: {}", stderr(&checked));
    // And, sourced, it completes: the flags after `reach --ca`.
    let probe = format!(
        "source {script:?}; COMP_WORDS=(reach --ca); COMP_CWORD=1; COMP_LINE='reach --ca'; \
         COMP_POINT=10; _reach reach --ca reach; printf '%s\\n' \"${{COMPREPLY[@]}}\""
    );
    let completed = std::process::Command::new(&bash)
        .args(["--norc", "-c", &probe])
        .output()
        .expect("run bash");
    let words = stdout(&completed);
    assert!(
        words.lines().any(|w| w == "--ca-file"),
        "{words}{}",
        stderr(&completed)
    );
}

/// The `$ reach …` commands the demo printed, by the title above them.
fn demo_commands(text: &str) -> Vec<(String, Vec<String>)> {
    let mut commands = Vec::new();
    let mut title = String::new();
    for line in text.lines() {
        if let Some(t) = line.strip_prefix("# ") {
            title = t.to_string();
        } else if let Some(cmd) = line.strip_prefix("$ reach ") {
            let args = cmd.split_whitespace().map(String::from).collect();
            commands.push((title.clone(), args));
        }
    }
    commands
}

#[test]
fn the_demo_keeps_its_ca_file_and_with_serve_its_servers_for_the_printed_commands() {
    if crate::support::wine_cannot(
        "the demo starts a QUIC server (Wine 8 refuses IP_RECVECN) and shows a closed UDP port (Wine reports no port unreachable)",
    ) {
        return;
    }
    use std::io::{BufRead, BufReader};
    // Without --serve: the CA file its commands name is still there when it has ended.
    let out = reach(&["demo"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("`reach demo --serve` keeps them up"),
        "{text}"
    );
    // The UDP steps: an answer from the demo's own DNS responder, and a closed port.
    assert!(text.contains("/udp  UDP open: DNS answered in"), "{text}");
    assert!(
        text.contains("answer     NOERROR, 1 answer: . 3600 SOA ns.demo.example."),
        "{text}"
    );
    assert!(
        text.contains("/udp  UDP closed: ") && text.contains("(nothing listening)"),
        "{text}"
    );
    let ca_of = |args: &[String]| -> std::path::PathBuf {
        let at = args
            .iter()
            .position(|a| a == "--ca-file")
            .expect("--ca-file");
        std::path::PathBuf::from(&args[at + 1])
    };
    let commands = demo_commands(&text);
    let ca = ca_of(
        &commands
            .iter()
            .find(|(t, _)| t.contains("expired"))
            .unwrap()
            .1,
    );
    assert!(ca.is_file(), "{} is gone", ca.display());
    let _ = std::fs::remove_file(&ca);

    // With --serve: the servers answer the same commands until the demo is stopped.
    let mut demo = std::process::Command::new(env!("CARGO_BIN_EXE_reach"))
        .args(["demo", "--serve"])
        .stdout(std::process::Stdio::piped())
        .spawn_retrying()
        .expect("start reach demo --serve");
    let mut printed = String::new();
    let mut lines = BufReader::new(demo.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        let line = line.expect("demo output");
        printed.push_str(&line);
        printed.push('\n');
        if line.starts_with("# The servers stay up until Ctrl-C") {
            break;
        }
    }
    let commands = demo_commands(&printed);
    let run = |title: &str| {
        let (_, args) = commands
            .iter()
            .find(|(t, _)| t.contains(title))
            .unwrap_or_else(|| panic!("no {title:?} step: {printed}"));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        reach(&args)
    };
    let banner = run("a banner");
    assert_eq!(banner.status.code(), Some(0), "{}", stdout(&banner));
    assert!(
        stdout(&banner).contains("ssh answered"),
        "{}",
        stdout(&banner)
    );
    let vhosts = run("virtual hosts");
    assert_eq!(vhosts.status.code(), Some(4), "{}", stdout(&vhosts));
    assert!(stdout(&vhosts).contains("VHOST default_fallback"));
    let _ = demo.kill();
    let _ = demo.wait();
    let vhost_args = &commands
        .iter()
        .find(|(t, _)| t.contains("virtual"))
        .unwrap()
        .1;
    let _ = std::fs::remove_file(ca_of(vhost_args));
}
