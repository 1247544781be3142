//! One TCP connect to one address, classified into the verdict vocabulary exactly once, here.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpSocket, TcpStream};

use crate::platform::{self, ConnectError, Evidence, IcmpError};
use crate::report::{IcmpEvidence, IcmpInfo, TcpReason, TcpReport, TcpState};

/// Options for one connect.
#[derive(Debug, Clone, Copy)]
pub struct ConnectOptions {
    /// Our deadline: past it, the port is `filtered`.
    pub timeout: Duration,
    /// IP TTL / hop limit for the SYN (`None`: the system default). Used by the tracer.
    pub ttl: Option<u32>,
}

/// The verdict of one connect, and the stream when it is open.
#[derive(Debug)]
pub struct Connected {
    /// The classified verdict.
    pub report: TcpReport,
    /// The connected stream (only when `report.state` is `open`; `None` also when the
    /// server reset the connection right after accepting it).
    pub stream: Option<TcpStream>,
}

/// Connects to `addr` and classifies the outcome. Never fails: local problems are verdicts too.
pub async fn connect(addr: SocketAddr, options: ConnectOptions) -> Connected {
    connect_until(addr, options, tokio::time::sleep(options.timeout)).await
}

/// [`connect`], giving up when `give_up` completes instead of after `options.timeout` (which
/// the platform still gets as its hint): the adaptive deadlines of [`super::timing`].
pub(crate) async fn connect_until(
    addr: SocketAddr,
    options: ConnectOptions,
    give_up: impl std::future::Future<Output = ()>,
) -> Connected {
    let started = Instant::now();
    let elapsed_ms = || started.elapsed().as_secs_f64() * 1000.0;
    let failed = |e: std::io::Error, ms: f64| Connected {
        report: classify(e.raw_os_error(), &[], None, ms, Evidence::Unavailable),
        stream: None,
    };
    let socket = match prepare_socket(addr, options.ttl) {
        Ok(s) => s,
        Err(e) => return failed(e, elapsed_ms()),
    };
    let evidence = platform::before_connect(&socket, addr, options.timeout);
    // A second handle on the same socket, so its ICMP evidence can still be read after tokio
    // has dropped its copy on failure.
    let keep = match socket.try_clone() {
        Ok(k) => k,
        Err(e) => return failed(e, elapsed_ms()),
    };
    let tokio_socket = TcpSocket::from_std_stream(socket.into());
    let outcome = tokio::select! {
        biased;
        connected = tokio_socket.connect(addr) => Ok(connected),
        () = give_up => Err(()),
    };
    let ms = elapsed_ms();
    let os_error = match outcome {
        Ok(Ok(stream)) => {
            platform::after_connect(&keep, addr);
            let report = TcpReport {
                state: TcpState::Open,
                reason: TcpReason::SynAck,
                icmp_from: None,
                icmp: None,
                errno: None,
                connect_ms: ms,
                icmp_evidence: evidence_word(evidence),
            };
            return Connected {
                report,
                stream: Some(stream),
            };
        }
        Ok(Err(e)) => e.raw_os_error(),
        // Our deadline. An ICMP may have arrived for a retransmitted SYN just as it fired.
        Err(_elapsed) => None,
    };
    // The handshake completed and the server reset the connection before we looked: a SYN
    // answered by RST is "refused", so "reset" means the port is open (a server that accepts
    // and resets at once, SO_LINGER 0). The reset belongs to the layer above.
    if os_error.map(platform::connect_error) == Some(ConnectError::Reset) {
        return Connected {
            report: TcpReport {
                state: TcpState::Open,
                reason: TcpReason::SynAck,
                icmp_from: None,
                icmp: None,
                errno: os_error,
                connect_ms: ms,
                icmp_evidence: evidence_word(evidence),
            },
            stream: None,
        };
    }
    let queued = platform::icmp_errors(&keep);
    let local = keep
        .local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .map(|a| a.ip());
    let os_error = os_error
        .or_else(|| queued.first().and_then(|q| q.os_error))
        .or(Some(platform::TIMED_OUT));
    Connected {
        report: classify(os_error, &queued, local, ms, evidence),
        stream: None,
    }
}

fn prepare_socket(addr: SocketAddr, ttl: Option<u32>) -> std::io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_nonblocking(true)?;
    socket.set_tcp_nodelay(true)?;
    if let Some(ttl) = ttl {
        if addr.is_ipv6() {
            socket.set_unicast_hops_v6(ttl)?;
        } else {
            socket.set_ttl_v4(ttl)?;
        }
    }
    Ok(socket)
}

pub(crate) fn evidence_word(evidence: Evidence) -> IcmpEvidence {
    match evidence {
        Evidence::ErrorQueue => IcmpEvidence::ErrorQueue,
        Evidence::IcmpErrorInfo => IcmpEvidence::IcmpErrorInfo,
        Evidence::Unavailable => IcmpEvidence::Unavailable,
    }
}

/// Turns what the system told us into a verdict.
///
/// `os_error` is the connect's error code (the platform's "timed out" for our own deadline),
/// `queued` the ICMP errors the platform recorded, `local` our own address (an ICMP from it
/// means the refusal was local). Pure, so every code/ICMP pair is unit-tested.
pub(crate) fn classify(
    os_error: Option<i32>,
    queued: &[IcmpError],
    local: Option<IpAddr>,
    connect_ms: f64,
    evidence: Evidence,
) -> TcpReport {
    let icmp_evidence = evidence_word(evidence);
    if let Some(icmp) = queued.last() {
        let (mut state, mut reason) = classify_icmp(icmp);
        let from_self = icmp.offender.is_some() && icmp.offender == local;
        if from_self && state == TcpState::Rejected {
            // Our own firewall answered on the way out: nothing reached the network.
            state = TcpState::Error;
            reason = TcpReason::LocalIcmp;
        }
        return TcpReport {
            state,
            reason,
            icmp_from: icmp.offender,
            icmp: Some(IcmpInfo {
                version: icmp.version,
                icmp_type: icmp.icmp_type,
                code: icmp.code,
                name: icmp_name(icmp.version, icmp.icmp_type, icmp.code).to_string(),
            }),
            errno: os_error.or(icmp.os_error),
            connect_ms,
            icmp_evidence,
        };
    }
    let (state, reason) = match os_error.map(platform::connect_error) {
        Some(ConnectError::Refused) => (TcpState::Closed, TcpReason::Rst),
        Some(ConnectError::TimedOut) => (TcpState::Filtered, TcpReason::Timeout),
        Some(ConnectError::NetUnreachable | ConnectError::HostUnreachable) => {
            (TcpState::Unreachable, TcpReason::NoRoute)
        }
        Some(ConnectError::Denied) => (TcpState::Error, TcpReason::LocalPolicy),
        Some(ConnectError::Resources) => (TcpState::Error, TcpReason::LocalResources),
        _ => (TcpState::Error, TcpReason::LocalError),
    };
    TcpReport {
        state,
        reason,
        icmp_from: None,
        icmp: None,
        errno: os_error,
        connect_ms,
        icmp_evidence,
    }
}

/// The verdict an ICMP error stands for (DESIGN.md table).
fn classify_icmp(icmp: &IcmpError) -> (TcpState, TcpReason) {
    use TcpReason as R;
    use TcpState as S;
    match (icmp.version, icmp.icmp_type, icmp.code) {
        // ICMPv4 destination unreachable.
        (4, 3, 0 | 6 | 11) => (S::Unreachable, R::IcmpNetUnreachable),
        (4, 3, 1 | 7 | 8 | 12) => (S::Unreachable, R::IcmpHostUnreachable),
        (4, 3, 2) => (S::Rejected, R::IcmpProtocolUnreachable),
        (4, 3, 3) => (S::Rejected, R::IcmpPortUnreachable),
        (4, 3, 9 | 10 | 13 | 14 | 15) => (S::Rejected, R::IcmpAdminProhibited),
        (4, 11, _) => (S::Unreachable, R::IcmpTimeExceeded),
        // ICMPv6 destination unreachable.
        (6, 1, 0) => (S::Unreachable, R::IcmpNetUnreachable),
        (6, 1, 1 | 5 | 6) => (S::Rejected, R::IcmpAdminProhibited),
        (6, 1, 3) => (S::Unreachable, R::IcmpHostUnreachable),
        (6, 1, 4) => (S::Rejected, R::IcmpPortUnreachable),
        (6, 3, _) => (S::Unreachable, R::IcmpTimeExceeded),
        _ => (S::Unreachable, R::IcmpOther),
    }
}

/// A readable name for an ICMP type/code pair.
pub fn icmp_name(version: u8, icmp_type: u8, code: u8) -> &'static str {
    match (version, icmp_type, code) {
        (4, 3, 0) => "net-unreachable",
        (4, 3, 1) => "host-unreachable",
        (4, 3, 2) => "protocol-unreachable",
        (4, 3, 3) => "port-unreachable",
        (4, 3, 4) => "fragmentation-needed",
        (4, 3, 5) => "source-route-failed",
        (4, 3, 6) => "net-unknown",
        (4, 3, 7) => "host-unknown",
        (4, 3, 8) => "source-host-isolated",
        (4, 3, 9) => "net-prohibited",
        (4, 3, 10) => "host-prohibited",
        (4, 3, 11) => "net-unreachable-for-tos",
        (4, 3, 12) => "host-unreachable-for-tos",
        (4, 3, 13) => "admin-prohibited",
        (4, 3, 14) => "host-precedence-violation",
        (4, 3, 15) => "precedence-cutoff",
        (4, 3, _) => "destination-unreachable",
        (4, 11, _) => "time-exceeded",
        (4, 12, _) => "parameter-problem",
        (6, 1, 0) => "no-route",
        (6, 1, 1) => "admin-prohibited",
        (6, 1, 2) => "beyond-scope",
        (6, 1, 3) => "address-unreachable",
        (6, 1, 4) => "port-unreachable",
        (6, 1, 5) => "failed-policy",
        (6, 1, 6) => "reject-route",
        (6, 1, _) => "destination-unreachable",
        (6, 2, _) => "packet-too-big",
        (6, 3, _) => "time-exceeded",
        (6, 4, _) => "parameter-problem",
        _ => "icmp-error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::code_for as os_code;
    use std::net::Ipv4Addr;

    fn icmp(version: u8, icmp_type: u8, code: u8, from: &str) -> IcmpError {
        IcmpError {
            version,
            icmp_type,
            code,
            os_error: None,
            offender: Some(from.parse().unwrap()),
        }
    }

    /// The verdict for an OS error code (spelled the platform's way) and ICMP errors.
    fn verdict(os_error: i32, queued: &[IcmpError]) -> (TcpState, TcpReason) {
        let local = Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
        let r = classify(Some(os_error), queued, local, 1.0, Evidence::ErrorQueue);
        (r.state, r.reason)
    }

    #[test]
    fn errno_without_icmp() {
        use TcpReason as R;
        use TcpState as S;
        assert_eq!(
            verdict(os_code(ConnectError::Refused), &[]),
            (S::Closed, R::Rst)
        );
        assert_eq!(
            verdict(os_code(ConnectError::TimedOut), &[]),
            (S::Filtered, R::Timeout)
        );
        assert_eq!(
            verdict(os_code(ConnectError::NetUnreachable), &[]),
            (S::Unreachable, R::NoRoute)
        );
        assert_eq!(
            verdict(os_code(ConnectError::HostUnreachable), &[]),
            (S::Unreachable, R::NoRoute)
        );
        assert_eq!(
            verdict(os_code(ConnectError::Denied), &[]),
            (S::Error, R::LocalPolicy)
        );
        assert_eq!(
            verdict(os_code(ConnectError::Resources), &[]),
            (S::Error, R::LocalResources)
        );
        assert_eq!(
            verdict(os_code(ConnectError::Resources), &[]),
            (S::Error, R::LocalResources)
        );
        assert_eq!(
            verdict(os_code(ConnectError::Other), &[]),
            (S::Error, R::LocalError)
        );
    }

    #[test]
    fn every_icmpv4_destination_unreachable_code() {
        use TcpReason as R;
        use TcpState as S;
        let expected = [
            (0, S::Unreachable, R::IcmpNetUnreachable),
            (1, S::Unreachable, R::IcmpHostUnreachable),
            (2, S::Rejected, R::IcmpProtocolUnreachable),
            (3, S::Rejected, R::IcmpPortUnreachable),
            (4, S::Unreachable, R::IcmpOther),
            (5, S::Unreachable, R::IcmpOther),
            (6, S::Unreachable, R::IcmpNetUnreachable),
            (7, S::Unreachable, R::IcmpHostUnreachable),
            (8, S::Unreachable, R::IcmpHostUnreachable),
            (9, S::Rejected, R::IcmpAdminProhibited),
            (10, S::Rejected, R::IcmpAdminProhibited),
            (11, S::Unreachable, R::IcmpNetUnreachable),
            (12, S::Unreachable, R::IcmpHostUnreachable),
            (13, S::Rejected, R::IcmpAdminProhibited),
            (14, S::Rejected, R::IcmpAdminProhibited),
            (15, S::Rejected, R::IcmpAdminProhibited),
        ];
        for (code, state, reason) in expected {
            let q = [icmp(4, 3, code, "198.51.100.1")];
            assert_eq!(
                verdict(os_code(ConnectError::HostUnreachable), &q),
                (state, reason),
                "code {code}"
            );
        }
        let q = [icmp(4, 11, 0, "198.51.100.1")];
        assert_eq!(
            verdict(os_code(ConnectError::HostUnreachable), &q),
            (S::Unreachable, R::IcmpTimeExceeded)
        );
        let q = [icmp(4, 12, 0, "198.51.100.1")];
        assert_eq!(
            verdict(os_code(ConnectError::Other), &q),
            (S::Unreachable, R::IcmpOther)
        );
    }

    #[test]
    fn every_icmpv6_destination_unreachable_code() {
        use TcpReason as R;
        use TcpState as S;
        let expected = [
            (0, S::Unreachable, R::IcmpNetUnreachable),
            (1, S::Rejected, R::IcmpAdminProhibited),
            (2, S::Unreachable, R::IcmpOther),
            (3, S::Unreachable, R::IcmpHostUnreachable),
            (4, S::Rejected, R::IcmpPortUnreachable),
            (5, S::Rejected, R::IcmpAdminProhibited),
            (6, S::Rejected, R::IcmpAdminProhibited),
        ];
        for (code, state, reason) in expected {
            let q = [icmp(6, 1, code, "2001:db8:1::1")];
            assert_eq!(
                verdict(os_code(ConnectError::Denied), &q),
                (state, reason),
                "code {code}"
            );
        }
        let q = [icmp(6, 3, 0, "2001:db8:1::1")];
        assert_eq!(
            verdict(os_code(ConnectError::HostUnreachable), &q),
            (S::Unreachable, R::IcmpTimeExceeded)
        );
    }

    #[test]
    fn an_icmp_port_unreachable_is_never_reported_as_a_reset() {
        let q = [icmp(4, 3, 3, "198.51.100.1")];
        let r = classify(
            Some(os_code(ConnectError::Refused)),
            &q,
            None,
            1.0,
            Evidence::ErrorQueue,
        );
        assert_eq!(r.state, TcpState::Rejected);
        assert_eq!(r.icmp_from, Some("198.51.100.1".parse().unwrap()));
        assert_eq!(r.icmp.unwrap().name, "port-unreachable");
    }

    #[test]
    fn a_reject_sent_by_our_own_address_is_a_local_error() {
        let q = [icmp(4, 3, 13, "192.0.2.1")];
        assert_eq!(
            verdict(os_code(ConnectError::HostUnreachable), &q),
            (TcpState::Error, TcpReason::LocalIcmp)
        );
        // …but our own host-unreachable (no ARP answer) still says the host is not there.
        let q = [icmp(4, 3, 1, "192.0.2.1")];
        assert_eq!(
            verdict(os_code(ConnectError::HostUnreachable), &q),
            (TcpState::Unreachable, TcpReason::IcmpHostUnreachable)
        );
    }
}
