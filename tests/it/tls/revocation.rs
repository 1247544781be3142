//! Revocation through the binary, against OpenSSL's own tools: a CA made with `openssl req` /
//! `openssl x509`, its database (`index.txt`) marking one leaf revoked (keyCompromise) and one
//! good; stapled responses made by `openssl ocsp` and served by `openssl s_server
//! -status_file`; `openssl ocsp` running as a responder (`--revocation ocsp`); and the CRL made
//! by `openssl ca -gencrl`, served by nginx (`--revocation crl`).
//!
//! `openssl ocsp -port` listens on every address, so each test runs its servers and reach in a
//! network namespace of its own that has nothing but loopback: every URL in the certificates is
//! `http://127.0.0.1:…`, and nothing listens or travels outside it. Needs root, `ip`, openssl
//! and nginx (Debian packages iproute2, openssl, nginx-light).

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::daemons::{Daemon, run_in};
use crate::support::{TempDir, require_binary, require_root};

/// Ports inside the namespace (it is private, so they are free).
const OCSP_PORT: u16 = 8080;
const CRL_PORT: u16 = 8081;
const TLS_PORT: u16 = 4433;

/// A network namespace with only loopback, deleted when dropped.
struct LoopbackNs {
    name: String,
}

impl LoopbackNs {
    fn new() -> Option<LoopbackNs> {
        require_root()?;
        require_binary(&["ip"], "iproute2")?;
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "rrev{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let ip = |args: &[&str]| {
            let ok = Command::new("ip")
                .args(args)
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "ip {args:?}");
        };
        ip(&["netns", "add", &name]);
        ip(&["-n", &name, "link", "set", "lo", "up"]);
        Some(LoopbackNs { name })
    }

    /// `program` inside the namespace.
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).arg(program);
        cmd
    }

    /// Waits until something listens on 127.0.0.1:`port` in the namespace.
    fn wait_for(&self, port: u16, daemon: &Daemon) {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            let listening = self
                .command("ss")
                .args(["-Hltn", &format!("sport = :{port}")])
                .output()
                .is_ok_and(|o| !o.stdout.is_empty());
            if listening {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("nothing listens on {port}:\n{}", daemon.log_text());
    }

    /// Runs reach in the namespace with `args`; the JSON line and the exit code.
    fn reach(&self, args: &[&str]) -> (Value, i32) {
        let out = self
            .command(env!("CARGO_BIN_EXE_reach"))
            .arg("--json")
            .args(args)
            .output()
            .expect("run reach");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout.lines().next().unwrap_or_else(|| {
            panic!(
                "no output from reach {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        let json = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        (json, out.status.code().unwrap_or(-1))
    }
}

impl Drop for LoopbackNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// A CA with a delegated OCSP responder certificate, and leaves for `good.test` (good),
/// `revoked.test` (revoked on 2025-01-01, keyCompromise), `down.test` (good, but its OCSP
/// responder and CRL locations are ports where nothing listens) and `stranger.test` (not in
/// the CA's database).
struct Pki {
    dir: TempDir,
    openssl: PathBuf,
}

impl Pki {
    fn new(tag: &str) -> Option<Pki> {
        let openssl = require_binary(&["openssl"], "openssl")?;
        let pki = Pki {
            dir: TempDir::new(tag),
            openssl,
        };
        pki.run(
            "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
             -out ca.pem -subj /O=reach/CN=Revocation-Test-CA -days 30 \
             -addext basicConstraints=critical,CA:TRUE \
             -addext keyUsage=critical,keyCertSign,cRLSign",
        );
        pki.issue(
            "ocsp",
            "/CN=Revocation-Test-OCSP-Responder",
            "0100",
            "keyUsage=critical,digitalSignature\nextendedKeyUsage=OCSPSigning\n",
        );
        for (name, serial, ocsp, crl) in [
            ("good", "1001", OCSP_PORT, CRL_PORT),
            ("revoked", "1002", OCSP_PORT, CRL_PORT),
            ("down", "1003", 9, 9),
            // Not in the CA's database: the responder answers `unknown`.
            ("stranger", "1004", OCSP_PORT, CRL_PORT),
        ] {
            let ext = format!(
                "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n\
                 subjectAltName=DNS:{name}.test\n\
                 authorityInfoAccess=OCSP;URI:http://127.0.0.1:{ocsp}/\n\
                 crlDistributionPoints=URI:http://127.0.0.1:{crl}/ca.crl\n"
            );
            pki.issue(name, &format!("/CN={name}.test"), serial, &ext);
        }
        pki.dir.write(
            "index.txt",
            "V\t301231000000Z\t\t1001\tunknown\t/CN=good.test\n\
             R\t301231000000Z\t250101000000Z,keyCompromise\t1002\tunknown\t/CN=revoked.test\n\
             V\t301231000000Z\t\t1003\tunknown\t/CN=down.test\n",
        );
        pki.dir.write("index.txt.attr", "unique_subject = no\n");
        Some(pki)
    }

    /// Runs `openssl` with `args`, split at spaces (no argument here contains one).
    fn run(&self, args: &str) -> String {
        let mut cmd = Command::new(&self.openssl);
        cmd.args(args.split_whitespace());
        run_in(&self.dir, cmd)
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    /// A key and a certificate `name.pem` signed by the CA, with `ext` extensions.
    fn issue(&self, name: &str, subject: &str, serial: &str, ext: &str) {
        self.dir.write(
            &format!("{name}.ext"),
            &format!("basicConstraints=CA:FALSE\n{ext}"),
        );
        let (key, csr, pem) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
        );
        self.run(&format!(
            "req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout {key} -out {csr} \
             -subj {subject}"
        ));
        self.run(&format!(
            "x509 -req -in {csr} -CA ca.pem -CAkey ca.key -set_serial 0x{serial} -days 30 \
             -out {pem} -extfile {name}.ext"
        ));
    }

    /// The responder's answer for `leaf`, made by `openssl ocsp` from the index, signed with
    /// `signer` (`ocsp`: the delegated responder, `ca`: the issuer itself, or any other).
    fn response(&self, leaf: &str, signer: &str) -> String {
        let (req, resp) = (format!("{leaf}-req.der"), format!("{leaf}-{signer}.der"));
        self.run(&format!(
            "ocsp -issuer ca.pem -cert {leaf}.pem -reqout {req} -no_nonce"
        ));
        self.run(&format!(
            "ocsp -index index.txt -CA ca.pem -rsigner {signer}.pem -rkey {signer}.key \
             -reqin {req} -respout {resp} -ndays 1"
        ));
        self.path(&resp)
    }

    /// `openssl s_server` for `leaf` on [`TLS_PORT`], stapling `staple` if given.
    fn s_server(&self, ns: &LoopbackNs, leaf: &str, staple: Option<&str>) -> Daemon {
        let mut cmd = ns.command(&self.openssl);
        cmd.args(["s_server", "-accept", &format!("127.0.0.1:{TLS_PORT}")])
            .args(["-cert", &self.path(&format!("{leaf}.pem"))])
            .args(["-key", &self.path(&format!("{leaf}.key"))])
            .args(["-quiet", "-www"]);
        if let Some(staple) = staple {
            cmd.args(["-status_file", staple]);
        }
        let daemon = Daemon::start("s_server", cmd, &self.dir, &[]);
        ns.wait_for(TLS_PORT, &daemon);
        daemon
    }
}

/// `reach --sni NAME 127.0.0.1:TLS_PORT` trusting the test CA, with `extra` flags.
fn probe(ns: &LoopbackNs, pki: &Pki, name: &str, extra: &[&str]) -> (Value, i32) {
    let ca = pki.path("ca.pem");
    let target = format!("127.0.0.1:{TLS_PORT}");
    let mut args = vec!["--ca-file", &ca, "--sni", name];
    args.extend_from_slice(extra);
    args.push(&target);
    ns.reach(&args)
}

fn stopped(line: &Value) -> (String, String) {
    let s = &line["stopped"];
    (
        s["layer"].as_str().unwrap_or("-").to_string(),
        s["reason"].as_str().unwrap_or("-").to_string(),
    )
}

fn stopped_at_revoked(line: &Value, code: i32) {
    assert_eq!(
        stopped(line),
        ("certificate".into(), "revoked".into()),
        "{line}"
    );
    assert_eq!(code, 4, "{line}");
    assert_eq!(line["reached"], "tls", "{line}");
    let verify = &line["tls"]["verify"];
    assert_eq!(verify["trusted"], false, "{line}");
    assert!(
        verify["errors"]
            .as_array()
            .is_some_and(|e| e.iter().any(|w| w == "revoked")),
        "{line}"
    );
    let revocation = &line["tls"]["revocation"];
    assert_eq!(revocation["status"], "revoked", "{line}");
    assert_eq!(revocation["revoked_at"], "2025-01-01T00:00:00Z", "{line}");
    assert_eq!(revocation["reason"], "key_compromise", "{line}");
}

fn good(line: &Value, code: i32) {
    assert_eq!(code, 0, "{line}");
    assert!(line["stopped"].is_null(), "{line}");
    assert_eq!(line["tls"]["revocation"]["status"], "good", "{line}");
    assert_eq!(line["tls"]["verify"]["trusted"], true, "{line}");
}

#[test]
fn a_stapled_revoked_response_stops_at_the_certificate_and_a_good_one_passes() {
    let Some(ns) = LoopbackNs::new() else {
        return;
    };
    let Some(pki) = Pki::new("revocation-staple") else {
        return;
    };
    // Revoked, signed by the delegated responder (OCSP-signing EKU).
    let staple = pki.response("revoked", "ocsp");
    let server = pki.s_server(&ns, "revoked", Some(&staple));
    let (line, code) = probe(&ns, &pki, "revoked.test", &[]);
    drop(server);
    stopped_at_revoked(&line, code);
    let ocsp = &line["tls"]["ocsp"];
    assert_eq!(ocsp["verified"], true, "{line}");
    assert!(
        ocsp["signer"]
            .as_str()
            .is_some_and(|s| s.contains("CN=Revocation-Test-OCSP-Responder")),
        "{line}"
    );
    assert_eq!(line["tls"]["revocation"]["source"], "staple", "{line}");
    assert_eq!(line["tls"]["revocation"]["mode"], "staple", "{line}");

    // Good, signed by the issuer itself.
    let staple = pki.response("good", "ca");
    let server = pki.s_server(&ns, "good", Some(&staple));
    let (line, code) = probe(&ns, &pki, "good.test", &[]);
    drop(server);
    good(&line, code);
    assert_eq!(line["tls"]["revocation"]["signer"], "the issuer", "{line}");
    assert!(
        line["tls"]["revocation"]["next_update"].is_string(),
        "{line}"
    );

    // --revocation off: the staple is shown, unchecked, and decides nothing.
    let staple = pki.response("revoked", "ocsp");
    let server = pki.s_server(&ns, "revoked", Some(&staple));
    let (line, code) = probe(&ns, &pki, "revoked.test", &["--revocation", "off"]);
    drop(server);
    assert_eq!(code, 0, "{line}");
    assert!(line["tls"]["revocation"].is_null(), "{line}");
    assert_eq!(line["tls"]["ocsp"]["cert_status"], "revoked", "{line}");
    assert_eq!(line["tls"]["ocsp"]["verified"], false, "{line}");
}

#[test]
fn an_unverifiable_staple_is_reported_as_such_and_never_trusted() {
    let Some(ns) = LoopbackNs::new() else {
        return;
    };
    let Some(pki) = Pki::new("revocation-unverified") else {
        return;
    };
    // A response about another certificate (the revoked leaf's), stapled by the good server.
    let other = pki.response("revoked", "ocsp");
    // A response signed by a certificate without the OCSP-signing EKU (the good leaf itself).
    let unauthorized = pki.response("good", "good");
    for (staple, why) in [
        (other, "not this one"),
        (unauthorized, "lacks the OCSP-signing extended key usage"),
    ] {
        let server = pki.s_server(&ns, "good", Some(&staple));
        let (line, code) = probe(&ns, &pki, "good.test", &[]);
        drop(server);
        assert_eq!(code, 0, "{line}");
        let ocsp = &line["tls"]["ocsp"];
        assert_eq!(ocsp["verified"], false, "{line}");
        assert!(
            ocsp["problem"].as_str().is_some_and(|p| p.contains(why)),
            "{why}: {line}"
        );
        let revocation = &line["tls"]["revocation"];
        assert_eq!(revocation["status"], "unavailable", "{line}");
        assert!(revocation["source"].is_null(), "{line}");
        assert!(
            revocation["detail"]
                .as_str()
                .is_some_and(|d| d.contains("not trusted")),
            "{line}"
        );
    }
}

#[test]
fn the_ocsp_responder_the_certificate_names_is_asked() {
    let Some(ns) = LoopbackNs::new() else {
        return;
    };
    let Some(pki) = Pki::new("revocation-ocsp") else {
        return;
    };
    let mut cmd = ns.command(&pki.openssl);
    cmd.args([
        "ocsp",
        "-index",
        "index.txt",
        "-port",
        &OCSP_PORT.to_string(),
    ])
    .args(["-CA", "ca.pem", "-rsigner", "ocsp.pem", "-rkey", "ocsp.key"])
    .args(["-ndays", "1", "-ignore_err"]);
    let responder = Daemon::start("openssl-ocsp", cmd, &pki.dir, &[]);
    ns.wait_for(OCSP_PORT, &responder);
    let url = format!("http://127.0.0.1:{OCSP_PORT}/");

    let server = pki.s_server(&ns, "revoked", None);
    let (line, code) = probe(&ns, &pki, "revoked.test", &["--revocation", "ocsp"]);
    drop(server);
    stopped_at_revoked(&line, code);
    let revocation = &line["tls"]["revocation"];
    assert_eq!(revocation["source"], "ocsp", "{line}");
    assert_eq!(revocation["url"], url.as_str(), "{line}");
    assert!(revocation["ms"].is_f64(), "{line}");
    assert_eq!(line["tls"]["ocsp"]["stapled"], false, "{line}");

    let server = pki.s_server(&ns, "good", None);
    let (line, code) = probe(&ns, &pki, "good.test", &["--revocation", "ocsp"]);
    drop(server);
    good(&line, code);
    assert_eq!(line["tls"]["revocation"]["source"], "ocsp", "{line}");

    // A certificate the responder does not know: `unknown`, reported, no verdict changed.
    let server = pki.s_server(&ns, "stranger", None);
    let (line, code) = probe(&ns, &pki, "stranger.test", &["--revocation", "ocsp"]);
    drop(server);
    assert_eq!(code, 0, "{line}");
    assert_eq!(line["tls"]["revocation"]["status"], "unknown", "{line}");
    assert_eq!(line["tls"]["revocation"]["source"], "ocsp", "{line}");

    // A responder that is not there: unavailable, with why, and no verdict changed.
    let server = pki.s_server(&ns, "down", None);
    let (line, code) = probe(&ns, &pki, "down.test", &["--revocation", "ocsp"]);
    drop(server);
    assert_eq!(code, 0, "{line}");
    let revocation = &line["tls"]["revocation"];
    assert_eq!(revocation["status"], "unavailable", "{line}");
    assert!(
        revocation["detail"]
            .as_str()
            .is_some_and(|d| d.contains("refused")),
        "{line}"
    );
    drop(responder);
}

#[test]
fn the_crl_the_certificate_names_is_fetched_from_nginx() {
    let Some(ns) = LoopbackNs::new() else {
        return;
    };
    let Some(pki) = Pki::new("revocation-crl") else {
        return;
    };
    let Some(nginx) = require_binary(&["/usr/sbin/nginx"], "nginx-light") else {
        return;
    };
    pki.dir.write(
        "ca.cnf",
        "[ca]\ndefault_ca = test\n[test]\ndatabase = index.txt\ncrlnumber = crlnumber\n\
         default_md = sha256\ndefault_crl_days = 7\n",
    );
    pki.dir.write("crlnumber", "01\n");
    std::fs::create_dir_all(pki.dir.join("www")).expect("www");
    pki.run("ca -gencrl -config ca.cnf -keyfile ca.key -cert ca.pem -out ca.crl.pem");
    pki.run("crl -in ca.crl.pem -outform DER -out www/ca.crl");
    let d = pki.dir.path().display();
    let config = pki.dir.write(
        "nginx.conf",
        &format!(
            "pid {d}/nginx.pid;\nerror_log {d}/error.log;\nworker_processes 1;\nevents {{}}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
               fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
               server {{\n    listen 127.0.0.1:{CRL_PORT};\n    root {d}/www;\n  }}\n}}\n"
        ),
    );
    let mut cmd = ns.command(nginx);
    cmd.arg("-c").arg(&config).arg("-g").arg("daemon off;");
    let web = Daemon::start("nginx", cmd, &pki.dir, &[]);
    ns.wait_for(CRL_PORT, &web);

    let server = pki.s_server(&ns, "revoked", None);
    let (line, code) = probe(&ns, &pki, "revoked.test", &["--revocation", "crl"]);
    drop(server);
    stopped_at_revoked(&line, code);
    let revocation = &line["tls"]["revocation"];
    assert_eq!(revocation["source"], "crl", "{line}");
    assert_eq!(
        revocation["url"],
        format!("http://127.0.0.1:{CRL_PORT}/ca.crl").as_str(),
        "{line}"
    );
    assert_eq!(revocation["signer"], "the issuer", "{line}");

    let server = pki.s_server(&ns, "good", None);
    let (line, code) = probe(&ns, &pki, "good.test", &["--revocation", "crl"]);
    drop(server);
    good(&line, code);
    assert_eq!(line["tls"]["revocation"]["source"], "crl", "{line}");
    drop(web);
}
