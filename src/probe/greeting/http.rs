//! HTTP: the `HEAD /` request and the parse of its answer's status line and headers.

use crate::report::greeting::HttpInfo;

/// The request for `authority` (`host`, `host:port` or `[v6]:port`). Characters that could end
/// a header line are dropped from the authority, so a hostile target cannot inject headers.
pub fn head_request(authority: &str) -> String {
    let authority: String = authority
        .chars()
        .filter(|c| !c.is_control() && *c != ' ')
        .collect();
    format!(
        "HEAD / HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: reach/{}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    )
}

/// The `Host` header value for `host` on `port`: the port is left out when it is the scheme's
/// default, IPv6 literals are bracketed.
pub fn authority(host: &str, port: u16, tls: bool) -> String {
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    let default = if tls { 443 } else { 80 };
    if port == default {
        host
    } else {
        format!("{host}:{port}")
    }
}

/// The head (status line and headers) has fully arrived.
pub fn complete(buf: &[u8]) -> bool {
    head_end(buf).is_some()
}

fn head_end(buf: &[u8]) -> Option<usize> {
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The response starts like HTTP.
pub fn looks_like(buf: &[u8]) -> bool {
    buf.starts_with(b"HTTP/")
}

/// Parses the status line and the `Server` and `Location` headers (of a complete or partial
/// head: whatever lines are complete).
pub fn parse(buf: &[u8]) -> Option<HttpInfo> {
    let head = &buf[..head_end(buf).unwrap_or(buf.len())];
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let status_line = lines.next()?;
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next()?.to_string();
    if !version.starts_with("HTTP/") {
        return None;
    }
    let status = parts.next()?.parse().ok()?;
    let reason = parts.next().unwrap_or_default().to_string();
    let mut info = HttpInfo {
        version,
        status,
        reason,
        server: None,
        location: None,
    };
    for line in lines.take(200) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim().to_string();
        if name.eq_ignore_ascii_case("server") {
            info.server.get_or_insert(value);
        } else if name.eq_ignore_ascii_case("location") {
            info.location.get_or_insert(value);
        }
    }
    Some(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nginx_and_apache_heads() {
        let nginx = b"HTTP/1.1 301 Moved Permanently\r\nServer: nginx/1.22.1\r\nDate: Tue, 21 Nov 2026 10:00:00 GMT\r\nContent-Type: text/html\r\nLocation: https://www.example/\r\nConnection: close\r\n\r\n";
        assert!(complete(nginx));
        let h = parse(nginx).expect("head");
        assert_eq!(
            (h.version.as_str(), h.status, h.reason.as_str()),
            ("HTTP/1.1", 301, "Moved Permanently")
        );
        assert_eq!(h.server.as_deref(), Some("nginx/1.22.1"));
        assert_eq!(h.location.as_deref(), Some("https://www.example/"));
        let apache = b"HTTP/1.1 200 OK\nserver: Apache/2.4.62 (Debian)\n\n";
        let h = parse(apache).expect("head");
        assert_eq!(h.server.as_deref(), Some("Apache/2.4.62 (Debian)"));
        let bare = parse(b"HTTP/1.0 204\r\n\r\n").expect("head");
        assert_eq!(
            (bare.status, bare.reason.as_str(), bare.server),
            (204, "", None)
        );
    }

    #[test]
    fn not_http() {
        assert_eq!(parse(b"SSH-2.0-OpenSSH_9.2p1\r\n"), None);
        assert_eq!(parse(b"HTTP/1.1 abc OK\r\n\r\n"), None);
        assert_eq!(parse(b""), None);
        assert!(!complete(b"HTTP/1.1 200 OK\r\nServer: x\r\n"));
    }

    #[test]
    fn request_cannot_be_injected_into() {
        let req = head_request("evil.example\r\nX-Injected: 1");
        assert_eq!(req.matches("\r\n").count(), 6);
        assert!(req.contains("Host: evil.exampleX-Injected:1\r\n"));
        assert_eq!(authority("::1", 8080, false), "[::1]:8080");
        assert_eq!(authority("www.example", 443, true), "www.example");
        assert_eq!(authority("www.example", 80, true), "www.example:80");
    }
}
