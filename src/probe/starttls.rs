//! The STARTTLS layer: one in-band upgrade to TLS per dialect, bounded in bytes and time,
//! reporting whether the server advertised it and whether it agreed, then handing the raw
//! stream back for the TLS handshake.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

use super::greeting::{self, GreetingOptions, Limits};
use crate::report::greeting::{GreetingReport, StarttlsReport, StarttlsResult};
use crate::service::{Ask, StarttlsProto};

mod irc;
pub mod ldap;
mod mail;
mod mysql;
mod postgres;
mod session;
mod xmpp;

use session::{Outcome, Session};

/// How to run one upgrade.
#[derive(Debug, Clone)]
pub struct StarttlsOptions {
    /// Bounds for each reply.
    pub limits: Limits,
    /// The whole negotiation must finish within this long.
    pub deadline: Duration,
    /// Our name in EHLO/LHLO (and the IRC-less dialects that want one).
    pub client_name: String,
    /// The server's name: the XMPP stream's `to`, and the HTTP-style host where needed.
    pub domain: String,
    /// Try the upgrade even when the server did not advertise it (the user asked for it).
    pub force: bool,
}

impl Default for StarttlsOptions {
    fn default() -> Self {
        StarttlsOptions {
            limits: Limits::default(),
            deadline: Duration::from_secs(10),
            client_name: "localhost".into(),
            domain: "localhost".into(),
            force: false,
        }
    }
}

/// The result of [`upgrade`].
#[derive(Debug)]
pub struct Upgrade<S> {
    /// The STARTTLS verdict.
    pub report: StarttlsReport,
    /// The greeting: the one passed in, enriched with capabilities, or the one this dialect
    /// read or elicited itself (XMPP stream features, the PostgreSQL answer, the LDAP reply).
    pub greeting: Option<GreetingReport>,
    /// The stream, positioned for a TLS ClientHello; only when the result is `negotiated`.
    pub stream: Option<S>,
}

/// Upgrades `stream` with `proto`. Pass the greeting if it was already read with
/// [`greeting::read`] (server-first dialects); otherwise the dialect reads it first.
/// Never fails: timeouts, hang-ups and odd replies are `error` verdicts.
pub async fn upgrade<S>(
    mut stream: S,
    proto: StarttlsProto,
    greeting: Option<GreetingReport>,
    opts: &StarttlsOptions,
) -> Upgrade<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let started = Instant::now();
    let deadline = started + opts.deadline;
    let mut greeting = greeting;
    if greeting.is_none() && proto.server_speaks_first() {
        // An unnamed numeric greeting (`220 ready`) is taken to be the dialect's.
        let read_opts = GreetingOptions {
            limits: opts.limits,
            ask: Some(Ask::Listen),
            over_tls: false,
            hint: Some(proto_word(proto)),
        };
        greeting = Some(greeting::read(&mut stream, 0, &opts.domain, &read_opts).await);
    }
    let mut session = Session::new(&mut stream, opts.limits, deadline);
    let outcome = match proto {
        StarttlsProto::Smtp
        | StarttlsProto::Lmtp
        | StarttlsProto::Imap
        | StarttlsProto::Pop3
        | StarttlsProto::Ftp
        | StarttlsProto::Nntp
        | StarttlsProto::Sieve => {
            let g = greeting.get_or_insert_with(GreetingReport::default);
            mail::negotiate(&mut session, proto, g, opts).await
        }
        StarttlsProto::Mysql => {
            let g = greeting.get_or_insert_with(GreetingReport::default);
            mysql::negotiate(&mut session, g, opts).await
        }
        StarttlsProto::Irc => irc::negotiate(&mut session, opts).await,
        StarttlsProto::Postgres => {
            let (outcome, g) = postgres::negotiate(&mut session).await;
            greeting = greeting.or(g);
            outcome
        }
        StarttlsProto::Ldap => {
            let (outcome, g) = ldap::negotiate(&mut session).await;
            greeting = greeting.or(g);
            outcome
        }
        StarttlsProto::Xmpp | StarttlsProto::XmppServer => {
            let (outcome, g) = xmpp::negotiate(&mut session, proto, opts).await;
            greeting = greeting.or(g);
            outcome
        }
    };
    let report = outcome.into_report(proto, started.elapsed());
    let stream = (report.result == StarttlsResult::Negotiated).then_some(stream);
    Upgrade {
        report,
        greeting,
        stream,
    }
}

/// A report for an upgrade that was not attempted because of what the greeting showed
/// (`why`: `other_protocol`, with the protocol that answered as `reply`).
pub fn skipped(proto: StarttlsProto, why: &'static str, reply: Option<String>) -> StarttlsReport {
    Outcome::Broke {
        offered: false,
        why,
        reply,
    }
    .into_report(proto, Duration::ZERO)
}

/// The greeting-detector word for a dialect (`xmpp-server` speaks `xmpp`).
fn proto_word(proto: StarttlsProto) -> &'static str {
    match proto {
        StarttlsProto::XmppServer => "xmpp",
        other => other.as_str(),
    }
}

impl Outcome {
    fn into_report(self, proto: StarttlsProto, elapsed: Duration) -> StarttlsReport {
        let ms = Some(elapsed.as_secs_f64() * 1000.0);
        let (offered, result, reply, error) = match self {
            Outcome::Negotiated { offered, reply } => {
                (offered, StarttlsResult::Negotiated, reply, None)
            }
            Outcome::Refused { offered, reply } => {
                (offered, StarttlsResult::Refused, Some(reply), None)
            }
            Outcome::NotOffered { reply } => (false, StarttlsResult::NotOffered, reply, None),
            Outcome::Broke {
                offered,
                why,
                reply,
            } => (offered, StarttlsResult::Error, reply, Some(why.to_string())),
        };
        StarttlsReport {
            protocol: proto.as_str().to_string(),
            offered,
            result,
            reply,
            error,
            ms,
            from_greeting: false,
        }
    }
}
