//! ManageSieve (RFC 5804): the capability greeting (`"IMPLEMENTATION" "…"` … `OK`).

use super::reply::trim_eol;

/// A parsed capability listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SieveCapabilities {
    /// `KEY` or `KEY value`, unquoted, one per line.
    pub capabilities: Vec<String>,
    /// The `IMPLEMENTATION` value.
    pub implementation: Option<String>,
    /// The final status line (`OK "Dovecot ready."`).
    pub status: String,
}

/// Parses a listing that ends with an `OK`, `NO` or `BYE` line; `None` until that line is in
/// or when a line is not a quoted capability.
pub fn parse(buf: &[u8]) -> Option<SieveCapabilities> {
    let mut out = SieveCapabilities::default();
    for raw in buf.split_inclusive(|&b| b == b'\n') {
        if !raw.ends_with(b"\n") {
            return None;
        }
        let line = String::from_utf8_lossy(trim_eol(raw)).into_owned();
        let upper = line.to_ascii_uppercase();
        if ["OK", "NO", "BYE"]
            .iter()
            .any(|s| upper == *s || upper.starts_with(&format!("{s} ")))
        {
            out.status = line;
            return Some(out);
        }
        let (key, value) = quoted_pair(&line)?;
        if key.eq_ignore_ascii_case("IMPLEMENTATION") {
            out.implementation = value.clone();
        }
        if out.capabilities.len() < 256 {
            out.capabilities.push(match value {
                Some(v) => format!("{key} {v}"),
                None => key,
            });
        }
    }
    None
}

/// `"KEY"` or `"KEY" "value"`.
fn quoted_pair(line: &str) -> Option<(String, Option<String>)> {
    let rest = line.strip_prefix('"')?;
    let (key, rest) = rest.split_once('"')?;
    let rest = rest.trim();
    if rest.is_empty() {
        return Some((key.to_string(), None));
    }
    let value = rest.strip_prefix('"')?.strip_suffix('"')?;
    Some((key.to_string(), Some(value.to_string())))
}

/// The first line looks like a ManageSieve capability line.
pub fn looks_like(buf: &[u8]) -> bool {
    let upper = buf
        .iter()
        .take(20)
        .map(u8::to_ascii_uppercase)
        .collect::<Vec<_>>();
    upper.starts_with(b"\"IMPLEMENTATION\"") || upper.starts_with(b"\"SIEVE\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dovecot_pigeonhole_greeting() {
        let buf = b"\"IMPLEMENTATION\" \"Dovecot Pigeonhole\"\r\n\"SIEVE\" \"fileinto reject envelope\"\r\n\"NOTIFY\" \"mailto\"\r\n\"SASL\" \"\"\r\n\"STARTTLS\"\r\n\"VERSION\" \"1.0\"\r\nOK \"Dovecot (Debian) ready.\"\r\n";
        let caps = parse(buf).expect("complete");
        assert_eq!(caps.implementation.as_deref(), Some("Dovecot Pigeonhole"));
        assert!(caps.capabilities.iter().any(|c| c == "STARTTLS"));
        assert_eq!(caps.status, "OK \"Dovecot (Debian) ready.\"");
        assert!(looks_like(buf));
        assert_eq!(parse(&buf[..buf.len() - 5]), None);
    }

    #[test]
    fn malformed_listings() {
        assert_eq!(parse(b"garbage\r\nOK\r\n"), None);
        assert_eq!(parse(b"\"SIEVE\" unquoted\r\nOK\r\n"), None);
        assert_eq!(parse(b"OK\r\n").map(|c| c.capabilities.len()), Some(0));
        assert!(!looks_like(b"* OK"));
    }
}
