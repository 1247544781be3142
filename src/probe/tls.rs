//! The TLS layer of a probe: handshake with the chosen SNI, record the chain, judge each
//! certificate check separately, fall back to reading a legacy server's plaintext, and decide
//! the virtual-host verdict. Failures are data in the returned [`TlsReport`], never errors.
//!
//! Call [`TlsContext::load`] once per run, then [`probe`] per connection (or
//! [`handshake_only`] for latency mode).

use std::future::Future;
use std::net::IpAddr;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};

pub mod capture;
mod chain_cache;
mod context;
mod handshake;
pub mod legacy;
pub mod names;
pub mod ocsp;
pub mod records;
pub(crate) mod verify;
mod vhost;

pub use capture::Tap;
pub use context::{TlsConfigError, TlsContext, TlsOptions, TlsVersion};
pub use records::ServerFlight;

use crate::cert::{self, CertSummary};
use crate::report::tls::{LegacyReport, TlsFailure, TlsFailureKind, TlsReport};
use handshake::Attempt;

/// The note a legacy-only result carries.
pub const LEGACY_NOTE: &str = "legacy TLS only: handshake not completed";

/// What one TLS probe should do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsRequest {
    /// Name to send as SNI (`None`: send none). Must be a DNS name: see [`sni_is_valid`].
    pub sni: Option<String>,
    /// Name or IP address (text) the leaf certificate must cover.
    pub verify_name: String,
    /// Also fetch the default certificate (no SNI) and decide the virtual-host verdict.
    /// Only meaningful when `sni` is set.
    pub want_vhost: bool,
}

impl TlsRequest {
    /// The usual request for `host`: SNI = host when it is a DNS name, none for an IP; the
    /// leaf must cover `host`; vhost verdict when SNI is sent.
    pub fn for_host(host: &str) -> TlsRequest {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let sni = sni_is_valid(bare).then(|| bare.to_string());
        TlsRequest {
            want_vhost: sni.is_some(),
            sni,
            verify_name: bare.to_string(),
        }
    }
}

/// The TLS session handed back after a successful probe.
pub type TlsStream<S> = tokio_rustls::client::TlsStream<Tap<S>>;

/// Whether `name` can be sent as SNI: a syntactically valid DNS name, not an IP literal.
pub fn sni_is_valid(name: &str) -> bool {
    name.parse::<IpAddr>().is_err()
        && matches!(
            ServerName::try_from(name.to_string()),
            Ok(ServerName::DnsName(_))
        )
}

/// Handshake on `stream`, then (when it fails for lack of a common version/cipher) a legacy
/// probe on a connection from `open_fresh`, then (when `req.want_vhost`) the default
/// certificate on another fresh connection. `open_fresh` must return a stream ready for a
/// ClientHello (TCP connected, STARTTLS done), or `None` when it cannot.
pub async fn probe<S, F, Fut>(
    stream: S,
    open_fresh: F,
    req: &TlsRequest,
    ctx: &TlsContext,
) -> (TlsReport, Option<TlsStream<S>>)
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: Fn() -> Fut,
    Fut: Future<Output = Option<S>>,
{
    let mut report = TlsReport::default();
    let (connect_name, sni) = match connect_name(req) {
        Ok(names) => names,
        Err(failure) => {
            report.error = Some(failure);
            return (report, None);
        }
    };
    report.sni = sni.clone();
    let attempt = handshake::run(stream, connect_name.clone(), sni.is_some(), ctx).await;
    let (negotiation_failed, captured) = (attempt.negotiation_failed, attempt.captured.clone());
    let stream = record_attempt(&mut report, attempt, req, ctx);
    if negotiation_failed {
        legacy_fallback(
            &mut report,
            &captured,
            &open_fresh,
            sni.as_deref(),
            req,
            ctx,
        )
        .await;
    }
    if req.want_vhost {
        decide_vhost(&mut report, &open_fresh, req, ctx).await;
    }
    (report, stream)
}

/// The virtual-host verdict for a probe that sent SNI. Separate from [`probe`] so a caller
/// that keeps the session open (to read a greeting inside TLS) can close it first: a
/// single-threaded server would not answer the default-certificate fetch meanwhile.
pub async fn decide_vhost<S, F, Fut>(
    report: &mut TlsReport,
    open_fresh: &F,
    req: &TlsRequest,
    ctx: &TlsContext,
) where
    S: AsyncRead + AsyncWrite + Unpin,
    F: Fn() -> Fut,
    Fut: Future<Output = Option<S>>,
{
    if report.sni.is_none() || !vhost::decidable(report) {
        return;
    }
    // A certificate that covers the name is `matched` whatever the default is; only a name
    // left uncovered needs the default certificate, to tell a fallback to it from some other
    // virtual host. Skipping it halves the work of the common case.
    let default = if vhost::name_covered(report) {
        None
    } else {
        vhost::fetch_default(open_fresh, default_connect_name(req), ctx).await
    };
    report.vhost = vhost::verdict(report, default.as_ref());
    report.default_cert = default;
}

/// A bare handshake for latency mode: its duration in milliseconds, or why it failed.
/// Verifies handshake signatures but skips certificate summaries and verdicts.
pub async fn handshake_only<S>(
    stream: S,
    req: &TlsRequest,
    ctx: &TlsContext,
) -> Result<f64, TlsFailure>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (connect_name, sni) = connect_name(req)?;
    let attempt = handshake::run(stream, connect_name, sni.is_some(), ctx).await;
    match attempt.failure {
        None => Ok(attempt.elapsed.as_secs_f64() * 1000.0),
        Some(failure) => Err(failure),
    }
}

/// (name given to rustls, SNI sent).
fn connect_name(req: &TlsRequest) -> Result<(ServerName<'static>, Option<String>), TlsFailure> {
    match &req.sni {
        Some(name) if sni_is_valid(name) => {
            let sent = name.trim_end_matches('.').to_string();
            let server_name = ServerName::try_from(name.clone()).map_err(|_| invalid_sni(name))?;
            Ok((server_name, Some(sent)))
        }
        Some(name) => Err(invalid_sni(name)),
        None => Ok((default_connect_name(req), None)),
    }
}

/// The name rustls is given when no SNI is sent (it only matters for its own bookkeeping).
fn default_connect_name(req: &TlsRequest) -> ServerName<'static> {
    expected_name(&req.verify_name)
        .unwrap_or_else(|| ServerName::IpAddress(IpAddr::from([0u8, 0, 0, 0]).into()))
}

fn expected_name(text: &str) -> Option<ServerName<'static>> {
    let bare = text.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(bare.to_string()).ok()
}

fn invalid_sni(name: &str) -> TlsFailure {
    TlsFailure {
        kind: TlsFailureKind::InvalidSni,
        alert: None,
        detail: format!("{name:?} cannot be sent as SNI: not a DNS name"),
        received: None,
    }
}

/// Fills the report from one attempt; returns the session when it completed.
fn record_attempt<S>(
    report: &mut TlsReport,
    attempt: Attempt<S>,
    req: &TlsRequest,
    ctx: &TlsContext,
) -> Option<TlsStream<S>> {
    report.handshake_ms = Some(attempt.elapsed.as_secs_f64() * 1000.0);
    report.error = attempt.failure;
    report.client_cert_requested = attempt.seen.client_cert_requested;
    report.client_cert_sent = attempt.seen.client_cert_sent;
    report.signature_scheme = attempt
        .seen
        .scheme
        .map(|s| names::signature_scheme(u16::from(s)));
    if let Some(stream) = &attempt.stream {
        let conn = stream.get_ref().1;
        report.version = conn
            .protocol_version()
            .map(|v| names::version(u16::from(v)));
        report.cipher = conn
            .negotiated_cipher_suite()
            .map(|s| names::cipher(u16::from(s.suite())));
        report.group = conn
            .negotiated_key_exchange_group()
            .map(|g| names::group(u16::from(g.name())));
        report.alpn = conn
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned());
    }
    if attempt.seen.certificate_seen {
        report.ocsp = Some(ocsp::summarize(&attempt.seen.ocsp));
    }
    let ders: Vec<&[u8]> = attempt.seen.chain.iter().map(|c| c.as_ref()).collect();
    judge_chain(report, &ders, req, ctx);
    attempt.stream
}

/// Summaries and verdicts for a chain (from the verifier, or a legacy Certificate message).
fn judge_chain(report: &mut TlsReport, ders: &[&[u8]], req: &TlsRequest, ctx: &TlsContext) {
    if ders.is_empty() {
        return;
    }
    let now = cert::now_unix();
    let summaries: Vec<CertSummary> = ders
        .iter()
        .map(|der| {
            let mut s = cert::summarize(der, now);
            if ctx.keep_pem {
                s.pem = Some(cert::to_pem(der));
            }
            s
        })
        .collect();
    let chain: Vec<_> = ders
        .iter()
        .map(|d| rustls::pki_types::CertificateDer::from(*d))
        .collect();
    let expected = expected_name(&req.verify_name);
    let judge = verify::Judge {
        roots: &ctx.roots,
        provider: &ctx.provider,
        expected: expected.as_ref(),
        name_text: &req.verify_name,
        now,
        cache: &ctx.chain_cache,
    };
    report.verify = Some(verify::judge(&judge, &chain, &summaries));
    report.chain = summaries;
}

/// The server refused every modern offer: learn what it would pick from its plaintext
/// ServerHello (already captured, or from a hand-built legacy ClientHello on a fresh
/// connection) and report it, with the certificate it sent.
async fn legacy_fallback<S, F, Fut>(
    report: &mut TlsReport,
    captured: &[u8],
    open_fresh: &F,
    sni: Option<&str>,
    req: &TlsRequest,
    ctx: &TlsContext,
) where
    S: AsyncRead + AsyncWrite + Unpin,
    F: Fn() -> Fut,
    Fut: Future<Output = Option<S>>,
{
    let mut flight = records::parse_server_flight(captured);
    let incomplete = flight.version.is_none() || flight.certs.is_empty();
    if let Some(fresh) = if incomplete { open_fresh().await } else { None } {
        let (active, _) = legacy::probe(fresh, sni, ctx.timeout).await;
        if active.version.is_some() {
            flight = active;
        }
    }
    let (Some(version), Some(cipher)) = (flight.version, flight.cipher) else {
        return;
    };
    let (version_name, cipher_name) = (names::version(version), names::cipher(cipher));
    report.version = Some(version_name.clone());
    report.cipher = Some(cipher_name.clone());
    report.group = flight.group.map(names::group);
    report.legacy = Some(LegacyReport {
        version: version_name.clone(),
        cipher: cipher_name.clone(),
        note: LEGACY_NOTE.into(),
    });
    if report.chain.is_empty() {
        let ders: Vec<&[u8]> = flight.certs.iter().map(Vec::as_slice).collect();
        judge_chain(report, &ders, req, ctx);
    }
    let rustls_could = ctx.implements(cipher, flight.group) && matches!(version, 0x0303 | 0x0304);
    let Some(error) = report.error.as_mut() else {
        return;
    };
    if rustls_could {
        // The server's choice is one we implement: the version settings excluded it.
        let allowed = if ctx.allows_version(version) {
            ""
        } else {
            " (excluded by the version settings)"
        };
        error.detail = format!(
            "{}; the server would choose {version_name} {cipher_name}{allowed}",
            error.detail
        );
    } else {
        error.kind = TlsFailureKind::LegacyOnly;
        let group = flight
            .group
            .map(|g| format!(" {}", names::group(g)))
            .unwrap_or_default();
        error.detail = format!("{LEGACY_NOTE} (server chose {version_name} {cipher_name}{group})");
    }
}
