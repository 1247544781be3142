//! The DNS probe: one query (`.` SOA by default, or `--query NAME[/TYPE]`) and a bounded parse
//! of the answer: rcode, flags, the records (RFC 1035).

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::Parsed;
use super::wire::{Fail, Reader, bound, text};

/// Records shown at most, over all sections.
const MAX_RECORDS: usize = 16;
/// Compression pointers followed in one name at most (a loop must end).
const MAX_JUMPS: usize = 16;

/// What to ask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsQuery {
    /// The name, without its trailing dot (`""` is the root).
    pub name: String,
    /// The record type's number.
    pub qtype: u16,
}

impl Default for DnsQuery {
    fn default() -> Self {
        DnsQuery {
            name: String::new(),
            qtype: 6,
        }
    }
}

impl DnsQuery {
    /// Parses `NAME` (type A; `.` means the root, type SOA) or `NAME/TYPE` (`example.org/MX`,
    /// `./NS`, `host/28`).
    pub fn parse(text: &str) -> Result<DnsQuery, String> {
        let (name, qtype) = match text.rsplit_once('/') {
            Some((name, t)) => (name, Some(type_number(t)?)),
            None => (text, None),
        };
        let name = name.trim_end_matches('.');
        let qtype = qtype.unwrap_or(if name.is_empty() { 6 } else { 1 });
        if name.len() > 253 {
            return Err("a DNS name has at most 253 characters".into());
        }
        for label in name.split('.').filter(|_| !name.is_empty()) {
            if label.is_empty() || label.len() > 63 {
                return Err(format!("{label:?} is not a DNS label (1 to 63 characters)"));
            }
        }
        Ok(DnsQuery {
            name: name.to_string(),
            qtype,
        })
    }

    /// `. SOA`, `example.org A`.
    pub fn describe(&self) -> String {
        let name = if self.name.is_empty() {
            "."
        } else {
            &self.name
        };
        format!("{name} {}", type_name(self.qtype))
    }
}

fn type_number(text: &str) -> Result<u16, String> {
    let t = text.to_ascii_uppercase();
    Ok(match t.as_str() {
        "A" => 1,
        "NS" => 2,
        "CNAME" => 5,
        "SOA" => 6,
        "PTR" => 12,
        "MX" => 15,
        "TXT" => 16,
        "AAAA" => 28,
        "SRV" => 33,
        "ANY" => 255,
        _ => t
            .strip_prefix("TYPE")
            .unwrap_or(&t)
            .parse()
            .map_err(|_| format!("{text:?} is not a DNS record type (A, AAAA, SOA, NS, MX…)"))?,
    })
}

fn type_name(qtype: u16) -> String {
    match qtype {
        1 => "A".into(),
        2 => "NS".into(),
        5 => "CNAME".into(),
        6 => "SOA".into(),
        12 => "PTR".into(),
        15 => "MX".into(),
        16 => "TXT".into(),
        28 => "AAAA".into(),
        33 => "SRV".into(),
        41 => "OPT".into(),
        255 => "ANY".into(),
        n => format!("TYPE{n}"),
    }
}

fn rcode_name(rcode: u8) -> String {
    match rcode {
        0 => "NOERROR".into(),
        1 => "FORMERR".into(),
        2 => "SERVFAIL".into(),
        3 => "NXDOMAIN".into(),
        4 => "NOTIMP".into(),
        5 => "REFUSED".into(),
        n => format!("RCODE{n}"),
    }
}

/// The query datagram: recursion desired (what `dig` and resolvers' clients send).
pub(crate) fn query(q: &DnsQuery, id: u16) -> Vec<u8> {
    let mut out = Vec::with_capacity(18 + q.name.len());
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in q.name.split('.').filter(|l| !l.is_empty()) {
        out.push(label.len().min(63) as u8);
        out.extend_from_slice(&label.as_bytes()[..label.len().min(63)]);
    }
    out.push(0);
    out.extend_from_slice(&q.qtype.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out
}

/// Reads a possibly compressed name starting at the reader's position.
fn name(r: &mut Reader<'_>) -> Result<String, Fail> {
    let all = r.all();
    let mut out = String::new();
    let mut jumps = 0;
    // Where we are reading: the reader itself until the first pointer, then a detached cursor.
    let mut detached: Option<Reader<'_>> = None;
    loop {
        let cur = detached.as_mut().unwrap_or(r);
        let len = cur.u8("name label length")?;
        match len {
            0 => break,
            l if l & 0xc0 == 0xc0 => {
                let low = cur.u8("name pointer")?;
                jumps += 1;
                if jumps > MAX_JUMPS {
                    return Err("name compression loop".into());
                }
                let target = usize::from(u16::from_be_bytes([l & 0x3f, low]));
                if target >= all.len() {
                    return Err(format!("name pointer {target} past the end"));
                }
                let mut next = Reader::new(all);
                next.take(target, "name pointer")?;
                detached = Some(next);
            }
            l if l & 0xc0 != 0 => return Err(format!("unknown label type 0x{l:02x}")),
            l => {
                let label = cur.take(usize::from(l), "name label")?;
                if out.len() + label.len() > 255 {
                    return Err("name longer than 255 bytes".into());
                }
                out.push_str(&String::from_utf8_lossy(label));
                out.push('.');
            }
        }
    }
    if out.is_empty() {
        out.push('.');
    }
    Ok(out)
}

fn rdata(all: &[u8], at: usize, rtype: u16, data: &[u8]) -> Result<String, Fail> {
    // Names inside RDATA may point anywhere in the message: read them from the whole buffer.
    let mut inner = Reader::new(all);
    inner.take(at, "rdata")?;
    Ok(match (rtype, data.len()) {
        (1, 4) => Ipv4Addr::new(data[0], data[1], data[2], data[3]).to_string(),
        (28, 16) => {
            let mut a = [0u8; 16];
            a.copy_from_slice(data);
            Ipv6Addr::from(a).to_string()
        }
        (2 | 5 | 12, _) => name(&mut inner)?,
        (15, _) => {
            let pref = inner.u16("MX preference")?;
            format!("{pref} {}", name(&mut inner)?)
        }
        (6, _) => {
            let mname = name(&mut inner)?;
            let rname = name(&mut inner)?;
            let mut nums = String::new();
            for what in ["serial", "refresh", "retry", "expire", "minimum"] {
                let _ = write!(nums, " {}", inner.u32(what)?);
            }
            format!("{mname} {rname}{nums}")
        }
        (16, _) => {
            let mut txt = Reader::new(data);
            let mut parts = Vec::new();
            while txt.remaining() > 0 {
                let n = txt.u8("TXT length")?;
                parts.push(format!(
                    "{:?}",
                    text(txt.take(usize::from(n), "TXT string")?)
                ));
            }
            parts.join(" ")
        }
        _ => format!("\\# {} {}", data.len(), super::wire::hex(data)),
    })
}

/// Parses an answer to [`query`] with id `id`.
pub(crate) fn parse(answer: &[u8], id: u16) -> Result<Parsed, Fail> {
    let mut r = Reader::new(answer);
    let got_id = r.u16("header")?;
    let flags = r.u16("header")?;
    let counts = [
        r.u16("header")?,
        r.u16("header")?,
        r.u16("header")?,
        r.u16("header")?,
    ];
    if flags & 0x8000 == 0 {
        return Err("not a DNS response (QR bit clear)".into());
    }
    let rcode = rcode_name((flags & 0x000f) as u8);
    let mut flag_words = Vec::new();
    for (bit, word) in [
        (0x8000, "qr"),
        (0x0400, "aa"),
        (0x0200, "tc"),
        (0x0100, "rd"),
        (0x0080, "ra"),
        (0x0020, "ad"),
        (0x0010, "cd"),
    ] {
        if flags & bit != 0 {
            flag_words.push(word);
        }
    }
    let mut fields = vec![
        ("rcode", rcode.clone()),
        ("flags", flag_words.join(" ")),
        ("id", format!("0x{got_id:04x}")),
    ];
    if got_id != id {
        fields.push(("id_mismatch", format!("asked 0x{id:04x}")));
    }
    let mut question = String::new();
    for _ in 0..counts[0].min(4) {
        let qname = name(&mut r)?;
        let qtype = r.u16("question type")?;
        r.u16("question class")?;
        question = format!("{qname} {}", type_name(qtype));
    }
    if !question.is_empty() {
        fields.push(("question", question));
    }
    let mut sections: [Vec<String>; 3] = Default::default();
    let mut shown = 0;
    'sections: for (i, &count) in counts[1..].iter().enumerate() {
        for _ in 0..count {
            if shown >= MAX_RECORDS {
                break 'sections;
            }
            let owner = name(&mut r)?;
            let rtype = r.u16("record type")?;
            r.u16("record class")?;
            let ttl = r.u32("record TTL")?;
            let len = r.u16("record length")?;
            let at = r.pos();
            let data = r.take(usize::from(len), "record data")?;
            if rtype == 41 {
                continue; // EDNS OPT: not a record to show.
            }
            let value = rdata(answer, at, rtype, data)?;
            sections[i].push(format!("{owner} {ttl} {} {value}", type_name(rtype)));
            shown += 1;
        }
    }
    let [answers, authority, additional] = sections;
    let summary = match answers.first() {
        Some(first) => format!(
            "{rcode}, {} answer{}: {first}",
            counts[1],
            if counts[1] == 1 { "" } else { "s" }
        ),
        None => format!("{rcode}, no answer ({} authority)", counts[2]),
    };
    for (key, list) in [
        ("answer", answers),
        ("authority", authority),
        ("additional", additional),
    ] {
        if !list.is_empty() {
            fields.push((key, bound(list.join("; "))));
        }
    }
    fields.push((
        "counts",
        format!(
            "qd {} an {} ns {} ar {}",
            counts[0], counts[1], counts[2], counts[3]
        ),
    ));
    Ok(Parsed {
        protocol: "dns",
        summary: bound(summary),
        fields,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_parse_and_describe() {
        assert_eq!(DnsQuery::parse(".").unwrap().describe(), ". SOA");
        assert_eq!(
            DnsQuery::parse("example.org").unwrap().describe(),
            "example.org A"
        );
        assert_eq!(DnsQuery::parse("example.org/mx").unwrap().qtype, 15);
        assert_eq!(DnsQuery::parse("x/TYPE99").unwrap().qtype, 99);
        assert!(DnsQuery::parse("a..b").is_err());
        assert!(DnsQuery::parse("x/BOGUS").is_err());
    }

    #[test]
    fn the_root_soa_query_is_what_dig_sends() {
        let q = query(&DnsQuery::default(), 0x1234);
        assert_eq!(q, [0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 1]);
    }

    #[test]
    fn a_compressed_answer_parses() {
        // Answer to example.org A: the owner points back at the question.
        let mut a = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
        a.extend_from_slice(b"\x07example\x03org\x00\x00\x01\x00\x01");
        a.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 192, 0, 2, 7]);
        let p = parse(&a, 0x1234).unwrap();
        assert_eq!(
            p.summary,
            "NOERROR, 1 answer: example.org. 3600 A 192.0.2.7"
        );
        assert!(p.fields.contains(&("flags", "qr rd ra".to_string())));
    }

    #[test]
    fn hostile_answers_fail_without_panicking() {
        // A pointer to itself.
        let mut a = vec![0, 1, 0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12];
        assert!(parse(&a, 1).unwrap_err().contains("loop"));
        a.truncate(5);
        assert!(parse(&a, 1).is_err());
        assert!(parse(&[0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 1).is_err());
    }
}
