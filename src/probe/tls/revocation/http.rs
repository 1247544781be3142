//! A minimal HTTP/1.1 client for OCSP responders and CRL distribution points: one request on
//! one connection (`Connection: close`), bounded in time (one deadline for name resolution,
//! connect, request and response together) and in size (headers and body).
//!
//! Only `http://` URLs are fetched: OCSP and CRLs are signed objects served over plain HTTP
//! (RFC 6960 A.1, RFC 5280 §4.2.1.13), and an `https://` responder would need its own
//! certificate checked, with its own revocation… Redirects are not followed: a fetch goes only
//! where the certificate points.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};

/// The longest header section accepted.
const MAX_HEAD: usize = 16 * 1024;

/// Where and how to fetch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Resolution, connect, request and response must all end within this long.
    pub timeout: Duration,
    /// The longest body accepted.
    pub max_body: usize,
}

/// A request body and its content type (`None`: GET).
pub(crate) type Body<'a> = Option<(&'static str, &'a [u8])>;

/// Fetches `url` (GET, or POST with `body`) and returns the body of a `200` answer. `Err` is
/// one sentence saying why not.
pub(crate) async fn fetch(url: &str, body: Body<'_>, limits: Limits) -> Result<Vec<u8>, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    match parsed.scheme() {
        "http" => {}
        "https" => {
            return Err("https:// locations are not fetched (only http://)".to_string());
        }
        other => return Err(format!("{other}: locations are not fetched (only http://)")),
    }
    let host = parsed
        .host_str()
        .ok_or_else(|| format!("{url} names no host"))?
        .to_string();
    let port = parsed.port_or_known_default().unwrap_or(80);
    let deadline = Instant::now() + limits.timeout;
    let exchange = async {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let addrs: Vec<_> = tokio::net::lookup_host((bare, port))
            .await
            .map_err(|e| format!("cannot resolve {host}: {e}"))?
            .collect();
        let mut last = format!("{host} has no address");
        let mut stream = None;
        for addr in addrs {
            match TcpStream::connect(addr).await {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = format!("cannot connect to {addr}: {e}"),
            }
        }
        let mut stream = stream.ok_or(last)?;
        let path = match parsed.query() {
            Some(q) => format!("{}?{q}", parsed.path()),
            None => parsed.path().to_string(),
        };
        let authority = match parsed.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.clone(),
        };
        let request = request(&path, &authority, body);
        stream
            .write_all(&request)
            .await
            .map_err(|e| format!("cannot send the request: {e}"))?;
        let mut received = Vec::new();
        let cap = MAX_HEAD + limits.max_body + 1;
        let mut chunk = [0u8; 16 * 1024];
        loop {
            let room = cap - received.len();
            if room == 0 {
                break;
            }
            let want = room.min(chunk.len());
            let n = stream
                .read(&mut chunk[..want])
                .await
                .map_err(|e| format!("the answer broke off: {e}"))?;
            if n == 0 {
                break;
            }
            received.extend_from_slice(&chunk[..n]);
            if matches!(complete(&received), Some(true)) {
                break;
            }
        }
        parse_response(&received, limits.max_body)
    };
    match timeout_at(deadline, exchange).await {
        Ok(result) => result,
        Err(_) => Err(format!(
            "no complete answer from {host}:{port} within {:?}",
            limits.timeout
        )),
    }
}

fn request(path: &str, authority: &str, body: Body<'_>) -> Vec<u8> {
    let method = if body.is_some() { "POST" } else { "GET" };
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: reach/{}\r\n\
         Accept: */*\r\nConnection: close\r\n",
        env!("CARGO_PKG_VERSION")
    );
    if let Some((content_type, bytes)) = body {
        head.push_str(&format!(
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
            bytes.len()
        ));
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    if let Some((_, bytes)) = body {
        out.extend_from_slice(bytes);
    }
    out
}

/// `Some(true)` once `received` holds a whole response that says its length (Content-Length
/// or the last chunk); `None` while the head is incomplete or the body runs to the close.
pub(crate) fn complete(received: &[u8]) -> Option<bool> {
    let (head, body) = split_head(received)?;
    let headers = Headers::read(head).ok()?;
    if headers.chunked {
        return Some(body.windows(5).any(|w| w == b"0\r\n\r\n"));
    }
    headers.content_length.map(|n| body.len() >= n)
}

fn split_head(received: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = received.windows(4).position(|w| w == b"\r\n\r\n")?;
    Some((&received[..end], &received[end + 4..]))
}

/// What the head of a response says.
#[derive(Debug, Default)]
struct Headers {
    status: u16,
    reason: String,
    content_length: Option<usize>,
    chunked: bool,
    location: Option<String>,
}

impl Headers {
    fn read(head: &[u8]) -> Result<Headers, String> {
        let text = String::from_utf8_lossy(head);
        let mut lines = text.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or_default();
        if !version.starts_with("HTTP/1.") {
            return Err(format!(
                "the answer is not HTTP/1.x: {:?}",
                clip(status_line)
            ));
        }
        let status = parts
            .next()
            .and_then(|s| s.parse::<u16>().ok())
            .filter(|s| (100..=999).contains(s))
            .ok_or_else(|| format!("no status code in {:?}", clip(status_line)))?;
        let mut headers = Headers {
            status,
            reason: clip(parts.next().unwrap_or_default()),
            ..Headers::default()
        };
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            match name.trim().to_ascii_lowercase().as_str() {
                "content-length" => {
                    let n = value
                        .parse::<usize>()
                        .map_err(|_| format!("bad Content-Length {:?}", clip(value)))?;
                    headers.content_length = Some(n);
                }
                "transfer-encoding" => {
                    headers.chunked = value.to_ascii_lowercase().contains("chunked");
                }
                "location" => headers.location = Some(clip(value)),
                _ => {}
            }
        }
        Ok(headers)
    }
}

/// At most 120 characters of network text, for messages.
fn clip(text: &str) -> String {
    text.chars().take(120).collect()
}

/// The body of a whole `200` response in `received` (which ended with the connection or
/// reached its cap); `Err` says why there is none.
pub(crate) fn parse_response(received: &[u8], max_body: usize) -> Result<Vec<u8>, String> {
    if received.is_empty() {
        return Err("the server closed without answering".to_string());
    }
    let Some((head, body)) = split_head(received) else {
        return Err(if received.len() >= MAX_HEAD {
            format!("the answer's headers exceed {MAX_HEAD} bytes")
        } else {
            "the answer ended inside its headers".to_string()
        });
    };
    if head.len() > MAX_HEAD {
        return Err(format!("the answer's headers exceed {MAX_HEAD} bytes"));
    }
    let headers = Headers::read(head)?;
    match headers.status {
        200 => {}
        300..=399 => {
            return Err(format!(
                "HTTP {} redirect to {} not followed (revocation fetches go only where the \
                 certificate points)",
                headers.status,
                headers.location.as_deref().unwrap_or("nowhere")
            ));
        }
        status => return Err(format!("HTTP {status} {}", headers.reason)),
    }
    let body = if headers.chunked {
        dechunk(body, max_body)?
    } else if let Some(n) = headers.content_length {
        if n > max_body {
            return Err(format!("the answer is {n} bytes, more than {max_body}"));
        }
        if body.len() < n {
            return Err(format!(
                "the answer broke off after {} of {n} bytes",
                body.len()
            ));
        }
        body[..n].to_vec()
    } else {
        body.to_vec()
    };
    if body.len() > max_body {
        return Err(format!("the answer is more than {max_body} bytes"));
    }
    Ok(body)
}

/// Decodes a chunked body, bounded by `max_body`.
fn dechunk(mut input: &[u8], max_body: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = input
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("the chunked answer broke off")?;
        let size_text = String::from_utf8_lossy(&input[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("bad chunk size {:?}", clip(size_text)))?;
        input = &input[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if size > max_body.saturating_sub(out.len()) {
            return Err(format!("the answer is more than {max_body} bytes"));
        }
        let chunk = input.get(..size).ok_or("the chunked answer broke off")?;
        out.extend_from_slice(chunk);
        input = input
            .get(size..)
            .and_then(|rest| rest.strip_prefix(b"\r\n"))
            .ok_or("the chunked answer broke off")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_by_length_by_chunks_and_to_the_close() {
        let ok = |r: &[u8]| parse_response(r, 1024);
        assert_eq!(
            ok(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef").unwrap(),
            b"abc"
        );
        assert_eq!(
            ok(b"HTTP/1.0 200 OK\r\nContent-Type: x\r\n\r\nabcdef").unwrap(),
            b"abcdef"
        );
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        assert_eq!(ok(chunked).unwrap(), b"abcde");
        assert!(complete(chunked) == Some(true));
    }

    #[test]
    fn refusals_redirects_and_oversize_are_explained() {
        let err = |r: &[u8], max| parse_response(r, max).unwrap_err();
        assert_eq!(err(b"", 10), "the server closed without answering");
        assert!(err(b"HTTP/1.1 404 Not Found\r\n\r\n", 10).contains("404 Not Found"));
        let redirect = err(b"HTTP/1.1 302 Found\r\nLocation: http://x/\r\n\r\n", 10);
        assert!(redirect.contains("not followed") && redirect.contains("http://x/"));
        assert!(err(b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", 10).contains("99 bytes"));
        assert!(err(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", 10).contains("broke off"));
        assert!(err(b"HTTP/1.1 200 OK\r\n\r\n0123456789ab", 10).contains("more than 10"));
        assert!(err(b"SSH-2.0-x\r\n\r\n", 10).contains("not HTTP"));
        let huge_chunk = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffff\r\n";
        assert!(err(huge_chunk, 10).contains("more than 10"));
        assert!(
            err(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab",
                10
            )
            .contains("broke off")
        );
    }

    #[tokio::test]
    async fn only_http_is_fetched_and_every_wait_has_a_deadline() {
        let limits = Limits {
            timeout: Duration::from_millis(300),
            max_body: 100,
        };
        let https = fetch("https://127.0.0.1/", None, limits).await.unwrap_err();
        assert!(https.contains("only http://"), "{https}");
        // A server that accepts and never answers.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/ocsp", silent.local_addr().unwrap());
        let started = std::time::Instant::now();
        let err = fetch(&url, Some(("application/ocsp-request", b"x")), limits)
            .await
            .unwrap_err();
        assert!(err.contains("no complete answer"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(2));
        drop(silent);
    }
}
