//! From greeting bytes to a verdict: which protocol spoke, its parsed fields, and the bounded
//! text to show. Pure and total: any byte string yields a report, never a panic.

use super::reply::{self, Parsed};
use super::{fingerprint, http, imap, mysql, pop3, postgres, redis, sieve, smtp, ssh, telnet, tls};
use crate::report::greeting::GreetingReport;
use crate::service::Ask;

/// The longest greeting text kept in a report, in bytes of input.
pub const TEXT_MAX: usize = 4096;
/// How many leading bytes of an unidentified binary greeting are shown in hex.
const HEX_MAX: usize = 64;

/// Has a complete greeting (or reply to `ask`) arrived, so reading can stop early?
pub fn complete(buf: &[u8], ask: Ask) -> bool {
    match ask {
        Ask::HttpHead => return http::complete(buf),
        Ask::RedisPing => return buf.contains(&b'\n'),
        Ask::PostgresSslRequest => return matches!(buf.first(), Some(b'S' | b'N')),
        Ask::Listen => {}
    }
    if tls::looks_like(buf) {
        return tls::complete(buf);
    }
    if mysql::looks_like(buf) {
        return mysql::complete(buf);
    }
    if buf.starts_with(b"SSH-") {
        return ssh::complete(buf);
    }
    if sieve::looks_like(buf) {
        return sieve::parse(buf).is_some();
    }
    match reply::parse(buf) {
        Parsed::Complete(..) => return true,
        Parsed::Incomplete => return false,
        Parsed::Invalid => {}
    }
    if buf.starts_with(b"+OK") || buf.starts_with(b"-ERR") || buf.starts_with(b"* ") {
        return buf.contains(&b'\n');
    }
    if buf.starts_with(b"RFB ") || buf.starts_with(b"@RSYNCD:") {
        return buf.contains(&b'\n');
    }
    false
}

/// Fills `report`'s protocol, text, software and parsed fields from the greeting bytes.
/// `expected` is the protocol the port suggests, used only to name an ambiguous numeric
/// greeting (`220 ready` on port 21 is FTP, on port 25 SMTP).
pub fn analyse(buf: &[u8], ask: Ask, expected: Option<&str>, report: &mut GreetingReport) {
    report.bytes = buf.len();
    report.text = text(buf);
    if buf.len() > TEXT_MAX {
        report.truncated = true;
    }
    if buf.is_empty() {
        return;
    }
    let protocol = match ask {
        Ask::HttpHead => http_reply(buf, report),
        Ask::RedisPing => redis_reply(buf, report),
        Ask::PostgresSslRequest => postgres_reply(buf, report),
        Ask::Listen => None,
    }
    .or_else(|| banner(buf, expected, report));
    report.protocol = protocol.map(str::to_string);
    if report.protocol.is_none() && is_binary(buf) {
        report.hex = Some(hex(&buf[..buf.len().min(HEX_MAX)]));
    }
    fingerprint::apply(report);
}

fn http_reply(buf: &[u8], report: &mut GreetingReport) -> Option<&'static str> {
    let info = http::parse(buf)?;
    report.software = info.server.clone();
    report.http = Some(info);
    Some("http")
}

fn redis_reply(buf: &[u8], report: &mut GreetingReport) -> Option<&'static str> {
    let reply = redis::parse(buf)?;
    // `-ERR` alone is also POP3; only PONG or a Redis-specific error identifies Redis.
    let upper = reply.reply.to_ascii_uppercase();
    let redis_like = !reply.error
        || reply.auth_required
        || ["DENIED", "WRONGPASS", "LOADING", "MASTERDOWN"]
            .iter()
            .any(|w| upper.starts_with(w));
    if !redis_like {
        return None;
    }
    report.redis = Some(reply);
    Some("redis")
}

fn postgres_reply(buf: &[u8], report: &mut GreetingReport) -> Option<&'static str> {
    let answer = postgres::answer(*buf.first()?)?;
    report.text = format!("SSLRequest answered {}", answer.answer);
    report.postgres = Some(answer);
    Some("postgres")
}

/// Identifies a greeting the server volunteered.
fn banner(buf: &[u8], expected: Option<&str>, report: &mut GreetingReport) -> Option<&'static str> {
    if let Some(record) = tls::parse(buf) {
        report.text = match &record.alert {
            Some(alert) => format!("TLS {} alert: {alert}", record.version),
            None => format!("TLS {} {} record", record.version, record.content_type),
        };
        report.tls = Some(record);
        return Some("tls");
    }
    if let Some(h) = mysql::parse(buf) {
        report.text = match (&h.server_version, &h.error) {
            (Some(v), _) => v.clone(),
            (None, Some(e)) => format!("error {}: {e}", h.error_code.unwrap_or(0)),
            (None, None) => String::new(),
        };
        report.software = h.server_version.as_deref().map(mysql::software);
        report.mysql = Some(h);
        return Some("mysql");
    }
    if let Some(ident) = ssh::parse(buf) {
        report.software = Some(match &ident.comments {
            Some(c) => format!("{} {c}", ident.software),
            None => ident.software.clone(),
        });
        report.ssh = Some(ident);
        return Some("ssh");
    }
    if buf.starts_with(b"SSH-") {
        return Some("ssh");
    }
    if http::looks_like(buf) {
        return http_reply(buf, report).or(Some("http"));
    }
    if sieve::looks_like(buf) {
        if let Some(caps) = sieve::parse(buf) {
            report.software = caps.implementation.clone();
            report.capabilities = Some(caps.capabilities);
        }
        return Some("sieve");
    }
    if let Parsed::Complete(r, _) = reply::parse(buf) {
        return numeric(&r, expected, report);
    }
    if let Some(line) = pop3::first_line(buf)
        && (pop3::is_ok(line) || line.starts_with(b"-ERR"))
    {
        return Some("pop3");
    }
    if let Some(g) = imap::greeting(buf.split(|&b| b == b'\n').next().unwrap_or_default()) {
        report.capabilities = g.capabilities;
        return Some("imap");
    }
    other_banner(buf, report)
}

/// A numeric greeting: SMTP, LMTP, FTP or NNTP, told apart by its words or the port.
fn numeric(
    r: &reply::Reply,
    expected: Option<&str>,
    report: &mut GreetingReport,
) -> Option<&'static str> {
    // 200/201 open only NNTP sessions (RFC 3977 §5.1); SMTP and FTP greet with 220.
    let named = smtp::dialect(r).or(matches!(r.code, 200 | 201).then_some("nntp"));
    let hinted = match expected {
        Some("smtp") => Some("smtp"),
        Some("lmtp") => Some("lmtp"),
        Some("ftp") => Some("ftp"),
        Some("nntp") => Some("nntp"),
        _ => None,
    };
    // LMTP servers often say nothing but "ready": trust the port over a generic SMTP word.
    let protocol = match (named, hinted) {
        (Some("smtp"), Some("lmtp")) => Some("lmtp"),
        (Some(n), _) => Some(n),
        (None, h) => h,
    }?;
    if matches!(protocol, "smtp" | "lmtp") {
        report.smtp = Some(smtp::greeting(r));
    }
    Some(protocol)
}

fn other_banner(buf: &[u8], report: &mut GreetingReport) -> Option<&'static str> {
    if telnet::looks_like(buf) {
        report.text = text(&telnet::strip(buf));
        report.telnet = Some(telnet::negotiation(buf));
        return Some("telnet");
    }
    if buf.starts_with(b"RFB ") {
        report.software = pop3::first_line(buf).map(|l| String::from_utf8_lossy(l).into_owned());
        return Some("vnc");
    }
    if buf.starts_with(b"@RSYNCD:") {
        return Some("rsync");
    }
    if buf.starts_with(b"<?xml") || buf.starts_with(b"<stream:stream") {
        return Some("xmpp");
    }
    let first = pop3::first_line(buf).unwrap_or(buf);
    let irc = (first.starts_with(b":") && contains(first, b" NOTICE "))
        || first.starts_with(b"NOTICE AUTH")
        || first.starts_with(b"ERROR :");
    irc.then_some("irc")
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The greeting as text: lossy UTF-8 of at most [`TEXT_MAX`] bytes, trailing line ends cut.
pub fn text(buf: &[u8]) -> String {
    let cut = &buf[..buf.len().min(TEXT_MAX)];
    let s = String::from_utf8_lossy(cut);
    s.trim_end_matches(['\r', '\n']).to_string()
}

/// Mostly not text: more than a quarter control bytes other than CR, LF and TAB.
fn is_binary(buf: &[u8]) -> bool {
    let sample = &buf[..buf.len().min(256)];
    let odd = sample
        .iter()
        .filter(|&&b| (b < 0x20 && !matches!(b, b'\r' | b'\n' | b'\t')) || b == 0x7f)
        .count();
    odd * 4 > sample.len()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
