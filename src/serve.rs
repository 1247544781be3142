//! `reach serve`: a Prometheus exporter in the way of `blackbox_exporter`. `/probe?target=…&
//! module=…` probes one target as the module says and answers with its metrics
//! (`serve::metrics`); `/metrics` describes the exporter itself.
//!
//! It is not an open proxy: a module probes only the ports, networks and names it allows
//! (deny by default), a name's addresses must be in the allowed networks too (DNS cannot
//! point it elsewhere), an SNI name from the query is taken only where the module allows it,
//! at most `max_concurrent_scrapes` scrapes run at once (others wait within their deadline,
//! then get 503), and every scrape ends by its deadline: the one Prometheus sends in
//! `X-Prometheus-Scrape-Timeout-Seconds` less half a second, never more than `max_timeout`.
//! Scaling out is Prometheus's job: several instances behind `hashmod` relabelling (README).

pub(crate) mod metrics;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::cancel::Cancel;
use crate::cli::ServeArgs;
use crate::config::serve::{self, Module, ServeConfig};
use crate::exit::ExitCode;
use crate::probe::resolve::{Resolver, ResolverOptions};
use crate::report::{DnsOutcome, Report};
use crate::run::{self, Event, Expansion, Limits, RunOptions, Targets};
use crate::target::{self, Host, Target};
use crate::verdict;

/// Longest query string accepted.
const MAX_QUERY: usize = 2048;
/// What Prometheus's own deadline is shortened by, so the answer arrives before it.
const SCRAPE_MARGIN: Duration = Duration::from_millis(500);
/// Longest wait for a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs the exporter until SIGINT or SIGTERM.
pub async fn run(args: ServeArgs) -> ExitCode {
    let config = match serve::load(Path::new(&args.config)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("reach: {e}");
            return ExitCode::Usage;
        }
    };
    let Ok(listen) = args.listen.parse::<SocketAddr>() else {
        eprintln!(
            "reach: invalid --listen {:?}: expected IP:PORT ([v6]:PORT)",
            args.listen
        );
        return ExitCode::Usage;
    };
    let listener = match TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("reach: cannot listen on {listen}: {e}");
            return ExitCode::Local;
        }
    };
    let (cancel, _caught) = crate::cancel::on_signals();
    let bound = listener.local_addr().unwrap_or(listen);
    eprintln!(
        "reach serve: listening on http://{bound}/ (modules: {})",
        config
            .modules
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    );
    serve(listener, config, cancel).await;
    ExitCode::Ok
}

/// Serves `listener` until `stop` is cancelled.
pub async fn serve(listener: TcpListener, config: ServeConfig, stop: Cancel) {
    let state = Arc::new(State::new(config));
    let connections = Arc::new(Semaphore::new(state.config.max_connections));
    let lifetime = state.config.max_timeout + Duration::from_secs(60);
    loop {
        let Some(accepted) = stop.unless(listener.accept()).await else {
            break;
        };
        let Ok((stream, _peer)) = accepted else {
            // Out of descriptors or similar: do not spin.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let Ok(permit) = Arc::clone(&connections).try_acquire_owned() else {
            // Too many connections: close this one at once.
            drop(stream);
            continue;
        };
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let state = Arc::clone(&state);
                async move { Ok::<_, Infallible>(handle(req, &state).await) }
            });
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .max_buf_size(16 * 1024)
                .serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(lifetime, connection).await;
            drop(permit);
        });
    }
}

struct State {
    config: ServeConfig,
    scrapes: Semaphore,
    started_unix: i64,
    counters: Mutex<BTreeMap<(String, &'static str), u64>>,
}

impl State {
    fn new(config: ServeConfig) -> State {
        State {
            scrapes: Semaphore::new(config.max_concurrent_scrapes),
            config,
            started_unix: crate::cert::now_unix(),
            counters: Mutex::new(BTreeMap::new()),
        }
    }

    fn count(&self, module: &str, result: &'static str) {
        let mut counters = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        *counters.entry((module.to_string(), result)).or_default() += 1;
    }
}

type Answer = Response<Full<Bytes>>;

fn text(status: StatusCode, body: String) -> Answer {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

async fn handle(req: Request<Incoming>, state: &State) -> Answer {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            "reach: only GET is served\n".into(),
        );
    }
    match req.uri().path() {
        "/probe" => probe(&req, state).await,
        "/metrics" => text(StatusCode::OK, exporter_metrics(state)),
        "/" => text(
            StatusCode::OK,
            "reach serve: /probe?target=HOST[:PORT]&module=NAME, /metrics\n".into(),
        ),
        _ => text(StatusCode::NOT_FOUND, "reach: no such page\n".into()),
    }
}

/// A scrape that cannot be probed: the status and the sentence that says why.
struct Refusal {
    status: StatusCode,
    /// Counted as `reach_exporter_scrapes_total{result=…}`.
    result: &'static str,
    why: String,
}

fn refuse(why: String) -> Refusal {
    Refusal {
        status: StatusCode::FORBIDDEN,
        result: "refused",
        why,
    }
}

fn bad(why: String) -> Refusal {
    Refusal {
        status: StatusCode::BAD_REQUEST,
        result: "bad_request",
        why,
    }
}

/// The query of a scrape, checked.
struct Query {
    target: String,
    module: String,
    sni: Option<String>,
}

fn parse_query(raw: Option<&str>) -> Result<Query, Refusal> {
    let raw = raw.unwrap_or("");
    if raw.len() > MAX_QUERY {
        return Err(Refusal {
            status: StatusCode::URI_TOO_LONG,
            result: "bad_request",
            why: format!("the query is longer than {MAX_QUERY} bytes"),
        });
    }
    let (mut target, mut module, mut sni) = (None, None, None);
    for (key, value) in url::form_urlencoded::parse(raw.as_bytes()) {
        let slot = match key.as_ref() {
            "target" => &mut target,
            "module" => &mut module,
            "sni" => &mut sni,
            // Prometheus adds nothing else; anything more is a mistake worth saying.
            other => {
                return Err(bad(format!(
                    "unknown parameter {other:?} (target, module, sni)"
                )));
            }
        };
        if slot.replace(value.into_owned()).is_some() {
            return Err(bad(format!("parameter {key:?} given twice")));
        }
    }
    Ok(Query {
        target: target.ok_or_else(|| bad("missing parameter target".into()))?,
        module: module.ok_or_else(|| bad("missing parameter module".into()))?,
        sni,
    })
}

/// The scrape's deadline: Prometheus's, less a margin, within `max_timeout`.
fn deadline(req: &Request<Incoming>, max: Duration) -> Duration {
    let asked = req
        .headers()
        .get("X-Prometheus-Scrape-Timeout-Seconds")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(|s| Duration::from_secs_f64(s.min(86_400.0)));
    match asked {
        Some(d) if d > SCRAPE_MARGIN * 2 => (d - SCRAPE_MARGIN).min(max),
        Some(d) => (d / 2).min(max),
        None => max,
    }
}

async fn probe(req: &Request<Incoming>, state: &State) -> Answer {
    let started = Instant::now();
    let query = match parse_query(req.uri().query()) {
        Ok(q) => q,
        Err(r) => {
            state.count("", r.result);
            return text(r.status, format!("reach: {}\n", r.why));
        }
    };
    let Some(module) = state.config.modules.get(&query.module) else {
        state.count("", "bad_request");
        return text(
            StatusCode::BAD_REQUEST,
            format!("reach: unknown module {:?}\n", query.module),
        );
    };
    let budget = deadline(req, state.config.max_timeout);
    let plan = match plan(&query, module, &state.config, budget).await {
        Ok(plan) => plan,
        Err(r) => {
            state.count(&query.module, r.result);
            return text(r.status, format!("reach: {}\n", r.why));
        }
    };
    let left = budget.saturating_sub(started.elapsed());
    let Ok(Ok(_permit)) = tokio::time::timeout(left, state.scrapes.acquire()).await else {
        state.count(&query.module, "busy");
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "reach: too many scrapes in flight; none finished before this one's deadline\n".into(),
        );
    };
    let left = budget.saturating_sub(started.elapsed());
    let (reports, unfinished) = run_plan(plan, module, left).await;
    state.count(&query.module, "probed");
    let page = metrics::probe_page(&reports, unfinished, started.elapsed().as_secs_f64());
    text(StatusCode::OK, page)
}

/// What one scrape will probe, every part of it allowed by the module.
struct Plan {
    targets: Vec<Target>,
    /// Reports already decided: a name that did not resolve.
    settled: Vec<Report>,
}

async fn plan(
    query: &Query,
    module: &Module,
    config: &ServeConfig,
    budget: Duration,
) -> Result<Plan, Refusal> {
    let parsed = target::parse(&query.target).map_err(|e| bad(e.to_string()))?;
    let port = parsed.port.unwrap_or(module.ports[0]);
    if !module.ports.contains(&port) {
        return Err(refuse(format!(
            "port {port} is not in the module's ports {:?}",
            module.ports
        )));
    }
    let asked_sni = match (&query.sni, &parsed.sni) {
        (Some(_), Some(_)) => return Err(bad("an SNI name both in target and sni".into())),
        (Some(n), None) | (None, Some(n)) => Some(n.trim_end_matches('.').to_ascii_lowercase()),
        (None, None) => None,
    };
    if let Some(name) = &asked_sni {
        if !module.allow_sni_param {
            return Err(refuse(
                "this module takes no SNI name from the query (allow_sni_param)".into(),
            ));
        }
        target::validate_dns_name(name).map_err(|p| bad(format!("sni {name:?}: {p}")))?;
        if !module.allows_name(name) {
            return Err(refuse(format!("SNI name {name} is not in allow_names")));
        }
    }
    let (addresses, dns) = match &parsed.host {
        Host::Ip(ip) => {
            if !module.allows_address(*ip) {
                return Err(refuse(format!(
                    "{ip} is outside the module's allow_networks"
                )));
            }
            (vec![*ip], None)
        }
        Host::Name(name) => {
            if !module.allows_name(name) {
                return Err(refuse(format!("{name} is not in the module's allow_names")));
            }
            let resolver = Resolver::new(ResolverOptions {
                timeout: budget.min(Duration::from_secs(5)),
                ..ResolverOptions::default()
            });
            let dns = resolver.resolve(name).await;
            let allowed: Vec<_> = dns
                .addresses
                .iter()
                .copied()
                .filter(|a| module.allows_address(*a))
                .take(config.max_addresses)
                .collect();
            if dns.outcome == DnsOutcome::Resolved && allowed.is_empty() {
                return Err(refuse(format!(
                    "{name} resolves only to addresses outside the module's allow_networks"
                )));
            }
            (allowed, Some(dns))
        }
    };
    let snis: Vec<Option<String>> = match (&asked_sni, &parsed.host) {
        (Some(n), _) => vec![Some(n.clone())],
        (None, _) if !module.sni.is_empty() => module.sni.iter().cloned().map(Some).collect(),
        (None, Host::Name(n)) => vec![Some(n.clone())],
        (None, Host::Ip(_)) => vec![None],
    };
    let mut plan = Plan {
        targets: Vec::new(),
        settled: Vec::new(),
    };
    if let Some(dns) = dns.filter(|d| d.outcome != DnsOutcome::Resolved) {
        plan.settled.push(crate::probe::dns_failure(
            &parsed,
            port,
            dns,
            &module.probe.expect,
        ));
        return Ok(plan);
    }
    for address in addresses {
        for sni in &snis {
            let host = match address {
                std::net::IpAddr::V6(v6) => format!("[{v6}]:{port}"),
                v4 => format!("{v4}:{port}"),
            };
            let text = match sni {
                Some(name) => format!("{host},{name}"),
                None => host,
            };
            let mut target = target::parse(&text).map_err(|e| bad(e.to_string()))?;
            // The report names what was asked for.
            target.input = query.target.clone();
            plan.targets.push(target);
        }
    }
    Ok(plan)
}

/// Runs the plan within `left`; returns the reports and how many probes did not finish.
async fn run_plan(plan: Plan, module: &Module, left: Duration) -> (Vec<Report>, usize) {
    let mut reports = plan.settled;
    if plan.targets.is_empty() {
        return (reports, 0);
    }
    let expected = plan.targets.len();
    let ctx = Arc::new(crate::probe::Context {
        options: module.probe.clone(),
        tls: Arc::clone(&module.tls),
        open_ports: Default::default(),
        rtts: Default::default(),
    });
    let options = RunOptions {
        limits: Limits {
            concurrency: expected,
            deadline: Some(left),
            ..Limits::default()
        },
        expand: Expansion::default(),
        resolver: ResolverOptions::default(),
    };
    let targets: Targets = Box::new(plan.targets.into_iter().map(Ok));
    let mut probed = Vec::new();
    run::run(
        ctx,
        targets,
        options,
        false,
        true,
        Cancel::never(),
        |event| {
            if let Event::Report(report) = event {
                probed.push(report.clone());
            }
            ControlFlow::Continue(())
        },
    )
    .await;
    if module.same_cert {
        verdict::same_cert(&mut probed);
    }
    let unfinished = expected.saturating_sub(probed.len());
    reports.extend(probed);
    (reports, unfinished)
}

/// The exporter's own metrics.
fn exporter_metrics(state: &State) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP reach_exporter_build_info The reach version serving.\n# TYPE reach_exporter_build_info gauge\nreach_exporter_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(
        out,
        "# HELP process_start_time_seconds When the exporter started (unix time).\n# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds {}",
        state.started_unix
    );
    let in_flight = state
        .config
        .max_concurrent_scrapes
        .saturating_sub(state.scrapes.available_permits());
    let _ = writeln!(
        out,
        "# HELP reach_exporter_scrapes_in_flight Scrapes being probed now.\n# TYPE reach_exporter_scrapes_in_flight gauge\nreach_exporter_scrapes_in_flight {in_flight}"
    );
    let _ = writeln!(
        out,
        "# HELP reach_exporter_max_concurrent_scrapes The bound on scrapes probed at once.\n# TYPE reach_exporter_max_concurrent_scrapes gauge\nreach_exporter_max_concurrent_scrapes {}",
        state.config.max_concurrent_scrapes
    );
    let _ = writeln!(
        out,
        "# HELP reach_exporter_scrapes_total Scrapes of /probe by module and result (probed, refused, bad_request, busy).\n# TYPE reach_exporter_scrapes_total counter"
    );
    let counters = state.counters.lock().unwrap_or_else(|p| p.into_inner());
    for ((module, result), n) in counters.iter() {
        let _ = writeln!(
            out,
            "reach_exporter_scrapes_total{{module=\"{}\",result=\"{result}\"}} {n}",
            metrics::label_value(module)
        );
    }
    out
}
