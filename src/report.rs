//! The result data model: the only thing renderers and the exit-code logic ever see.
//!
//! Every probe produces one [`Report`], whatever happened. Network failures are data here,
//! tagged with the layer where they happened; nothing in this module does I/O.

use std::net::IpAddr;

use serde::Serialize;

pub mod greeting;
pub mod tls;
pub mod trace;

pub use greeting::{GreetingReport, ServiceReport, StarttlsReport};
pub use tls::TlsReport;
pub use trace::TraceReport;

/// The layers a probe walks, in order. A report names the deepest one it got through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// Name resolution.
    Dns,
    /// The TCP three-way handshake.
    Tcp,
    /// The service's greeting (banner).
    Greeting,
    /// The in-band upgrade to TLS.
    Starttls,
    /// The TLS handshake.
    Tls,
    /// Certificate chain checks (trust, name, expiry).
    Certificate,
    /// Did the server route the requested name (SNI)?
    Vhost,
    /// Not a network layer: the probe itself failed (a bug in reach, e.g. a panic). The
    /// report keeps the probe's identity so that nothing vanishes from the output.
    Internal,
}

impl Layer {
    /// The lowercase word used in JSON and in the human report.
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Dns => "dns",
            Layer::Tcp => "tcp",
            Layer::Greeting => "greeting",
            Layer::Starttls => "starttls",
            Layer::Tls => "tls",
            Layer::Certificate => "certificate",
            Layer::Vhost => "vhost",
            Layer::Internal => "internal",
        }
    }
}

/// Where and why a probe stopped before walking every layer it was asked to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stopped {
    /// The layer that failed.
    pub layer: Layer,
    /// A short machine-readable word (the layer's own reason, e.g. `timeout`, `rst`).
    pub reason: String,
}

/// One probe of one address (and port, and SNI name): the unit of output.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// The target as the user typed it (or as read from the input file).
    pub target: String,
    /// The host part of the target: a DNS name or an IP literal.
    pub host: String,
    /// The address probed; `None` when name resolution failed.
    pub address: Option<IpAddr>,
    /// The destination port.
    pub port: u16,
    /// The deepest layer the probe got through (`None`: not even DNS).
    pub reached: Option<Layer>,
    /// Set when the probe stopped at a failing layer.
    pub stopped: Option<Stopped>,
    /// Name resolution, when the host was a name.
    pub dns: Option<DnsReport>,
    /// The TCP verdict.
    pub tcp: Option<TcpReport>,
    /// What the service said first.
    pub greeting: Option<GreetingReport>,
    /// Which service the port is registered for and which one answered.
    pub service: Option<ServiceReport>,
    /// The STARTTLS upgrade, when one was attempted.
    pub starttls: Option<StarttlsReport>,
    /// TLS handshake, certificate and virtual-host verdicts.
    pub tls: Option<TlsReport>,
    /// Latency mode: repeated-attempt statistics.
    pub stats: Option<LatencyStats>,
    /// Path trace to the same port.
    pub trace: Option<TraceReport>,
}

/// How name resolution ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DnsOutcome {
    /// At least one address of the asked family.
    Resolved,
    /// The name does not exist.
    Nxdomain,
    /// The name exists but has no A/AAAA record of the asked family.
    NoRecords,
    /// The resolver did not answer before the deadline.
    Timeout,
    /// Any other resolver failure (SERVFAIL, refused, no resolver configured…).
    Error,
}

/// Result of resolving one host name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DnsReport {
    /// The name that was looked up.
    pub name: String,
    /// How the lookup ended.
    pub outcome: DnsOutcome,
    /// Every address found (after the `-4`/`-6` filter).
    pub addresses: Vec<IpAddr>,
    /// Time spent resolving.
    pub resolve_ms: f64,
    /// Resolver message for `error` outcomes.
    pub detail: Option<String>,
}

/// The TCP verdict vocabulary (see DESIGN.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TcpState {
    /// Something accepted the connection (SYN-ACK).
    Open,
    /// The host or a middlebox answered with a TCP RST.
    Closed,
    /// A firewall refused it with ICMP (admin-prohibited or port-unreachable).
    Rejected,
    /// The network says the host is not there (ICMP host/net unreachable, no route).
    Unreachable,
    /// Nothing came back before the deadline.
    Filtered,
    /// The local machine refused or failed.
    Error,
}

impl TcpState {
    /// The lowercase word used in JSON and in the human report.
    pub fn as_str(self) -> &'static str {
        match self {
            TcpState::Open => "open",
            TcpState::Closed => "closed",
            TcpState::Rejected => "rejected",
            TcpState::Unreachable => "unreachable",
            TcpState::Filtered => "filtered",
            TcpState::Error => "error",
        }
    }
}

/// The precise evidence behind a [`TcpState`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TcpReason {
    /// The connect succeeded.
    SynAck,
    /// `ECONNREFUSED` with no ICMP queued: a TCP reset.
    Rst,
    /// ICMP communication administratively prohibited (v4 3/9, 3/10, 3/13; v6 1/1, 1/5, 1/6).
    IcmpAdminProhibited,
    /// ICMP port unreachable (v4 3/3, v6 1/4).
    IcmpPortUnreachable,
    /// ICMP host unreachable (v4 3/1, v6 1/3 …).
    IcmpHostUnreachable,
    /// ICMP network unreachable (v4 3/0, v6 1/0).
    IcmpNetUnreachable,
    /// ICMP protocol unreachable (v4 3/2).
    IcmpProtocolUnreachable,
    /// ICMP time exceeded: the hop limit ran out before the destination.
    IcmpTimeExceeded,
    /// Another ICMP error (type/code in `tcp.icmp`).
    IcmpOther,
    /// The local routing table has no route to the address.
    NoRoute,
    /// Nothing came back before the deadline.
    Timeout,
    /// The local system refused the connect (`EPERM`/`EACCES` without ICMP: a local firewall,
    /// LSM or BPF policy).
    LocalPolicy,
    /// ICMP generated by one of our own addresses (a local firewall reject, or no neighbour
    /// answered ARP/ND).
    LocalIcmp,
    /// The process ran out of file descriptors or ports.
    LocalResources,
    /// Any other local error (errno in `tcp.errno`).
    LocalError,
}

/// An ICMP error as read from the socket error queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IcmpInfo {
    /// `4` or `6`: which ICMP.
    pub version: u8,
    /// ICMP type.
    #[serde(rename = "type")]
    pub icmp_type: u8,
    /// ICMP code.
    pub code: u8,
    /// A readable name for type/code, e.g. `admin-prohibited`.
    pub name: String,
}

/// The TCP layer of one probe.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TcpReport {
    /// The verdict.
    pub state: TcpState,
    /// The evidence for it.
    pub reason: TcpReason,
    /// The address that sent the ICMP error, if one was received.
    pub icmp_from: Option<IpAddr>,
    /// The ICMP error itself.
    pub icmp: Option<IcmpInfo>,
    /// The errno the connect ended with, if it failed.
    pub errno: Option<i32>,
    /// Time from the SYN to the verdict (for `filtered`: the deadline that ran out).
    pub connect_ms: f64,
}

/// Summary statistics of a series of timings, in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimingSummary {
    /// Fastest.
    pub min_ms: f64,
    /// Arithmetic mean.
    pub avg_ms: f64,
    /// Slowest.
    pub max_ms: f64,
    /// Population standard deviation.
    pub stddev_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile (nearest rank).
    pub p95_ms: f64,
    /// 99th percentile (nearest rank).
    pub p99_ms: f64,
}

/// One attempt in latency mode.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attempt {
    /// 1-based sequence number (warm-up attempts are not numbered or counted).
    pub seq: u32,
    /// The TCP verdict of this attempt.
    pub state: TcpState,
    /// Its evidence.
    pub reason: TcpReason,
    /// Time to the TCP verdict.
    pub connect_ms: f64,
    /// TLS handshake time, when TLS was probed and completed.
    pub tls_handshake_ms: Option<f64>,
    /// Why the TLS handshake failed, when it did.
    pub tls_error: Option<String>,
}

/// Latency-mode statistics (PsPing style).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LatencyStats {
    /// Attempts counted (warm-up excluded).
    pub sent: u32,
    /// Attempts whose connect succeeded.
    pub received: u32,
    /// `sent - received`.
    pub lost: u32,
    /// Loss in percent.
    pub loss_pct: f64,
    /// Connect-time statistics over successful attempts (all `null` when none succeeded).
    pub min_ms: Option<f64>,
    /// See [`TimingSummary::avg_ms`].
    pub avg_ms: Option<f64>,
    /// See [`TimingSummary::max_ms`].
    pub max_ms: Option<f64>,
    /// See [`TimingSummary::stddev_ms`].
    pub stddev_ms: Option<f64>,
    /// See [`TimingSummary::p50_ms`].
    pub p50_ms: Option<f64>,
    /// See [`TimingSummary::p95_ms`].
    pub p95_ms: Option<f64>,
    /// See [`TimingSummary::p99_ms`].
    pub p99_ms: Option<f64>,
    /// TLS handshake statistics, when TLS was probed.
    pub tls_handshake: Option<TimingSummary>,
    /// Warm-up attempts made before counting.
    pub warmup: u32,
    /// Every counted attempt, in order.
    pub attempts: Vec<Attempt>,
}

/// The JSON word of a unit enum value (`TcpReason::IcmpAdminProhibited` → `icmp_admin_prohibited`),
/// so the human report uses exactly the words of the JSON contract.
pub fn word<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::from("?"),
    }
}
