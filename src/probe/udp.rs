//! One UDP probe of one address: an application request chosen by port (or `--udp-probe`),
//! sent with retries inside one deadline on a connected socket, and the outcome classified
//! into the UDP verdict words exactly once, here. An answer is parsed like a greeting.

pub(crate) mod ber;
pub(crate) mod dns;
pub(crate) mod ntp;
pub(crate) mod snmp;
pub(crate) mod socket;
pub(crate) mod wire;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

pub use dns::DnsQuery;

use crate::platform::{self, ConnectError, IcmpError};
use crate::report::udp::{UdpAnswer, UdpProbeKind, UdpSent};
use crate::report::{IcmpInfo, TcpReason, TcpState, UdpReason, UdpReport, UdpState};
use socket::{Heard, ProbeSocket};

/// Parsed fields kept at most per answer.
const MAX_FIELDS: usize = 64;

/// What a UDP probe does: the UDP part of the probe options, built by `config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpOptions {
    /// Probe every port over UDP (`-u`); otherwise only `udp://` targets are.
    pub all: bool,
    /// The whole deadline of one probe (`--timeout`): past it, silence is `open_filtered`.
    pub timeout: Duration,
    /// Datagrams re-sent after the first when nothing came back (`--udp-retries`), spread
    /// evenly over the deadline.
    pub retries: u32,
    /// The application probe, instead of the port's (`--udp-probe`).
    pub probe: Option<UdpProbeKind>,
    /// What the DNS probe asks (`--query`).
    pub query: DnsQuery,
    /// The SNMP community (`--snmp-community`): a credential, sent only when given.
    pub snmp_community: Option<String>,
    /// The bytes to send instead of any probe (`--udp-payload`).
    pub payload: Option<Vec<u8>>,
}

impl Default for UdpOptions {
    fn default() -> Self {
        UdpOptions {
            all: false,
            timeout: Duration::from_secs(3),
            retries: 2,
            probe: None,
            query: DnsQuery::default(),
            snmp_community: None,
            payload: None,
        }
    }
}

/// A parsed answer: its protocol, one line, and named fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Parsed {
    pub(crate) protocol: &'static str,
    pub(crate) summary: String,
    pub(crate) fields: Vec<(&'static str, String)>,
}

/// The probe a port gets without `--udp-probe`: the service registered for it, else an empty
/// datagram (the least a port can be asked).
pub fn probe_for_port(port: u16) -> UdpProbeKind {
    match port {
        53 => UdpProbeKind::Dns,
        123 => UdpProbeKind::Ntp,
        161 => UdpProbeKind::Snmp,
        _ => UdpProbeKind::Empty,
    }
}

/// `--udp-probe` names.
pub fn probe_by_name(name: &str) -> Option<UdpProbeKind> {
    Some(match name.to_ascii_lowercase().as_str() {
        "dns" => UdpProbeKind::Dns,
        "ntp" => UdpProbeKind::Ntp,
        "snmp" => UdpProbeKind::Snmp,
        "empty" | "none" => UdpProbeKind::Empty,
        _ => return None,
    })
}

fn choose(port: u16, options: &UdpOptions) -> UdpProbeKind {
    if options.payload.is_some() {
        return UdpProbeKind::Payload;
    }
    options.probe.unwrap_or_else(|| probe_for_port(port))
}

/// One request: its datagram and what it says.
struct Request {
    kind: UdpProbeKind,
    what: String,
    bytes: Vec<u8>,
    not_sent: Option<String>,
    id: u16,
}

/// A request id that differs between probes (answers are matched by it where the protocol
/// has one); not a secret, so the clock is random enough.
fn fresh_id(port: u16) -> u16 {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    (nanos ^ (nanos >> 16)) as u16 ^ port.rotate_left(7)
}

fn build(kind: UdpProbeKind, options: &UdpOptions, id: u16, now: SystemTime) -> Request {
    let (what, bytes, not_sent) = match kind {
        UdpProbeKind::Dns => (
            format!("DNS query {} (id 0x{id:04x})", options.query.describe()),
            dns::query(&options.query, id),
            None,
        ),
        UdpProbeKind::Ntp => (
            "NTP client request (version 4, mode 3)".to_string(),
            ntp::request(now),
            None,
        ),
        UdpProbeKind::Payload => (
            "the --udp-payload bytes".to_string(),
            options.payload.clone().unwrap_or_default(),
            None,
        ),
        UdpProbeKind::Snmp => match &options.snmp_community {
            Some(community) => (
                "SNMPv2c GetRequest sysDescr.0 with the --snmp-community community".to_string(),
                snmp::get_sys_descr(community, id),
                None,
            ),
            None => (
                "SNMPv3 engine discovery (no user, no community: not an authentication \
                 attempt)"
                    .to_string(),
                snmp::discovery(id),
                Some(
                    "no SNMPv1/v2c request: a community string is a credential, sent only \
                     with --snmp-community (then sysDescr.0 is asked)"
                        .to_string(),
                ),
            ),
        },
        UdpProbeKind::Empty | UdpProbeKind::Netbios | UdpProbeKind::Cldap | UdpProbeKind::Stun => (
            "an empty datagram (no application probe for this port; --udp-probe or \
             --udp-payload choose one)"
                .to_string(),
            Vec::new(),
            None,
        ),
    };
    Request {
        kind,
        what,
        bytes,
        not_sent,
        id,
    }
}

/// Parses an answer to `request` (`transmits`: NTP's transmit timestamps, one per datagram).
fn parse(request: &Request, answer: &[u8], transmits: &[u64], at: SystemTime) -> UdpAnswer {
    let parsed = match request.kind {
        UdpProbeKind::Dns => Some(dns::parse(answer, request.id)),
        UdpProbeKind::Ntp => Some(ntp::parse(answer, transmits, at)),
        UdpProbeKind::Snmp => Some(snmp::parse(answer)),
        _ => None,
    };
    let mut out = UdpAnswer {
        bytes: answer.len(),
        hex: wire::hex(answer),
        text: wire::printable(answer),
        ..UdpAnswer::default()
    };
    match parsed {
        Some(Ok(p)) => {
            out.protocol = Some(p.protocol.to_string());
            out.summary = Some(p.summary);
            out.fields = p
                .fields
                .into_iter()
                .take(MAX_FIELDS)
                .map(|(k, v)| (k.to_string(), wire::bound(v)))
                .collect::<BTreeMap<_, _>>();
        }
        Some(Err(why)) => out.parse_error = Some(why),
        None => {}
    }
    out
}

/// The answer `data` as each request kind would report it (fuzzing: every parser, bounded).
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn parse_all_kinds(data: &[u8], id: u16, at: SystemTime) -> Vec<UdpAnswer> {
    let options = UdpOptions {
        snmp_community: Some("fuzz".into()),
        ..UdpOptions::default()
    };
    [
        UdpProbeKind::Dns,
        UdpProbeKind::Ntp,
        UdpProbeKind::Snmp,
        UdpProbeKind::Empty,
    ]
    .into_iter()
    .map(|kind| {
        let request = build(kind, &options, id, at);
        let transmits: Vec<u64> = ntp::transmitted(&request.bytes).into_iter().collect();
        parse(&request, data, &transmits, at)
    })
    .collect()
}

/// Probes `addr` over UDP and classifies the outcome. Never fails: local problems are
/// verdicts too. Takes at most `options.timeout` (plus a socket's setup).
pub async fn probe(addr: SocketAddr, options: &UdpOptions) -> UdpReport {
    let started = Instant::now();
    let kind = choose(addr.port(), options);
    let mut request = build(kind, options, fresh_id(addr.port()), SystemTime::now());
    let sends = options.retries.saturating_add(1);
    let mut report = UdpReport {
        state: UdpState::OpenFiltered,
        reason: UdpReason::NoAnswer,
        icmp_from: None,
        icmp: None,
        errno: None,
        probe: kind,
        sent: UdpSent {
            what: request.what.clone(),
            bytes: request.bytes.len(),
            datagrams: 0,
            hex: wire::hex(&request.bytes),
        },
        not_sent: request.not_sent.clone(),
        rtt_ms: None,
        elapsed_ms: 0.0,
        icmp_evidence: crate::probe::tcp::evidence_word(platform::Evidence::Unavailable),
        answer: None,
    };
    let socket = match ProbeSocket::open(addr) {
        Ok(s) => s,
        Err(e) => {
            classify_error(&mut report, addr, e.raw_os_error(), &[], None);
            report.elapsed_ms = ms(started.elapsed());
            return report;
        }
    };
    report.icmp_evidence = crate::probe::tcp::evidence_word(socket.evidence);
    let mut transmits = Vec::new();
    let mut heard = Heard::Silence;
    let mut last_send = Instant::now();
    for i in 0..sends {
        if request.kind == UdpProbeKind::Ntp && i > 0 {
            // A fresh transmit timestamp: the answer's origin says which datagram it answers.
            request.bytes = ntp::request(SystemTime::now());
        }
        transmits.extend(ntp::transmitted(&request.bytes));
        last_send = Instant::now();
        if let Err(e) = socket.send(&request.bytes).await {
            // A connected socket reports an ICMP error for an earlier datagram on the next
            // send too.
            heard = Heard::Error(e.raw_os_error(), socket.icmp_errors());
            break;
        }
        report.sent.datagrams += 1;
        // Datagram i is given its share of the deadline; the last one what is left.
        let share = options.timeout.mul_f64(f64::from(i + 1) / f64::from(sends));
        let until = tokio::time::Instant::from_std(started + share);
        heard = socket.wait(until).await;
        if !matches!(heard, Heard::Silence) {
            break;
        }
    }
    match heard {
        Heard::Answer(bytes, at) => {
            report.state = UdpState::Open;
            report.reason = UdpReason::Answer;
            report.rtt_ms = Some(ms(at.saturating_duration_since(last_send)));
            let wall = SystemTime::now()
                .checked_sub(at.elapsed())
                .unwrap_or_else(SystemTime::now);
            report.answer = Some(parse(&request, &bytes, &transmits, wall));
        }
        Heard::Error(code, queued) => {
            classify_error(&mut report, addr, code, &queued, socket.local);
        }
        Heard::Silence => {}
    }
    report.elapsed_ms = ms(started.elapsed());
    report
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn is_port_unreachable(icmp: &IcmpError) -> bool {
    matches!(
        (icmp.version, icmp.icmp_type, icmp.code),
        (4, 3, 3) | (6, 1, 4)
    )
}

/// Classifies an error (a code, ICMP errors queued) into the UDP words: the TCP classifier's
/// reading of the ICMP, except that a port unreachable from the host itself means `closed`
/// (for UDP it is the host's own "nothing listens here", as a RST is for TCP).
pub(crate) fn classify_error(
    report: &mut UdpReport,
    addr: SocketAddr,
    code: Option<i32>,
    queued: &[IcmpError],
    local: Option<std::net::IpAddr>,
) {
    report.errno = code.or_else(|| queued.last().and_then(|q| q.os_error));
    if let Some(icmp) = queued.last()
        && is_port_unreachable(icmp)
        && icmp.offender == Some(addr.ip())
    {
        report.state = UdpState::Closed;
        report.reason = UdpReason::IcmpPortUnreachable;
        report.icmp_from = icmp.offender;
        report.icmp = Some(icmp_info(icmp));
        return;
    }
    if queued.is_empty() && code.map(platform::udp_error) == Some(ConnectError::Refused) {
        // The system says "port unreachable" and not who sent it.
        report.state = UdpState::Closed;
        report.reason = UdpReason::Refused;
        return;
    }
    let tcp =
        crate::probe::tcp::classify(code, queued, local, 0.0, platform::Evidence::Unavailable);
    report.state = match tcp.state {
        TcpState::Open => UdpState::Open,
        TcpState::Closed => UdpState::Closed,
        TcpState::Rejected => UdpState::Rejected,
        TcpState::Unreachable => UdpState::Unreachable,
        TcpState::Filtered => UdpState::OpenFiltered,
        TcpState::Error => UdpState::Error,
    };
    report.reason = match tcp.reason {
        TcpReason::SynAck => UdpReason::Answer,
        TcpReason::Rst => UdpReason::Refused,
        TcpReason::IcmpAdminProhibited => UdpReason::IcmpAdminProhibited,
        TcpReason::IcmpPortUnreachable => UdpReason::IcmpPortUnreachable,
        TcpReason::IcmpHostUnreachable => UdpReason::IcmpHostUnreachable,
        TcpReason::IcmpNetUnreachable => UdpReason::IcmpNetUnreachable,
        TcpReason::IcmpProtocolUnreachable => UdpReason::IcmpProtocolUnreachable,
        TcpReason::IcmpTimeExceeded => UdpReason::IcmpTimeExceeded,
        TcpReason::IcmpOther => UdpReason::IcmpOther,
        TcpReason::NoRoute => UdpReason::NoRoute,
        TcpReason::Timeout => UdpReason::NoAnswer,
        TcpReason::LocalPolicy => UdpReason::LocalPolicy,
        TcpReason::LocalIcmp => UdpReason::LocalIcmp,
        TcpReason::LocalResources => UdpReason::LocalResources,
        TcpReason::LocalError => UdpReason::LocalError,
    };
    report.icmp_from = tcp.icmp_from;
    report.icmp = tcp.icmp;
}

fn icmp_info(icmp: &IcmpError) -> IcmpInfo {
    IcmpInfo {
        version: icmp.version,
        icmp_type: icmp.icmp_type,
        code: icmp.code,
        name: crate::probe::tcp::icmp_name(icmp.version, icmp.icmp_type, icmp.code).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    fn blank() -> UdpReport {
        UdpReport {
            state: UdpState::OpenFiltered,
            reason: UdpReason::NoAnswer,
            icmp_from: None,
            icmp: None,
            errno: None,
            probe: UdpProbeKind::Empty,
            sent: UdpSent {
                what: String::new(),
                bytes: 0,
                datagrams: 1,
                hex: String::new(),
            },
            not_sent: None,
            rtt_ms: None,
            elapsed_ms: 0.0,
            icmp_evidence: crate::report::IcmpEvidence::ErrorQueue,
            answer: None,
        }
    }

    fn icmp(t: u8, c: u8, from: &str) -> IcmpError {
        IcmpError {
            version: 4,
            icmp_type: t,
            code: c,
            os_error: None,
            offender: Some(from.parse().unwrap()),
        }
    }

    fn verdict(queued: &[IcmpError]) -> (UdpState, UdpReason) {
        let mut r = blank();
        let addr: SocketAddr = "203.0.113.10:53".parse().unwrap();
        let local = Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)));
        classify_error(&mut r, addr, None, queued, local);
        (r.state, r.reason)
    }

    #[test]
    fn port_unreachable_is_closed_from_the_host_and_rejected_from_anyone_else() {
        use UdpReason as R;
        use UdpState as S;
        assert_eq!(
            verdict(&[icmp(3, 3, "203.0.113.10")]),
            (S::Closed, R::IcmpPortUnreachable)
        );
        assert_eq!(
            verdict(&[icmp(3, 3, "192.0.2.1")]),
            (S::Rejected, R::IcmpPortUnreachable)
        );
        assert_eq!(
            verdict(&[icmp(3, 13, "192.0.2.1")]),
            (S::Rejected, R::IcmpAdminProhibited)
        );
        assert_eq!(
            verdict(&[icmp(3, 1, "198.51.100.2")]),
            (S::Unreachable, R::IcmpHostUnreachable)
        );
        assert_eq!(
            verdict(&[icmp(3, 13, "192.0.2.2")]),
            (S::Error, R::LocalIcmp)
        );
    }

    #[test]
    fn a_refusal_without_a_sender_is_closed() {
        let mut r = blank();
        let addr: SocketAddr = "203.0.113.10:53".parse().unwrap();
        let refused = crate::platform::code_for(ConnectError::Refused);
        classify_error(&mut r, addr, Some(refused), &[], None);
        assert_eq!((r.state, r.reason), (UdpState::Closed, UdpReason::Refused));
    }

    #[test]
    fn every_parser_takes_garbage_and_truncations_without_panicking() {
        let at = SystemTime::now();
        let mut seeds: Vec<Vec<u8>> = vec![Vec::new(), vec![0xff; 600], vec![0x30, 0x82, 0xff]];
        seeds.push(snmp::discovery(3));
        seeds.push(dns::query(&DnsQuery::default(), 9));
        for seed in &seeds {
            for cut in 0..=seed.len().min(80) {
                for answer in parse_all_kinds(&seed[..cut], 9, at) {
                    assert!(answer.hex.len() <= 2 * wire::SHOWN_BYTES + 3);
                }
            }
        }
    }

    #[test]
    fn ports_choose_their_probe_and_a_payload_wins() {
        assert_eq!(probe_for_port(53), UdpProbeKind::Dns);
        assert_eq!(probe_for_port(40000), UdpProbeKind::Empty);
        let options = UdpOptions {
            payload: Some(vec![1]),
            probe: Some(UdpProbeKind::Ntp),
            ..UdpOptions::default()
        };
        assert_eq!(choose(53, &options), UdpProbeKind::Payload);
    }

    #[tokio::test]
    async fn a_closed_loopback_port_is_closed_by_loopback_itself() {
        if crate::platform::wine_cannot(
            "Wine does not turn an ICMP port unreachable into WSAECONNRESET on a UDP receive",
        ) {
            return;
        }
        let closed = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = closed.local_addr().unwrap();
        drop(closed);
        let r = probe(addr, &UdpOptions::default()).await;
        assert_eq!(r.state, UdpState::Closed, "{r:?}");
        if cfg!(target_os = "linux") {
            assert_eq!(r.reason, UdpReason::IcmpPortUnreachable);
            assert_eq!(r.icmp_from, Some(addr.ip()));
        }
        assert!(r.elapsed_ms < 2000.0);
    }

    #[tokio::test]
    async fn a_silent_port_is_open_filtered_after_every_retry_within_the_deadline() {
        // A bound socket that never answers.
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let options = UdpOptions {
            timeout: Duration::from_millis(300),
            retries: 2,
            ..UdpOptions::default()
        };
        let r = probe(silent.local_addr().unwrap(), &options).await;
        assert_eq!(
            (r.state, r.reason),
            (UdpState::OpenFiltered, UdpReason::NoAnswer)
        );
        assert_eq!(r.sent.datagrams, 3);
        assert!(
            r.elapsed_ms >= 290.0 && r.elapsed_ms < 1500.0,
            "{}",
            r.elapsed_ms
        );
        let mut buf = [0u8; 16];
        silent
            .set_read_timeout(Some(Duration::from_secs(1)))
            .unwrap();
        assert_eq!(
            silent.recv(&mut buf).unwrap(),
            0,
            "an empty datagram was sent"
        );
    }
}
