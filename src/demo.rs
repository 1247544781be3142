//! `reach demo`: starts local servers on loopback (no root needed) and probes them, showing
//! every verdict reach can give without a real network.

pub mod pki;
pub mod quic_server;
mod quic_steps;
mod smtp;
pub mod tls_server;
mod udp;

use std::io::Write;
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
/// exits 0 when every verdict came out as expected). With `serve`, the servers stay up until
/// Ctrl-C so that the printed commands can be re-run; the CA file they name is kept either way.
pub async fn run(json: bool, serve: bool) -> ExitCode {
    match run_inner(json, serve).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("reach demo: cannot start the local servers: {e}");
            ExitCode::Local
        }
    }
}

/// One demo step: what it shows, the arguments, and the exit code it must produce.
struct Step {
    title: &'static str,
    args: Vec<String>,
    expect: ExitCode,
}

async fn run_inner(json: bool, serve: bool) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let loopback = Ipv4Addr::LOCALHOST;
    // Accepts and never says anything (like `nc -l`).
    let silent = tokio::net::TcpListener::bind((loopback, 0)).await?;
    let silent_port = silent.local_addr()?.port();
    let silent_task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            held.push(stream);
            held.truncate(64);
        }
    });
    let closed = closed_port()?;
    let (_full, _fillers, filtered_port) = full_queue_listener()?;

    // A PKI of our own: a root, an intermediate, and certificates for every case.
    let root = pki::DemoCa::root("reach demo root", pki::KeyKind::EcdsaP256)?;
    let ca = root.intermediate("reach demo intermediate", pki::KeyKind::EcdsaP256)?;
    let ca_file = std::env::temp_dir().join(format!("reach-demo-ca-{}.pem", std::process::id()));
    std::fs::write(&ca_file, root.cert_pem())?;
    let ca_path = ca_file.display().to_string();
    let leaf = |names: &[&str], validity| pki::LeafSpec {
        validity,
        ..pki::LeafSpec::server(names)
    };
    let shop = ca.issue(&leaf(&["shop.demo.example"], pki::Validity::Current))?;
    let default = ca.issue(&leaf(&["default.demo.example"], pki::Validity::Current))?;
    let expired = ca.issue(&leaf(&["old.demo.example"], pki::Validity::Expired))?;
    let untrusted = pki::self_signed(&leaf(&["dev.demo.example"], pki::Validity::Current))?;
    let mail = ca.issue(&leaf(&["mail.demo.example"], pki::Validity::Current))?;
    // QUIC: the same routed name and default, over UDP (its steps come last).
    // A system whose UDP sockets lack what quinn needs (Wine 8 refuses IP_RECVECN) still gets
    // every other step.
    let (quic, quic_steps) =
        match quic_steps::start(&ca_path, ("shop.demo.example", &shop), &default) {
            Ok((server, steps)) => (Some(server), steps),
            Err(e) => {
                eprintln!("reach demo: QUIC steps skipped: no QUIC server on loopback here ({e})");
                (None, Vec::new())
            }
        };

    let spec = tls_server::ServerSpec {
        routes: vec![
            ("shop.demo.example".into(), shop),
            ("old.demo.example".into(), expired),
            ("dev.demo.example".into(), untrusted),
        ],
        default: Some(default),
        ..tls_server::ServerSpec::default()
    };
    let tls_listener = tokio::net::TcpListener::bind((loopback, 0)).await?;
    let tls = tls_server::spawn_sni_server(tls_listener, spec)?;
    let tls_at = tls.addr().to_string();

    let ssh = tokio::net::TcpListener::bind((loopback, 0)).await?;
    let ssh_port = ssh.local_addr()?.port();
    let ssh_task = tokio::spawn(async move {
        while let Ok((mut stream, _)) = ssh.accept().await {
            tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                let _ = stream
                    .write_all(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")
                    .await;
                tokio::time::sleep(Duration::from_secs(5)).await;
            });
        }
    });
    let smtp_listener = tokio::net::TcpListener::bind((loopback, 0)).await?;
    let smtp_port = smtp_listener.local_addr()?.port();
    let smtp_task = smtp::spawn(smtp_listener, "mail.demo.example", &mail)?;

    let udp_demo = udp::UdpDemo::start().await?;

    let a = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut steps = vec![
        Step {
            title: "open, but silent (accepts and never speaks)",
            args: a(&[
                "--greeting-timeout",
                "1s",
                &format!("127.0.0.1:{silent_port}"),
            ]),
            expect: ExitCode::Ok,
        },
        Step {
            title: "closed (nothing listens: RST)",
            args: a(&[&format!("127.0.0.1:{closed}")]),
            expect: ExitCode::NotListening,
        },
        Step {
            title: "filtered (accept queue full: SYNs dropped)",
            args: a(&[&format!("127.0.0.1:{filtered_port}")]),
            expect: ExitCode::Filtered,
        },
        Step {
            title: "a banner: which service answers, and its software",
            args: a(&[&format!("127.0.0.1:{ssh_port}")]),
            expect: ExitCode::Ok,
        },
        Step {
            title: "STARTTLS: SMTP greeting, EHLO capabilities, upgrade, certificate",
            args: a(&[
                "--starttls",
                "smtp",
                "--ca-file",
                &ca_path,
                "--sni",
                "mail.demo.example",
                &format!("127.0.0.1:{smtp_port}"),
            ]),
            expect: ExitCode::Ok,
        },
        Step {
            title: "virtual hosts on one address: shop.demo.example is routed, www.demo.example falls back to the default certificate",
            args: a(&[
                "--ca-file",
                &ca_path,
                "--sni",
                "shop.demo.example",
                "--sni",
                "www.demo.example",
                &tls_at,
            ]),
            expect: ExitCode::Certificate,
        },
        Step {
            title: "an expired certificate",
            args: a(&["--ca-file", &ca_path, "--sni", "old.demo.example", &tls_at]),
            expect: ExitCode::Certificate,
        },
        Step {
            title: "an untrusted (self-signed) certificate",
            args: a(&["--ca-file", &ca_path, "--sni", "dev.demo.example", &tls_at]),
            expect: ExitCode::Certificate,
        },
    ];
    steps.extend(udp_demo.steps());
    let mut stdout = std::io::stdout();
    let mut all_as_expected = true;
    for step in steps.iter().chain(&quic_steps) {
        if !json {
            // A closed pipe (`reach demo | head`) just ends the output; the demo goes on.
            let _ = writeln!(
                stdout,
                "\n# {}\n$ reach {}",
                step.title,
                step.args.join(" ")
            );
        }
        let Some(settings) = demo_settings(&step.args, json) else {
            all_as_expected = false;
            continue;
        };
        let Ok(targets) = crate::app::target_stream(&settings) else {
            all_as_expected = false;
            continue;
        };
        let got = crate::app::run_settings(settings, targets, false, &mut stdout).await;
        if !json {
            let _ = writeln!(stdout, "(exit code {})", got.code());
        }
        if got != step.expect {
            eprintln!(
                "reach demo: {:?} gave exit code {}, expected {}",
                step.title,
                got.code(),
                step.expect.code()
            );
            all_as_expected = false;
        }
    }
    // The printed commands name the CA file: it stays, so they can be re-run (it is a demo
    // root, trusted by nothing but these commands).
    if serve {
        if !json {
            let _ = writeln!(
                stdout,
                "\n# The servers stay up until Ctrl-C: re-run any command above in another \
                 terminal, with other options too (--json, --show-certs, -n 5…)."
            );
            let _ = stdout.flush();
        }
        let _ = tokio::signal::ctrl_c().await;
    } else if !json {
        let _ = writeln!(
            stdout,
            "\n# The servers stop now. `reach demo --serve` keeps them up until Ctrl-C, to re-run \
             the commands above; their CA file stays in {ca_path}."
        );
    }
    silent_task.abort();
    ssh_task.abort();
    smtp_task.abort();
    drop(tls);
    drop(quic);
    drop(udp_demo);
    Ok(if all_as_expected {
        ExitCode::Ok
    } else {
        ExitCode::Expectation
    })
}

fn demo_settings(step: &[String], json: bool) -> Option<Settings> {
    let mut args = vec!["reach", "--timeout", "1s"];
    args.extend(step.iter().map(String::as_str));
    if json {
        args.push("--json");
    }
    let cli = <crate::cli::Cli as clap::Parser>::try_parse_from(args).ok()?;
    let tty = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    Settings::from_cli(&cli, tty, no_color).ok()
}
