//! A connected UDP socket that carries its ICMP evidence: the datagram exchange of the UDP
//! probe, with every wait bounded. Reusable by any UDP-based probe (QUIC's silence verdict can
//! ask [`ProbeSocket::icmp_errors`] the same way).

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::Interest;
use tokio::net::UdpSocket;

use crate::platform::{self, Evidence, IcmpError};

/// The largest answer kept: a UDP datagram is at most 65,507 bytes over IPv4; larger ones are
/// cut by the kernel to this buffer (the rest of the datagram is dropped, never read).
const MAX_DATAGRAM: usize = 65_536;

/// A connected UDP socket with the platform's ICMP evidence switched on.
pub(crate) struct ProbeSocket {
    socket: UdpSocket,
    /// A second handle on the same socket, for the error queue (tokio does not expose it).
    keep: Socket,
    /// Where ICMP evidence comes from on this system.
    pub(crate) evidence: Evidence,
    /// Our own address, once connected: an ICMP from it is our own firewall.
    pub(crate) local: Option<IpAddr>,
}

/// What one wait for an answer ended with.
#[derive(Debug)]
pub(crate) enum Heard {
    /// A datagram from the port, and when it arrived.
    Answer(Vec<u8>, Instant),
    /// The system reported an error: its code and the ICMP errors queued with it.
    Error(Option<i32>, Vec<IcmpError>),
    /// Nothing before the deadline.
    Silence,
}

impl ProbeSocket {
    /// A non-blocking UDP socket connected to `addr` (so only its answers are received, and
    /// the kernel attributes ICMP errors to it).
    pub(crate) fn open(addr: SocketAddr) -> std::io::Result<ProbeSocket> {
        let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
        socket.set_nonblocking(true)?;
        let evidence = platform::udp_evidence(&socket, addr.is_ipv6());
        socket.connect(&addr.into())?;
        let keep = socket.try_clone()?;
        let local = keep
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .map(|a| a.ip());
        let std_socket: std::net::UdpSocket = socket.into();
        let socket = UdpSocket::from_std(std_socket)?;
        Ok(ProbeSocket {
            socket,
            keep,
            evidence,
            local,
        })
    }

    /// Sends one datagram. An error here (no route, local firewall) is the verdict.
    pub(crate) async fn send(&self, payload: &[u8]) -> std::io::Result<()> {
        self.socket.send(payload).await.map(|_| ())
    }

    /// Waits until `deadline` for an answer or an error.
    pub(crate) async fn wait(&self, deadline: tokio::time::Instant) -> Heard {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        loop {
            // ERROR too: a queued ICMP error makes the socket report an error condition, not
            // readability, and it must wake us.
            let ready = tokio::time::timeout_at(
                deadline,
                self.socket.ready(Interest::READABLE | Interest::ERROR),
            )
            .await;
            match ready {
                Err(_) => return Heard::Silence,
                Ok(Err(e)) => return Heard::Error(e.raw_os_error(), self.icmp_errors()),
                Ok(Ok(_)) => {}
            }
            match self.socket.try_recv(&mut buf) {
                Ok(n) => {
                    buf.truncate(n);
                    return Heard::Answer(buf, Instant::now());
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    // An error condition without a pending error: the queue may still hold
                    // the ICMP (its error already taken by an earlier receive).
                    let queued = self.icmp_errors();
                    if !queued.is_empty() {
                        return Heard::Error(None, queued);
                    }
                    // Spurious wake-up: a short pause keeps a stuck readiness from spinning.
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err(e) => return Heard::Error(e.raw_os_error(), self.icmp_errors()),
            }
        }
    }

    /// The ICMP errors queued on the socket (empty where the platform cannot tell).
    pub(crate) fn icmp_errors(&self) -> Vec<IcmpError> {
        platform::udp_icmp_errors(&self.keep)
    }
}
