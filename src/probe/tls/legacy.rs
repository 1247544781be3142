//! Servers rustls cannot talk to (TLS 1.0/1.1 only, CBC/RSA-kx/3DES suites only, P-521 only):
//! send a hand-built pre-TLS-1.3 ClientHello offering the legacy choices, and read the server's
//! plaintext ServerHello and Certificate to report what it would have used.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::records::{ServerFlight, parse_server_flight};

/// Cipher suites offered: modern AEAD first, then every legacy family a server might insist on.
const SUITES: &[u16] = &[
    0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, // ECDHE AEAD
    0x009e, 0x009f, 0xccaa, // DHE AEAD
    0xc009, 0xc013, 0xc00a, 0xc014, 0xc023, 0xc027, 0xc024, 0xc028, // ECDHE CBC
    0x0033, 0x0039, 0x0067, 0x006b, // DHE CBC
    0x009c, 0x009d, 0x002f, 0x0035, 0x003c, 0x003d, // RSA key exchange
    0x0041, 0x0084, 0x0096, // Camellia, SEED
    0xc012, 0x0016, 0x000a, // 3DES
    0xc011, 0x0005, 0x0004, // RC4
    0x00ff, // renegotiation SCSV
];

/// Groups offered: everything a TLS ≤ 1.2 server might want, including P-521 and FFDHE.
const GROUPS: &[u16] = &[0x001d, 0x0017, 0x0018, 0x0019, 0x0100, 0x0101];

/// Signature schemes offered, including SHA-1 ones.
const SCHEMES: &[u16] = &[
    0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0807, 0x0201, 0x0203,
];

fn push_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends `body` prefixed with its length in `width` bytes (2 or 3).
fn push_with_len(out: &mut Vec<u8>, width: usize, body: &[u8]) {
    let len = body.len().to_be_bytes();
    out.extend_from_slice(&len[len.len() - width..]);
    out.extend_from_slice(body);
}

fn extension(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
    push_u16(out, kind);
    push_with_len(out, 2, data);
}

fn u16_list(values: &[u16]) -> Vec<u8> {
    let mut list = Vec::with_capacity(values.len() * 2);
    values.iter().for_each(|v| push_u16(&mut list, *v));
    list
}

/// A TLS 1.2-style ClientHello (client_version 0x0303, no supported_versions), so that a
/// TLS 1.0/1.1 server negotiates down instead of refusing. `sni` must be a DNS name.
pub fn client_hello(sni: Option<&str>) -> Vec<u8> {
    let mut ext = Vec::new();
    if let Some(name) = sni {
        let mut entry = vec![0u8];
        push_with_len(&mut entry, 2, name.as_bytes());
        let mut list = Vec::new();
        push_with_len(&mut list, 2, &entry);
        extension(&mut ext, 0x0000, &list);
    }
    let mut groups = Vec::new();
    push_with_len(&mut groups, 2, &u16_list(GROUPS));
    extension(&mut ext, 0x000a, &groups);
    extension(&mut ext, 0x000b, &[1, 0]); // ec_point_formats: uncompressed
    let mut schemes = Vec::new();
    push_with_len(&mut schemes, 2, &u16_list(SCHEMES));
    extension(&mut ext, 0x000d, &schemes);
    extension(&mut ext, 0xff01, &[0]); // renegotiation_info, initial handshake

    let mut body = vec![0x03, 0x03];
    let seed = crate::cert::now_unix().to_be_bytes();
    body.extend((0..32u8).map(|i| seed[usize::from(i) % 8] ^ i.wrapping_mul(73)));
    body.push(0); // no session id
    push_with_len(&mut body, 2, &u16_list(SUITES));
    body.extend_from_slice(&[1, 0]); // compression: null
    push_with_len(&mut body, 2, &ext);

    let mut handshake = vec![1u8];
    push_with_len(&mut handshake, 3, &body);
    let mut record = vec![22u8, 0x03, 0x01];
    push_with_len(&mut record, 2, &handshake);
    record
}

/// Sends the legacy ClientHello on `stream` and reads the server's flight until it is
/// complete, the peer closes, `limit` bytes arrived (the TLS library's own bound,
/// `capture::CAPTURE_LIMIT`, unless a larger certificate message is expected) or `deadline` passes.
/// Returns the flight and the raw bytes.
pub async fn probe<S>(
    mut stream: S,
    sni: Option<&str>,
    deadline: Duration,
    limit: usize,
) -> (ServerFlight, Vec<u8>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let hello = client_hello(sni);
    let mut received = Vec::new();
    let exchange = async {
        stream.write_all(&hello).await?;
        stream.flush().await?;
        let mut buf = [0u8; 8192];
        loop {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                return Ok::<_, std::io::Error>(());
            }
            let room = limit.saturating_sub(received.len());
            received.extend_from_slice(&buf[..n.min(room)]);
            let flight = parse_server_flight(&received);
            if flight.complete || flight.not_tls || received.len() >= limit {
                return Ok(());
            }
        }
    };
    // Whatever arrived before an error or the deadline is still worth parsing.
    let _ = tokio::time::timeout(deadline, exchange).await;
    (parse_server_flight(&received), received)
}

#[cfg(test)]
mod tests {
    use super::client_hello;
    use tls_parser::{TlsMessage, TlsMessageHandshake};

    #[test]
    fn client_hello_parses_and_carries_the_name() {
        let record = client_hello(Some("legacy.example.test"));
        let (rest, plain) = tls_parser::parse_tls_plaintext(&record).expect("record parses");
        assert!(rest.is_empty());
        let TlsMessage::Handshake(TlsMessageHandshake::ClientHello(hello)) = &plain.msg[0] else {
            panic!("not a ClientHello: {:?}", plain.msg);
        };
        assert_eq!(hello.version.0, 0x0303);
        assert_eq!(hello.ciphers.len(), super::SUITES.len());
        let (_, ext) = tls_parser::parse_tls_client_hello_extensions(hello.ext.expect("ext"))
            .expect("extensions parse");
        let sni = ext.iter().find_map(|e| match e {
            tls_parser::TlsExtension::SNI(names) => Some(names[0].1),
            _ => None,
        });
        assert_eq!(sni, Some(&b"legacy.example.test"[..]));
    }
}
