//! The SNMP probe. With `--snmp-community`: a v2c GetRequest for `sysDescr.0`. Without it, a
//! community is never sent (it is a credential, and a wrong one is a failed authentication on
//! the agent's side): an SNMPv3 engine-ID discovery instead (RFC 3414 §4), with no user name
//! and no authentication, which every v3 agent answers with a Report naming its engine.

use super::Parsed;
use super::ber::{self, Ber, MAX_DEPTH};
use super::wire::{Fail, hex, text};

/// sysDescr.0.
const SYS_DESCR: &[u32] = &[1, 3, 6, 1, 2, 1, 1, 1, 0];
/// Varbinds shown at most.
const MAX_VARBINDS: usize = 8;

/// A v2c GetRequest for sysDescr.0 with `community`.
pub(crate) fn get_sys_descr(community: &str, id: u16) -> Vec<u8> {
    let varbind = ber::seq(0x30, &[ber::oid(SYS_DESCR), vec![0x05, 0x00]]);
    let pdu = ber::seq(
        0xa0,
        &[
            ber::int(i64::from(id)),
            ber::int(0),
            ber::int(0),
            ber::seq(0x30, &[varbind]),
        ],
    );
    ber::seq(
        0x30,
        &[ber::int(1), ber::tlv(0x04, community.as_bytes()), pdu],
    )
}

/// An SNMPv3 discovery: msgFlags "reportable" only, USM security with an empty engine ID and
/// an empty user, an empty GetRequest.
pub(crate) fn discovery(id: u16) -> Vec<u8> {
    let global = ber::seq(
        0x30,
        &[
            ber::int(i64::from(id)),
            ber::int(65_507),
            ber::tlv(0x04, &[0x04]),
            ber::int(3),
        ],
    );
    let usm = ber::seq(
        0x30,
        &[
            ber::tlv(0x04, &[]),
            ber::int(0),
            ber::int(0),
            ber::tlv(0x04, &[]),
            ber::tlv(0x04, &[]),
            ber::tlv(0x04, &[]),
        ],
    );
    let pdu = ber::seq(
        0xa0,
        &[
            ber::int(i64::from(id)),
            ber::int(0),
            ber::int(0),
            ber::seq(0x30, &[]),
        ],
    );
    let scoped = ber::seq(0x30, &[ber::tlv(0x04, &[]), ber::tlv(0x04, &[]), pdu]);
    ber::seq(0x30, &[ber::int(3), global, ber::tlv(0x04, &usm), scoped])
}

fn error_status(code: i64) -> String {
    let name = match code {
        0 => "noError",
        1 => "tooBig",
        2 => "noSuchName",
        3 => "badValue",
        4 => "readOnly",
        5 => "genErr",
        6 => "noAccess",
        16 => "authorizationError",
        _ => return format!("error {code}"),
    };
    name.to_string()
}

fn value_text(t: ber::Tlv<'_>) -> Result<String, Fail> {
    Ok(match t.tag {
        0x02 => ber::int_value(t.content)?.to_string(),
        0x04 => {
            let printable = t
                .content
                .iter()
                .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace());
            if printable {
                text(t.content)
            } else {
                format!("0x{}", hex(t.content))
            }
        }
        0x05 => "NULL".into(),
        0x06 => ber::oid_text(t.content)?,
        0x40 if t.content.len() == 4 => {
            let c = t.content;
            format!("{}.{}.{}.{}", c[0], c[1], c[2], c[3])
        }
        0x41 | 0x42 | 0x46 => ber::uint_value(t.content)?.to_string(),
        0x43 => format!("{} ticks", ber::uint_value(t.content)?),
        0x80 => "noSuchObject".into(),
        0x81 => "noSuchInstance".into(),
        0x82 => "endOfMibView".into(),
        tag => format!("tag 0x{tag:02x}: 0x{}", hex(t.content)),
    })
}

fn oid_name(oid: &str) -> &str {
    match oid {
        "1.3.6.1.2.1.1.1.0" => "sysDescr.0",
        "1.3.6.1.6.3.15.1.1.4.0" => "usmStatsUnknownEngineIDs.0",
        "1.3.6.1.6.3.15.1.1.3.0" => "usmStatsUnknownUserNames.0",
        "1.3.6.1.6.3.15.1.1.2.0" => "usmStatsNotInTimeWindows.0",
        other => other,
    }
}

/// Reads a PDU (`[A2]` response, `[A8]` report): request id, error, varbinds.
fn pdu(content: &[u8], fields: &mut Vec<(&'static str, String)>) -> Result<Vec<String>, Fail> {
    let mut r = Ber::new(content);
    let id = ber::int_value(r.expect(0x02, "request-id")?)?;
    let status = ber::int_value(r.expect(0x02, "error-status")?)?;
    let index = ber::int_value(r.expect(0x02, "error-index")?)?;
    fields.push(("request_id", id.to_string()));
    fields.push(("error_status", error_status(status)));
    if status != 0 {
        fields.push(("error_index", index.to_string()));
    }
    let mut list = Ber::new(r.expect(0x30, "varbind list")?);
    let mut varbinds = Vec::new();
    while !list.is_empty() && varbinds.len() < MAX_VARBINDS {
        let mut vb = Ber::new(list.expect(0x30, "varbind")?);
        let oid = ber::oid_text(vb.expect(0x06, "varbind name")?)?;
        let value = value_text(vb.next("varbind value")?)?;
        varbinds.push(format!("{} = {value}", oid_name(&oid)));
    }
    Ok(varbinds)
}

fn pdu_name(tag: u8) -> &'static str {
    match tag {
        0xa2 => "response",
        0xa8 => "report",
        0xa0 => "get-request",
        0xa4 => "trap",
        _ => "pdu",
    }
}

/// Parses an agent's answer (v1, v2c or v3).
pub(crate) fn parse(answer: &[u8]) -> Result<Parsed, Fail> {
    let _ = MAX_DEPTH; // Nesting here is fixed by the grammar: at most five levels.
    let mut top = Ber::new(answer);
    let mut msg = Ber::new(top.expect(0x30, "SNMP message")?);
    let version = ber::int_value(msg.expect(0x02, "version")?)?;
    let mut fields = Vec::new();
    match version {
        0 | 1 => {
            let v = if version == 0 { "1" } else { "2c" };
            fields.push(("version", v.to_string()));
            // The community is echoed back: it is the one we sent, so it is not shown again.
            msg.expect(0x04, "community")?;
            let p = msg.next("PDU")?;
            fields.push(("pdu", pdu_name(p.tag).to_string()));
            let varbinds = pdu(p.content, &mut fields)?;
            let summary = match varbinds.first() {
                Some(first) => format!("SNMPv{v} {}: {first}", pdu_name(p.tag)),
                None => format!("SNMPv{v} {} with no varbind", pdu_name(p.tag)),
            };
            if !varbinds.is_empty() {
                fields.push(("varbinds", varbinds.join("; ")));
            }
            Ok(Parsed {
                protocol: "snmp",
                summary,
                fields,
            })
        }
        3 => {
            fields.push(("version", "3".to_string()));
            msg.expect(0x30, "msgGlobalData")?;
            let usm_bytes = msg.expect(0x04, "msgSecurityParameters")?;
            let mut usm = Ber::new(Ber::new(usm_bytes).expect(0x30, "USM parameters")?);
            let engine = usm.expect(0x04, "msgAuthoritativeEngineID")?;
            let boots = ber::int_value(usm.expect(0x02, "engine boots")?)?;
            let time = ber::int_value(usm.expect(0x02, "engine time")?)?;
            fields.push(("engine_id", hex(engine)));
            fields.push(("engine_boots", boots.to_string()));
            fields.push(("engine_time", format!("{time} s")));
            if let [a, b, c, d, ..] = engine
                && a & 0x80 != 0
            {
                let enterprise = u32::from_be_bytes([a & 0x7f, *b, *c, *d]);
                let who = match enterprise {
                    8072 => " (Net-SNMP)".to_string(),
                    9 => " (Cisco)".to_string(),
                    311 => " (Microsoft)".to_string(),
                    _ => String::new(),
                };
                fields.push(("engine_enterprise", format!("{enterprise}{who}")));
            }
            let mut varbinds = Vec::new();
            // A plaintext scoped PDU (the discovery answer is never encrypted).
            if let Ok(scoped) = msg.expect(0x30, "scopedPDU") {
                let mut s = Ber::new(scoped);
                s.expect(0x04, "contextEngineID")?;
                s.expect(0x04, "contextName")?;
                let p = s.next("PDU")?;
                fields.push(("pdu", pdu_name(p.tag).to_string()));
                varbinds = pdu(p.content, &mut fields)?;
            }
            if !varbinds.is_empty() {
                fields.push(("varbinds", varbinds.join("; ")));
            }
            Ok(Parsed {
                protocol: "snmp",
                summary: format!("SNMPv3 engine {} (boots {boots}, up {time} s)", hex(engine)),
                fields,
            })
        }
        v => Err(format!("SNMP version {v}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_v2c_request_is_the_classic_sysdescr_get() {
        let req = get_sys_descr("public", 1);
        // As `snmpget -v2c -c public HOST sysDescr.0` sends it (request id 1).
        let want = [
            0x30, 0x26, 0x02, 0x01, 0x01, 0x04, 0x06, b'p', b'u', b'b', b'l', b'i', b'c', 0xa0,
            0x19, 0x02, 0x01, 0x01, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x0e, 0x30, 0x0c,
            0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x01, 0x00, 0x05, 0x00,
        ];
        assert_eq!(req, want);
    }

    #[test]
    fn a_v2c_response_parses() {
        let varbind = ber::seq(0x30, &[ber::oid(SYS_DESCR), ber::tlv(0x04, b"Linux box")]);
        let pdu = ber::seq(
            0xa2,
            &[
                ber::int(7),
                ber::int(0),
                ber::int(0),
                ber::seq(0x30, &[varbind]),
            ],
        );
        let msg = ber::seq(0x30, &[ber::int(1), ber::tlv(0x04, b"x"), pdu]);
        let p = parse(&msg).unwrap();
        assert_eq!(p.summary, "SNMPv2c response: sysDescr.0 = Linux box");
    }

    #[test]
    fn the_discovery_request_parses_as_v3_and_garbage_fails() {
        let p = parse(&discovery(9)).unwrap();
        assert!(p.summary.starts_with("SNMPv3 engine"), "{}", p.summary);
        assert!(parse(&[0x30, 0x03, 0x02, 0x01, 0x07]).is_err());
        assert!(parse(b"hello").is_err());
    }
}
