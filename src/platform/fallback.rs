//! The plain fallback, for systems with neither Linux's error queue nor Windows' ICMP error
//! info (macOS, the BSDs): a connect's error code is all there is. An ICMP rejection then
//! reads as the error the kernel derived from it (`EHOSTUNREACH`, `ECONNREFUSED`…), with no
//! sender, and the report says the evidence is unavailable.

use std::net::SocketAddr;
use std::time::Duration;

use socket2::Socket;

use super::{Evidence, IcmpError};

/// Nothing to switch on.
pub(crate) fn before_connect(_socket: &Socket, _addr: SocketAddr, _timeout: Duration) -> Evidence {
    Evidence::Unavailable
}

/// Nothing to switch off.
pub(crate) fn after_connect(_socket: &Socket, _addr: SocketAddr) {}

/// Nothing is ever known.
pub(crate) fn icmp_errors(_socket: &Socket) -> Vec<IcmpError> {
    Vec::new()
}

/// Nothing to switch on: an ICMP error on a UDP socket is at best an error code.
pub(crate) fn udp_evidence(_socket: &Socket, _ipv6: bool) -> Evidence {
    Evidence::Unavailable
}

/// Nothing is ever known.
pub(crate) fn udp_icmp_errors(_socket: &Socket) -> Vec<IcmpError> {
    Vec::new()
}

/// A TTL-limited trace needs to know who sent each "time exceeded": without that, every hop
/// would be a `*` and the trace would look like a path of silent routers.
pub(crate) fn trace_unsupported() -> Option<String> {
    Some(
        "path trace is not supported on this system: it needs Linux 5.8 or later, which \
         reports who sent an ICMP error for a TCP SYN without privileges"
            .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fallback_promises_nothing_it_cannot_keep() {
        let socket = Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
        assert_eq!(
            before_connect(&socket, addr, Duration::from_secs(1)),
            Evidence::Unavailable
        );
        after_connect(&socket, addr);
        assert!(icmp_errors(&socket).is_empty());
        assert_eq!(udp_evidence(&socket, false), Evidence::Unavailable);
        assert!(udp_icmp_errors(&socket).is_empty());
        assert!(trace_unsupported().unwrap().contains("not supported"));
    }
}
