//! POP3: the `+OK` greeting and CAPA's dot-terminated list (RFC 1939, RFC 2449); the
//! dot-terminated block parser is shared with NNTP's CAPABILITIES.

use super::reply::trim_eol;

/// The first line, when it is complete.
pub fn first_line(buf: &[u8]) -> Option<&[u8]> {
    let nl = buf.iter().position(|&b| b == b'\n')?;
    Some(trim_eol(&buf[..=nl]))
}

/// The status line says `+OK`.
pub fn is_ok(line: &[u8]) -> bool {
    line.starts_with(b"+OK")
}

/// A multi-line response: status line, then lines up to a lone `.`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DotBlock {
    /// The status line.
    pub status: String,
    /// The lines between status and terminator, dot-unstuffed.
    pub lines: Vec<String>,
    /// Bytes used.
    pub used: usize,
}

/// Parses a dot-terminated block whose status line passes `ok`; a failing status line is a
/// complete (one-line) answer too. `None`: more bytes needed.
pub fn dot_block(buf: &[u8], ok: impl Fn(&[u8]) -> bool) -> Option<DotBlock> {
    const MAX_LINES: usize = 512;
    let mut used = 0;
    let mut status: Option<String> = None;
    let mut lines = Vec::new();
    for raw in buf.split_inclusive(|&b| b == b'\n') {
        if !raw.ends_with(b"\n") {
            return None;
        }
        used += raw.len();
        let line = trim_eol(raw);
        let Some(status) = &status else {
            status = Some(String::from_utf8_lossy(line).into_owned());
            if ok(line) {
                continue;
            }
            break;
        };
        if line == b"." {
            return Some(DotBlock {
                status: status.clone(),
                lines,
                used,
            });
        }
        if lines.len() < MAX_LINES {
            let line = line.strip_prefix(b".").unwrap_or(line);
            lines.push(String::from_utf8_lossy(line).into_owned());
        }
    }
    // Only a failed status line completes a block without the terminator.
    let status = status?;
    if ok(status.as_bytes()) {
        return None;
    }
    Some(DotBlock {
        status,
        lines,
        used,
    })
}

#[cfg(test)]
mod tests {
    use super::super::fingerprint;
    use super::*;

    #[test]
    fn real_world_greetings() {
        let cases: &[(&[u8], Option<&str>)] = &[
            (b"+OK Dovecot (Debian) ready.\r\n", Some("Dovecot (Debian)")),
            (b"+OK Dovecot ready. <1a2b.3c@mail>\r\n", Some("Dovecot")),
            (
                b"+OK mail.example Cyrus POP3 v3.6.0-Debian-3.6.0-4 server ready <123@mail>\r\n",
                Some("Cyrus POP3 v3.6.0-Debian-3.6.0-4"),
            ),
            (b"+OK Hello there.\r\n", None),
            (
                b"+OK The Microsoft Exchange POP3 service is ready.\r\n",
                Some("Microsoft Exchange"),
            ),
        ];
        for (bytes, soft) in cases {
            let line = first_line(bytes).expect("line");
            assert!(is_ok(line));
            let text = String::from_utf8_lossy(line);
            assert_eq!(fingerprint::software_in(&text, "pop3").as_deref(), *soft);
        }
        assert_eq!(first_line(b"+OK no newline"), None);
        assert!(!is_ok(b"-ERR [SYS/TEMP] try later"));
    }

    #[test]
    fn capa_lists() {
        let dovecot = b"+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\nSTLS\r\nUSER\r\nSASL PLAIN\r\n.\r\n";
        let block = dot_block(dovecot, is_ok).expect("complete");
        assert_eq!(block.lines.len(), 9);
        assert!(block.lines.iter().any(|l| l == "STLS"));
        assert_eq!(block.used, dovecot.len());
        assert_eq!(dot_block(&dovecot[..dovecot.len() - 3], is_ok), None);
        let err = dot_block(b"-ERR unknown command\r\n", is_ok).expect("complete");
        assert!(err.lines.is_empty());
        let stuffed = dot_block(b"+OK\r\n..dotted\r\n.\r\n", is_ok).expect("complete");
        assert_eq!(stuffed.lines, [".dotted"]);
        let empty = dot_block(b"+OK\r\n.\r\n", is_ok).expect("complete");
        assert!(empty.lines.is_empty());
    }
}
