//! What differs per operating system, behind one small interface. Nothing outside this module
//! names an errno, a Winsock code, a socket option or a signal.
//!
//! | | Linux | Windows | other Unix (fallback) |
//! |---|---|---|---|
//! | who sent the ICMP that ended a connect | socket error queue (`linux`) | `TCP_ICMP_ERROR_INFO` (`windows`, 10 / Server 2004+) | not known (`fallback`) |
//! | connect error codes | errno | `WSAE…` | errno |
//! | who sent the ICMP that answered a UDP datagram | socket error queue (`linux`) | not known: port unreachable reads as `WSAECONNRESET` | not known |
//! | TTL-limited path trace | yes (≥ 5.8) | no | no |
//! | stop signals | SIGINT, SIGTERM | Ctrl-C, Ctrl-Break | SIGINT, SIGTERM |
//! | descriptor limit | `RLIMIT_NOFILE`, raised | none | `RLIMIT_NOFILE`, raised |
//!
//! `unsafe` is allowed only in `windows`, where the ICMP options have no safe wrapper (see
//! docs/decisions.md); every other module, Linux's included, is written against safe APIs.

use std::net::IpAddr;

#[cfg(target_os = "linux")]
mod linux;
#[cfg(unix)]
mod unix;
#[cfg(windows)]
mod windows;
// Built everywhere in tests, so its behaviour is checked on the machines we have.
#[cfg(any(test, not(any(target_os = "linux", windows))))]
mod fallback;

#[cfg(not(any(target_os = "linux", windows)))]
pub(crate) use fallback::{
    after_connect, before_connect, icmp_errors, trace_unsupported, udp_evidence, udp_icmp_errors,
};
#[cfg(target_os = "linux")]
pub(crate) use linux::{
    after_connect, before_connect, icmp_errors, trace_unsupported, udp_evidence, udp_icmp_errors,
};
#[cfg(all(test, unix))]
pub(crate) use unix::code_for;
#[cfg(unix)]
pub(crate) use unix::{StopSignals, TIMED_OUT, connect_error, descriptor_limit};
#[cfg(all(test, windows))]
pub(crate) use windows::code_for;
#[cfg(windows)]
pub(crate) use windows::{
    StopSignals, TIMED_OUT, after_connect, before_connect, connect_error, descriptor_limit,
    icmp_errors, trace_unsupported, udp_evidence, udp_icmp_errors,
};

/// In a unit test: `true`, after saying so on stderr, when running under Wine, which does not
/// do what Windows does for `reason`; the test then skips (docs/platforms.md lists these).
#[cfg(test)]
pub(crate) fn wine_cannot(reason: &str) -> bool {
    // Every Wine prefix has Wine's own boot program; Windows has none.
    let wine = cfg!(windows) && std::path::Path::new(r"C:\windows\system32\wineboot.exe").exists();
    if wine {
        let test = std::thread::current()
            .name()
            .unwrap_or("a test")
            .to_string();
        eprintln!("skipped under Wine: {test}: {reason}");
    }
    wine
}

/// Where the ICMP evidence of a failed connect comes from on this socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Evidence {
    /// Linux: `IP_RECVERR` / `IPV6_RECVERR` and the socket error queue.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    ErrorQueue,
    /// Windows: `TCP_FAIL_CONNECT_ON_ICMP_ERROR` and `TCP_ICMP_ERROR_INFO`.
    #[cfg_attr(not(windows), allow(dead_code))]
    IcmpErrorInfo,
    /// None: an ICMP error is either reported without its sender, or (older Windows) ignored
    /// until the connect times out.
    Unavailable,
}

/// One ICMP error that ended (or accompanied) a connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IcmpError {
    /// `4` for ICMPv4, `6` for ICMPv6.
    pub version: u8,
    /// ICMP type.
    pub icmp_type: u8,
    /// ICMP code.
    pub code: u8,
    /// The OS error code the system derived from it, when it says (Linux does).
    pub os_error: Option<i32>,
    /// Who sent the ICMP, when the system knows.
    pub offender: Option<IpAddr>,
}

/// What a failed connect's OS error code means, whatever the system spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConnectError {
    /// A RST answered the SYN (`ECONNREFUSED`, `WSAECONNREFUSED`).
    Refused,
    /// The system gave up waiting (`ETIMEDOUT`, `WSAETIMEDOUT`).
    TimedOut,
    /// No route to the network, or the network said so (`ENETUNREACH`, `WSAENETUNREACH`).
    NetUnreachable,
    /// No route to the host, or the network said so (`EHOSTUNREACH`, `WSAEHOSTUNREACH`).
    HostUnreachable,
    /// The local system refused: firewall, policy (`EACCES`, `EPERM`, `WSAEACCES`).
    Denied,
    /// Out of descriptors, buffers, memory or ports.
    Resources,
    /// The connection was reset after the handshake (`ECONNRESET`, `WSAECONNRESET`).
    Reset,
    /// Anything else.
    Other,
}

/// What an error on a UDP socket means. Windows reports an ICMP port unreachable on a UDP
/// socket as a reset (`WSAECONNRESET`), Unix as `ECONNREFUSED`: both are "refused" here.
pub(crate) fn udp_error(code: i32) -> ConnectError {
    match connect_error(code) {
        ConnectError::Reset => ConnectError::Refused,
        other => other,
    }
}

/// A signal (or console event) asking the run to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    /// SIGINT; Ctrl-C on Windows.
    Interrupt,
    /// SIGTERM (`kill`, a service manager); Ctrl-Break on Windows.
    Terminate,
}

impl Signal {
    /// The name a user of this system knows it by.
    pub(crate) fn name(self) -> &'static str {
        match (self, cfg!(windows)) {
            (Signal::Interrupt, false) => "SIGINT",
            (Signal::Terminate, false) => "SIGTERM",
            (Signal::Interrupt, true) => "Ctrl-C",
            (Signal::Terminate, true) => "Ctrl-Break",
        }
    }

    /// 128 + the Unix signal number, as a shell reports a program the signal killed (the same
    /// codes on Windows, so scripts need one table).
    pub(crate) fn exit_code(self) -> u8 {
        match self {
            Signal::Interrupt => 130,
            Signal::Terminate => 143,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_connect_error_is_named_by_this_platform() {
        assert_eq!(connect_error(TIMED_OUT), ConnectError::TimedOut);
        use ConnectError as E;
        for meaning in [
            E::Refused,
            E::TimedOut,
            E::NetUnreachable,
            E::HostUnreachable,
            E::Denied,
            E::Resources,
            E::Reset,
            E::Other,
        ] {
            assert_eq!(connect_error(code_for(meaning)), meaning);
        }
    }

    #[test]
    fn a_udp_reset_is_a_refusal() {
        assert_eq!(
            udp_error(code_for(ConnectError::Reset)),
            ConnectError::Refused
        );
        assert_eq!(
            udp_error(code_for(ConnectError::Refused)),
            ConnectError::Refused
        );
        assert_eq!(
            udp_error(code_for(ConnectError::HostUnreachable)),
            ConnectError::HostUnreachable
        );
    }

    #[test]
    fn signals_keep_the_shell_exit_codes() {
        assert_eq!(Signal::Interrupt.exit_code(), 130);
        assert_eq!(Signal::Terminate.exit_code(), 143);
        assert!(!Signal::Interrupt.name().is_empty());
    }
}
