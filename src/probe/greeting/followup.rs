//! Follow-up probes: what to ask a service that said nothing, or said only a bare `220`.
//!
//! A silent service is usually one that waits for its client: TLS, HTTP, or a database. In this
//! order, and together within one budget (the greeting deadline), it is sent:
//!
//! 1. a TLS ClientHello on the silent connection itself (a TLS record back: "TLS found");
//! 2. `HEAD /` on a new connection (an HTTP status line back, with its `Server`);
//! 3. PostgreSQL's 8-byte `SSLRequest` on a new connection (`S` or `N` back);
//! 4. Redis `PING` on a new connection (`+PONG` or a RESP error back).
//!
//! A RESP error line (`-ERR unknown command`) to any of them is Redis. A bare `220` greeting is
//! asked `EHLO` (SMTP answers 250) and, if refused, `FEAT` (FTP answers 211). Each probe is
//! bounded in bytes ([`Limits::max_bytes`]) and time; none carries credentials.

use std::future::Future;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

use super::reader::{self, End, Limits};
use super::reply::{self, Parsed};
use super::{GreetingOptions, ftp, identify, smtp, tls};
use crate::report::greeting::{FollowUp, GreetingReport, GreetingState, RedisReply};
use crate::service::Ask;

/// What the follow-ups found on a silent port.
#[derive(Debug)]
pub struct Found {
    /// The report to keep: the answer that identified the service (with `found_by` and
    /// `follow_ups` set), or the silent greeting with the probes that were tried.
    pub greeting: GreetingReport,
    /// A TLS record answered the ClientHello: the port speaks TLS.
    pub tls: bool,
}

/// The smallest share of the budget one probe gets (a loopback answer takes well under it).
const MIN_SHARE: Duration = Duration::from_millis(50);

/// Runs the follow-up probes after `silent` (the greeting report of `stream`, which said
/// nothing). `open` makes a new connection to the same address. The probes share `budget`.
pub async fn after_silence<S, F, Fut, T>(
    mut stream: S,
    silent: GreetingReport,
    open: F,
    host: &str,
    port: u16,
    budget: Duration,
    limits: &Limits,
) -> Found
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: Fn() -> Fut,
    Fut: Future<Output = Option<T>>,
    T: AsyncRead + AsyncWrite + Unpin,
{
    let deadline = Instant::now() + budget;
    let share = |left: u32| {
        let remaining = deadline.saturating_duration_since(Instant::now());
        (remaining / left).max(MIN_SHARE)
    };
    let mut tried = Vec::new();

    // 1. TLS ClientHello on the silent connection.
    tried.push(FollowUp::TlsClientHello);
    let sni = crate::probe::tls::sni_is_valid(host).then_some(host);
    let hello = crate::probe::tls::legacy::client_hello(sni);
    let bounds = bounded(limits, share(4));
    let mut buf = Vec::new();
    let mut first_byte = None;
    if reader::send(&mut stream, &hello, Instant::now() + bounds.total)
        .await
        .is_ok()
    {
        let got = reader::read_until(&mut stream, &mut buf, &bounds, true, |b| {
            tls::looks_like(b) && tls::complete(b) || b.contains(&b'\n')
        })
        .await;
        first_byte = got.first_byte;
    }
    drop(stream);
    if let Some(record) = tls::parse(&buf) {
        let mut g = answered(
            &silent,
            FollowUp::TlsClientHello,
            &tried,
            first_byte,
            buf.len(),
        );
        g.text = format!(
            "TLS found on port {port}: {} {} record",
            record.version, record.content_type
        );
        if let Some(alert) = &record.alert {
            g.text = format!("TLS found on port {port}: {} alert {alert}", record.version);
        }
        g.protocol = Some("tls".into());
        g.tls = Some(record);
        return Found {
            greeting: g,
            tls: true,
        };
    }
    if let Some(g) = redis_answer(&buf, &silent, FollowUp::TlsClientHello, &tried, first_byte) {
        return Found {
            greeting: g,
            tls: false,
        };
    }

    // 2. HEAD / on a new connection.
    tried.push(FollowUp::HttpHead);
    if let Some(mut fresh) = open().await {
        let opts = GreetingOptions {
            limits: bounded(limits, share(3)),
            ask: Some(Ask::HttpHead),
            over_tls: false,
            hint: None,
        };
        let mut g = super::read(&mut fresh, port, host, &opts).await;
        if g.protocol.as_deref() == Some("http") {
            g.found_by = Some(FollowUp::HttpHead);
            g.follow_ups = tried;
            return Found {
                greeting: g,
                tls: false,
            };
        }
        let raw = g.text.clone().into_bytes();
        if let Some(r) = redis_answer(&raw, &silent, FollowUp::HttpHead, &tried, None) {
            return Found {
                greeting: r,
                tls: false,
            };
        }
    }

    // 3. PostgreSQL SSLRequest on a new connection.
    tried.push(FollowUp::PostgresSslRequest);
    if let Some(mut fresh) = open().await {
        let opts = GreetingOptions {
            limits: bounded(limits, share(2)),
            ask: Some(Ask::PostgresSslRequest),
            over_tls: false,
            hint: None,
        };
        let mut g = super::read(&mut fresh, port, host, &opts).await;
        if g.protocol.as_deref() == Some("postgres") {
            g.found_by = Some(FollowUp::PostgresSslRequest);
            g.follow_ups = tried;
            return Found {
                greeting: g,
                tls: false,
            };
        }
    }
    // 4. Redis PING on a new connection.
    tried.push(FollowUp::RedisPing);
    if let Some(mut fresh) = open().await {
        let opts = GreetingOptions {
            limits: bounded(limits, share(1)),
            ask: Some(Ask::RedisPing),
            over_tls: false,
            hint: None,
        };
        let mut g = super::read(&mut fresh, port, host, &opts).await;
        if g.protocol.as_deref() == Some("redis") {
            g.found_by = Some(FollowUp::RedisPing);
            g.follow_ups = tried;
            return Found {
                greeting: g,
                tls: false,
            };
        }
        let raw = g.text.clone().into_bytes();
        if let Some(r) = redis_answer(&raw, &silent, FollowUp::RedisPing, &tried, None) {
            return Found {
                greeting: r,
                tls: false,
            };
        }
    }
    let mut g = silent;
    g.follow_ups = tried;
    Found {
        greeting: g,
        tls: false,
    }
}

/// `limits` with its first-byte and total bounds cut to `share`.
fn bounded(limits: &Limits, share: Duration) -> Limits {
    Limits {
        first_byte: limits.first_byte.min(share),
        total: limits.total.min(share),
        settle: limits.settle.min(share),
        max_bytes: limits.max_bytes,
    }
}

fn answered(
    silent: &GreetingReport,
    by: FollowUp,
    tried: &[FollowUp],
    first_byte: Option<Duration>,
    bytes: usize,
) -> GreetingReport {
    GreetingReport {
        state: GreetingState::Reply,
        banner_ms: first_byte.map(|d| d.as_secs_f64() * 1000.0),
        bytes,
        asked: Some(describe(by).into()),
        found_by: Some(by),
        follow_ups: tried.to_vec(),
        over_tls: silent.over_tls,
        ..GreetingReport::default()
    }
}

/// A RESP reply line (`-ERR unknown command …`, `-NOAUTH …`, `-DENIED …`) to a probe that was
/// not Redis: only a Redis server answers a foreign request that way. (POP3 also says `-ERR`,
/// but a POP3 server speaks first and is never silent.)
fn redis_answer(
    buf: &[u8],
    silent: &GreetingReport,
    by: FollowUp,
    tried: &[FollowUp],
    first_byte: Option<Duration>,
) -> Option<GreetingReport> {
    let line = buf.split(|&b| b == b'\n').next()?;
    let line = String::from_utf8_lossy(line);
    let line = line.trim_end_matches('\r');
    let body = line.strip_prefix('-')?;
    let word = body.split_whitespace().next()?;
    if !matches!(word, "ERR" | "NOAUTH" | "DENIED" | "WRONGPASS" | "LOADING") {
        return None;
    }
    let mut g = answered(silent, by, tried, first_byte, buf.len());
    g.protocol = Some("redis".into());
    g.text = identify::text(line.as_bytes());
    g.redis = Some(RedisReply {
        reply: body.to_string(),
        error: true,
        auth_required: matches!(word, "NOAUTH"),
    });
    super::fingerprint::apply(&mut g);
    Some(g)
}

fn describe(by: FollowUp) -> &'static str {
    match by {
        FollowUp::TlsClientHello => "TLS ClientHello",
        FollowUp::HttpHead => "HEAD / HTTP/1.1",
        FollowUp::PostgresSslRequest => "SSLRequest",
        FollowUp::RedisPing => "PING",
        FollowUp::Ehlo => "EHLO",
        FollowUp::Lhlo => "LHLO",
        FollowUp::Feat => "FEAT",
        FollowUp::TelnetRefuse => "telnet WONT/DONT",
    }
}

/// A `220` greeting that names neither SMTP nor FTP: asks `EHLO` (an SMTP server answers 250,
/// and its answer is the capability list), when refused `LHLO` (an LMTP server answers 250),
/// then `FEAT` (an FTP server answers 211 with its features, or a refusal that speaks of
/// logging in). Sets `report.protocol` when
/// either tells. `Err`: the conversation broke down.
pub async fn bare_220<S>(
    stream: &mut S,
    report: &mut GreetingReport,
    client_name: &str,
    limits: &Limits,
) -> Result<(), End>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let name = super::capabilities::sanitize_name(client_name);
    report.follow_ups.push(FollowUp::Ehlo);
    let ehlo = ask(stream, format!("EHLO {name}\r\n").as_bytes(), limits).await?;
    if let Some(r) = ehlo.as_ref().filter(|r| r.code == 250) {
        let caps = smtp::ehlo(r);
        let mut g = match reply::parse(format!("{}\r\n", report.text).as_bytes()) {
            Parsed::Complete(greeting, _) => smtp::greeting(&greeting),
            _ => smtp::greeting(r),
        };
        g.size = caps.size;
        g.auth = caps.auth;
        report.smtp = Some(g);
        report.capabilities = Some(caps.capabilities);
        report.protocol = Some("smtp".into());
        report.found_by = Some(FollowUp::Ehlo);
        super::fingerprint::apply(report);
        return Ok(());
    }
    // LMTP servers (RFC 2033) refuse EHLO and answer LHLO.
    report.follow_ups.push(FollowUp::Lhlo);
    let lhlo = ask(stream, format!("LHLO {name}\r\n").as_bytes(), limits).await?;
    if let Some(r) = lhlo.as_ref().filter(|r| r.code == 250) {
        let caps = smtp::ehlo(r);
        let mut g = match reply::parse(format!("{}\r\n", report.text).as_bytes()) {
            Parsed::Complete(greeting, _) => smtp::greeting(&greeting),
            _ => smtp::greeting(r),
        };
        g.size = caps.size;
        g.auth = caps.auth;
        report.smtp = Some(g);
        report.capabilities = Some(caps.capabilities);
        report.protocol = Some("lmtp".into());
        report.found_by = Some(FollowUp::Lhlo);
        super::fingerprint::apply(report);
        return Ok(());
    }
    report.follow_ups.push(FollowUp::Feat);
    let feat = ask(stream, b"FEAT\r\n", limits).await?;
    let login_words = |r: &reply::Reply| {
        let upper = r.joined().to_ascii_uppercase();
        ["USER", "PASS", "LOGIN", "FTP"]
            .iter()
            .any(|w| upper.contains(w))
    };
    let ftp_like = feat
        .as_ref()
        .is_some_and(|r| r.code == 211 || login_words(r))
        || ehlo.as_ref().is_some_and(login_words);
    if ftp_like {
        if let Some(r) = feat.as_ref().filter(|r| r.code == 211) {
            report.capabilities = Some(ftp::features(r));
        }
        report.protocol = Some("ftp".into());
        report.found_by = Some(FollowUp::Feat);
        super::fingerprint::apply(report);
    }
    Ok(())
}

async fn ask<S>(stream: &mut S, line: &[u8], limits: &Limits) -> Result<Option<reply::Reply>, End>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    reader::send(stream, line, Instant::now() + limits.total).await?;
    let mut buf = Vec::new();
    let got = reader::read_until(stream, &mut buf, limits, false, |b| {
        matches!(reply::parse(b), Parsed::Complete(..))
    })
    .await;
    match reply::parse(&buf) {
        Parsed::Complete(r, _) => Ok(Some(r)),
        _ if buf.is_empty() => Err(got.end),
        _ => Ok(None),
    }
}

/// A bare `220` greeting: numeric, code 220, and no protocol named.
pub fn is_bare_220(report: &GreetingReport) -> bool {
    report.protocol.is_none()
        && report.state == GreetingState::Banner
        && matches!(
            reply::parse(format!("{}\r\n", report.text).as_bytes()),
            Parsed::Complete(r, _) if r.code == 220
        )
}

/// A telnet server that negotiates before it shows anything: refuses every option it asked
/// for or offered (`WONT`/`DONT`, always allowed by RFC 1143), reads what follows, and
/// repeats for newly asked options, at most three rounds. The banner text is appended to
/// `report.text` and identified again. `Err`: the conversation broke down.
pub async fn telnet_refuse<S>(
    stream: &mut S,
    report: &mut GreetingReport,
    limits: &Limits,
) -> Result<(), End>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    use super::telnet;
    let Some(mut asked) = report.telnet.clone() else {
        return Ok(());
    };
    let mut refused = crate::report::greeting::TelnetNegotiation::default();
    for _ in 0..3 {
        let mut answer = Vec::new();
        for &opt in &asked.do_options {
            if !refused.do_options.contains(&opt) {
                answer.extend_from_slice(&[255, 252, opt]);
                refused.do_options.push(opt);
            }
        }
        for &opt in &asked.will_options {
            if !refused.will_options.contains(&opt) {
                answer.extend_from_slice(&[255, 254, opt]);
                refused.will_options.push(opt);
            }
        }
        if answer.is_empty() {
            break;
        }
        if !report.follow_ups.contains(&FollowUp::TelnetRefuse) {
            report.follow_ups.push(FollowUp::TelnetRefuse);
        }
        reader::send(stream, &answer, Instant::now() + limits.total).await?;
        let mut buf = Vec::new();
        let got = reader::read_until(stream, &mut buf, limits, true, |_| false).await;
        if buf.is_empty() {
            return match got.end {
                End::Eof | End::Reset | End::Error(_) => Err(got.end),
                _ => Ok(()),
            };
        }
        let more = telnet::strip(&buf);
        let text = identify::text(&more);
        report.bytes += buf.len();
        let joined = format!("{}{}", report.text, text);
        report.text = identify::text(joined.as_bytes());
        asked = telnet::negotiation(&buf);
        if let Some(t) = report.telnet.as_mut() {
            for o in &asked.do_options {
                if !t.do_options.contains(o) {
                    t.do_options.push(*o);
                }
            }
            for o in &asked.will_options {
                if !t.will_options.contains(o) {
                    t.will_options.push(*o);
                }
            }
        }
    }
    report.identification = None;
    super::fingerprint::apply(report);
    Ok(())
}
