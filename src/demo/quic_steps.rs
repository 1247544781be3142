//! The QUIC part of `reach demo`: the in-process QUIC server ([`super::quic_server`]) on a
//! loopback UDP port with the demo's certificates, and the steps that probe it: a routed name
//! `matched` over HTTP/3's transport, and an unknown name falling back to the default.

use std::net::{Ipv4Addr, UdpSocket};

use super::Step;
use super::pki::Credential;
use super::quic_server::{QuicServerHandle, QuicServerSpec, spawn_quic_server};
use crate::exit::ExitCode;

/// Starts the QUIC server (`routed` for its name, `default` for the rest) and returns it with
/// its demo steps; the server stops when the handle is dropped.
pub(super) fn start(
    ca_path: &str,
    routed: (&str, &Credential),
    default: &Credential,
) -> Result<(QuicServerHandle, Vec<Step>), Box<dyn std::error::Error>> {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
    let spec = QuicServerSpec {
        routes: vec![(routed.0.to_string(), routed.1.clone())],
        default: Some(default.clone()),
        ..QuicServerSpec::default()
    };
    let server = spawn_quic_server(socket, spec)?;
    let at = server.addr().to_string();
    let args = |sni: &str| -> Vec<String> {
        ["--quic", "--ca-file", ca_path, "--sni", sni, &at]
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    let steps = vec![
        Step {
            title: "QUIC (the transport of HTTP/3): the same TLS, certificate and virtual-host check over UDP",
            args: args(routed.0),
            expect: ExitCode::Ok,
        },
        Step {
            title: "QUIC: www.demo.example falls back to the default certificate, as over TCP",
            args: args("www.demo.example"),
            expect: ExitCode::Certificate,
        },
    ];
    Ok((server, steps))
}
