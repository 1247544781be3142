//! LDAP StartTLS (RFC 4511 §4.14): an ExtendedRequest with OID 1.3.6.1.4.1.1466.20037,
//! hand-encoded in BER, and the ExtendedResponse's result code.

use tokio::io::{AsyncRead, AsyncWrite};

use super::session::{Outcome, Session};
use crate::report::greeting::{GreetingReport, GreetingState};

/// The StartTLS OID.
pub const START_TLS_OID: &[u8] = b"1.3.6.1.4.1.1466.20037";

/// `LDAPMessage { messageID 1, extendedReq [APPLICATION 23] { requestName [0] OID } }`.
pub fn start_tls_request() -> Vec<u8> {
    let name = tlv(0x80, START_TLS_OID);
    let op = tlv(0x77, &name);
    let mut body = vec![0x02, 0x01, 0x01];
    body.extend_from_slice(&op);
    tlv(0x30, &body)
}

/// One short-form TLV (every element we send is under 128 bytes).
fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![tag, value.len() as u8];
    out.extend_from_slice(value);
    out
}

/// Splits one BER element off `buf`: tag, contents, rest. Definite lengths only, up to 4
/// length bytes; `None` when incomplete or malformed.
pub fn element(buf: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = buf.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let bytes = rest.get(..n)?;
        let len = bytes
            .iter()
            .fold(0usize, |acc, &b| acc << 8 | usize::from(b));
        (len, &rest[n..])
    };
    let value = rest.get(..len)?;
    Some((tag, value, &rest[len..]))
}

/// The parts of an LDAP result we report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LdapResult {
    /// The message id (0 for an unsolicited Notice of Disconnection).
    pub message_id: u32,
    /// The protocol operation's tag (0x78 for ExtendedResponse).
    pub op: u8,
    /// `resultCode`.
    pub code: u32,
    /// `diagnosticMessage`.
    pub message: String,
}

/// Parses an LDAPMessage carrying an LDAPResult (any response operation).
pub fn parse_result(buf: &[u8]) -> Option<LdapResult> {
    let (0x30, msg, _) = element(buf)? else {
        return None;
    };
    let (0x02, id, rest) = element(msg)? else {
        return None;
    };
    if id.is_empty() || id.len() > 4 {
        return None;
    }
    let message_id = id.iter().fold(0u32, |acc, &b| acc << 8 | u32::from(b));
    let (op, body, _) = element(rest)?;
    let (0x0a, code, body) = element(body)? else {
        return None;
    };
    if code.is_empty() || code.len() > 4 {
        return None;
    }
    let code = code.iter().fold(0u32, |acc, &b| acc << 8 | u32::from(b));
    let (0x04, _matched_dn, body) = element(body)? else {
        return None;
    };
    let message = match element(body) {
        Some((0x04, m, _)) => String::from_utf8_lossy(&m[..m.len().min(512)]).into_owned(),
        _ => String::new(),
    };
    Some(LdapResult {
        message_id,
        op,
        code,
        message,
    })
}

/// A readable name for an LDAP result code.
pub fn code_name(code: u32) -> &'static str {
    match code {
        0 => "success",
        1 => "operationsError",
        2 => "protocolError",
        3 => "timeLimitExceeded",
        7 => "authMethodNotSupported",
        8 => "strongerAuthRequired",
        12 => "unavailableCriticalExtension",
        13 => "confidentialityRequired",
        49 => "invalidCredentials",
        50 => "insufficientAccessRights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwillingToPerform",
        80 => "other",
        _ => "unknown",
    }
}

/// Sends the StartTLS request and reads the response; the response doubles as the greeting
/// (LDAP servers say nothing first).
pub async fn negotiate<S>(session: &mut Session<'_, S>) -> (Outcome, Option<GreetingReport>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let sent = std::time::Instant::now();
    let answer = match session
        .ask(&start_tls_request(), |b| {
            element(b).is_some() || (!b.is_empty() && b[0] != 0x30)
        })
        .await
    {
        Ok(answer) => answer,
        Err(broke) => return (broke, None),
    };
    let Some(result) = parse_result(&answer) else {
        return (
            Outcome::Broke {
                offered: false,
                why: "unexpected",
                reply: Some(hex(&answer[..answer.len().min(32)])),
            },
            None,
        );
    };
    let reply = format!(
        "resultCode {} ({}){}{}",
        result.code,
        code_name(result.code),
        if result.message.is_empty() { "" } else { ": " },
        result.message
    );
    let greeting = GreetingReport {
        state: GreetingState::Reply,
        protocol: Some("ldap".into()),
        text: reply.clone(),
        banner_ms: Some(sent.elapsed().as_secs_f64() * 1000.0),
        bytes: answer.len(),
        asked: Some("StartTLS extended request".into()),
        ..GreetingReport::default()
    };
    let outcome = if result.code == 0 && result.message_id == 1 && result.op == 0x78 {
        Outcome::Negotiated {
            offered: true,
            reply: Some(reply),
        }
    } else {
        Outcome::Refused {
            offered: false,
            reply,
        }
    };
    (outcome, Some(greeting))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_matches_the_rfc_encoding() {
        let mut expected = vec![0x30, 0x1d, 0x02, 0x01, 0x01, 0x77, 0x18, 0x80, 0x16];
        expected.extend_from_slice(START_TLS_OID);
        assert_eq!(start_tls_request(), expected);
    }

    #[test]
    fn success_and_refusal_responses() {
        // OpenLDAP's answer: ExtendedResponse, success, with responseName echoing the OID.
        let mut ok = vec![
            0x30, 0x24, 0x02, 0x01, 0x01, 0x78, 0x1f, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00,
            0x8a, 0x16,
        ];
        ok.extend_from_slice(START_TLS_OID);
        let r = parse_result(&ok).expect("parse");
        assert_eq!((r.message_id, r.op, r.code), (1, 0x78, 0));
        let msg = b"TLS not configured";
        let mut body = vec![0x0a, 0x01, 0x34, 0x04, 0x00, 0x04, msg.len() as u8];
        body.extend_from_slice(msg);
        let mut refused = vec![
            0x30,
            (body.len() + 5) as u8,
            0x02,
            0x01,
            0x01,
            0x78,
            body.len() as u8,
        ];
        refused.extend_from_slice(&body);
        let r = parse_result(&refused).expect("parse");
        assert_eq!((r.code, r.message.as_str()), (52, "TLS not configured"));
        assert_eq!(code_name(r.code), "unavailable");
    }

    #[test]
    fn long_form_lengths_and_malformed_input() {
        let mut long = vec![
            0x30, 0x81, 0x0c, 0x02, 0x01, 0x01, 0x78, 0x07, 0x0a, 0x01, 0x02, 0x04, 0x00, 0x04,
            0x00,
        ];
        assert_eq!(parse_result(&long).map(|r| r.code), Some(2));
        long.truncate(8);
        assert_eq!(parse_result(&long), None);
        assert_eq!(
            element(&[0x30, 0x80, 0x00]),
            None,
            "indefinite length is refused"
        );
        assert_eq!(element(&[0x30, 0x85, 1, 2, 3, 4, 5]), None);
        assert_eq!(element(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
        assert_eq!(parse_result(b"SSH-2.0-x\r\n"), None);
        assert_eq!(parse_result(&[]), None);
    }
}
