//! The NetBIOS name service probe (UDP 137): a node status request for `*` (RFC 1002
//! §4.2.17, what `nmblookup -A` and `nbtstat -A` send), and the answer's name table and MAC
//! address (§4.2.18). A node status request asks nothing of a user and proves nothing: it is
//! the query Windows itself sends to learn a host's names.

use std::fmt::Write as _;

use super::Parsed;
use super::wire::{Fail, Reader};

/// NBSTAT, the node status question and answer type.
const NBSTAT: u16 = 0x0021;
/// Names shown at most (a node has a dozen; the count is one byte).
const MAX_NAMES: usize = 32;

/// The node status request: no flags (a unicast query), one question `*` padded with zero
/// bytes to 16, first-level encoded (each nibble + 'A'), type NBSTAT, class IN.
pub(crate) fn request(id: u16) -> Vec<u8> {
    let mut out = Vec::with_capacity(50);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    out.push(32);
    let mut name = [0u8; 16];
    name[0] = b'*';
    for b in name {
        out.push(b'A' + (b >> 4));
        out.push(b'A' + (b & 0x0f));
    }
    out.push(0);
    out.extend_from_slice(&NBSTAT.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out
}

/// What a name's suffix (its 16th byte) says, for the common ones (MS-NBTE and nbtstat).
fn suffix_role(suffix: u8, group: bool) -> &'static str {
    match (suffix, group) {
        (0x00, false) => "workstation",
        (0x00, true) => "domain/workgroup",
        (0x03, _) => "messenger",
        (0x1b, _) => "domain master browser",
        (0x1c, true) => "domain controllers",
        (0x1d, false) => "master browser",
        (0x1e, true) => "browser elections",
        (0x20, false) => "file server",
        _ => "",
    }
}

/// Skips a (possibly compressed) name in the answer record; its content is not needed: the
/// answer is matched by its transaction id.
fn skip_name(r: &mut Reader<'_>) -> Result<(), Fail> {
    for _ in 0..64 {
        let len = r.u8("answer name")?;
        match len {
            0 => return Ok(()),
            l if l & 0xc0 == 0xc0 => {
                r.u8("answer name pointer")?;
                return Ok(());
            }
            l => {
                r.take(usize::from(l), "answer name label")?;
            }
        }
    }
    Err("answer name: too many labels".into())
}

/// Parses a node status answer to the request with transaction `id`.
pub(crate) fn parse(answer: &[u8], id: u16) -> Result<Parsed, Fail> {
    let mut r = Reader::new(answer);
    let got_id = r.u16("transaction id")?;
    let flags = r.u16("flags")?;
    let _qd = r.u16("question count")?;
    let an = r.u16("answer count")?;
    r.u16("authority count")?;
    r.u16("additional count")?;
    if flags & 0x8000 == 0 {
        return Err("a NetBIOS request, not a response".into());
    }
    if got_id != id {
        return Err(format!(
            "transaction id 0x{got_id:04x}, not the request's 0x{id:04x}"
        ));
    }
    let rcode = flags & 0x000f;
    if rcode != 0 || an == 0 {
        return Ok(Parsed {
            protocol: "netbios",
            summary: format!("NetBIOS name service error (rcode {rcode}, {an} answers)"),
            fields: vec![("rcode", rcode.to_string())],
        });
    }
    skip_name(&mut r)?;
    let rtype = r.u16("answer type")?;
    if rtype != NBSTAT {
        return Err(format!("answer type 0x{rtype:04x}, not NBSTAT (0x0021)"));
    }
    r.u16("answer class")?;
    r.u32("answer TTL")?;
    let rdlength = usize::from(r.u16("answer length")?);
    let mut rd = Reader::new(r.take(rdlength.min(r.remaining()), "answer data")?);
    let count = usize::from(rd.u8("name count")?);
    let mut names = Vec::new();
    let mut host = None;
    let mut group_name = None;
    for i in 0..count {
        let entry = rd.take(18, "name entry")?;
        if i >= MAX_NAMES {
            continue;
        }
        let name = super::wire::text(&entry[..15]).trim_end().to_string();
        let suffix = entry[15];
        let nflags = u16::from_be_bytes([entry[16], entry[17]]);
        let group = nflags & 0x8000 != 0;
        let active = nflags & 0x0400 != 0;
        let mut line = format!(
            "{name}<{suffix:02x}> {}",
            if group { "GROUP" } else { "UNIQUE" }
        );
        if !active {
            line.push_str(" (inactive)");
        }
        let role = suffix_role(suffix, group);
        if !role.is_empty() {
            let _ = write!(line, " {role}");
        }
        if suffix == 0 && !group && host.is_none() {
            host = Some(name.clone());
        }
        if suffix == 0 && group && group_name.is_none() {
            group_name = Some(name.clone());
        }
        names.push(line);
    }
    // The statistics start with the unit ID: the MAC address (zero from Samba and from
    // hosts that hide it).
    let mac = rd.take(6, "unit ID").ok().map(|m| {
        m.iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    });
    let mut fields = vec![
        ("names", names.join(", ")),
        ("name_count", count.to_string()),
    ];
    if let Some(h) = &host {
        fields.push(("name", h.clone()));
    }
    if let Some(g) = &group_name {
        fields.push(("workgroup", g.clone()));
    }
    if let Some(m) = &mac {
        fields.push(("mac", m.clone()));
    }
    let summary = format!(
        "NetBIOS node status: {}{}, {count} name{}{}",
        host.as_deref().unwrap_or("(no workstation name)"),
        group_name
            .as_deref()
            .map(|g| format!(" in {g}"))
            .unwrap_or_default(),
        if count == 1 { "" } else { "s" },
        mac.map(|m| format!(", MAC {m}")).unwrap_or_default()
    );
    Ok(Parsed {
        protocol: "netbios",
        summary,
        fields,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A node status answer with `names` (name, suffix, flags) and `mac`.
    pub(crate) fn answer(id: u16, names: &[(&str, u8, u16)], mac: [u8; 6]) -> Vec<u8> {
        let mut a = request(id);
        a[2] = 0x84;
        a[3] = 0x00;
        a[5] = 0; // no question
        a[7] = 1; // one answer
        let mut rd = vec![names.len() as u8];
        for (name, suffix, flags) in names {
            let mut padded = [b' '; 15];
            padded[..name.len()].copy_from_slice(name.as_bytes());
            rd.extend_from_slice(&padded);
            rd.push(*suffix);
            rd.extend_from_slice(&flags.to_be_bytes());
        }
        rd.extend_from_slice(&mac);
        rd.extend_from_slice(&[0; 40]);
        let mut out = a[..12].to_vec();
        out.extend_from_slice(&a[12..]); // the question's name, type and class
        out.extend_from_slice(&[0, 0, 0, 0]); // TTL
        out.extend_from_slice(&(rd.len() as u16).to_be_bytes());
        out.extend_from_slice(&rd);
        out
    }

    #[test]
    fn the_request_asks_node_status_for_star() {
        let r = request(0x1234);
        assert_eq!(r.len(), 50);
        assert_eq!(&r[12..15], b"\x20CK");
        assert!(r[15..45].iter().all(|&b| b == b'A'));
        assert_eq!(&r[45..], &[0, 0, 0x21, 0, 1]);
    }

    #[test]
    fn the_name_table_and_the_mac_are_read() {
        let a = answer(
            7,
            &[
                ("LABHOST", 0x00, 0x0400),
                ("LABHOST", 0x20, 0x0400),
                ("WORKGROUP", 0x00, 0x8400),
            ],
            [0, 0x11, 0x22, 0x33, 0x44, 0x55],
        );
        let p = parse(&a, 7).unwrap();
        assert_eq!(
            p.summary,
            "NetBIOS node status: LABHOST in WORKGROUP, 3 names, MAC 00:11:22:33:44:55"
        );
        let names = &p.fields.iter().find(|f| f.0 == "names").unwrap().1;
        assert!(names.contains("LABHOST<20> UNIQUE file server"), "{names}");
        assert!(names.contains("WORKGROUP<00> GROUP domain/workgroup"));
        assert!(parse(&a, 8).unwrap_err().contains("transaction id"));
        assert!(parse(&request(7), 7).unwrap_err().contains("request"));
        for cut in 0..a.len() {
            let _ = parse(&a[..cut], 7);
        }
    }
}
