//! Numeric multi-line replies shared by SMTP, LMTP, FTP and NNTP (`250-…` … `250 …`).

/// One complete numeric reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit code.
    pub code: u16,
    /// The text of each line, without the code, separator and line ending.
    pub lines: Vec<String>,
}

impl Reply {
    /// The first line's text.
    pub fn first(&self) -> &str {
        self.lines.first().map_or("", String::as_str)
    }

    /// All lines joined with `\n` (for reports).
    pub fn joined(&self) -> String {
        self.lines.join("\n")
    }
}

/// Outcome of parsing the start of a buffer as a numeric reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A complete reply and the number of bytes it used.
    Complete(Reply, usize),
    /// A valid beginning; more bytes are needed.
    Incomplete,
    /// Not a numeric reply.
    Invalid,
}

/// The code at the start of `line` when it is three digits followed by a space, a dash or the
/// end of the line.
pub fn code_of(line: &[u8]) -> Option<(u16, Option<u8>)> {
    let digits = line.get(..3)?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let code = digits
        .iter()
        .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
    match line.get(3) {
        None => Some((code, None)),
        Some(&sep @ (b' ' | b'-')) => Some((code, Some(sep))),
        Some(_) => None,
    }
}

/// Strips one trailing `\n` and any `\r` before it.
pub fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Parses one reply from the start of `buf`. Continuation lines that do not repeat the code
/// are accepted (FTP allows them, RFC 959 §4.2).
pub fn parse(buf: &[u8]) -> Parsed {
    let mut pos = 0;
    let mut code = None;
    let mut lines = Vec::new();
    while let Some(nl) = buf[pos..].iter().position(|&b| b == b'\n') {
        let raw = &buf[pos..pos + nl + 1];
        pos += nl + 1;
        let line = trim_eol(raw);
        match (code, code_of(line)) {
            (None, None) => return Parsed::Invalid,
            (None, Some((c, sep))) => {
                code = Some(c);
                lines.push(text_after_code(line));
                if sep != Some(b'-') {
                    return Parsed::Complete(Reply { code: c, lines }, pos);
                }
            }
            (Some(c), Some((c2, sep))) if c2 == c => {
                lines.push(text_after_code(line));
                if sep != Some(b'-') {
                    return Parsed::Complete(Reply { code: c, lines }, pos);
                }
            }
            (Some(_), _) => lines.push(String::from_utf8_lossy(line).trim().to_string()),
        }
    }
    if code.is_none() {
        // No complete line yet: the beginning must still be able to become `NNN `/`NNN-`.
        let rest = &buf[pos..];
        let digits_ok = rest.iter().take(3).all(u8::is_ascii_digit);
        let sep_ok = rest.get(3).is_none_or(|b| matches!(b, b' ' | b'-' | b'\r'));
        if !(digits_ok && sep_ok) {
            return Parsed::Invalid;
        }
    }
    Parsed::Incomplete
}

fn text_after_code(line: &[u8]) -> String {
    String::from_utf8_lossy(line.get(4..).unwrap_or_default()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_and_multi_line_replies() {
        let Parsed::Complete(r, used) = parse(b"220 mail.example ESMTP Postfix\r\n") else {
            panic!("not complete")
        };
        assert_eq!(
            (r.code, r.first(), used),
            (220, "mail.example ESMTP Postfix", 32)
        );
        let ehlo = b"250-mail.example\r\n250-PIPELINING\r\n250 STARTTLS\r\nextra";
        let Parsed::Complete(r, used) = parse(ehlo) else {
            panic!("not complete")
        };
        assert_eq!(r.lines, ["mail.example", "PIPELINING", "STARTTLS"]);
        assert_eq!(&ehlo[used..], b"extra");
    }

    #[test]
    fn ftp_style_continuation_lines() {
        let feat = b"211-Features:\r\n AUTH TLS\r\n PBSZ\r\n211 End\r\n";
        let Parsed::Complete(r, _) = parse(feat) else {
            panic!("not complete")
        };
        assert_eq!(r.lines, ["Features:", "AUTH TLS", "PBSZ", "End"]);
    }

    #[test]
    fn partial_and_invalid_input() {
        assert_eq!(parse(b""), Parsed::Incomplete);
        assert_eq!(parse(b"22"), Parsed::Incomplete);
        assert_eq!(parse(b"220-first\r\n220-sec"), Parsed::Incomplete);
        assert_eq!(parse(b"220 no newline yet"), Parsed::Incomplete);
        assert_eq!(parse(b"SSH-2.0-x\r\n"), Parsed::Invalid);
        assert_eq!(parse(b"2x0 hello\r\n"), Parsed::Invalid);
        assert_eq!(parse(b"+OK"), Parsed::Invalid);
    }

    #[test]
    fn bare_code_line_is_final() {
        let Parsed::Complete(r, _) = parse(b"220\r\n") else {
            panic!("not complete")
        };
        assert_eq!((r.code, r.first()), (220, ""));
    }
}
