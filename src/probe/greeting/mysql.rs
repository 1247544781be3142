//! MySQL/MariaDB: the server's initial handshake packet (protocol 10) or the error packet it
//! sends instead (e.g. 1130 "Host is not allowed to connect").

use crate::report::greeting::MysqlHandshake;

/// `CLIENT_SSL`: the server can switch to TLS.
pub const CLIENT_SSL: u32 = 0x0000_0800;
/// `CLIENT_PROTOCOL_41`.
pub const CLIENT_PROTOCOL_41: u32 = 0x0000_0200;
/// `CLIENT_SECURE_CONNECTION`.
pub const CLIENT_SECURE_CONNECTION: u32 = 0x0000_8000;
/// `CLIENT_PLUGIN_AUTH`.
pub const CLIENT_PLUGIN_AUTH: u32 = 0x0008_0000;
/// `CLIENT_LONG_PASSWORD`.
pub const CLIENT_LONG_PASSWORD: u32 = 0x0000_0001;

/// The biggest handshake packet we consider plausible.
const MAX_HANDSHAKE: usize = 4096;

/// The first bytes look like a MySQL packet carrying a handshake or an error.
pub fn looks_like(buf: &[u8]) -> bool {
    match buf {
        [l0, l1, l2, 0, kind, ..] => {
            let len = usize::from(*l0) | usize::from(*l1) << 8 | usize::from(*l2) << 16;
            (2..=MAX_HANDSHAKE).contains(&len) && matches!(kind, 0x0a | 0x09 | 0xff)
        }
        _ => false,
    }
}

/// The whole first packet has arrived.
pub fn complete(buf: &[u8]) -> bool {
    packet(buf).is_some()
}

fn packet(buf: &[u8]) -> Option<&[u8]> {
    let [l0, l1, l2, _seq, ..] = buf else {
        return None;
    };
    let len = usize::from(*l0) | usize::from(*l1) << 8 | usize::from(*l2) << 16;
    buf.get(4..4 + len)
}

/// Parses the first packet. `None` when it is incomplete or not a handshake/error packet.
pub fn parse(buf: &[u8]) -> Option<MysqlHandshake> {
    if !looks_like(buf) {
        return None;
    }
    let payload = packet(buf)?;
    let (&kind, rest) = payload.split_first()?;
    if kind == 0xff {
        return Some(error_packet(rest));
    }
    let mut cur = Cursor(rest);
    let version = cur.cstr()?;
    let mut out = MysqlHandshake {
        protocol_version: Some(kind),
        server_version: Some(version),
        connection_id: None,
        ssl: false,
        capabilities: 0,
        auth_plugin: None,
        error_code: None,
        error: None,
    };
    if kind == 0x09 {
        // Protocol 9 (MySQL < 3.21) carries no capabilities.
        return Some(out);
    }
    out.connection_id = cur.u32();
    cur.skip(8 + 1);
    let lower = cur.u16().map_or(0, u32::from);
    out.capabilities = lower;
    if let (Some(_charset), Some(_status), Some(upper)) = (cur.u8(), cur.u16(), cur.u16()) {
        out.capabilities |= u32::from(upper) << 16;
        let auth_len = cur.u8().unwrap_or(0);
        cur.skip(10);
        if out.capabilities & CLIENT_SECURE_CONNECTION != 0 {
            cur.skip(usize::from(auth_len.saturating_sub(8)).max(13));
        }
        if out.capabilities & CLIENT_PLUGIN_AUTH != 0 {
            out.auth_plugin = cur.cstr_or_rest();
        }
    }
    out.ssl = out.capabilities & CLIENT_SSL != 0;
    Some(out)
}

fn error_packet(rest: &[u8]) -> MysqlHandshake {
    let code = rest.get(..2).map(|c| u16::from_le_bytes([c[0], c[1]]));
    let mut msg = rest.get(2..).unwrap_or_default();
    if msg.first() == Some(&b'#') && msg.len() >= 6 {
        msg = &msg[6..];
    }
    MysqlHandshake {
        protocol_version: None,
        server_version: None,
        connection_id: None,
        ssl: false,
        capabilities: 0,
        auth_plugin: None,
        error_code: code,
        error: Some(String::from_utf8_lossy(msg).into_owned()),
    }
}

/// A human name for the server: `MariaDB 10.11.6-0+deb12u1` or `MySQL 8.0.36`.
pub fn software(version: &str) -> String {
    // MariaDB 10+ prefixes "5.5.5-" so that old clients parse the version.
    let version = version.strip_prefix("5.5.5-").unwrap_or(version);
    match version.split_once("-MariaDB") {
        Some((v, rest)) => format!("MariaDB {v}{rest}"),
        None => format!("MySQL {version}"),
    }
}

/// The SSL request packet a client sends (sequence 1) to switch to TLS before authenticating.
pub fn ssl_request(server_caps: u32) -> [u8; 36] {
    let wanted = CLIENT_SSL
        | CLIENT_PROTOCOL_41
        | CLIENT_SECURE_CONNECTION
        | CLIENT_LONG_PASSWORD
        | (server_caps & CLIENT_PLUGIN_AUTH);
    let mut packet = [0u8; 36];
    packet[..4].copy_from_slice(&[32, 0, 0, 1]);
    packet[4..8].copy_from_slice(&wanted.to_le_bytes());
    packet[8..12].copy_from_slice(&(16u32 * 1024 * 1024).to_le_bytes());
    packet[12] = 45; // utf8mb4_general_ci
    packet
}

/// A bounds-checked reader over a byte slice.
struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let (head, tail) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = tail;
        Some(head)
    }
    fn skip(&mut self, n: usize) {
        self.0 = self.0.get(n..).unwrap_or_default();
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn cstr(&mut self) -> Option<String> {
        let end = self.0.iter().position(|&b| b == 0)?;
        let s = String::from_utf8_lossy(&self.0[..end]).into_owned();
        self.skip(end + 1);
        Some(s)
    }
    fn cstr_or_rest(&mut self) -> Option<String> {
        if self.0.is_empty() {
            return None;
        }
        let end = self.0.iter().position(|&b| b == 0).unwrap_or(self.0.len());
        let s = String::from_utf8_lossy(&self.0[..end]).into_owned();
        self.skip(end + 1);
        Some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A MariaDB 10.11 handshake, captured from Debian 12's mariadb-server.
    const MARIADB: &[u8] = b"\x64\x00\x00\x00\x0a\x35\x2e\x35\x2e\x35\x2d\x31\x30\x2e\x31\x31\x2e\x31\x39\x2d\x4d\x61\x72\x69\x61\x44\x42\x2d\x30\x2b\x64\x65\x62\x31\x32\x75\x31\x00\x03\x00\x00\x00\x58\x58\x30\x24\x63\x4a\x26\x7c\x00\xfe\xff\x08\x02\x00\xff\x81\x15\x00\x00\x00\x00\x00\x00\x1d\x00\x00\x00\x61\x50\x4c\x6d\x62\x23\x26\x33\x6d\x4e\x7e\x4f\x00\x6d\x79\x73\x71\x6c\x5f\x6e\x61\x74\x69\x76\x65\x5f\x70\x61\x73\x73\x77\x6f\x72\x64\x00";

    /// A handshake laid out like MySQL 8.0's (caching_sha2_password); no MySQL server runs here.
    const MYSQL8: &[u8] = b"\x4a\x00\x00\x00\x0a8.0.36\x00\x08\x00\x00\x00\x1e\x0b\x6a\x50\x11\x5d\x1b\x3e\x00\xff\xff\xff\x02\x00\xff\xdf\x15\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x5e\x3a\x04\x6e\x11\x16\x0e\x31\x6e\x6c\x25\x5a\x00caching_sha2_password\x00";

    #[test]
    fn mariadb_handshake() {
        assert!(looks_like(MARIADB) && complete(MARIADB));
        let h = parse(MARIADB).expect("handshake");
        assert_eq!(h.protocol_version, Some(10));
        assert_eq!(
            h.server_version.as_deref(),
            Some("5.5.5-10.11.19-MariaDB-0+deb12u1")
        );
        assert_eq!(h.connection_id, Some(3));
        assert!(h.ssl);
        assert_eq!(h.auth_plugin.as_deref(), Some("mysql_native_password"));
        assert_eq!(
            software("5.5.5-10.11.6-MariaDB-0+deb12u1"),
            "MariaDB 10.11.6-0+deb12u1"
        );
    }

    #[test]
    fn mysql8_handshake() {
        let h = parse(MYSQL8).expect("handshake");
        assert_eq!(h.server_version.as_deref(), Some("8.0.36"));
        assert!(h.ssl);
        assert_eq!(h.auth_plugin.as_deref(), Some("caching_sha2_password"));
        assert_eq!(software("8.0.36"), "MySQL 8.0.36");
    }

    #[test]
    fn handshake_without_ssl_flag() {
        let mut no_ssl = MYSQL8.to_vec();
        // Lower capability bytes follow version(7) + id(4) + scramble(8) + filler(1).
        let at = 4 + 1 + 7 + 4 + 8 + 1;
        no_ssl[at + 1] &= !0x08;
        assert!(!parse(&no_ssl).expect("handshake").ssl);
    }

    #[test]
    fn error_packet_instead_of_handshake() {
        let msg = b"Host '192.0.2.7' is not allowed to connect to this MariaDB server";
        let mut p = vec![(msg.len() + 3) as u8, 0, 0, 0, 0xff, 0x6a, 0x04];
        p.extend_from_slice(msg);
        let h = parse(&p).expect("error packet");
        assert_eq!(h.error_code, Some(1130));
        assert_eq!(
            h.error.as_deref(),
            Some(std::str::from_utf8(msg).expect("utf8"))
        );
    }

    #[test]
    fn truncated_and_hostile_packets() {
        for n in 0..MARIADB.len() {
            let cut = &MARIADB[..n];
            assert!(!complete(cut));
            assert_eq!(parse(cut), None);
        }
        assert!(!looks_like(b"SSH-2.0-x\r\n"));
        assert!(!looks_like(b"\xff\xff\xff\x00\x0a"));
        let short = b"\x05\x00\x00\x00\x0a\x00\x01\x02\x03";
        let h = parse(short).expect("short handshake");
        assert_eq!((h.server_version.as_deref(), h.ssl), (Some(""), false));
    }

    #[test]
    fn ssl_request_is_a_32_byte_packet_with_sequence_one() {
        let p = ssl_request(CLIENT_PLUGIN_AUTH | CLIENT_SSL);
        assert_eq!(&p[..4], &[32, 0, 0, 1]);
        let flags = u32::from_le_bytes([p[4], p[5], p[6], p[7]]);
        assert_ne!(flags & CLIENT_SSL, 0);
        assert_ne!(flags & CLIENT_PLUGIN_AUTH, 0);
    }
}
