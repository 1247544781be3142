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
mod defaults;
mod handshake;
pub mod legacy;
pub mod names;
pub mod ocsp;
pub mod records;
pub(crate) mod revocation;
mod summary_cache;
pub(crate) mod verify;
pub(crate) mod vhost;

pub use capture::Tap;
pub use context::{TlsConfigError, TlsContext, TlsOptions, TlsVersion};
pub use records::ServerFlight;
pub use revocation::RevocationOptions;

use crate::cert::{self, CertSummary};
use crate::report::tls::{
    CertProblem, LegacyReport, ReferenceKind, TlsFailure, TlsFailureKind, TlsReport, Vhost,
    VhostReference,
};
use handshake::Attempt;

/// The note of a server that speaks only TLS 1.0/1.1 (or SSL 3).
pub const LEGACY_VERSION_NOTE: &str = "legacy TLS only: handshake not completed";
/// The note of a TLS 1.2 server whose choice the TLS library does not implement.
pub const UNSUPPORTED_SUITE_NOTE: &str = "TLS 1.2 with a cipher suite or group this TLS library does not implement: handshake not completed";

/// What one TLS probe should do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsRequest {
    /// Name to send as SNI (`None`: send none). Must be a DNS name: see [`sni_is_valid`].
    pub sni: Option<String>,
    /// Name or IP address (text) the leaf certificate must cover.
    pub verify_name: String,
    /// Also decide the virtual-host verdict (reference handshakes on fresh connections).
    /// Only meaningful when `sni` is set.
    pub want_vhost: bool,
    /// Compare with the references even when the name is covered (`matched_default`).
    pub reference_always: bool,
    /// Another name of the run, to tell "this name is turned away" from "TLS fails here".
    pub other_name: Option<String>,
    /// What decides which certificate a catch-all serves here (address, port, transport,
    /// preamble): the references of an uncovered name are remembered under it for the run.
    /// `None`: not remembered.
    pub endpoint: Option<String>,
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
            reference_always: false,
            other_name: None,
            endpoint: None,
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
    // The chain as presented and the staple, for the revocation check after the verdicts.
    let (chain, staple) = (attempt.seen.chain.clone(), attempt.seen.ocsp.clone());
    let stream = record_attempt(&mut report, attempt, req, ctx);
    if !chain.is_empty() {
        Box::pin(revocation::check(&mut report, &chain, &staple, ctx)).await;
    }
    if negotiation_failed {
        Box::pin(legacy_fallback(
            &mut report,
            &captured,
            &open_fresh,
            sni.as_deref(),
            req,
            ctx,
        ))
        .await;
    }
    if req.want_vhost {
        Box::pin(decide_vhost(&mut report, &open_fresh, req, ctx)).await;
    }
    (report, stream)
}

/// The virtual-host verdict for a probe that sent SNI. Separate from [`probe`] so a caller
/// that keeps the session open (to read a greeting inside TLS) can close it first: a
/// single-threaded server would not answer the reference handshakes meanwhile.
///
/// A covered name is `matched` without more handshakes (unless `reference_always`): only an
/// uncovered name, or a name turned away, needs references, so the common case costs one
/// handshake. The references run concurrently, so a silent server costs one deadline.
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
    let fetch = |kind, sni: Option<String>, fallback| async move {
        vhost::fetch(open_fresh, kind, sni.as_deref(), fallback, ctx).await
    };
    decide_vhost_with(report, req, &ctx.defaults, fetch).await;
}

/// [`decide_vhost`] with the reference handshakes made by `fetch` (kind, SNI, the name rustls
/// is given without SNI): over TCP a fresh connection each, over QUIC a fresh QUIC handshake.
/// One verdict logic for every transport. An uncovered name's references come from
/// `defaults` when the endpoint's are known and the served certificate is one of them.
pub(crate) async fn decide_vhost_with<R, RFut>(
    report: &mut TlsReport,
    req: &TlsRequest,
    defaults: &defaults::Defaults,
    fetch: R,
) where
    R: Fn(ReferenceKind, Option<String>, ServerName<'static>) -> RFut,
    RFut: Future<Output = VhostReference>,
{
    if !vhost::decidable(report) {
        return;
    }
    if vhost::refused_by_name(report) {
        report.vhost = Some(Vhost::UnrecognizedName);
        return;
    }
    let fallback = default_connect_name(req);
    let no_sni = || fetch(ReferenceKind::NoSni, None, fallback.clone());
    let mut references = if vhost::routing_failure(report).is_some() {
        let other = req
            .other_name
            .as_deref()
            .filter(|o| Some(*o) != report.sni.as_deref());
        match other {
            Some(name) => {
                let other = fetch(
                    ReferenceKind::OtherName,
                    Some(name.to_string()),
                    fallback.clone(),
                );
                let (a, b) = tokio::join!(no_sni(), other);
                vec![a, b]
            }
            None => vec![no_sni().await],
        }
    } else if report.leaf().is_none() {
        return;
    } else if vhost::name_covered(report) && !req.reference_always {
        report.vhost = Some(Vhost::Matched);
        return;
    } else {
        let both = || async {
            let unknown = fetch(
                ReferenceKind::UnknownName,
                Some(vhost::unknown_name()),
                fallback.clone(),
            );
            let (a, b) = tokio::join!(no_sni(), unknown);
            vec![a, b]
        };
        match req.endpoint.as_deref() {
            Some(endpoint) if !vhost::name_covered(report) => {
                let (mut remembered, from_memory) = defaults.get_or_make(endpoint, both).await;
                if !from_memory {
                    remembered
                } else if vhost::verdict(report, &mut remembered) == Some(Vhost::DefaultFallback) {
                    remembered.iter_mut().for_each(|r| r.remembered = true);
                    remembered
                } else {
                    // Served neither remembered default: ask again before saying mismatch.
                    let fresh = both().await;
                    report.defaults_changed = !vhost::same_certificates(&fresh, &remembered);
                    if report.defaults_changed {
                        defaults.replace(endpoint, &fresh);
                    }
                    fresh
                }
            }
            _ => both().await,
        }
    };
    report.vhost = vhost::verdict(report, &mut references);
    report.default_cert = references
        .iter()
        .find(|r| r.kind == ReferenceKind::NoSni)
        .and_then(|r| r.cert.clone());
    report.references = references;
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
pub(crate) fn connect_name(
    req: &TlsRequest,
) -> Result<(ServerName<'static>, Option<String>), TlsFailure> {
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
pub(crate) fn default_connect_name(req: &TlsRequest) -> ServerName<'static> {
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
    if attempt.seen.weak_signature_key.is_some()
        && let Some(verify) = report.verify.as_mut()
        && let Some(i) = verify
            .errors
            .iter()
            .position(|p| *p == CertProblem::WeakKey)
    {
        verify.notes[i].push_str(
            "; the handshake was completed without verifying its signature, which this key is \
             too weak for",
        );
    }
    attempt.stream
}

/// Summaries and verdicts for a chain (from the verifier, or a legacy Certificate message).
pub(crate) fn judge_chain(
    report: &mut TlsReport,
    ders: &[&[u8]],
    req: &TlsRequest,
    ctx: &TlsContext,
) {
    if ders.is_empty() {
        return;
    }
    let now = cert::now_unix();
    let summaries: Vec<CertSummary> = ders
        .iter()
        .map(|der| {
            let mut s = ctx.summaries.summarize(der, now);
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

/// How much of a TLS 1.2 flight is read to see an oversized certificate message whole.
const OVERSIZED_LIMIT: usize = 4 * 1024 * 1024;

/// The certificate message was too large for rustls: read it from a TLS 1.2 flight, where it is
/// plaintext, say how large it is, and judge the chain anyway.
async fn oversized<S, F, Fut>(
    report: &mut TlsReport,
    open_fresh: &F,
    sni: Option<&str>,
    req: &TlsRequest,
    ctx: &TlsContext,
) where
    S: AsyncRead + AsyncWrite + Unpin,
    F: Fn() -> Fut,
    Fut: Future<Output = Option<S>>,
{
    let Some(fresh) = open_fresh().await else {
        return;
    };
    let (flight, _) = legacy::probe(fresh, sni, ctx.timeout, OVERSIZED_LIMIT).await;
    let read = if flight.certs.is_empty() {
        "it could not be read from a TLS 1.2 retry either".to_string()
    } else {
        let ders: Vec<&[u8]> = flight.certs.iter().map(Vec::as_slice).collect();
        judge_chain(report, &ders, req, ctx);
        format!(
            "the {} certificates shown were read from a TLS 1.2 retry",
            flight.certs.len()
        )
    };
    if let Some(error) = report.error.as_mut() {
        error.detail = match flight.certificate_bytes {
            Some(bytes) => format!(
                "the server's certificate message is {bytes} bytes, beyond the 64 KiB this TLS \
                 library accepts; {read}"
            ),
            None => format!("{}; {read}", error.detail),
        };
    }
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
    if report
        .error
        .as_ref()
        .is_some_and(|e| e.kind == TlsFailureKind::Oversized)
    {
        return oversized(report, open_fresh, sni, req, ctx).await;
    }
    let mut flight = records::parse_server_flight(captured);
    // A server that answered our ClientHello and then closed or reset broke the handshake;
    // it did not refuse our versions. What a legacy retry finds is then only a side note.
    let broke_after_hello = flight.version.is_some()
        && matches!(
            report.error.as_ref().map(|e| e.kind),
            Some(TlsFailureKind::Closed | TlsFailureKind::Reset)
        );
    let incomplete = flight.version.is_none() || flight.certs.is_empty();
    if let Some(fresh) = if incomplete { open_fresh().await } else { None } {
        let (active, _) = legacy::probe(fresh, sni, ctx.timeout, capture::CAPTURE_LIMIT).await;
        if active.version.is_some() {
            flight = active;
        }
    }
    let (Some(version), Some(cipher)) = (flight.version, flight.cipher) else {
        return;
    };
    let (version_name, cipher_name) = (names::version(version), names::cipher(cipher));
    if broke_after_hello {
        if let Some(error) = report.error.as_mut() {
            error.detail = format!(
                "{}, after its ServerHello; a retry with a TLS 1.2 ClientHello got {version_name} \
                 {cipher_name}",
                error.detail
            );
        }
        return;
    }
    let legacy_version = version < 0x0303;
    let note = if legacy_version {
        LEGACY_VERSION_NOTE
    } else {
        UNSUPPORTED_SUITE_NOTE
    };
    report.version = Some(version_name.clone());
    report.cipher = Some(cipher_name.clone());
    report.group = flight.group.map(names::group);
    report.legacy = Some(LegacyReport {
        version: version_name.clone(),
        cipher: cipher_name.clone(),
        note: note.into(),
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
        error.kind = if legacy_version {
            TlsFailureKind::LegacyVersion
        } else {
            TlsFailureKind::UnsupportedSuite
        };
        let group = flight
            .group
            .map(|g| format!(" {}", names::group(g)))
            .unwrap_or_default();
        error.detail = format!("{note} (server chose {version_name} {cipher_name}{group})");
    }
}
