//! Minimal reading of a stapled OCSP response (RFC 6960): response status, the first
//! SingleResponse's certificate status and its update times. No signature check: the report
//! says what the server claims, not that the claim is authentic.

use crate::report::tls::OcspReport;

/// One DER element: (tag byte, contents, rest of input).
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| acc << 8 | usize::from(*b));
        (len, &rest[n..])
    };
    let contents = rest.get(..len)?;
    Some((tag, contents, &rest[len..]))
}

/// The contents of a constructed element with `tag`, or `None`.
fn expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (t, contents, rest) = tlv(input)?;
    (t == tag).then_some((contents, rest))
}

/// `YYYYMMDDHHMMSS[.f]Z` → `YYYY-MM-DDTHH:MM:SSZ`.
fn generalized_time(contents: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(contents).ok()?;
    if text.len() < 15 || !text.ends_with('Z') || !text[..14].bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(format!(
        "{}-{}-{}T{}:{}:{}Z",
        &text[0..4],
        &text[4..6],
        &text[6..8],
        &text[8..10],
        &text[10..12],
        &text[12..14]
    ))
}

const SEQUENCE: u8 = 0x30;
const ENUMERATED: u8 = 0x0a;
const OCTET_STRING: u8 = 0x04;
const OID: u8 = 0x06;
const GENERALIZED_TIME: u8 = 0x18;

/// Reads `der` as far as it can; `parse_error` says where it stopped.
pub fn summarize(der: &[u8]) -> OcspReport {
    let mut report = OcspReport {
        stapled: !der.is_empty(),
        size: der.len(),
        response_status: None,
        cert_status: None,
        this_update: None,
        next_update: None,
        parse_error: None,
    };
    if der.is_empty() {
        return report;
    }
    let complete = read(der, &mut report).is_some();
    // Only a `successful` response carries a certificate status.
    let status_expected = matches!(report.response_status.as_deref(), None | Some("successful"));
    if !complete && status_expected && report.cert_status.is_none() {
        report.parse_error = Some("not a complete OCSP response".into());
    }
    report
}

fn read(der: &[u8], report: &mut OcspReport) -> Option<()> {
    let (response, _) = expect(der, SEQUENCE)?;
    let (status, rest) = expect(response, ENUMERATED)?;
    report.response_status = Some(
        match status.first()? {
            0 => "successful",
            1 => "malformed_request",
            2 => "internal_error",
            3 => "try_later",
            5 => "sig_required",
            6 => "unauthorized",
            _ => "unknown_status",
        }
        .into(),
    );
    // responseBytes [0] EXPLICIT SEQUENCE { responseType OID, response OCTET STRING }
    let (explicit, _) = expect(rest, 0xa0)?;
    let (bytes, _) = expect(explicit, SEQUENCE)?;
    let (_oid, rest) = expect(bytes, OID)?;
    let (basic, _) = expect(rest, OCTET_STRING)?;
    let (basic, _) = expect(basic, SEQUENCE)?;
    let (tbs, _) = expect(basic, SEQUENCE)?;
    let mut rest = tbs;
    // Optional version [0], then responderID ([1] or [2]), producedAt.
    let (tag, _, after) = tlv(rest)?;
    if tag == 0xa0 {
        rest = after;
    }
    let (_, _responder, after) = tlv(rest)?;
    let (_produced, after) = expect(after, GENERALIZED_TIME)?;
    let (responses, _) = expect(after, SEQUENCE)?;
    let (single, _) = expect(responses, SEQUENCE)?;
    let (_cert_id, rest) = expect(single, SEQUENCE)?;
    let (status_tag, _, rest) = tlv(rest)?;
    report.cert_status = Some(
        match status_tag & 0x1f {
            0 => "good",
            1 => "revoked",
            _ => "unknown",
        }
        .into(),
    );
    let (this_update, rest) = expect(rest, GENERALIZED_TIME)?;
    report.this_update = generalized_time(this_update);
    if let Some((next, _)) = expect(rest, 0xa0) {
        report.next_update = expect(next, GENERALIZED_TIME).and_then(|(t, _)| generalized_time(t));
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::summarize;

    #[test]
    fn garbage_is_a_parse_error_not_a_panic() {
        let r = summarize(&[0x30, 0x82, 0xff, 0xff, 1, 2, 3]);
        assert!(r.stapled && r.parse_error.is_some() && r.cert_status.is_none());
        for len in 0..64 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 % 251) as u8).collect();
            let _ = summarize(&bytes);
        }
    }

    #[test]
    fn no_staple_is_reported_as_such() {
        let r = summarize(&[]);
        assert!(!r.stapled && r.size == 0 && r.parse_error.is_none());
    }

    #[test]
    fn try_later_is_read() {
        // OCSPResponse { responseStatus tryLater(3) }
        let r = summarize(&[0x30, 0x03, 0x0a, 0x01, 0x03]);
        assert_eq!(r.response_status.as_deref(), Some("try_later"));
        assert_eq!(r.parse_error, None);
    }
}
