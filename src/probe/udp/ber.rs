//! Just enough BER (X.690) for SNMP and CLDAP: writing the few requests reach sends, and
//! reading answers with every length checked and nesting bounded.

use super::wire::Fail;

/// Nesting depth read at most (SNMP and LDAP answers need five or six).
pub(crate) const MAX_DEPTH: usize = 16;

/// One TLV: `tag`, then the definite length, then `content`.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0x81, len as u8]);
    } else {
        let l = (len.min(0xffff)) as u16;
        out.push(0x82);
        out.extend_from_slice(&l.to_be_bytes());
    }
    out.extend_from_slice(content);
    out
}

/// An INTEGER.
pub(crate) fn int(value: i64) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    // The shortest two's-complement form.
    let mut start = 0;
    while start < 7
        && ((bytes[start] == 0 && bytes[start + 1] & 0x80 == 0)
            || (bytes[start] == 0xff && bytes[start + 1] & 0x80 != 0))
    {
        start += 1;
    }
    tlv(0x02, &bytes[start..])
}

/// A SEQUENCE of already-encoded parts.
pub(crate) fn seq(tag: u8, parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(tag, &parts.concat())
}

/// An OBJECT IDENTIFIER from its arcs (the first two below 40 and 40×…, as SNMP's are).
pub(crate) fn oid(arcs: &[u32]) -> Vec<u8> {
    let mut content = Vec::new();
    if let [a, b, rest @ ..] = arcs {
        content.push((a * 40 + b) as u8);
        for &arc in rest {
            let mut chunk = vec![(arc & 0x7f) as u8];
            let mut v = arc >> 7;
            while v > 0 {
                chunk.push(((v & 0x7f) as u8) | 0x80);
                v >>= 7;
            }
            chunk.reverse();
            content.extend(chunk);
        }
    }
    tlv(0x06, &content)
}

/// A parsed TLV: its tag and content.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tlv<'a> {
    pub(crate) tag: u8,
    pub(crate) content: &'a [u8],
}

/// Reads TLVs one after another from a buffer.
pub(crate) struct Ber<'a> {
    rest: &'a [u8],
}

impl<'a> Ber<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Ber<'a> {
        Ber { rest: bytes }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The next TLV (definite lengths only, at most 4 length bytes).
    pub(crate) fn next(&mut self, what: &str) -> Result<Tlv<'a>, Fail> {
        let [tag, first, rest @ ..] = self.rest else {
            return Err(format!("truncated {what}"));
        };
        if tag & 0x1f == 0x1f {
            return Err(format!("{what}: multi-byte tags are not expected"));
        }
        let (len, rest) = if first & 0x80 == 0 {
            (usize::from(*first), rest)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return Err(format!("{what}: bad length"));
            }
            let len = rest[..n]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            (len, &rest[n..])
        };
        if len > rest.len() {
            return Err(format!(
                "truncated {what}: {len} bytes announced, {} left",
                rest.len()
            ));
        }
        let (content, after) = rest.split_at(len);
        self.rest = after;
        Ok(Tlv { tag: *tag, content })
    }

    /// The next TLV, which must have `tag`.
    pub(crate) fn expect(&mut self, tag: u8, what: &str) -> Result<&'a [u8], Fail> {
        let t = self.next(what)?;
        if t.tag != tag {
            return Err(format!("{what}: tag 0x{:02x}, expected 0x{tag:02x}", t.tag));
        }
        Ok(t.content)
    }
}

/// An INTEGER's value (at most 8 bytes).
pub(crate) fn int_value(content: &[u8]) -> Result<i64, Fail> {
    if content.is_empty() || content.len() > 8 {
        return Err("bad INTEGER".into());
    }
    let neg = content[0] & 0x80 != 0;
    let init: i64 = if neg { -1 } else { 0 };
    Ok(content
        .iter()
        .fold(init, |acc, b| (acc << 8) | i64::from(*b)))
}

/// An unsigned value (Counter32, Gauge32, TimeTicks, Counter64): at most 9 bytes.
pub(crate) fn uint_value(content: &[u8]) -> Result<u64, Fail> {
    if content.len() > 9 {
        return Err("bad unsigned".into());
    }
    Ok(content
        .iter()
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
}

/// An OBJECT IDENTIFIER in dotted form (at most 128 arcs).
pub(crate) fn oid_text(content: &[u8]) -> Result<String, Fail> {
    let Some((&first, rest)) = content.split_first() else {
        return Err("empty OID".into());
    };
    let mut arcs = vec![u64::from(first / 40).min(2), 0];
    arcs[1] = u64::from(first) - arcs[0] * 40;
    let mut v: u64 = 0;
    for &b in rest {
        if v > (u64::MAX >> 7) || arcs.len() > 128 {
            return Err("OID too long".into());
        }
        v = (v << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            arcs.push(v);
            v = 0;
        }
    }
    Ok(arcs
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_and_oids_round_trip() {
        for v in [0i64, 1, 127, 128, 255, 256, -1, -129, 2_147_483_647] {
            let enc = int(v);
            let mut r = Ber::new(&enc);
            assert_eq!(int_value(r.expect(0x02, "int").unwrap()).unwrap(), v);
        }
        let enc = oid(&[1, 3, 6, 1, 2, 1, 1, 1, 0]);
        assert_eq!(enc, [6, 8, 0x2b, 6, 1, 2, 1, 1, 1, 0]);
        assert_eq!(oid_text(&enc[2..]).unwrap(), "1.3.6.1.2.1.1.1.0");
        assert_eq!(oid_text(&[0x2b, 0x86, 0x8d, 0x1f]).unwrap(), "1.3.99999");
    }

    #[test]
    fn long_lengths_and_truncation() {
        let big = tlv(0x04, &[7u8; 300]);
        assert_eq!(&big[..4], &[0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(Ber::new(&big).next("x").unwrap().content.len(), 300);
        assert!(Ber::new(&big[..100]).next("x").is_err());
        assert!(Ber::new(&[0x30, 0x85, 1, 1, 1, 1, 1]).next("x").is_err());
        assert!(Ber::new(&[0x30]).next("x").is_err());
    }
}
