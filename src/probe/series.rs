//! Latency mode (PsPing style): repeated attempts that each walk the same layers as a single
//! probe (TCP, STARTTLS, TLS, certificate), statistics per layer, and a series verdict that
//! is the worst attempt's.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::plan::{Plan, Profile};
use super::{AttemptHook, Context, ProbeSpec, tcp};
use crate::cancel::Cancel;
use crate::report::{
    Attempt, AttemptReason, AttemptState, LatencyStats, Layer, LayerTally, ReasonCount, Report,
    Stopped, TcpReason, TcpState, TimingSummary,
};
use crate::verdict::{self, Expectations};

/// How long latency mode runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// This many counted attempts.
    Attempts(u32),
    /// Attempts until this much time has passed.
    For(Duration),
}

/// Latency-mode settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latency {
    /// How many attempts.
    pub count: Count,
    /// Uncounted attempts first.
    pub warmup: u32,
    /// Pause between attempts.
    pub interval: Duration,
    /// Print a histogram.
    pub histogram: bool,
}

/// Latency mode: repeated attempts; the report carries the worst attempt's layers (so its
/// verdict is the worst attempt's) and the statistics of all of them. When `stop` is
/// cancelled (Ctrl-C, a closed stdout, `--deadline`), the attempt under way is dropped and
/// the report holds what the attempts made so far measured.
pub async fn run(
    spec: &ProbeSpec,
    ctx: &Context,
    profile: Profile,
    latency: Latency,
    hook: Option<&AttemptHook>,
    stop: &Cancel,
) -> Report {
    let attempt = || attempt(spec, ctx, profile);
    let (worst, attempts, walked) = repeat(spec, latency, hook, stop, attempt).await;
    let mut report = worst.unwrap_or_else(|| spec.base_report());
    // The virtual-host verdict costs a second handshake (the default certificate): made once
    // for the series, on the attempt that stands for it.
    if let Some(tls) = report.tls.as_mut().filter(|t| t.error.is_none()) {
        let request = super::TlsRequest {
            endpoint: Some(super::endpoint(spec, Some(profile.plan))),
            ..super::tls_request(spec, &ctx.options)
        };
        if request.want_vhost {
            let open_fresh = || super::open_for_tls(spec, ctx, profile);
            Box::pin(super::tls::decide_vhost(
                tls,
                &open_fresh,
                &request,
                &ctx.tls,
            ))
            .await;
        }
    }
    report.stats = Some(stats(latency.warmup, attempts, &walked, walk(profile.plan)));
    report
}

/// Latency mode over UDP (`-u -n`): each attempt one exchange, timed to its answer, PsPing's
/// UDP mode with a real application request.
pub(super) async fn run_udp(
    spec: &ProbeSpec,
    ctx: &Context,
    latency: Latency,
    hook: Option<&AttemptHook>,
    stop: &Cancel,
) -> Report {
    let attempt = || async {
        let mut report = super::udp_once(spec, &ctx.options).await;
        verdict::settle(&mut report, &Expectations::default());
        report
    };
    let (worst, attempts, walked) = repeat(spec, latency, hook, stop, attempt).await;
    let mut report = worst.unwrap_or_else(|| spec.base_report());
    report.stats = Some(stats(latency.warmup, attempts, &walked, &[Layer::Udp]));
    report
}

/// Latency mode over QUIC (`--quic -n`): each attempt one QUIC handshake, timed like
/// PsPing times a connect (over QUIC the transport and TLS handshakes are one). The
/// virtual-host verdict is decided once, on the attempt that stands for the series.
pub(super) async fn run_quic(
    spec: &ProbeSpec,
    ctx: &Context,
    latency: Latency,
    hook: Option<&AttemptHook>,
    stop: &Cancel,
) -> Report {
    let request = super::tls_request(spec, &ctx.options);
    let addr = SocketAddr::new(spec.address, spec.port);
    let attempt = || async {
        let mut report = spec.base_report();
        let once = super::TlsRequest {
            want_vhost: false,
            ..request.clone()
        };
        let (quic, tls) = super::quic::probe(addr, &once, &ctx.tls, &ctx.options.quic).await;
        report.quic = quic;
        report.tls = tls;
        verdict::settle(&mut report, &Expectations::default());
        report
    };
    let (worst, attempts, walked) = repeat(spec, latency, hook, stop, attempt).await;
    let mut report = worst.unwrap_or_else(|| spec.base_report());
    if let Some(tls) = report.tls.as_mut().filter(|t| t.error.is_none())
        && request.want_vhost
    {
        let quic = &ctx.options.quic;
        Box::pin(super::quic::decide_vhost(
            tls, addr, &request, &ctx.tls, quic,
        ))
        .await;
    }
    let walk = [Layer::Quic, Layer::Tls, Layer::Certificate, Layer::Vhost];
    report.stats = Some(stats(latency.warmup, attempts, &walked, &walk));
    report
}

/// What a series of attempts leaves: the worst attempt's report, every counted attempt, and
/// how far each got.
type Repeated = (Option<Report>, Vec<Attempt>, Vec<Walked>);

/// Runs the warm-up and the counted attempts, calling `hook` with each, until the count or
/// the time is up or `stop` is cancelled.
async fn repeat<F, Fut>(
    spec: &ProbeSpec,
    latency: Latency,
    hook: Option<&AttemptHook>,
    stop: &Cancel,
    attempt: F,
) -> Repeated
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Report>,
{
    let base = spec.base_report();
    for _ in 0..latency.warmup {
        if stop.unless(attempt()).await.is_none()
            || stop
                .unless(tokio::time::sleep(latency.interval))
                .await
                .is_none()
        {
            break;
        }
    }
    let started = Instant::now();
    let mut attempts: Vec<Attempt> = Vec::new();
    let mut walked: Vec<Walked> = Vec::new();
    let mut worst: Option<Report> = None;
    for seq in 1u32.. {
        if stop.is_cancelled() {
            break;
        }
        let Some(report) = stop.unless(attempt()).await else {
            break;
        };
        let one = attempt_of(seq, &report);
        if let Some(hook) = hook {
            hook(&base, &one).await;
        }
        attempts.push(one);
        // Ties go to the latest attempt: the freshest evidence of the same verdict.
        let replace = worst
            .as_ref()
            .is_none_or(|w| report.exit.severity() >= w.exit.severity());
        walked.push((report.reached, report.stopped));
        if replace {
            worst = Some(report);
        }
        let done = match latency.count {
            Count::Attempts(n) => seq >= n,
            Count::For(d) => started.elapsed() + latency.interval >= d,
        };
        if done
            || stop
                .unless(tokio::time::sleep(latency.interval))
                .await
                .is_none()
        {
            break;
        }
    }
    (worst, attempts, walked)
}

/// The line of one attempt: its transport verdict and timings.
fn attempt_of(seq: u32, report: &Report) -> Attempt {
    if let Some(udp) = &report.udp {
        return Attempt {
            seq,
            state: AttemptState::Udp(udp.state),
            reason: AttemptReason::Udp(udp.reason),
            connect_ms: udp.rtt_ms.unwrap_or(udp.elapsed_ms),
            tls_handshake_ms: None,
            tls_error: None,
            stopped: report.stopped,
        };
    }
    let tls = report.tls.as_ref();
    if let Some(quic) = &report.quic {
        return Attempt {
            seq,
            state: AttemptState::Quic(quic.state),
            reason: AttemptReason::Quic(quic.reason),
            connect_ms: quic.handshake_ms,
            tls_handshake_ms: tls
                .filter(|t| t.error.is_none())
                .and_then(|t| t.handshake_ms),
            tls_error: tls.and_then(|t| t.error.as_ref()).map(|e| e.kind),
            stopped: report.stopped,
        };
    }
    let tcp = report.tcp.as_ref();
    Attempt {
        seq,
        state: AttemptState::Tcp(tcp.map_or(TcpState::Error, |t| t.state)),
        reason: AttemptReason::Tcp(tcp.map_or(TcpReason::LocalError, |t| t.reason)),
        connect_ms: tcp.map_or(0.0, |t| t.connect_ms),
        tls_handshake_ms: tls
            .filter(|t| t.error.is_none())
            .and_then(|t| t.handshake_ms),
        tls_error: tls.and_then(|t| t.error.as_ref()).map(|e| e.kind),
        stopped: report.stopped,
    }
}

/// One attempt: connect, and when the plan reaches TLS, upgrade and handshake with the
/// certificate checks. Its verdict is settled so the series can count and compare it.
async fn attempt(spec: &ProbeSpec, ctx: &Context, profile: Profile) -> Report {
    let options = &ctx.options;
    let mut report = spec.base_report();
    let addr = SocketAddr::new(spec.address, spec.port);
    let connected = tcp::connect(addr, super::connect_options(options)).await;
    let open = connected.report.state == TcpState::Open;
    report.tcp = Some(connected.report);
    if open && connected.stream.is_none() {
        super::reset_after_accept(&mut report, spec, profile);
    }
    let stream = match (connected.stream, profile.plan) {
        (Some(stream), Plan::Implicit) => Some(stream),
        (Some(stream), Plan::Starttls(_)) => {
            let opts = super::preamble_options(spec, options, profile);
            let done = super::preamble::run(stream, &opts).await;
            report.greeting = done.greeting;
            report.starttls = done.starttls;
            done.stream.filter(|_| done.tls_ready)
        }
        _ => None,
    };
    if let Some(stream) = stream {
        let request = super::TlsRequest {
            want_vhost: false,
            ..super::tls_request(spec, &ctx.options)
        };
        let open_fresh = || super::open_for_tls(spec, ctx, profile);
        let (tls, session) = super::tls::probe(stream, open_fresh, &request, &ctx.tls).await;
        drop(session);
        report.tls = Some(tls);
    }
    verdict::settle(&mut report, &Expectations::default());
    report
}

/// What the tally keeps of an attempt: the deepest layer it passed and where it stopped.
type Walked = (Option<Layer>, Option<Stopped>);

fn stats(warmup: u32, attempts: Vec<Attempt>, walked: &[Walked], walk: &[Layer]) -> LatencyStats {
    let ok: Vec<f64> = attempts
        .iter()
        .filter(|a| a.state.is_open())
        .map(|a| a.connect_ms)
        .collect();
    let tls: Vec<f64> = attempts.iter().filter_map(|a| a.tls_handshake_ms).collect();
    let sent = u32::try_from(attempts.len()).unwrap_or(u32::MAX);
    let received = u32::try_from(ok.len()).unwrap_or(u32::MAX);
    let summary: Option<TimingSummary> = crate::stats::summarize(&ok);
    LatencyStats {
        sent,
        received,
        lost: sent - received,
        loss_pct: if sent == 0 {
            0.0
        } else {
            f64::from(sent - received) * 100.0 / f64::from(sent)
        },
        min_ms: summary.as_ref().map(|s| s.min_ms),
        avg_ms: summary.as_ref().map(|s| s.avg_ms),
        max_ms: summary.as_ref().map(|s| s.max_ms),
        stddev_ms: summary.as_ref().map(|s| s.stddev_ms),
        p50_ms: summary.as_ref().map(|s| s.p50_ms),
        p95_ms: summary.as_ref().map(|s| s.p95_ms),
        p99_ms: summary.as_ref().map(|s| s.p99_ms),
        tls_handshake: crate::stats::summarize(&tls),
        layers: tally(walked, walk),
        warmup,
        attempts,
    }
}

/// The layers a TCP attempt walks under `plan`. The greeting is not a pass-or-fail layer
/// here: latency attempts do not wait for one.
fn walk(plan: Plan) -> &'static [Layer] {
    match plan {
        Plan::Plain => &[Layer::Tcp],
        Plan::Implicit => &[Layer::Tcp, Layer::Tls, Layer::Certificate, Layer::Vhost],
        Plan::Starttls(_) => &[
            Layer::Tcp,
            Layer::Starttls,
            Layer::Tls,
            Layer::Certificate,
            Layer::Vhost,
        ],
    }
}

/// Per layer walked: attempts that passed it, attempts that stopped at it and why. A layer an
/// attempt never got to is not counted for it.
fn tally(walked: &[Walked], walk: &[Layer]) -> Vec<LayerTally> {
    let mut tallies = Vec::new();
    for &layer in walk {
        let mut tally = LayerTally {
            layer,
            tried: 0,
            ok: 0,
            failed: 0,
            reasons: Vec::new(),
        };
        for (reached, stopped) in walked {
            if reached.is_some_and(|r| r >= layer) {
                tally.ok += 1;
            } else if let Some(stopped) = stopped.filter(|s| s.layer == layer) {
                tally.failed += 1;
                match tally
                    .reasons
                    .iter_mut()
                    .find(|c| c.reason == stopped.reason)
                {
                    Some(count) => count.count += 1,
                    None => tally.reasons.push(ReasonCount {
                        reason: stopped.reason,
                        count: 1,
                    }),
                }
            }
        }
        tally.tried = tally.ok + tally.failed;
        tally.reasons.sort_by_key(|c| std::cmp::Reverse(c.count));
        if tally.tried > 0 {
            tallies.push(tally);
        }
    }
    tallies
}
