//! Post-deploy validation and monitoring: expectations on every layer, checks files with
//! JUnit reports, the Nagios plugin mode (side by side with `check_ssl_cert`) and the
//! Prometheus exporter scraped by a real Prometheus. Servers are in-process TLS servers on
//! loopback addresses (127.0.0.1–127.0.0.3), `openssl s_server` and nginx.

mod checks;
mod expect;
mod nagios;
mod prometheus;

use std::process::Output;

use reach::demo::pki::{Credential, DemoCa, LeafSpec, Validity};
use reach::demo::tls_server::{ServerHandle, ServerSpec, spawn_sni_server};
use tokio::net::TcpListener;

use crate::support::tls::root;
use crate::support::{LaunchAsync, TempDir};

/// A lab PKI: a root, an issuing CA under it, and the root's PEM in a temp dir.
struct Pki {
    _root: DemoCa,
    issuing: DemoCa,
    dir: TempDir,
}

impl Pki {
    fn new() -> Pki {
        let root = root("Example Root CA");
        let issuing = root
            .intermediate("Example Issuing CA", Default::default())
            .expect("mint intermediate");
        let dir = TempDir::new("monitor-pki");
        dir.write("ca.pem", &root.cert_pem());
        Pki {
            _root: root,
            issuing,
            dir,
        }
    }

    /// The root's PEM.
    fn _root_pem(&self) -> String {
        self._root.cert_pem()
    }

    /// The root's PEM file.
    fn ca(&self) -> String {
        self.dir.join("ca.pem").display().to_string()
    }

    /// A leaf for `names` from the issuing CA, valid as `validity` says.
    fn leaf(&self, names: &[&str], validity: Validity) -> Credential {
        self.issuing
            .issue(&LeafSpec {
                validity,
                ..LeafSpec::server(names)
            })
            .expect("issue leaf")
    }
}

/// A TLS server on `ip:port` (port 0: any) serving `routes` and an optional default.
async fn tls_on(ip: &str, port: u16, spec: ServerSpec) -> ServerHandle {
    let listener = TcpListener::bind(format!("{ip}:{port}"))
        .await
        .unwrap_or_else(|e| panic!("bind {ip}:{port}: {e}"));
    spawn_sni_server(listener, spec).expect("server starts")
}

/// Routes for `names`, each served `credential`, with a default.
fn spec(names: &[&str], credential: &Credential, default: Option<&Credential>) -> ServerSpec {
    ServerSpec {
        routes: names
            .iter()
            .map(|n| (n.to_string(), credential.clone()))
            .collect(),
        default: default.cloned(),
        ..ServerSpec::default()
    }
}

/// The binary with `args`, without blocking the runtime serving the test's servers.
async fn reach(args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_reach"))
        .args(args)
        .env("NO_COLOR", "1")
        .kill_on_drop(true)
        .output_retrying()
        .await
        .expect("run reach")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}
