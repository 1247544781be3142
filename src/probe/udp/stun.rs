//! The STUN probe (UDP 3478): a binding request without attributes (RFC 5389 §6), and the
//! answer's mapped address (XOR-MAPPED-ADDRESS, else the RFC 3489 MAPPED-ADDRESS), SOFTWARE,
//! the alternate addresses a server may name, and error codes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::Parsed;
use super::wire::{Fail, Reader, text};

/// RFC 5389's magic cookie, in every message.
const MAGIC: u32 = 0x2112_a442;
/// Attributes read at most.
const MAX_ATTRIBUTES: usize = 32;

/// A binding request with a 96-bit transaction ID made of `id` and `salt` (not a secret:
/// the answer is matched by it).
pub(crate) fn request(id: u16, salt: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(20);
    out.extend_from_slice(&0x0001u16.to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&MAGIC.to_be_bytes());
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&[0x72, 0x63]); // "rc"
    out.extend_from_slice(&salt.to_be_bytes());
    out
}

/// Reads an address attribute; `xor` is the cookie and transaction ID for XOR-… attributes.
fn address(value: &[u8], xor: Option<&[u8; 16]>) -> Result<String, Fail> {
    let mut r = Reader::new(value);
    r.u8("address reserved byte")?;
    let family = r.u8("address family")?;
    let mut port = r.u16("port")?;
    let len = match family {
        1 => 4,
        2 => 16,
        f => return Err(format!("address family {f}")),
    };
    let mut ip = r.take(len, "address")?.to_vec();
    if let Some(key) = xor {
        port ^= (MAGIC >> 16) as u16;
        for (b, k) in ip.iter_mut().zip(key.iter()) {
            *b ^= k;
        }
    }
    let ip: IpAddr = if len == 4 {
        Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3]).into()
    } else {
        let mut a = [0u8; 16];
        a.copy_from_slice(&ip);
        Ipv6Addr::from(a).into()
    };
    Ok(std::net::SocketAddr::new(ip, port).to_string())
}

fn attribute_name(t: u16) -> Option<&'static str> {
    Some(match t {
        0x0001 => "mapped_address",
        0x0020 => "xor_mapped_address",
        0x8022 => "software",
        0x0009 => "error",
        0x8023 => "alternate_server",
        0x802b => "response_origin",
        0x802c => "other_address",
        0x0004 => "source_address",
        0x0005 => "changed_address",
        _ => return None,
    })
}

/// Parses an answer to `request` (the request's bytes give the transaction ID to match).
pub(crate) fn parse(answer: &[u8], request: &[u8]) -> Result<Parsed, Fail> {
    let mut r = Reader::new(answer);
    let kind = r.u16("message type")?;
    let length = usize::from(r.u16("message length")?);
    let cookie = r.u32("magic cookie")?;
    let txid = r.take(12, "transaction ID")?;
    if cookie != MAGIC {
        return Err(format!(
            "magic cookie 0x{cookie:08x}, not STUN's 0x{MAGIC:08x}"
        ));
    }
    if request.get(8..20) != Some(txid) {
        return Err("the transaction ID is not the request's".into());
    }
    let class = match kind & 0x0110 {
        0x0100 => "success",
        0x0110 => "error",
        0x0000 => return Err("a STUN request, not a response".into()),
        _ => "indication",
    };
    let method = (kind & 0x000f) | ((kind & 0x00e0) >> 1) | ((kind & 0x3e00) >> 2);
    let mut key = [0u8; 16];
    key[..4].copy_from_slice(&MAGIC.to_be_bytes());
    key[4..].copy_from_slice(txid);
    let body = r.take(length.min(r.remaining()), "attributes")?;
    let mut a = Reader::new(body);
    let mut fields: Vec<(&'static str, String)> = vec![("class", class.to_string())];
    if method != 1 {
        fields.push(("method", format!("0x{method:03x}")));
    }
    let mut unknown = Vec::new();
    for _ in 0..MAX_ATTRIBUTES {
        if a.remaining() < 4 {
            break;
        }
        let t = a.u16("attribute type")?;
        let len = usize::from(a.u16("attribute length")?);
        let value = a.take(len, "attribute value")?;
        // Values are padded to four bytes.
        a.take((4 - len % 4) % 4, "attribute padding").ok();
        let shown = match t {
            0x0001 | 0x8023 | 0x802b | 0x802c | 0x0004 | 0x0005 => address(value, None),
            0x0020 => address(value, Some(&key)),
            0x8022 => Ok(text(value)),
            0x0009 => {
                let mut e = Reader::new(value);
                e.u16("error reserved").and_then(|_| {
                    let class = e.u8("error class")? & 0x07;
                    let number = e.u8("error number")?;
                    let reason = text(e.take(e.remaining(), "reason")?);
                    Ok(format!("{}{number:02} {reason}", class))
                })
            }
            _ => {
                unknown.push(format!("0x{t:04x}"));
                continue;
            }
        };
        if let Some(name) = attribute_name(t)
            && !fields.iter().any(|f| f.0 == name)
        {
            fields.push((name, shown.unwrap_or_else(|e| format!("unreadable: {e}"))));
        }
    }
    if !unknown.is_empty() {
        fields.push(("other_attributes", unknown.join(" ")));
    }
    let get = |k: &str| fields.iter().find(|f| f.0 == k).map(|f| f.1.clone());
    let mapped = get("xor_mapped_address").or_else(|| get("mapped_address"));
    let mut summary = match (class, get("error")) {
        ("error", Some(e)) => format!("STUN error {e}"),
        _ => format!(
            "STUN binding {class}: mapped address {}",
            mapped.as_deref().unwrap_or("(none)")
        ),
    };
    if let Some(s) = get("software") {
        summary.push_str(&format!(", software {s}"));
    }
    Ok(Parsed {
        protocol: "stun",
        summary,
        fields,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A binding success for `req` mapping 192.0.2.7:40000 (XOR), with SOFTWARE.
    fn answer(req: &[u8]) -> Vec<u8> {
        let mut attrs = Vec::new();
        attrs.extend_from_slice(&[0x00, 0x20, 0, 8, 0, 1]);
        attrs.extend_from_slice(&(40000u16 ^ 0x2112).to_be_bytes());
        for (b, k) in [192u8, 0, 2, 7].iter().zip(MAGIC.to_be_bytes()) {
            attrs.push(b ^ k);
        }
        attrs.extend_from_slice(&[0x80, 0x22, 0, 5]);
        attrs.extend_from_slice(b"lab\x1bx\0\0\0");
        let mut out = vec![0x01, 0x01];
        out.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
        out.extend_from_slice(&req[4..20]);
        out.extend_from_slice(&attrs);
        out
    }

    #[test]
    fn the_mapped_address_and_software_are_read() {
        let req = request(5, 99);
        assert_eq!(req.len(), 20);
        let p = parse(&answer(&req), &req).unwrap();
        assert_eq!(
            p.summary,
            "STUN binding success: mapped address 192.0.2.7:40000, software lab\u{1b}x"
        );
        assert!(parse(&answer(&req), &request(5, 98)).is_err());
        assert!(parse(&req, &req).unwrap_err().contains("request"));
        let a = answer(&req);
        for cut in 0..a.len() {
            let _ = parse(&a[..cut], &req);
        }
    }

    #[test]
    fn an_error_answer_is_named() {
        let req = request(1, 1);
        let mut a = vec![0x01, 0x11, 0, 12];
        a.extend_from_slice(&req[4..20]);
        a.extend_from_slice(&[0, 9, 0, 8, 0, 0, 4, 0, b'B', b'a', b'd', b'!']);
        assert_eq!(parse(&a, &req).unwrap().summary, "STUN error 400 Bad!");
    }
}
