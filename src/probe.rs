//! One probe: walks the layers for one address, times them, and returns a Report, never an Err.

pub mod greeting;
pub mod plan;
pub mod preamble;
pub mod resolve;
pub mod series;
pub mod starttls;
pub mod tcp;
pub mod tls;
pub mod trace;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use crate::report::{Attempt, DnsReport, Report, TcpState};
use crate::target::{Host, Target};
use crate::verdict::{self, Expectations};
use plan::{Plan, PlanOptions, Profile};
use series::Latency;
use tls::{TlsContext, TlsRequest};
use trace::{TraceOptions, TraceWhen};

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
            dns: self.dns.clone(),
            ..Report::default()
        }
    }
}

/// The report for a target whose name did not resolve: nothing below DNS was tried.
pub fn dns_failure(target: &Target, port: u16, dns: DnsReport, expect: &Expectations) -> Report {
    let mut report = Report {
        target: target.input.clone(),
        host: target.host.to_string(),
        address: None,
        port,
        dns: Some(dns),
        ..Report::default()
    };
    verdict::settle(&mut report, expect);
    report
}

/// What a probe does, apart from where it goes: the probe's own options, built by `config`.
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    /// How TLS is chosen.
    pub plan: PlanOptions,
    /// Connect deadline: past it the port is `filtered`.
    pub connect_timeout: Duration,
    /// Deadline for a service's first words.
    pub greeting_timeout: Duration,
    /// When to trace the path.
    pub trace: TraceWhen,
    /// How to trace.
    pub trace_options: TraceOptions,
    /// Latency mode (repeated attempts), when asked.
    pub latency: Option<Latency>,
    /// What the user expects of each probe.
    pub expect: Expectations,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        ProbeOptions {
            plan: PlanOptions::default(),
            connect_timeout: Duration::from_secs(3),
            greeting_timeout: Duration::from_secs(2),
            trace: TraceWhen::Never,
            trace_options: TraceOptions::default(),
            latency: None,
            expect: Expectations::default(),
        }
    }
}

/// What every probe of a run shares: its options and the TLS context loaded once.
pub struct Context {
    /// The probe options.
    pub options: ProbeOptions,
    /// Trust roots, client identity and prepared TLS configuration.
    pub tls: Arc<TlsContext>,
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

/// Runs one probe (or a latency series) and returns its report, its verdict decided. A
/// series stops between attempts when `stop` is cancelled and reports the attempts made; a
/// single probe is simply dropped by its caller.
pub async fn run(
    spec: &ProbeSpec,
    ctx: &Context,
    hook: Option<&AttemptHook>,
    stop: &crate::cancel::Cancel,
) -> Report {
    let profile = Profile::decide(spec.port, spec.target.scheme.as_deref(), ctx.options.plan);
    let mut report = match ctx.options.latency {
        Some(latency) => series::run(spec, ctx, profile, latency, hook, stop).await,
        None => run_once(spec, ctx, profile).await,
    };
    verdict::settle(&mut report, &ctx.options.expect);
    report
}

fn connect_options(options: &ProbeOptions) -> tcp::ConnectOptions {
    tcp::ConnectOptions {
        timeout: options.connect_timeout,
        ttl: None,
    }
}

fn greeting_limits(options: &ProbeOptions) -> greeting::Limits {
    let first = options.greeting_timeout;
    greeting::Limits {
        first_byte: first,
        total: first + Duration::from_secs(3),
        ..greeting::Limits::default()
    }
}

fn preamble_options(
    spec: &ProbeSpec,
    options: &ProbeOptions,
    profile: Profile,
) -> preamble::PreambleOptions {
    let host = spec
        .sni
        .clone()
        .unwrap_or_else(|| spec.target.host.to_string());
    preamble::PreambleOptions {
        port: spec.port,
        host,
        implicit_tls: profile.plan == Plan::Implicit,
        starttls: profile.starttls(),
        force_starttls: profile.force_starttls,
        ask: profile.ask,
        capabilities: true,
        client_name: "localhost".into(),
        limits: greeting_limits(options),
        starttls_deadline: options.greeting_timeout + Duration::from_secs(8),
    }
}

/// A fresh connection ready for a ClientHello (connected, STARTTLS done): for the legacy
/// fallback and the default-certificate fetch.
async fn open_for_tls(
    spec: &ProbeSpec,
    options: &ProbeOptions,
    profile: Profile,
) -> Option<tokio::net::TcpStream> {
    let addr = SocketAddr::new(spec.address, spec.port);
    let stream = tcp::connect(addr, connect_options(options)).await.stream?;
    let done = preamble::run(stream, &preamble_options(spec, options, profile)).await;
    done.stream.filter(|_| done.tls_ready)
}

/// The server accepted and reset at once: the port is open, and the next layer (greeting,
/// STARTTLS or TLS handshake) was reset. Recorded as if the reset had come after the connect
/// returned, so a sweep's verdict does not depend on which of the two won the race.
fn reset_after_accept(report: &mut Report, spec: &ProbeSpec, profile: Profile) {
    use crate::report::{GreetingReport, GreetingState, StarttlsReport, StarttlsResult};
    match profile.plan {
        Plan::Plain | Plan::Starttls(_) => {
            report.greeting = Some(GreetingReport {
                state: GreetingState::Reset,
                ..GreetingReport::default()
            });
        }
        Plan::Implicit => {}
    }
    match profile.plan {
        Plan::Plain => {}
        Plan::Starttls(proto) => {
            report.starttls = Some(StarttlsReport {
                protocol: proto.as_str().to_string(),
                result: StarttlsResult::Error,
                error: Some("reset".into()),
                ..StarttlsReport::default()
            });
        }
        Plan::Implicit => {
            report.tls = Some(crate::report::TlsReport {
                sni: tls_request(spec).sni,
                error: Some(crate::report::tls::TlsFailure {
                    kind: crate::report::TlsFailureKind::Reset,
                    alert: None,
                    detail: "the connection was reset right after it was accepted".into(),
                    received: None,
                }),
                ..Default::default()
            });
        }
    }
}

/// Walks the layers once: TCP, greeting and STARTTLS, TLS, certificate, virtual host. Records
/// what each layer said; the verdict is decided afterwards, in one place.
async fn run_once(spec: &ProbeSpec, ctx: &Context, profile: Profile) -> Report {
    let options = &ctx.options;
    let mut report = spec.base_report();
    let addr = SocketAddr::new(spec.address, spec.port);
    let connected = tcp::connect(addr, connect_options(options)).await;
    let open = connected.report.state == TcpState::Open;
    let wants_trace = match options.trace {
        TraceWhen::Always => true,
        TraceWhen::OnFailure => trace::worth_tracing(&connected.report),
        TraceWhen::Never => false,
    };
    report.tcp = Some(connected.report);
    if wants_trace {
        report.trace = Some(trace::trace(addr, &options.trace_options).await);
    }
    let Some(stream) = connected.stream.filter(|_| open) else {
        if open {
            reset_after_accept(&mut report, spec, profile);
        }
        return report;
    };
    let opts = preamble_options(spec, options, profile);
    let done = preamble::run(stream, &opts).await;
    report.service = Some(done.service);
    report.greeting = done.greeting;
    report.starttls = done.starttls;
    // A plain probe ends here, unless the server itself moved to TLS (PostgreSQL's `S`).
    let Some(stream) = done.stream.filter(|_| done.tls_ready && !profile.tls_off) else {
        return report;
    };
    let request = tls_request(spec);
    let open_fresh = || open_for_tls(spec, options, profile);
    let first_pass = TlsRequest {
        want_vhost: false,
        ..request.clone()
    };
    let (mut tls_report, session) = tls::probe(stream, open_fresh, &first_pass, &ctx.tls).await;
    if let (Some(mut session), Some(ask)) = (session, profile.inside) {
        // What the service says once inside TLS (the IMAPS banner, the HTTPS status line).
        let greeting_opts = greeting::GreetingOptions {
            limits: opts.limits,
            ask: Some(ask),
            ..Default::default()
        };
        let said =
            greeting::read_after_tls(&mut session, spec.port, &opts.host, &greeting_opts).await;
        report.service = Some(greeting::identify_service(spec.port, Some(&said)));
        report.greeting = Some(said);
    }
    // The session is closed by now: the default-certificate fetch gets the server to itself.
    if request.want_vhost {
        tls::decide_vhost(&mut tls_report, &open_fresh, &request, &ctx.tls).await;
    }
    report.tls = Some(tls_report);
    report
}
