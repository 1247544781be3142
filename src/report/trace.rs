//! The path-trace part of a report: one row per hop and a diagnosis.

use std::net::IpAddr;

use serde::Serialize;

use super::IcmpInfo;

/// A TCP trace to the probed port: SYNs with TTL / hop limit 1, 2, 3… to the same port.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceReport {
    /// The destination address traced.
    pub address: IpAddr,
    /// The destination port every probe was sent to.
    pub port: u16,
    /// The hops, in TTL order, up to where the trace ended (silent hops included).
    pub hops: Vec<TraceHop>,
    /// What the trace shows, in one word and one sentence.
    pub diagnosis: TraceDiagnosis,
    /// Why the trace ended.
    pub ended: TraceEnd,
    /// The destination's hop distance measured on another port of the same host, when the
    /// traced port was answered by a RST (it tells a middlebox's RST from the server's own).
    pub reference: Option<ReferenceDistance>,
    /// Wall time of the whole trace.
    pub elapsed_ms: f64,
}

/// One TTL value of the trace.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceHop {
    /// The TTL / hop limit of these probes.
    pub ttl: u8,
    /// Who answered (`None`: nobody, shown as `*`).
    pub address: Option<IpAddr>,
    /// Other addresses that answered probes of the same TTL (load balancing), if any.
    pub also: Vec<IpAddr>,
    /// Reverse DNS name of `address`, when asked for and found in time.
    pub hostname: Option<String>,
    /// Round-trip time of each probe, in sending order (`None`: no answer). A silent hop is
    /// probed once more after the others, to tell ICMP rate limiting from silence.
    pub rtt_ms: Vec<Option<f64>>,
    /// What kind of answer came back.
    pub reply: HopReply,
    /// The ICMP message, when the answer was one.
    pub icmp: Option<IcmpInfo>,
    /// The errno behind a `local_error` or `unattributed` reply.
    pub errno: Option<i32>,
}

/// The kind of answer a hop gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HopReply {
    /// ICMP time exceeded: a router on the way.
    TimeExceeded,
    /// Another ICMP error (admin-prohibited, port/host/net unreachable…): the path ends here.
    IcmpError,
    /// A SYN-ACK: the port is open at this distance.
    SynAck,
    /// A TCP RST, from the destination or forged by a middlebox.
    Rst,
    /// Nothing before the deadline, even after one more try.
    Silent,
    /// The kernel said an ICMP error arrived but not from whom (no error queue: Linux < 5.8).
    Unattributed,
    /// This machine refused or failed to send the probe (firewall, no route, resources).
    LocalError,
}

/// The diagnosis of a trace.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceDiagnosis {
    /// Stable word for scripts.
    pub word: DiagnosisWord,
    /// The hop the word is about (see [`DiagnosisWord`]); `None` when unknown.
    pub hop: Option<u8>,
    /// One plain sentence for people.
    pub sentence: String,
}

/// The stable diagnosis words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DiagnosisWord {
    /// The destination answered at hop `hop`: SYN-ACK, or a RST at the distance where the host
    /// itself answers another port with SYN-ACK (or on `--reference-port`). A RST alone is
    /// never enough.
    Reached,
    /// Hop `hop` was the last to answer; nothing beyond it did (`0`: not even the first hop).
    DroppedAfter,
    /// An ICMP error from hop `hop` ended the path (`0`: this machine's own firewall).
    RejectedAt,
    /// A RST came back at hop `hop`, nearer than the destination: a middlebox forged it.
    MiddleboxReset,
    /// The trace cannot say (unsupported kernel, local error, destination beyond the hop limit,
    /// or a RST whose sender no other port could tell); the sentence says why.
    Unknown,
}

impl DiagnosisWord {
    /// The word as it appears in JSON and in the human report.
    pub fn as_str(self) -> &'static str {
        match self {
            DiagnosisWord::Reached => "reached",
            DiagnosisWord::DroppedAfter => "dropped_after",
            DiagnosisWord::RejectedAt => "rejected_at",
            DiagnosisWord::MiddleboxReset => "middlebox_reset",
            DiagnosisWord::Unknown => "unknown",
        }
    }
}

/// Why a trace ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TraceEnd {
    /// The destination (or a middlebox in its place) answered with SYN-ACK or RST.
    Answered,
    /// An ICMP error other than time exceeded ended the path.
    Rejected,
    /// A run of silent hops: probing further was pointless.
    SilentHops,
    /// The hop limit was reached without an end.
    MaxHops,
    /// This machine refused or failed to send the probes (its firewall, no resources).
    LocalError,
    /// ICMP errors cannot be attributed here (not Linux, or a kernel older than 5.8).
    Unsupported,
}

/// The destination's distance measured on a reference port of the same host: the evidence
/// that tells a middlebox's forged RST from the host's own.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReferenceDistance {
    /// The port whose distance decided (the last one tried when none did).
    pub port: u16,
    /// The TTL at which the host answered on it (`None`: it did not answer).
    pub hops: Option<u8>,
    /// How it answered there: `syn_ack` or `rst` (`None`: it did not answer).
    pub reply: Option<HopReply>,
    /// Where the port came from.
    pub source: ReferenceSource,
    /// Every port measured, in order (`port` last): a port answered by a RST at the same
    /// distance settles nothing, so the next one is tried.
    pub tried: Vec<u16>,
}

/// Where a reference port came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferenceSource {
    /// `--reference-port`: trusted to be answered by the host itself, even by a RST.
    Given,
    /// A port of the same address that answered SYN-ACK earlier in this run.
    OpenInRun,
    /// A common service port (443, 80, 22) found open on the same address.
    CommonPort,
    /// A random high port: only a RST from further away than the traced port's proves
    /// anything (a middlebox's RST came nearer).
    RandomPort,
}
