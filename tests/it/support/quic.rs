//! QUIC servers for the tests: the in-process quinn server of `reach demo`
//! ([`reach::demo::quic_server`]) on loopback, and a scripted Version Negotiation answerer for
//! the one behaviour no real server shows on demand (every QUIC server speaks version 1).

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use reach::demo::pki::Credential;
use reach::demo::quic_server::{QuicServerHandle, QuicServerSpec, spawn_quic_server};

/// Longest the scripted server stays up.
const SCRIPTED_LIFETIME: Duration = Duration::from_secs(30);

/// A QUIC server on 127.0.0.1 (an ephemeral UDP port).
pub fn quic_server(spec: QuicServerSpec) -> QuicServerHandle {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind loopback UDP");
    spawn_quic_server(socket, spec).expect("QUIC server starts")
}

/// A QUIC server on the UDP twin of a TCP port already in use on 127.0.0.1; `None` when that
/// UDP port is taken (the caller tries another TCP port).
pub fn quic_server_on(port: u16, spec: QuicServerSpec) -> Option<QuicServerHandle> {
    let socket = UdpSocket::bind(("127.0.0.1", port)).ok()?;
    Some(spawn_quic_server(socket, spec).expect("QUIC server starts"))
}

/// Routes and a default, for a QUIC server.
pub fn quic_routes(routes: &[(&str, &Credential)], default: Option<&Credential>) -> QuicServerSpec {
    QuicServerSpec {
        routes: routes
            .iter()
            .map(|(n, c)| (n.to_string(), (*c).clone()))
            .collect(),
        default: default.cloned(),
        ..QuicServerSpec::default()
    }
}

/// A scripted UDP server that answers every long-header packet of a non-zero version with a
/// Version Negotiation packet (RFC 9000 §17.2.1) offering only `offered`: what a server that
/// speaks none of the client's versions sends. Scripted because no installable server can be
/// told to drop version 1. Returns its address; it stops after [`SCRIPTED_LIFETIME`] or when
/// the runtime ends.
pub async fn version_negotiation_server(offered: &[u32]) -> SocketAddr {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind loopback UDP");
    let addr = socket.local_addr().expect("addr");
    let offered = offered.to_vec();
    tokio::spawn(async move {
        let serve = async {
            let mut buf = [0u8; 2048];
            loop {
                let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
                    continue;
                };
                if let Some(answer) = version_negotiation(&buf[..n], &offered) {
                    let _ = socket.send_to(&answer, peer).await;
                }
            }
        };
        let _ = tokio::time::timeout(SCRIPTED_LIFETIME, serve).await;
    });
    addr
}

/// The Version Negotiation answer to `datagram`, when it starts with a long header of a
/// non-zero version: the connection IDs swapped, then the offered versions. Bounds-checked.
fn version_negotiation(datagram: &[u8], offered: &[u32]) -> Option<Vec<u8>> {
    let first = *datagram.first()?;
    let version = datagram.get(1..5)?;
    if first & 0x80 == 0 || version == [0, 0, 0, 0] {
        return None;
    }
    let dcid_len = usize::from(*datagram.get(5)?);
    let dcid = datagram.get(6..6 + dcid_len)?;
    let scid_len = usize::from(*datagram.get(6 + dcid_len)?);
    let scid = datagram.get(7 + dcid_len..7 + dcid_len + scid_len)?;
    // The first byte's low seven bits are unused; the long-header bit is set.
    let mut answer = vec![0x80 | 0x2a, 0, 0, 0, 0];
    answer.push(u8::try_from(scid.len()).ok()?);
    answer.extend_from_slice(scid);
    answer.push(u8::try_from(dcid.len()).ok()?);
    answer.extend_from_slice(dcid);
    for v in offered {
        answer.extend_from_slice(&v.to_be_bytes());
    }
    Some(answer)
}
