//! Reading a server's plaintext handshake flight from raw bytes (tls-parser for the messages):
//! alerts, the ServerHello's choice, the Certificate message, and "this is not TLS at all".

use tls_parser::{TlsExtension, TlsMessage, TlsMessageHandshake};

/// Largest record payload a sane peer sends (2^14 plus expansion allowance).
const MAX_RECORD: usize = 16_384 + 2_048;

/// What a server's first flight said, as far as it could be read.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ServerFlight {
    /// Protocol version chosen (from supported_versions for TLS 1.3).
    pub version: Option<u16>,
    /// Cipher suite chosen.
    pub cipher: Option<u16>,
    /// ECDHE group named in the ServerKeyExchange (TLS ≤ 1.2) or key_share (TLS 1.3).
    pub group: Option<u16>,
    /// Certificates from a plaintext Certificate message, leaf first.
    pub certs: Vec<Vec<u8>>,
    /// The first alert: (level, description).
    pub alert: Option<(u8, u8)>,
    /// The flight is over: ServerHelloDone, an alert, or encryption started.
    pub complete: bool,
    /// The bytes do not start like a TLS record.
    pub not_tls: bool,
    /// Size of the Certificate message, from its header (even when it did not arrive whole).
    pub certificate_bytes: Option<usize>,
}

/// Whether `bytes` could be the start of a TLS record stream.
pub fn looks_like_tls(bytes: &[u8]) -> bool {
    match bytes {
        [] => true,
        [ct] => (20..=24).contains(ct),
        [ct, major, ..] => (20..=24).contains(ct) && *major == 3,
    }
}

/// Parses whatever complete records `bytes` holds; never fails, never panics.
pub fn parse_server_flight(bytes: &[u8]) -> ServerFlight {
    let mut flight = ServerFlight {
        not_tls: !looks_like_tls(bytes),
        ..ServerFlight::default()
    };
    if flight.not_tls {
        return flight;
    }
    let mut handshake = Vec::new();
    let mut rest = bytes;
    while rest.len() >= 5 && !flight.complete {
        let content_type = rest[0];
        let len = usize::from(u16::from_be_bytes([rest[3], rest[4]]));
        if !looks_like_tls(&rest[..2]) || len > MAX_RECORD {
            flight.not_tls = handshake.is_empty() && flight.alert.is_none();
            break;
        }
        let Some(payload) = rest.get(5..5 + len) else {
            break;
        };
        rest = &rest[5 + len..];
        match content_type {
            22 => handshake.extend_from_slice(payload),
            21 if payload.len() >= 2 => {
                flight.alert = Some((payload[0], payload[1]));
                flight.complete = true;
            }
            // ChangeCipherSpec or application data: what follows is encrypted.
            20 | 23 => flight.complete = true,
            _ => {}
        }
    }
    read_handshake_messages(&handshake, &mut flight);
    flight
}

fn read_handshake_messages(mut buf: &[u8], flight: &mut ServerFlight) {
    while buf.len() >= 4 {
        let len = usize::from(buf[1]) << 16 | usize::from(buf[2]) << 8 | usize::from(buf[3]);
        if buf[0] == 11 {
            flight.certificate_bytes = Some(len);
        }
        let Some(message) = buf.get(..4 + len) else {
            return;
        };
        buf = &buf[4 + len..];
        let body = &message[4..];
        match message[0] {
            2 => server_hello(message, flight),
            11 => {
                if let Ok((_, TlsMessage::Handshake(TlsMessageHandshake::Certificate(c)))) =
                    tls_parser::parse_tls_message_handshake(message)
                {
                    flight.certs = c.cert_chain.iter().map(|c| c.data.to_vec()).collect();
                }
            }
            // ServerKeyExchange with curve_type named_curve (3).
            12 if body.len() >= 3 && body[0] == 3 => {
                flight.group = Some(u16::from_be_bytes([body[1], body[2]]));
            }
            14 => flight.complete = true,
            _ => {}
        }
        if flight.version == Some(0x0304) {
            // Everything after a TLS 1.3 ServerHello is encrypted.
            flight.complete = true;
            return;
        }
    }
}

fn server_hello(message: &[u8], flight: &mut ServerFlight) {
    let Ok((_, TlsMessage::Handshake(TlsMessageHandshake::ServerHello(hello)))) =
        tls_parser::parse_tls_message_handshake(message)
    else {
        return;
    };
    flight.version = Some(hello.version.0);
    flight.cipher = Some(hello.cipher.0);
    let Some(ext) = hello.ext else { return };
    let Ok((_, extensions)) = tls_parser::parse_tls_server_hello_extensions(ext) else {
        return;
    };
    for extension in extensions {
        match extension {
            TlsExtension::SupportedVersions(v) if !v.is_empty() => flight.version = Some(v[0].0),
            TlsExtension::KeyShare(share) if share.len() >= 2 => {
                flight.group = Some(u16::from_be_bytes([share[0], share[1]]));
            }
            _ => {}
        }
    }
}

/// What a non-TLS peer sent, bounded and readable (lossy UTF-8, trailing newline trimmed).
pub fn preview(bytes: &[u8]) -> String {
    const LIMIT: usize = 256;
    let shown = &bytes[..bytes.len().min(LIMIT)];
    let mut text = String::from_utf8_lossy(shown)
        .trim_end_matches(['\r', '\n'])
        .to_string();
    if bytes.len() > LIMIT {
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_record_is_read() {
        let f = parse_server_flight(&[21, 3, 3, 0, 2, 2, 70]);
        assert_eq!(f.alert, Some((2, 70)));
        assert!(f.complete && !f.not_tls);
    }

    #[test]
    fn banners_are_not_tls() {
        assert!(parse_server_flight(b"SSH-2.0-OpenSSH_9.2p1\r\n").not_tls);
        assert!(parse_server_flight(b"220 mail.example ESMTP\r\n").not_tls);
        assert!(parse_server_flight(b"HTTP/1.1 400 Bad Request\r\n").not_tls);
        assert!(!parse_server_flight(&[22, 3]).not_tls);
    }

    #[test]
    fn hostile_bytes_never_panic() {
        let mut seed = 0x1234_5678_9abc_def1u64;
        for len in 0..2000usize {
            let mut bytes = Vec::with_capacity(len);
            for _ in 0..len {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                bytes.push(seed as u8);
            }
            if len > 5 {
                bytes[0] = 22;
                bytes[1] = 3;
            }
            let _ = parse_server_flight(&bytes);
        }
    }

    #[test]
    fn preview_is_bounded() {
        let long = vec![b'a'; 1000];
        assert_eq!(preview(&long).chars().count(), 257);
        assert_eq!(preview(b"SSH-2.0-x\r\n"), "SSH-2.0-x");
    }
}
