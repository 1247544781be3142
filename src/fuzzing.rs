//! Entry points for the fuzz targets in `fuzz/` (a package of its own): each driver takes the
//! fuzzer's bytes, builds a scripted in-memory server from them and runs one network-facing
//! part of reach against it on a current-thread runtime with tokio's clock paused, so every
//! deadline runs out at once instead of in real time.
//!
//! Not API: compiled only for the crate's own tests and with the `fuzzing` feature (which the
//! fuzz package turns on), and hidden from the documentation. Every driver also asserts the
//! property that matters besides "no panic": the part under test finishes within a bound of
//! virtual time, so a read without a deadline shows up as a crash, not a silent hang.
//!
//! # The script format
//!
//! A driver's input is a few header bytes (what to run, which options) and then the scripts of
//! the server's side of one or more connections, separated by `FF 6E` (`0xFF 'n'`). Within a
//! script, bytes are data the server sends, and `0xFF` starts a command:
//!
//! | bytes | the server… |
//! |---|---|
//! | `FF FF` | sends one `0xFF` byte |
//! | `FF 62` (`b`) | ends the current chunk here (the data before and after arrive in separate reads) |
//! | `FF 77` (`w`) | waits until the client has written something since the last wait |
//! | `FF 70 N` (`p`) | pauses `N × 100` ms (virtual time) |
//! | `FF 72` (`r`) | fails the next read with `ConnectionReset` |
//! | `FF 78` (`x`) | fails the next read with another I/O error |
//! | `FF 57` (`W`) | fails the next write with `BrokenPipe` |
//! | `FF 7A` (`z`) | closes the connection (every later read is end-of-file) |
//! | `FF 73` (`s`) | goes silent forever (only a deadline ends the wait) |
//!
//! Any other command byte is ignored. When a script runs out, the server closes or goes
//! silent, as the driver's header says. Seeds in this format, recorded from real daemons, are
//! in `fuzz/seeds/`; `fuzz/README.md` says how to make more.

use std::collections::VecDeque;
use std::future::Future;
use std::io::{self, BufRead, Read};
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use crate::probe::greeting::{self, GreetingOptions, Limits};
use crate::probe::preamble::{self, PreambleOptions};
use crate::probe::starttls::{self, StarttlsOptions};
use crate::probe::tls::{self, TlsContext, TlsOptions, TlsRequest, TlsVersion, verify};
use crate::report::tls::CertProblem;
use crate::service::{Ask, StarttlsProto};
use rustls::pki_types::{CertificateDer, ServerName};

/// Anything that takes longer than this much virtual time is a hang: no part of a probe may
/// wait that long (the longest deadlines are seconds).
const HANG: Duration = Duration::from_secs(3600);

/// One step of a scripted server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Bytes delivered in one read (or several, if the reader's buffer is smaller).
    Data(Vec<u8>),
    /// Wait until the client has written since the previous wait.
    WaitWrite,
    /// Nothing for this long.
    Pause(Duration),
    /// The next read fails with `ConnectionReset`.
    Reset,
    /// The next read fails with another error.
    Error,
    /// The next write fails with `BrokenPipe`.
    WriteFail,
    /// End of file from here on.
    Close,
    /// Silence from here on.
    Stall,
}

/// What a server does when its script runs out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtEnd {
    /// Closes the connection.
    Close,
    /// Goes silent.
    Stall,
}

/// Splits `body` into connection scripts (see the module documentation).
pub fn parse_scripts(body: &[u8]) -> Vec<Vec<Step>> {
    let mut scripts = vec![Vec::new()];
    let mut data = Vec::new();
    let flush = |data: &mut Vec<u8>, steps: &mut Vec<Step>| {
        if !data.is_empty() {
            steps.push(Step::Data(std::mem::take(data)));
        }
    };
    let mut bytes = body.iter().copied();
    while let Some(b) = bytes.next() {
        if b != 0xFF {
            data.push(b);
            continue;
        }
        let Some(command) = bytes.next() else { break };
        let steps = scripts.last_mut().expect("never empty");
        if command == 0xFF {
            data.push(0xFF);
            continue;
        }
        flush(&mut data, steps);
        match command {
            b'w' => steps.push(Step::WaitWrite),
            b'p' => {
                let tenths = bytes.next().unwrap_or(1);
                steps.push(Step::Pause(Duration::from_millis(100) * u32::from(tenths)));
            }
            b'r' => steps.push(Step::Reset),
            b'x' => steps.push(Step::Error),
            b'W' => steps.push(Step::WriteFail),
            b'z' => steps.push(Step::Close),
            b's' => steps.push(Step::Stall),
            b'n' => scripts.push(Vec::new()),
            _ => {} // `b` (a chunk boundary) and unknown commands: only the flush.
        }
    }
    let steps = scripts.last_mut().expect("never empty");
    flush(&mut data, steps);
    scripts
}

/// The server's side of one in-memory connection, played from a script.
#[derive(Debug)]
pub struct Scripted {
    steps: VecDeque<Step>,
    at_end: AtEnd,
    /// The client wrote since the last `WaitWrite`.
    wrote: bool,
    /// Everything the client wrote, up to a bound (for tests).
    written: Vec<u8>,
    pause: Option<Pin<Box<Sleep>>>,
    reader: Option<Waker>,
}

/// At most this much of what the client writes is kept.
const WRITTEN_KEPT: usize = 64 * 1024;

impl Scripted {
    /// A connection that plays `steps`, then does `at_end`.
    pub fn new(steps: Vec<Step>, at_end: AtEnd) -> Scripted {
        Scripted {
            steps: steps.into(),
            at_end,
            wrote: false,
            written: Vec::new(),
            pause: None,
            reader: None,
        }
    }

    /// What the client wrote (the first 64 KiB).
    pub fn written(&self) -> &[u8] {
        &self.written
    }
}

impl AsyncRead for Scripted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            let Some(step) = this.steps.front_mut() else {
                return match this.at_end {
                    AtEnd::Close => Poll::Ready(Ok(())),
                    AtEnd::Stall => Poll::Pending,
                };
            };
            match step {
                Step::Data(data) => {
                    let n = data.len().min(buf.remaining());
                    buf.put_slice(&data[..n]);
                    data.drain(..n);
                    if data.is_empty() {
                        this.steps.pop_front();
                    }
                    return Poll::Ready(Ok(()));
                }
                Step::WaitWrite => {
                    if !this.wrote {
                        this.reader = Some(cx.waker().clone());
                        return Poll::Pending;
                    }
                    this.wrote = false;
                    this.steps.pop_front();
                }
                Step::Pause(d) => {
                    let d = *d;
                    let sleep = this
                        .pause
                        .get_or_insert_with(|| Box::pin(tokio::time::sleep(d)));
                    if sleep.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    this.pause = None;
                    this.steps.pop_front();
                }
                Step::Reset => {
                    this.steps.pop_front();
                    return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
                }
                Step::Error => {
                    this.steps.pop_front();
                    return Poll::Ready(Err(io::Error::other("scripted read error")));
                }
                // A write failure is for the writer; reads go on.
                Step::WriteFail => {
                    this.steps.pop_front();
                }
                Step::Close => return Poll::Ready(Ok(())),
                Step::Stall => return Poll::Pending,
            }
        }
    }
}

impl AsyncWrite for Scripted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.steps.front() == Some(&Step::WriteFail) {
            this.steps.pop_front();
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        if !bytes.is_empty() {
            this.wrote = true;
            let room = WRITTEN_KEPT.saturating_sub(this.written.len());
            this.written
                .extend_from_slice(&bytes[..bytes.len().min(room)]);
            if let Some(reader) = this.reader.take() {
                reader.wake();
            }
        }
        Poll::Ready(Ok(bytes.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Runs `fut` on a current-thread runtime with the clock paused, and panics if it takes more
/// than [`HANG`] of virtual time: a wait without a deadline.
pub fn run_paused<F: Future>(what: &str, fut: F) -> F::Output {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime");
    runtime.block_on(async {
        match tokio::time::timeout(HANG, fut).await {
            Ok(out) => out,
            Err(_) => panic!("{what} did not finish within {HANG:?} of virtual time"),
        }
    })
}

/// The header byte at `i`, or 0.
fn byte(data: &[u8], i: usize) -> u8 {
    data.get(i).copied().unwrap_or(0)
}

fn at_end(flags: u8) -> AtEnd {
    if flags & 1 == 0 {
        AtEnd::Close
    } else {
        AtEnd::Stall
    }
}

/// Short limits, so the paused clock has little to skip (the values do not change the paths).
fn limits(flags: u8) -> Limits {
    Limits {
        first_byte: Duration::from_millis(if flags & 2 == 0 { 2000 } else { 300 }),
        total: Duration::from_secs(5),
        settle: Duration::from_millis(300),
        max_bytes: if flags & 4 == 0 { 16 * 1024 } else { 256 },
    }
}

fn first_script(body: &[u8], end: AtEnd) -> Scripted {
    let steps = parse_scripts(body).into_iter().next().unwrap_or_default();
    Scripted::new(steps, end)
}

/// Ports whose service table entries steer the greeting reader and the preamble.
const PORTS: [u16; 16] = [
    21, 22, 25, 80, 110, 143, 389, 443, 587, 993, 3306, 4190, 5222, 5432, 6379, 6667,
];

const ASKS: [Option<Ask>; 5] = [
    None,
    Some(Ask::Listen),
    Some(Ask::HttpHead),
    Some(Ask::RedisPing),
    Some(Ask::PostgresSslRequest),
];

/// `starttls_dialogue`: header = [dialect, flags]; one connection.
///
/// Runs the STARTTLS upgrade of the chosen dialect (all 13) against the script, with or
/// without the greeting read first, forced or not.
pub fn starttls_dialogue(data: &[u8]) {
    let (proto_byte, flags) = (byte(data, 0), byte(data, 1));
    let proto = StarttlsProto::ALL[usize::from(proto_byte) % StarttlsProto::ALL.len()];
    let body = data.get(2..).unwrap_or_default();
    let opts = StarttlsOptions {
        limits: limits(flags >> 1),
        deadline: Duration::from_secs(10),
        client_name: "client.reach.test".into(),
        domain: "server.reach.test".into(),
        force: flags & 0x10 != 0,
    };
    let stream = first_script(body, at_end(flags));
    run_paused("starttls::upgrade", async {
        let up = starttls::upgrade(stream, proto, None, &opts).await;
        // The stream comes back only when the server agreed.
        assert_eq!(
            up.stream.is_some(),
            up.report.result == crate::report::greeting::StarttlsResult::Negotiated
        );
    });
}

/// `greeting_read`: header = [port, ask, flags]; one connection.
///
/// Reads a greeting the way the probe does (with the port's client-first request, if any),
/// asks for the capabilities on the same stream, and reads a greeting as if inside TLS.
pub fn greeting_read(data: &[u8]) {
    let port = PORTS[usize::from(byte(data, 0)) % PORTS.len()];
    let ask = ASKS[usize::from(byte(data, 1)) % ASKS.len()];
    let flags = byte(data, 2);
    let body = data.get(3..).unwrap_or_default();
    let lim = limits(flags >> 1);
    let opts = GreetingOptions {
        limits: lim,
        ask,
        over_tls: false,
        hint: None,
    };
    let mut stream = first_script(body, at_end(flags));
    run_paused("greeting::read", async {
        let mut report = greeting::read(&mut stream, port, "server.reach.test", &opts).await;
        let _ = greeting::capabilities(&mut stream, &mut report, "client\r\nRSET", &lim).await;
        let _ = greeting::identify_service(port, Some(&report));
        let tls_opts = GreetingOptions {
            over_tls: true,
            ..opts
        };
        let inside = greeting::read_after_tls(&mut stream, port, "h", &tls_opts).await;
        assert!(inside.over_tls);
    });
}

/// `preamble`: header = [port, mode, flags]; one connection.
///
/// The whole plaintext part of a probe: greeting, identification, capabilities and the
/// upgrade (the port's dialect, a forced one, none, or implicit TLS).
pub fn preamble(data: &[u8]) {
    let port = PORTS[usize::from(byte(data, 0)) % PORTS.len()];
    let mode = byte(data, 1);
    let flags = byte(data, 2);
    let body = data.get(3..).unwrap_or_default();
    let mut opts = PreambleOptions::for_port(port, "server.reach.test");
    opts.limits = limits(flags >> 1);
    opts.starttls_deadline = Duration::from_secs(8);
    match mode % 4 {
        0 => {}
        1 => opts.starttls = None,
        2 => {
            let n = usize::from(mode / 4) % StarttlsProto::ALL.len();
            opts.starttls = Some(StarttlsProto::ALL[n]);
            opts.force_starttls = true;
        }
        _ => opts.ask = ASKS[usize::from(mode / 4) % ASKS.len()],
    }
    opts.capabilities = flags & 0x10 == 0;
    let stream = first_script(body, at_end(flags));
    run_paused("preamble::run", async {
        let done = preamble::run(stream, &opts).await;
        if done.tls_ready {
            assert!(done.stream.is_some(), "ready for TLS without a stream");
        }
    });
}

/// The TLS context of the TLS drivers, loaded once (the Mozilla roots plus the demo CA the
/// seeds' chains end at, if any).
fn tls_context(tls12_only: bool) -> &'static TlsContext {
    static BOTH: OnceLock<TlsContext> = OnceLock::new();
    static TLS12: OnceLock<TlsContext> = OnceLock::new();
    let cell = if tls12_only { &TLS12 } else { &BOTH };
    cell.get_or_init(|| {
        let options = TlsOptions {
            handshake_timeout: Duration::from_secs(5),
            max_version: tls12_only.then_some(TlsVersion::Tls12),
            ..TlsOptions::default()
        };
        TlsContext::load(&options).expect("the default TLS context loads")
    })
}

/// `tls_probe`: header = [flags]; the main connection, then the fresh connections the probe
/// opens for the legacy fallback and the default certificate, in order.
///
/// The whole TLS layer: the rustls handshake and its failure classification, the legacy
/// ClientHello and its read loop, the certificate verdicts of whatever chain arrived, and the
/// virtual-host fetch.
pub fn tls_probe(data: &[u8]) {
    let flags = byte(data, 0);
    let body = data.get(1..).unwrap_or_default();
    let end = at_end(flags);
    let mut scripts = parse_scripts(body).into_iter();
    let main = Scripted::new(scripts.next().unwrap_or_default(), end);
    let fresh: Arc<Mutex<VecDeque<Vec<Step>>>> = Arc::new(Mutex::new(scripts.collect()));
    let open_fresh = || {
        let next = fresh
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .pop_front();
        async move { next.map(|steps| Scripted::new(steps, end)) }
    };
    let request = if flags & 2 == 0 {
        TlsRequest {
            // The vhost references: the no-SNI and `.invalid` handshakes, and another name.
            reference_always: flags & 8 != 0,
            other_name: (flags & 16 != 0).then(|| "other.reach.test".to_string()),
            ..TlsRequest::for_host("server.reach.test")
        }
    } else {
        TlsRequest {
            sni: None,
            verify_name: "192.0.2.1".into(),
            ..TlsRequest::default()
        }
    };
    let ctx = tls_context(flags & 4 != 0);
    run_paused("tls::probe", async {
        let (report, session) = tls::probe(main, open_fresh, &request, ctx).await;
        // A scripted server cannot finish a real handshake; if one ever does, it must be clean.
        if session.is_some() {
            assert!(report.error.is_none(), "a session next to an error");
        }
        if report.error.is_none() {
            assert!(report.version.is_some());
        }
    });
}

/// `chain_judge`: the certificate verdicts of an arbitrary chain. The input is a list of
/// DER blobs, each prefixed by its length in two bytes (big-endian); the last one is also
/// offered as a trust anchor.
pub fn chain_judge(data: &[u8]) {
    let ders = blobs(data, 16);
    let ctx = tls_context(false);
    let mut roots = rustls::RootCertStore::empty();
    if let Some(last) = ders.last() {
        let _ = roots.add(CertificateDer::from(last.to_vec()));
    }
    let now = crate::cert::now_unix();
    let summaries: Vec<_> = ders
        .iter()
        .map(|d| crate::cert::summarize(d, now))
        .collect();
    let chain: Vec<_> = ders.iter().map(|d| CertificateDer::from(*d)).collect();
    for name in ["server.reach.test", "192.0.2.1", "not a name"] {
        let expected = ServerName::try_from(name.to_string()).ok();
        let judge = verify::Judge {
            roots: &roots,
            provider: &ctx.provider,
            expected: expected.as_ref(),
            name_text: name,
            now,
            cache: &Default::default(),
        };
        let v = verify::judge(&judge, &chain, &summaries);
        assert_eq!(v.errors.len(), v.notes.len());
        assert!(!v.trusted || !v.errors.iter().any(|e| e.is_trust()));
        assert!(!v.name_match || !v.errors.contains(&CertProblem::NameMismatch));
    }
}

/// `revocation_answers`: header = [kind, now (4 bytes, seconds after 2026-01-01)], then
/// length-prefixed blobs as in [`chain_judge`]: the answer, the leaf (DER), its issuer (DER).
///
/// Reads and verifies the answer the way the revocation check does: kind 0 an OCSP response,
/// 1 a CRL, 2 and 3 the same inside an HTTP response (the bounded client's parser first).
pub fn revocation_answers(data: &[u8]) {
    use crate::probe::tls::revocation::{self, crl, http};
    let kind = byte(data, 0) % 4;
    let offset = u32::from_be_bytes([byte(data, 1), byte(data, 2), byte(data, 3), byte(data, 4)]);
    let now = 1_767_225_600 + i64::from(offset);
    let blobs = blobs(data.get(5..).unwrap_or_default(), 3);
    let answer = blobs.first().copied().unwrap_or_default();
    let _ = tls::ocsp::summarize(answer);
    let _ = http::complete(answer);
    let body = if kind >= 2 {
        match http::parse_response(answer, 64 * 1024) {
            Ok(body) => body,
            Err(why) => {
                assert!(!why.is_empty());
                return;
            }
        }
    } else {
        answer.to_vec()
    };
    let (Some(leaf), Some(issuer)) = (blobs.get(1), blobs.get(2)) else {
        return;
    };
    let Ok((_, leaf)) = x509_parser::parse_x509_certificate(leaf) else {
        return;
    };
    let Ok((_, issuer_cert)) = x509_parser::parse_x509_certificate(issuer) else {
        return;
    };
    let issuer = revocation::Issuer {
        name_der: issuer_cert.subject().as_raw().to_vec(),
        spki_der: issuer_cert.public_key().raw.to_vec(),
    };
    let checked = if kind.is_multiple_of(2) {
        tls::ocsp::verify(&body, &leaf, &issuer, now)
    } else {
        crl::check(&body, &leaf, &issuer, now)
    };
    if let Err(why) = checked {
        assert!(!why.is_empty());
    }
    let _ = tls::ocsp::request(&leaf, &issuer);
}

/// Up to `max` blobs, each prefixed by its length in two bytes (big-endian).
fn blobs(mut rest: &[u8], max: usize) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while rest.len() >= 2 && out.len() < max {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        let take = len.min(rest.len() - 2);
        out.push(&rest[2..2 + take]);
        rest = &rest[2 + take..];
    }
    out
}

/// A reader that plays a script of chunks and errors, for the target-file reader.
struct ScriptedReader {
    steps: VecDeque<Step>,
}

impl Read for ScriptedReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.steps.front_mut() {
                None | Some(Step::Close) => return Ok(0),
                Some(Step::Data(data)) => {
                    let n = data.len().min(buf.len());
                    buf[..n].copy_from_slice(&data[..n]);
                    data.drain(..n);
                    if data.is_empty() {
                        self.steps.pop_front();
                    }
                    return Ok(n);
                }
                Some(Step::Reset | Step::Error) => {
                    self.steps.pop_front();
                    return Err(io::Error::other("scripted read error"));
                }
                // `Interrupted` must be retried by the reader, as std's readers do.
                Some(Step::Pause(_)) => {
                    self.steps.pop_front();
                    return Err(io::ErrorKind::Interrupted.into());
                }
                Some(_) => {
                    self.steps.pop_front();
                }
            }
        }
    }
}

/// `input_reader`: header = [buffer size]; the script is the input file, its commands read
/// errors (`r`, `x`) and interruptions (`p`).
///
/// Reads target lines the way `-i FILE` does, through a small buffer, and checks that errors
/// end the input with at most one error line per problem.
pub fn input_reader(data: &[u8]) {
    let capacity = usize::from(byte(data, 0)).max(1);
    let body = data.get(1..).unwrap_or_default();
    let steps = parse_scripts(body).into_iter().next().unwrap_or_default();
    let reader = io::BufReader::with_capacity(
        capacity,
        ScriptedReader {
            steps: steps.into(),
        },
    );
    let mut count = 0usize;
    for item in crate::input::read_lines(reader, "fuzz".into(), 1 << 16) {
        count += 1;
        if let Err(e) = item {
            assert!(!e.problem.is_empty());
        }
        assert!(count <= body.len() + 2, "more items than input bytes");
    }
    // The reader is consumed; a BufRead over a slice behaves the same way.
    let _ = io::Cursor::new(body).fill_buf();
}

#[cfg(test)]
mod tests;

/// `udp_answers`: any datagram, read by every UDP answer parser (DNS, NTP, SNMP) and by the
/// wrapper that turns it into the report's `answer` for each request kind: no panic, every
/// field bounded. The first byte picks the DNS id and NTP origin the answer is matched with.
pub fn udp_answers(data: &[u8]) {
    use crate::probe::udp;
    let id = u16::from(byte(data, 0));
    let now = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_767_225_600);
    let _ = udp::dns::parse(data, id);
    let _ = udp::ntp::parse(data, &[u64::from(id)], now);
    let _ = udp::snmp::parse(data);
    for answer in udp::parse_all_kinds(data, id, now) {
        assert!(answer.fields.len() <= 64);
        assert!(answer.hex.len() <= 2 * udp::wire::SHOWN_BYTES + 3);
        assert!(
            answer
                .fields
                .values()
                .all(|v| v.chars().count() <= udp::wire::MAX_FIELD + 1)
        );
    }
}
