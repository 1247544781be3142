//! Latency mode: repeated attempts (connect, then the TLS handshake when TLS is on), PsPing
//! style, with statistics over the series.

use std::net::SocketAddr;
use std::time::Instant;

use super::{AttemptHook, Context, Plan, ProbeSpec, record_tcp, tcp};
use crate::cancel::Cancel;
use crate::config::{Count, Latency};
use crate::report::{Attempt, LatencyStats, Report, TcpReport, TcpState};

/// One attempt: connect, and when the plan reaches TLS, upgrade and handshake.
async fn attempt(spec: &ProbeSpec, ctx: &Context, plan: Plan, seq: u32) -> (TcpReport, Attempt) {
    let settings = &ctx.settings;
    let addr = SocketAddr::new(spec.address, spec.port);
    let connected = tcp::connect(addr, super::connect_options(settings)).await;
    let tcp = connected.report;
    let mut attempt = Attempt {
        seq,
        state: tcp.state,
        reason: tcp.reason,
        connect_ms: tcp.connect_ms,
        tls_handshake_ms: None,
        tls_error: None,
    };
    let Some(stream) = connected.stream else {
        return (tcp, attempt);
    };
    let stream = match plan {
        Plan::Plain => return (tcp, attempt),
        Plan::Implicit => Some(stream),
        Plan::Starttls(_) => {
            let opts = super::preamble_options(spec, settings, plan);
            let done = super::preamble::run(stream, &opts).await;
            done.stream.filter(|_| done.tls_ready)
        }
    };
    match stream {
        None => attempt.tls_error = Some("starttls failed".into()),
        Some(stream) => {
            match super::tls::handshake_only(stream, &super::tls_request(spec), &ctx.tls).await {
                Ok(ms) => attempt.tls_handshake_ms = Some(ms),
                Err(failure) => attempt.tls_error = Some(failure.kind),
            }
        }
    }
    (tcp, attempt)
}

/// Latency mode: repeated attempts, PsPing style. When `stop` is cancelled (Ctrl-C, a closed
/// stdout, `--deadline`), the attempt under way is dropped and the report holds the statistics
/// of the attempts made so far.
pub async fn run(
    spec: &ProbeSpec,
    ctx: &Context,
    latency: Latency,
    hook: Option<&AttemptHook>,
    stop: &Cancel,
) -> Report {
    let mut report = spec.base_report();
    let plan = super::plan(spec, &ctx.settings);
    for _ in 0..latency.warmup {
        if stop.unless(attempt(spec, ctx, plan, 0)).await.is_none()
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
    let mut last_ok: Option<TcpReport> = None;
    let mut last: Option<TcpReport> = None;
    for seq in 1u32.. {
        if stop.is_cancelled() {
            break;
        }
        let Some((tcp, attempt)) = stop.unless(attempt(spec, ctx, plan, seq)).await else {
            break;
        };
        if let Some(hook) = hook {
            hook(&report, &attempt).await;
        }
        attempts.push(attempt);
        if tcp.state == TcpState::Open {
            last_ok = Some(tcp.clone());
        }
        last = Some(tcp);
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
    // The verdict line shows a successful attempt when there was one: partial loss is in the
    // statistics, and "it never connected" keeps the last failure's reason.
    if let Some(tcp) = last_ok.or(last) {
        record_tcp(&mut report, tcp);
    }
    report.stats = Some(stats(latency.warmup, attempts));
    report
}

fn stats(warmup: u32, attempts: Vec<Attempt>) -> LatencyStats {
    let ok: Vec<f64> = attempts
        .iter()
        .filter(|a| a.state == TcpState::Open)
        .map(|a| a.connect_ms)
        .collect();
    let tls: Vec<f64> = attempts.iter().filter_map(|a| a.tls_handshake_ms).collect();
    let sent = u32::try_from(attempts.len()).unwrap_or(u32::MAX);
    let received = u32::try_from(ok.len()).unwrap_or(u32::MAX);
    let summary = crate::stats::summarize(&ok);
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
        warmup,
        attempts,
    }
}
