//! Shared test support: the reach binary, the skip policy, temporary directories, free ports
//! and connections here; real daemons (`daemons`, `mail`, `chat`, `db`, `web`), scripted and
//! in-process TLS servers (`scripted`, `tls`), a DNS responder (`dns`) and the network lab
//! (`lab`) in the modules.
//!
//! The TLS benchmark (`benches/tls_probe_cpu.rs`) mounts this tree too, as `crate::support`.

pub mod chat;
pub mod daemons;
pub mod db;
pub mod dns;
pub mod lab;
pub mod launch;
pub mod mail;
pub mod quic;
pub mod scripted;
pub mod tls;
pub mod udp;
pub mod web;
pub mod words;

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

pub use launch::{Launch, LaunchAsync};

/// Runs the built `reach` binary with `args`.
pub fn reach(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reach"))
        .args(args)
        .env_remove("NO_COLOR")
        .output_retrying()
        .expect("run reach")
}

/// Runs the built binary with `args` without blocking the runtime that serves the test's own
/// in-process servers (use from a multi-thread tokio test).
pub async fn reach_async(args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_reach"))
        .args(args)
        .env("NO_COLOR", "1")
        .kill_on_drop(true)
        .output_retrying()
        .await
        .expect("run reach")
}

/// `reach --json ARGS`, asynchronously: every JSON line, and the exit code.
pub async fn reach_json(args: &[&str]) -> (Vec<serde_json::Value>, i32) {
    let out = reach_async(&[&["--json"], args].concat()).await;
    let code = out.status.code().expect("exit code");
    (json_lines(&out), code)
}

/// What starting the binary costs here, in seconds (the quicker of two `reach --version`), to
/// take out of wall-clock bounds: under Wine on a loaded machine it is a second or more.
pub fn startup_seconds() -> f64 {
    (0..2)
        .map(|_| {
            let started = std::time::Instant::now();
            reach(&["--version"]);
            started.elapsed().as_secs_f64()
        })
        .fold(f64::MAX, f64::min)
}

/// Parses every stdout line as JSON.
pub fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

/// The skip policy, for a test that cannot run here for want of `reason` (root, a daemon, a
/// command, the network lab): on a developer machine it prints `skipped: TEST: REASON` where
/// `cargo test` shows it and the test returns; under `CI=true` nothing may be skipped, so it
/// panics. Callers return right after it, or use the `require_*` helpers built on it.
///
/// On Windows (Wine in CI) what is missing is missing by design — root, Linux daemons, the
/// network lab — so the test is skipped even under `CI=true`, saying so; docs/platforms.md
/// lists these tests.
pub fn skip_or_fail(reason: &str) {
    let test = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    if cfg!(windows) {
        let _ = writeln!(std::io::stderr(), "skipped on Windows: {test}: {reason}");
        return;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test} cannot run under CI=true: {reason}");
    }
    // Straight to stderr: libtest captures `eprintln!` of passing tests, and a skip must show.
    let _ = writeln!(std::io::stderr(), "skipped: {test}: {reason}");
}

/// `Some(())` when running as root (daemons need it to bind, switch users and chown; the lab
/// to make namespaces); otherwise [`skip_or_fail`] and `None`.
pub fn require_root() -> Option<()> {
    if is_root() {
        Some(())
    } else if cfg!(windows) {
        skip_or_fail("needs root and Linux daemons");
        None
    } else {
        skip_or_fail("needs root");
        None
    }
}

/// Whether the effective user is root (`Uid:` of /proc/self/status: real, effective, …).
/// Never on Windows, even where Wine would show the Linux file of the user running it.
pub fn is_root() -> bool {
    if cfg!(windows) {
        return false;
    }
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// The first of `candidates` (absolute paths, or names looked up in `PATH`, /usr/sbin and
/// /sbin) that exists; otherwise [`skip_or_fail`] naming the Debian `package`, and `None`.
pub fn require_binary(candidates: &[&str], package: &str) -> Option<PathBuf> {
    let found = candidates.iter().find_map(|c| find_binary(c));
    if found.is_none() && cfg!(windows) {
        skip_or_fail(&format!(
            "needs {}, a Linux program",
            candidates.join(" or ")
        ));
    } else if found.is_none() {
        skip_or_fail(&format!(
            "{} not found (Debian package {package})",
            candidates.join(" or ")
        ));
    }
    found
}

/// `program` as an absolute path that exists, or found in `PATH`, /usr/sbin or /sbin. Never
/// on Windows: these are Linux programs, which Wine would even start, with Windows paths.
pub fn find_binary(program: &str) -> Option<PathBuf> {
    if cfg!(windows) {
        return None;
    }
    let path = Path::new(program);
    if path.is_absolute() {
        return path.is_file().then(|| path.to_path_buf());
    }
    let dirs = std::env::var("PATH").unwrap_or_default();
    std::env::split_paths(&dirs)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// For what Wine (the Windows of CI) does not emulate as Windows does: under Wine it prints
/// `skipped under Wine: TEST: REASON` and is `true`; on Windows itself and on Linux the test
/// runs. docs/platforms.md lists these tests.
pub fn wine_cannot(reason: &str) -> bool {
    // Every Wine prefix has Wine's own boot program; Windows has none.
    let wine = cfg!(windows) && Path::new(r"C:\windows\system32\wineboot.exe").exists();
    if wine {
        let test = std::thread::current()
            .name()
            .unwrap_or("a test")
            .to_string();
        let _ = writeln!(std::io::stderr(), "skipped under Wine: {test}: {reason}");
    }
    wine
}

/// A directory under the system temp dir, world-traversable (daemons that switch users read
/// their configuration from it), removed with everything in it when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new, empty directory named after `tag`.
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "reach-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        daemons::set_mode(&path, 0o755);
        TempDir(path)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// A path inside it.
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Writes `contents` to `name` inside it and returns the path.
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let p = self.join(name);
        std::fs::write(&p, contents).expect("write temp file");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A loopback port that was free a moment ago: nobody listens on it (a closed port), or a
/// daemon can be told to listen on it.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// 127.0.0.1:`port`.
pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// A TCP connection to `addr`, within 5 s.
pub async fn connect(addr: SocketAddr) -> tokio::net::TcpStream {
    tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(addr))
        .await
        .unwrap_or_else(|_| panic!("connect to {addr}: timeout"))
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"))
}

/// A loopback listener whose accept queue is full, so further SYNs are dropped (filtered).
pub fn full_queue_listener() -> (socket2::Socket, Vec<std::net::TcpStream>, u16) {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket.bind(&loopback(0).into()).unwrap();
    socket.listen(0).unwrap();
    let port = socket.local_addr().unwrap().as_socket().unwrap().port();
    let mut fillers = Vec::new();
    for _ in 0..3 {
        if let Ok(s) =
            std::net::TcpStream::connect_timeout(&loopback(port), Duration::from_millis(200))
        {
            fillers.push(s);
        }
    }
    (socket, fillers, port)
}
