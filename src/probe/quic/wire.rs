//! What the QUIC library does not tell: the server's packets as they arrived, read from their
//! unprotected long headers (RFC 8999 invariants, RFC 9000 §17.2): the version its packets
//! carry, a Version Negotiation packet's offered versions, a Retry. Pure functions over
//! untrusted bytes: every read is bounds-checked, nothing panics.

/// QUIC version 1 (RFC 9000).
pub const V1: u32 = 1;
/// QUIC version 2 (RFC 9369).
pub const V2: u32 = 0x6b33_43cf;

/// What one received datagram's first packet is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// Version Negotiation: the versions the server offers instead (at most 64 kept).
    VersionNegotiation(Vec<u32>),
    /// A Retry packet of this version.
    Retry(u32),
    /// Another long-header packet (Initial, Handshake, 0-RTT) of this version.
    Long(u32),
    /// A short-header packet (1-RTT), or bytes too short to say.
    Other,
}

/// Offered versions kept from one Version Negotiation packet: a real server lists a handful.
const MAX_OFFERED: usize = 64;

/// Classifies the first packet of a datagram.
pub fn classify(datagram: &[u8]) -> Packet {
    let Some((&first, rest)) = datagram.split_first() else {
        return Packet::Other;
    };
    if first & 0x80 == 0 {
        return Packet::Other;
    }
    let Some(version) = rest.get(..4).map(be32) else {
        return Packet::Other;
    };
    if version == 0 {
        return Packet::VersionNegotiation(offered(&rest[4..]).unwrap_or_default());
    }
    let kind = (first >> 4) & 0x03;
    // The long-header type bits mean different packets in v1 and v2 (RFC 9369 §3.2).
    let retry = match version {
        V2 => kind == 0b00,
        _ => kind == 0b11,
    };
    if retry {
        Packet::Retry(version)
    } else {
        Packet::Long(version)
    }
}

/// The version list after a Version Negotiation packet's connection IDs.
fn offered(after_version: &[u8]) -> Option<Vec<u32>> {
    let dcid_len = usize::from(*after_version.first()?);
    let rest = after_version.get(1 + dcid_len..)?;
    let scid_len = usize::from(*rest.first()?);
    let list = rest.get(1 + scid_len..)?;
    Some(list.chunks_exact(4).map(be32).take(MAX_OFFERED).collect())
}

fn be32(bytes: &[u8]) -> u32 {
    bytes
        .iter()
        .take(4)
        .fold(0u32, |acc, b| (acc << 8) | u32::from(*b))
}

/// A version as the report writes it: `1`, `2`, `draft-29`, or hex for anything else (a
/// greased `0x?a?a?a?a` or a vendor's).
pub fn version_name(version: u32) -> String {
    match version {
        V1 => "1".into(),
        V2 => "2".into(),
        v if v & 0xffff_ff00 == 0xff00_0000 => format!("draft-{}", v & 0xff),
        v => format!("0x{v:08x}"),
    }
}

/// The RFC 9000 §20.1 name of a transport error code (`crypto_error` for 0x100–0x1ff).
pub fn transport_error_name(code: u64) -> String {
    let name = match code {
        0x00 => "no_error",
        0x01 => "internal_error",
        0x02 => "connection_refused",
        0x03 => "flow_control_error",
        0x04 => "stream_limit_error",
        0x05 => "stream_state_error",
        0x06 => "final_size_error",
        0x07 => "frame_encoding_error",
        0x08 => "transport_parameter_error",
        0x09 => "connection_id_limit_error",
        0x0a => "protocol_violation",
        0x0b => "invalid_token",
        0x0c => "application_error",
        0x0d => "crypto_buffer_exceeded",
        0x0e => "key_update_error",
        0x0f => "aead_limit_reached",
        0x10 => "no_viable_path",
        0x11 => "version_negotiation_error",
        0x100..=0x1ff => "crypto_error",
        other => return format!("error_0x{other:x}"),
    };
    name.to_string()
}

/// The TLS alert a crypto error code carries (RFC 9001 §4.8: 0x100 + alert).
pub fn crypto_alert(code: u64) -> Option<u8> {
    code.checked_sub(0x100)
        .and_then(|alert| u8::try_from(alert).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_negotiation_lists_the_offered_versions() {
        // first byte, version 0, DCID (2 bytes), SCID (1 byte), two versions.
        let vn = [
            0x80, 0, 0, 0, 0, 2, 0xaa, 0xbb, 1, 0xcc, 0, 0, 0, 1, 0x6b, 0x33, 0x43, 0xcf,
        ];
        assert_eq!(classify(&vn), Packet::VersionNegotiation(vec![V1, V2]));
        assert_eq!(
            version_name(V2),
            "2".to_string(),
            "v2 is named by its number"
        );
    }

    #[test]
    fn retry_is_told_apart_per_version() {
        assert_eq!(classify(&[0xf0, 0, 0, 0, 1, 0]), Packet::Retry(V1));
        assert_eq!(classify(&[0xc0, 0, 0, 0, 1, 0]), Packet::Long(V1));
        assert_eq!(classify(&[0xc0, 0x6b, 0x33, 0x43, 0xcf]), Packet::Retry(V2));
        assert_eq!(classify(&[0xd0, 0x6b, 0x33, 0x43, 0xcf]), Packet::Long(V2));
    }

    #[test]
    fn hostile_bytes_never_panic() {
        let cases: [&[u8]; 7] = [
            &[],
            &[0x80],
            &[0x80, 0, 0],
            &[0x80, 0, 0, 0, 0, 255],
            &[0x80, 0, 0, 0, 0, 0, 255, 1],
            &[0x80, 0, 0, 0, 0, 0, 0, 1, 2, 3],
            &[0x40, 1, 2, 3, 4],
        ];
        for bytes in cases {
            let _ = classify(bytes);
        }
        assert_eq!(
            classify(&[0x80, 0, 0, 0, 0, 0, 0, 1, 2, 3]),
            Packet::VersionNegotiation(vec![])
        );
        let mut many = vec![0x80, 0, 0, 0, 0, 0, 0];
        many.extend(std::iter::repeat_n(1u8, 4 * 1000));
        match classify(&many) {
            Packet::VersionNegotiation(v) => assert_eq!(v.len(), MAX_OFFERED),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn error_codes_and_alerts_are_named() {
        assert_eq!(transport_error_name(0x0a), "protocol_violation");
        assert_eq!(transport_error_name(0x150), "crypto_error");
        assert_eq!(crypto_alert(0x150), Some(80));
        assert_eq!(crypto_alert(0x178), Some(120));
        assert_eq!(crypto_alert(0x0a), None);
        assert_eq!(transport_error_name(0x4242), "error_0x4242");
        assert_eq!(version_name(0xff00_001d), "draft-29");
        assert_eq!(version_name(0x1a2a_3a4a), "0x1a2a3a4a");
    }
}
