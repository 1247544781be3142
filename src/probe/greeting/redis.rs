//! Redis: the answer to an inline `PING` (RESP simple string or error).

use super::reply::trim_eol;
use crate::report::greeting::RedisReply;

/// The inline command we send.
pub const PING: &[u8] = b"PING\r\n";

/// Parses the first line when it is a RESP simple string (`+PONG`) or error (`-NOAUTH …`).
pub fn parse(buf: &[u8]) -> Option<RedisReply> {
    let nl = buf.iter().position(|&b| b == b'\n')?;
    let line = trim_eol(&buf[..=nl]);
    let (&kind, rest) = line.split_first()?;
    let error = match kind {
        b'+' => false,
        b'-' => true,
        _ => return None,
    };
    let reply = String::from_utf8_lossy(rest).into_owned();
    let upper = reply.to_ascii_uppercase();
    let auth_required = error && (upper.starts_with("NOAUTH") || upper.starts_with("NOPERM"));
    Some(RedisReply {
        reply,
        error,
        auth_required,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pong_and_errors() {
        let pong = parse(b"+PONG\r\n").expect("pong");
        assert_eq!((pong.reply.as_str(), pong.error), ("PONG", false));
        let auth = parse(b"-NOAUTH Authentication required.\r\n").expect("noauth");
        assert!(auth.error && auth.auth_required);
        let denied = parse(b"-DENIED Redis is running in protected mode\r\n").expect("denied");
        assert!(denied.error && !denied.auth_required);
        assert_eq!(parse(b"+PONG"), None);
        assert_eq!(parse(b"HTTP/1.1 400\r\n"), None);
        assert_eq!(parse(b"\r\n"), None);
    }
}
