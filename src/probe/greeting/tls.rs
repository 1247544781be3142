//! A TLS record where a plaintext greeting was expected (a TLS server that answers silence,
//! or our plaintext, with an alert).

use crate::report::greeting::TlsRecordInfo;

/// The first bytes are a TLS record header (content type 20–24, major version 3).
pub fn looks_like(buf: &[u8]) -> bool {
    matches!(buf, [20..=24, 3, 0..=4, ..])
}

/// The first record has fully arrived.
pub fn complete(buf: &[u8]) -> bool {
    match buf {
        [_, _, _, hi, lo, rest @ ..] => rest.len() >= usize::from(u16::from_be_bytes([*hi, *lo])),
        _ => false,
    }
}

/// Describes the first record.
pub fn parse(buf: &[u8]) -> Option<TlsRecordInfo> {
    if !looks_like(buf) {
        return None;
    }
    let content_type = match buf[0] {
        20 => "change_cipher_spec",
        21 => "alert",
        22 => "handshake",
        23 => "application_data",
        _ => "heartbeat",
    };
    let version = match buf[2] {
        0 => "SSLv3",
        1 => "TLSv1.0",
        2 => "TLSv1.1",
        3 => "TLSv1.2",
        _ => "TLSv1.3",
    };
    let alert = (buf[0] == 21)
        .then(|| buf.get(6).map(|&d| crate::probe::tls::names::alert(d)))
        .flatten();
    Some(TlsRecordInfo {
        content_type: content_type.into(),
        version: version.into(),
        alert,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_records() {
        let alert = [21, 3, 1, 0, 2, 2, 70];
        assert!(looks_like(&alert) && complete(&alert));
        let info = parse(&alert).expect("tls");
        assert_eq!(info.content_type, "alert");
        assert_eq!(info.alert.as_deref(), Some("protocol_version"));
        assert_eq!(
            parse(&[21, 3, 3, 0, 2, 2, 200])
                .and_then(|i| i.alert)
                .as_deref(),
            Some("alert_200")
        );
        assert!(!complete(&alert[..6]));
    }

    #[test]
    fn not_tls() {
        assert!(!looks_like(b"SSH-2.0"));
        assert!(!looks_like(&[22, 2, 0]));
        assert!(!looks_like(&[21]));
        assert_eq!(parse(b"220 hi"), None);
        let hs = parse(&[22, 3, 3, 0, 0]).expect("handshake record");
        assert_eq!((hs.content_type.as_str(), hs.alert), ("handshake", None));
    }
}
