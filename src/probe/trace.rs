//! TCP path trace without privileges: SYNs to the probed port with TTL / hop limit 1, 2, 3…,
//! each on an ordinary socket whose ICMP "time exceeded" (and its sender) the kernel queues on
//! the error queue (Linux ≥ 5.8, see `platform`). Other systems say the trace is not supported.
//!
//! Hops are probed concurrently, so a trace to a dropped port costs about two deadlines, not one
//! per hop, and silent hops are probed again after routers' ICMP rate limiters have refilled, so
//! rate limiting is not mistaken for a drop (schedule: `walk`).

mod diagnose;
mod rdns;
mod reference;
mod walk;

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::report::trace::{DiagnosisWord, HopReply, TraceDiagnosis, TraceEnd, TraceHop};
use crate::report::{IcmpInfo, TcpReason, TcpReport, TcpState, TraceReport};

pub use diagnose::diagnose;
pub use reference::OpenPorts;

/// How a trace probes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TraceOptions {
    /// Deadline of each probe: past it the probe counts as unanswered. Capped just under the
    /// kernel's first SYN retransmission (950 ms), so each probe is exactly one SYN.
    pub timeout: Duration,
    /// Highest TTL / hop limit tried.
    pub max_hops: u8,
    /// Probes sent per TTL (each its own SYN from its own port).
    pub probes_per_hop: u8,
    /// This many silent hops in a row after the last answer end the trace.
    pub max_silent_hops: u8,
    /// TTLs in flight at once.
    pub parallel_hops: u8,
    /// Pause between launching one TTL and the next.
    pub hop_spacing: Duration,
    /// Silent hops are probed again this long after the previous probes (longer than the
    /// routers' ICMP rate-limit period, so a rate-limited router has an answer to spare).
    pub retry_after: Duration,
    /// At most this many retry waves; a wave follows only while the previous one turned a
    /// silent hop into an answer.
    pub retry_waves: u8,
    /// Another port of the same host known to be answered by the host itself (open or
    /// closed): when the traced port is answered by a RST, its hop distance tells the server's
    /// RST from a middlebox's. Overrides the automatic choice (see `reference`).
    pub reference_port: Option<u16>,
    /// Look up reverse DNS names of the hops (best effort, bounded by `dns_timeout`).
    pub reverse_dns: bool,
    /// Deadline for all reverse lookups together.
    pub dns_timeout: Duration,
}

impl Default for TraceOptions {
    fn default() -> Self {
        TraceOptions {
            timeout: Duration::from_secs(1),
            max_hops: 30,
            probes_per_hop: 3,
            max_silent_hops: 5,
            parallel_hops: 8,
            hop_spacing: Duration::from_millis(25),
            retry_after: Duration::from_millis(1100),
            retry_waves: 3,
            reference_port: None,
            reverse_dns: true,
            dns_timeout: Duration::from_secs(1),
        }
    }
}

/// When a probe traces the path to its port.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TraceWhen {
    /// Never.
    #[default]
    Never,
    /// When the probe ends filtered, rejected or unreachable (`--explain`).
    OnFailure,
    /// Always (`--trace`).
    Always,
}

/// What one probe got back, reduced to what the trace needs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ProbeAnswer {
    pub kind: HopReply,
    /// Who answered (`None` when nobody did or the kernel did not say).
    pub from: Option<IpAddr>,
    /// Round-trip time when something answered.
    pub rtt_ms: Option<f64>,
    pub icmp: Option<IcmpInfo>,
    pub errno: Option<i32>,
}

impl ProbeAnswer {
    /// Reduces a classified connect to a trace answer.
    pub(crate) fn from_tcp(report: &TcpReport, destination: IpAddr) -> ProbeAnswer {
        let kind = match (report.state, report.reason) {
            (TcpState::Open, _) => HopReply::SynAck,
            (TcpState::Closed, _) => HopReply::Rst,
            (TcpState::Filtered, _) => HopReply::Silent,
            (_, TcpReason::IcmpTimeExceeded) => HopReply::TimeExceeded,
            (TcpState::Error, _) => HopReply::LocalError,
            (_, _) if report.icmp.is_some() => HopReply::IcmpError,
            // EHOSTUNREACH / ENETUNREACH with nothing queued: an ICMP error whose sender the
            // kernel did not report (Linux < 5.8), or no local route.
            (_, _) => HopReply::Unattributed,
        };
        let from = match kind {
            HopReply::SynAck | HopReply::Rst => Some(destination),
            HopReply::Silent | HopReply::Unattributed => None,
            _ => report.icmp_from,
        };
        ProbeAnswer {
            kind,
            from,
            rtt_ms: (kind != HopReply::Silent).then_some(report.connect_ms),
            icmp: report.icmp.clone(),
            errno: report.errno,
        }
    }

    pub(crate) fn answered(&self) -> bool {
        self.kind != HopReply::Silent
    }
}

/// Whether an answer of this kind ends the path (nothing further can be learned beyond it).
pub(crate) fn ends_path(kind: HopReply) -> bool {
    !matches!(kind, HopReply::TimeExceeded | HopReply::Silent)
}

/// Whether a TCP verdict is one a trace can explain (`--explain`): nothing came back, or the
/// network refused. Open and closed ports, and local errors, are not.
pub fn worth_tracing(tcp: &TcpReport) -> bool {
    matches!(
        tcp.state,
        TcpState::Filtered | TcpState::Rejected | TcpState::Unreachable
    )
}

/// Traces the path to `addr` with TCP SYNs to its port. Never fails: an unsupported kernel or a
/// local error is reported in the diagnosis, and never as a trace that looks complete. A RST is
/// checked against the host's distance on another port (see [`trace_in_run`]).
pub async fn trace(addr: SocketAddr, opts: &TraceOptions) -> TraceReport {
    trace_in_run(addr, opts, &OpenPorts::default()).await
}

/// [`trace`], knowing which ports of which addresses answered SYN-ACK earlier in the run:
/// when the traced port is answered by a RST, the host's own distance is measured on one of
/// those first (then a common port, then a random high port), so that a RST is never taken
/// for the host's answer on its own.
pub async fn trace_in_run(addr: SocketAddr, opts: &TraceOptions, open: &OpenPorts) -> TraceReport {
    let started = Instant::now();
    if let Some(why) = unsupported_platform() {
        return TraceReport {
            address: addr.ip(),
            port: addr.port(),
            hops: Vec::new(),
            diagnosis: TraceDiagnosis {
                word: DiagnosisWord::Unknown,
                hop: None,
                sentence: why,
            },
            ended: TraceEnd::Unsupported,
            reference: None,
            elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
        };
    }
    let walk = walk::walk(addr, opts, 1).await;
    let mut hops: Vec<TraceHop> = walk
        .answers
        .iter()
        .map(|(&ttl, answers)| diagnose::summarize_hop(ttl, answers))
        .collect();
    let reference = match (walk.ended, hops.last()) {
        (TraceEnd::Answered, Some(last)) if last.reply == HopReply::Rst => {
            reference::measure(addr, last.ttl, opts, open).await
        }
        _ => None,
    };
    if opts.reverse_dns {
        rdns::annotate(&mut hops, opts.dns_timeout).await;
    }
    let diagnosis = diagnose(&hops, walk.ended, addr, reference.as_ref());
    TraceReport {
        address: addr.ip(),
        port: addr.port(),
        hops,
        diagnosis,
        ended: walk.ended,
        reference,
        elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
    }
}

/// `Some(reason)` when this system cannot attribute ICMP errors to TCP probes at all.
fn unsupported_platform() -> Option<String> {
    crate::platform::trace_unsupported()
}

/// A short description of an OS error code for sentences (`None` for our own timeout).
pub(crate) fn errno_text(errno: Option<i32>) -> Option<String> {
    match errno {
        None | Some(crate::platform::TIMED_OUT) => None,
        Some(e) => Some(std::io::Error::from_raw_os_error(e).to_string()),
    }
}

#[cfg(test)]
mod tests;
