//! Small scripted servers on loopback, for behaviour no installable daemon shows on demand
//! (silence, resets, endless output) and for NNTP, whose only Debian server (inn2) does not
//! install cleanly on a host without a resolvable FQDN. Each speaks the real wire format, and
//! the TLS after a go-ahead is a real rustls handshake.

use std::future::Future;
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// Listens on 127.0.0.1, runs `script` on the first connection, and returns the port.
pub async fn serve_once<F, Fut>(script: F) -> u16
where
    F: FnOnce(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        if let Ok((stream, _)) = listener.accept().await {
            script(stream).await;
        }
    });
    port
}

/// Reads one line (bounded by the test's own timeouts on the client side).
pub async fn read_line(reader: &mut BufReader<TcpStream>) -> String {
    let mut line = String::new();
    let _ = reader.read_line(&mut line).await;
    line
}

/// Writes `text` to the stream inside `reader`.
pub async fn say(reader: &mut BufReader<TcpStream>, text: &str) {
    let _ = reader.get_mut().write_all(text.as_bytes()).await;
}

/// A rustls server acceptor for a fresh self-signed `localhost` certificate, and the SHA-256
/// of that certificate.
pub fn tls_acceptor() -> (tokio_rustls::TlsAcceptor, Vec<u8>) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("rcgen");
    let der = certified.cert.der().clone();
    let fingerprint = ring::digest::digest(&ring::digest::SHA256, der.as_ref())
        .as_ref()
        .to_vec();
    let key = rustls::pki_types::PrivateKeyDer::try_from(certified.signing_key.serialize_der())
        .expect("key");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![der], key)
        .expect("server config");
    (
        tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        fingerprint,
    )
}
