//! Identification over real-world, malformed and hostile greetings.

use super::identify::{TEXT_MAX, analyse, complete};
use crate::report::greeting::GreetingReport;
use crate::service::Ask;

fn id(buf: &[u8], expected: Option<&str>) -> GreetingReport {
    let mut r = GreetingReport::default();
    analyse(buf, Ask::Listen, expected, &mut r);
    r
}

#[test]
fn real_world_banners_are_identified() {
    // (greeting, protocol the port suggests, protocol detected, software)
    type Case<'a> = (&'a [u8], Option<&'a str>, &'a str, Option<&'a str>);
    let cases: &[Case] = &[
        (
            b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n",
            None,
            "ssh",
            Some("OpenSSH_9.2p1 Debian-2+deb12u3"),
        ),
        (b"SSH-2.0-OpenSSH_7.4\r\n", None, "ssh", Some("OpenSSH_7.4")),
        (
            b"220 mx.example ESMTP Postfix (Debian/GNU)\r\n",
            None,
            "smtp",
            Some("Postfix (Debian/GNU)"),
        ),
        (
            b"220 mx.example ESMTP Exim 4.96 Tue, 21 Nov 2026 10:00:00 +0000\r\n",
            None,
            "smtp",
            Some("Exim 4.96"),
        ),
        (
            b"220 mx.example ESMTP OpenSMTPD\r\n",
            None,
            "smtp",
            Some("OpenSMTPD"),
        ),
        (
            b"220 host Dovecot (Debian) ready.\r\n",
            Some("lmtp"),
            "lmtp",
            Some("Dovecot (Debian)"),
        ),
        (b"220 (vsFTPd 3.0.3)\r\n", None, "ftp", Some("vsFTPd 3.0.3")),
        (
            b"220 ProFTPD Server (Debian) [::ffff:192.0.2.1]\r\n",
            None,
            "ftp",
            Some("ProFTPD"),
        ),
        (b"220 Service ready\r\n", Some("ftp"), "ftp", None),
        (
            b"+OK Dovecot (Debian) ready.\r\n",
            None,
            "pop3",
            Some("Dovecot (Debian)"),
        ),
        (
            b"* OK [CAPABILITY IMAP4rev1 STARTTLS] Dovecot (Debian) ready.\r\n",
            None,
            "imap",
            Some("Dovecot (Debian)"),
        ),
        (
            b"* OK imap.example Cyrus IMAP 3.6.1-Debian server ready\r\n",
            None,
            "imap",
            Some("Cyrus IMAP 3.6.1-Debian"),
        ),
        (
            b"200 news.example InterNetNews NNRP server INN 2.7.1 ready (posting ok)\r\n",
            None,
            "nntp",
            Some("INN 2.7.1"),
        ),
        (
            b"\"IMPLEMENTATION\" \"Dovecot Pigeonhole\"\r\n\"STARTTLS\"\r\nOK \"ready\"\r\n",
            None,
            "sieve",
            Some("Dovecot Pigeonhole"),
        ),
        (b"RFB 003.008\n", None, "vnc", Some("RFB 003.008")),
        (b"@RSYNCD: 31.0\n", None, "rsync", None),
        (b"\xff\xfd\x18\xff\xfd\x20", None, "telnet", None),
        (
            b":irc.example NOTICE * :*** Looking up your hostname...\r\n",
            None,
            "irc",
            None,
        ),
        (b"\x15\x03\x01\x00\x02\x02\x46", Some("ssh"), "tls", None),
    ];
    for (bytes, expected, protocol, software) in cases {
        let r = id(bytes, *expected);
        assert_eq!(r.protocol.as_deref(), Some(*protocol), "{bytes:?}");
        assert_eq!(r.software.as_deref(), *software, "{bytes:?}");
        assert!(
            complete(bytes, Ask::Listen) || *protocol == "telnet" || *protocol == "irc",
            "{bytes:?}"
        );
    }
}

#[test]
fn smtp_greeting_fields() {
    let r = id(b"220-mx.example ESMTP Postfix\r\n220 no UCE\r\n", None);
    let smtp = r.smtp.expect("smtp");
    assert_eq!((smtp.code, smtp.host.as_deref()), (220, Some("mx.example")));
    assert_eq!(r.text, "220-mx.example ESMTP Postfix\r\n220 no UCE");
    assert!(!complete(b"220-mx.example ESMTP Postfix\r\n", Ask::Listen));
}

#[test]
fn ambiguous_numeric_greeting_without_a_port_hint_stays_unnamed() {
    let r = id(b"220 Service ready\r\n", None);
    assert_eq!(r.protocol, None);
    assert_eq!(r.text, "220 Service ready");
}

#[test]
fn replies_to_client_first_probes() {
    let mut r = GreetingReport::default();
    analyse(
        b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n\r\n",
        Ask::HttpHead,
        None,
        &mut r,
    );
    assert_eq!(
        (r.protocol.as_deref(), r.software.as_deref()),
        (Some("http"), Some("nginx/1.22.1"))
    );
    let mut r = GreetingReport::default();
    analyse(
        b"-NOAUTH Authentication required.\r\n",
        Ask::RedisPing,
        None,
        &mut r,
    );
    assert_eq!(r.protocol.as_deref(), Some("redis"));
    assert!(r.redis.expect("redis").auth_required);
    let mut r = GreetingReport::default();
    analyse(b"-ERR unknown command\r\n", Ask::RedisPing, None, &mut r);
    assert_eq!(
        r.protocol.as_deref(),
        Some("pop3"),
        "a POP3 server answering PING"
    );
    let mut r = GreetingReport::default();
    analyse(b"N", Ask::PostgresSslRequest, None, &mut r);
    assert_eq!(r.protocol.as_deref(), Some("postgres"));
    assert!(!r.postgres.expect("pg").ssl);
}

#[test]
fn hostile_greetings_yield_bounded_verdicts() {
    let flood = vec![b'A'; 3 * 1024 * 1024];
    let r = id(&flood, None);
    assert_eq!(r.protocol, None);
    assert!(r.truncated);
    assert_eq!(r.text.len(), TEXT_MAX);
    assert_eq!(r.bytes, flood.len());

    let nul = id(b"\0\0\0\0\0\0\0\0\x01\x02", None);
    assert_eq!(nul.protocol, None);
    assert_eq!(nul.hex.as_deref(), Some("00000000000000000102"));

    let escapes = id(b"220 \x1b[2J\x1b]0;owned\x07 ESMTP\r\n", None);
    assert_eq!(escapes.protocol.as_deref(), Some("smtp"));
    assert!(
        escapes.text.contains('\x1b'),
        "raw text kept; the renderer escapes it"
    );

    let no_crlf = id(b"SSH-2.0-OpenSSH_9.2p1", None);
    assert_eq!(no_crlf.protocol.as_deref(), Some("ssh"));
    assert!(!complete(b"SSH-2.0-OpenSSH_9.2p1", Ask::Listen));

    let bad_utf8 = id(b"220 \xff\xfe\xfd mail ESMTP\r\n", None);
    assert_eq!(bad_utf8.protocol.as_deref(), Some("smtp"));
    assert!(bad_utf8.text.contains('\u{fffd}'));

    let empty = id(b"", None);
    assert_eq!(
        (empty.protocol, empty.text.as_str(), empty.bytes),
        (None, "", 0)
    );
}

/// A small xorshift generator: deterministic, so a failure can be replayed from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn random_and_mutated_input_never_panics() {
    let seeds: &[&[u8]] = &[
        b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n",
        b"220-a\r\n220 b\r\n",
        b"* OK [CAPABILITY IMAP4rev1] x\r\n",
        b"+OK\r\nSTLS\r\n.\r\n",
        b"\"IMPLEMENTATION\" \"x\"\r\nOK\r\n",
        b"HTTP/1.1 200 OK\r\nServer: x\r\n\r\n",
        b"\x6a\x00\x00\x00\x0a5.5.5-10.11.6-MariaDB\x00\x1f\x00\x00\x00",
        b"\x15\x03\x03\x00\x02\x02\x28",
    ];
    let asks = [
        Ask::Listen,
        Ask::HttpHead,
        Ask::RedisPing,
        Ask::PostgresSslRequest,
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..20_000u32 {
        let mut buf = seeds[round as usize % seeds.len()].to_vec();
        for _ in 0..(rng.next() % 6) {
            let at = (rng.next() as usize) % (buf.len() + 1);
            match rng.next() % 3 {
                0 if at < buf.len() => buf[at] = rng.next() as u8,
                1 => buf.insert(at, rng.next() as u8),
                _ => buf.truncate(at),
            }
        }
        if round % 7 == 0 {
            buf = (0..rng.next() % 300).map(|_| rng.next() as u8).collect();
        }
        let ask = asks[round as usize % asks.len()];
        let _ = complete(&buf, ask);
        let mut r = GreetingReport::default();
        analyse(&buf, ask, Some("smtp"), &mut r);
        assert!(r.text.len() <= TEXT_MAX * 3, "lossy text stays bounded");
    }
}
