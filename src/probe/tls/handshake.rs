//! One rustls handshake over a tapped stream, with its deadline, and the classification of a
//! failure into the report's words.

use std::io;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::capture::{Tap, snapshot};
use super::context::TlsContext;
use super::names;
use super::records::{parse_server_flight, preview};
use super::verify::{Recorder, Seen, lock};
use crate::report::tls::{TlsAlert, TlsFailure, TlsFailureKind};

/// How a handshake attempt ended.
pub struct Attempt<S> {
    /// The session, when the handshake completed.
    pub stream: Option<TlsStream<Tap<S>>>,
    /// Why it did not, classified.
    pub failure: Option<TlsFailure>,
    /// The failure was a negotiation refusal a legacy-only server would cause.
    pub negotiation_failed: bool,
    /// What the verifier recorded (chain, OCSP, signature scheme).
    pub seen: Seen,
    /// Bytes received, when the handshake failed (empty on success: not kept).
    pub captured: Vec<u8>,
    /// Time from the first byte sent to completion or failure.
    pub elapsed: Duration,
}

/// Runs one handshake on `stream`. `connect_name` is what rustls is told (and sent as SNI when
/// `send_sni`); the certificate verdicts are computed later against the requested name.
pub async fn run<S>(
    stream: S,
    connect_name: ServerName<'static>,
    send_sni: bool,
    ctx: &TlsContext,
) -> Attempt<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let recorder = Recorder::new(ctx.provider.clone());
    let seen = recorder.seen();
    let connector = TlsConnector::from(ctx.client_config(recorder, send_sni));
    let (tap, captured) = Tap::new(stream);
    let started = Instant::now();
    let outcome = tokio::time::timeout(ctx.timeout, connector.connect(connect_name, tap)).await;
    let elapsed = started.elapsed();
    let (client_auth, cert_sent) = {
        let seen = lock(&seen);
        (seen.client_cert_requested, seen.client_cert_sent)
    };
    let outcome = match outcome {
        Ok(Ok(stream)) if client_auth => {
            Ok(client_auth_verdict(stream, elapsed, cert_sent, ctx).await)
        }
        other => other,
    };
    let seen = std::mem::take(&mut *lock(&seen));
    match outcome {
        Ok(Ok(mut stream)) => {
            stream.get_mut().0.stop_capture();
            Attempt {
                stream: Some(stream),
                failure: None,
                negotiation_failed: false,
                seen,
                captured: Vec::new(),
                elapsed,
            }
        }
        Ok(Err(error)) => {
            let captured = snapshot(&captured);
            let (failure, negotiation_failed) = classify_error(&error, &captured);
            Attempt {
                stream: None,
                failure: Some(failure),
                negotiation_failed,
                seen,
                captured,
                elapsed,
            }
        }
        Err(_elapsed) => {
            let captured = snapshot(&captured);
            let failure = not_tls(&captured).unwrap_or_else(|| TlsFailure {
                kind: TlsFailureKind::Timeout,
                alert: None,
                detail: if captured.is_empty() {
                    format!("no answer to the ClientHello within {:?}", ctx.timeout)
                } else {
                    format!(
                        "handshake not finished within {:?} ({} bytes received)",
                        ctx.timeout,
                        captured.len()
                    )
                },
                received: None,
            });
            Attempt {
                stream: None,
                failure: Some(failure),
                negotiation_failed: false,
                seen,
                captured,
                elapsed,
            }
        }
    }
}

/// In TLS 1.3 the client finishes before the server has judged its certificate: when one was
/// requested, wait briefly for the server's verdict (an alert) without consuming any data.
/// A bare close counts as a refusal only when we had no certificate to send.
async fn client_auth_verdict<S>(
    mut stream: TlsStream<Tap<S>>,
    elapsed: Duration,
    cert_sent: bool,
    ctx: &TlsContext,
) -> io::Result<TlsStream<Tap<S>>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let wait = (elapsed * 2 + Duration::from_millis(100)).min(ctx.timeout);
    match tokio::time::timeout(wait, stream.fill_buf()).await {
        Ok(Ok([])) if !cert_sent => Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "closed after the handshake (client certificate requested)",
        )),
        Ok(Err(error)) => Err(error),
        Ok(Ok(_)) | Err(_) => Ok(stream),
    }
}

fn failure(kind: TlsFailureKind, alert: Option<TlsAlert>, detail: String) -> TlsFailure {
    TlsFailure {
        kind,
        alert,
        detail,
        received: None,
    }
}

/// `not_tls` when the peer's bytes are not TLS records.
fn not_tls(captured: &[u8]) -> Option<TlsFailure> {
    (!captured.is_empty() && parse_server_flight(captured).not_tls).then(|| TlsFailure {
        kind: TlsFailureKind::NotTls,
        alert: None,
        detail: "the server answered with something that is not TLS".into(),
        received: Some(preview(captured)),
    })
}

/// Maps an error from tokio-rustls to (failure, "worth a legacy probe").
fn classify_error(error: &io::Error, captured: &[u8]) -> (TlsFailure, bool) {
    if let Some(f) = not_tls(captured) {
        return (f, false);
    }
    let tls_error = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    if let Some(tls_error) = tls_error {
        return classify_tls(tls_error, captured);
    }
    match error.kind() {
        io::ErrorKind::UnexpectedEof => (
            failure(
                TlsFailureKind::Closed,
                None,
                "the server closed the connection during the handshake".into(),
            ),
            true,
        ),
        // A write that meets a closed socket during the handshake: the peer reset it.
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::ConnectionAborted => (
            failure(
                TlsFailureKind::Reset,
                None,
                "the connection was reset during the handshake".into(),
            ),
            true,
        ),
        _ => (failure(TlsFailureKind::Io, None, error.to_string()), false),
    }
}

fn classify_tls(error: &rustls::Error, captured: &[u8]) -> (TlsFailure, bool) {
    use rustls::Error as E;
    match error {
        E::AlertReceived(description) => {
            let alert = TlsAlert(u8::from(*description));
            // protocol_version, handshake_failure, illegal_parameter, insufficient_security:
            // the answers of a server that shares no version, cipher or group with us.
            let negotiation = matches!(alert.0, 70 | 40 | 47 | 71);
            let detail = format!(
                "the server refused the handshake with alert {}",
                alert.name()
            );
            (
                failure(TlsFailureKind::Alert, Some(alert), detail),
                negotiation,
            )
        }
        E::PeerIncompatible(why) => {
            let flight = parse_server_flight(captured);
            let detail = match flight.version {
                Some(v) if v < 0x0303 => format!(
                    "the server chose {}, which is not supported",
                    names::version(v)
                ),
                _ => format!("incompatible server: {why:?}"),
            };
            (failure(TlsFailureKind::Incompatible, None, detail), true)
        }
        E::InvalidCertificate(why) => (
            failure(
                TlsFailureKind::BadSignature,
                None,
                format!("the server's handshake signature could not be verified: {why}"),
            ),
            false,
        ),
        E::PeerMisbehaved(why) => (
            failure(
                TlsFailureKind::Protocol,
                None,
                format!("server misbehaved: {why:?}"),
            ),
            true,
        ),
        E::InvalidMessage(rustls::InvalidMessage::HandshakePayloadTooLarge) => (
            failure(
                TlsFailureKind::Oversized,
                None,
                "the server's certificate message is larger than the 64 KiB this TLS library \
                 accepts"
                    .into(),
            ),
            true,
        ),
        E::InvalidMessage(why) => (
            failure(
                TlsFailureKind::Protocol,
                None,
                format!("invalid TLS message: {why:?}"),
            ),
            false,
        ),
        other => (
            failure(TlsFailureKind::Protocol, None, other.to_string()),
            false,
        ),
    }
}
