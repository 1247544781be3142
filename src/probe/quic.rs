//! The QUIC layer of a probe (`--quic`, `h3://`): one QUIC handshake over UDP with the run's
//! rustls configuration, trust store and recorder (quinn's rustls-ring provider, as on TCP),
//! ALPN `h3` unless `--alpn` says otherwise. The transport's own outcomes (a QUIC server
//! answered, offered other versions, closed with a transport error, stayed silent, or an ICMP
//! error came back) go into a [`QuicReport`]; the TLS inside — chain, certificate verdicts and
//! the virtual-host verdict — into an ordinary [`TlsReport`] marked `transport: quic`, judged
//! by the same code as over TCP (`tls::judge_chain`, `tls::decide_vhost_with`). Failures are
//! data, never errors; every wait has a deadline.

pub(crate) mod socket;
pub mod wire;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use quinn::crypto::rustls::{HandshakeData, QuicClientConfig};
use quinn::{ConnectionError, Endpoint, EndpointConfig, IdleTimeout, TokioRuntime};
use rustls::pki_types::ServerName;
use tokio::time::Instant;

use super::tls::verify::{Recorder, Seen, lock as lock_seen};
use super::tls::{self, TlsContext, TlsRequest, names, ocsp};
use crate::platform::{Evidence, IcmpError};
use crate::report::quic::{QuicClose, QuicReason, QuicReport, QuicState, TlsTransport};
use crate::report::tls::{ReferenceKind, TlsAlert, TlsFailure, TlsFailureKind, VhostReference};
use crate::report::{IcmpEvidence, IcmpInfo, TlsReport};
use socket::{Observed, lock};

/// The ALPN offered over QUIC when `--alpn` does not say: HTTP/3.
pub const DEFAULT_ALPN: &str = "h3";

/// What a QUIC probe does, apart from where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuicOptions {
    /// Past this with nothing at all back from the server, the port is `filtered` (`-t`).
    pub silence_timeout: Duration,
    /// ALPN protocols to offer (empty: [`DEFAULT_ALPN`]).
    pub alpn: Vec<String>,
}

impl Default for QuicOptions {
    fn default() -> Self {
        QuicOptions {
            silence_timeout: Duration::from_secs(3),
            alpn: Vec::new(),
        }
    }
}

/// How one QUIC handshake ended.
pub(crate) struct Handshake {
    /// The transport's verdict.
    pub quic: QuicReport,
    /// Why TLS inside it did not complete, when the server answered.
    pub failure: Option<TlsFailure>,
    /// What the certificate recorder saw.
    pub seen: Seen,
    /// The ALPN protocol chosen.
    pub alpn: Option<String>,
    /// The handshake completed.
    pub completed: bool,
}

/// The QUIC and TLS layers of one probe of `addr`. `tls` is `None` when no QUIC server
/// answered (there is nothing to say about TLS then) and when the SNI cannot be sent.
pub(crate) async fn probe(
    addr: SocketAddr,
    request: &TlsRequest,
    ctx: &TlsContext,
    options: &QuicOptions,
) -> (Option<QuicReport>, Option<TlsReport>) {
    let (connect_name, sni) = match tls::connect_name(request) {
        Ok(names) => names,
        Err(failure) => {
            let report = TlsReport {
                transport: TlsTransport::Quic,
                error: Some(failure),
                ..TlsReport::default()
            };
            return (None, Some(report));
        }
    };
    let first = handshake(addr, connect_name, sni.is_some(), ctx, options).await;
    if first.quic.state != QuicState::Open {
        return (Some(first.quic), None);
    }
    let mut report = TlsReport {
        transport: TlsTransport::Quic,
        sni,
        // QUIC carries TLS 1.3 only (RFC 9001 §4.2); quinn does not expose the suite or group.
        version: first.completed.then(|| "TLSv1.3".to_string()),
        alpn: first.alpn.clone(),
        signature_scheme: first
            .seen
            .scheme
            .map(|s| names::signature_scheme(u16::from(s))),
        client_cert_requested: first.seen.client_cert_requested,
        client_cert_sent: first.seen.client_cert_sent,
        handshake_ms: Some(first.quic.handshake_ms),
        error: first.failure.clone(),
        ..TlsReport::default()
    };
    if first.seen.certificate_seen {
        report.ocsp = Some(ocsp::summarize(&first.seen.ocsp));
    }
    let ders: Vec<&[u8]> = first.seen.chain.iter().map(|c| c.as_ref()).collect();
    tls::judge_chain(&mut report, &ders, request, ctx);
    if !first.seen.chain.is_empty() {
        let chain = first.seen.chain.clone();
        Box::pin(tls::revocation::check(
            &mut report,
            &chain,
            &first.seen.ocsp,
            ctx,
        ))
        .await;
    }
    if request.want_vhost {
        Box::pin(decide_vhost(&mut report, addr, request, ctx, options)).await;
    }
    (Some(first.quic), Some(report))
}

/// The virtual-host verdict of `report`, its references fetched over QUIC (latency mode makes
/// it once for a series).
pub(crate) async fn decide_vhost(
    report: &mut TlsReport,
    addr: SocketAddr,
    request: &TlsRequest,
    ctx: &TlsContext,
    options: &QuicOptions,
) {
    let fetch =
        |kind, sni: Option<String>, fallback| reference(addr, kind, sni, fallback, ctx, options);
    Box::pin(tls::decide_vhost_with(
        report,
        request,
        &ctx.defaults,
        fetch,
    ))
    .await;
}

/// One reference handshake for the virtual-host verdict, over QUIC like the probe itself.
async fn reference(
    addr: SocketAddr,
    kind: ReferenceKind,
    sni: Option<String>,
    fallback: ServerName<'static>,
    ctx: &TlsContext,
    options: &QuicOptions,
) -> VhostReference {
    let name = sni
        .as_deref()
        .and_then(|n| ServerName::try_from(n.to_string()).ok())
        .unwrap_or(fallback);
    let done = handshake(addr, name, sni.is_some(), ctx, options).await;
    let error = match (&done.failure, done.quic.state) {
        (Some(failure), _) => Some(tls::vhost::failure_word(failure)),
        (None, QuicState::Open) => None,
        (None, state) => Some(crate::report::word(&state)),
    };
    VhostReference {
        // No certificate, and no answer that says why: silence or a timeout, which may pass.
        transient: done.seen.chain.is_empty()
            && done
                .failure
                .as_ref()
                .is_none_or(|f| f.kind == TlsFailureKind::Timeout),
        ..tls::vhost::reference(kind, sni.as_deref(), done.seen.chain.first(), error)
    }
}

/// How the wait for the handshake ended.
enum Ended {
    Done(Result<quinn::Connection, ConnectionError>),
    /// An ICMP error (or a receive error) before any answer.
    Icmp,
    /// Nothing at all came back within the silence deadline.
    Silent,
    /// The server answered, but the handshake did not finish within the handshake deadline.
    TimedOut,
}

/// One QUIC handshake with `addr`, on its own socket and endpoint. `connect_name` is what
/// rustls is told (and sent as SNI when `send_sni`).
pub(crate) async fn handshake(
    addr: SocketAddr,
    connect_name: ServerName<'static>,
    send_sni: bool,
    ctx: &TlsContext,
    options: &QuicOptions,
) -> Handshake {
    let started = Instant::now();
    let recorder = Recorder::new(ctx.provider.clone());
    let seen = recorder.seen();
    let mut config = Arc::unwrap_or_clone(ctx.client_config(recorder, send_sni));
    config.alpn_protocols = alpn(options);
    let Ok(crypto) = QuicClientConfig::try_from(config) else {
        return local_failure(
            "QUIC carries TLS 1.3 only, and the TLS version settings exclude it".into(),
            Evidence::Unavailable,
            started,
        );
    };
    let silence = options.silence_timeout;
    // The whole handshake gets the TLS deadline, and never less than the silence deadline.
    let total = ctx.handshake_timeout().max(silence);
    let mut client = quinn::ClientConfig::new(Arc::new(crypto));
    let mut transport = quinn::TransportConfig::default();
    transport.max_idle_timeout(IdleTimeout::try_from(total).ok());
    client.transport_config(Arc::new(transport));
    let opened = match socket::open(addr) {
        Ok(opened) => opened,
        Err(e) => {
            return local_failure(
                format!("no UDP socket: {e}"),
                Evidence::Unavailable,
                started,
            );
        }
    };
    let evidence = opened.evidence;
    let endpoint = match Endpoint::new_with_abstract_socket(
        EndpointConfig::default(),
        None,
        opened.socket.clone(),
        Arc::new(TokioRuntime),
    ) {
        Ok(endpoint) => endpoint,
        Err(e) => return local_failure(format!("no QUIC endpoint: {e}"), evidence, started),
    };
    let server_name = connect_name.to_str().into_owned();
    let connecting = match endpoint.connect_with(client, addr, &server_name) {
        Ok(connecting) => connecting,
        Err(e) => return local_failure(format!("cannot start QUIC: {e}"), evidence, started),
    };
    let mut connecting = Box::pin(connecting);
    let heard = |observed: &Observed| observed.received > 0;
    let ended = loop {
        let deadline = if heard(&lock(&opened.observed)) {
            started + total
        } else {
            started + silence
        };
        tokio::select! {
            done = &mut connecting => break Ended::Done(done),
            () = opened.errors.next(&opened.socket) => {}
            () = opened.alarm.notified() => {
                let observed = lock(&opened.observed);
                if !heard(&observed) && (!observed.icmp.is_empty() || observed.recv_error.is_some()) {
                    break Ended::Icmp;
                }
            }
            () = tokio::time::sleep_until(deadline) => {
                if !heard(&lock(&opened.observed)) {
                    break Ended::Silent;
                }
                if Instant::now() >= started + total {
                    break Ended::TimedOut;
                }
            }
        }
    };
    let elapsed = started.elapsed();
    let observed = lock(&opened.observed).clone();
    let mut quic = base_report(&observed, evidence, elapsed);
    let mut failure = None;
    let mut chosen = None;
    let mut completed = false;
    match ended {
        Ended::Done(Ok(connection)) => {
            completed = true;
            chosen = connection
                .handshake_data()
                .and_then(|data| data.downcast::<HandshakeData>().ok())
                .and_then(|data| data.protocol)
                .map(|p| String::from_utf8_lossy(&p).into_owned());
            connection.close(0u32.into(), b"");
        }
        Ended::Done(Err(error)) => failure = classify(&error, &observed, &mut quic, total),
        Ended::Icmp => icmp_verdict(&mut quic, &observed, addr.ip()),
        Ended::Silent => {
            quic.state = QuicState::Filtered;
            quic.reason = QuicReason::Timeout;
            quic.detail = Some(format!(
                "no answer to {} QUIC datagram(s) within {silence:?}",
                observed.sent
            ));
        }
        Ended::TimedOut => failure = Some(answered_then_silent(&observed, total)),
    }
    // Say goodbye (a CONNECTION_CLOSE), but do not wait for the draining period.
    endpoint.close(0u32.into(), b"");
    let _ = tokio::time::timeout(Duration::from_millis(50), endpoint.wait_idle()).await;
    let seen = std::mem::take(&mut *lock_seen(&seen));
    Handshake {
        quic,
        failure,
        seen,
        alpn: chosen,
        completed,
    }
}

fn alpn(options: &QuicOptions) -> Vec<Vec<u8>> {
    if options.alpn.is_empty() {
        vec![DEFAULT_ALPN.as_bytes().to_vec()]
    } else {
        options.alpn.iter().map(|p| p.as_bytes().to_vec()).collect()
    }
}

fn evidence_word(evidence: Evidence) -> IcmpEvidence {
    match evidence {
        Evidence::ErrorQueue => IcmpEvidence::ErrorQueue,
        Evidence::IcmpErrorInfo => IcmpEvidence::IcmpErrorInfo,
        Evidence::Unavailable => IcmpEvidence::Unavailable,
    }
}

/// The report before the ending is known: an answer, with what the socket saw.
fn base_report(observed: &Observed, evidence: Evidence, elapsed: Duration) -> QuicReport {
    QuicReport {
        state: QuicState::Open,
        reason: QuicReason::Handshake,
        version: observed.version.map(wire::version_name),
        versions_offered: observed
            .offered
            .iter()
            .copied()
            .map(wire::version_name)
            .collect(),
        retry: observed.retry,
        close: None,
        datagrams_sent: observed.sent,
        datagrams_received: observed.received,
        icmp_from: None,
        icmp: None,
        icmp_evidence: evidence_word(evidence),
        handshake_ms: elapsed.as_secs_f64() * 1000.0,
        detail: None,
    }
}

fn local_failure(detail: String, evidence: Evidence, started: Instant) -> Handshake {
    let mut quic = base_report(&Observed::default(), evidence, started.elapsed());
    quic.state = QuicState::Error;
    quic.reason = QuicReason::LocalError;
    quic.detail = Some(detail);
    Handshake {
        quic,
        failure: None,
        seen: Seen::default(),
        alpn: None,
        completed: false,
    }
}

fn answered_then_silent(observed: &Observed, total: Duration) -> TlsFailure {
    let after_retry = if observed.retry { " after a Retry" } else { "" };
    TlsFailure {
        kind: TlsFailureKind::Timeout,
        alert: None,
        detail: format!(
            "the server answered ({} datagram(s){after_retry}) but the QUIC handshake did not \
             finish within {total:?}",
            observed.received
        ),
        received: None,
    }
}

/// A reason phrase from the network: lossy UTF-8, at most 200 characters.
fn phrase(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).chars().take(200).collect()
}

/// Turns quinn's error into the report's words; returns the TLS failure, when the server
/// answered and TLS is what failed.
fn classify(
    error: &ConnectionError,
    observed: &Observed,
    quic: &mut QuicReport,
    total: Duration,
) -> Option<TlsFailure> {
    let answered = |quic: &mut QuicReport| {
        quic.state = QuicState::Open;
        quic.reason = QuicReason::Answered;
    };
    match error {
        ConnectionError::VersionMismatch => {
            quic.state = QuicState::VersionNegotiation;
            quic.reason = QuicReason::VersionNegotiation;
            quic.detail = Some(format!(
                "the server offers only QUIC versions this client does not speak: {}",
                list_or_none(&quic.versions_offered)
            ));
            None
        }
        ConnectionError::ConnectionClosed(close) => {
            let code = u64::from(close.error_code);
            let alert = wire::crypto_alert(code).map(TlsAlert);
            quic.close = Some(QuicClose {
                code,
                name: wire::transport_error_name(code),
                alert: alert.map(TlsAlert::name),
                frame_type: close.frame_type.map(|f| f.to_string()),
                reason: phrase(&close.reason),
            });
            match alert {
                Some(alert) => {
                    answered(quic);
                    Some(TlsFailure {
                        kind: TlsFailureKind::Alert,
                        alert: Some(alert),
                        detail: format!(
                            "the server refused the handshake with alert {} (QUIC \
                             CONNECTION_CLOSE 0x{code:x})",
                            alert.name()
                        ),
                        received: None,
                    })
                }
                None => {
                    quic.state = QuicState::TransportError;
                    quic.reason = QuicReason::ConnectionClose;
                    quic.detail = Some(format!(
                        "the server closed the QUIC handshake with {} (0x{code:x}){}",
                        wire::transport_error_name(code),
                        reason_suffix(&close.reason)
                    ));
                    None
                }
            }
        }
        ConnectionError::ApplicationClosed(close) => {
            let code = close.error_code.into_inner();
            quic.state = QuicState::TransportError;
            quic.reason = QuicReason::ConnectionClose;
            quic.close = Some(QuicClose {
                code,
                name: "application_close".into(),
                alert: None,
                frame_type: None,
                reason: phrase(&close.reason),
            });
            quic.detail = Some(format!(
                "the server's application closed the handshake with code 0x{code:x}{}",
                reason_suffix(&close.reason)
            ));
            None
        }
        ConnectionError::Reset => {
            quic.state = QuicState::TransportError;
            quic.reason = QuicReason::StatelessReset;
            quic.detail = Some("the server answered with a stateless reset".into());
            None
        }
        ConnectionError::TimedOut if observed.received == 0 => {
            quic.state = QuicState::Filtered;
            quic.reason = QuicReason::Timeout;
            quic.detail = Some(format!(
                "no answer to {} QUIC datagram(s) within {total:?}",
                observed.sent
            ));
            None
        }
        ConnectionError::TimedOut => {
            answered(quic);
            Some(answered_then_silent(observed, total))
        }
        ConnectionError::TransportError(te) => {
            answered(quic);
            let code = u64::from(te.code);
            // Our own TLS stack rejected the server's handshake: the recorder accepts every
            // chain, so this is a signature that does not verify or a broken message.
            let kind = match wire::crypto_alert(code) {
                Some(51) => TlsFailureKind::BadSignature,
                _ => TlsFailureKind::Protocol,
            };
            Some(TlsFailure {
                kind,
                alert: None,
                detail: format!("the server's handshake broke the protocol: {te}"),
                received: None,
            })
        }
        ConnectionError::LocallyClosed | ConnectionError::CidsExhausted => {
            quic.state = QuicState::Error;
            quic.reason = QuicReason::LocalError;
            quic.detail = Some(error.to_string());
            None
        }
    }
}

fn reason_suffix(reason: &[u8]) -> String {
    if reason.is_empty() {
        String::new()
    } else {
        format!(": {:?}", phrase(reason))
    }
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none listed".into()
    } else {
        items.join(", ")
    }
}

/// The verdict of an ICMP error (or a bare receive error) that came back before any answer.
fn icmp_verdict(quic: &mut QuicReport, observed: &Observed, target: IpAddr) {
    let Some(icmp) = observed.icmp.last() else {
        // Only an error code, no ICMP details (systems without an error queue): a refused
        // receive means a port-unreachable came back, sender unknown.
        quic.state = QuicState::Closed;
        quic.reason = QuicReason::IcmpPortUnreachable;
        quic.detail = Some(format!(
            "the system reported {:?} for the UDP socket (an ICMP error; sender unknown)",
            observed.recv_error
        ));
        return;
    };
    let (state, reason) = icmp_state(icmp, target);
    quic.state = state;
    quic.reason = reason;
    quic.icmp_from = icmp.offender;
    let name = super::tcp::icmp_name(icmp.version, icmp.icmp_type, icmp.code);
    quic.icmp = Some(IcmpInfo {
        version: icmp.version,
        icmp_type: icmp.icmp_type,
        code: icmp.code,
        name: name.to_string(),
    });
    let from = icmp
        .offender
        .map(|a| format!(" from {a}"))
        .unwrap_or_default();
    quic.detail = Some(format!("ICMP {name}{from}"));
}

/// The QUIC state an ICMP error stands for: port-unreachable from the target itself is
/// `closed` (nothing listens on that UDP port); from anyone else, or admin-prohibited, a
/// firewall `rejected` it.
pub(crate) fn icmp_state(icmp: &IcmpError, target: IpAddr) -> (QuicState, QuicReason) {
    use QuicReason as R;
    use QuicState as S;
    let from_target = icmp.offender.is_none_or(|o| o == target);
    match (icmp.version, icmp.icmp_type, icmp.code) {
        (4, 3, 3) | (6, 1, 4) if from_target => (S::Closed, R::IcmpPortUnreachable),
        (4, 3, 3) | (6, 1, 4) => (S::Rejected, R::IcmpPortUnreachable),
        (4, 3, 9 | 10 | 13 | 14 | 15) | (6, 1, 1 | 5 | 6) => (S::Rejected, R::IcmpAdminProhibited),
        (4, 3, 0 | 6 | 11) | (6, 1, 0) => (S::Unreachable, R::IcmpNetUnreachable),
        (4, 3, 1 | 7 | 8 | 12) | (6, 1, 3) => (S::Unreachable, R::IcmpHostUnreachable),
        (4, 11, _) | (6, 3, _) => (S::Unreachable, R::IcmpTimeExceeded),
        _ => (S::Unreachable, R::IcmpOther),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn icmp(version: u8, icmp_type: u8, code: u8, from: &str) -> IcmpError {
        IcmpError {
            version,
            icmp_type,
            code,
            os_error: None,
            offender: Some(from.parse().unwrap()),
        }
    }

    #[test]
    fn port_unreachable_is_closed_only_from_the_target_itself() {
        let target: IpAddr = "203.0.113.10".parse().unwrap();
        assert_eq!(
            icmp_state(&icmp(4, 3, 3, "203.0.113.10"), target),
            (QuicState::Closed, QuicReason::IcmpPortUnreachable)
        );
        assert_eq!(
            icmp_state(&icmp(4, 3, 3, "198.51.100.1"), target),
            (QuicState::Rejected, QuicReason::IcmpPortUnreachable)
        );
        assert_eq!(
            icmp_state(&icmp(4, 3, 13, "198.51.100.1"), target),
            (QuicState::Rejected, QuicReason::IcmpAdminProhibited)
        );
        assert_eq!(
            icmp_state(
                &icmp(6, 1, 4, "2001:db8::10"),
                "2001:db8::10".parse().unwrap()
            ),
            (QuicState::Closed, QuicReason::IcmpPortUnreachable)
        );
        assert_eq!(
            icmp_state(
                &icmp(6, 3, 0, "2001:db8::1"),
                "2001:db8::10".parse().unwrap()
            ),
            (QuicState::Unreachable, QuicReason::IcmpTimeExceeded)
        );
    }

    #[tokio::test]
    async fn a_closed_loopback_udp_port_is_closed_with_icmp_evidence() {
        if crate::platform::wine_cannot(
            "Wine 8 refuses IP_RECVECN, which quinn-udp sets on every socket it wraps",
        ) {
            return;
        }
        let closed = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = closed.local_addr().unwrap();
        drop(closed);
        let ctx = TlsContext::load(&tls::TlsOptions::default()).unwrap();
        let name = ServerName::try_from("a.example").unwrap();
        let started = std::time::Instant::now();
        let done = handshake(addr, name, true, &ctx, &QuicOptions::default()).await;
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "no wait for the deadline"
        );
        assert_eq!(done.quic.state, QuicState::Closed, "{:?}", done.quic);
        assert!(done.quic.datagrams_sent >= 1);
        if cfg!(target_os = "linux") {
            assert_eq!(done.quic.icmp_from, Some(addr.ip()));
            assert_eq!(done.quic.icmp_evidence, IcmpEvidence::ErrorQueue);
        }
    }

    #[tokio::test]
    async fn a_silent_udp_port_is_filtered_within_the_deadline() {
        if crate::platform::wine_cannot(
            "Wine 8 refuses IP_RECVECN, which quinn-udp sets on every socket it wraps",
        ) {
            return;
        }
        // A bound socket that never answers: no ICMP, no QUIC.
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = silent.local_addr().unwrap();
        let ctx = TlsContext::load(&tls::TlsOptions::default()).unwrap();
        let name = ServerName::try_from("a.example").unwrap();
        let options = QuicOptions {
            silence_timeout: Duration::from_millis(600),
            ..QuicOptions::default()
        };
        let started = std::time::Instant::now();
        let done = handshake(addr, name, true, &ctx, &options).await;
        let took = started.elapsed();
        assert_eq!(done.quic.state, QuicState::Filtered, "{:?}", done.quic);
        assert!(
            took >= Duration::from_millis(600) && took < Duration::from_secs(2),
            "{took:?}"
        );
        drop(silent);
    }
}
