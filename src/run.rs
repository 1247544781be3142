//! A whole run: streams targets in, resolves and expands them into probes (address × port ×
//! SNI), runs the probes within bounds (concurrency, per-address limit, rate, deadline), and
//! streams reports out. Memory stays bounded by the number of probes in flight, not by the
//! length of the input.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

mod expand;
mod threads;

pub use expand::{DEFAULT_PORT, Expansion};

use crate::cancel::{self, Cancel};
use crate::input::InputError;
use crate::probe::resolve::{Resolver, ResolverOptions};
use crate::probe::{self, AttemptHook, Context, ProbeSpec};
use crate::report::{Attempt, DnsOutcome, DnsReport, InternalFault, Report};
use crate::target::{Host, Target};
use crate::verdict;

/// Probes in flight at once, by default.
pub const DEFAULT_CONCURRENCY: usize = 256;
/// Probes in flight to one address at once, by default: enough for a sweep of a host whose
/// firewall silently drops a hundred ports to cost one deadline, few enough not to hammer one
/// server (`--per-address` changes it).
pub const DEFAULT_PER_ADDRESS: usize = 128;

/// A stream of targets (or input errors) to probe.
pub type Targets = Box<dyn Iterator<Item = Result<Target, InputError>> + Send>;

/// Bounds on a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Probes in flight at once.
    pub concurrency: usize,
    /// Probes in flight to one address at once.
    pub per_address: usize,
    /// New probes per second, when limited.
    pub rate: Option<f64>,
    /// Stop everything after this long.
    pub deadline: Option<Duration>,
    /// Threads that run probes, each with its own single-threaded runtime (0: half the
    /// cores, at least one; 1: the caller's runtime, no thread started).
    pub threads: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            concurrency: DEFAULT_CONCURRENCY,
            per_address: DEFAULT_PER_ADDRESS,
            rate: None,
            deadline: None,
            threads: 0,
        }
    }
}

/// How a run turns targets into probes, and within which bounds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunOptions {
    /// Bounds on the run.
    pub limits: Limits,
    /// Ports and SNI names per target.
    pub expand: Expansion,
    /// How names are resolved.
    pub resolver: ResolverOptions,
}

/// What happened besides the reports.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RunOutcome {
    /// Input lines that could not be used (already reported on stderr).
    pub input_errors: usize,
    /// Probes started and stopped before they finished (by `--deadline`, a cancel, or a closed
    /// output): not reported. Probes never started are not counted.
    pub unfinished: usize,
    /// True when `--deadline` ended the run.
    pub deadline_hit: bool,
    /// True when the caller's `cancel` ended the run.
    pub cancelled: bool,
    /// True when the sink asked to stop (its output is gone).
    pub sink_stopped: bool,
}

/// How long tasks may take to wind down once a run is stopped before they are aborted: each
/// stops at its next await point, so this is a safety net, not a wait.
const WIND_DOWN: Duration = Duration::from_secs(2);

/// What a run hands its consumer, in the order it should be shown.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// A finished probe.
    Report(&'a Report),
    /// One latency-mode attempt of a probe still running (only when asked for, see [`run`]).
    Attempt(&'a Report, &'a Attempt),
    /// Probes finished (their reports may come later, in input order), for progress.
    Finished(u64),
    /// How many reports the run will give, as far as it knows: `complete` once every target
    /// has been read and resolved (then `probes` is the total, for a progress bar's ETA).
    Planned {
        /// Reports planned so far.
        probes: u64,
        /// No more will be planned.
        complete: bool,
    },
}

enum Msg {
    Report(Box<Report>),
    Attempt(Box<(Report, Attempt)>),
    Batch(u64, Vec<Report>),
    InputError(u64, InputError),
    /// A target will give this many reports (once resolved).
    Planned(u64),
    /// Every target has been read: this many.
    InputEnd(u64),
    /// Probes finished whose reports wait for their turn (ordered mode).
    Finished(u64),
}

/// Shared machinery for the probes of one run.
struct Shared {
    ctx: Arc<Context>,
    expand: Expansion,
    resolver_options: ResolverOptions,
    /// Built on first use: a run over IP addresses never reads the resolver configuration.
    resolver: std::sync::OnceLock<Resolver>,
    hook: Option<AttemptHook>,
    probes: Semaphore,
    per_address: usize,
    addresses: Mutex<HashMap<IpAddr, Weak<Semaphore>>>,
    pace: Option<Pace>,
    /// Set when the run stops: nothing new starts, probes in flight stop.
    stop: Cancel,
    counts: Arc<Counts>,
    /// Where target and probe tasks run.
    threads: threads::ProbeThreads,
}

/// Probes that started, for the deadline's message.
#[derive(Debug, Default)]
struct Counts {
    /// Started (past the concurrency, per-address and rate limits) and not yet finished.
    running: AtomicUsize,
    /// Started and stopped before they finished.
    cut: AtomicUsize,
}

/// A probe that started: counted as running until dropped, then as cut unless it finished
/// (or panicked: that one is reported).
struct Started<'a> {
    counts: &'a Counts,
    finished: bool,
}

impl<'a> Started<'a> {
    fn new(counts: &'a Counts) -> Self {
        counts.running.fetch_add(1, Ordering::Relaxed);
        Started {
            counts,
            finished: false,
        }
    }
}

impl Drop for Started<'_> {
    fn drop(&mut self) {
        if !self.finished && !std::thread::panicking() {
            self.counts.cut.fetch_add(1, Ordering::Relaxed);
        }
        self.counts.running.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Spaces new probes evenly to honour `--rate`.
struct Pace {
    gap: Duration,
    next: Mutex<Instant>,
}

impl Pace {
    async fn wait(&self) {
        let at = {
            let Ok(mut next) = self.next.lock() else {
                return;
            };
            let at = (*next).max(Instant::now());
            *next = at + self.gap;
            at
        };
        tokio::time::sleep_until(at.into()).await;
    }
}

impl Shared {
    fn address_limit(&self, ip: IpAddr) -> Arc<Semaphore> {
        let Ok(mut map) = self.addresses.lock() else {
            return Arc::new(Semaphore::new(self.per_address));
        };
        if let Some(sem) = map.get(&ip).and_then(Weak::upgrade) {
            return sem;
        }
        if map.len() > 4096 {
            map.retain(|_, w| w.strong_count() > 0);
        }
        let sem = Arc::new(Semaphore::new(self.per_address));
        map.insert(ip, Arc::downgrade(&sem));
        sem
    }

    /// Runs one probe within the run's limits; `None` when the run stopped first (before the
    /// probe started, or while it ran; a latency series still reports its attempts).
    async fn probe(&self, spec: ProbeSpec) -> Option<Report> {
        #[cfg(test)]
        if spec.sni.as_deref() == Some(PANIC_IN_PROBE) {
            panic!("test hook: a panic in a probe");
        }
        let address_limit = self.address_limit(spec.address);
        let start = async {
            // Semaphores here are never closed, so acquiring cannot fail.
            let global = self.probes.acquire().await.ok();
            let per_address = address_limit.acquire().await.ok();
            if let Some(pace) = &self.pace {
                pace.wait().await;
            }
            (global, per_address)
        };
        let _permits = self.stop.unless(start).await?;
        if self.stop.is_cancelled() {
            return None;
        }
        let mut started = Started::new(&self.counts);
        // Boxed, and only once started: a probe is a 16 KiB future, which a task waiting for
        // its permits would otherwise hold inline (twice: the cancellable wrapper too).
        let run = Box::pin(probe::run(&spec, &self.ctx, self.hook.as_ref(), &self.stop));
        let report = if self.ctx.options.latency.is_some() {
            Some(run.await)
        } else {
            self.stop.unless(run).await
        };
        started.finished = report.is_some();
        report
    }
}

/// Raises the open-file limit as far as allowed and returns how many probes can safely be in
/// flight: each may hold a few descriptors (socket, the handle kept for ICMP evidence, the
/// default-certificate connection). Unbounded where sockets have no such limit (Windows).
pub fn fd_budget() -> usize {
    let Some(limit) = crate::platform::descriptor_limit() else {
        return usize::MAX;
    };
    let usable = usize::try_from(limit)
        .unwrap_or(usize::MAX)
        .saturating_sub(64);
    (usable / 4).max(1)
}

/// Runs every probe and calls `sink` with each report. With `ordered`, reports come in input
/// order (target, then port, address, SNI); otherwise as soon as each finishes. With `live`,
/// latency-mode attempts come too, as they happen.
///
/// The run stops early when `cancel` is cancelled, when `--deadline` runs out, or when `sink`
/// returns `Break` (its output is gone): no new probe starts, probes in flight stop (latency
/// series report the attempts they made), and what finished is still handed to `sink` (unless
/// it asked to stop).
pub async fn run(
    ctx: Arc<Context>,
    targets: Targets,
    options: RunOptions,
    live: bool,
    ordered: bool,
    cancel: Cancel,
    mut sink: impl FnMut(Event<'_>) -> ControlFlow<()>,
) -> RunOutcome {
    let RunOptions {
        limits,
        expand,
        resolver,
    } = options;
    let (msg_tx, mut msg_rx) = mpsc::channel::<Msg>(256);
    let hook = live.then(|| attempt_hook(msg_tx.clone()));
    let counts = Arc::new(Counts::default());
    let (stop_all, stop) = cancel::pair();
    // The run loop holds no `Shared`: the message channel closes when the last task ends.
    let shared = Arc::new(Shared {
        resolver: std::sync::OnceLock::new(),
        resolver_options: resolver,
        expand,
        ctx,
        hook,
        probes: Semaphore::new(limits.concurrency.max(1)),
        per_address: limits.per_address.max(1),
        addresses: Mutex::new(HashMap::new()),
        pace: limits.rate.filter(|r| *r > 0.0).map(|r| Pace {
            gap: Duration::from_secs_f64(1.0 / r),
            next: Mutex::new(Instant::now()),
        }),
        stop: stop.clone(),
        counts: Arc::clone(&counts),
        threads: threads::ProbeThreads::start(match limits.threads {
            0 => threads::ProbeThreads::default_count(),
            n => n,
        }),
    });
    // Targets are pulled on a blocking thread (the input may be a slow stdin) into a small
    // bounded channel: reading never runs far ahead of probing.
    let (target_tx, target_rx) = mpsc::channel::<Result<Target, InputError>>(64);
    let reader = tokio::task::spawn_blocking(move || {
        for item in targets {
            if target_tx.blocking_send(item).is_err() {
                break;
            }
        }
    });
    let dispatcher = tokio::spawn(dispatch(
        shared,
        target_rx,
        msg_tx,
        limits.concurrency,
        ordered,
    ));

    let far = tokio::time::Instant::now() + Duration::from_secs(86400 * 365);
    let deadline = limits.deadline.map(|d| tokio::time::Instant::now() + d);
    let mut outcome = RunOutcome::default();
    let mut pending: BTreeMap<u64, Option<Vec<Report>>> = BTreeMap::new();
    let mut next_index = 0u64;
    // Set once the run is stopping: tasks wind down until then, and are aborted after it.
    let mut wound_down: Option<tokio::time::Instant> = None;
    let mut sink_open = true;
    // What the run will report: targets planned (or refused), their probes, and how many
    // targets there are once the input has ended.
    let (mut planned_targets, mut planned_probes, mut input_end) = (0u64, 0u64, None::<u64>);
    let mut give = |event: Event<'_>, sink_open: &mut bool| {
        if *sink_open && sink(event).is_break() {
            *sink_open = false;
        }
    };
    loop {
        let stopping = wound_down.is_some();
        let msg = tokio::select! {
            biased;
            () = cancel.cancelled(), if !stopping => {
                outcome.cancelled = true;
                None
            }
            () = tokio::time::sleep_until(deadline.unwrap_or(far)), if !stopping && deadline.is_some() => {
                outcome.deadline_hit = true;
                None
            }
            () = tokio::time::sleep_until(wound_down.unwrap_or(far)), if stopping => {
                // Something did not stop at its next await point: abort the rest.
                dispatcher.abort();
                break;
            }
            msg = msg_rx.recv() => match msg {
                Some(msg) => Some(msg),
                None => break,
            },
        };
        let plan_changed = matches!(
            msg,
            Some(Msg::Planned(_) | Msg::InputEnd(_) | Msg::InputError(..))
        );
        match msg {
            None => {}
            Some(Msg::Report(report)) => {
                give(Event::Finished(1), &mut sink_open);
                give(Event::Report(&report), &mut sink_open);
            }
            Some(Msg::Finished(n)) => give(Event::Finished(n), &mut sink_open),
            Some(Msg::Attempt(attempt)) => {
                give(Event::Attempt(&attempt.0, &attempt.1), &mut sink_open);
            }
            Some(Msg::InputError(index, e)) => {
                if !stopping {
                    eprintln!("reach: {e}");
                    outcome.input_errors += 1;
                }
                pending.insert(index, None);
                planned_targets += 1;
            }
            Some(Msg::Planned(probes)) => {
                planned_targets += 1;
                planned_probes += probes;
            }
            Some(Msg::InputEnd(targets)) => input_end = Some(targets),
            Some(Msg::Batch(index, reports)) => {
                pending.insert(index, Some(reports));
            }
        }
        if plan_changed && !stopping {
            let planned = Event::Planned {
                probes: planned_probes,
                complete: input_end.is_some_and(|targets| planned_targets >= targets),
            };
            give(planned, &mut sink_open);
        }
        while let Some(entry) = pending.remove(&next_index) {
            for report in entry.into_iter().flatten() {
                give(Event::Report(&report), &mut sink_open);
            }
            next_index += 1;
        }
        if !sink_open {
            outcome.sink_stopped = true;
        }
        let stop_now = outcome.cancelled || outcome.deadline_hit || outcome.sink_stopped;
        if stop_now && wound_down.is_none() {
            stop_all.cancel();
            wound_down = Some(tokio::time::Instant::now() + WIND_DOWN);
        }
    }
    outcome.unfinished =
        counts.cut.load(Ordering::Relaxed) + counts.running.load(Ordering::Relaxed);
    // Whatever is left (only after a stop) is still worth showing.
    for (_, reports) in pending {
        for report in reports.into_iter().flatten() {
            give(Event::Report(&report), &mut sink_open);
        }
    }
    drop(msg_rx);
    reader.abort();
    outcome
}

/// Sends each latency-mode attempt to the consumer, waiting for room in the channel.
fn attempt_hook(out: mpsc::Sender<Msg>) -> AttemptHook {
    Arc::new(move |report: &Report, attempt: &Attempt| {
        let out = out.clone();
        let msg = Msg::Attempt(Box::new((report.clone(), attempt.clone())));
        Box::pin(async move {
            // The consumer has gone only when the run is over.
            let _ = out.send(msg).await;
        })
    })
}

/// Takes targets off the input channel and runs one task per target, at most `window` at once.
async fn dispatch(
    shared: Arc<Shared>,
    mut targets: mpsc::Receiver<Result<Target, InputError>>,
    out: mpsc::Sender<Msg>,
    window: usize,
    ordered: bool,
) {
    let window = Arc::new(Semaphore::new(window.max(16)));
    let mut tasks = JoinSet::new();
    // What each running target task is about, to report it if the task panics.
    let mut running: HashMap<tokio::task::Id, (u64, Target)> = HashMap::new();
    let mut index = 0u64;
    let stop = shared.stop.clone();
    loop {
        let item = match stop.unless(targets.recv()).await {
            Some(Some(item)) => item,
            // The input ended: the consumer can now know the total.
            Some(None) => {
                let _ = out.send(Msg::InputEnd(index)).await;
                break;
            }
            None => break,
        };
        let this = index;
        index += 1;
        let target = match item {
            Ok(t) => t,
            Err(e) => {
                let _ = out.send(Msg::InputError(this, e)).await;
                continue;
            }
        };
        let Some(Ok(permit)) = stop.unless(Arc::clone(&window).acquire_owned()).await else {
            break;
        };
        while let Some(joined) = tasks.try_join_next_with_id() {
            target_ended(&shared, &mut running, joined, &out).await;
        }
        let task_shared = Arc::clone(&shared);
        let task_out = out.clone();
        let task_target = target.clone();
        let runtime = shared.threads.handle();
        let task = tasks.spawn_on(
            async move {
                run_target(task_shared, task_target, this, task_out, ordered).await;
                drop(permit);
            },
            &runtime,
        );
        running.insert(task.id(), (this, target));
    }
    while let Some(joined) = tasks.join_next_with_id().await {
        target_ended(&shared, &mut running, joined, &out).await;
    }
}

/// Forgets a finished target task; one that panicked still gets a report (on its first port),
/// so that a bug never makes a target vanish from the output.
async fn target_ended(
    shared: &Shared,
    running: &mut HashMap<tokio::task::Id, (u64, Target)>,
    joined: Result<(tokio::task::Id, ()), tokio::task::JoinError>,
    out: &mpsc::Sender<Msg>,
) {
    let (id, panicked) = match &joined {
        Ok((id, ())) => (*id, false),
        Err(e) => (e.id(), e.is_panic()),
    };
    let Some((index, target)) = running.remove(&id) else {
        return;
    };
    if !panicked {
        return;
    }
    // It may have panicked before planning: its one report counts as its plan.
    let _ = out.send(Msg::Planned(1)).await;
    let port = shared
        .expand
        .ports_for(&target)
        .first()
        .copied()
        .unwrap_or(0);
    let report = internal_failure(
        Report {
            target: target.input.clone(),
            host: target.host.to_string(),
            port,
            ..Report::default()
        },
        "the target task panicked",
    );
    // In unordered mode too, a batch keeps the consumer's index sequence whole.
    let _ = out.send(Msg::Finished(1)).await;
    let _ = out.send(Msg::Batch(index, vec![report])).await;
}

/// The report of a probe that failed inside reach: its identity, `stopped` at `internal`.
fn internal_failure(mut report: Report, detail: &str) -> Report {
    eprintln!(
        "reach: internal error: the probe of {}:{} failed ({detail}); its report says so. This is a bug, please report it.",
        report.host, report.port
    );
    verdict::fault(&mut report, InternalFault::Panic, detail.to_string());
    report
}

/// Test hooks: a probe or a target with these SNI names panics, to show that a panic becomes a
/// report. Compiled into tests only.
#[cfg(test)]
const PANIC_IN_PROBE: &str = "reach-test-panic-in-probe.invalid";
#[cfg(test)]
const PANIC_IN_TARGET: &str = "reach-test-panic-in-target.invalid";

/// Resolves one target, runs its probes concurrently and sends their reports.
async fn run_target(
    shared: Arc<Shared>,
    target: Target,
    index: u64,
    out: mpsc::Sender<Msg>,
    ordered: bool,
) {
    #[cfg(test)]
    if target.sni.as_deref() == Some(PANIC_IN_TARGET) {
        panic!("test hook: a panic in a target task");
    }
    let target = Arc::new(target);
    // `--expect-same-cert` compares the addresses of this target: its reports wait for
    // each other and are judged together (`verdict::same_cert`).
    let together = ordered || shared.ctx.options.expect.same_cert;
    let ports = shared.expand.ports_for(&target);
    let family = shared.resolver_options.family;
    let (addresses, dns) = match &target.host {
        Host::Ip(ip) if family.admits(ip) => (vec![*ip], None),
        Host::Ip(ip) => {
            let dns = DnsReport {
                name: ip.to_string(),
                outcome: DnsOutcome::NoRecords,
                addresses: vec![],
                resolve_ms: 0.0,
                detail: Some("the address is not of the family asked for (-4/-6)".into()),
            };
            (vec![], Some(dns))
        }
        Host::Name(name) => {
            let resolver = shared
                .resolver
                .get_or_init(|| Resolver::new(shared.resolver_options));
            // Boxed: a lookup is a 10 KiB future that a target task would otherwise carry
            // inline for its whole life (one per target in flight).
            let lookup = Box::pin(resolver.resolve(name));
            let Some(dns) = shared.stop.unless(lookup).await else {
                // Stopped before any probe of this target started.
                let _ = out.send(Msg::Planned(0)).await;
                let _ = out.send(Msg::Batch(index, Vec::new())).await;
                return;
            };
            (dns.addresses.clone(), Some(dns))
        }
    };
    let snis = shared.expand.snis_for(&target);
    let transports = shared.expand.transports_for(&target);
    let planned = if addresses.is_empty() {
        ports.len()
    } else {
        ports.len() * addresses.len() * snis.len() * transports.len()
    };
    let _ = out
        .send(Msg::Planned(u64::try_from(planned).unwrap_or(u64::MAX)))
        .await;
    let mut reports: Vec<(usize, Box<Report>)> = Vec::new();
    if addresses.is_empty() {
        let dns = dns.unwrap_or_else(|| DnsReport {
            name: target.host.to_string(),
            outcome: DnsOutcome::Error,
            addresses: vec![],
            resolve_ms: 0.0,
            detail: None,
        });
        for port in &ports {
            reports.push((
                reports.len(),
                Box::new(probe::dns_failure(
                    &target,
                    *port,
                    dns.clone(),
                    &shared.ctx.options.expect,
                )),
            ));
        }
        if ordered {
            let failed = u64::try_from(reports.len()).unwrap_or(u64::MAX);
            let _ = out.send(Msg::Finished(failed)).await;
        }
    } else {
        let mut set = JoinSet::new();
        // What each probe task is aimed at, to report it if the task panics.
        let mut running: HashMap<tokio::task::Id, (usize, ProbeSpec)> = HashMap::new();
        let mut order = 0usize;
        for port in &ports {
            for address in &addresses {
                for (sni, transport) in snis
                    .iter()
                    .flat_map(|s| transports.iter().map(move |t| (s, *t)))
                {
                    // Another name of this target, should the probe's own be turned away.
                    let other_sni = snis.iter().flatten().find(|o| Some(*o) != sni.as_ref());
                    let spec = ProbeSpec {
                        target: Arc::clone(&target),
                        address: *address,
                        port: *port,
                        dns: dns.clone(),
                        sni: sni.clone(),
                        other_sni: other_sni.cloned(),
                        sweep: ports.len() > 1,
                        transport,
                    };
                    let shared = Arc::clone(&shared);
                    let position = order;
                    order += 1;
                    let task_spec = spec.clone();
                    let runtime = shared.threads.probe_handle(planned);
                    // Boxed: a report is 3 KiB, and this task's future would hold several.
                    let probe = async move { shared.probe(task_spec).await.map(Box::new) };
                    let task = set.spawn_on(probe, &runtime);
                    running.insert(task.id(), (position, spec));
                }
            }
        }
        while let Some(joined) = set.join_next_with_id().await {
            let (id, result) = match joined {
                Ok((id, report)) => (id, Ok(report)),
                Err(e) => (e.id(), Err(e.is_panic())),
            };
            let Some((position, spec)) = running.remove(&id) else {
                continue;
            };
            let report = match result {
                Ok(Some(report)) => report,
                // Stopped before it finished (counted in `RunOutcome::unfinished`).
                Ok(None) | Err(false) => continue,
                // A probe that panicked still gets a report that says so: never a silent loss.
                Err(true) => Box::new(internal_failure(
                    spec.base_report(),
                    "the probe task panicked",
                )),
            };
            if together {
                reports.push((position, report));
                let _ = out.send(Msg::Finished(1)).await;
            } else if out.send(Msg::Report(report)).await.is_err() {
                return;
            }
        }
    }
    reports.sort_by_key(|(position, _)| *position);
    if shared.ctx.options.expect.same_cert {
        let mut judged: Vec<Report> = reports.drain(..).map(|(_, r)| *r).collect();
        verdict::same_cert(&mut judged);
        reports = judged.into_iter().map(Box::new).enumerate().collect();
    }
    if ordered {
        let _ = out
            .send(Msg::Batch(
                index,
                reports.into_iter().map(|(_, r)| *r).collect(),
            ))
            .await;
    } else {
        for (_, report) in reports {
            let _ = out.send(Msg::Report(report)).await;
        }
        // Keeps the index sequence whole for the consumer even in unordered mode.
        let _ = out.send(Msg::Batch(index, Vec::new())).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::ProbeOptions;
    use crate::probe::resolve::Family;
    use crate::probe::tls::{TlsContext, TlsOptions};
    use crate::report::Layer;

    /// Runs `targets` through `run` with the probe's and the run's own options (IPv4 only) and
    /// collects the reports.
    async fn reports_of(args: &[String], ordered: bool) -> Vec<Report> {
        let exprs = args
            .iter()
            .map(|a| crate::input::parse_expr(a, 16).unwrap())
            .collect::<Vec<_>>();
        let targets: Targets = Box::new(crate::input::targets(exprs.into_iter()).map(Ok));
        let mut options = RunOptions::default();
        options.resolver.family = Family::V4;
        let ctx = Arc::new(Context {
            options: ProbeOptions::default(),
            tls: Arc::new(TlsContext::load(&TlsOptions::default()).unwrap()),
            open_ports: Default::default(),
            rtts: Default::default(),
        });
        let mut reports = Vec::new();
        run(
            ctx,
            targets,
            options,
            false,
            ordered,
            Cancel::never(),
            |event| {
                if let Event::Report(report) = event {
                    reports.push(report.clone());
                }
                ControlFlow::Continue(())
            },
        )
        .await;
        reports
    }

    #[tokio::test]
    async fn the_plan_is_complete_once_every_target_is_resolved_and_counts_every_report() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // Two targets × two ports, IPv4 only, with the probe's and the run's own options.
        let mut options = RunOptions::default();
        options.resolver.family = Family::V4;
        options.expand.ports = vec![closed, closed.wrapping_add(1).max(1)];
        let exprs: Vec<_> = ["127.0.0.1", "localhost"]
            .iter()
            .map(|a| crate::input::parse_expr(a, 16).unwrap())
            .collect();
        let ctx = Arc::new(Context {
            options: ProbeOptions::default(),
            tls: Arc::new(TlsContext::load(&TlsOptions::default()).unwrap()),
            open_ports: Default::default(),
            rtts: Default::default(),
        });
        for ordered in [true, false] {
            let (mut reports, mut finished, mut plans) = (0u64, 0u64, Vec::new());
            let sink = |event: Event<'_>| {
                match event {
                    Event::Report(_) => reports += 1,
                    Event::Finished(n) => finished += n,
                    Event::Planned { probes, complete } => plans.push((probes, complete)),
                    Event::Attempt(..) => {}
                }
                ControlFlow::Continue(())
            };
            let targets: Targets =
                Box::new(crate::input::targets(exprs.clone().into_iter()).map(Ok));
            let (ctx, options) = (Arc::clone(&ctx), options.clone());
            run(ctx, targets, options, false, ordered, Cancel::never(), sink).await;
            assert_eq!((reports, finished), (4, 4), "ordered {ordered}");
            // Two targets × two ports; once known, the total stays.
            assert_eq!(plans.last(), Some(&(4, true)), "{plans:?}");
            let first = plans.iter().position(|(_, complete)| *complete).unwrap();
            assert!(plans[first..].iter().all(|p| *p == (4, true)), "{plans:?}");
            assert!(plans.windows(2).all(|w| w[0].0 <= w[1].0), "{plans:?}");
        }
    }

    #[tokio::test]
    async fn a_panicking_probe_or_target_task_becomes_an_internal_report() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let args = vec![
            format!("127.0.0.1:{closed}"),
            format!("127.0.0.1:{closed},{PANIC_IN_PROBE}"),
            format!("127.0.0.1:{closed},{PANIC_IN_TARGET}"),
        ];
        for ordered in [true, false] {
            let reports = reports_of(&args, ordered).await;
            assert_eq!(reports.len(), 3, "ordered {ordered}: {reports:?}");
            let of = |name: &str| {
                reports
                    .iter()
                    .find(|r| r.target.ends_with(name))
                    .unwrap_or_else(|| panic!("no report for {name}: {reports:?}"))
            };
            let closed_report = of(&format!("127.0.0.1:{closed}"));
            assert_eq!(closed_report.stopped.as_ref().unwrap().layer, Layer::Tcp);
            for name in [PANIC_IN_PROBE, PANIC_IN_TARGET] {
                let r = of(name);
                let stopped = r.stopped.as_ref().unwrap();
                assert_eq!(
                    (stopped.layer, stopped.reason.word().as_str()),
                    (Layer::Internal, "panic")
                );
                assert_eq!(r.host, "127.0.0.1");
                assert_eq!(r.port, closed);
                assert_eq!(r.exit.code(), 70);
                let json = serde_json::to_value(r).unwrap();
                assert_eq!(json["stopped"]["layer"], "internal");
            }
            // The probe-level report knows the address it was aimed at.
            assert_eq!(of(PANIC_IN_PROBE).address, Some([127, 0, 0, 1].into()));
        }
    }
}
