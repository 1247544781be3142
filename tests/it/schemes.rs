//! A URL scheme decides the layers on any port: `https://` means TLS (and `HEAD /` inside it),
//! `http://` means `HEAD /` in plaintext. Real servers on random loopback ports.

use std::io::{Read, Write};

use reach::demo::pki::LeafSpec;
use reach::demo::tls_server::{ServerSpec, spawn_sni_server};

use crate::support::{Launch, LaunchAsync, TempDir, tls};

fn first_line(out: &std::process::Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.lines().next().expect("a JSON line")).expect("JSON")
}

#[tokio::test(flavor = "multi_thread")]
async fn https_scheme_means_tls_on_any_port() {
    let root = tls::root("scheme root");
    let leaf = root.issue(&LeafSpec::server(&["s.example"])).unwrap();
    let dir = TempDir::new("scheme");
    let ca = dir.write("ca.pem", &root.cert_pem()).display().to_string();
    let spec = ServerSpec {
        default: Some(leaf),
        ..ServerSpec::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = spawn_sni_server(listener, spec).unwrap();
    let url = format!("https://{}/", server.addr());
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_reach"))
        .args([
            "--json",
            "--ca-file",
            &ca,
            "--greeting-timeout",
            "300ms",
            &url,
        ])
        .output_retrying()
        .await
        .unwrap();
    let r = first_line(&out);
    assert_eq!(r["tls"]["chain"][0]["subject"], "CN=s.example", "{r}");
    assert_eq!(r["tls"]["verify"]["trusted"], true, "{r}");
    // The scheme's HEAD / went inside TLS (this server does not speak HTTP, so no answer).
    assert_eq!(r["greeting"]["over_tls"], true, "{r}");
    assert_eq!(r["greeting"]["asked"], "HEAD / HTTP/1.1", "{r}");
}

#[test]
fn http_scheme_sends_head_on_any_port() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nServer: scheme-test/1.0\r\n\r\n");
        }
    });
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_reach"))
        .args(["--json", &format!("http://127.0.0.1:{port}/")])
        .output_retrying()
        .unwrap();
    let r = first_line(&out);
    assert_eq!(r["greeting"]["protocol"], "http", "{r}");
    assert_eq!(r["greeting"]["http"]["status"], 204, "{r}");
    assert_eq!(r["greeting"]["http"]["server"], "scheme-test/1.0", "{r}");
    assert!(r["tls"].is_null());
}

#[test]
fn a_url_pasted_from_a_browser_goes_where_the_browser_goes() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            drop(stream);
        }
    });
    // A browser reads `\` as `/`: the host is localhost, `@127.0.0.2` is in the path. The hand
    // parser took 127.0.0.2 (and port 80) from it.
    let url = format!(r"http://localhost:{port}\@127.0.0.2/");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_reach"))
        .args(["--json", "-4", "--greeting-timeout", "200ms", &url])
        .output_retrying()
        .unwrap();
    let r = first_line(&out);
    assert_eq!(r["target"], url.as_str(), "{r}");
    assert_eq!(r["host"], "localhost", "{r}");
    assert_eq!(r["address"], "127.0.0.1", "{r}");
    assert_eq!(r["port"], port, "{r}");
    assert_eq!(r["tcp"]["state"], "open", "{r}");
}

#[test]
fn a_malformed_or_unknown_scheme_is_a_usage_error() {
    for target in ["no such scheme!://127.0.0.1:1", "gopherx://127.0.0.1:1"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_reach"))
            .args(["--json", target])
            .output_retrying()
            .unwrap();
        assert_eq!(out.status.code(), Some(64), "{target}");
        assert!(out.stdout.is_empty(), "{target}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("scheme"), "{err}");
    }
}
