//! Linux: the socket error queue tells which ICMP error ended a TCP connect, and who sent it,
//! without raw sockets or privileges (Linux ≥ 5.8 for TCP).
//!
//! With `IP_RECVERR` / `IPV6_RECVERR` set before `connect()`, the kernel queues the ICMP that
//! aborted a SYN (time exceeded, destination unreachable with its code) together with the
//! address of the router that sent it (`SO_EE_OFFENDER`). We read it with `MSG_ERRQUEUE` after
//! the connect fails. Everything goes through `nix`'s safe wrappers, so this module needs no
//! `unsafe` of its own.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

use nix::libc;
use nix::sys::socket::{
    ControlMessageOwned, MsgFlags, SockaddrStorage, recvmsg, setsockopt, sockopt,
};
use socket2::Socket;

use super::{Evidence, IcmpError};

/// `SO_EE_ORIGIN_ICMP`: the error came from an ICMPv4 message.
const ORIGIN_ICMP: u8 = 2;
/// `SO_EE_ORIGIN_ICMP6`: the error came from an ICMPv6 message.
const ORIGIN_ICMP6: u8 = 3;
/// Entries read per socket at most: the queue is bounded by the kernel too, but a probe never
/// needs more than the first few, and a loop must always end.
const MAX_ENTRIES: usize = 8;

/// Asks the kernel to queue ICMP errors for this socket (both families for IPv6 sockets,
/// because a dual-stack socket may carry IPv4-mapped traffic). Should that fail, the connect
/// still goes ahead, without evidence.
pub(crate) fn before_connect(socket: &Socket, addr: SocketAddr, _timeout: Duration) -> Evidence {
    match enable(socket, addr.is_ipv6()) {
        Ok(()) => Evidence::ErrorQueue,
        Err(_) => Evidence::Unavailable,
    }
}

/// Stops queueing once connected: `IP_RECVERR` would turn ICMP soft errors into hard ones and
/// abort an established connection (rustls-notes §9). Turning it off also purges the queue.
/// Best effort: a failure only means ICMP stays a hard error on this socket.
pub(crate) fn after_connect(socket: &Socket, addr: SocketAddr) {
    let _ = disable(socket, addr.is_ipv6());
}

/// The ICMP errors queued on the socket, oldest first, read without blocking.
pub(crate) fn icmp_errors(socket: &Socket) -> Vec<IcmpError> {
    drain(socket)
}

/// Asks the kernel to queue every ICMP error for this UDP socket, with its sender. On a
/// connected UDP socket Linux then also reports each one as the error of the next receive
/// (without it, only port unreachable is). Kept on for the socket's whole life: a probe
/// socket carries nothing else.
pub(crate) fn udp_evidence(socket: &Socket, ipv6: bool) -> Evidence {
    match enable(socket, ipv6) {
        Ok(()) => Evidence::ErrorQueue,
        Err(_) => Evidence::Unavailable,
    }
}

/// The ICMP errors queued on a UDP socket, oldest first, read without blocking.
pub(crate) fn udp_icmp_errors(socket: &Socket) -> Vec<IcmpError> {
    drain(socket)
}

/// `Some(reason)` when this kernel cannot attribute ICMP errors to TCP probes.
pub(crate) fn trace_unsupported() -> Option<String> {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
    let (major, minor) = parse_release(&release)?;
    ((major, minor) < (5, 8)).then(|| {
        format!(
            "path trace needs Linux 5.8 or later (this is {}): older kernels do not report \
             who sent an ICMP error for a TCP SYN, so hop addresses cannot be known without \
             raw sockets",
            release.trim()
        )
    })
}

/// `"6.18.44-generic"` → `(6, 18)`.
fn parse_release(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.trim().split(['.', '-']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

fn enable(socket: &impl AsFd, ipv6: bool) -> std::io::Result<()> {
    set(socket, ipv6, true)
}

fn disable(socket: &impl AsFd, ipv6: bool) -> std::io::Result<()> {
    set(socket, ipv6, false)
}

fn set(socket: &impl AsFd, ipv6: bool, on: bool) -> std::io::Result<()> {
    if ipv6 {
        setsockopt(socket, sockopt::Ipv6RecvErr, &on)?;
    } else {
        setsockopt(socket, sockopt::Ipv4RecvErr, &on)?;
    }
    Ok(())
}

/// Drains the error queue without blocking and returns the ICMP errors found, oldest first.
fn drain(socket: &impl AsFd) -> Vec<IcmpError> {
    let fd = socket.as_fd().as_raw_fd();
    let mut found = Vec::new();
    for _ in 0..MAX_ENTRIES {
        // The payload is the quoted IP + TCP header of our SYN; we only need the cmsg.
        let mut payload = [0u8; 128];
        let mut iov = [std::io::IoSliceMut::new(&mut payload)];
        // Room for the packet-info and TOS messages too: a socket that asked for them (QUIC's,
        // through quinn-udp) gets them on error-queue reads as well, and a buffer sized for the
        // error alone would truncate it.
        let mut cmsg = nix::cmsg_space!(
            libc::sock_extended_err,
            libc::sockaddr_in6,
            libc::in6_pktinfo,
            libc::c_int,
            libc::c_int
        );
        let flags = MsgFlags::MSG_ERRQUEUE | MsgFlags::MSG_DONTWAIT;
        let Ok(msg) = recvmsg::<SockaddrStorage>(fd, &mut iov, Some(&mut cmsg), flags) else {
            break; // EAGAIN: queue empty (or any other error: nothing more to learn).
        };
        let Ok(cmsgs) = msg.cmsgs() else { break };
        for cmsg in cmsgs {
            if let Some(error) = from_cmsg(cmsg) {
                found.push(error);
            }
        }
    }
    found
}

fn from_cmsg(cmsg: ControlMessageOwned) -> Option<IcmpError> {
    let (ee, offender) = match cmsg {
        ControlMessageOwned::Ipv4RecvErr(ee, addr) => {
            let offender =
                addr.map(|a| IpAddr::V4(Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr))));
            (ee, offender)
        }
        ControlMessageOwned::Ipv6RecvErr(ee, addr) => {
            let offender = addr.map(|a| {
                let v6 = Ipv6Addr::from(a.sin6_addr.s6_addr);
                // A dual-stack socket reports IPv4 senders as mapped addresses.
                v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)
            });
            (ee, offender)
        }
        _ => return None,
    };
    let version = match ee.ee_origin {
        ORIGIN_ICMP => 4,
        ORIGIN_ICMP6 => 6,
        _ => return None, // local errors (SO_EE_ORIGIN_LOCAL), timestamps, zerocopy: not ICMP.
    };
    let errno = i32::try_from(ee.ee_errno).unwrap_or(i32::MAX);
    Some(IcmpError {
        version,
        icmp_type: ee.ee_type,
        code: ee.ee_code,
        os_error: Some(errno),
        offender: offender.filter(|a| !a.is_unspecified()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_releases_parse() {
        assert_eq!(parse_release("6.18.44-fc-v669\n"), Some((6, 18)));
        assert_eq!(parse_release("5.8.0"), Some((5, 8)));
        assert_eq!(parse_release("4.19-rc1"), Some((4, 19)));
        assert_eq!(parse_release("garbage"), None);
    }

    #[test]
    fn a_tcp_socket_gets_the_error_queue() {
        let socket = Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
        assert_eq!(
            before_connect(&socket, addr, Duration::from_secs(1)),
            Evidence::ErrorQueue
        );
        assert!(icmp_errors(&socket).is_empty());
        after_connect(&socket, addr);
    }

    #[test]
    fn empty_queue_on_a_fresh_socket_reads_nothing_and_does_not_block() {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        enable(&socket, false).unwrap();
        assert!(drain(&socket).is_empty());
        disable(&socket, false).unwrap();
    }

    #[test]
    fn udp_to_a_closed_loopback_port_queues_a_port_unreachable_from_loopback() {
        // A real ICMP error produced by the kernel: UDP to a port nobody listens on.
        let closed = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        enable(&socket, false).unwrap();
        socket.send_to(b"x", ("127.0.0.1", port)).unwrap();
        let mut errors = Vec::new();
        for _ in 0..50 {
            errors = drain(&socket);
            if !errors.is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(errors.len(), 1, "expected one queued ICMP error");
        let e = errors[0];
        assert_eq!((e.version, e.icmp_type, e.code), (4, 3, 3));
        assert_eq!(e.os_error, Some(libc::ECONNREFUSED));
        assert_eq!(e.offender, Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    }
}
