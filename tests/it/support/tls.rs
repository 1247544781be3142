//! Shared helpers for the TLS integration tests: loopback servers, contexts, temp files, and
//! the skip-or-fail rule for tests that need an outside program.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use reach::demo::pki::{Credential, DemoCa, KeyKind};
use reach::demo::tls_server::{ServerHandle, ServerSpec, spawn_sni_server};
use reach::probe::tls::{self, TlsContext, TlsOptions, TlsRequest};
use reach::report::TlsReport;
use tokio::net::{TcpListener, TcpStream};

/// A test needing `what` cannot run: skip with a message, but fail under `CI=true`.
pub fn skip_or_fail(what: &str) {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("required for this test under CI: {what}");
    }
    eprintln!("SKIPPED: {what}");
}

/// A fresh directory under the system temp dir, removed by the caller's `TempDir` drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("reach-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).expect("write temp file");
        path
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

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

pub async fn connect(addr: SocketAddr) -> TcpStream {
    tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr))
        .await
        .expect("connect in time")
        .expect("connect")
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
    }
}

/// Asserts `word` is among the verify errors.
pub fn assert_error(report: &TlsReport, word: &str) {
    let verify = report.verify.as_ref().expect("certificate checked");
    assert!(
        verify.errors.iter().any(|e| e == word),
        "expected {word} in {:?} ({:?})",
        verify.errors,
        verify.notes
    );
}

/// Whether a program can be run (`prog -h` or similar succeeds to spawn).
pub fn have(program: &str) -> bool {
    std::process::Command::new(program)
        .arg("version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok()
}

/// A child process killed (by its own handle) when dropped.
pub struct Daemon {
    pub child: std::process::Child,
    pub name: String,
    /// Held open: some daemons (openssl s_server) end a connection when stdin hits EOF.
    _stdin: Option<std::process::ChildStdin>,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    /// Starts `program args` with output captured to files in `dir`; `None` when the program
    /// cannot be started (the caller skips or fails).
    pub fn start(program: &str, args: &[&str], dir: &Path) -> Option<Daemon> {
        let out = std::fs::File::create(dir.join(format!("{}.out", base(program)))).ok()?;
        let err = std::fs::File::create(dir.join(format!("{}.err", base(program)))).ok()?;
        let child = std::process::Command::new(program)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(out)
            .stderr(err)
            .spawn()
            .ok()?;
        let mut child = child;
        let stdin = child.stdin.take();
        Some(Daemon {
            child,
            name: program.to_string(),
            _stdin: stdin,
        })
    }

    /// Waits until `addr` accepts connections (or the process died, or 10 s passed).
    pub async fn wait_listening(&mut self, addr: SocketAddr, dir: &Path) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Ok(_)) =
                tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(addr)).await
            {
                return;
            }
            let died = self.child.try_wait().ok().flatten();
            if died.is_some() || std::time::Instant::now() > deadline {
                let log = std::fs::read_to_string(dir.join(format!("{}.err", base(&self.name))))
                    .unwrap_or_default();
                panic!(
                    "{} did not start listening on {addr} ({died:?}): {log}",
                    self.name
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn base(program: &str) -> &str {
    program.rsplit('/').next().unwrap_or(program)
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}
