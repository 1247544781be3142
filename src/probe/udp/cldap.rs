//! The CLDAP probe (UDP 389): an anonymous LDAPv3 search for the rootDSE (base "", scope
//! base, filter `(objectClass=*)`) in one datagram, as Active Directory's domain controllers
//! answer it over UDP (MS-ADTS §3.1.1.3.3), and the entry's attributes read with bounded BER.
//! No bind is sent: the rootDSE is readable anonymously by design (RFC 4512 §5.1).

use super::Parsed;
use super::ber::{self, Ber};
use super::wire::{Fail, text};

/// The rootDSE attributes asked for: what names the server and what it serves (few enough
/// that a domain controller's answer stays within the 512 bytes a report shows).
const ATTRIBUTES: &[&str] = &[
    "namingContexts",
    "defaultNamingContext",
    "supportedLDAPVersion",
    "dnsHostName",
    "serverName",
    "domainFunctionality",
    "vendorName",
    "vendorVersion",
];
/// LDAP messages read at most from one datagram (an entry and the done message).
const MAX_MESSAGES: usize = 8;
/// Values kept at most per attribute.
const MAX_VALUES: usize = 16;

/// The search request, message id `id`.
pub(crate) fn request(id: u16) -> Vec<u8> {
    let attributes: Vec<Vec<u8>> = ATTRIBUTES
        .iter()
        .map(|a| ber::tlv(0x04, a.as_bytes()))
        .collect();
    let search = ber::seq(
        0x63,
        &[
            ber::tlv(0x04, b""),            // baseObject: the rootDSE
            ber::tlv(0x0a, &[0]),           // scope: baseObject
            ber::tlv(0x0a, &[0]),           // derefAliases: never
            ber::int(0),                    // sizeLimit
            ber::int(0),                    // timeLimit
            ber::tlv(0x01, &[0]),           // typesOnly: false
            ber::tlv(0x87, b"objectClass"), // filter: present
            ber::seq(0x30, &attributes),
        ],
    );
    ber::seq(0x30, &[ber::int(i64::from(id)), search])
}

fn result_name(code: i64) -> String {
    match code {
        0 => "success".into(),
        1 => "operationsError".into(),
        2 => "protocolError".into(),
        32 => "noSuchObject".into(),
        48 => "inappropriateAuthentication".into(),
        49 => "invalidCredentials".into(),
        50 => "insufficientAccessRights".into(),
        52 => "unavailable".into(),
        53 => "unwillingToPerform".into(),
        other => format!("result {other}"),
    }
}

/// Field names for the attributes asked for (JSON keys are snake_case).
fn field_name(attr: &str) -> Option<&'static str> {
    Some(match attr.to_ascii_lowercase().as_str() {
        "namingcontexts" => "naming_contexts",
        "defaultnamingcontext" => "default_naming_context",
        "supportedldapversion" => "supported_ldap_version",
        "dnshostname" => "dns_host_name",
        "servername" => "server_name",
        "ldapservicename" => "ldap_service_name",
        "domainfunctionality" => "domain_functionality",
        "vendorname" => "vendor_name",
        "vendorversion" => "vendor_version",
        "currenttime" => "current_time",
        _ => return None,
    })
}

/// Reads a searchResEntry's attributes into `fields`.
fn entry(content: &[u8], fields: &mut Vec<(&'static str, String)>) -> Result<(), Fail> {
    let mut r = Ber::new(content);
    let dn = r.expect(0x04, "objectName")?;
    if !dn.is_empty() {
        fields.push(("object_name", text(dn)));
    }
    let mut attrs = Ber::new(r.expect(0x30, "attribute list")?);
    let mut other = Vec::new();
    for _ in 0..64 {
        if attrs.is_empty() {
            break;
        }
        let mut attr = Ber::new(attrs.expect(0x30, "attribute")?);
        let name = String::from_utf8_lossy(attr.expect(0x04, "attribute type")?).into_owned();
        let mut vals = Ber::new(attr.expect(0x31, "attribute values")?);
        let mut values = Vec::new();
        while !vals.is_empty() && values.len() < MAX_VALUES {
            values.push(text(vals.expect(0x04, "attribute value")?));
        }
        match field_name(&name) {
            Some(key) if !fields.iter().any(|f| f.0 == key) => {
                fields.push((key, values.join("; ")));
            }
            _ => other.push(super::wire::bound(name)),
        }
    }
    if !other.is_empty() {
        fields.push(("other_attributes", other.join(" ")));
    }
    Ok(())
}

/// Parses the answer to the search with message id `id`: LDAP messages one after another
/// (the entry, then searchResDone), each checked.
pub(crate) fn parse(answer: &[u8], id: u16) -> Result<Parsed, Fail> {
    let mut messages = Ber::new(answer);
    let mut fields: Vec<(&'static str, String)> = Vec::new();
    let mut entries = 0;
    let mut done = None;
    for _ in 0..MAX_MESSAGES {
        if messages.is_empty() {
            break;
        }
        let mut m = Ber::new(messages.expect(0x30, "LDAPMessage")?);
        let got = ber::int_value(m.expect(0x02, "messageID")?)?;
        if got != i64::from(id) {
            return Err(format!("message id {got}, not the request's {id}"));
        }
        let op = m.next("protocolOp")?;
        match op.tag {
            0x64 => {
                entries += 1;
                if entries == 1 {
                    entry(op.content, &mut fields)?;
                }
            }
            0x65 => {
                let mut d = Ber::new(op.content);
                let code = ber::int_value(d.expect(0x0a, "resultCode")?)?;
                d.expect(0x04, "matchedDN")?;
                let message = text(d.expect(0x04, "diagnosticMessage")?);
                fields.push(("result", result_name(code)));
                if !message.is_empty() {
                    fields.push(("diagnostic", message));
                }
                done = Some(code);
                break;
            }
            tag => return Err(format!("protocolOp tag 0x{tag:02x}, not a search answer")),
        }
    }
    if entries == 0 && done.is_none() {
        return Err("no LDAP search answer".into());
    }
    let get = |k: &str| fields.iter().find(|f| f.0 == k).map(|f| f.1.clone());
    let mut summary = match (entries, done) {
        (0, Some(code)) => format!("CLDAP search refused: {}", result_name(code)),
        _ => {
            let who = get("dns_host_name")
                .or_else(|| get("vendor_name"))
                .unwrap_or_else(|| "a directory server".into());
            format!("CLDAP rootDSE of {who}")
        }
    };
    if let Some(ctx) = get("default_naming_context").or_else(|| get("naming_contexts")) {
        summary.push_str(&format!(", naming context {ctx}"));
    }
    if let Some(v) = get("supported_ldap_version") {
        summary.push_str(&format!(", LDAP versions {v}"));
    }
    Ok(Parsed {
        protocol: "cldap",
        summary,
        fields,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A rootDSE entry with `attrs`, then searchResDone success, for message `id`.
    pub(crate) fn answer(id: u16, attrs: &[(&str, &[&str])]) -> Vec<u8> {
        let list: Vec<Vec<u8>> = attrs
            .iter()
            .map(|(name, vals)| {
                let vals: Vec<Vec<u8>> =
                    vals.iter().map(|v| ber::tlv(0x04, v.as_bytes())).collect();
                ber::seq(
                    0x30,
                    &[ber::tlv(0x04, name.as_bytes()), ber::seq(0x31, &vals)],
                )
            })
            .collect();
        let entry = ber::seq(0x64, &[ber::tlv(0x04, b""), ber::seq(0x30, &list)]);
        let done = ber::seq(
            0x65,
            &[
                ber::tlv(0x0a, &[0]),
                ber::tlv(0x04, b""),
                ber::tlv(0x04, b""),
            ],
        );
        [
            ber::seq(0x30, &[ber::int(i64::from(id)), entry]),
            ber::seq(0x30, &[ber::int(i64::from(id)), done]),
        ]
        .concat()
    }

    #[test]
    fn the_request_is_a_base_search_of_the_root() {
        let r = request(3);
        let mut m = Ber::new(Ber::new(&r).expect(0x30, "msg").unwrap());
        assert_eq!(ber::int_value(m.expect(0x02, "id").unwrap()).unwrap(), 3);
        let mut s = Ber::new(m.expect(0x63, "search").unwrap());
        assert_eq!(s.expect(0x04, "base").unwrap(), b"");
        assert_eq!(s.expect(0x0a, "scope").unwrap(), [0]);
    }

    #[test]
    fn the_root_dse_is_read() {
        let a = answer(
            3,
            &[
                ("dnsHostName", &["dc1.lab.test"]),
                ("defaultNamingContext", &["DC=lab,DC=test"]),
                ("supportedLDAPVersion", &["3", "2"]),
                ("isSynchronized", &["TRUE"]),
            ],
        );
        let p = parse(&a, 3).unwrap();
        assert_eq!(
            p.summary,
            "CLDAP rootDSE of dc1.lab.test, naming context DC=lab,DC=test, LDAP versions 3; 2"
        );
        assert!(p.fields.contains(&("result", "success".into())));
        assert!(
            p.fields
                .contains(&("other_attributes", "isSynchronized".into()))
        );
        assert!(parse(&a, 4).unwrap_err().contains("message id"));
        for cut in 0..a.len() {
            let _ = parse(&a[..cut], 3);
        }
    }
}
