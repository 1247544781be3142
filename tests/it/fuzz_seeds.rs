//! Records the fuzz targets' seeds (`fuzz/seeds/`) from real daemons: each conversation the
//! probe has with Postfix, Dovecot, vsftpd, slapd, Prosody, InspIRCd, PostgreSQL, MariaDB,
//! nginx, Redis, OpenSSH and `openssl s_server` is written in the scripted-server format of
//! `reach::fuzzing` (what the server sent, and where it waited for the client).
//!
//! In the normal run the conversations are recorded into a temporary directory and checked
//! (every daemon gave a non-empty transcript): the recorder cannot rot unnoticed. The seeds in
//! the repository are written only when asked, as root with the daemons installed:
//! `REACH_RECORD_SEEDS=1 cargo test --test it fuzz_seeds -- --test-threads 1`.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use reach::probe::preamble::{self, PreambleOptions};
use reach::probe::tls::{self, TlsContext, TlsOptions, TlsRequest, TlsVersion};
use reach::service::{Ask, StarttlsProto};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::support::{TempDir, chat, connect, db, loopback, mail, web};

/// What one side did, in order.
#[derive(Debug, Clone)]
enum Event {
    /// The server's bytes, as one read delivered them.
    Read(Vec<u8>),
    /// The client wrote something.
    Wrote,
    /// The server closed.
    Eof,
    /// From here on the bytes belong to the next part (the TLS handshake after STARTTLS).
    Mark,
}

type Log = Arc<Mutex<Vec<Event>>>;

/// A stream that logs what passes through it.
struct Recording<S> {
    inner: S,
    log: Log,
}

impl<S> Recording<S> {
    fn new(inner: S) -> (Recording<S>, Log) {
        let log = Log::default();
        (
            Recording {
                inner,
                log: log.clone(),
            },
            log,
        )
    }
}

fn push(log: &Log, event: Event) {
    log.lock().expect("log").push(event);
}

impl<S: AsyncRead + Unpin> AsyncRead for Recording<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            let got = buf.filled()[before..].to_vec();
            push(
                &self.log,
                if got.is_empty() {
                    Event::Eof
                } else {
                    Event::Read(got)
                },
            );
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Recording<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, bytes);
        if let Poll::Ready(Ok(n)) = polled
            && n > 0
        {
            push(&self.log, Event::Wrote);
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The events as scripts, split at each [`Event::Mark`] (see `reach::fuzzing`).
fn scripts(events: &[Event]) -> Vec<Vec<u8>> {
    let mut parts = vec![Vec::new()];
    let mut wrote = false;
    for event in events {
        let out = parts.last_mut().expect("never empty");
        match event {
            Event::Wrote => wrote = true,
            Event::Read(bytes) => {
                if wrote {
                    out.extend_from_slice(b"\xffw");
                    wrote = false;
                } else if !out.is_empty() {
                    out.extend_from_slice(b"\xffb");
                }
                for &b in bytes {
                    out.push(b);
                    if b == 0xff {
                        out.push(0xff);
                    }
                }
            }
            Event::Eof => {
                out.extend_from_slice(b"\xffz");
                break;
            }
            Event::Mark => {
                parts.push(Vec::new());
                wrote = false;
            }
        }
    }
    parts
}

/// Where seeds go: the repository's `fuzz/seeds` with `REACH_RECORD_SEEDS`, else a temporary
/// directory of this test run.
fn seeds_root() -> &'static PathBuf {
    static ROOT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ROOT.get_or_init(|| {
        if std::env::var_os("REACH_RECORD_SEEDS").is_some() {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds")
        } else {
            std::env::temp_dir().join(format!("reach-fuzz-seeds-{}", std::process::id()))
        }
    })
}

/// Seeds written by this run, and how many were empty.
static WRITTEN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static EMPTY: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn seeds_dir(target: &str) -> PathBuf {
    let dir = seeds_root().join(target);
    std::fs::create_dir_all(&dir).expect("seed dir");
    dir
}

fn write_seed(target: &str, name: &str, header: &[u8], script: &[u8]) {
    let mut data = header.to_vec();
    data.extend_from_slice(script);
    WRITTEN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if script.is_empty() {
        EMPTY.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    std::fs::write(seeds_dir(target).join(name), data).expect("write seed");
    eprintln!(
        "seed {target}/{name}: {} bytes",
        header.len() + script.len()
    );
}

/// Index of `port` in the drivers' port table (`reach::fuzzing`).
fn port_index(port: u16) -> u8 {
    const PORTS: [u16; 16] = [
        21, 22, 25, 80, 110, 143, 389, 443, 587, 993, 3306, 4190, 5222, 5432, 6379, 6667,
    ];
    PORTS
        .iter()
        .position(|p| *p == port)
        .and_then(|i| u8::try_from(i).ok())
        .expect("a port of the table")
}

fn proto_index(proto: StarttlsProto) -> u8 {
    StarttlsProto::ALL
        .iter()
        .position(|p| *p == proto)
        .and_then(|i| u8::try_from(i).ok())
        .expect("a dialect")
}

/// The probe's plaintext part against `port` (STARTTLS with `proto`, or none), then the TLS
/// handshake on what it handed back; writes the seeds of `starttls_dialogue`, `preamble`,
/// `greeting_read` and (after STARTTLS) `tls_probe`.
async fn record_plaintext(name: &str, port: u16, proto: Option<StarttlsProto>, table_port: u16) {
    let (stream, log) = Recording::new(connect(loopback(port)).await);
    let mut opts = PreambleOptions::for_port(port, "localhost");
    opts.starttls = proto;
    // A client-first service is asked what its well-known port would ask.
    opts.ask = match table_port {
        80 => Some(Ask::HttpHead),
        6379 => Some(Ask::RedisPing),
        _ => None,
    };
    let done = preamble::run(stream, &opts).await;
    push(&log, Event::Mark);
    if let Some(stream) = done.stream.filter(|_| done.tls_ready) {
        let ctx = context(false);
        let req = TlsRequest::for_host("127.0.0.1");
        let fresh = || async { None::<Recording<TcpStream>> };
        let _ = tls::probe(stream, fresh, &req, &ctx).await;
    }
    let events = log.lock().expect("log").clone();
    let parts = scripts(&events);
    let plain = &parts[0];
    let table = port_index(table_port);
    match proto {
        Some(p) => {
            write_seed("starttls_dialogue", name, &[proto_index(p), 0], plain);
            // Mode 2: the dialect forced, as with --starttls.
            write_seed("preamble", name, &[table, 2 + 4 * proto_index(p), 0], plain);
        }
        None => write_seed("preamble", name, &[table, 1, 0], plain),
    }
    write_seed("greeting_read", name, &[table, 0, 0], plain);
    if let Some(tls_part) = parts.get(1).filter(|p| !p.is_empty()) {
        write_seed("tls_probe", name, &[2], tls_part);
    }
}

fn context(tls12_only: bool) -> TlsContext {
    TlsContext::load(&TlsOptions {
        max_version: tls12_only.then_some(TlsVersion::Tls12),
        ..TlsOptions::default()
    })
    .expect("context")
}

/// The TLS probe against `addr` with SNI `sni`, every connection recorded: the first is the
/// main one, the others the fresh connections it opened (legacy fallback, default
/// certificate), in order.
async fn record_tls(name: &str, addr: SocketAddr, sni: Option<&str>, tls12_only: bool) {
    let logs: Arc<Mutex<Vec<Log>>> = Arc::default();
    let (stream, first) = Recording::new(connect(addr).await);
    logs.lock().expect("logs").push(first);
    let opener = logs.clone();
    let fresh = move || {
        let opener = opener.clone();
        async move {
            let stream = TcpStream::connect(addr).await.ok()?;
            let (stream, log) = Recording::new(stream);
            opener.lock().expect("logs").push(log);
            Some(stream)
        }
    };
    let req = match sni {
        Some(n) => TlsRequest::for_host(n),
        None => TlsRequest::for_host(&addr.ip().to_string()),
    };
    let _ = tls::probe(stream, fresh, &req, &context(tls12_only)).await;
    let mut data = Vec::new();
    for (i, log) in logs.lock().expect("logs").iter().enumerate() {
        if i > 0 {
            data.extend_from_slice(b"\xffn");
        }
        let events = log.lock().expect("log").clone();
        data.extend_from_slice(&scripts(&events)[0]);
    }
    let flags = u8::from(sni.is_none()) * 2 + u8::from(tls12_only) * 4;
    write_seed("tls_probe", name, &[flags], &data);
}

#[tokio::test]
async fn fuzz_seeds() {
    if cfg!(windows) {
        // The recordings come from Linux daemons and the openssl CLI, skipped on Windows.
        crate::support::skip_or_fail("records conversations with Linux daemons and openssl");
        return;
    }
    record_all().await;
    let written = WRITTEN.load(std::sync::atomic::Ordering::Relaxed);
    let empty = EMPTY.load(std::sync::atomic::Ordering::Relaxed);
    if std::env::var_os("REACH_RECORD_SEEDS").is_none() {
        let _ = std::fs::remove_dir_all(seeds_root());
    }
    // The legacy s_server recordings need only the openssl CLI, present wherever this runs.
    assert!(written > 0, "no conversation was recorded");
    assert_eq!(
        empty, 0,
        "{empty} of {written} recorded conversations are empty"
    );
}

async fn record_all() {
    if let Some(postfix) = mail::postfix() {
        record_plaintext("postfix-smtp", postfix.port, Some(StarttlsProto::Smtp), 25).await;
        record_tls("postfix-smtps", loopback(postfix.smtps_port), None, false).await;
    }
    if let Some(dovecot) = mail::dovecot() {
        record_plaintext("dovecot-imap", dovecot.imap, Some(StarttlsProto::Imap), 143).await;
        record_plaintext("dovecot-pop3", dovecot.pop3, Some(StarttlsProto::Pop3), 110).await;
        record_plaintext("dovecot-lmtp", dovecot.lmtp, Some(StarttlsProto::Lmtp), 25).await;
        record_plaintext(
            "dovecot-sieve",
            dovecot.sieve,
            Some(StarttlsProto::Sieve),
            4190,
        )
        .await;
        record_tls("dovecot-imaps", loopback(dovecot.imaps), None, false).await;
    }
    if let Some(ftp) = mail::vsftpd() {
        record_plaintext("vsftpd-ftp", ftp.port, Some(StarttlsProto::Ftp), 21).await;
    }
    if let Some(sshd) = mail::sshd() {
        record_plaintext("openssh", sshd.port, None, 22).await;
    }
    if let Some(slapd) = chat::slapd(true) {
        record_plaintext("slapd-ldap", slapd.port, Some(StarttlsProto::Ldap), 389).await;
    }
    if let Some(prosody) = chat::prosody() {
        record_plaintext("prosody-c2s", prosody.c2s, Some(StarttlsProto::Xmpp), 5222).await;
        let s2s = Some(StarttlsProto::XmppServer);
        record_plaintext("prosody-s2s", prosody.s2s, s2s, 5222).await;
    }
    if let Some(irc) = chat::inspircd() {
        record_plaintext("inspircd-irc", irc.port, Some(StarttlsProto::Irc), 6667).await;
    }
    if let Some(cluster) = db::pg_cluster() {
        let pg = cluster.start(true);
        record_plaintext("postgres-ssl", pg.port, Some(StarttlsProto::Postgres), 5432).await;
    }
    if let Some(maria) = db::mariadb(true) {
        record_plaintext("mariadb-ssl", maria.port, Some(StarttlsProto::Mysql), 3306).await;
    }
    if let Some(nginx) = web::nginx() {
        record_plaintext("nginx-http", nginx.http, None, 80).await;
        record_tls(
            "nginx-https",
            loopback(nginx.https),
            Some("www.reach.test"),
            false,
        )
        .await;
        record_tls("nginx-https-tls12", loopback(nginx.https), None, true).await;
    }
    if let Some(redis) = web::redis(None) {
        record_plaintext("redis", redis.port, None, 6379).await;
    }
    record_legacy_servers().await;
}

/// `openssl s_server` in the legacy modes the TLS tests use: TLS 1.0 only, and TLS 1.2 with
/// only an RSA-key-exchange CBC suite (both read from the plaintext flight).
async fn record_legacy_servers() {
    use crate::support::daemons::Daemon;
    use crate::support::{free_port, require_binary};
    use reach::demo::pki::{DemoCa, KeyKind, LeafSpec};
    let Some(openssl) = require_binary(&["openssl"], "openssl") else {
        return;
    };
    let ca = DemoCa::root("Seed Root", KeyKind::EcdsaP256).expect("root");
    let leaf = ca
        .issue(&LeafSpec {
            key: KeyKind::Rsa2048,
            ..LeafSpec::server(&["legacy.test"])
        })
        .expect("leaf");
    let modes: [(&str, &[&str]); 3] = [
        (
            "s_server-tls10",
            &["-tls1", "-cipher", "DEFAULT@SECLEVEL=0"],
        ),
        ("s_server-rsa-cbc", &["-tls1_2", "-cipher", "AES128-SHA"]),
        ("s_server-tls12-ecdhe", &["-tls1_2"]),
    ];
    for (name, extra) in modes {
        let dir = TempDir::new("seed-s_server");
        let cert = dir.write("server.pem", &leaf.chain_pem());
        let key = dir.write("server.key", &leaf.key_pem());
        let port = free_port();
        let mut cmd = std::process::Command::new(&openssl);
        cmd.args(["s_server", "-accept", &loopback(port).to_string(), "-cert"])
            .arg(&cert)
            .arg("-key")
            .arg(&key)
            .arg("-quiet")
            .args(extra);
        let _server = Daemon::start("s_server", cmd, &dir, &[port]);
        record_tls(name, loopback(port), Some("legacy.test"), false).await;
    }
}
