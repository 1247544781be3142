//! One probe: walks the layers for one address, times them, and returns a Report, never an Err.

pub mod errqueue;
pub mod greeting;
pub mod preamble;
pub mod resolve;
mod series;
pub mod starttls;
pub mod tcp;
pub mod tls;
pub mod trace;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use crate::config::{Settings, TlsMode as TlsChoice, TraceWhen};
use crate::report::greeting::GreetingState;
use crate::report::{Attempt, DnsReport, Layer, Report, Stopped, TcpReport, TcpState};
use crate::service::{self, StarttlsProto, TlsMode};
use crate::target::{Host, Target};
use tls::{TlsContext, TlsRequest};

/// Called with each latency-mode attempt as it completes (for live output); the series waits
/// for the returned future, so a slow reader of the output slows the series instead of
/// queueing lines without bound.
pub type AttemptHook = Arc<
    dyn Fn(&Report, &Attempt) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
        + Send
        + Sync,
>;

/// What one probe is aimed at.
#[derive(Debug, Clone)]
pub struct ProbeSpec {
    /// The target it came from.
    pub target: Arc<Target>,
    /// The address to connect to.
    pub address: IpAddr,
    /// The port.
    pub port: u16,
    /// The name lookup that produced `address`, when the target was a name.
    pub dns: Option<DnsReport>,
    /// The SNI name to send (`None`: no SNI).
    pub sni: Option<String>,
}

impl ProbeSpec {
    /// A report with the identifying fields filled in and no layer yet.
    pub fn base_report(&self) -> Report {
        Report {
            target: self.target.input.clone(),
            host: self.target.host.to_string(),
            address: Some(self.address),
            port: self.port,
            reached: if self.dns.is_some() {
                Some(Layer::Dns)
            } else {
                None
            },
            dns: self.dns.clone(),
            ..Report::default()
        }
    }
}

/// The report for a target whose name did not resolve: nothing below DNS was tried.
pub fn dns_failure(target: &Target, port: u16, dns: DnsReport) -> Report {
    let reason = crate::report::word(&dns.outcome);
    Report {
        target: target.input.clone(),
        host: target.host.to_string(),
        address: None,
        port,
        reached: None,
        stopped: Some(Stopped {
            layer: Layer::Dns,
            reason,
        }),
        dns: Some(dns),
        ..Report::default()
    }
}

/// What every probe of a run shares: the settings and the TLS context loaded once.
pub struct Context {
    /// The run's settings.
    pub settings: Arc<Settings>,
    /// Trust roots, client identity and prepared TLS configuration.
    pub tls: Arc<TlsContext>,
}

/// How a probe gets to TLS, decided from the flags, the scheme and the port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// No TLS: read the greeting and stop.
    Plain,
    /// TLS from the first byte.
    Implicit,
    /// Greeting, then an in-band upgrade, then TLS.
    Starttls(StarttlsProto),
}

/// Decides the plan: `--no-tls` and `--starttls`/`--no-starttls` first, then `--tls`, then the
/// URL scheme, then the port's usual mode.
pub fn plan(spec: &ProbeSpec, settings: &Settings) -> Plan {
    if settings.tls_mode == TlsChoice::Off {
        return Plan::Plain;
    }
    if let Some(proto) = settings.starttls {
        return Plan::Starttls(proto);
    }
    // `https://host:9000` is TLS on 9000: a scheme says how TLS starts whatever the port.
    let usual = scheme(spec).map_or_else(|| service::tls_mode(spec.port), |info| info.tls_mode);
    match (settings.tls_mode, usual) {
        (TlsChoice::On, TlsMode::Starttls(proto)) if !settings.no_starttls => Plan::Starttls(proto),
        (TlsChoice::On, _) => Plan::Implicit,
        (_, TlsMode::Implicit) => Plan::Implicit,
        (_, TlsMode::Starttls(proto)) if !settings.no_starttls => Plan::Starttls(proto),
        _ => Plan::Plain,
    }
}

/// What the target's URL scheme implies, when it has one.
fn scheme(spec: &ProbeSpec) -> Option<service::SchemeInfo> {
    spec.target.scheme.as_deref().and_then(service::scheme)
}

/// The name the leaf must cover: the SNI name, else the host (name or address).
fn tls_request(spec: &ProbeSpec) -> TlsRequest {
    let verify_name = match (&spec.sni, &spec.target.host) {
        (Some(name), _) => name.clone(),
        (None, Host::Name(name)) => name.clone(),
        (None, Host::Ip(_)) => spec.address.to_string(),
    };
    TlsRequest {
        sni: spec.sni.clone(),
        verify_name,
        want_vhost: spec.sni.is_some(),
    }
}

/// Runs one probe (or a latency series) and returns its report. A series stops between
/// attempts when `stop` is cancelled and reports the attempts made; a single probe is simply
/// dropped by its caller.
pub async fn run(
    spec: &ProbeSpec,
    ctx: &Context,
    hook: Option<&AttemptHook>,
    stop: &crate::cancel::Cancel,
) -> Report {
    match ctx.settings.latency {
        Some(latency) => series::run(spec, ctx, latency, hook, stop).await,
        None => run_once(spec, ctx).await,
    }
}

fn connect_options(settings: &Settings) -> tcp::ConnectOptions {
    tcp::ConnectOptions {
        timeout: settings.connect_timeout,
        ttl: None,
    }
}

fn greeting_limits(settings: &Settings) -> greeting::Limits {
    let first = settings.greeting_timeout;
    greeting::Limits {
        first_byte: first,
        total: first + Duration::from_secs(3),
        ..greeting::Limits::default()
    }
}

fn preamble_options(
    spec: &ProbeSpec,
    settings: &Settings,
    plan: Plan,
) -> preamble::PreambleOptions {
    let host = spec
        .sni
        .clone()
        .unwrap_or_else(|| spec.target.host.to_string());
    let mut opts = preamble::PreambleOptions::for_port(spec.port, &host);
    opts.implicit_tls = plan == Plan::Implicit;
    opts.starttls = match plan {
        Plan::Starttls(proto) => Some(proto),
        _ => None,
    };
    opts.force_starttls = settings.starttls.is_some();
    // `http://host:8081`: the scheme, not the port, says to send `HEAD /` first.
    if let Some(info) = scheme(spec).filter(|_| plan != Plan::Implicit) {
        opts.ask = Some(info.ask);
    }
    opts.limits = greeting_limits(settings);
    opts.starttls_deadline = settings.greeting_timeout + Duration::from_secs(8);
    opts
}

/// A fresh connection ready for a ClientHello (connected, STARTTLS done): for the legacy
/// fallback and the default-certificate fetch.
async fn open_for_tls(
    spec: &ProbeSpec,
    settings: &Settings,
    plan: Plan,
) -> Option<tokio::net::TcpStream> {
    let addr = SocketAddr::new(spec.address, spec.port);
    let stream = tcp::connect(addr, connect_options(settings)).await.stream?;
    let done = preamble::run(stream, &preamble_options(spec, settings, plan)).await;
    done.stream.filter(|_| done.tls_ready)
}

async fn run_once(spec: &ProbeSpec, ctx: &Context) -> Report {
    let settings = &ctx.settings;
    let mut report = spec.base_report();
    let addr = SocketAddr::new(spec.address, spec.port);
    let connected = tcp::connect(addr, connect_options(settings)).await;
    let open = connected.report.state == TcpState::Open;
    let failed_on_path = trace::worth_tracing(&connected.report);
    record_tcp(&mut report, connected.report);
    let wants_trace = match settings.trace {
        TraceWhen::Always => true,
        TraceWhen::OnFailure => failed_on_path,
        TraceWhen::Never => false,
    };
    if wants_trace {
        report.trace = Some(trace::trace(addr, &settings.trace_options).await);
    }
    let Some(stream) = connected.stream.filter(|_| open) else {
        return report;
    };
    let plan = plan(spec, settings);
    let opts = preamble_options(spec, settings, plan);
    let done = preamble::run(stream, &opts).await;
    report.service = Some(done.service);
    if let Some(said) = done.greeting {
        record_greeting(&mut report, said);
    }
    if let Some(upgrade) = done.starttls {
        let (failed, result) = (upgrade.failed(), upgrade.result.clone());
        report.starttls = Some(upgrade);
        if failed {
            report.stopped = Some(Stopped {
                layer: Layer::Starttls,
                reason: result,
            });
            return report;
        }
        report.reached = Some(Layer::Starttls);
    }
    // A plain probe ends here, unless the server itself moved to TLS (PostgreSQL's `S`).
    let Some(stream) = done.stream.filter(|_| done.tls_ready) else {
        return report;
    };
    if plan == Plan::Plain && settings.tls_mode == TlsChoice::Off {
        return report;
    }
    let request = tls_request(spec);
    let open_fresh = || open_for_tls(spec, settings, plan);
    let first_pass = TlsRequest {
        want_vhost: false,
        ..request.clone()
    };
    let (mut tls_report, session) = tls::probe(stream, open_fresh, &first_pass, &ctx.tls).await;
    // On a port whose inner protocol is unknown, waiting for words that may never come would
    // cost a whole greeting deadline per probe; the port table says when it is worth it.
    let inside_ask = scheme(spec).map(|info| info.ask);
    let inner_known = service::expected_inside_tls(spec.port).is_some() || inside_ask.is_some();
    if let (Some(mut session), Plan::Implicit, true) = (session, plan, inner_known) {
        // What the service says once inside TLS (the IMAPS banner, the HTTPS status line).
        let host = opts.host.clone();
        let greeting_opts = greeting::GreetingOptions {
            limits: opts.limits,
            ask: inside_ask,
            ..Default::default()
        };
        let said = greeting::read_after_tls(&mut session, spec.port, &host, &greeting_opts).await;
        report.service = Some(greeting::identify_service(spec.port, Some(&said)));
        record_greeting(&mut report, said);
    }
    // The session is closed by now: the default-certificate fetch gets the server to itself.
    if request.want_vhost {
        tls::decide_vhost(&mut tls_report, &open_fresh, &request, &ctx.tls).await;
    }
    record_tls(&mut report, tls_report);
    report
}

fn record_greeting(report: &mut Report, said: crate::report::GreetingReport) {
    let spoke = matches!(said.state, GreetingState::Banner | GreetingState::Reply);
    if spoke && report.reached.is_some_and(|l| l < Layer::Greeting) {
        report.reached = Some(Layer::Greeting);
    }
    report.greeting = Some(said);
}

fn record_tls(report: &mut Report, tls: crate::report::TlsReport) {
    let stop = |layer, reason: String| Some(Stopped { layer, reason });
    if let Some(error) = &tls.error {
        report.stopped = stop(Layer::Tls, error.kind.clone());
    } else {
        report.reached = Some(Layer::Tls);
        let cert_error = tls.verify.as_ref().and_then(|v| {
            (!v.trusted || !v.name_match).then(|| {
                v.errors
                    .first()
                    .cloned()
                    .unwrap_or_else(|| "untrusted".into())
            })
        });
        let only_the_name = tls
            .verify
            .as_ref()
            .is_some_and(|v| v.trusted && !v.name_match);
        match (cert_error, tls.vhost.as_deref()) {
            // The name is not covered because the server routed us to another virtual host:
            // that routing is the finding, the mismatch only its symptom.
            (Some(_), Some(word)) if only_the_name && word != "matched" => {
                report.stopped = stop(Layer::Vhost, word.to_string());
            }
            (Some(reason), _) => report.stopped = stop(Layer::Certificate, reason),
            (None, Some(word)) if word != "matched" => {
                report.reached = Some(Layer::Certificate);
                report.stopped = stop(Layer::Vhost, word.to_string());
            }
            (None, Some(_)) => report.reached = Some(Layer::Vhost),
            (None, None) => report.reached = Some(Layer::Certificate),
        }
    }
    report.tls = Some(tls);
}

fn record_tcp(report: &mut Report, tcp: TcpReport) {
    if tcp.state == TcpState::Open {
        report.reached = Some(Layer::Tcp);
    } else {
        report.stopped = Some(Stopped {
            layer: Layer::Tcp,
            reason: tcp.state.as_str().to_string(),
        });
    }
    report.tcp = Some(tcp);
}
