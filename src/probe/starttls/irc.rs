//! IRC STARTTLS (IRCv3 `tls` extension): `CAP LS` to see whether `tls` is advertised, then
//! `STARTTLS`, answered by numeric 670 (go ahead) or 691 (failed).

use tokio::io::{AsyncRead, AsyncWrite};

use super::StarttlsOptions;
use super::session::{Outcome, Session, reply_text};
use crate::probe::greeting::reply::trim_eol;

/// One parsed IRC line: command (or numeric) and its parameters, trailing one included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// `CAP`, `NOTICE`, `670`…
    pub command: String,
    /// Parameters, the `:trailing` one last and unprefixed.
    pub params: Vec<String>,
}

/// Parses `[:prefix] COMMAND params… [:trailing]`.
pub fn parse_line(line: &[u8]) -> Option<Message> {
    let line = String::from_utf8_lossy(trim_eol(line)).into_owned();
    let mut rest = line.as_str();
    if let Some(after) = rest.strip_prefix(':') {
        rest = after.split_once(' ')?.1;
    }
    let (head, trailing) = match rest.split_once(" :") {
        Some((h, t)) => (h, Some(t)),
        None => (rest, None),
    };
    let mut words = head.split(' ').filter(|w| !w.is_empty());
    let command = words.next()?.to_ascii_uppercase();
    let mut params: Vec<String> = words.map(str::to_string).collect();
    params.extend(trailing.map(str::to_string));
    Some(Message { command, params })
}

/// Is this message the end of what we wait for after `CAP LS` (or a refusal of it)?
fn cap_ls_final(m: &Message) -> bool {
    let is_ls = m.command == "CAP"
        && m.params
            .get(1)
            .is_some_and(|p| p.eq_ignore_ascii_case("LS"));
    // `CAP * LS * :…` continues (IRCv3 302 multi-line); anything else is the last line.
    (is_ls
        && m.params
            .get(2)
            .is_none_or(|p| p != "*" || m.params.len() < 4))
        || is_error_numeric(m)
}

fn is_error_numeric(m: &Message) -> bool {
    m.command.len() == 3
        && m.command.chars().all(|c| c.is_ascii_digit())
        && (m.command.starts_with('4') || m.command.starts_with('5') || m.command == "691")
}

/// Reads whole lines, answering `PING`s, until `done` accepts one; returns all lines read.
async fn until<S, F>(session: &mut Session<'_, S>, done: F) -> Result<Vec<Message>, Outcome>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: Fn(&Message) -> bool,
{
    let mut seen = Vec::new();
    for _ in 0..64 {
        let buf = session
            .recv(|b| b.ends_with(b"\n"))
            .await
            .map_err(|(why, partial)| Outcome::Broke {
                offered: false,
                why,
                reply: (!partial.is_empty()).then(|| reply_text(&partial)),
            })?;
        for line in buf.split_inclusive(|&b| b == b'\n') {
            let Some(m) = parse_line(line) else { continue };
            if m.command == "PING" {
                let pong = format!("PONG :{}\r\n", m.params.last().map_or("", String::as_str));
                session
                    .send(pong.as_bytes())
                    .await
                    .map_err(|why| Outcome::broke(false, why))?;
            }
            let finished = done(&m);
            seen.push(m);
            if finished {
                return Ok(seen);
            }
        }
    }
    Err(Outcome::broke(false, "too_long"))
}

/// Runs `CAP LS` and `STARTTLS`.
pub async fn negotiate<S>(session: &mut Session<'_, S>, opts: &StarttlsOptions) -> Outcome
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if let Err(why) = session.send(b"CAP LS 302\r\n").await {
        return Outcome::broke(false, why);
    }
    let lines = match until(session, cap_ls_final).await {
        Ok(lines) => lines,
        Err(broke) => return broke,
    };
    let offered = lines
        .iter()
        .filter(|m| m.command == "CAP")
        .filter_map(|m| m.params.last())
        .flat_map(|caps| caps.split(' '))
        .any(|cap| cap == "tls" || cap.starts_with("tls="));
    if !offered && !opts.force {
        return Outcome::NotOffered { reply: None };
    }
    if let Err(why) = session.send(b"STARTTLS\r\n").await {
        return Outcome::broke(offered, why);
    }
    let lines = match until(session, |m| m.command == "670" || is_error_numeric(m)).await {
        Ok(lines) => lines,
        Err(broke) => return broke.offered(offered),
    };
    let Some(last) = lines.last() else {
        return Outcome::broke(offered, "unexpected");
    };
    let reply = format!(
        "{} {}",
        last.command,
        last.params.last().map_or("", String::as_str)
    );
    if last.command == "670" {
        Outcome::Negotiated {
            offered,
            reply: Some(reply),
        }
    } else {
        Outcome::Refused { offered, reply }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prefixed_and_numeric_lines() {
        let m = parse_line(b":irc.example CAP * LS :multi-prefix tls sasl=PLAIN\r\n").expect("cap");
        assert_eq!(m.command, "CAP");
        assert_eq!(m.params, ["*", "LS", "multi-prefix tls sasl=PLAIN"]);
        assert!(cap_ls_final(&m));
        let more = parse_line(b":irc.example CAP * LS * :away-notify\r\n").expect("cap");
        assert!(!cap_ls_final(&more));
        let ok =
            parse_line(b":irc.example 670 * :STARTTLS successful, go ahead with TLS handshake\r\n")
                .expect("670");
        assert_eq!(ok.command, "670");
        let unknown = parse_line(b":irc.example 421 * CAP :Unknown command\r\n").expect("421");
        assert!(cap_ls_final(&unknown));
        let ping = parse_line(b"PING :12345\r\n").expect("ping");
        assert_eq!(
            (ping.command.as_str(), ping.params.as_slice()),
            ("PING", &["12345".to_string()][..])
        );
        assert_eq!(parse_line(b":only-prefix\r\n"), None);
        assert_eq!(parse_line(b"\r\n"), None);
    }
}
