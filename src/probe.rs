//! One probe: walks the layers for one address, times them, and returns a Report, never an Err.

pub mod greeting;
pub mod plan;
pub mod preamble;
pub mod quic;
pub mod resolve;
pub mod series;
pub mod starttls;
pub mod tcp;
pub mod timing;
pub mod tls;
pub mod trace;
pub mod udp;

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
    /// Another SNI name probed on the same target, as a reference for the vhost verdict.
    pub other_sni: Option<String>,
    /// One of several ports of its target (a sweep): see [`greeting_wait`].
    pub sweep: bool,
    /// TCP (and what runs over it), or QUIC.
    pub transport: Transport,
}

/// The transport a probe walks: TCP with TLS over it, or QUIC with TLS inside it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    /// TCP, then greeting, STARTTLS and TLS as the port calls for.
    #[default]
    Tcp,
    /// A QUIC handshake over UDP (`--quic`, `h3://`).
    Quic,
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
    /// How long a connect waits, and how many SYNs it sends (`--timing`, `--timeout`).
    pub connect: timing::Policy,
    /// Deadline for a service's first words.
    pub greeting_timeout: Duration,
    /// No `--greeting-timeout` was given: in a sweep a plain port's first words are awaited
    /// for a time learned from the host's round trips instead (see [`greeting_wait`]).
    pub greeting_learned: bool,
    /// When to trace the path.
    pub trace: TraceWhen,
    /// How to trace.
    pub trace_options: TraceOptions,
    /// Latency mode (repeated attempts), when asked.
    pub latency: Option<Latency>,
    /// What the user expects of each probe.
    pub expect: Expectations,
    /// Compare a covered name's certificate with the server's default too
    /// (`--vhost-reference always`): `matched_default` when they are the same.
    pub vhost_reference_always: bool,
    /// Recog databases (`--fingerprints DIR`), matched after the built-in table.
    pub fingerprints: Option<Arc<greeting::recog::Db>>,
    /// How QUIC probes go (`--quic`, `h3://`).
    pub quic: quic::QuicOptions,
    /// UDP probes (`-u`, `udp://`).
    pub udp: udp::UdpOptions,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        ProbeOptions {
            plan: PlanOptions::default(),
            connect: timing::Policy::default(),
            greeting_timeout: Duration::from_secs(2),
            greeting_learned: false,
            trace: TraceWhen::Never,
            trace_options: TraceOptions::default(),
            latency: None,
            expect: Expectations::default(),
            vhost_reference_always: false,
            fingerprints: None,
            quic: quic::QuicOptions::default(),
            udp: udp::UdpOptions::default(),
        }
    }
}

/// What every probe of a run shares: its options and the TLS context loaded once.
pub struct Context {
    /// The probe options.
    pub options: ProbeOptions,
    /// Trust roots, client identity and prepared TLS configuration.
    pub tls: Arc<TlsContext>,
    /// Ports that answered SYN-ACK so far in this run: a trace measures a host's distance on
    /// one of them to tell its RST from a middlebox's.
    pub open_ports: trace::OpenPorts,
    /// Round trips seen per host in this run: the adaptive connect deadlines.
    pub rtts: timing::Rtts,
}

/// The name the leaf must cover: the SNI name, else the host (name or address).
fn tls_request(spec: &ProbeSpec, options: &ProbeOptions) -> TlsRequest {
    let verify_name = match (&spec.sni, &spec.target.host) {
        (Some(name), _) => name.clone(),
        (None, Host::Name(name)) => name.clone(),
        (None, Host::Ip(_)) => spec.address.to_string(),
    };
    TlsRequest {
        sni: spec.sni.clone(),
        verify_name,
        want_vhost: spec.sni.is_some(),
        reference_always: options.vhost_reference_always,
        other_name: spec.other_sni.clone(),
        endpoint: Some(endpoint(spec, None)),
    }
}

/// What decides which certificate a catch-all serves: the key under which a run remembers
/// an endpoint's reference certificates (`plan`: how TLS is reached over TCP).
fn endpoint(spec: &ProbeSpec, plan: Option<Plan>) -> String {
    let address = SocketAddr::new(spec.address, spec.port);
    match plan {
        Some(plan) => format!("{:?} {address} {plan:?}", spec.transport),
        None => format!("{:?} {address}", spec.transport),
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
    let mut plan = ctx.options.plan;
    // An `ADDRESS,NAME` pair asks for TLS with that SNI, as `--sni` does (unless `--no-sni`
    // or `--sni` replaced the name).
    if spec.target.sni.is_some() && spec.sni == spec.target.sni && plan.tls == plan::TlsWanted::Auto
    {
        plan.tls = plan::TlsWanted::On;
    }
    let profile = Profile::decide(spec.port, spec.target.scheme.as_deref(), plan);
    if is_udp(spec, &ctx.options) {
        let mut report = match ctx.options.latency {
            Some(latency) => Box::pin(series::run_udp(spec, ctx, latency, hook, stop)).await,
            None => udp_once(spec, &ctx.options).await,
        };
        verdict::settle(&mut report, &ctx.options.expect);
        return report;
    }
    let mut report = match ctx.options.latency {
        // QUIC: one handshake (and its references), or a series of handshakes.
        Some(latency) if spec.transport == Transport::Quic => {
            Box::pin(series::run_quic(spec, ctx, latency, hook, stop)).await
        }
        _ if spec.transport == Transport::Quic => Box::pin(run_quic(spec, ctx)).await,
        // Boxed: a latency series is a large future that single probes need not carry.
        Some(latency) => Box::pin(series::run(spec, ctx, profile, latency, hook, stop)).await,
        None => run_once(spec, ctx, profile).await,
    };
    verdict::settle(&mut report, &ctx.options.expect);
    report
}

/// The QUIC walk: the handshake over UDP, then the same certificate and virtual-host verdicts
/// as over TCP, from the TLS inside it.
async fn run_quic(spec: &ProbeSpec, ctx: &Context) -> Report {
    let mut report = spec.base_report();
    let request = tls_request(spec, &ctx.options);
    let addr = SocketAddr::new(spec.address, spec.port);
    let (quic, tls) = quic::probe(addr, &request, &ctx.tls, &ctx.options.quic).await;
    report.quic = quic;
    report.tls = tls;
    report
}

/// Whether this probe goes over UDP: `-u`, or a `udp://` target.
pub fn is_udp(spec: &ProbeSpec, options: &ProbeOptions) -> bool {
    options.udp.all || spec.target.scheme.as_deref() == Some("udp")
}

/// One UDP exchange: the `udp` layer instead of TCP and everything above it.
async fn udp_once(spec: &ProbeSpec, options: &ProbeOptions) -> Report {
    let mut report = spec.base_report();
    let addr = SocketAddr::new(spec.address, spec.port);
    report.udp = Some(udp::probe(addr, &options.udp).await);
    report
}

/// One SYN with the whole deadline: a latency series times single connects.
fn connect_options(options: &ProbeOptions) -> tcp::ConnectOptions {
    tcp::ConnectOptions {
        timeout: options.connect.explicit.unwrap_or(options.connect.timeout),
        ttl: None,
    }
}

/// How long a plain port's first words are awaited: `--greeting-timeout`, or, when none was
/// given and the probe is one port of a sweep, 4 × (srtt + rttvar) of the host's answers so far
/// but never less than 500 ms (nor more than the default 2 s): most services greet about one
/// round trip after the connect, so a silent port no longer holds a sweep for 2 s, while a
/// server that takes a moment (a reverse lookup, a loaded daemon) is still heard; calling it
/// silent after a few round trips of loopback would say something untrue.
/// STARTTLS and TLS ports keep the full deadline: their greeting is part of the conversation.
fn greeting_wait(spec: &ProbeSpec, ctx: &Context, profile: Profile) -> Duration {
    let options = &ctx.options;
    if !options.greeting_learned || !spec.sweep || profile.plan != Plan::Plain {
        return options.greeting_timeout;
    }
    match ctx.rtts.estimate(spec.address) {
        Some(e) => ((e.srtt + e.rttvar) * 4)
            .max(Duration::from_millis(500))
            .min(options.greeting_timeout),
        _ => options.greeting_timeout,
    }
}

/// Bounds of every read before TLS, all derived from `--greeting-timeout` T: the first byte
/// within T, a whole greeting or reply within 2T. (README "Greeting and STARTTLS deadlines".)
fn greeting_limits(options: &ProbeOptions) -> greeting::Limits {
    limits_for(options.greeting_timeout)
}

fn limits_for(first: Duration) -> greeting::Limits {
    greeting::Limits {
        first_byte: first,
        total: first * 2,
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
        capabilities: profile.probe,
        client_name: "localhost".into(),
        limits: greeting_limits(options),
        // The whole upgrade (greeting, capabilities, the upgrade command): 5T.
        starttls_deadline: options.greeting_timeout * 5,
        probe: profile.probe,
        fingerprints: options.fingerprints.clone(),
    }
}

/// A fresh connection ready for a ClientHello (connected, STARTTLS done): for the legacy
/// fallback and the default-certificate fetch.
async fn open_for_tls(
    spec: &ProbeSpec,
    ctx: &Context,
    profile: Profile,
) -> Option<tokio::net::TcpStream> {
    let options = &ctx.options;
    let addr = SocketAddr::new(spec.address, spec.port);
    let stream = timing::connect(addr, &options.connect, &ctx.rtts)
        .await
        .stream?;
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
                sni: spec.sni.clone(),
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

/// What an upgrade chosen from the greeting produced.
struct Upgraded {
    service: crate::report::ServiceReport,
    greeting: Option<crate::report::GreetingReport>,
    starttls: Option<crate::report::StarttlsReport>,
    tls: Option<crate::report::TlsReport>,
}

/// The dialect whose greeting a server sent where a TLS handshake was expected, when it is one
/// with an in-band upgrade (SMTP, LMTP, IMAP, POP3, FTP, NNTP, ManageSieve).
fn starttls_by_content(
    tls: &crate::report::TlsReport,
    profile: Profile,
) -> Option<crate::service::StarttlsProto> {
    use crate::service::StarttlsProto as P;
    if profile.plan != Plan::Implicit {
        return None;
    }
    let error = tls
        .error
        .as_ref()
        .filter(|e| e.kind == crate::report::TlsFailureKind::NotTls)?;
    // The preview lost its last line end; a greeting line is only whole with one.
    let received = format!("{}\r\n", error.received.as_deref()?);
    let mut seen = crate::report::GreetingReport::default();
    greeting::identify::analyse(
        received.as_bytes(),
        crate::service::Ask::Listen,
        None,
        &mut seen,
    );
    Some(match seen.protocol.as_deref()? {
        "smtp" => P::Smtp,
        "lmtp" => P::Lmtp,
        "imap" => P::Imap,
        "pop3" => P::Pop3,
        "ftp" => P::Ftp,
        "nntp" => P::Nntp,
        "sieve" => P::Sieve,
        _ => return None,
    })
}

/// Connects again and runs the dialect's STARTTLS (`profile` says which), then the TLS probe.
/// `None` when the new connection cannot be made.
async fn upgrade_by_content(
    spec: &ProbeSpec,
    ctx: &Context,
    profile: Profile,
    request: &TlsRequest,
) -> Option<Upgraded> {
    let options = &ctx.options;
    let addr = SocketAddr::new(spec.address, spec.port);
    let stream = timing::connect(addr, &options.connect, &ctx.rtts)
        .await
        .stream?;
    let done = preamble::run(stream, &preamble_options(spec, options, profile)).await;
    let starttls = done.starttls.map(|mut s| {
        s.from_greeting = true;
        s
    });
    let tls = match done.stream.filter(|_| done.tls_ready) {
        Some(stream) => {
            let open_fresh = || open_for_tls(spec, ctx, profile);
            Some(tls::probe(stream, open_fresh, request, &ctx.tls).await.0)
        }
        None => None,
    };
    Some(Upgraded {
        service: done.service,
        greeting: done.greeting,
        starttls,
        tls,
    })
}

/// The follow-up probes on a silent unhinted port ([`greeting::followup`]), within one more
/// greeting deadline. When TLS answered, the returned preamble holds a new connection ready for
/// a ClientHello and the profile is [`Profile::tls_found`]'s.
async fn follow_up(
    spec: &ProbeSpec,
    options: &ProbeOptions,
    profile: Profile,
    mut done: preamble::Preamble<tokio::net::TcpStream>,
    wait: Duration,
) -> (preamble::Preamble<tokio::net::TcpStream>, Profile) {
    let (Some(stream), Some(silent)) = (done.stream.take(), done.greeting.take()) else {
        return (done, profile);
    };
    let addr = SocketAddr::new(spec.address, spec.port);
    let open = || async move { tcp::connect(addr, connect_options(options)).await.stream };
    let host = spec
        .sni
        .clone()
        .unwrap_or_else(|| spec.target.host.to_string());
    let found = greeting::followup::after_silence(
        stream,
        silent,
        open,
        &host,
        spec.port,
        wait,
        &limits_for(wait),
    )
    .await;
    let mut g = found.greeting;
    if let Some(db) = &options.fingerprints {
        db.apply(&mut g);
    }
    done.service = greeting::identify_service(spec.port, Some(&g));
    done.greeting = Some(g);
    if !found.tls {
        return (done, profile);
    }
    let profile = profile.tls_found();
    done.stream = open().await;
    done.tls_ready = done.stream.is_some();
    (done, profile)
}

/// Walks the layers once: TCP, greeting and STARTTLS, TLS, certificate, virtual host. Records
/// what each layer said; the verdict is decided afterwards, in one place.
async fn run_once(spec: &ProbeSpec, ctx: &Context, profile: Profile) -> Report {
    let options = &ctx.options;
    // Boxed: a report is 3 KiB, held across every await below.
    let mut report = Box::new(spec.base_report());
    let addr = SocketAddr::new(spec.address, spec.port);
    let connected = timing::connect(addr, &options.connect, &ctx.rtts).await;
    let open = connected.report.state == TcpState::Open;
    if open {
        ctx.open_ports.record(addr);
    }
    let wants_trace = match options.trace {
        TraceWhen::Always => true,
        TraceWhen::OnFailure => trace::worth_tracing(&connected.report),
        TraceWhen::Never => false,
    };
    report.tcp = Some(connected.report);
    if wants_trace {
        let traced = trace::trace_in_run(addr, &options.trace_options, &ctx.open_ports);
        report.trace = Some(Box::pin(traced).await);
    }
    let Some(stream) = connected.stream.filter(|_| open) else {
        if open {
            reset_after_accept(&mut report, spec, profile);
        }
        return *report;
    };
    let mut opts = preamble_options(spec, options, profile);
    let wait = greeting_wait(spec, ctx, profile);
    if wait != options.greeting_timeout {
        opts.limits = limits_for(wait);
    }
    let done = Box::pin(preamble::run(stream, &opts)).await;
    // A silent port that neither port nor scheme explains: the follow-up probes (issue 15). A
    // TLS answer makes the rest of this probe an implicit-TLS one on a new connection.
    let (done, profile) = match done.greeting.as_ref() {
        // Boxed: the follow-ups' state lives on the heap only for probes that need it, so
        // the future of every other probe stays small (thousands may be in flight).
        Some(g) if profile.follow_up && g.is_silent() => {
            Box::pin(follow_up(spec, options, profile, done, wait)).await
        }
        _ => (done, profile),
    };
    report.service = Some(done.service);
    report.greeting = done.greeting;
    report.starttls = done.starttls;
    // A plain probe ends here, unless the server itself moved to TLS (PostgreSQL's `S`).
    let Some(stream) = done.stream.filter(|_| done.tls_ready && !profile.tls_off) else {
        return *report;
    };
    let request = tls_request(spec, &ctx.options);
    let open_fresh = || open_for_tls(spec, ctx, profile);
    let first_pass = TlsRequest {
        want_vhost: false,
        ..request.clone()
    };
    let (mut tls_report, mut session) =
        Box::pin(tls::probe(stream, open_fresh, &first_pass, &ctx.tls)).await;
    // TLS was asked for, but the server greeted in a mail or file-transfer dialect: upgrade
    // the way that dialect does, on a fresh connection, instead of stopping at `not_tls`.
    let mut profile = profile;
    if let Some(proto) = starttls_by_content(&tls_report, profile) {
        profile = Profile {
            plan: Plan::Starttls(proto),
            ask: None,
            inside: None,
            ..profile
        };
        let upgraded = Box::pin(upgrade_by_content(spec, ctx, profile, &first_pass)).await;
        let Some(upgraded) = upgraded else {
            return *report;
        };
        report.service = Some(upgraded.service);
        report.greeting = upgraded.greeting;
        report.starttls = upgraded.starttls;
        let Some(tls) = upgraded.tls else {
            // The upgrade failed too: both attempts stay visible (`starttls` explains).
            report.tls = Some(tls_report);
            return *report;
        };
        tls_report = tls;
        session = None;
    }
    let open_fresh = || open_for_tls(spec, ctx, profile);
    if let (Some(mut session), Some(ask)) = (session, profile.inside) {
        // What the service says once inside TLS (the IMAPS banner, the HTTPS status line).
        let greeting_opts = greeting::GreetingOptions {
            limits: opts.limits,
            ask: Some(ask),
            ..Default::default()
        };
        let mut said =
            greeting::read_after_tls(&mut session, spec.port, &opts.host, &greeting_opts).await;
        if let Some(db) = &options.fingerprints {
            db.apply(&mut said);
        }
        report.service = Some(greeting::identify_service(spec.port, Some(&said)));
        report.greeting = Some(said);
    }
    // The session is closed by now: the default-certificate fetch gets the server to itself.
    if request.want_vhost {
        let request = TlsRequest {
            endpoint: Some(endpoint(spec, Some(profile.plan))),
            ..request
        };
        // Boxed: the reference handshakes are a large future, needed by few probes; inline
        // they would enlarge every probe task in flight.
        Box::pin(tls::decide_vhost(
            &mut tls_report,
            &open_fresh,
            &request,
            &ctx.tls,
        ))
        .await;
    }
    report.tls = Some(tls_report);
    *report
}
