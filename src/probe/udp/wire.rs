//! Bounded reading of untrusted datagrams, shared by the UDP answer parsers: every read checks
//! its length first and fails with a sentence, never panics.

use std::fmt::Write as _;

/// Bytes shown in hex or as text, at most.
pub(crate) const SHOWN_BYTES: usize = 512;
/// Characters of one parsed field value, at most.
pub(crate) const MAX_FIELD: usize = 512;

/// A cursor over a datagram.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

/// What a failed read says.
pub(crate) type Fail = String;

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    /// The whole datagram (for compression pointers, which point from its start).
    pub(crate) fn all(&self) -> &'a [u8] {
        self.buf
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    pub(crate) fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], Fail> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.buf.len())
            .ok_or_else(|| {
                format!(
                    "truncated {what}: {n} bytes wanted at offset {}, {} left",
                    self.pos,
                    self.remaining()
                )
            })?;
        let bytes = &self.buf[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    pub(crate) fn u8(&mut self, what: &str) -> Result<u8, Fail> {
        Ok(self.take(1, what)?[0])
    }

    pub(crate) fn u16(&mut self, what: &str) -> Result<u16, Fail> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub(crate) fn u32(&mut self, what: &str) -> Result<u32, Fail> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn u64(&mut self, what: &str) -> Result<u64, Fail> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }
}

/// Lower-case hex of at most [`SHOWN_BYTES`] bytes, `…` when cut.
pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().min(SHOWN_BYTES) * 2 + 3);
    for b in bytes.iter().take(SHOWN_BYTES) {
        let _ = write!(out, "{b:02x}");
    }
    if bytes.len() > SHOWN_BYTES {
        out.push('…');
    }
    out
}

/// The printable ASCII of at most [`SHOWN_BYTES`] bytes, others as `.`.
pub(crate) fn printable(bytes: &[u8]) -> String {
    bytes
        .iter()
        .take(SHOWN_BYTES)
        .map(|&b| {
            if (0x20..0x7f).contains(&b) {
                char::from(b)
            } else {
                '.'
            }
        })
        .collect()
}

/// Text from the network as a field value: lossy UTF-8, cut to [`MAX_FIELD`] characters (the
/// printers escape control characters).
pub(crate) fn text(bytes: &[u8]) -> String {
    bound(String::from_utf8_lossy(bytes).into_owned())
}

/// Cuts a field value to [`MAX_FIELD`] characters.
pub(crate) fn bound(value: String) -> String {
    match value.char_indices().nth(MAX_FIELD) {
        Some((at, _)) => format!("{}…", &value[..at]),
        None => value,
    }
}

/// Parses hex digits (spaces and colons allowed between bytes), as `--udp-payload` takes them.
pub(crate) fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = text
        .bytes()
        .filter(|b| !matches!(b, b' ' | b':' | b'\t'))
        .collect();
    let digits = digits
        .strip_prefix(b"0x")
        .map(<[u8]>::to_vec)
        .unwrap_or(digits);
    if !digits.len().is_multiple_of(2) {
        return Err("an odd number of hex digits".into());
    }
    digits
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|s| u8::from_str_radix(s, 16).ok())
                .ok_or_else(|| format!("{:?} is not a hex byte", String::from_utf8_lossy(pair)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_bounded() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.u16("a").unwrap(), 0x0102);
        assert!(r.u16("b").unwrap_err().contains("truncated b"));
        assert_eq!(r.u8("c").unwrap(), 3);
        assert!(r.take(usize::MAX, "d").is_err());
    }

    #[test]
    fn hex_and_text_are_bounded() {
        assert_eq!(hex(&[0, 0xff]), "00ff");
        assert!(hex(&[0u8; 600]).ends_with('…'));
        assert_eq!(printable(b"ab\x00\xff"), "ab..");
        assert_eq!(text(&[b'x'; 600]).chars().count(), MAX_FIELD + 1);
    }

    #[test]
    fn payloads_parse_as_hex() {
        assert_eq!(parse_hex("0x0a0B").unwrap(), vec![10, 11]);
        assert_eq!(
            parse_hex("de:ad be ef").unwrap(),
            vec![0xde, 0xad, 0xbe, 0xef]
        );
        assert!(parse_hex("abc").is_err());
        assert!(parse_hex("zz").is_err());
        assert_eq!(parse_hex("").unwrap(), Vec::<u8>::new());
    }
}
