//! The result data model: the only thing renderers and the exit-code logic ever see.
//!
//! Every probe produces one [`Report`], whatever happened. Network failures are data here,
//! tagged with the layer where they happened; nothing in this module does I/O.

use std::net::IpAddr;

use serde::Serialize;

pub mod greeting;
pub mod quic;
pub mod tls;
pub mod trace;
pub mod udp;

pub use greeting::{GreetingReport, GreetingState, ServiceReport, StarttlsReport, StarttlsResult};
pub use quic::{QuicReport, QuicState};
pub use tls::{CertProblem, TlsFailureKind, TlsReport, Vhost};
pub use trace::TraceReport;
pub use udp::{UdpReason, UdpReport, UdpState};

use crate::exit::ExitCode;

/// The layers a probe walks, in order. A report names the deepest one it got through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// Name resolution.
    Dns,
    /// The TCP three-way handshake.
    Tcp,
    /// The QUIC handshake's transport side (`--quic`): did a QUIC server answer over UDP?
    Quic,
    /// A UDP datagram exchange (`-u`, `udp://`): an application answer, an ICMP error, or
    /// silence.
    Udp,
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
    /// Not a network layer: an explicit expectation (`--expect`) about the probe.
    Expect,
    /// Not a network layer: reach itself failed while probing (a bug).
    Internal,
}

impl Layer {
    /// A transport layer (TCP, QUIC or UDP): its verdict is the headline itself, not a layer
    /// above.
    pub fn is_transport(self) -> bool {
        matches!(self, Layer::Tcp | Layer::Quic | Layer::Udp)
    }

    /// The lowercase word used in JSON and in the human report.
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Dns => "dns",
            Layer::Tcp => "tcp",
            Layer::Quic => "quic",
            Layer::Udp => "udp",
            Layer::Greeting => "greeting",
            Layer::Starttls => "starttls",
            Layer::Tls => "tls",
            Layer::Certificate => "certificate",
            Layer::Vhost => "vhost",
            Layer::Expect => "expect",
            Layer::Internal => "internal",
        }
    }
}

/// Why a layer failed: the layer's own verdict word, typed. Serializes as the bare word
/// (`closed`, `unknown_issuer`, `default_fallback`…), exactly as docs/json.md lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(untagged)]
pub enum Reason {
    /// Name resolution ended without an address.
    Dns(DnsOutcome),
    /// The TCP state (anything but `open`).
    Tcp(TcpState),
    /// The QUIC state (anything but `open`).
    Quic(QuicState),
    /// The UDP state (anything but `open`).
    Udp(UdpState),
    /// The STARTTLS result (anything but `negotiated`).
    Starttls(StarttlsResult),
    /// Why the TLS handshake failed.
    Tls(TlsFailureKind),
    /// A certificate check that failed.
    Certificate(CertProblem),
    /// The virtual-host verdict (anything but `matched`).
    Vhost(Vhost),
    /// Which expectation failed.
    Expect(ExpectCheck),
    /// What went wrong inside reach.
    Internal(InternalFault),
}

impl Reason {
    /// The JSON word.
    pub fn word(self) -> String {
        word(&self)
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.word())
    }
}

/// What went wrong inside reach itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InternalFault {
    /// The probe task panicked: a bug in reach, reported instead of lost.
    Panic,
}

/// Where and why a probe stopped before walking every layer it was asked to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Stopped {
    /// The layer that failed.
    pub layer: Layer,
    /// The layer's own verdict word (e.g. `filtered`, `reset`, `unknown_issuer`).
    pub reason: Reason,
}

/// One problem found on one layer. A probe lists every problem it found; the verdict engine
/// picks the one that explains the others as [`Report::stopped`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The layer it was found on.
    pub layer: Layer,
    /// Its verdict word.
    pub reason: Reason,
    /// One readable sentence.
    pub detail: String,
}

/// Which expectation a check is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpectCheck {
    /// The TCP state (`--expect-state STATE`, alias `--expect`).
    State,
    /// A banner matching a pattern (`--expect-banner REGEX`).
    Banner,
    /// The lowest acceptable negotiated TLS version (`--expect-tls-min`).
    TlsMin,
    /// The negotiated ALPN protocol (`--expect-alpn`).
    Alpn,
    /// Every certificate of the chain valid for N more days (`--min-days`).
    MinDays,
    /// Plugin mode's critical threshold on days left (`--crit-days`).
    CritDays,
    /// Plugin mode's warning threshold on days left (`--warn-days`): the only expectation
    /// that warns instead of failing.
    WarnDays,
    /// A name the leaf must cover (`--expect-san`, one result per name).
    San,
    /// The leaf's issuer matches a pattern (`--expect-issuer`).
    Issuer,
    /// The leaf's subject matches a pattern (`--expect-subject`).
    Subject,
    /// A certificate or key pin found in the chain (`--expect-fingerprint`).
    Fingerprint,
    /// The virtual-host verdict (`--expect-vhost`).
    Vhost,
    /// Every address of a name serves the same certificate (`--expect-same-cert`).
    SameCert,
}

impl ExpectCheck {
    /// The layer whose result the expectation reads.
    pub fn layer(self) -> Layer {
        match self {
            ExpectCheck::State => Layer::Tcp,
            ExpectCheck::Banner => Layer::Greeting,
            ExpectCheck::TlsMin | ExpectCheck::Alpn => Layer::Tls,
            ExpectCheck::Vhost => Layer::Vhost,
            _ => Layer::Certificate,
        }
    }

    /// A failure that only warns (exit code unchanged; WARNING in plugin mode).
    pub fn warns_only(self) -> bool {
        self == ExpectCheck::WarnDays
    }
}

/// One expectation, checked: what was wanted, what was seen, and whether they agree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExpectResult {
    /// Which expectation.
    pub check: ExpectCheck,
    /// What the user asked for, as a word (`closed`).
    pub wanted: String,
    /// What the probe saw, as a word (`open`).
    pub seen: String,
    /// They agree.
    pub ok: bool,
}

/// One probe of one address (and port, and SNI name): the unit of output.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// The target as the user typed it (or as read from the input file).
    pub target: String,
    /// The checks-file entry this probe belongs to (`reach check`), absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
    /// The host part of the target: a DNS name or an IP literal.
    pub host: String,
    /// The address probed; `None` when name resolution failed.
    pub address: Option<IpAddr>,
    /// The destination port.
    pub port: u16,
    /// The deepest layer the probe got through (`None`: not even DNS).
    pub reached: Option<Layer>,
    /// Set when the probe stopped at a failing layer: the problem that explains the others.
    pub stopped: Option<Stopped>,
    /// Every problem found on every layer, `stopped` first (empty when all went well).
    pub problems: Vec<Problem>,
    /// Every expectation checked (empty without `--expect…` flags).
    pub expect: Vec<ExpectResult>,
    /// The exit code this probe stands for, decided with the verdict.
    #[serde(skip)]
    pub exit: ExitCode,
    /// Name resolution, when the host was a name.
    pub dns: Option<DnsReport>,
    /// The TCP verdict.
    pub tcp: Option<TcpReport>,
    /// The QUIC verdict (`--quic`, `h3://`), instead of `tcp`.
    pub quic: Option<QuicReport>,
    /// The UDP verdict (`-u`, `udp://`), instead of `tcp`.
    pub udp: Option<UdpReport>,
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
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

/// Where this machine can learn which ICMP error ended a connect, and who sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IcmpEvidence {
    /// Linux: the socket error queue (`IP_RECVERR`), with the ICMP's type, code and sender.
    ErrorQueue,
    /// Windows 10 / Server 2004 or later: `TCP_ICMP_ERROR_INFO`, with type, code and sender.
    IcmpErrorInfo,
    /// Not on this system: an ICMP rejection reads as the error code the system derived from
    /// it, with no sender, or (older Windows) as silence until the deadline.
    Unavailable,
}

/// An ICMP error as the system reported it for the connect.
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
    /// The OS error code the connect ended with, if it failed (errno; `WSAE…` on Windows).
    pub errno: Option<i32>,
    /// Time from the SYN to the verdict (for `filtered`: the deadline that ran out).
    pub connect_ms: f64,
    /// Whether an ICMP error, and its sender, could have been seen on this machine.
    pub icmp_evidence: IcmpEvidence,
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
    /// The transport verdict of this attempt (TCP's words, or UDP's with `-u`).
    pub state: AttemptState,
    /// Its evidence.
    pub reason: AttemptReason,
    /// Time to the TCP verdict; over UDP, the answer's round trip (else the time to the
    /// verdict).
    pub connect_ms: f64,
    /// TLS handshake time, when TLS was probed and completed.
    pub tls_handshake_ms: Option<f64>,
    /// Why the TLS handshake failed, when it did.
    pub tls_error: Option<TlsFailureKind>,
    /// Where this attempt stopped (`null`: it reached every layer asked for).
    pub stopped: Option<Stopped>,
}

/// The transport verdict of one latency attempt: serializes as the bare word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(untagged)]
pub enum AttemptState {
    /// A TCP connect.
    Tcp(TcpState),
    /// A UDP exchange.
    Udp(UdpState),
}

impl AttemptState {
    /// The connect succeeded, or the UDP port answered.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            AttemptState::Tcp(TcpState::Open) | AttemptState::Udp(UdpState::Open)
        )
    }

    /// The word shown to people (`open|filtered` for UDP silence).
    pub fn human(self) -> &'static str {
        match self {
            AttemptState::Tcp(s) => s.as_str(),
            AttemptState::Udp(s) => s.human(),
        }
    }
}

/// The evidence of one latency attempt's transport verdict: serializes as the bare word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(untagged)]
pub enum AttemptReason {
    /// A TCP connect's.
    Tcp(TcpReason),
    /// A UDP exchange's.
    Udp(UdpReason),
}

/// How the attempts of a latency series fared on one layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LayerTally {
    /// The layer.
    pub layer: Layer,
    /// Attempts that got as far as trying this layer.
    pub tried: u32,
    /// Attempts that passed it.
    pub ok: u32,
    /// Attempts that stopped here.
    pub failed: u32,
    /// Why they stopped here, most frequent first.
    pub reasons: Vec<ReasonCount>,
}

/// How often one reason stopped attempts on a layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReasonCount {
    /// The verdict word.
    pub reason: Reason,
    /// How many attempts.
    pub count: u32,
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
    /// TLS handshake statistics over completed handshakes, when TLS was probed.
    pub tls_handshake: Option<TimingSummary>,
    /// Per layer, in walk order: how many attempts tried it, passed it, stopped at it, and why.
    pub layers: Vec<LayerTally>,
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
