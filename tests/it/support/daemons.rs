//! Real daemons on loopback: [`Daemon`] starts one in its temporary directory and stops it
//! when dropped; certificates for them, and a TLS handshake that shows which certificate a
//! daemon presented. The daemons themselves are configured in `mail`, `chat`, `db` and `web`,
//! and the TLS tests start `openssl s_server` and nginx with it too.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{TempDir, loopback};

/// A running daemon, stopped (SIGTERM, then SIGKILL) and reaped when dropped.
pub struct Daemon {
    name: String,
    child: Child,
    log: PathBuf,
    /// Where the real daemon writes its pid, when the started command is only a launcher.
    pidfile: Option<PathBuf>,
    /// Held open: some daemons (`openssl s_server`) end a connection when stdin reaches EOF.
    _stdin: Option<ChildStdin>,
}

impl Daemon {
    /// Starts `cmd` as `name` with `dir` as its working directory, so that a core dump or any
    /// other file it leaves lands there and goes with the directory, never in the repository;
    /// its output goes to `dir/NAME.log`. Then waits until every port in `ports` accepts on
    /// 127.0.0.1, and panics with the log if the daemon exits first or 30 s pass.
    pub fn start(name: &str, mut cmd: Command, dir: &TempDir, ports: &[u16]) -> Daemon {
        let log = dir.join(&format!("{name}.log"));
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("log file");
        let err = out.try_clone().expect("log clone");
        cmd.current_dir(dir.path())
            .stdin(Stdio::piped())
            .stdout(out)
            .stderr(err);
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("start {name}: {e}"));
        let stdin = child.stdin.take();
        let mut daemon = Daemon {
            name: name.to_string(),
            child,
            log,
            pidfile: None,
            _stdin: stdin,
        };
        for &port in ports {
            daemon.wait_for(port, Duration::from_secs(30));
        }
        daemon
    }

    fn wait_for(&mut self, port: u16, limit: Duration) {
        let started = Instant::now();
        while started.elapsed() < limit {
            if std::net::TcpStream::connect_timeout(&loopback(port), Duration::from_millis(200))
                .is_ok()
            {
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

/// Runs a one-off command (key generation, database initialisation) to completion in `dir`
/// and returns its stdout; panics with its stderr when it fails.
pub fn run_in(dir: &TempDir, mut cmd: Command) -> String {
    let out = cmd
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Sets Unix permissions (nothing to set on Windows, where no daemon runs).
pub fn set_mode(path: &Path, mode: u32) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
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
