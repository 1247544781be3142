//! FTP: the 220 greeting's software and the FEAT list (RFC 2389).

use super::reply::Reply;

/// The feature lines of a 211 reply to FEAT (everything between the first and last line).
pub fn features(reply: &Reply) -> Vec<String> {
    if reply.code != 211 || reply.lines.len() < 3 {
        return Vec::new();
    }
    reply.lines[1..reply.lines.len() - 1]
        .iter()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::fingerprint;
    use super::super::reply::{Parsed, parse};
    use super::*;

    fn reply(bytes: &[u8]) -> Reply {
        match parse(bytes) {
            Parsed::Complete(r, _) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn real_world_greetings() {
        let cases: &[(&[u8], &str)] = &[
            (b"220 (vsFTPd 3.0.3)\r\n", "vsFTPd 3.0.3"),
            (b"220 ProFTPD Server (Debian) [::ffff:127.0.0.1]\r\n", "ProFTPD"),
            (b"220 ProFTPD 1.3.8 Server (ProFTPD Default Installation) [127.0.0.1]\r\n", "ProFTPD 1.3.8"),
            (b"220---------- Welcome to Pure-FTPd [privsep] [TLS] ----------\r\n220-You are user number 1 of 50 allowed.\r\n220 This is a private system\r\n", "Pure-FTPd"),
            (b"220-FileZilla Server 1.8.0\r\n220 Please visit https://filezilla-project.org/\r\n", "FileZilla Server 1.8.0"),
            (b"220 Microsoft FTP Service\r\n", "Microsoft FTP Service"),
        ];
        for (bytes, soft) in cases {
            let r = reply(bytes);
            assert_eq!(r.code, 220);
            assert_eq!(
                fingerprint::software_in(&r.joined(), "ftp").as_deref(),
                Some(*soft),
                "{bytes:?}"
            );
        }
    }

    #[test]
    fn feat_lists() {
        let vsftpd = reply(b"211-Features:\r\n AUTH TLS\r\n EPRT\r\n EPSV\r\n MDTM\r\n PASV\r\n PBSZ\r\n PROT\r\n REST STREAM\r\n SIZE\r\n TVFS\r\n211 End\r\n");
        let f = features(&vsftpd);
        assert_eq!(f.len(), 10);
        assert_eq!(f[0], "AUTH TLS");
        assert!(features(&reply(b"211 no-features\r\n")).is_empty());
        assert!(features(&reply(b"500 Unknown command\r\n")).is_empty());
    }
}
