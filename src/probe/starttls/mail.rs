//! The line-based mail and news dialects: SMTP/LMTP `STARTTLS`, IMAP `STARTTLS`, POP3 `STLS`,
//! FTP `AUTH TLS`, NNTP `STARTTLS` and ManageSieve `STARTTLS`.

use tokio::io::{AsyncRead, AsyncWrite};

use super::StarttlsOptions;
use super::session::{Outcome, Session, reply_text};
use crate::probe::greeting::reply::{self, Parsed};
use crate::probe::greeting::{capabilities, imap, pop3};
use crate::report::greeting::{GreetingReport, GreetingState};
use crate::service::StarttlsProto;

/// Runs one text dialect after its greeting was read into `greeting`.
pub async fn negotiate<S>(
    session: &mut Session<'_, S>,
    proto: StarttlsProto,
    greeting: &mut GreetingReport,
    opts: &StarttlsOptions,
) -> Outcome
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if greeting.bytes == 0 {
        let why = match greeting.state {
            GreetingState::Closed => "closed",
            GreetingState::Reset => "reset",
            _ => "no_greeting",
        };
        return Outcome::broke(false, why);
    }
    match greeting_verdict(proto, greeting) {
        Greeting::Welcome => {}
        // 554/421, `* BYE`, `-ERR`: the server turned us away before any upgrade.
        Greeting::TurnedAway => {
            return Outcome::Refused {
                offered: false,
                reply: reply_text(greeting.text.as_bytes()),
            };
        }
        // A greeting that never ended, or one byte or junk: not a refusal, which would mean
        // "the server said no".
        Greeting::Incomplete => return Outcome::broke(false, "incomplete_greeting"),
        Greeting::OtherProtocol => return Outcome::broke(false, not_the_dialect(proto)),
    }
    if greeting.protocol.is_none() {
        greeting.protocol = Some(proto.as_str().to_string());
    }
    let limits = session.limits();
    let whole = match capabilities(session.stream(), greeting, &opts.client_name, &limits).await {
        Ok(whole) => whole,
        Err(end) => return Outcome::broke(false, end.word()),
    };
    let offered = match proto {
        StarttlsProto::Pop3 => greeting.advertises("STLS"),
        StarttlsProto::Ftp => greeting.capabilities.iter().flatten().any(|c| {
            c.to_ascii_uppercase().starts_with("AUTH") && c.to_ascii_uppercase().contains("TLS")
        }),
        _ => greeting.advertises("STARTTLS"),
    };
    // A list cut at the size limit may have had STARTTLS further down, and the rest of it is
    // still in the stream, where it would be read as the answer to STARTTLS: say so and stop.
    if !whole {
        return Outcome::broke(offered, "capabilities_truncated");
    }
    // FTP servers need not list AUTH in FEAT (RFC 4217 §6), so FTP always asks.
    if !offered && !opts.force && proto != StarttlsProto::Ftp {
        return Outcome::NotOffered { reply: None };
    }
    let (command, done, accepted): (&[u8], Check, Check) = match proto {
        StarttlsProto::Imap => (b"s1 STARTTLS\r\n", imap_done, imap_ok),
        StarttlsProto::Pop3 => (b"STLS\r\n", line_done, pop3::is_ok),
        StarttlsProto::Sieve => (b"STARTTLS\r\n", line_done, sieve_ok),
        StarttlsProto::Ftp => (b"AUTH TLS\r\n", numeric_done, |b| code(b) == Some(234)),
        StarttlsProto::Nntp => (b"STARTTLS\r\n", numeric_done, |b| code(b) == Some(382)),
        _ => (b"STARTTLS\r\n", numeric_done, |b| code(b) == Some(220)),
    };
    let answer = match session.ask(command, done).await {
        Ok(answer) => answer,
        Err(broke) => return broke.offered(offered),
    };
    let reply = reply_text(&answer);
    if accepted(&answer) {
        Outcome::Negotiated {
            offered,
            reply: Some(reply),
        }
    } else {
        Outcome::Refused { offered, reply }
    }
}

/// A predicate over the bytes received so far.
type Check = fn(&[u8]) -> bool;

/// What a greeting says about the upgrade to come.
enum Greeting {
    /// The server welcomes clients.
    Welcome,
    /// The dialect's own refusal (554, `* BYE`, `-ERR`…).
    TurnedAway,
    /// The dialect's greeting, never finished (a multi-line reply without its last line).
    Incomplete,
    /// Not this dialect at all (one byte, junk, another protocol's banner).
    OtherProtocol,
}

fn greeting_verdict(proto: StarttlsProto, g: &GreetingReport) -> Greeting {
    let text = g.text.as_bytes();
    match proto {
        StarttlsProto::Smtp | StarttlsProto::Lmtp | StarttlsProto::Ftp | StarttlsProto::Nntp => {
            let welcome: &[u16] = if proto == StarttlsProto::Nntp {
                &[200, 201]
            } else {
                &[220]
            };
            // The report's text lost its last line end; a reply line is only whole with one.
            let whole = [text, b"\r\n"].concat();
            match reply::parse(&whole) {
                Parsed::Complete(r, _) if welcome.contains(&r.code) => Greeting::Welcome,
                Parsed::Complete(..) => Greeting::TurnedAway,
                Parsed::Incomplete if reply::code_of(text).is_some() => Greeting::Incomplete,
                _ => Greeting::OtherProtocol,
            }
        }
        StarttlsProto::Pop3 if pop3::is_ok(text) => Greeting::Welcome,
        StarttlsProto::Pop3 if text.starts_with(b"-ERR") => Greeting::TurnedAway,
        StarttlsProto::Imap if text.starts_with(b"* OK") => Greeting::Welcome,
        StarttlsProto::Imap if text.starts_with(b"* BYE") => Greeting::TurnedAway,
        StarttlsProto::Sieve if g.protocol.as_deref() == Some("sieve") => Greeting::Welcome,
        StarttlsProto::Pop3 | StarttlsProto::Imap | StarttlsProto::Sieve => Greeting::OtherProtocol,
        _ => Greeting::Welcome,
    }
}

/// The error word for a server that does not speak `proto` at all.
fn not_the_dialect(proto: StarttlsProto) -> &'static str {
    match proto {
        StarttlsProto::Smtp => "not_smtp",
        StarttlsProto::Lmtp => "not_lmtp",
        StarttlsProto::Ftp => "not_ftp",
        StarttlsProto::Nntp => "not_nntp",
        StarttlsProto::Pop3 => "not_pop3",
        StarttlsProto::Imap => "not_imap",
        StarttlsProto::Sieve => "not_sieve",
        _ => "unexpected",
    }
}

fn code(answer: &[u8]) -> Option<u16> {
    match reply::parse(answer) {
        Parsed::Complete(r, _) => Some(r.code),
        _ => None,
    }
}

fn numeric_done(buf: &[u8]) -> bool {
    !matches!(reply::parse(buf), Parsed::Incomplete)
}

fn line_done(buf: &[u8]) -> bool {
    buf.contains(&b'\n')
}

fn imap_done(buf: &[u8]) -> bool {
    imap::tagged(buf, "s1").is_some() || buf.starts_with(b"* BYE") && line_done(buf)
}

fn imap_ok(buf: &[u8]) -> bool {
    imap::tagged(buf, "s1").is_some_and(|(status, _)| status == "OK")
}

fn sieve_ok(buf: &[u8]) -> bool {
    let upper: Vec<u8> = buf.iter().take(3).map(u8::to_ascii_uppercase).collect();
    upper == b"OK\r" || upper == b"OK " || upper == b"OK\n"
}
