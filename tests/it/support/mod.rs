//! Shared test support: the reach binary, loopback servers, real daemons, the network lab, a
//! test DNS responder, TLS servers and certificates.
#![allow(dead_code)]

pub mod chat;
pub mod daemons;
pub mod db;
pub mod dns;
pub mod lab;
pub mod mail;
pub mod scripted;
pub mod tls;
pub mod web;

use std::process::{Command, Output};

/// Runs the built `reach` binary with `args`.
pub fn reach(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reach"))
        .args(args)
        .env_remove("NO_COLOR")
        .output()
        .expect("run reach")
}

/// Parses every stdout line as JSON.
pub fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

/// A loopback port nobody listens on.
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A loopback listener whose accept queue is full, so further SYNs are dropped (filtered).
pub fn full_queue_listener() -> (socket2::Socket, Vec<std::net::TcpStream>, u16) {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket
        .bind(
            &"127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
    socket.listen(0).unwrap();
    let port = socket.local_addr().unwrap().as_socket().unwrap().port();
    let mut fillers = Vec::new();
    for _ in 0..3 {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        if let Ok(s) =
            std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_millis(200))
        {
            fillers.push(s);
        }
    }
    (socket, fillers, port)
}
