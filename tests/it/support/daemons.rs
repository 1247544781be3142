//! Test support: temporary directories, certificates, free ports, and real daemons started on
//! loopback with temporary configurations and stopped when dropped.
//!
//! Tests that need root or a missing daemon call [`unavailable`]: it skips (with a message) on
//! a developer machine and fails under `CI=true`.

#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Skips the calling test with `reason`, or fails it when `CI=true`. Returns `None` so callers
/// can write `let Some(x) = ... else { return };`.
pub fn unavailable<T>(reason: &str) -> Option<T> {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("required under CI=true: {reason}");
    }
    eprintln!("SKIPPED: {reason}");
    None
}

/// `Some(())` when running as root (daemons need it to bind, switch users and chown).
pub fn require_root() -> Option<()> {
    if nix_is_root() {
        Some(())
    } else {
        unavailable("not running as root")
    }
}

fn nix_is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// The first of `candidates` that exists, or a skip/failure naming the package.
pub fn require_binary(candidates: &[&str], package: &str) -> Option<PathBuf> {
    for c in candidates {
        let p = Path::new(c);
        if p.is_absolute() && p.exists() {
            return Some(p.to_path_buf());
        }
        if !p.is_absolute()
            && let Ok(out) = Command::new("sh")
                .arg("-c")
                .arg(format!("command -v {c}"))
                .output()
            && out.status.success()
        {
            return Some(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
        }
    }
    unavailable(&format!(
        "{} not found (Debian package {package})",
        candidates.join(" or ")
    ))
}

/// A directory removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new world-traversable directory under the system temp dir.
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "reach-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).expect("create temp dir");
        set_mode(&path, 0o755);
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

/// Sets Unix permissions.
pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// Runs `chown -R owner path`.
pub fn chown(path: &Path, owner: &str) {
    let ok = Command::new("chown")
        .arg("-R")
        .arg(owner)
        .arg(path)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "chown {owner} {}", path.display());
}

/// A self-signed certificate for `localhost` / 127.0.0.1 written as PEM files.
pub struct TestCert {
    /// Certificate PEM path.
    pub cert: PathBuf,
    /// Private key PEM path (mode 0600).
    pub key: PathBuf,
    /// SHA-256 of the certificate's DER.
    pub fingerprint: Vec<u8>,
}

/// Generates a certificate in `dir` named `name.crt`/`name.key`.
pub fn make_cert(dir: &TempDir, name: &str) -> TestCert {
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let certified = rcgen::generate_simple_self_signed(names).expect("rcgen");
    let cert = dir.write(&format!("{name}.crt"), &certified.cert.pem());
    let key = dir.write(
        &format!("{name}.key"),
        &certified.signing_key.serialize_pem(),
    );
    set_mode(&key, 0o600);
    let fingerprint = ring::digest::digest(&ring::digest::SHA256, certified.cert.der())
        .as_ref()
        .to_vec();
    TestCert {
        cert,
        key,
        fingerprint,
    }
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// A running daemon, killed (and reaped) when dropped.
pub struct Daemon {
    name: String,
    child: Child,
    log: PathBuf,
    /// Where the real daemon writes its pid, when the started command is only a launcher.
    pidfile: Option<PathBuf>,
}

impl Daemon {
    /// Starts `cmd` with its output in `log`, then waits until every port in `ports` accepts.
    pub fn start(name: &str, mut cmd: Command, log: PathBuf, ports: &[u16]) -> Daemon {
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log clone");
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("start {name}: {e}"));
        let mut daemon = Daemon {
            name: name.to_string(),
            child,
            log,
            pidfile: None,
        };
        for &port in ports {
            daemon.wait_for(port, Duration::from_secs(30));
        }
        daemon
    }

    fn wait_for(&mut self, port: u16, limit: Duration) {
        let started = Instant::now();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        while started.elapsed() < limit {
            if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited with {status} before listening on {port}:\n{}",
                    self.name,
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "{} did not listen on {port} within {limit:?}:\n{}",
            self.name,
            self.log_text()
        );
    }

    /// Also stops the process whose pid is in `pidfile` (read when dropped).
    pub fn with_pidfile(mut self, pidfile: PathBuf) -> Daemon {
        self.pidfile = Some(pidfile);
        self
    }

    /// The daemon's output so far (for failure messages).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // SIGTERM first so that daemons with helper processes shut them down too.
        let launched = self.child.id();
        let recorded = self
            .pidfile
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .and_then(|s| s.trim().parse::<u32>().ok());
        for pid in std::iter::once(launched).chain(recorded) {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status();
        }
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(5) {
            let child_gone = matches!(self.child.try_wait(), Ok(Some(_)));
            let recorded_gone = recorded.is_none_or(|pid| !alive(pid));
            if child_gone && recorded_gone {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(pid) = recorded {
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg(pid.to_string())
                .status();
        }
    }
}

/// The process exists and is not a zombie.
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit(')')
            .next()
            .unwrap_or_default()
            .trim_start()
            .starts_with('Z')
    })
}

/// A TCP connection to 127.0.0.1:`port`.
pub async fn connect(port: u16) -> tokio::net::TcpStream {
    tokio::time::timeout(
        Duration::from_secs(5),
        tokio::net::TcpStream::connect(("127.0.0.1", port)),
    )
    .await
    .expect("connect timeout")
    .expect("connect")
}

/// Runs a TLS handshake over `stream` accepting any certificate (test-only) and returns the
/// SHA-256 fingerprint of the certificate the server presented, with the TLS stream.
pub async fn tls_fingerprint<S>(stream: S) -> (Vec<u8>, tokio_rustls::client::TlsStream<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnything(provider)))
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let tls = tokio::time::timeout(Duration::from_secs(10), connector.connect(name, stream))
        .await
        .expect("TLS handshake timeout")
        .expect("TLS handshake");
    let leaf = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .expect("server certificate")
        .clone();
    let fp = ring::digest::digest(&ring::digest::SHA256, leaf.as_ref())
        .as_ref()
        .to_vec();
    (fp, tls)
}

/// Accepts every certificate: these tests check *which* certificate arrived, not trust.
#[derive(Debug)]
struct AcceptAnything(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAnything {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
