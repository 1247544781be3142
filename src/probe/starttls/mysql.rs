//! MySQL/MariaDB: after the server's handshake, an SSL request packet (sequence 1) switches the
//! connection to TLS; the server answers with its side of the TLS handshake, not in plaintext.

use tokio::io::{AsyncRead, AsyncWrite};

use super::StarttlsOptions;
use super::session::{Outcome, Session};
use crate::probe::greeting::mysql;
use crate::report::greeting::GreetingReport;

/// Sends the SSL request when the handshake in `greeting` advertises CLIENT_SSL.
pub async fn negotiate<S>(
    session: &mut Session<'_, S>,
    greeting: &mut GreetingReport,
    opts: &StarttlsOptions,
) -> Outcome
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let Some(handshake) = &greeting.mysql else {
        return Outcome::broke(
            false,
            if greeting.bytes == 0 {
                "no_greeting"
            } else {
                "unexpected"
            },
        );
    };
    if let Some(error) = &handshake.error {
        return Outcome::Broke {
            offered: false,
            why: "server_error",
            reply: Some(format!("{} {error}", handshake.error_code.unwrap_or(0))),
        };
    }
    let offered = handshake.ssl;
    if !offered && !opts.force {
        return Outcome::NotOffered { reply: None };
    }
    match session
        .send(&mysql::ssl_request(handshake.capabilities))
        .await
    {
        Ok(()) => Outcome::Negotiated {
            offered,
            reply: None,
        },
        Err(why) => Outcome::broke(offered, why),
    }
}
