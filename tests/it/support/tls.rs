//! Helpers for the TLS tests: in-process SNI servers on loopback, demo CAs, trust contexts,
//! and the whole TLS probe against an address.

use std::net::SocketAddr;
use std::time::Duration;

use reach::demo::pki::{Credential, DemoCa, KeyKind};
use reach::demo::tls_server::{ServerHandle, ServerSpec, spawn_sni_server};
use reach::probe::tls::{self, TlsContext, TlsOptions, TlsRequest};
use reach::report::TlsReport;
use tokio::net::{TcpListener, TcpStream};

use super::{TempDir, connect};

/// A demo root CA.
pub fn root(name: &str) -> DemoCa {
    DemoCa::root(name, KeyKind::EcdsaP256).expect("mint root")
}

/// A context trusting only `roots` (as a `--ca-file` that replaces the built-in roots).
pub fn context(roots: &[&DemoCa], tweak: impl FnOnce(&mut TlsOptions)) -> (TlsContext, TempDir) {
    let dir = TempDir::new("ca");
    let pem: String = roots.iter().map(|r| r.cert_pem()).collect();
    let mut options = TlsOptions {
        ca_files: vec![dir.write("ca.pem", &pem)],
        replace_roots: true,
        handshake_timeout: Duration::from_secs(5),
        ..TlsOptions::default()
    };
    tweak(&mut options);
    (TlsContext::load(&options).expect("context loads"), dir)
}

/// Starts a demo server on 127.0.0.1.
pub async fn server(spec: ServerSpec) -> ServerHandle {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    spawn_sni_server(listener, spec).expect("demo server starts")
}

/// A server spec with routes and a default.
pub fn routes(routes: &[(&str, &Credential)], default: Option<&Credential>) -> ServerSpec {
    ServerSpec {
        routes: routes
            .iter()
            .map(|(n, c)| (n.to_string(), (*c).clone()))
            .collect(),
        default: default.cloned(),
        ..ServerSpec::default()
    }
}

/// The whole probe against `addr`, with fresh connections for the follow-ups.
pub async fn probe(addr: SocketAddr, req: &TlsRequest, ctx: &TlsContext) -> TlsReport {
    let stream = connect(addr).await;
    let open_fresh = move || async move { TcpStream::connect(addr).await.ok() };
    let run = tls::probe(stream, open_fresh, req, ctx);
    let (report, _stream) = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("probe finishes in time");
    report
}

/// A request with SNI `name`, checked against `name`, with the vhost verdict.
pub fn sni(name: &str) -> TlsRequest {
    TlsRequest {
        sni: Some(name.to_string()),
        verify_name: name.to_string(),
        want_vhost: true,
        ..TlsRequest::default()
    }
}

/// Asserts `word` is among the verify errors.
pub fn assert_error(report: &TlsReport, word: &str) {
    let verify = report.verify.as_ref().expect("certificate checked");
    assert!(
        verify.errors.iter().any(|e| super::words::word(e) == word),
        "expected {word} in {:?} ({:?})",
        verify.errors,
        verify.notes
    );
}
