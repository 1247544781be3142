//! Asks an identified server for its capability list (EHLO/LHLO, CAPABILITY, CAPA, FEAT,
//! CAPABILITIES) and records it in the greeting report.

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

use super::reader::{self, End, Limits};
use super::reply::{self, Parsed};
use super::{ftp, imap, pop3, smtp};
use crate::report::greeting::GreetingReport;

/// Sends the capability command for `report.protocol` and records the answer. `client_name` is
/// the EHLO/LHLO argument. Does nothing for protocols without one, or whose greeting already
/// listed its capabilities (IMAP, ManageSieve).
///
/// `Ok(false)` means the answer was cut at the size limit (the list may be incomplete);
/// `Err` means the conversation broke down (timeout, hang-up): the stream is no longer usable.
pub async fn capabilities<S>(
    stream: &mut S,
    report: &mut GreetingReport,
    client_name: &str,
    limits: &Limits,
) -> Result<bool, End>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let protocol = report.protocol.clone().unwrap_or_default();
    let name = sanitize_name(client_name);
    let mut whole = true;
    match protocol.as_str() {
        "smtp" | "lmtp" => {
            let verb = if protocol == "lmtp" { "LHLO" } else { "EHLO" };
            let (buf, all) =
                ask(stream, format!("{verb} {name}\r\n"), limits, numeric_done).await?;
            whole = all;
            if let Parsed::Complete(r, _) = reply::parse(&buf)
                && r.code == 250
            {
                let ehlo = smtp::ehlo(&r);
                if let Some(g) = report.smtp.as_mut() {
                    g.size = ehlo.size;
                    g.auth = ehlo.auth;
                }
                report.capabilities = Some(ehlo.capabilities);
            }
        }
        "imap" if report.capabilities.is_none() => {
            let (buf, all) = ask(stream, "c1 CAPABILITY\r\n".into(), limits, |b| {
                imap::tagged(b, "c1").is_some()
            })
            .await?;
            whole = all;
            report.capabilities = imap::capability_line(&buf);
        }
        "pop3" => {
            let (buf, all) = ask(stream, "CAPA\r\n".into(), limits, |b| {
                pop3::dot_block(b, pop3::is_ok).is_some()
            })
            .await?;
            whole = all;
            report.capabilities = pop3::dot_block(&buf, pop3::is_ok)
                .filter(|b| pop3::is_ok(b.status.as_bytes()))
                .map(|b| b.lines);
        }
        "ftp" => {
            let (buf, all) = ask(stream, "FEAT\r\n".into(), limits, numeric_done).await?;
            whole = all;
            if let Parsed::Complete(r, _) = reply::parse(&buf)
                && r.code == 211
            {
                report.capabilities = Some(ftp::features(&r));
            }
        }
        "nntp" => {
            let (buf, all) = ask(stream, "CAPABILITIES\r\n".into(), limits, |b| {
                pop3::dot_block(b, nntp_ok).is_some()
            })
            .await?;
            whole = all;
            report.capabilities = pop3::dot_block(&buf, nntp_ok)
                .filter(|b| nntp_ok(b.status.as_bytes()))
                .map(|b| b.lines);
        }
        _ => {}
    }
    Ok(whole)
}

/// NNTP's CAPABILITIES answers `101` before its list.
pub fn nntp_ok(line: &[u8]) -> bool {
    line.starts_with(b"101")
}

fn numeric_done(buf: &[u8]) -> bool {
    !matches!(reply::parse(buf), Parsed::Incomplete)
}

/// Sends `command` and reads the answer until `done`: the answer, and whether it came whole
/// (`false`: cut at the size limit). Only a broken conversation is an error.
async fn ask<S, F>(
    stream: &mut S,
    command: String,
    limits: &Limits,
    done: F,
) -> Result<(Vec<u8>, bool), End>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: Fn(&[u8]) -> bool,
{
    reader::send(stream, command.as_bytes(), Instant::now() + limits.total).await?;
    let mut buf = Vec::new();
    let got = reader::read_until(stream, &mut buf, limits, false, done).await;
    match got.end {
        End::Complete => Ok((buf, true)),
        End::Full => Ok((buf, false)),
        other => Err(other),
    }
}

/// Keeps a name safe to put on a command line: no spaces or control characters.
pub fn sanitize_name(name: &str) -> String {
    let clean: String = name
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(255)
        .collect();
    if clean.is_empty() {
        "localhost".into()
    } else {
        clean
    }
}
