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
    if !greeting_accepts_clients(proto, greeting) {
        // 554/421, `* BYE`, `-ERR`: the server turned us away before any upgrade.
        return Outcome::Refused {
            offered: false,
            reply: reply_text(greeting.text.as_bytes()),
        };
    }
    if greeting.protocol.is_none() {
        greeting.protocol = Some(proto.as_str().to_string());
    }
    let limits = session.limits();
    if let Err(end) = capabilities(session.stream(), greeting, &opts.client_name, &limits).await {
        return Outcome::broke(false, end.word());
    }
    let offered = match proto {
        StarttlsProto::Pop3 => greeting.advertises("STLS"),
        StarttlsProto::Ftp => greeting.capabilities.iter().flatten().any(|c| {
            c.to_ascii_uppercase().starts_with("AUTH") && c.to_ascii_uppercase().contains("TLS")
        }),
        _ => greeting.advertises("STARTTLS"),
    };
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

fn greeting_accepts_clients(proto: StarttlsProto, g: &GreetingReport) -> bool {
    let text = g.text.as_bytes();
    match proto {
        StarttlsProto::Smtp | StarttlsProto::Lmtp | StarttlsProto::Ftp => {
            reply::code_of(text).is_some_and(|(c, _)| c == 220)
        }
        StarttlsProto::Nntp => reply::code_of(text).is_some_and(|(c, _)| c == 200 || c == 201),
        StarttlsProto::Pop3 => pop3::is_ok(text),
        StarttlsProto::Imap => text.starts_with(b"* OK"),
        StarttlsProto::Sieve => g.protocol.as_deref() == Some("sieve"),
        _ => true,
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
