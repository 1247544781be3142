//! One TCP connect to one address, classified into the verdict vocabulary exactly once, here.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use nix::libc;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpSocket, TcpStream};

use super::errqueue::{self, IcmpError};
use crate::report::{IcmpInfo, TcpReason, TcpReport, TcpState};

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
    let started = Instant::now();
    let elapsed_ms = || started.elapsed().as_secs_f64() * 1000.0;
    let ipv6 = addr.is_ipv6();
    let socket = match prepare_socket(addr, options.ttl) {
        Ok(s) => s,
        Err(e) => {
            let report = classify(e.raw_os_error(), &[], None, elapsed_ms());
            return Connected {
                report,
                stream: None,
            };
        }
    };
    // A second handle on the same socket, so its error queue can still be read after tokio
    // has dropped its copy on failure.
    let keep = match socket.try_clone() {
        Ok(k) => k,
        Err(e) => {
            let report = classify(e.raw_os_error(), &[], None, elapsed_ms());
            return Connected {
                report,
                stream: None,
            };
        }
    };
    let tokio_socket = TcpSocket::from_std_stream(socket.into());
    let outcome = tokio::time::timeout(options.timeout, tokio_socket.connect(addr)).await;
    let ms = elapsed_ms();
    match outcome {
        Ok(Ok(stream)) => {
            // Best effort: a failure here only means ICMP stays a hard error on this socket.
            let _ = errqueue::disable(&keep, ipv6);
            let report = TcpReport {
                state: TcpState::Open,
                reason: TcpReason::SynAck,
                icmp_from: None,
                icmp: None,
                errno: None,
                connect_ms: ms,
            };
            Connected {
                report,
                stream: Some(stream),
            }
        }
        // The handshake completed and the server reset the connection before we looked: a
        // SYN answered by RST is ECONNREFUSED, so ECONNRESET means the port is open (a server
        // that accepts and resets at once, SO_LINGER 0). The reset belongs to the layer above.
        Ok(Err(e)) if e.raw_os_error() == Some(libc::ECONNRESET) => Connected {
            report: TcpReport {
                state: TcpState::Open,
                reason: TcpReason::SynAck,
                icmp_from: None,
                icmp: None,
                errno: Some(libc::ECONNRESET),
                connect_ms: ms,
            },
            stream: None,
        },
        Ok(Err(e)) => {
            let queued = errqueue::drain(&keep);
            let local = keep
                .local_addr()
                .ok()
                .and_then(|a| a.as_socket())
                .map(|a| a.ip());
            let report = classify(e.raw_os_error(), &queued, local, ms);
            Connected {
                report,
                stream: None,
            }
        }
        Err(_elapsed) => {
            // An ICMP may have arrived for a retransmitted SYN just as the deadline fired.
            let queued = errqueue::drain(&keep);
            let local = keep
                .local_addr()
                .ok()
                .and_then(|a| a.as_socket())
                .map(|a| a.ip());
            let errno = queued.first().map(|q| q.errno).or(Some(libc::ETIMEDOUT));
            let report = classify(errno, &queued, local, ms);
            Connected {
                report,
                stream: None,
            }
        }
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
    errqueue::enable(&socket, addr.is_ipv6())?;
    Ok(socket)
}

/// Turns what the kernel told us into a verdict.
///
/// `errno` is the connect error (`ETIMEDOUT` for our own deadline), `queued` the ICMP errors
/// read from the error queue, `local` our own address (an ICMP from it means the refusal was
/// local). Pure, so every errno/ICMP pair is unit-tested.
pub fn classify(
    errno: Option<i32>,
    queued: &[IcmpError],
    local: Option<IpAddr>,
    connect_ms: f64,
) -> TcpReport {
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
            errno: errno.or(Some(icmp.errno)),
            connect_ms,
        };
    }
    let (state, reason) = match errno {
        Some(libc::ECONNREFUSED) => (TcpState::Closed, TcpReason::Rst),
        Some(libc::ETIMEDOUT) => (TcpState::Filtered, TcpReason::Timeout),
        Some(libc::ENETUNREACH | libc::EHOSTUNREACH) => (TcpState::Unreachable, TcpReason::NoRoute),
        Some(libc::EACCES | libc::EPERM) => (TcpState::Error, TcpReason::LocalPolicy),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM | libc::EADDRNOTAVAIL) => {
            (TcpState::Error, TcpReason::LocalResources)
        }
        _ => (TcpState::Error, TcpReason::LocalError),
    };
    TcpReport {
        state,
        reason,
        icmp_from: None,
        icmp: None,
        errno,
        connect_ms,
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
    use std::net::Ipv4Addr;

    fn icmp(version: u8, icmp_type: u8, code: u8, from: &str) -> IcmpError {
        IcmpError {
            version,
            icmp_type,
            code,
            errno: 0,
            offender: Some(from.parse().unwrap()),
        }
    }

    fn verdict(errno: i32, queued: &[IcmpError]) -> (TcpState, TcpReason) {
        let local = Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
        let r = classify(Some(errno), queued, local, 1.0);
        (r.state, r.reason)
    }

    #[test]
    fn errno_without_icmp() {
        use TcpReason as R;
        use TcpState as S;
        assert_eq!(verdict(libc::ECONNREFUSED, &[]), (S::Closed, R::Rst));
        assert_eq!(verdict(libc::ETIMEDOUT, &[]), (S::Filtered, R::Timeout));
        assert_eq!(
            verdict(libc::ENETUNREACH, &[]),
            (S::Unreachable, R::NoRoute)
        );
        assert_eq!(
            verdict(libc::EHOSTUNREACH, &[]),
            (S::Unreachable, R::NoRoute)
        );
        assert_eq!(verdict(libc::EACCES, &[]), (S::Error, R::LocalPolicy));
        assert_eq!(verdict(libc::EPERM, &[]), (S::Error, R::LocalPolicy));
        assert_eq!(verdict(libc::EMFILE, &[]), (S::Error, R::LocalResources));
        assert_eq!(
            verdict(libc::EADDRNOTAVAIL, &[]),
            (S::Error, R::LocalResources)
        );
        assert_eq!(verdict(libc::EINVAL, &[]), (S::Error, R::LocalError));
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
                verdict(libc::EHOSTUNREACH, &q),
                (state, reason),
                "code {code}"
            );
        }
        let q = [icmp(4, 11, 0, "198.51.100.1")];
        assert_eq!(
            verdict(libc::EHOSTUNREACH, &q),
            (S::Unreachable, R::IcmpTimeExceeded)
        );
        let q = [icmp(4, 12, 0, "198.51.100.1")];
        assert_eq!(verdict(libc::EPROTO, &q), (S::Unreachable, R::IcmpOther));
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
            assert_eq!(verdict(libc::EACCES, &q), (state, reason), "code {code}");
        }
        let q = [icmp(6, 3, 0, "2001:db8:1::1")];
        assert_eq!(
            verdict(libc::EHOSTUNREACH, &q),
            (S::Unreachable, R::IcmpTimeExceeded)
        );
    }

    #[test]
    fn an_icmp_port_unreachable_is_never_reported_as_a_reset() {
        let q = [icmp(4, 3, 3, "198.51.100.1")];
        let r = classify(Some(libc::ECONNREFUSED), &q, None, 1.0);
        assert_eq!(r.state, TcpState::Rejected);
        assert_eq!(r.icmp_from, Some("198.51.100.1".parse().unwrap()));
        assert_eq!(r.icmp.unwrap().name, "port-unreachable");
    }

    #[test]
    fn a_reject_sent_by_our_own_address_is_a_local_error() {
        let q = [icmp(4, 3, 13, "192.0.2.1")];
        assert_eq!(
            verdict(libc::EHOSTUNREACH, &q),
            (TcpState::Error, TcpReason::LocalIcmp)
        );
        // …but our own host-unreachable (no ARP answer) still says the host is not there.
        let q = [icmp(4, 3, 1, "192.0.2.1")];
        assert_eq!(
            verdict(libc::EHOSTUNREACH, &q),
            (TcpState::Unreachable, TcpReason::IcmpHostUnreachable)
        );
    }
}
