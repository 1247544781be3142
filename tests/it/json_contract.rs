//! The JSON contract (docs/json.md) against real output: `reach --json` probes real servers on
//! loopback (and in the network lab), and every line must deserialize into [`Report`], a
//! mirror of the documentation written from docs/json.md alone, never from src/.
//!
//! How the mirror checks the contract:
//! - `#[serde(deny_unknown_fields)]` everywhere: a key the documentation does not name fails.
//! - every documented key is a required field. A key documented as `T | null` is
//!   [`Nullable<T>`], which must be present (serde would take a missing `Option<T>` as `null`);
//!   plain `Option<T>` is only for a key the documentation says may be absent.
//! - a documented closed list of words is an enum: a word the documentation does not list
//!   fails.
//!
//! To extend it, add the key to docs/json.md and the field to [`mirror`].
//! [`KNOWN_OMISSIONS`] lists the documented keys the binary still leaves out when they
//! are empty.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::process::Command;

use reach::demo::pki::{KeyKind, LeafSpec, Validity};
use reach::demo::tls_server::{Behaviour, ServerSpec};
use serde_json::Value;

use mirror::*;

use crate::support::daemons::Daemon;
use crate::support::dns::{Answer, DnsServer};
use crate::support::lab::{self, Lab, Role};
use crate::support::tls::{root, routes, server};
use crate::support::{TempDir, free_port, json_lines, loopback, mail, reach, require_binary};
use crate::support::{db, web};

/// The mirror of docs/json.md. Its fields are there to be present, not to be read.
#[allow(dead_code)]
mod mirror {
    use serde::de::{DeserializeOwned, Error as _};
    use serde::{Deserialize, Deserializer};
    use serde_json::Value;

    /// A key documented as `T | null`: present, and `null` or a `T`.
    #[derive(Debug)]
    pub struct Nullable<T>(pub Option<T>);

    impl<'de, T: DeserializeOwned> Deserialize<'de> for Nullable<T> {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            // Through a Value: serde fills a missing `Option` field with `None`, but a missing
            // `Value` is an error, so the key must be there.
            match Value::deserialize(deserializer)? {
                Value::Null => Ok(Nullable(None)),
                value => T::deserialize(value)
                    .map(|t| Nullable(Some(t)))
                    .map_err(D::Error::custom),
            }
        }
    }

    impl<T> Nullable<T> {
        /// The value, which this scenario must have produced.
        #[track_caller]
        pub fn expect(&self, what: &str) -> &T {
            match &self.0 {
                Some(value) => value,
                None => panic!("{what} is null here"),
            }
        }
    }

    /// One line of `reach --json` (docs/json.md, "Top level").
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Report {
        pub target: String,
        /// Only in `reach check` output: the entry's name.
        #[serde(default)]
        pub check: Option<String>,
        pub host: String,
        pub address: Nullable<String>,
        pub port: u16,
        pub reached: Nullable<Layer>,
        pub stopped: Nullable<Stopped>,
        pub problems: Vec<Problem>,
        pub expect: Vec<Expectation>,
        pub dns: Nullable<Dns>,
        pub tcp: Nullable<Tcp>,
        pub quic: Nullable<Quic>,
        pub udp: Nullable<Udp>,
        pub greeting: Nullable<Greeting>,
        pub service: Nullable<Service>,
        pub starttls: Nullable<Starttls>,
        pub tls: Nullable<Tls>,
        pub stats: Nullable<Stats>,
        pub trace: Nullable<Trace>,
    }

    /// `reached` and `stopped.layer`.
    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    pub enum Layer {
        Dns,
        Tcp,
        Quic,
        Udp,
        Greeting,
        Starttls,
        Tls,
        Certificate,
        Vhost,
    }

    /// `stopped.layer` and `problems[].layer`: the walked layers and the two that are not.
    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    pub enum ProblemLayer {
        Dns,
        Tcp,
        Quic,
        Udp,
        Starttls,
        Tls,
        Certificate,
        Vhost,
        Expect,
        Internal,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Stopped {
        pub layer: ProblemLayer,
        /// That layer's verdict word.
        pub reason: String,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Problem {
        pub layer: ProblemLayer,
        pub reason: String,
        pub detail: String,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Expectation {
        pub check: ExpectCheck,
        pub wanted: String,
        pub seen: String,
        pub ok: bool,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    pub enum ExpectCheck {
        State,
        Banner,
        TlsMin,
        Alpn,
        MinDays,
        CritDays,
        WarnDays,
        San,
        Issuer,
        Subject,
        Fingerprint,
        Vhost,
        SameCert,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Dns {
        pub name: String,
        pub outcome: DnsOutcome,
        pub addresses: Vec<String>,
        pub resolve_ms: f64,
        pub detail: Nullable<String>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    pub enum DnsOutcome {
        Resolved,
        Nxdomain,
        NoRecords,
        Timeout,
        Error,
    }

    /// `stats.attempts[].state`: TCP's words, or UDP's under `-u`.
    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(untagged)]
    pub enum AttemptState {
        Tcp(TcpState),
        Udp(UdpState),
    }

    /// `stats.attempts[].reason`.
    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(untagged)]
    pub enum AttemptReason {
        Tcp(TcpReason),
        Udp(UdpReason),
    }

    /// `udp` (docs/json.md, "udp").
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Udp {
        pub state: UdpState,
        pub reason: UdpReason,
        pub icmp_from: Nullable<String>,
        pub icmp: Nullable<Icmp>,
        pub errno: Nullable<i32>,
        pub probe: UdpProbe,
        pub sent: UdpSent,
        pub not_sent: Nullable<String>,
        pub rtt_ms: Nullable<f64>,
        pub elapsed_ms: f64,
        pub icmp_evidence: IcmpEvidence,
        pub answer: Nullable<UdpAnswer>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    pub enum UdpState {
        Open,
        Closed,
        Rejected,
        Unreachable,
        OpenFiltered,
        Error,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    pub enum UdpReason {
        Answer,
        IcmpPortUnreachable,
        IcmpAdminProhibited,
        IcmpHostUnreachable,
        IcmpNetUnreachable,
        IcmpProtocolUnreachable,
        IcmpTimeExceeded,
        IcmpOther,
        Refused,
        NoRoute,
        NoAnswer,
        LocalPolicy,
        LocalIcmp,
        LocalResources,
        LocalError,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    pub enum UdpProbe {
        Dns,
        Ntp,
        Snmp,
        Netbios,
        Cldap,
        Stun,
        Payload,
        Empty,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct UdpSent {
        pub what: String,
        pub bytes: usize,
        pub datagrams: u32,
        pub hex: String,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct UdpAnswer {
        pub bytes: usize,
        pub protocol: Nullable<String>,
        pub summary: Nullable<String>,
        pub fields: std::collections::BTreeMap<String, String>,
        pub parse_error: Nullable<String>,
        pub hex: String,
        pub text: String,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Tcp {
        pub state: TcpState,
        pub reason: TcpReason,
        pub icmp_from: Nullable<String>,
        pub connect_ms: f64,
        pub icmp: Nullable<Icmp>,
        pub errno: Nullable<i32>,
        pub icmp_evidence: IcmpEvidence,
    }

    // QUIC (`--quic`, `h3://`): docs/json.md "quic".

    /// `quic`.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Quic {
        pub state: QuicState,
        pub reason: QuicReason,
        pub version: Nullable<String>,
        pub versions_offered: Vec<String>,
        pub retry: bool,
        pub close: Nullable<QuicClose>,
        pub datagrams_sent: u32,
        pub datagrams_received: u32,
        pub icmp_from: Nullable<String>,
        pub icmp: Nullable<Icmp>,
        pub icmp_evidence: IcmpEvidence,
        pub handshake_ms: f64,
        pub detail: Nullable<String>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    pub enum QuicState {
        Open,
        VersionNegotiation,
        TransportError,
        Closed,
        Rejected,
        Unreachable,
        Filtered,
        Error,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    pub enum QuicReason {
        Handshake,
        Answered,
        VersionNegotiation,
        ConnectionClose,
        StatelessReset,
        IcmpPortUnreachable,
        IcmpAdminProhibited,
        IcmpHostUnreachable,
        IcmpNetUnreachable,
        IcmpTimeExceeded,
        IcmpOther,
        Timeout,
        LocalError,
    }

    /// `quic.close`.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct QuicClose {
        pub code: u64,
        pub name: String,
        pub alert: Nullable<String>,
        pub frame_type: Nullable<String>,
        pub reason: String,
    }

    /// `tls.transport`.
    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    pub enum TlsTransport {
        Tcp,
        Quic,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    pub enum IcmpEvidence {
        ErrorQueue,
        IcmpErrorInfo,
        Unavailable,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    pub enum TcpState {
        Open,
        Closed,
        Rejected,
        Unreachable,
        Filtered,
        Error,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    pub enum TcpReason {
        SynAck,
        Rst,
        IcmpAdminProhibited,
        IcmpPortUnreachable,
        IcmpProtocolUnreachable,
        IcmpHostUnreachable,
        IcmpNetUnreachable,
        IcmpTimeExceeded,
        IcmpOther,
        NoRoute,
        Timeout,
        LocalPolicy,
        LocalIcmp,
        LocalResources,
        LocalError,
    }

    /// `tcp.icmp` and `trace.hops[].icmp`.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Icmp {
        pub version: u8,
        #[serde(rename = "type")]
        pub icmp_type: u8,
        pub code: u8,
        pub name: String,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Greeting {
        pub state: GreetingState,
        pub protocol: Nullable<String>,
        pub text: String,
        pub software: Nullable<String>,
        pub product: Nullable<String>,
        pub vendor: Nullable<String>,
        pub version: Nullable<String>,
        pub cpe: Nullable<String>,
        pub identification: Nullable<Identification>,
        pub found_by: Nullable<FollowUp>,
        pub follow_ups: Vec<FollowUp>,
        pub banner_ms: Nullable<f64>,
        pub bytes: u64,
        pub truncated: bool,
        pub asked: Nullable<String>,
        pub over_tls: bool,
        pub hex: Nullable<String>,
        pub capabilities: Nullable<Vec<String>>,
        pub ssh: Nullable<Ssh>,
        pub smtp: Nullable<Smtp>,
        pub mysql: Nullable<Mysql>,
        pub postgres: Nullable<Postgres>,
        pub redis: Nullable<Redis>,
        pub http: Nullable<Http>,
        pub tls: Nullable<GreetingTls>,
        pub telnet: Nullable<Telnet>,
    }

    /// `greeting.identification`.
    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    pub enum Identification {
        Table,
        Fingerprints,
        NotIdentified,
    }

    /// `greeting.found_by` and `greeting.follow_ups[]`.
    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    pub enum FollowUp {
        TlsClientHello,
        HttpHead,
        PostgresSslRequest,
        RedisPing,
        Ehlo,
        Lhlo,
        Feat,
        TelnetRefuse,
    }

    /// `greeting.telnet`: the options a telnet server negotiated.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Telnet {
        #[serde(rename = "do")]
        pub do_options: Vec<u8>,
        pub will: Vec<u8>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    pub enum GreetingState {
        Banner,
        Reply,
        Silent,
        Closed,
        Reset,
        Error,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Ssh {
        pub proto_version: String,
        pub software: String,
        pub comments: Nullable<String>,
        pub preamble: Vec<String>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Smtp {
        pub code: u16,
        pub host: Nullable<String>,
        pub size: Nullable<u64>,
        pub auth: Vec<String>,
    }

    /// The documentation names these keys without their types.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Mysql {
        pub protocol_version: Value,
        pub server_version: Value,
        pub connection_id: Value,
        pub ssl: Value,
        pub capabilities: Value,
        pub auth_plugin: Value,
        pub error_code: Value,
        pub error: Value,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Postgres {
        /// `S` or `N`.
        pub answer: String,
        pub ssl: bool,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Redis {
        pub reply: String,
        pub error: bool,
        pub auth_required: bool,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Http {
        pub version: String,
        pub status: u16,
        pub reason: Nullable<String>,
        pub server: Nullable<String>,
        pub location: Nullable<String>,
    }

    /// `greeting.tls`: a TLS record sent unprompted.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct GreetingTls {
        pub content_type: Value,
        pub version: Value,
        pub alert: Value,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Service {
        pub port_name: Nullable<String>,
        pub detected: Nullable<String>,
        pub expected: Nullable<String>,
        pub mismatch: bool,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Starttls {
        pub protocol: StarttlsProtocol,
        pub offered: bool,
        pub result: StarttlsResult,
        pub reply: Nullable<String>,
        pub error: Nullable<String>,
        pub ms: Nullable<f64>,
        pub from_greeting: bool,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    pub enum StarttlsProtocol {
        Smtp,
        Lmtp,
        Imap,
        Pop3,
        Ftp,
        Ldap,
        Postgres,
        Mysql,
        Xmpp,
        #[serde(rename = "xmpp-server")]
        XmppServer,
        Nntp,
        Sieve,
        Irc,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    pub enum StarttlsResult {
        Negotiated,
        Refused,
        NotOffered,
        Error,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Tls {
        pub transport: TlsTransport,
        pub sni: Nullable<String>,
        pub version: Nullable<String>,
        pub cipher: Nullable<String>,
        pub group: Nullable<String>,
        pub alpn: Nullable<String>,
        pub signature_scheme: Nullable<String>,
        /// Documented as present only when true.
        #[serde(default)]
        pub client_cert_requested: Option<bool>,
        /// Documented as present only when true.
        #[serde(default)]
        pub client_cert_sent: Option<bool>,
        pub handshake_ms: Nullable<f64>,
        pub chain: Vec<Certificate>,
        pub verify: Nullable<Verify>,
        pub ocsp: Nullable<Ocsp>,
        pub revocation: Nullable<Revocation>,
        pub vhost: Nullable<Vhost>,
        pub default_cert: Nullable<DefaultCert>,
        pub references: Vec<VhostReference>,
        pub legacy: Nullable<Legacy>,
        pub error: Nullable<TlsError>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    pub enum Vhost {
        Matched,
        DefaultFallback,
        UnrecognizedName,
        Mismatch,
        Refused,
        NotRouted,
        MatchedDefault,
    }

    /// `tls.references[]`.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct VhostReference {
        pub kind: ReferenceKind,
        pub sni: Nullable<String>,
        pub cert: Nullable<DefaultCert>,
        pub error: Nullable<String>,
        pub same_as_served: bool,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    pub enum ReferenceKind {
        NoSni,
        UnknownName,
        OtherName,
    }

    /// `tls.chain[]`; the documentation gives no types for the keys it says are "as named".
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Certificate {
        pub subject: String,
        pub issuer: String,
        pub sans: Vec<String>,
        pub not_before: Nullable<String>,
        pub not_after: Nullable<String>,
        pub days_left: Nullable<i64>,
        pub sha256: String,
        pub spki_sha256: String,
        pub serial: Value,
        pub key_type: Value,
        pub key_bits: Value,
        pub key_curve: Value,
        pub signature_algorithm: Value,
        pub is_ca: bool,
        pub self_issued: bool,
        pub self_signed: bool,
        pub expired: bool,
        pub not_yet_valid: bool,
        pub ca_issuers_url: Nullable<String>,
        pub pem: Nullable<String>,
        pub parse_error: Nullable<String>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Verify {
        pub trusted: bool,
        pub name_match: bool,
        pub name: String,
        pub errors: Vec<CertificateError>,
        pub notes: Vec<String>,
        pub earliest_expiry_days: Value,
        pub earliest_expiry_subject: Value,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    pub enum CertificateError {
        UnknownIssuer,
        IncompleteChain,
        SelfSigned,
        Expired,
        NotYetValid,
        CaUsedAsLeaf,
        NameMismatch,
        BadSignature,
        WrongPurpose,
        UnsupportedAlgorithm,
        BadEncoding,
        UnhandledCriticalExtension,
        Revoked,
        NoCertificate,
        WeakKey,
        WeakSignatureAlgorithm,
        ChainOrder,
        Untrusted,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Ocsp {
        pub stapled: bool,
        pub size: Value,
        pub response_status: Value,
        pub cert_status: Value,
        pub this_update: Value,
        pub next_update: Value,
        pub revoked_at: Nullable<String>,
        pub revocation_reason: Nullable<String>,
        pub verified: bool,
        pub signer: Nullable<String>,
        pub problem: Nullable<String>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Revocation {
        pub mode: RevocationMode,
        pub status: RevocationStatus,
        pub source: Nullable<RevocationSource>,
        pub url: Nullable<String>,
        pub revoked_at: Nullable<String>,
        pub reason: Nullable<String>,
        pub this_update: Nullable<String>,
        pub next_update: Nullable<String>,
        pub signer: Nullable<String>,
        pub detail: String,
        pub ms: Nullable<f64>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    pub enum RevocationMode {
        Staple,
        Ocsp,
        Crl,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    pub enum RevocationStatus {
        Good,
        Revoked,
        Unknown,
        Unavailable,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    pub enum RevocationSource {
        Staple,
        Ocsp,
        Crl,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct DefaultCert {
        pub subject: String,
        pub sha256: String,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Legacy {
        pub version: String,
        pub cipher: String,
        pub note: String,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct TlsError {
        pub kind: TlsErrorKind,
        pub alert: Nullable<String>,
        pub detail: String,
        pub received: Nullable<String>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    pub enum TlsErrorKind {
        Alert,
        Timeout,
        NotTls,
        LegacyVersion,
        UnsupportedSuite,
        Closed,
        Reset,
        Io,
        Incompatible,
        BadSignature,
        Protocol,
        Oversized,
        InvalidSni,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Trace {
        pub address: String,
        pub port: u16,
        pub hops: Vec<Hop>,
        pub diagnosis: Diagnosis,
        pub ended: TraceEnd,
        pub reference: Nullable<Reference>,
        pub elapsed_ms: f64,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Hop {
        pub ttl: u8,
        pub address: Nullable<String>,
        pub also: Vec<String>,
        pub hostname: Nullable<String>,
        pub rtt_ms: Vec<Option<f64>>,
        pub reply: HopReply,
        pub icmp: Nullable<Icmp>,
        pub errno: Nullable<i32>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    pub enum HopReply {
        TimeExceeded,
        IcmpError,
        SynAck,
        Rst,
        Silent,
        Unattributed,
        LocalError,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Diagnosis {
        pub word: DiagnosisWord,
        /// `null` for `unknown`.
        pub hop: Nullable<u8>,
        pub sentence: String,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    pub enum DiagnosisWord {
        DroppedAfter,
        RejectedAt,
        MiddleboxReset,
        Reached,
        Unknown,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    pub enum TraceEnd {
        Answered,
        Rejected,
        SilentHops,
        MaxHops,
        Unsupported,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Reference {
        pub port: u16,
        pub hops: Nullable<u8>,
        pub reply: Nullable<HopReply>,
        pub source: ReferenceSource,
        pub tried: Vec<u16>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    pub enum ReferenceSource {
        Given,
        OpenInRun,
        CommonPort,
        RandomPort,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Stats {
        pub sent: u32,
        pub received: u32,
        pub lost: u32,
        pub loss_pct: f64,
        pub min_ms: Nullable<f64>,
        pub avg_ms: Nullable<f64>,
        pub max_ms: Nullable<f64>,
        pub p95_ms: Nullable<f64>,
        pub stddev_ms: Nullable<f64>,
        pub p50_ms: Nullable<f64>,
        pub p99_ms: Nullable<f64>,
        pub tls_handshake: Nullable<Summary>,
        pub layers: Vec<LayerTally>,
        pub warmup: u32,
        pub attempts: Vec<Attempt>,
    }

    /// `stats.tls_handshake`: "the same summary (`min_ms` … `p99_ms`)".
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Summary {
        pub min_ms: Nullable<f64>,
        pub avg_ms: Nullable<f64>,
        pub max_ms: Nullable<f64>,
        pub p95_ms: Nullable<f64>,
        pub stddev_ms: Nullable<f64>,
        pub p50_ms: Nullable<f64>,
        pub p99_ms: Nullable<f64>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Attempt {
        pub seq: u32,
        pub state: AttemptState,
        pub reason: AttemptReason,
        pub connect_ms: f64,
        pub tls_handshake_ms: Nullable<f64>,
        pub tls_error: Nullable<TlsErrorKind>,
        pub stopped: Nullable<Stopped>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct LayerTally {
        pub layer: Layer,
        pub tried: u32,
        pub ok: u32,
        pub failed: u32,
        pub reasons: Vec<ReasonCount>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct ReasonCount {
        pub reason: String,
        pub count: u32,
    }
}

// ----- Checking real output ---------------------------------------------------------------

/// Documented keys the binary leaves out when they are empty (`null`, `false`, `[]`), as
/// `(object, key, documented empty value)`; the object is a path from the top level, `[]`
/// standing for every element of an array. The contract test puts them back before checking,
/// so every other documented key is required. Delete an entry once the binary writes the key
/// always (or the documentation says it may be absent).
const KNOWN_OMISSIONS: &[(&str, &str, &str)] = &[
    ("greeting", "asked", "null"),
    ("greeting", "over_tls", "false"),
    ("greeting", "hex", "null"),
    ("greeting", "capabilities", "null"),
    ("greeting", "ssh", "null"),
    ("greeting", "smtp", "null"),
    ("greeting", "mysql", "null"),
    ("greeting", "postgres", "null"),
    ("greeting", "redis", "null"),
    ("greeting", "http", "null"),
    ("greeting", "tls", "null"),
    ("greeting", "telnet", "null"),
    ("greeting", "found_by", "null"),
    ("greeting", "follow_ups", "[]"),
    ("greeting.ssh", "preamble", "[]"),
    ("greeting.smtp", "size", "null"),
    ("greeting.smtp", "auth", "[]"),
    ("greeting.mysql", "error_code", "null"),
    ("greeting.mysql", "error", "null"),
    ("greeting.http", "location", "null"),
    ("tls.chain[]", "ca_issuers_url", "null"),
    ("tls.chain[]", "pem", "null"),
    ("tls.chain[]", "parse_error", "null"),
    ("tls.error", "received", "null"),
];

/// The objects at `path` (dotted keys; `[]` after a key: each element of that array).
fn objects_at<'a>(value: &'a mut Value, path: &str) -> Vec<&'a mut serde_json::Map<String, Value>> {
    let mut here = vec![value];
    for step in path.split('.') {
        let (key, each) = match step.strip_suffix("[]") {
            Some(key) => (key, true),
            None => (step, false),
        };
        here = here
            .into_iter()
            .filter_map(|v| v.get_mut(key))
            .flat_map(|v| match (each, v) {
                (true, Value::Array(items)) => items.iter_mut().collect(),
                (true, _) => Vec::new(),
                (false, v) => vec![v],
            })
            .collect();
    }
    here.into_iter().filter_map(Value::as_object_mut).collect()
}

/// Checks one line against the mirror; returns it, and adds the omitted keys it put back to
/// `omitted` (as `object.key`).
pub(crate) fn check(line: &Value, omitted: &mut BTreeSet<String>) -> Report {
    let mut filled = line.clone();
    for (path, key, empty) in KNOWN_OMISSIONS {
        for object in objects_at(&mut filled, path) {
            if !object.contains_key(*key) {
                object.insert(key.to_string(), serde_json::from_str(empty).expect("JSON"));
                omitted.insert(format!("{path}.{key}"));
            }
        }
    }
    serde_json::from_value(filled)
        .unwrap_or_else(|e| panic!("does not match docs/json.md: {e}\nline: {line}"))
}

/// Runs `reach --json ARGS` and checks every line; at least one line must come out.
fn probe(args: &[&str], omitted: &mut BTreeSet<String>) -> Vec<Report> {
    let out = reach(&[&["--json"], args].concat());
    let lines = json_lines(&out);
    assert!(
        !lines.is_empty(),
        "no JSON from reach {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    lines.iter().map(|l| check(l, omitted)).collect()
}

/// Says which documented keys the binary left out (they were put back before checking).
fn report_omissions(omitted: &BTreeSet<String>) {
    if !omitted.is_empty() {
        eprintln!("documented keys left out when empty (KNOWN_OMISSIONS): {omitted:?}");
    }
}

/// A loopback listener that answers each connection with `reply`, on a thread: after reading
/// what the client sent first when `listen_first`, else at once.
fn scripted_server(listen_first: bool, reply: &'static [u8]) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().map_while(Result::ok) {
            if listen_first {
                let _ = stream.read(&mut [0u8; 1024]);
            }
            let _ = stream.write_all(reply);
        }
    });
    port
}

#[test]
fn tcp_dns_greeting_and_latency_lines_match_the_documented_json() {
    let mut omitted = BTreeSet::new();

    let closed = format!("127.0.0.1:{}", free_port());
    let r = &probe(&[&closed], &mut omitted)[0];
    assert_eq!(r.tcp.expect("tcp").state, TcpState::Closed);
    let stopped = r.stopped.expect("stopped");
    assert_eq!(
        (&stopped.layer, stopped.reason.as_str()),
        (&ProblemLayer::Tcp, "closed")
    );

    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let target = silent.local_addr().expect("addr").to_string();
    let r = &probe(&["--greeting-timeout", "200ms", &target], &mut omitted)[0];
    assert_eq!(r.tcp.expect("tcp").reason, TcpReason::SynAck);
    let silent_greeting = r.greeting.expect("greeting");
    assert_eq!(silent_greeting.state, GreetingState::Silent);
    // An unhinted silent port is asked what it is: the four follow-ups, none answered.
    assert_eq!(silent_greeting.follow_ups.len(), 4);
    assert!(silent_greeting.found_by.0.is_none());
    assert!(!r.service.expect("service").mismatch);

    let redirect = b"HTTP/1.1 301 Moved Permanently\r\nServer: contract/1.0\r\n\
                     Location: https://www.reach.test/\r\nContent-Length: 0\r\n\r\n";
    let url = format!("http://127.0.0.1:{}/", scripted_server(true, redirect));
    let r = &probe(&[&url], &mut omitted)[0];
    let greeting = r.greeting.expect("greeting");
    assert_eq!(greeting.asked.expect("asked"), "HEAD / HTTP/1.1");
    assert_eq!(
        greeting.identification.0,
        Some(Identification::NotIdentified),
        "contract/1.0 is no known product"
    );
    let http = greeting.http.expect("http");
    assert_eq!(http.status, 301);
    assert_eq!(http.location.expect("location"), "https://www.reach.test/");

    // A TLS alert record (fatal, handshake_failure) where a greeting was expected.
    let alert = format!(
        "127.0.0.1:{}",
        scripted_server(false, &[21, 3, 3, 0, 2, 2, 40])
    );
    let r = &probe(&["--no-tls", &alert], &mut omitted)[0];
    assert!(r.greeting.expect("greeting").tls.0.is_some());

    // Latency mode: every attempt, and the statistics.
    let args = ["-n", "2", "--interval", "10ms", "--no-tls", &target];
    let r = &probe(&args, &mut omitted)[0];
    let stats = r.stats.expect("stats");
    assert_eq!((stats.sent, stats.attempts.len()), (2, 2));
    assert!(stats.p95_ms.0.is_some() && stats.tls_handshake.0.is_none());
    drop(silent);

    // Name resolution through a DNS responder on loopback: resolved, then NXDOMAIN.
    let dns = DnsServer::start(&[(
        "contract.test",
        Answer::Addresses(vec!["127.0.0.1".parse().expect("ip")]),
    )]);
    let resolver = dns.addr.to_string();
    let name = format!("contract.test:{}", free_port());
    let r = &probe(&["--resolver", &resolver, &name], &mut omitted)[0];
    let resolved = r.dns.expect("dns");
    assert_eq!(resolved.outcome, DnsOutcome::Resolved);
    assert_eq!(resolved.addresses, ["127.0.0.1"]);
    let r = &probe(&["--resolver", &resolver, "nosuch.test:443"], &mut omitted)[0];
    assert_eq!(r.dns.expect("dns").outcome, DnsOutcome::Nxdomain);
    assert!(r.address.0.is_none() && r.tcp.0.is_none());
    report_omissions(&omitted);
}

#[test]
fn trace_lines_match_the_documented_json() {
    let mut omitted = BTreeSet::new();
    // Loopback: one hop, the destination itself (no ICMP, no router: the lab has those).
    let open = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let target = open.local_addr().expect("addr").to_string();
    let args = [
        "--trace",
        "--no-tls",
        "--greeting-timeout",
        "200ms",
        &target,
    ];
    let r = &probe(&args, &mut omitted)[0];
    let trace = r.trace.expect("trace");
    if cfg!(target_os = "linux") {
        assert_eq!(trace.diagnosis.word, DiagnosisWord::Reached);
        assert_eq!(trace.hops.len(), 1);
        assert_eq!(trace.hops[0].reply, HopReply::SynAck);
        assert!(trace.hops[0].also.is_empty());
    } else {
        // Elsewhere the trace says it cannot be done, with no hop at all.
        assert_eq!(trace.ended, TraceEnd::Unsupported);
        assert_eq!(trace.diagnosis.word, DiagnosisWord::Unknown);
        assert!(trace.diagnosis.hop.0.is_none());
        assert!(trace.hops.is_empty());
    }
    report_omissions(&omitted);
}

#[test]
fn trace_lines_through_the_lab_match_the_documented_json() {
    if lab::serve_child_request() {
        return;
    }
    let Some(mut lab) = Lab::up_or_skip() else {
        return;
    };
    lab.listen();
    let mut omitted = BTreeSet::new();
    // A rejection by r1 (ICMP on the path) and a reset forged by r2 (measured against the
    // reference port).
    let rejected = std::net::SocketAddr::new(lab::SERVER_V4, lab::PORT_ADMIN_PROHIBITED_AT_R1);
    let reset = std::net::SocketAddr::new(lab::SERVER_V4, lab::PORT_RESET_BY_R2);
    let args = [
        "--json",
        "--no-tls",
        "--timeout",
        "1s",
        "--trace",
        "--reference-port",
        &lab::PORT_OPEN.to_string(),
        &rejected.to_string(),
        &reset.to_string(),
    ];
    let out = lab.run(
        Role::Client,
        env!("CARGO_BIN_EXE_reach"),
        &args,
        std::time::Duration::from_secs(60),
    );
    let reports: Vec<Report> = out
        .stdout
        .lines()
        .map(|l| {
            let line = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            check(&line, &mut omitted)
        })
        .collect();
    assert_eq!(reports.len(), 2, "{}{}", out.stdout, out.stderr);
    let by_port = |port| {
        reports
            .iter()
            .find(|r| r.port == port)
            .unwrap_or_else(|| panic!("no line for port {port}: {}", out.stdout))
    };
    let r = by_port(rejected.port());
    let tcp = r.tcp.expect("tcp");
    assert_eq!(tcp.reason, TcpReason::IcmpAdminProhibited);
    assert!(tcp.icmp.0.is_some() && tcp.icmp_from.0.is_some());
    let trace = r.trace.expect("trace");
    assert_eq!(trace.diagnosis.word, DiagnosisWord::RejectedAt);
    assert_eq!(trace.ended, TraceEnd::Rejected);
    assert!(trace.hops.iter().any(|h| h.icmp.0.is_some()));
    let trace = by_port(reset.port()).trace.expect("trace");
    assert_eq!(trace.diagnosis.word, DiagnosisWord::MiddleboxReset);
    let reference = trace.reference.expect("reference");
    assert_eq!(*reference.hops.expect("hops"), 3);
    assert_eq!(reference.source, ReferenceSource::Given);
    report_omissions(&omitted);
}

#[test]
fn tls_lines_match_the_documented_json() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut omitted = BTreeSet::new();
    let ca = root("Contract Root");
    let named = ca.issue(&LeafSpec::server(&["a.test"])).expect("leaf");
    let default = ca
        .issue(&LeafSpec {
            validity: Validity::EndsIn(3),
            ..LeafSpec::server(&["default.test"])
        })
        .expect("leaf");
    let dir = TempDir::new("contract");
    let ca_file = dir.write("ca.pem", &ca.cert_pem());
    let ca_file = ca_file.to_str().expect("utf-8 path");
    let spec = routes(&[("a.test", &named)], Some(&default));
    let srv = runtime.block_on(server(spec));
    let target = srv.addr().to_string();
    let trust = ["--ca-file", ca_file, "--greeting-timeout", "200ms"];

    // A name the server does not route: its default certificate, PEM on request.
    let args = [&trust[..], &["--sni", "b.test", "--show-certs", &target]].concat();
    let r = &probe(&args, &mut omitted)[0];
    let tls = r.tls.expect("tls");
    assert_eq!(tls.vhost.expect("vhost"), &Vhost::DefaultFallback);
    assert!(tls.default_cert.0.is_some() && tls.ocsp.0.is_some());
    assert!(tls.chain[0].pem.0.is_some());
    let verify = tls.verify.expect("verify");
    assert!(verify.errors.contains(&CertificateError::NameMismatch));
    assert_eq!(r.stopped.expect("stopped").layer, ProblemLayer::Vhost);

    // Every certificate and TLS expectation, failing or not, in `expect[]`.
    let no_such_pin = "00".repeat(32);
    let args = [
        &trust[..],
        &[
            "--sni",
            "a.test",
            "--expect-state",
            "open",
            "--min-days",
            "1",
            "--warn-days",
            "400",
            "--crit-days",
            "1",
            "--expect-san",
            "a.test",
            "--expect-issuer",
            "Contract",
            "--expect-subject",
            "a.test",
            "--expect-fingerprint",
            &no_such_pin,
            "--expect-tls-min",
            "1.2",
            "--expect-alpn",
            "h2",
            "--expect-banner",
            "hello",
            "--expect-vhost",
            "matched",
            "--expect-same-cert",
            &target,
        ],
    ]
    .concat();
    let r = &probe(&args, &mut omitted)[0];
    assert_eq!(r.expect.len(), 13, "{:?}", r.expect);
    assert!(
        r.expect
            .iter()
            .any(|e| e.check == ExpectCheck::SameCert && e.ok)
    );
    assert!(
        r.expect
            .iter()
            .any(|e| e.check == ExpectCheck::Fingerprint && !e.ok)
    );

    // `https://`: the greeting is read inside TLS.
    let url = format!("https://{target}/");
    let r = &probe(
        &[&trust[..], &["--sni", "a.test", &url]].concat(),
        &mut omitted,
    )[0];
    assert_eq!(r.tls.expect("tls").vhost.expect("vhost"), &Vhost::Matched);
    assert!(r.greeting.expect("greeting").over_tls);

    // Latency mode over TLS: handshake statistics too.
    let args = [&trust[..], &["-n", "2", "--interval", "10ms", &target]].concat();
    let r = &probe(&args, &mut omitted)[0];
    let stats = r.stats.expect("stats");
    assert!(
        stats
            .tls_handshake
            .expect("tls_handshake")
            .p95_ms
            .0
            .is_some()
    );
    assert!(
        stats
            .attempts
            .iter()
            .all(|a| a.tls_handshake_ms.0.is_some())
    );

    // A server asking for a client certificate.
    let mut spec = routes(&[], Some(&named));
    spec.client_ca = vec![ca.cert().clone()];
    let mtls = runtime.block_on(server(spec));
    let r = &probe(
        &[&trust[..], &["--sni", "a.test", &mtls.addr().to_string()]].concat(),
        &mut omitted,
    )[0];
    let tls = r.tls.expect("tls");
    assert_eq!(tls.client_cert_requested, Some(true));
    assert_eq!(tls.error.expect("error").kind, TlsErrorKind::Alert);

    // A banner where TLS was expected: `not_tls`, with what came instead.
    let banner = runtime.block_on(server(ServerSpec {
        behaviour: Behaviour::Banner(b"220 contract.test ESMTP\r\n".to_vec()),
        ..Default::default()
    }));
    let target = banner.addr().to_string();
    let r = &probe(&[&trust[..], &["--tls", &target]].concat(), &mut omitted)[0];
    let error = r.tls.expect("tls").error.expect("error");
    assert_eq!(error.kind, TlsErrorKind::NotTls);
    assert!(error.received.0.is_some());
    drop(srv);
    report_omissions(&omitted);
}

#[test]
fn legacy_tls_lines_match_the_documented_json() {
    let Some(openssl) = require_binary(&["openssl"], "openssl") else {
        return;
    };
    let mut omitted = BTreeSet::new();
    let ca = root("Contract Legacy Root");
    let leaf = ca
        .issue(&LeafSpec {
            key: KeyKind::Rsa2048,
            ..LeafSpec::server(&["legacy.test"])
        })
        .expect("leaf");
    let dir = TempDir::new("contract-legacy");
    let cert = dir.write("server.pem", &leaf.chain_pem());
    let key = dir.write("server.key", &leaf.key_pem());
    let ca_file = dir.write("ca.pem", &ca.cert_pem());
    let port = free_port();
    let mut cmd = Command::new(openssl);
    cmd.args(["s_server", "-accept", &loopback(port).to_string(), "-quiet"])
        .arg("-cert")
        .arg(&cert)
        .arg("-key")
        .arg(&key)
        .args(["-tls1", "-cipher", "DEFAULT@SECLEVEL=0"]);
    let _server = Daemon::start("s_server", cmd, &dir, &[port]);
    let args = [
        "--ca-file",
        ca_file.to_str().expect("utf-8 path"),
        "--sni",
        "legacy.test",
        "--tls",
        &loopback(port).to_string(),
    ];
    let r = &probe(&args, &mut omitted)[0];
    let tls = r.tls.expect("tls");
    assert_eq!(tls.legacy.expect("legacy").version, "TLSv1.0");
    assert_eq!(tls.error.expect("error").kind, TlsErrorKind::LegacyVersion);
    report_omissions(&omitted);
}

#[test]
fn daemon_greetings_and_starttls_lines_match_the_documented_json() {
    let mut omitted = BTreeSet::new();

    let Some(postfix) = mail::postfix() else {
        return;
    };
    let target = format!("127.0.0.1:{}", postfix.port);
    let args = ["--starttls", "smtp", "--sni", "localhost", &target];
    let r = &probe(&args, &mut omitted)[0];
    let starttls = r.starttls.expect("starttls");
    assert_eq!(
        (&starttls.protocol, &starttls.result),
        (&StarttlsProtocol::Smtp, &StarttlsResult::Negotiated)
    );
    let greeting = r.greeting.expect("greeting");
    assert!(greeting.smtp.0.is_some() && greeting.capabilities.0.is_some());
    assert!(r.tls.expect("tls").verify.0.is_some());
    drop(postfix);

    let Some(sshd) = mail::sshd() else { return };
    let target = format!("127.0.0.1:{}", sshd.port);
    let r = &probe(&["--no-tls", &target], &mut omitted)[0];
    let ssh = r.greeting.expect("greeting").ssh.expect("ssh");
    assert!(ssh.software.starts_with("OpenSSH_"), "{ssh:?}");
    drop(sshd);

    let Some(redis) = web::redis(None) else {
        return;
    };
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let r = &probe(&[&url], &mut omitted)[0];
    let reply = r.greeting.expect("greeting").redis.expect("redis");
    assert_eq!(reply.reply, "PONG");
    drop(redis);

    let Some(cluster) = db::pg_cluster() else {
        return;
    };
    let pg = cluster.start(true);
    let target = format!("127.0.0.1:{}", pg.port);
    let args = ["--starttls", "postgres", "--no-sni", &target];
    let r = &probe(&args, &mut omitted)[0];
    assert!(
        r.greeting
            .expect("greeting")
            .postgres
            .expect("postgres")
            .ssl
    );
    assert_eq!(
        r.starttls.expect("starttls").protocol,
        StarttlsProtocol::Postgres
    );
    drop(pg);

    let Some(mariadb) = db::mariadb(true) else {
        return;
    };
    let target = format!("127.0.0.1:{}", mariadb.port);
    let r = &probe(&["--starttls", "mysql", &target], &mut omitted)[0];
    let mysql = r.greeting.expect("greeting").mysql.expect("mysql");
    assert_eq!(mysql.ssl, Value::Bool(true));
    report_omissions(&omitted);
}
