//! A tiny SMTP server for `reach demo`: a 220 greeting, EHLO capabilities with STARTTLS, and
//! a real TLS upgrade with a demo certificate. Every read is bounded in size and time.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::pki::Credential;

/// Longest command line the server reads before giving up on a client.
const MAX_LINE: u64 = 1024;
/// How long a client may stay quiet.
const IDLE: Duration = Duration::from_secs(10);

/// Serves SMTP with STARTTLS on `listener` until the task is aborted.
pub fn spawn(
    listener: TcpListener,
    hostname: &str,
    credential: &Credential,
) -> Result<tokio::task::JoinHandle<()>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(credential.chain.clone(), credential.key())?;
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let hostname = hostname.to_string();
    Ok(tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let hostname = hostname.clone();
            tokio::spawn(async move {
                let _ = tokio::time::timeout(IDLE, session(stream, &hostname, acceptor)).await;
            });
        }
    }))
}

async fn session(
    stream: tokio::net::TcpStream,
    hostname: &str,
    acceptor: TlsAcceptor,
) -> std::io::Result<()> {
    let mut stream = BufReader::new(stream);
    stream
        .write_all(format!("220 {hostname} ESMTP reach-demo\r\n").as_bytes())
        .await?;
    loop {
        let mut line = String::new();
        let n = (&mut stream).take(MAX_LINE).read_line(&mut line).await?;
        if n == 0 {
            return Ok(());
        }
        let verb = line
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" | "HELO" => {
                let reply = format!(
                    "250-{hostname}\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 STARTTLS\r\n"
                );
                stream.write_all(reply.as_bytes()).await?;
            }
            "STARTTLS" => {
                stream
                    .write_all(b"220 2.0.0 Ready to start TLS\r\n")
                    .await?;
                let mut tls = acceptor.accept(stream.into_inner()).await?;
                // Keep the session open until the client leaves.
                let mut sink = [0u8; 512];
                while tls.read(&mut sink).await? > 0 {}
                return Ok(());
            }
            "QUIT" => {
                stream.write_all(b"221 2.0.0 Bye\r\n").await?;
                return Ok(());
            }
            _ => {
                stream
                    .write_all(b"502 5.5.2 Command not recognized\r\n")
                    .await?
            }
        }
    }
}
