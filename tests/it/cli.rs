//! The binary against real daemons on loopback, as a user would run it: an SSH banner with its
//! software, SMTP greeting + EHLO + STARTTLS + certificate in one run, IMAP STARTTLS, implicit
//! TLS on an imaps port, and a silent listener. Prints what reach printed (for the record).

use crate::support::{self, mail};

/// Runs reach with `args` twice, for people (printed) and as JSON (its first line).
fn human_and_json(args: &[&str]) -> (serde_json::Value, String) {
    let run = |extra: &[&str]| {
        let out = support::reach(&[extra, args].concat());
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let human = run(&["--color", "never"]);
    println!("$ reach {}\n{human}", args.join(" "));
    let json = run(&["--json"]);
    let value = serde_json::from_str(json.lines().next().unwrap_or("null")).expect("JSON line");
    (value, human)
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[test]
fn ssh_banner_names_the_software() {
    let Some(sshd) = mail::sshd() else { return };
    let (r, human) = human_and_json(&[&format!("127.0.0.1:{}", sshd.port)]);
    assert_eq!(r["greeting"]["protocol"], "ssh");
    assert!(
        r["greeting"]["software"]
            .as_str()
            .unwrap()
            .starts_with("OpenSSH_"),
        "{r}"
    );
    assert_eq!(r["service"]["detected"], "ssh");
    assert!(human.contains("ssh answered"), "{human}");
}

#[test]
fn smtp_greeting_capabilities_starttls_and_certificate_in_one_run() {
    let Some(postfix) = mail::postfix() else {
        return;
    };
    let target = format!("127.0.0.1:{}", postfix.port);
    let (r, human) = human_and_json(&["--starttls", "smtp", "--sni", "localhost", &target]);
    assert_eq!(r["greeting"]["protocol"], "smtp");
    let caps: Vec<&str> = r["greeting"]["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c.as_str())
        .collect();
    assert!(
        caps.iter().any(|c| c.eq_ignore_ascii_case("STARTTLS")),
        "{caps:?}"
    );
    assert_eq!(r["starttls"]["protocol"], "smtp");
    assert_eq!(r["starttls"]["offered"], true);
    assert_eq!(r["starttls"]["result"], "negotiated");
    assert_eq!(
        r["tls"]["chain"][0]["sha256"],
        hex(&postfix.cert.fingerprint)
    );
    assert_eq!(r["tls"]["verify"]["name_match"], true);
    // The daemon's certificate is self-signed: a certificate verdict, shown with the chain.
    assert_eq!(r["tls"]["verify"]["trusted"], false);
    assert!(human.contains("starttls   smtp: negotiated"), "{human}");
}

#[test]
fn imap_starttls_and_implicit_tls_greeting() {
    let Some(dovecot) = mail::dovecot() else {
        return;
    };
    let (r, _) = human_and_json(&["--starttls", "imap", &format!("127.0.0.1:{}", dovecot.imap)]);
    assert_eq!(r["starttls"]["result"], "negotiated");
    assert_eq!(
        r["tls"]["chain"][0]["sha256"],
        hex(&dovecot.cert.fingerprint)
    );
    // imaps on an arbitrary port: --tls, then the IMAP greeting is read inside TLS when the
    // port is the registered 993 only, so here the TLS layer is what we check.
    let (r, _) = human_and_json(&["--tls", &format!("127.0.0.1:{}", dovecot.imaps)]);
    assert_eq!(
        r["tls"]["chain"][0]["sha256"],
        hex(&dovecot.cert.fingerprint)
    );
    assert!(r["tls"]["version"].as_str().unwrap().starts_with("TLSv1."));
}

#[test]
fn a_silent_listener_accepts_but_says_nothing() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (r, human) = human_and_json(&["--greeting-timeout", "500ms", &format!("127.0.0.1:{port}")]);
    assert_eq!(r["tcp"]["state"], "open");
    assert_eq!(r["greeting"]["state"], "silent");
    assert!(r["greeting"]["protocol"].is_null());
    assert!(human.contains("silent"), "{human}");
    drop(listener);
}

/// TLS asked for on a port where Postfix greets in SMTP: the binary upgrades with SMTP
/// STARTTLS (saying the dialect came from the greeting) and goes on to the certificate,
/// instead of stopping at `not_tls`. The same for an `ADDRESS,NAME` pair, which asks for TLS
/// with that SNI, and for Dovecot's IMAP.
#[test]
fn starttls_is_chosen_from_the_greeting_when_tls_is_asked_for() {
    let Some(postfix) = mail::postfix() else {
        return;
    };
    let target = format!("127.0.0.1:{}", postfix.port);
    let pair = format!("{target},localhost");
    for args in [vec!["--tls", "--sni", "localhost", &target], vec![&pair]] {
        let (r, human) = human_and_json(&args);
        assert_eq!(r["starttls"]["protocol"], "smtp", "{}", r["tls"]);
        assert_eq!(r["starttls"]["from_greeting"], true);
        assert_eq!(r["starttls"]["result"], "negotiated");
        assert!(r["tls"]["version"].is_string(), "TLS done: {r}");
        assert_eq!(r["tls"]["sni"], "localhost");
        assert!(r["tls"]["chain"][0]["subject"].is_string());
        assert_ne!(r["stopped"]["layer"], "tls", "{r}");
        assert!(
            human.contains("dialect chosen from the greeting"),
            "{human}"
        );
    }
    let Some(dovecot) = mail::dovecot() else {
        return;
    };
    let target = format!("127.0.0.1:{}", dovecot.imap);
    let (r, _) = human_and_json(&["--tls", "--sni", "localhost", &target]);
    assert_eq!(
        (
            r["starttls"]["protocol"].as_str(),
            r["starttls"]["result"].as_str()
        ),
        (Some("imap"), Some("negotiated")),
        "{r}"
    );
    assert!(r["tls"]["version"].is_string(), "{r}");
}
