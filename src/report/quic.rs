//! The QUIC part of a report: what the transport handshake over UDP said before (or instead of)
//! TLS. The TLS inside QUIC is reported in the ordinary `tls` section, marked
//! `tls.transport: "quic"`, so certificates and virtual hosts are judged by the same code and
//! words as over TCP.

use std::net::IpAddr;

use serde::Serialize;

use super::{IcmpEvidence, IcmpInfo};

/// The QUIC verdict of one address: did a QUIC server answer?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QuicState {
    /// A QUIC server answered: the handshake completed, or TLS inside it failed (`tls.error`).
    Open,
    /// The server offered only QUIC versions we do not speak (`quic.versions_offered`).
    VersionNegotiation,
    /// The server closed the handshake with a QUIC transport error (`quic.close`).
    TransportError,
    /// ICMP port-unreachable from the address itself: nothing listens on that UDP port.
    Closed,
    /// ICMP admin-prohibited, or port-unreachable sent by someone else (a firewall).
    Rejected,
    /// ICMP net/host unreachable, time exceeded, or no route.
    Unreachable,
    /// Nothing came back before the deadline (UDP cannot tell a drop from a deaf port).
    Filtered,
    /// The local machine refused or failed (socket, policy, our own ICMP).
    Error,
}

/// The evidence behind a [`QuicState`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QuicReason {
    /// The handshake completed.
    Handshake,
    /// The server answered, then TLS failed or the handshake was cut short (see `tls.error`).
    Answered,
    /// A Version Negotiation packet.
    VersionNegotiation,
    /// A CONNECTION_CLOSE frame with a transport error code.
    ConnectionClose,
    /// A stateless reset.
    StatelessReset,
    /// ICMP port unreachable.
    IcmpPortUnreachable,
    /// ICMP communication administratively prohibited.
    IcmpAdminProhibited,
    /// ICMP host unreachable.
    IcmpHostUnreachable,
    /// ICMP network unreachable.
    IcmpNetUnreachable,
    /// ICMP time exceeded.
    IcmpTimeExceeded,
    /// Another ICMP error (`quic.icmp` says which).
    IcmpOther,
    /// Nothing at all came back before the deadline.
    Timeout,
    /// A local failure (socket, configuration).
    LocalError,
}

/// A CONNECTION_CLOSE the server sent during the handshake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuicClose {
    /// The error code as sent (`0x150` for a TLS alert 80).
    pub code: u64,
    /// Its RFC 9000 name (`protocol_violation`, `crypto_error`…), `crypto_error` for TLS alerts.
    pub name: String,
    /// For a crypto error: the TLS alert it carries (`internal_error`, `unrecognized_name`).
    pub alert: Option<String>,
    /// The frame type that caused it, when the server said (`CRYPTO`, `STREAM`…).
    pub frame_type: Option<String>,
    /// The reason phrase, as lossy UTF-8 (raw; escape before printing).
    pub reason: String,
}

/// The QUIC layer of one probe.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuicReport {
    /// The verdict.
    pub state: QuicState,
    /// The evidence for it.
    pub reason: QuicReason,
    /// The QUIC version the server's packets carried (`1`, `0x6b3343cf` for v2…), as text.
    pub version: Option<String>,
    /// The versions a Version Negotiation packet offered (empty when none came).
    pub versions_offered: Vec<String>,
    /// The server sent a Retry (address validation) before the handshake went on.
    pub retry: bool,
    /// The CONNECTION_CLOSE the server sent, when it sent one.
    pub close: Option<QuicClose>,
    /// UDP datagrams sent and received during the handshake.
    pub datagrams_sent: u32,
    /// See `datagrams_sent`.
    pub datagrams_received: u32,
    /// The address that sent the ICMP error, if one was received.
    pub icmp_from: Option<IpAddr>,
    /// The ICMP error itself.
    pub icmp: Option<IcmpInfo>,
    /// Whether this machine could see an ICMP error for the UDP socket.
    pub icmp_evidence: IcmpEvidence,
    /// Time from the first Initial to the verdict (for `filtered`, the deadline that ran out).
    pub handshake_ms: f64,
    /// One readable sentence about a failure (`null` when the server answered).
    pub detail: Option<String>,
}

/// Where the TLS handshake of a `tls` section ran.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsTransport {
    /// TLS records over a TCP connection (STARTTLS included).
    #[default]
    Tcp,
    /// TLS 1.3 inside a QUIC handshake (RFC 9001).
    Quic,
}
