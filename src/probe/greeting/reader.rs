//! Bounded reads: every read here stops at a byte limit and a deadline, so a server that
//! streams forever, drips one byte at a time or never speaks cannot hang or flood a probe.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{Instant, timeout_at};

/// The most one read asks for.
const CHUNK: usize = 4096;

/// Size and time limits for one greeting or one reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How long to wait for the first byte.
    pub first_byte: Duration,
    /// How long the whole read may take, first byte included.
    pub total: Duration,
    /// After this long without new bytes, an unrecognised greeting is taken as finished.
    pub settle: Duration,
    /// Stop reading after this many bytes.
    pub max_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            first_byte: Duration::from_secs(2),
            total: Duration::from_secs(5),
            settle: Duration::from_millis(300),
            max_bytes: 16 * 1024,
        }
    }
}

/// Why a read stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The protocol says the message is complete.
    Complete,
    /// Bytes arrived, then nothing for the settle time.
    Settled,
    /// The byte limit was reached.
    Full,
    /// The deadline passed (before any byte, or while a message was still incomplete).
    Timeout,
    /// The peer closed the connection.
    Eof,
    /// The peer reset the connection.
    Reset,
    /// Any other read error.
    Error(String),
}

impl End {
    /// A short stable word for reports.
    pub fn word(&self) -> &'static str {
        match self {
            End::Complete => "complete",
            End::Settled => "settled",
            End::Full => "too_long",
            End::Timeout => "timeout",
            End::Eof => "closed",
            End::Reset => "reset",
            End::Error(_) => "io",
        }
    }
}

/// What one bounded read collected.
#[derive(Debug)]
pub struct Received {
    /// Why it stopped.
    pub end: End,
    /// Time from the start of the read to the first byte.
    pub first_byte: Option<Duration>,
}

/// Reads into `buf` until `complete(buf)` holds, the limits are hit, or the peer hangs up.
/// With `settle`, a quiet gap after the first byte also ends the read.
pub async fn read_until<S, F>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    limits: &Limits,
    settle: bool,
    complete: F,
) -> Received
where
    S: AsyncRead + Unpin,
    F: Fn(&[u8]) -> bool,
{
    let started = Instant::now();
    let first_deadline = started + limits.first_byte;
    let total_deadline = started + limits.total;
    let start_len = buf.len();
    let mut first_byte = None;
    loop {
        if buf.len() > start_len && complete(buf) {
            return Received {
                end: End::Complete,
                first_byte,
            };
        }
        if buf.len() - start_len >= limits.max_bytes {
            return Received {
                end: End::Full,
                first_byte,
            };
        }
        let (deadline, quiet) = if first_byte.is_none() {
            (first_deadline.min(total_deadline), false)
        } else if settle {
            let quiet = Instant::now() + limits.settle;
            (quiet.min(total_deadline), quiet < total_deadline)
        } else {
            (total_deadline, false)
        };
        // Read straight into the buffer's tail (a 4 KiB array here would sit in every
        // probe's future, read or not).
        let room = (limits.max_bytes - (buf.len() - start_len)).min(CHUNK);
        let filled = buf.len();
        buf.resize(filled + room, 0);
        let read = timeout_at(deadline, stream.read(&mut buf[filled..])).await;
        let got = match &read {
            Ok(Ok(n)) => *n,
            _ => 0,
        };
        buf.truncate(filled + got);
        let end = match read {
            Err(_) if quiet => End::Settled,
            Err(_) => End::Timeout,
            Ok(Ok(0)) => End::Eof,
            Ok(Ok(_)) => {
                first_byte.get_or_insert_with(|| started.elapsed());
                continue;
            }
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => End::Reset,
            Ok(Err(e)) => End::Error(e.to_string()),
        };
        return Received { end, first_byte };
    }
}

/// Writes all of `bytes` before `deadline`.
pub async fn send<S>(stream: &mut S, bytes: &[u8], deadline: Instant) -> Result<(), End>
where
    S: AsyncWrite + Unpin,
{
    let write = async {
        stream.write_all(bytes).await?;
        stream.flush().await
    };
    match timeout_at(deadline, write).await {
        Err(_) => Err(End::Timeout),
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(match e.kind() {
            std::io::ErrorKind::ConnectionReset => End::Reset,
            std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::UnexpectedEof => End::Eof,
            _ => End::Error(e.to_string()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncWriteExt, duplex};

    fn quick() -> Limits {
        Limits {
            first_byte: Duration::from_millis(200),
            total: Duration::from_millis(600),
            settle: Duration::from_millis(50),
            max_bytes: 1024,
        }
    }

    #[tokio::test]
    async fn silence_times_out_on_the_first_byte_deadline() {
        let (mut client, _server) = duplex(64);
        let mut buf = Vec::new();
        let started = std::time::Instant::now();
        let got = read_until(&mut client, &mut buf, &quick(), true, |_| false).await;
        assert_eq!(got.end, End::Timeout);
        assert!(got.first_byte.is_none());
        assert!(started.elapsed() < Duration::from_millis(500));
    }

    #[tokio::test]
    async fn an_endless_stream_stops_at_the_byte_limit() {
        let (mut client, mut server) = duplex(4096);
        tokio::spawn(async move {
            let junk = [b'x'; 512];
            while server.write_all(&junk).await.is_ok() {}
        });
        let mut buf = Vec::new();
        let got = read_until(&mut client, &mut buf, &quick(), true, |_| false).await;
        assert_eq!(got.end, End::Full);
        assert_eq!(buf.len(), 1024);
    }

    #[tokio::test]
    async fn a_drip_feed_stops_at_the_total_deadline() {
        let (mut client, mut server) = duplex(64);
        tokio::spawn(async move {
            for _ in 0..100 {
                if server.write_all(b"x").await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
        });
        let mut buf = Vec::new();
        let started = std::time::Instant::now();
        let got = read_until(&mut client, &mut buf, &quick(), false, |_| false).await;
        assert_eq!(got.end, End::Timeout);
        assert!(!buf.is_empty());
        assert!(started.elapsed() < Duration::from_millis(900));
    }

    #[tokio::test]
    async fn completion_and_settling_and_eof() {
        let (mut client, mut server) = duplex(64);
        server.write_all(b"hello\n").await.expect("write");
        let mut buf = Vec::new();
        let got = read_until(&mut client, &mut buf, &quick(), true, |b| {
            b.ends_with(b"\n")
        })
        .await;
        assert_eq!(got.end, End::Complete);
        server.write_all(b"partial").await.expect("write");
        let got = read_until(&mut client, &mut buf, &quick(), true, |_| false).await;
        assert_eq!(got.end, End::Settled);
        assert_eq!(buf, b"hello\npartial");
        drop(server);
        let got = read_until(&mut client, &mut buf, &quick(), true, |_| false).await;
        assert_eq!(got.end, End::Eof);
    }
}
