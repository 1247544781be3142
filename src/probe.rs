//! One probe: walks the layers for one address, times them, and returns a Report, never an Err.

pub mod errqueue;
pub mod greeting;
pub mod preamble;
pub mod resolve;
pub mod starttls;
pub mod tcp;
pub mod tls;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{Count, Latency, Settings};
use crate::report::{
    Attempt, DnsReport, LatencyStats, Layer, Report, Stopped, TcpReport, TcpState,
};
use crate::target::Target;

/// Called with each latency-mode attempt as it completes (for live output).
pub type AttemptHook = Arc<dyn Fn(&Report, &Attempt) + Send + Sync>;

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

/// Runs one probe (or a latency series) and returns its report.
pub async fn run(spec: &ProbeSpec, settings: &Settings, hook: Option<&AttemptHook>) -> Report {
    match settings.latency {
        Some(latency) => run_series(spec, settings, latency, hook).await,
        None => run_once(spec, settings).await,
    }
}

fn connect_options(settings: &Settings) -> tcp::ConnectOptions {
    tcp::ConnectOptions {
        timeout: settings.connect_timeout,
        ttl: None,
    }
}

async fn run_once(spec: &ProbeSpec, settings: &Settings) -> Report {
    let mut report = spec.base_report();
    let addr = SocketAddr::new(spec.address, spec.port);
    let connected = tcp::connect(addr, connect_options(settings)).await;
    record_tcp(&mut report, connected.report);
    report
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

/// Latency mode: repeated connects, PsPing style.
async fn run_series(
    spec: &ProbeSpec,
    settings: &Settings,
    latency: Latency,
    hook: Option<&AttemptHook>,
) -> Report {
    let mut report = spec.base_report();
    let addr = SocketAddr::new(spec.address, spec.port);
    let options = connect_options(settings);
    for _ in 0..latency.warmup {
        drop(tcp::connect(addr, options).await);
        tokio::time::sleep(latency.interval).await;
    }
    let started = Instant::now();
    let mut attempts: Vec<Attempt> = Vec::new();
    let mut last_ok: Option<TcpReport> = None;
    let mut last: Option<TcpReport> = None;
    for seq in 1u32.. {
        let connected = tcp::connect(addr, options).await;
        let tcp = connected.report;
        let attempt = Attempt {
            seq,
            state: tcp.state,
            reason: tcp.reason,
            connect_ms: tcp.connect_ms,
            tls_handshake_ms: None,
            tls_error: None,
        };
        if let Some(hook) = hook {
            hook(&report, &attempt);
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
        if done {
            break;
        }
        tokio::time::sleep(latency.interval).await;
    }
    // The verdict line shows a successful attempt when there was one: partial loss is in the
    // statistics, and "it never connected" keeps the last failure's reason.
    if let Some(tcp) = last_ok.or(last) {
        record_tcp(&mut report, tcp);
    }
    report.stats = Some(series_stats(latency.warmup, attempts));
    report
}

fn series_stats(warmup: u32, attempts: Vec<Attempt>) -> LatencyStats {
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

/// Milliseconds in a duration, for reports.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
