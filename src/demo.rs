//! `reach demo`: starts local servers on loopback (no root needed) and probes them, showing
//! every verdict reach can give without a real network.

pub mod pki;
pub mod tls_server;

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::time::Duration;

use crate::config::Settings;
use crate::exit::ExitCode;

/// A loopback port that nothing listens on (bound, then released).
fn closed_port() -> std::io::Result<u16> {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(l.local_addr()?.port())
}

/// A listener whose accept queue is full: Linux then drops further SYNs silently, which is
/// exactly what a filtering firewall looks like from outside.
fn full_queue_listener() -> std::io::Result<(socket2::Socket, Vec<std::net::TcpStream>, u16)> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    socket.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())?;
    socket.listen(0)?;
    let port = socket.local_addr()?.as_socket().map_or(0, |a| a.port());
    // Fill the queue: with a backlog of 0 the kernel admits one connection; a few more for
    // margin. The fillers stay open for the demo's lifetime.
    let mut fillers = Vec::new();
    for _ in 0..3 {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(s) => fillers.push(s),
            Err(_) => break,
        }
    }
    Ok((socket, fillers, port))
}

/// Runs the demo and returns the worst exit code (the demo shows failures on purpose, so it
/// exits 0 when every verdict came out as expected).
pub async fn run(json: bool) -> ExitCode {
    match run_inner(json).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("reach demo: cannot start the local servers: {e}");
            ExitCode::Local
        }
    }
}

async fn run_inner(json: bool) -> std::io::Result<ExitCode> {
    let open = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let open_port = open.local_addr()?.port();
    // Accepts and never says anything (like `nc -l`).
    let silent_task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = open.accept().await {
            held.push(stream);
            held.truncate(64);
        }
    });
    let closed = closed_port()?;
    let (_full, _fillers, filtered_port) = full_queue_listener()?;

    let scenarios = [
        (
            "open (a server that accepts and never speaks)",
            format!("127.0.0.1:{open_port}"),
        ),
        (
            "closed (nothing listens: RST)",
            format!("127.0.0.1:{closed}"),
        ),
        (
            "filtered (accept queue full: SYNs dropped)",
            format!("127.0.0.1:{filtered_port}"),
        ),
    ];
    let mut stdout = std::io::stdout();
    let mut all_as_expected = true;
    let expected = [ExitCode::Ok, ExitCode::NotListening, ExitCode::Filtered];
    for ((title, target), want) in scenarios.iter().zip(expected) {
        if !json {
            println!("\n# {title}\n$ reach --timeout 1s {target}");
        }
        let Some(settings) = demo_settings(target, json) else {
            all_as_expected = false;
            continue;
        };
        let Ok(targets) = crate::app::target_stream(&settings) else {
            all_as_expected = false;
            continue;
        };
        let got = crate::app::run_settings(settings, targets, false, &mut stdout).await;
        all_as_expected &= got == want;
    }
    silent_task.abort();
    Ok(if all_as_expected {
        ExitCode::Ok
    } else {
        ExitCode::Expectation
    })
}

fn demo_settings(target: &str, json: bool) -> Option<Settings> {
    let mut args = vec!["reach", "--timeout", "1s", target];
    if json {
        args.push("--json");
    }
    let cli = <crate::cli::Cli as clap::Parser>::try_parse_from(args).ok()?;
    let tty = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    Settings::from_cli(&cli, tty, no_color).ok()
}
