//! PostgreSQL: `SSLRequest`, answered by one byte (`S` go ahead, `N` no TLS here).

use tokio::io::{AsyncRead, AsyncWrite};

use super::session::{Outcome, Session, reply_text};
use crate::probe::greeting::postgres;
use crate::report::greeting::{GreetingReport, GreetingState};

/// Sends `SSLRequest` and reads the answer; the answer doubles as the greeting (PostgreSQL
/// says nothing first).
pub async fn negotiate<S>(session: &mut Session<'_, S>) -> (Outcome, Option<GreetingReport>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let sent = std::time::Instant::now();
    // One byte only: after `S` the next bytes belong to TLS, so never read past it.
    let answer = match session.ask(&postgres::SSL_REQUEST, answered).await {
        Ok(answer) => answer,
        Err(broke) => return (broke, None),
    };
    let first = answer.first().copied().unwrap_or_default();
    let Some(parsed) = postgres::answer(first) else {
        let reply = reply_text(&answer);
        return (
            Outcome::Broke {
                offered: false,
                why: "unexpected",
                reply: Some(reply),
            },
            None,
        );
    };
    let greeting = GreetingReport {
        state: GreetingState::Reply,
        protocol: Some("postgres".into()),
        text: format!("SSLRequest answered {}", parsed.answer),
        banner_ms: Some(sent.elapsed().as_secs_f64() * 1000.0),
        bytes: answer.len(),
        asked: Some("SSLRequest".into()),
        postgres: Some(parsed.clone()),
        ..GreetingReport::default()
    };
    let reply = Some(parsed.answer.clone());
    let outcome = match (parsed.ssl, answer.len()) {
        (true, 1) => Outcome::Negotiated {
            offered: true,
            reply,
        },
        // Bytes after `S` before our ClientHello would corrupt the handshake (CVE-2021-23222).
        (true, _) => Outcome::Broke {
            offered: true,
            why: "unexpected",
            reply: Some(reply_text(&answer)),
        },
        (false, _) if first == b'N' => Outcome::NotOffered { reply },
        (false, _) => Outcome::Refused {
            offered: false,
            reply: reply_text(&answer),
        },
    };
    (outcome, Some(greeting))
}

/// `S` or `N` is a whole answer; an `E` (ErrorResponse, from servers too old for SSLRequest)
/// is whole once its length-prefixed body is in.
fn answered(buf: &[u8]) -> bool {
    match buf {
        [b'E', a, b, c, d, rest @ ..] => {
            let len = u32::from_be_bytes([*a, *b, *c, *d]) as usize;
            rest.len() + 4 >= len
        }
        [b'E', ..] => false,
        [_, ..] => true,
        [] => false,
    }
}
