//! A tiny TLS server (tokio-rustls) that serves a certificate per SNI name with a default,
//! or misbehaves on purpose (never answers, speaks SSH). Bounded and stoppable; used by the
//! tests and by `reach demo`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::ServerConfig;
use rustls::server::{Acceptor, WebPkiClientVerifier};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::LazyConfigAcceptor;

use super::pki::Credential;
use crate::probe::tls::TlsVersion;

/// Longest a single connection may live.
const CONNECTION_LIFETIME: Duration = Duration::from_secs(20);
/// Most connections served at once (the rest wait).
const MAX_CONNECTIONS: usize = 64;
/// An `unrecognized_name` fatal alert record.
const UNRECOGNIZED_NAME_ALERT: [u8; 7] = [21, 3, 3, 0, 2, 2, 112];

/// What the server does with a connection.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Behaviour {
    /// Speak TLS.
    #[default]
    Tls,
    /// Accept, read the ClientHello and never answer.
    Silent,
    /// Send these bytes (e.g. an SSH banner) and then just read.
    Banner(Vec<u8>),
}

/// What to do with an SNI name that has no route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnknownName {
    /// Serve the default certificate.
    #[default]
    ServeDefault,
    /// Refuse with an `unrecognized_name` alert.
    Refuse,
}

/// The server's configuration.
#[derive(Debug, Clone, Default)]
pub struct ServerSpec {
    /// SNI name (case-insensitive) → certificate chain and key.
    pub routes: Vec<(String, Credential)>,
    /// Served without SNI (and for unknown names with [`UnknownName::ServeDefault`]);
    /// `None`: such handshakes get an `unrecognized_name` alert.
    pub default: Option<Credential>,
    /// Unknown names.
    pub unknown_name: UnknownName,
    /// ALPN protocols the server accepts, in preference order.
    pub alpn: Vec<String>,
    /// Versions the server speaks (empty: TLS 1.2 and 1.3).
    pub versions: Vec<TlsVersion>,
    /// Require a client certificate issued by one of these roots.
    pub client_ca: Vec<rustls::pki_types::CertificateDer<'static>>,
    /// An OCSP response to staple.
    pub ocsp: Option<Vec<u8>>,
    /// How to treat connections.
    pub behaviour: Behaviour,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum DemoServerError {
    /// The TLS configuration was rejected.
    #[error("TLS server configuration: {0}")]
    Config(#[from] rustls::Error),
    /// The client-certificate verifier could not be built.
    #[error("client certificate verifier: {0}")]
    ClientVerifier(String),
    /// The listener is unusable.
    #[error("listener: {0}")]
    Listener(#[from] std::io::Error),
}

/// A running server; stopped when dropped.
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    sni_log: Arc<Mutex<Vec<Option<String>>>>,
}

impl ServerHandle {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The SNI of every ClientHello received so far (`None`: no SNI), in order.
    pub fn sni_seen(&self) -> Vec<Option<String>> {
        self.sni_log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Stops accepting and closes every connection.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

struct Shared {
    routes: HashMap<String, Arc<ServerConfig>>,
    default: Option<Arc<ServerConfig>>,
    unknown_name: UnknownName,
    behaviour: Behaviour,
    sni_log: Arc<Mutex<Vec<Option<String>>>>,
}

/// Starts serving `spec` on `listener` (bind it to a loopback address).
pub fn spawn_sni_server(
    listener: TcpListener,
    spec: ServerSpec,
) -> Result<ServerHandle, DemoServerError> {
    let addr = listener.local_addr()?;
    let mut routes = HashMap::new();
    for (name, credential) in &spec.routes {
        routes.insert(name.to_ascii_lowercase(), server_config(&spec, credential)?);
    }
    let default = spec
        .default
        .as_ref()
        .map(|c| server_config(&spec, c))
        .transpose()?;
    let sni_log = Arc::new(Mutex::new(Vec::new()));
    let shared = Arc::new(Shared {
        routes,
        default,
        unknown_name: spec.unknown_name,
        behaviour: spec.behaviour.clone(),
        sni_log: sni_log.clone(),
    });
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(accept_loop(listener, shared, stopped));
    Ok(ServerHandle {
        addr,
        stop,
        task: Some(task),
        sni_log,
    })
}

fn server_config(
    spec: &ServerSpec,
    credential: &Credential,
) -> Result<Arc<ServerConfig>, DemoServerError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: Vec<&'static rustls::SupportedProtocolVersion> = if spec.versions.is_empty() {
        vec![&rustls::version::TLS13, &rustls::version::TLS12]
    } else {
        spec.versions
            .iter()
            .map(|v| match v {
                TlsVersion::Tls13 => &rustls::version::TLS13,
                TlsVersion::Tls12 => &rustls::version::TLS12,
            })
            .collect()
    };
    let builder =
        ServerConfig::builder_with_provider(provider.clone()).with_protocol_versions(&versions)?;
    let builder = if spec.client_ca.is_empty() {
        builder.with_no_client_auth()
    } else {
        let mut roots = rustls::RootCertStore::empty();
        for ca in &spec.client_ca {
            roots.add(ca.clone())?;
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| DemoServerError::ClientVerifier(e.to_string()))?;
        builder.with_client_cert_verifier(verifier)
    };
    let mut config = builder.with_single_cert_with_ocsp(
        credential.chain.clone(),
        credential.key(),
        spec.ocsp.clone().unwrap_or_default(),
    )?;
    config.alpn_protocols = spec.alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    Ok(Arc::new(config))
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            accepted = listener.accept() => {
                let Ok((stream, _peer)) = accepted else { continue };
                let Ok(permit) = permits.clone().acquire_owned().await else { break };
                let shared = shared.clone();
                connections.spawn(async move {
                    let _ = tokio::time::timeout(CONNECTION_LIFETIME, serve(stream, &shared)).await;
                    drop(permit);
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
}

async fn serve(mut stream: TcpStream, shared: &Shared) {
    match &shared.behaviour {
        Behaviour::Silent => return drain(&mut stream).await,
        Behaviour::Banner(banner) => {
            let _ = stream.write_all(banner).await;
            return drain(&mut stream).await;
        }
        Behaviour::Tls => {}
    }
    let mut acceptor = std::pin::pin!(LazyConfigAcceptor::new(Acceptor::default(), stream));
    let Ok(start) = acceptor.as_mut().await else {
        return;
    };
    let sni = start
        .client_hello()
        .server_name()
        .map(str::to_ascii_lowercase);
    shared
        .sni_log
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(sni.clone());
    let config = match &sni {
        Some(name) => match shared.routes.get(name) {
            Some(config) => Some(config.clone()),
            None if shared.unknown_name == UnknownName::ServeDefault => shared.default.clone(),
            None => None,
        },
        None => shared.default.clone(),
    };
    let Some(config) = config else {
        let mut io = start.io;
        let _ = io.write_all(&UNRECOGNIZED_NAME_ALERT).await;
        let _ = io.shutdown().await;
        return;
    };
    let Ok(mut tls) = start.into_stream(config).await else {
        return;
    };
    // Say which route answered, then wait for the client to close.
    let _ = tls.write_all(b"hello from reach demo\n").await;
    let _ = tls.flush().await;
    drain(&mut tls).await;
}

/// Reads and discards until EOF or error (bounded by the connection lifetime).
async fn drain<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buf).await {
        if n == 0 {
            break;
        }
    }
}
