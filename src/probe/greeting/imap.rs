//! IMAP: the untagged greeting (`* OK [CAPABILITY …] …`), CAPABILITY and tagged responses
//! (RFC 9051 / RFC 3501).

use super::reply::trim_eol;

/// The server's first line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapGreeting {
    /// `OK`, `PREAUTH` or `BYE`.
    pub status: String,
    /// Capabilities from a `[CAPABILITY …]` response code, when present.
    pub capabilities: Option<Vec<String>>,
    /// The human text after the status (and response code).
    pub text: String,
}

/// Parses an untagged greeting line.
pub fn greeting(line: &[u8]) -> Option<ImapGreeting> {
    let line = String::from_utf8_lossy(trim_eol(line));
    let rest = line.strip_prefix("* ")?;
    let (status, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    let status = status.to_ascii_uppercase();
    if !matches!(status.as_str(), "OK" | "PREAUTH" | "BYE") {
        return None;
    }
    let (capabilities, text) = match response_code(rest) {
        Some((code, text)) => (capability_code(code), text),
        None => (None, rest),
    };
    Some(ImapGreeting {
        status,
        capabilities,
        text: text.trim().to_string(),
    })
}

/// Splits `[CODE …] text` into the code's inside and the text.
fn response_code(rest: &str) -> Option<(&str, &str)> {
    let inner = rest.strip_prefix('[')?;
    let end = inner.find(']')?;
    Some((&inner[..end], &inner[end + 1..]))
}

fn capability_code(code: &str) -> Option<Vec<String>> {
    let (name, caps) = code.split_once(' ')?;
    name.eq_ignore_ascii_case("CAPABILITY").then(|| words(caps))
}

fn words(list: &str) -> Vec<String> {
    list.split_whitespace()
        .take(256)
        .map(str::to_string)
        .collect()
}

/// The capabilities in a `* CAPABILITY …` line anywhere in `buf`.
pub fn capability_line(buf: &[u8]) -> Option<Vec<String>> {
    buf.split(|&b| b == b'\n').find_map(|line| {
        let line = String::from_utf8_lossy(trim_eol(line));
        let rest = line.strip_prefix("* ")?;
        let (name, caps) = rest.split_once(' ')?;
        name.eq_ignore_ascii_case("CAPABILITY").then(|| words(caps))
    })
}

/// The tagged completion for `tag` (`a1 OK …`): its status word and text, once its line is in.
pub fn tagged(buf: &[u8], tag: &str) -> Option<(String, String)> {
    buf.split_inclusive(|&b| b == b'\n')
        .filter(|l| l.ends_with(b"\n"))
        .find_map(|line| {
            let line = String::from_utf8_lossy(trim_eol(line));
            let rest = line.strip_prefix(tag)?.strip_prefix(' ')?;
            let (status, text) = rest.split_once(' ').unwrap_or((rest, ""));
            Some((status.to_ascii_uppercase(), text.to_string()))
        })
}

#[cfg(test)]
mod tests {
    use super::super::fingerprint;
    use super::*;

    #[test]
    fn real_world_greetings() {
        let d = greeting(b"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] Dovecot (Debian) ready.\r\n").expect("dovecot");
        assert_eq!(d.status, "OK");
        let caps = d.capabilities.expect("caps");
        assert!(caps.iter().any(|c| c == "STARTTLS"));
        assert_eq!(caps.len(), 9);
        assert_eq!(
            fingerprint::software_in(&d.text, "imap").as_deref(),
            Some("Dovecot (Debian)")
        );
        let c =
            greeting(b"* OK imap.example Cyrus IMAP 3.6.1-Debian server ready\r\n").expect("cyrus");
        assert_eq!(c.capabilities, None);
        assert_eq!(
            fingerprint::software_in(&c.text, "imap").as_deref(),
            Some("Cyrus IMAP 3.6.1-Debian")
        );
        let ms =
            greeting(b"* OK The Microsoft Exchange IMAP4 service is ready.\r\n").expect("exchange");
        assert_eq!(
            fingerprint::software_in(&ms.text, "imap").as_deref(),
            Some("Microsoft Exchange")
        );
        let g = greeting(b"* OK Gimap ready for requests from 192.0.2.1 a1b2\r\n").expect("gimap");
        assert_eq!(
            fingerprint::software_in(&g.text, "imap").as_deref(),
            Some("Gimap")
        );
        let bye = greeting(b"* BYE Too many connections\r\n").expect("bye");
        assert_eq!(bye.status, "BYE");
        assert_eq!(
            greeting(b"* PREAUTH [ALERT] hi\r\n")
                .map(|g| g.status)
                .as_deref(),
            Some("PREAUTH")
        );
    }

    #[test]
    fn not_imap() {
        assert_eq!(greeting(b"+OK Dovecot ready.\r\n"), None);
        assert_eq!(greeting(b"* FOO bar\r\n"), None);
        assert_eq!(
            greeting(b"* OK [CAPABILITY unterminated\r\n").map(|g| g.capabilities),
            Some(None)
        );
        assert_eq!(greeting(b""), None);
    }

    #[test]
    fn capability_and_tagged_responses() {
        let buf = b"* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\na1 OK Pre-login capabilities listed, post-login capabilities have more.\r\n";
        assert_eq!(
            capability_line(buf).expect("caps"),
            ["IMAP4rev1", "STARTTLS", "LOGINDISABLED"]
        );
        let (status, text) = tagged(buf, "a1").expect("tagged");
        assert_eq!(status, "OK");
        assert!(text.starts_with("Pre-login"));
        assert_eq!(tagged(b"a2 OK partial", "a2"), None);
        assert_eq!(
            tagged(b"a2 NO [ALERT] no TLS\r\n", "a2")
                .map(|t| t.0)
                .as_deref(),
            Some("NO")
        );
        assert_eq!(tagged(b"a22 OK x\r\n", "a2"), None);
    }
}
