//! SSH identification string (RFC 4253 §4.2): `SSH-protoversion-softwareversion SP comments`.

use super::reply::trim_eol;
use crate::report::greeting::SshIdent;

/// At most this many lines may precede the identification string before we give up on it.
const MAX_PREAMBLE: usize = 16;

/// The identification line has arrived (servers may send other lines before it).
pub fn complete(buf: &[u8]) -> bool {
    buf.split_inclusive(|&b| b == b'\n')
        .take(MAX_PREAMBLE + 1)
        .any(|line| line.starts_with(b"SSH-") && line.ends_with(b"\n"))
}

/// Parses the identification string, keeping the lines sent before it.
pub fn parse(buf: &[u8]) -> Option<SshIdent> {
    let mut preamble = Vec::new();
    for line in buf.split_inclusive(|&b| b == b'\n').take(MAX_PREAMBLE + 1) {
        let text = trim_eol(line);
        if let Some(rest) = text.strip_prefix(b"SSH-") {
            return ident(rest, preamble);
        }
        preamble.push(String::from_utf8_lossy(text).into_owned());
    }
    None
}

fn ident(rest: &[u8], preamble: Vec<String>) -> Option<SshIdent> {
    let rest = String::from_utf8_lossy(rest);
    let (proto_version, after) = rest.split_once('-')?;
    let (software, comments) = match after.split_once(' ') {
        Some((s, c)) => (s, Some(c.trim().to_string()).filter(|c| !c.is_empty())),
        None => (after, None),
    };
    if proto_version.is_empty() || software.is_empty() {
        return None;
    }
    Some(SshIdent {
        proto_version: proto_version.to_string(),
        software: software.to_string(),
        comments,
        preamble,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &[u8]) -> SshIdent {
        parse(s).expect("ident")
    }

    #[test]
    fn real_world_identification_strings() {
        let d = p(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n");
        assert_eq!(d.proto_version, "2.0");
        assert_eq!(d.software, "OpenSSH_9.2p1");
        assert_eq!(d.comments.as_deref(), Some("Debian-2+deb12u3"));
        let u = p(b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6\r\n");
        assert_eq!(u.comments.as_deref(), Some("Ubuntu-3ubuntu0.6"));
        let bare = p(b"SSH-2.0-OpenSSH_9.6\r\n");
        assert_eq!(
            (bare.software.as_str(), bare.comments),
            ("OpenSSH_9.6", None)
        );
        let old = p(b"SSH-1.99-Cisco-1.25\n");
        assert_eq!(
            (old.proto_version.as_str(), old.software.as_str()),
            ("1.99", "Cisco-1.25")
        );
        let dropbear = p(b"SSH-2.0-dropbear_2022.83\r\n");
        assert_eq!(dropbear.software, "dropbear_2022.83");
    }

    #[test]
    fn lines_before_the_identification_are_kept() {
        let d = p(b"Welcome\r\nNo snooping\r\nSSH-2.0-libssh_0.10.5\r\n");
        assert_eq!(d.preamble, ["Welcome", "No snooping"]);
        assert_eq!(d.software, "libssh_0.10.5");
        assert!(complete(b"Welcome\r\nSSH-2.0-x\r\n"));
        assert!(!complete(b"Welcome\r\nSSH-2.0-x"));
    }

    #[test]
    fn malformed_identifications() {
        assert_eq!(parse(b"SSH-2.0\r\n"), None);
        assert_eq!(parse(b"SSH--x\r\n"), None);
        assert_eq!(parse(b"HTTP/1.1 400\r\n"), None);
        assert_eq!(parse(b""), None);
        let nul = p(b"SSH-2.0-evil\x00\x1b[2J junk\r\n");
        assert_eq!(nul.software, "evil\u{0}\u{1b}[2J");
        let many = b"x\n".repeat(100);
        assert_eq!(parse(&many), None);
        assert!(!complete(&many));
    }
}
