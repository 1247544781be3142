//! The UDP socket under one QUIC handshake: quinn's own tokio socket, wrapped to see what the
//! QUIC library keeps to itself. It counts datagrams, reads each received datagram's long
//! header ([`super::wire`]: version, Version Negotiation, Retry), and catches the receive
//! errors an ICMP message causes on a connected socket, reading the ICMP from the error queue
//! (Linux) before quinn would treat the error as fatal to the whole endpoint.

use std::fmt;
use std::io::{self, IoSliceMut};
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use quinn::udp::{RecvMeta, Transmit};
use quinn::{AsyncUdpSocket, UdpPoller};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::sync::Notify;

use super::wire::{self, Packet};
use crate::platform::{self, Evidence, IcmpError};

/// What the socket saw during one handshake.
#[derive(Debug, Default, Clone)]
pub struct Observed {
    /// Datagrams handed to the system.
    pub sent: u32,
    /// Datagrams received from the server.
    pub received: u32,
    /// The version of the first long-header packet from the server (not a Version Negotiation).
    pub version: Option<u32>,
    /// The versions a Version Negotiation packet offered.
    pub offered: Vec<u32>,
    /// A Version Negotiation packet arrived.
    pub version_negotiation: bool,
    /// A Retry arrived.
    pub retry: bool,
    /// ICMP errors read from the error queue.
    pub icmp: Vec<IcmpError>,
    /// The kind of the first receive error (an ICMP error seen only as an error code).
    pub recv_error: Option<io::ErrorKind>,
}

/// ICMP errors kept per handshake: the verdict needs the first few.
const MAX_ICMP: usize = 16;

/// How many receive errors in a row one poll absorbs before yielding (a loop must end).
const ERRORS_PER_POLL: usize = 8;

/// quinn's socket with a tap on it.
pub struct Tapped {
    inner: Arc<dyn AsyncUdpSocket>,
    /// A second handle on the same socket, for the error queue.
    keep: Socket,
    observed: Arc<Mutex<Observed>>,
    /// Woken when an ICMP error (or a receive error) arrives.
    alarm: Arc<Notify>,
}

impl fmt::Debug for Tapped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tapped").finish_non_exhaustive()
    }
}

/// The tapped socket, a handle on what it sees, and the ICMP evidence this system gives.
pub struct Opened {
    /// For quinn.
    pub socket: Arc<Tapped>,
    /// What it saw.
    pub observed: Arc<Mutex<Observed>>,
    /// Notified when an ICMP (or receive) error arrives.
    pub alarm: Arc<Notify>,
    /// Where ICMP evidence comes from here.
    pub evidence: Evidence,
    /// Wakes when the socket has an error pending.
    pub errors: ErrorWatch,
}

/// Waits for the socket's error readiness (`EPOLLERR`: an ICMP error queued). quinn only
/// waits for readable datagrams, and an ICMP error alone does not make the socket readable,
/// so without this it would go unseen until the deadline.
pub struct ErrorWatch {
    /// A third handle on the socket, registered with tokio only to learn of errors.
    socket: Option<tokio::net::UdpSocket>,
}

impl ErrorWatch {
    /// Returns once an error arrived and was recorded in `tapped`'s observations; never, where
    /// errors cannot be watched.
    pub async fn next(&self, tapped: &Tapped) {
        if let Some(socket) = &self.socket
            && socket.ready(tokio::io::Interest::ERROR).await.is_ok()
        {
            tapped.drain(None);
            // Clear the readiness, so the next wait is for the next error.
            let _ = socket.try_io(tokio::io::Interest::ERROR, || {
                Err::<(), _>(io::ErrorKind::WouldBlock.into())
            });
            return;
        }
        std::future::pending::<()>().await;
    }
}

/// A UDP socket for a handshake with `addr`: bound to an ephemeral port of its family, ICMP
/// evidence asked for, and (on Unix) connected, so ICMP errors about `addr` reach it.
pub fn open(addr: SocketAddr) -> io::Result<Opened> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    let any: IpAddr = match addr {
        SocketAddr::V4(_) => std::net::Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => std::net::Ipv6Addr::UNSPECIFIED.into(),
    };
    socket.bind(&SocketAddr::new(any, 0).into())?;
    let evidence = platform::udp_evidence(&socket, addr.is_ipv6());
    // Windows refuses a destination address on a connected socket's sends, which quinn always
    // gives; there the socket stays unconnected (and has no ICMP evidence anyway).
    #[cfg(unix)]
    socket.connect(&addr.into())?;
    socket.set_nonblocking(true)?;
    let keep = socket.try_clone()?;
    let errors = ErrorWatch {
        socket: socket
            .try_clone()
            .ok()
            .and_then(|s| tokio::net::UdpSocket::from_std(s.into()).ok()),
    };
    let runtime = quinn::TokioRuntime;
    let inner = quinn::Runtime::wrap_udp_socket(&runtime, socket.into())?;
    let observed = Arc::new(Mutex::new(Observed::default()));
    let alarm = Arc::new(Notify::new());
    let socket = Arc::new(Tapped {
        inner,
        keep,
        observed: observed.clone(),
        alarm: alarm.clone(),
    });
    Ok(Opened {
        socket,
        observed,
        alarm,
        evidence,
        errors,
    })
}

/// The record, even if a thread panicked while holding it (it only holds counters).
pub fn lock(observed: &Mutex<Observed>) -> MutexGuard<'_, Observed> {
    observed.lock().unwrap_or_else(|e| e.into_inner())
}

impl Tapped {
    fn saw(&self, datagram: &[u8], count: u32) {
        let mut seen = lock(&self.observed);
        seen.received = seen.received.saturating_add(count);
        match wire::classify(datagram) {
            Packet::VersionNegotiation(offered) => {
                seen.version_negotiation = true;
                seen.offered = offered;
            }
            Packet::Retry(version) => {
                seen.retry = true;
                seen.version.get_or_insert(version);
            }
            Packet::Long(version) => {
                seen.version.get_or_insert(version);
            }
            Packet::Other => {}
        }
    }

    /// Records the queued ICMP errors (and `error`, or the socket's pending error when there is
    /// no queue to read) and raises the alarm.
    fn drain(&self, error: Option<io::ErrorKind>) {
        let queued = platform::udp_icmp_errors(&self.keep);
        let pending = self.keep.take_error().ok().flatten().map(|e| e.kind());
        {
            let mut seen = lock(&self.observed);
            if let Some(kind) = error.or(pending) {
                seen.recv_error.get_or_insert(kind);
            }
            // Bounded: a flood of ICMP errors must not grow the record without end.
            let room = MAX_ICMP.saturating_sub(seen.icmp.len());
            seen.icmp.extend(queued.into_iter().take(room));
        }
        self.alarm.notify_one();
    }
}

impl AsyncUdpSocket for Tapped {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn UdpPoller>> {
        self.inner.clone().create_io_poller()
    }

    fn try_send(&self, transmit: &Transmit) -> io::Result<()> {
        let sent = self.inner.try_send(transmit);
        if sent.is_ok() {
            let datagrams = match transmit.segment_size {
                Some(size) if size > 0 => transmit.contents.len().div_ceil(size),
                _ => 1,
            };
            let mut seen = lock(&self.observed);
            seen.sent = seen
                .sent
                .saturating_add(u32::try_from(datagrams).unwrap_or(u32::MAX));
        }
        sent
    }

    fn poll_recv(
        &self,
        cx: &mut Context,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        for _ in 0..ERRORS_PER_POLL {
            match self.inner.poll_recv(cx, bufs, meta) {
                Poll::Ready(Ok(n)) => {
                    for (buf, m) in bufs.iter().zip(meta.iter()).take(n) {
                        let len = m.len.min(buf.len());
                        let stride = if m.stride == 0 { len } else { m.stride };
                        let first = &buf[..len.min(stride)];
                        let count = len.div_ceil(stride.max(1)).max(1);
                        self.saw(first, u32::try_from(count).unwrap_or(u32::MAX));
                    }
                    return Poll::Ready(Ok(n));
                }
                // An ICMP error surfaces here as ECONNREFUSED & co. It is evidence, not a
                // reason to stop the endpoint: record it and keep receiving.
                Poll::Ready(Err(error)) if error.kind() != io::ErrorKind::WouldBlock => {
                    self.drain(Some(error.kind()));
                }
                other => return other,
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    fn max_transmit_segments(&self) -> usize {
        self.inner.max_transmit_segments()
    }

    fn max_receive_segments(&self) -> usize {
        self.inner.max_receive_segments()
    }

    fn may_fragment(&self) -> bool {
        self.inner.may_fragment()
    }
}
