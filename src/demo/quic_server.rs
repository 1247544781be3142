//! A tiny QUIC server (quinn, rustls with the ring provider) that serves a certificate per SNI
//! name with a default, like [`super::tls_server`] does over TCP, and offers ALPN `h3`. It can
//! ask every client for address validation first (a Retry) and can refuse connections with
//! CONNECTION_CLOSE `CONNECTION_REFUSED`, the transport's own refusal. It speaks no HTTP/3:
//! the handshake is what `reach` checks. Bounded and stoppable; used by the tests and by
//! `reach demo`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use quinn::crypto::rustls::QuicServerConfig;
use quinn::{Endpoint, EndpointConfig, Incoming, TokioRuntime};
use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::task::{JoinHandle, JoinSet};

use super::pki::Credential;
use super::tls_server::{DemoServerError, UnknownName};

/// Longest a single connection may live.
const CONNECTION_LIFETIME: Duration = Duration::from_secs(20);
/// Most connections served at once; past that, new ones are refused.
const MAX_CONNECTIONS: usize = 64;
/// The ALPN served when the spec names none: HTTP/3.
const DEFAULT_ALPN: &str = "h3";

/// What the server does with a new connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QuicBehaviour {
    /// Complete the handshake.
    #[default]
    Serve,
    /// Refuse it at once: CONNECTION_CLOSE with `CONNECTION_REFUSED` (0x2) in an Initial, as a
    /// server at capacity does.
    Refuse,
}

/// The server's configuration.
#[derive(Debug, Clone, Default)]
pub struct QuicServerSpec {
    /// SNI name (case-insensitive) → certificate chain and key.
    pub routes: Vec<(String, Credential)>,
    /// Served without SNI (and for unknown names with [`UnknownName::ServeDefault`]); `None`:
    /// such handshakes fail (rustls sends `handshake_failure`).
    pub default: Option<Credential>,
    /// Unknown names.
    pub unknown_name: UnknownName,
    /// ALPN protocols the server accepts (empty: `h3`).
    pub alpn: Vec<String>,
    /// Answer every client's first Initial with a Retry (address validation).
    pub retry: bool,
    /// How to treat connections.
    pub behaviour: QuicBehaviour,
}

/// A running server; stopped when dropped.
#[derive(Debug)]
pub struct QuicServerHandle {
    addr: SocketAddr,
    endpoint: Endpoint,
    task: Option<JoinHandle<()>>,
    sni_log: Arc<Mutex<Vec<Option<String>>>>,
}

impl QuicServerHandle {
    /// The UDP address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The SNI of every ClientHello received so far (`None`: no SNI), in order.
    pub fn sni_seen(&self) -> Vec<Option<String>> {
        lock(&self.sni_log).clone()
    }

    /// Stops accepting and closes every connection.
    pub async fn stop(mut self) {
        self.endpoint.close(0u32.into(), b"server stopping");
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
        }
    }
}

impl Drop for QuicServerHandle {
    fn drop(&mut self) {
        self.endpoint.close(0u32.into(), b"server stopping");
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// Picks the certificate by SNI, as the TCP server's per-name configurations do.
#[derive(Debug)]
struct SniResolver {
    routes: HashMap<String, Arc<CertifiedKey>>,
    default: Option<Arc<CertifiedKey>>,
    unknown_name: UnknownName,
    sni_log: Arc<Mutex<Vec<Option<String>>>>,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let sni = hello.server_name().map(str::to_ascii_lowercase);
        lock(&self.sni_log).push(sni.clone());
        match sni {
            Some(name) => match self.routes.get(&name) {
                Some(key) => Some(key.clone()),
                None if self.unknown_name == UnknownName::ServeDefault => self.default.clone(),
                None => None,
            },
            None => self.default.clone(),
        }
    }
}

/// Starts serving `spec` on `socket` (bind it to a loopback address). Call inside a tokio
/// runtime.
pub fn spawn_quic_server(
    socket: std::net::UdpSocket,
    spec: QuicServerSpec,
) -> Result<QuicServerHandle, DemoServerError> {
    let addr = socket.local_addr()?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certified = |c: &Credential| CertifiedKey::from_der(c.chain.clone(), c.key(), &provider);
    let mut routes = HashMap::new();
    for (name, credential) in &spec.routes {
        routes.insert(name.to_ascii_lowercase(), Arc::new(certified(credential)?));
    }
    let default = spec
        .default
        .as_ref()
        .map(|c| certified(c).map(Arc::new))
        .transpose()?;
    let sni_log = Arc::new(Mutex::new(Vec::new()));
    let resolver = SniResolver {
        routes,
        default,
        unknown_name: spec.unknown_name,
        sni_log: sni_log.clone(),
    };
    let mut tls = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver));
    tls.alpn_protocols = if spec.alpn.is_empty() {
        vec![DEFAULT_ALPN.as_bytes().to_vec()]
    } else {
        spec.alpn.iter().map(|p| p.as_bytes().to_vec()).collect()
    };
    let crypto = QuicServerConfig::try_from(tls)
        .map_err(|e| DemoServerError::Config(rustls::Error::General(e.to_string())))?;
    let config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    let endpoint = Endpoint::new(
        EndpointConfig::default(),
        Some(config),
        socket,
        Arc::new(TokioRuntime),
    )?;
    let task = tokio::spawn(accept_loop(endpoint.clone(), spec.retry, spec.behaviour));
    Ok(QuicServerHandle {
        addr,
        endpoint,
        task: Some(task),
        sni_log,
    })
}

async fn accept_loop(endpoint: Endpoint, retry: bool, behaviour: QuicBehaviour) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            incoming = endpoint.accept() => {
                // `None`: the endpoint was closed (the handle stopped or dropped).
                let Some(incoming) = incoming else { break };
                if let Some(serving) = admit(incoming, retry, behaviour, connections.len()) {
                    connections.spawn(async move {
                        let _ = tokio::time::timeout(CONNECTION_LIFETIME, serving).await;
                    });
                }
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
}

/// What to do with one new connection; `Some`: serve it with the returned future.
fn admit(
    incoming: Incoming,
    retry: bool,
    behaviour: QuicBehaviour,
    serving: usize,
) -> Option<impl Future<Output = ()> + Send + 'static> {
    if retry && !incoming.remote_address_validated() && incoming.may_retry() {
        // The client must come back with the token: its next Initial is validated.
        let _ = incoming.retry();
        return None;
    }
    if behaviour == QuicBehaviour::Refuse || serving >= MAX_CONNECTIONS {
        incoming.refuse();
        return None;
    }
    let connecting = incoming.accept().ok()?;
    Some(async move {
        // Hold the connection until the client closes it (it checks the handshake and goes).
        if let Ok(connection) = connecting.await {
            connection.closed().await;
        }
    })
}
