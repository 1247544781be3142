//! The verdict engine through the binary, against real servers on loopback: the precedence
//! table of README ("Verdict precedence") row by row, each checked in the headline, `stopped`,
//! `problems[]` and the exit code at once, so the four can never disagree again; expectations
//! that say what was wanted and seen; latency mode walking TLS on every attempt.

use std::net::SocketAddr;
use std::time::Duration;

use reach::demo::pki::{self, LeafSpec, Validity};
use reach::demo::tls_server::{ServerSpec, UnknownName};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::support::dns::{Answer, DnsServer};
use crate::support::tls::*;
use crate::support::{TempDir, free_port, reach_async};

/// What one run of the binary said about one probe.
struct Seen {
    headline: String,
    stopped: (String, String),
    problems: Vec<String>,
    code: i32,
    json: Value,
}

/// Runs the binary twice (human, then `--json`) and reads the verdict of its one probe.
async fn run(args: &[&str]) -> Seen {
    let human = reach_async(args).await;
    let mut with_json: Vec<&str> = args.to_vec();
    with_json.push("--json");
    let json_out = reach_async(&with_json).await;
    let text = String::from_utf8_lossy(&human.stdout).into_owned();
    // Latency mode prints a line per attempt (`host:port  #1 …`) before the verdict line.
    let headline = text
        .lines()
        .find(|l| !l.contains("  #"))
        .unwrap_or_default()
        .to_string();
    let json: Value = serde_json::from_slice(&json_out.stdout)
        .unwrap_or_else(|e| panic!("one JSON line for {args:?}: {e}: {json_out:?}"));
    let stopped = (
        json["stopped"]["layer"].as_str().unwrap_or("-").to_string(),
        json["stopped"]["reason"]
            .as_str()
            .unwrap_or("-")
            .to_string(),
    );
    let problems = json["problems"]
        .as_array()
        .expect("problems is an array")
        .iter()
        .map(|p| {
            format!(
                "{} {}",
                p["layer"].as_str().unwrap(),
                p["reason"].as_str().unwrap()
            )
        })
        .collect();
    let code = human.status.code().expect("exit code");
    assert_eq!(
        json_out.status.code(),
        Some(code),
        "human and JSON runs agree on the exit code"
    );
    Seen {
        headline,
        stopped,
        problems,
        code,
        json,
    }
}

fn check(seen: &Seen, headline: &str, stopped: (&str, &str), problems: &[&str], code: i32) {
    assert!(
        seen.headline.contains(headline),
        "headline {:?} should contain {headline:?}",
        seen.headline
    );
    assert_eq!(
        (seen.stopped.0.as_str(), seen.stopped.1.as_str()),
        stopped,
        "{}",
        seen.json
    );
    assert_eq!(seen.problems, problems, "{}", seen.json);
    assert_eq!(seen.code, code, "{}", seen.headline);
    if stopped.0 != "-" {
        assert_eq!(
            seen.problems.first().map(String::as_str),
            Some(format!("{} {}", stopped.0, stopped.1).as_str()),
            "stopped is the first problem"
        );
    }
}

/// A loopback server that accepts and resets every connection (SO_LINGER 0).
async fn resetting_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            // Linger 0: close sends a RST at once (and does not block).
            let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
            drop(stream);
        }
    });
    addr
}

/// An SMTP server that advertises STARTTLS and refuses it (454), as a busy Postfix does.
async fn smtp_refusing_starttls() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut reader = BufReader::new(stream);
                let _ = reader.get_mut().write_all(b"220 mx.test ESMTP\r\n").await;
                let mut line = String::new();
                while reader.read_line(&mut line).await.is_ok_and(|n| n > 0) {
                    let reply: &[u8] = if line.to_ascii_uppercase().starts_with("EHLO") {
                        b"250-mx.test\r\n250 STARTTLS\r\n"
                    } else if line.to_ascii_uppercase().starts_with("STARTTLS") {
                        b"454 4.7.0 TLS not available due to local problem\r\n"
                    } else {
                        b"221 bye\r\n"
                    };
                    let _ = reader.get_mut().write_all(reply).await;
                    line.clear();
                }
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_precedence_table_row_by_row() {
    let ca = root("Precedence Root");
    let dir = TempDir::new("precedence");
    let ca_file = dir.write("ca.pem", &ca.cert_pem());
    let ca_file = ca_file.to_str().expect("utf-8 path");
    let trusted = |names: &[&str]| ca.issue(&LeafSpec::server(names)).expect("leaf");
    let stranger = root("Nobody Trusts This Root");
    let default_self_signed = pki::self_signed(&LeafSpec::server(&["default.test"])).expect("ss");

    // Rows 1-4: below TLS.
    let dns = DnsServer::start(&[("nosuch.test", Answer::NxDomain)]);
    let resolver = dns.addr.to_string();
    let seen = run(&["--resolver", &resolver, "nosuch.test:443"]).await;
    check(
        &seen,
        "DNS nxdomain",
        ("dns", "nxdomain"),
        &["dns nxdomain"],
        5,
    );

    let closed = free_port().to_string();
    let seen = run(&["--no-tls", &format!("127.0.0.1:{closed}")]).await;
    check(&seen, "TCP closed", ("tcp", "closed"), &["tcp closed"], 1);

    let smtp = smtp_refusing_starttls().await;
    let seen = run(&["--starttls", "smtp", &smtp.to_string()]).await;
    check(
        &seen,
        "STARTTLS refused",
        ("starttls", "refused"),
        &["starttls refused"],
        3,
    );

    let reset = resetting_server().await;
    let seen = run(&["--tls", &reset.to_string()]).await;
    check(&seen, "TLS reset", ("tls", "reset"), &["tls reset"], 3);

    // Row 5: the name is not routed. The self-signed default explains the name mismatch and
    // its own trust problem.
    let a = trusted(&["a.test"]);
    let fallback = server(routes(&[("a.test", &a)], Some(&default_self_signed))).await;
    let target = fallback.addr().to_string();
    let seen = run(&["--ca-file", ca_file, "--sni", "x.test", &target]).await;
    check(
        &seen,
        "VHOST default_fallback",
        ("vhost", "default_fallback"),
        &[
            "vhost default_fallback",
            "certificate self_signed",
            "certificate name_mismatch",
        ],
        4,
    );
    let refusing = server(ServerSpec {
        unknown_name: UnknownName::Refuse,
        ..routes(&[("a.test", &a)], None)
    })
    .await;
    let target = refusing.addr().to_string();
    let seen = run(&["--ca-file", ca_file, "--sni", "x.test", &target]).await;
    check(
        &seen,
        "VHOST unrecognized_name",
        ("vhost", "unrecognized_name"),
        &["vhost unrecognized_name"],
        4,
    );
    assert_eq!(seen.json["tls"]["error"]["alert"], "unrecognized_name");

    // Row 6: an untrusted chain is never hidden behind a name mismatch.
    let foreign = stranger
        .issue(&LeafSpec::server(&["other.test"]))
        .expect("leaf");
    let untrusted = server(routes(
        &[("x.test", &foreign)],
        Some(&trusted(&["default.test"])),
    ))
    .await;
    let target = untrusted.addr().to_string();
    let seen = run(&["--ca-file", ca_file, "--sni", "x.test", &target]).await;
    check(
        &seen,
        "CERTIFICATE unknown_issuer",
        ("certificate", "unknown_issuer"),
        &[
            "certificate unknown_issuer",
            "vhost mismatch",
            "certificate name_mismatch",
        ],
        4,
    );

    // Rows 6-7: who signed comes before when.
    let old_self_signed = pki::self_signed(&LeafSpec {
        validity: Validity::Expired,
        ..LeafSpec::server(&["old.test"])
    })
    .expect("ss");
    let old = server(routes(&[("old.test", &old_self_signed)], None)).await;
    let target = old.addr().to_string();
    let seen = run(&["--ca-file", ca_file, "--sni", "old.test", &target]).await;
    check(
        &seen,
        "CERTIFICATE self_signed",
        ("certificate", "self_signed"),
        &["certificate self_signed", "certificate expired"],
        4,
    );

    // Row 8: a trusted certificate for other names, served for this one (not the default).
    let wrong = server(routes(
        &[("x.test", &trusted(&["y.test"]))],
        Some(&trusted(&["default.test"])),
    ))
    .await;
    let target = wrong.addr().to_string();
    let seen = run(&["--ca-file", ca_file, "--sni", "x.test", &target]).await;
    check(
        &seen,
        "VHOST mismatch",
        ("vhost", "mismatch"),
        &["vhost mismatch", "certificate name_mismatch"],
        4,
    );

    // Row 9: no SNI, so the bare name mismatch is all there is to say.
    let target = wrong.addr().to_string();
    let seen = run(&["--ca-file", ca_file, "--tls", &target]).await;
    check(
        &seen,
        "CERTIFICATE name_mismatch",
        ("certificate", "name_mismatch"),
        &["certificate name_mismatch"],
        4,
    );

    // And nothing wrong: the right virtual host.
    let target = fallback.addr().to_string();
    let seen = run(&["--ca-file", ca_file, "--sni", "a.test", &target]).await;
    check(&seen, "OK: right virtual host", ("-", "-"), &[], 0);
    assert_eq!(seen.json["reached"], "vhost");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_expectation_says_what_was_wanted_and_seen() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let open = listener.local_addr().expect("addr").to_string();
    let seen = run(&["--no-tls", "--expect", "closed", &open]).await;
    assert_eq!(seen.code, 6);
    assert!(
        seen.headline
            .contains("EXPECT state failed: wanted closed, saw open"),
        "{}",
        seen.headline
    );
    assert_eq!(
        seen.json["expect"],
        serde_json::json!([{"check": "state", "wanted": "closed", "seen": "open", "ok": false}])
    );
    assert_eq!(seen.problems, ["expect state"]);
    assert_eq!(seen.stopped, ("-".to_string(), "-".to_string()));

    let closed = format!("127.0.0.1:{}", free_port());
    let seen = run(&["--no-tls", "--expect", "closed", &closed]).await;
    assert_eq!(seen.code, 0);
    assert!(seen.headline.contains("(as expected)"), "{}", seen.headline);
    assert_eq!(seen.json["expect"][0]["ok"], true);
    drop(listener);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_mode_walks_tls_on_every_attempt() {
    if crate::support::wine_cannot("Wine closes an SO_LINGER 0 socket with a FIN, not a RST") {
        return;
    }
    let reset = resetting_server().await;
    let args = ["-n", "3", "--interval", "50ms", "--warmup", "0", "--tls"];
    let mut with_target: Vec<&str> = args.to_vec();
    let target = reset.to_string();
    with_target.push(&target);
    let seen = run(&with_target).await;
    check(&seen, "TLS reset", ("tls", "reset"), &["tls reset"], 3);
    let layers = &seen.json["stats"]["layers"];
    assert_eq!(
        layers,
        &serde_json::json!([
            {"layer": "tcp", "tried": 3, "ok": 3, "failed": 0, "reasons": []},
            {"layer": "tls", "tried": 3, "ok": 0, "failed": 3,
             "reasons": [{"reason": "reset", "count": 3}]}
        ])
    );
    assert!(seen.json["stats"]["tls_handshake"].is_null());
    let human = reach_async(&with_target).await;
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(text.contains("failed 3/3: reset ×3"), "{text}");

    // A wrong, self-signed certificate on every attempt is a certificate verdict, not "open".
    let ss = pki::self_signed(&LeafSpec::server(&["default.test"])).expect("ss");
    let srv = server(routes(&[], Some(&ss))).await;
    let target = srv.addr().to_string();
    let mut with_target: Vec<&str> = args.to_vec();
    with_target.push(&target);
    let seen = run(&with_target).await;
    assert_eq!(seen.code, 4, "{}", seen.headline);
    assert_eq!(seen.stopped.0, "certificate", "{}", seen.json);
    assert_eq!(
        seen.json["stats"]["layers"][2]["layer"], "certificate",
        "{}",
        seen.json["stats"]["layers"]
    );
    assert_eq!(seen.json["stats"]["layers"][2]["failed"], 3);
    assert!(seen.json["stats"]["tls_handshake"]["min_ms"].is_number());
}
