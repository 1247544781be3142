//! Everything a probe does in plaintext on one connection before TLS: read the greeting,
//! identify the service, and run the STARTTLS upgrade. One call for the orchestration.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};

use super::greeting::{self, GreetingOptions, Limits, followup, recog};
use super::starttls::{self, StarttlsOptions};
use crate::report::greeting::{
    GreetingReport, GreetingState, ServiceReport, StarttlsReport, StarttlsResult,
};
use crate::service::{self, Ask, StarttlsProto, TlsMode};

/// What to do before TLS.
#[derive(Debug, Clone)]
pub struct PreambleOptions {
    /// Destination port (drives the service table).
    pub port: u16,
    /// The target host name (HTTP `Host`, XMPP stream `to`).
    pub host: String,
    /// TLS starts at the first byte: read nothing, hand the stream straight back.
    pub implicit_tls: bool,
    /// The STARTTLS dialect to run, if any.
    pub starttls: Option<StarttlsProto>,
    /// The user chose the dialect: try it even when the server does not advertise it.
    pub force_starttls: bool,
    /// What to send first on a plaintext connection without STARTTLS (`None`: what the port
    /// calls for; set it from the URL scheme, e.g. `HttpHead` for `http://host:8081`).
    pub ask: Option<Ask>,
    /// Without STARTTLS, still ask an identified server for its capabilities (EHLO, CAPA…).
    pub capabilities: bool,
    /// Our name in EHLO/LHLO.
    pub client_name: String,
    /// Bounds for the greeting and each reply.
    pub limits: Limits,
    /// The whole STARTTLS negotiation must end within this long.
    pub starttls_deadline: Duration,
    /// Tell a bare `220` greeting apart by asking `EHLO`/`FEAT` (off with `--no-probe`).
    pub probe: bool,
    /// Recog databases (`--fingerprints`), tried when the built-in table names no product.
    pub fingerprints: Option<Arc<recog::Db>>,
}

impl PreambleOptions {
    /// Defaults for `host`:`port` from the service table: implicit TLS on 443/993/…, the
    /// port's STARTTLS dialect on 25/143/…, plain elsewhere.
    pub fn for_port(port: u16, host: &str) -> Self {
        let (implicit_tls, starttls) = match service::tls_mode(port) {
            TlsMode::Implicit => (true, None),
            TlsMode::Starttls(proto) => (false, Some(proto)),
            TlsMode::Plain => (false, None),
        };
        PreambleOptions {
            port,
            host: host.to_string(),
            implicit_tls,
            starttls,
            force_starttls: false,
            ask: None,
            capabilities: true,
            client_name: "localhost".into(),
            limits: Limits::default(),
            starttls_deadline: Duration::from_secs(10),
            probe: true,
            fingerprints: None,
        }
    }
}

/// What happened before TLS.
#[derive(Debug)]
pub struct Preamble<S> {
    /// The greeting (`None` on implicit-TLS ports: read it after the handshake with
    /// [`greeting::read_after_tls`]).
    pub greeting: Option<GreetingReport>,
    /// Registered service vs the one that answered.
    pub service: ServiceReport,
    /// The upgrade, when one was attempted or skipped for a reason worth reporting.
    pub starttls: Option<StarttlsReport>,
    /// The stream: ready for a ClientHello when `tls_ready`; `None` when a failed upgrade
    /// left it in an unknown state.
    pub stream: Option<S>,
    /// The next bytes on `stream` should be a TLS ClientHello (implicit TLS, or negotiated).
    pub tls_ready: bool,
}

/// Runs the greeting, identification and STARTTLS for one connection. Never fails.
pub async fn run<S>(stream: S, opts: &PreambleOptions) -> Preamble<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut done = run_inner(stream, opts).await;
    if let (Some(db), Some(g)) = (&opts.fingerprints, done.greeting.as_mut()) {
        db.apply(g);
    }
    done
}

async fn run_inner<S>(mut stream: S, opts: &PreambleOptions) -> Preamble<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if opts.implicit_tls {
        return Preamble {
            greeting: None,
            service: greeting::identify_service(opts.port, None),
            starttls: None,
            stream: Some(stream),
            tls_ready: true,
        };
    }
    let Some(proto) = opts.starttls else {
        return plain(stream, opts).await;
    };
    let mut first = None;
    if proto.server_speaks_first() {
        let read_opts = GreetingOptions {
            limits: opts.limits,
            ask: Some(Ask::Listen),
            over_tls: false,
            hint: Some(proto_hint(proto)),
        };
        let g = greeting::read(&mut stream, opts.port, &opts.host, &read_opts).await;
        if let Some(other) = other_protocol(proto, &g) {
            // Never send EHLO to an SSH server: report what answered instead.
            let service = greeting::identify_service(opts.port, Some(&g));
            return Preamble {
                greeting: Some(g),
                service,
                starttls: Some(starttls::skipped(proto, "other_protocol", Some(other))),
                stream: None,
                tls_ready: false,
            };
        }
        first = Some(g);
    }
    let starttls_opts = StarttlsOptions {
        limits: opts.limits,
        deadline: opts.starttls_deadline,
        client_name: opts.client_name.clone(),
        domain: opts.host.clone(),
        force: opts.force_starttls,
    };
    let up = starttls::upgrade(stream, proto, first, &starttls_opts).await;
    let tls_ready = up.report.result == StarttlsResult::Negotiated;
    Preamble {
        service: greeting::identify_service(opts.port, up.greeting.as_ref()),
        greeting: up.greeting,
        starttls: Some(up.report),
        stream: up.stream,
        tls_ready,
    }
}

async fn plain<S>(mut stream: S, opts: &PreambleOptions) -> Preamble<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let read_opts = GreetingOptions {
        limits: opts.limits,
        ask: opts.ask,
        ..GreetingOptions::default()
    };
    let mut g = greeting::read(&mut stream, opts.port, &opts.host, &read_opts).await;
    if opts.probe && g.telnet.is_some() {
        // Telnet servers often show nothing until their options are answered (refused).
        let limits = opts.limits;
        let _ = Box::pin(followup::telnet_refuse(&mut stream, &mut g, &limits)).await;
    }
    if opts.probe && followup::is_bare_220(&g) {
        // `220 ready` on a port that does not say: EHLO, then FEAT (issue 15).
        let limits = opts.limits;
        let _ = Box::pin(followup::bare_220(
            &mut stream,
            &mut g,
            &opts.client_name,
            &limits,
        ))
        .await;
    }
    if opts.capabilities && g.state == GreetingState::Banner && g.found_by.is_none() {
        // A failure here only loses the capability list; the greeting stands.
        let _ = greeting::capabilities(&mut stream, &mut g, &opts.client_name, &opts.limits).await;
    }
    // A PostgreSQL `S` leaves the stream awaiting TLS even without STARTTLS asked for.
    let tls_ready = g.postgres.as_ref().is_some_and(|p| p.ssl) && g.bytes == 1;
    Preamble {
        service: greeting::identify_service(opts.port, Some(&g)),
        greeting: Some(g),
        starttls: None,
        stream: Some(stream),
        tls_ready,
    }
}

/// The greeting-detector word for a dialect (`xmpp-server` speaks `xmpp`).
fn proto_hint(proto: StarttlsProto) -> &'static str {
    match proto {
        StarttlsProto::XmppServer => "xmpp",
        other => other.as_str(),
    }
}

/// The greeting names a protocol that cannot be `proto`'s (SSH or TLS where SMTP was
/// expected); a silent or unnamed greeting is not evidence.
fn other_protocol(proto: StarttlsProto, g: &GreetingReport) -> Option<String> {
    let detected = g.protocol.as_deref()?;
    let fits = match proto {
        StarttlsProto::Smtp | StarttlsProto::Lmtp => matches!(detected, "smtp" | "lmtp"),
        StarttlsProto::XmppServer => detected == "xmpp",
        other => detected == other.as_str(),
    };
    (!fits).then(|| detected.to_string())
}
