//! One bounded conversation for a STARTTLS dialect: send a command, read its answer, all
//! against the negotiation's overall deadline.

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

use crate::probe::greeting::reader::{self, End, Limits};

/// The longest server reply kept in a report, in bytes.
const REPLY_MAX: usize = 512;

/// How a dialect's exchange ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The server agreed; the stream awaits a ClientHello.
    Negotiated {
        /// It had advertised the upgrade (or, for dialects without advertisement, agreed).
        offered: bool,
        /// Its go-ahead, when it sends one.
        reply: Option<String>,
    },
    /// The server said no.
    Refused {
        /// It had advertised the upgrade.
        offered: bool,
        /// Its refusal.
        reply: String,
    },
    /// The server does not advertise the upgrade; it was not attempted.
    NotOffered {
        /// What it said instead, where useful (PostgreSQL `N`).
        reply: Option<String>,
    },
    /// The conversation broke down.
    Broke {
        /// It had advertised the upgrade.
        offered: bool,
        /// A stable word: `timeout`, `closed`, `reset`, `too_long`, `io`, `no_greeting`,
        /// `unexpected`, `server_error`.
        why: &'static str,
        /// What the server said, if anything.
        reply: Option<String>,
    },
}

impl Outcome {
    /// The same outcome, with `offered` set where the variant carries it.
    pub fn offered(self, was_offered: bool) -> Outcome {
        match self {
            Outcome::Negotiated { reply, .. } => Outcome::Negotiated {
                offered: was_offered,
                reply,
            },
            Outcome::Refused { reply, .. } => Outcome::Refused {
                offered: was_offered,
                reply,
            },
            Outcome::Broke { why, reply, .. } => Outcome::Broke {
                offered: was_offered,
                why,
                reply,
            },
            other => other,
        }
    }

    /// A broken conversation without a reply.
    pub fn broke(offered: bool, why: &'static str) -> Outcome {
        Outcome::Broke {
            offered,
            why,
            reply: None,
        }
    }
}

/// A bounded conversation over a borrowed stream.
pub struct Session<'a, S> {
    stream: &'a mut S,
    limits: Limits,
    deadline: Instant,
}

impl<'a, S> Session<'a, S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    /// A conversation that must end by `deadline`.
    pub fn new(stream: &'a mut S, limits: Limits, deadline: Instant) -> Self {
        Session {
            stream,
            limits,
            deadline,
        }
    }

    /// The underlying stream, for helpers that bound their own reads.
    pub fn stream(&mut self) -> &mut S {
        self.stream
    }

    /// Reply bounds, shortened to what is left of the deadline.
    pub fn limits(&self) -> Limits {
        let left = self.deadline.saturating_duration_since(Instant::now());
        Limits {
            first_byte: self.limits.first_byte.max(self.limits.total).min(left),
            total: self.limits.total.min(left),
            ..self.limits
        }
    }

    /// Sends `bytes`; the error is a stable word.
    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), &'static str> {
        reader::send(self.stream, bytes, self.deadline)
            .await
            .map_err(|e| e.word())
    }

    /// Reads until `done` holds; the error is a stable word and whatever arrived.
    pub async fn recv<F>(&mut self, done: F) -> Result<Vec<u8>, (&'static str, Vec<u8>)>
    where
        F: Fn(&[u8]) -> bool,
    {
        let limits = self.limits();
        let mut buf = Vec::new();
        let got = reader::read_until(self.stream, &mut buf, &limits, false, done).await;
        match got.end {
            End::Complete => Ok(buf),
            other => Err((other.word(), buf)),
        }
    }

    /// Sends `command` and reads its answer until `done`.
    pub async fn ask<F>(&mut self, command: &[u8], done: F) -> Result<Vec<u8>, Outcome>
    where
        F: Fn(&[u8]) -> bool,
    {
        self.send(command)
            .await
            .map_err(|why| Outcome::broke(false, why))?;
        self.recv(done)
            .await
            .map_err(|(why, partial)| Outcome::Broke {
                offered: false,
                why,
                reply: (!partial.is_empty()).then(|| reply_text(&partial)),
            })
    }
}

/// A server reply as report text: lossy UTF-8, at most [`REPLY_MAX`] bytes, line end cut.
pub fn reply_text(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(REPLY_MAX)];
    String::from_utf8_lossy(cut)
        .trim_end_matches(['\r', '\n'])
        .to_string()
}
