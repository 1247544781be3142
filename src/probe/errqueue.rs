//! The Linux socket error queue: how `reach` learns which ICMP error ended a TCP connect, and
//! who sent it, without raw sockets or privileges (Linux ≥ 5.8).
//!
//! With `IP_RECVERR` / `IPV6_RECVERR` set before `connect()`, the kernel queues the ICMP that
//! aborted a SYN (time exceeded, destination unreachable with its code) together with the
//! address of the router that sent it (`SO_EE_OFFENDER`). We read it with `MSG_ERRQUEUE` after
//! the connect fails. Everything goes through `nix`'s safe wrappers, so this module needs no
//! `unsafe` of its own.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsFd, AsRawFd};

use nix::libc;
use nix::sys::socket::{
    ControlMessageOwned, MsgFlags, SockaddrStorage, recvmsg, setsockopt, sockopt,
};

/// `SO_EE_ORIGIN_ICMP`: the error came from an ICMPv4 message.
const ORIGIN_ICMP: u8 = 2;
/// `SO_EE_ORIGIN_ICMP6`: the error came from an ICMPv6 message.
const ORIGIN_ICMP6: u8 = 3;
/// Entries read per socket at most: the queue is bounded by the kernel too, but a probe never
/// needs more than the first few, and a loop must always end.
const MAX_ENTRIES: usize = 8;

/// One ICMP error taken off a socket's error queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpError {
    /// `4` for ICMPv4, `6` for ICMPv6.
    pub version: u8,
    /// ICMP type.
    pub icmp_type: u8,
    /// ICMP code.
    pub code: u8,
    /// The errno the kernel derived from it.
    pub errno: i32,
    /// Who sent the ICMP (`SO_EE_OFFENDER`), when the kernel knew.
    pub offender: Option<IpAddr>,
}

/// Asks the kernel to queue ICMP errors for this socket (both families for IPv6 sockets,
/// because a dual-stack socket may carry IPv4-mapped traffic).
pub fn enable(socket: &impl AsFd, ipv6: bool) -> std::io::Result<()> {
    set(socket, ipv6, true)
}

/// Stops queueing: once connected, `IP_RECVERR` would turn ICMP soft errors into hard ones
/// and abort an established connection (rustls-notes §9). Turning it off also purges the queue.
pub fn disable(socket: &impl AsFd, ipv6: bool) -> std::io::Result<()> {
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
pub fn drain(socket: &impl AsFd) -> Vec<IcmpError> {
    let fd = socket.as_fd().as_raw_fd();
    let mut found = Vec::new();
    for _ in 0..MAX_ENTRIES {
        // The payload is the quoted IP + TCP header of our SYN; we only need the cmsg.
        let mut payload = [0u8; 128];
        let mut iov = [std::io::IoSliceMut::new(&mut payload)];
        let mut cmsg = nix::cmsg_space!(libc::sock_extended_err, libc::sockaddr_in6);
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
        errno,
        offender: offender.filter(|a| !a.is_unspecified()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(e.errno, libc::ECONNREFUSED);
        assert_eq!(e.offender, Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    }
}
