//! The greeting layer: read what a service says first (or answers a harmless probe) within a
//! bounded window, identify the protocol, and ask for its capability list.
//!
//! Works over any `AsyncRead + AsyncWrite` stream, so the same calls serve a plain TCP stream
//! and a TLS stream after an implicit-TLS handshake.

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

pub mod fingerprint;
pub mod followup;
pub mod ftp;
pub mod http;
pub mod identify;
pub mod imap;
pub mod mysql;
pub mod pop3;
pub mod postgres;
pub mod reader;
pub mod recog;
pub mod redis;
pub mod reply;
pub mod sieve;
pub mod smtp;
pub mod ssh;
pub mod table;
pub mod telnet;
pub mod tls;

mod capabilities;
#[cfg(test)]
mod identify_tests;
#[cfg(test)]
mod prefilter;

pub use capabilities::capabilities;
pub use reader::Limits;

use crate::report::greeting::{GreetingReport, GreetingState, HttpInfo, ServiceReport};
use crate::service::{self, Ask};
use reader::End;

/// How to read one greeting.
#[derive(Debug, Clone, Default)]
pub struct GreetingOptions {
    /// Size and time bounds.
    pub limits: Limits,
    /// What to send first; `None`: what the port calls for ([`service::greeting_ask`]).
    pub ask: Option<Ask>,
    /// The stream is already inside TLS (recorded in the report).
    pub over_tls: bool,
    /// The protocol to assume for an ambiguous greeting (`220 ready`: SMTP or FTP?); `None`:
    /// what the port suggests.
    pub hint: Option<&'static str>,
}

/// Reads the service's greeting on `stream` (connected to `host`:`port`) and identifies it.
///
/// Sends nothing unless the port (or `opts.ask`) calls for a client-first probe: `HEAD /` with
/// `Host: host` for HTTP, `PING` for Redis, `SSLRequest` for PostgreSQL (an `S` answer leaves
/// the stream awaiting a TLS ClientHello). Never fails: silence, a hang-up and a reset are
/// verdicts in [`GreetingReport::state`].
pub async fn read<S>(
    stream: &mut S,
    port: u16,
    host: &str,
    opts: &GreetingOptions,
) -> GreetingReport
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let ask = opts.ask.unwrap_or_else(|| service::greeting_ask(port));
    let started = Instant::now();
    let mut report = GreetingReport {
        over_tls: opts.over_tls,
        ..GreetingReport::default()
    };
    let request: Option<Vec<u8>> = match ask {
        Ask::Listen => None,
        Ask::HttpHead => {
            Some(http::head_request(&http::authority(host, port, opts.over_tls)).into_bytes())
        }
        Ask::RedisPing => Some(redis::PING.to_vec()),
        Ask::PostgresSslRequest => Some(postgres::SSL_REQUEST.to_vec()),
    };
    if let Some(request) = &request {
        report.asked = Some(describe_request(ask));
        if let Err(end) = reader::send(stream, request, started + opts.limits.total).await {
            report.state = state_without_bytes(&end);
            return report;
        }
    }
    let mut buf = Vec::new();
    let read = reader::read_until(stream, &mut buf, &opts.limits, true, |b| {
        identify::complete(b, ask)
    });
    let got = read.await;
    report.banner_ms = got.first_byte.map(|d| d.as_secs_f64() * 1000.0);
    report.state = if buf.is_empty() {
        state_without_bytes(&got.end)
    } else if request.is_some() {
        GreetingState::Reply
    } else {
        GreetingState::Banner
    };
    let hint = opts.hint.or_else(|| {
        if opts.over_tls {
            service::expected_inside_tls(port)
        } else {
            service::expected_protocol(port)
        }
    });
    identify::analyse(&buf, ask, hint, &mut report);
    if got.end == End::Full {
        report.truncated = true;
    }
    report
}

/// Sends `HEAD /` with the right `Host` over `stream` (plain or TLS) and parses the answer.
/// `None` when the answer is not HTTP or does not arrive within the limits.
pub async fn http_head<S>(
    stream: &mut S,
    host: &str,
    port: u16,
    over_tls: bool,
    limits: &Limits,
) -> Option<HttpInfo>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let opts = GreetingOptions {
        limits: *limits,
        ask: Some(Ask::HttpHead),
        over_tls,
        hint: Some("http"),
    };
    read(stream, port, host, &opts).await.http
}

/// Names the registered service for `port` and the one the greeting revealed, and flags a
/// mismatch (`ssh` answering on 443, `tls` on 22).
pub fn identify_service(port: u16, greeting: Option<&GreetingReport>) -> ServiceReport {
    let over_tls = greeting.is_some_and(|g| g.over_tls);
    let expected = if over_tls {
        service::expected_inside_tls(port)
    } else {
        service::expected_protocol(port)
    };
    let detected = greeting.and_then(|g| g.protocol.clone());
    let mismatch = match (expected, detected.as_deref()) {
        (Some(e), Some(d)) => !same_family(e, d),
        _ => false,
    };
    ServiceReport {
        port_name: service::port_name(port).map(str::to_string),
        detected,
        expected: expected.map(str::to_string),
        mismatch,
    }
}

/// LMTP is SMTP's sibling.
fn same_family(expected: &str, detected: &str) -> bool {
    expected == detected || matches!((expected, detected), ("smtp", "lmtp") | ("lmtp", "smtp"))
}

fn describe_request(ask: Ask) -> String {
    match ask {
        Ask::Listen => String::new(),
        Ask::HttpHead => "HEAD / HTTP/1.1".into(),
        Ask::RedisPing => "PING".into(),
        Ask::PostgresSslRequest => "SSLRequest".into(),
    }
}

fn state_without_bytes(end: &End) -> GreetingState {
    match end {
        End::Eof => GreetingState::Closed,
        End::Reset => GreetingState::Reset,
        End::Error(_) => GreetingState::Error,
        End::Complete | End::Settled | End::Full | End::Timeout => GreetingState::Silent,
    }
}

/// Reads the greeting inside TLS, after an implicit-TLS handshake (`imaps`, `pop3s`, `https`
/// …). Unless `opts.ask` says otherwise, sends `HEAD /` where the port carries HTTP inside
/// TLS (443, 8443…) and listens elsewhere. The report has `over_tls` set.
pub async fn read_after_tls<S>(
    stream: &mut S,
    port: u16,
    host: &str,
    opts: &GreetingOptions,
) -> GreetingReport
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let ask = opts
        .ask
        .unwrap_or(match service::expected_inside_tls(port) {
            Some("http") => Ask::HttpHead,
            _ => Ask::Listen,
        });
    let inner = GreetingOptions {
        ask: Some(ask),
        over_tls: true,
        ..opts.clone()
    };
    read(stream, port, host, &inner).await
}
