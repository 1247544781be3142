//! Windows: Winsock error codes, Ctrl-C / Ctrl-Break, and the ICMP evidence of a failed
//! connect through `TCP_FAIL_CONNECT_ON_ICMP_ERROR` and `TCP_ICMP_ERROR_INFO` (the socket
//! options behind `WSASetFailConnectOnIcmpError` / `WSAGetIcmpErrorInfo`, Windows 10 and Server
//! version 2004 or later): the connect fails as soon as an ICMP error arrives, and the socket
//! tells its type, code and sender. Older Windows ignores ICMP errors for TCP until the connect
//! times out, so the report says the evidence is unavailable there.
//!
//! A RST is retried by the Windows stack (the SYN is sent again, about a second in all), so
//! "refused" would be the retries' total and could outlast a short `--timeout`. Each socket is
//! told to send its SYN once (`SIO_TCP_INITIAL_RTO` with no SYN retransmissions, Windows 10
//! 1709 or later; one retransmission on older systems), so the time reported is the first
//! answer's.
//!
//! This is the one module allowed `unsafe`: the three Winsock calls below have no safe wrapper
//! in `socket2` or the standard library. Each call has its `SAFETY:` note; the structure the
//! system fills is read back as plain bytes, so no union field is ever read.

#![allow(unsafe_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::windows::io::AsRawSocket;
use std::time::Duration;

use socket2::Socket;
use windows_sys::Win32::Networking::WinSock as ws;

use super::{ConnectError, Evidence, IcmpError, Signal};

/// The code recorded when our own deadline ends a connect.
pub(crate) const TIMED_OUT: i32 = ws::WSAETIMEDOUT;

// Win32 (not Winsock) codes that overlapped socket I/O can report for the same events.
const ERROR_CONNECTION_REFUSED: i32 = 1225;
const ERROR_NETWORK_UNREACHABLE: i32 = 1231;
const ERROR_HOST_UNREACHABLE: i32 = 1232;
const ERROR_SEM_TIMEOUT: i32 = 121;

/// `TCP_INITIAL_RTO_NO_SYN_RETRANSMISSIONS` is `(UCHAR)-2` in mstcpip.h (windows-sys types it
/// as a u16, 65534).
const NO_SYN_RETRANSMISSIONS: u8 = 0xFE;

/// What a Winsock (or Win32) error code from a connect means.
pub(crate) fn connect_error(code: i32) -> ConnectError {
    match code {
        ws::WSAECONNREFUSED | ERROR_CONNECTION_REFUSED => ConnectError::Refused,
        ws::WSAETIMEDOUT | ERROR_SEM_TIMEOUT => ConnectError::TimedOut,
        ws::WSAENETUNREACH | ERROR_NETWORK_UNREACHABLE => ConnectError::NetUnreachable,
        ws::WSAEHOSTUNREACH | ws::WSAEHOSTDOWN | ERROR_HOST_UNREACHABLE => {
            ConnectError::HostUnreachable
        }
        ws::WSAEACCES => ConnectError::Denied,
        ws::WSAEMFILE
        | ws::WSAENOBUFS
        | ws::WSAEADDRNOTAVAIL
        | ws::WSAEADDRINUSE
        | ws::WSA_NOT_ENOUGH_MEMORY => ConnectError::Resources,
        ws::WSAECONNRESET => ConnectError::Reset,
        _ => ConnectError::Other,
    }
}

/// A code meaning `meaning`, for tests written once for every platform.
#[cfg(test)]
pub(crate) fn code_for(meaning: ConnectError) -> i32 {
    match meaning {
        ConnectError::Refused => ws::WSAECONNREFUSED,
        ConnectError::TimedOut => ws::WSAETIMEDOUT,
        ConnectError::NetUnreachable => ws::WSAENETUNREACH,
        ConnectError::HostUnreachable => ws::WSAEHOSTUNREACH,
        ConnectError::Denied => ws::WSAEACCES,
        ConnectError::Resources => ws::WSAENOBUFS,
        ConnectError::Reset => ws::WSAECONNRESET,
        ConnectError::Other => ws::WSAEINVAL,
    }
}

/// Asks for the ICMP evidence and for a single SYN; returns which evidence this system gives.
pub(crate) fn before_connect(socket: &Socket, _addr: SocketAddr, timeout: Duration) -> Evidence {
    let raw = raw(socket);
    one_syn(raw, timeout);
    let on: u32 = 1;
    // SAFETY: `raw` is an open socket, borrowed from `socket` for the duration of the call;
    // the option value points to a live DWORD and its exact size is passed.
    let rc = unsafe {
        ws::setsockopt(
            raw,
            ws::IPPROTO_TCP,
            ws::TCP_FAIL_CONNECT_ON_ICMP_ERROR,
            (&raw const on).cast(),
            size_i32::<u32>(),
        )
    };
    if rc == 0 {
        Evidence::IcmpErrorInfo
    } else {
        // WSAENOPROTOOPT / WSAEINVAL: Windows before 10 2004 (and Wine).
        Evidence::Unavailable
    }
}

/// The option only concerns the connect: nothing to undo.
pub(crate) fn after_connect(_socket: &Socket, _addr: SocketAddr) {}

/// The ICMP error that made the connect fail, if Windows recorded one (`WSANO_DATA` when no
/// ICMP arrived since the connect; an error on systems without the option).
pub(crate) fn icmp_errors(socket: &Socket) -> Vec<IcmpError> {
    let mut info = InfoBytes([0; INFO_SIZE]);
    let mut len = size_i32::<InfoBytes>();
    // SAFETY: `raw(socket)` is an open socket borrowed for the call; the buffer is writable,
    // as large as `ICMP_ERROR_INFO` and aligned like it, and `len` says how large it is.
    let rc = unsafe {
        ws::getsockopt(
            raw(socket),
            ws::IPPROTO_TCP,
            ws::TCP_ICMP_ERROR_INFO,
            info.0.as_mut_ptr(),
            &raw mut len,
        )
    };
    if rc != 0 {
        return Vec::new();
    }
    let filled = usize::try_from(len).unwrap_or(0).min(INFO_SIZE);
    parse_icmp_error_info(&info.0[..filled])
        .into_iter()
        .collect()
}

/// Windows has no unprivileged way to learn which ICMP error answered a UDP datagram, nor who
/// sent it: `TCP_ICMP_ERROR_INFO` is for TCP connects only. A port unreachable still shows, as
/// `WSAECONNRESET` on the next receive (`SIO_UDP_CONNRESET` is on by default), so `closed` is
/// reported without a sender and every other ICMP error reads as silence.
pub(crate) fn udp_evidence(_socket: &Socket, _ipv6: bool) -> Evidence {
    Evidence::Unavailable
}

/// Nothing is ever recorded (see [`udp_evidence`]).
pub(crate) fn udp_icmp_errors(_socket: &Socket) -> Vec<IcmpError> {
    Vec::new()
}

/// A trace needs the sender of each "time exceeded"; Windows hands those to programs only
/// through raw sockets or a packet-capture driver, which reach does not use.
pub(crate) fn trace_unsupported() -> Option<String> {
    Some(
        "path trace is not supported on Windows: who sent the ICMP \"time exceeded\" for a \
         TTL-limited TCP SYN is visible only to raw sockets or a packet-capture driver; run \
         `reach --trace` from Linux, or `tracert -d` for the ICMP echo path"
            .to_string(),
    )
}

/// Sockets are handles on Windows, with no per-process limit to raise.
pub(crate) fn descriptor_limit() -> Option<u64> {
    None
}

/// Ctrl-C and Ctrl-Break, once installed (inside the runtime).
pub(crate) struct StopSignals {
    interrupt: tokio::signal::windows::CtrlC,
    terminate: tokio::signal::windows::CtrlBreak,
}

impl StopSignals {
    /// Installs the console handlers; `None` if they cannot be.
    pub(crate) fn install() -> Option<StopSignals> {
        Some(StopSignals {
            interrupt: tokio::signal::windows::ctrl_c().ok()?,
            terminate: tokio::signal::windows::ctrl_break().ok()?,
        })
    }

    /// The next console event.
    pub(crate) async fn next(&mut self) -> Signal {
        tokio::select! {
            _ = self.interrupt.recv() => Signal::Interrupt,
            _ = self.terminate.recv() => Signal::Terminate,
        }
    }
}

fn raw(socket: &Socket) -> ws::SOCKET {
    // A SOCKET is a UINTPTR; `as_raw_socket` widens it to u64 on every target.
    usize::try_from(socket.as_raw_socket()).unwrap_or(usize::MAX)
}

fn size_i32<T>() -> i32 {
    i32::try_from(size_of::<T>()).unwrap_or(i32::MAX)
}

/// Sends the SYN once: a RST then ends the connect at once, and the single SYN waits for our
/// own deadline (`Rtt`, in ms, is the initial retransmission timeout). Best effort: on failure
/// the stack keeps its own schedule.
fn one_syn(raw: ws::SOCKET, timeout: Duration) {
    let rtt = u16::try_from(timeout.as_millis())
        .unwrap_or(u16::MAX)
        .min(0xFFFE);
    for retransmissions in [NO_SYN_RETRANSMISSIONS, 1] {
        let params = ws::TCP_INITIAL_RTO_PARAMETERS {
            Rtt: rtt,
            MaxSynRetransmissions: retransmissions,
        };
        let mut returned = 0u32;
        // SAFETY: `raw` is an open socket owned by the caller; the input buffer points to a
        // live TCP_INITIAL_RTO_PARAMETERS of the size passed; there is no output buffer, no
        // OVERLAPPED and no completion routine, so the call is synchronous and keeps no
        // pointer after it returns.
        let rc = unsafe {
            ws::WSAIoctl(
                raw,
                ws::SIO_TCP_INITIAL_RTO,
                (&raw const params).cast(),
                u32::try_from(size_of::<ws::TCP_INITIAL_RTO_PARAMETERS>()).unwrap_or(0),
                std::ptr::null_mut(),
                0,
                &raw mut returned,
                std::ptr::null_mut(),
                None,
            )
        };
        if rc == 0 {
            return;
        }
    }
}

/// `ICMP_ERROR_INFO` as bytes, aligned like the structure.
#[repr(C, align(4))]
struct InfoBytes([u8; INFO_SIZE]);

const INFO_SIZE: usize = size_of::<ws::ICMP_ERROR_INFO>();
const FAMILY: usize = 0;
const V4_ADDR: usize = std::mem::offset_of!(ws::SOCKADDR_IN, sin_addr);
const V6_ADDR: usize = std::mem::offset_of!(ws::SOCKADDR_IN6, sin6_addr);
const PROTOCOL: usize = std::mem::offset_of!(ws::ICMP_ERROR_INFO, protocol);
const TYPE: usize = std::mem::offset_of!(ws::ICMP_ERROR_INFO, r#type);
const CODE: usize = std::mem::offset_of!(ws::ICMP_ERROR_INFO, code);
const _: () = assert!(align_of::<InfoBytes>() >= align_of::<ws::ICMP_ERROR_INFO>());

/// Reads an `ICMP_ERROR_INFO` the system filled in.
fn parse_icmp_error_info(bytes: &[u8]) -> Option<IcmpError> {
    let u16_at = |at: usize| Some(u16::from_ne_bytes(bytes.get(at..at + 2)?.try_into().ok()?));
    let family = u16_at(FAMILY)?;
    let offender = match family {
        ws::AF_INET => {
            let octets: [u8; 4] = bytes.get(V4_ADDR..V4_ADDR + 4)?.try_into().ok()?;
            Some(IpAddr::V4(Ipv4Addr::from(octets)))
        }
        ws::AF_INET6 => {
            let octets: [u8; 16] = bytes.get(V6_ADDR..V6_ADDR + 16)?.try_into().ok()?;
            let v6 = Ipv6Addr::from(octets);
            Some(v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4))
        }
        _ => None,
    };
    let protocol = i32::from_ne_bytes(bytes.get(PROTOCOL..PROTOCOL + 4)?.try_into().ok()?);
    let version = match (protocol, family) {
        (ws::IPPROTO_ICMP, _) => 4,
        (ws::IPPROTO_ICMPV6, _) => 6,
        (_, ws::AF_INET6) => 6,
        _ => 4,
    };
    Some(IcmpError {
        version,
        icmp_type: *bytes.get(TYPE)?,
        code: *bytes.get(CODE)?,
        os_error: None,
        offender: offender.filter(|a| !a.is_unspecified()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_winsock_code_a_connect_can_end_with() {
        use ConnectError as E;
        let cases = [
            (10061, E::Refused),
            (1225, E::Refused),
            (10060, E::TimedOut),
            (10051, E::NetUnreachable),
            (10065, E::HostUnreachable),
            (10064, E::HostUnreachable),
            (10013, E::Denied),
            (10024, E::Resources),
            (10055, E::Resources),
            (10049, E::Resources),
            (10048, E::Resources),
            (10054, E::Reset),
            (10022, E::Other),
        ];
        for (code, meaning) in cases {
            assert_eq!(connect_error(code), meaning, "code {code}");
        }
    }

    fn info(family: u16, addr: &[u8], protocol: i32, icmp_type: u8, code: u8) -> Vec<u8> {
        let mut bytes = vec![0u8; INFO_SIZE];
        bytes[FAMILY..FAMILY + 2].copy_from_slice(&family.to_ne_bytes());
        let at = if family == ws::AF_INET6 {
            V6_ADDR
        } else {
            V4_ADDR
        };
        bytes[at..at + addr.len()].copy_from_slice(addr);
        bytes[PROTOCOL..PROTOCOL + 4].copy_from_slice(&protocol.to_ne_bytes());
        bytes[TYPE] = icmp_type;
        bytes[CODE] = code;
        bytes
    }

    #[test]
    fn an_icmp_error_info_is_read_with_its_sender() {
        let v4 = info(ws::AF_INET, &[198, 51, 100, 1], ws::IPPROTO_ICMP, 3, 13);
        let e = parse_icmp_error_info(&v4).unwrap();
        assert_eq!((e.version, e.icmp_type, e.code), (4, 3, 13));
        assert_eq!(e.offender, Some("198.51.100.1".parse().unwrap()));

        let addr: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let v6 = info(ws::AF_INET6, &addr.octets(), ws::IPPROTO_ICMPV6, 1, 4);
        let e = parse_icmp_error_info(&v6).unwrap();
        assert_eq!((e.version, e.icmp_type, e.code), (6, 1, 4));
        assert_eq!(e.offender, Some(IpAddr::V6(addr)));

        // Short or empty answers are not evidence.
        assert_eq!(parse_icmp_error_info(&v4[..3]), None);
        assert_eq!(parse_icmp_error_info(&[]), None);
    }

    #[test]
    fn a_fresh_socket_has_no_icmp_error_and_evidence_is_asked_for() {
        let socket = Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
        // Either answer is honest: Windows 10 2004+ gives the evidence, older Windows and
        // Wine do not. What must never happen is an ICMP error on a socket that sent nothing.
        let evidence = before_connect(&socket, addr, Duration::from_secs(1));
        assert!(matches!(
            evidence,
            Evidence::IcmpErrorInfo | Evidence::Unavailable
        ));
        assert!(icmp_errors(&socket).is_empty());
    }

    #[test]
    fn there_is_no_descriptor_limit_and_no_trace() {
        assert_eq!(descriptor_limit(), None);
        assert!(trace_unsupported().unwrap().contains("Windows"));
    }
}
