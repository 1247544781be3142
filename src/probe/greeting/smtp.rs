//! SMTP/LMTP: the 220 greeting and the EHLO/LHLO capability list (RFC 5321 §4.1.1.1).

use super::reply::Reply;
use crate::report::greeting::SmtpGreeting;

/// What a 220-style greeting tells: the code and the announced host name.
pub fn greeting(reply: &Reply) -> SmtpGreeting {
    let host = reply
        .first()
        .split_whitespace()
        .next()
        .filter(|w| !matches!(w.to_ascii_uppercase().as_str(), "ESMTP" | "SMTP" | "LMTP"))
        .map(str::to_string);
    SmtpGreeting {
        code: reply.code,
        host,
        size: None,
        auth: Vec::new(),
    }
}

/// The dialect a numeric greeting names in its text, if it names one.
pub fn dialect(reply: &Reply) -> Option<&'static str> {
    let upper = reply.joined().to_ascii_uppercase();
    let words: Vec<&str> = upper
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let has = |w: &str| words.contains(&w);
    if has("LMTP") {
        Some("lmtp")
    } else if has("ESMTP") || has("SMTP") || has("POSTFIX") || has("EXIM") {
        Some("smtp")
    } else if upper.contains("FTP") {
        Some("ftp")
    } else if has("NNTP") || has("INN") || has("NNRP") || has("NNRPD") {
        Some("nntp")
    } else {
        None
    }
}

/// The capabilities in an EHLO/LHLO reply, with `SIZE` and `AUTH` picked out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ehlo {
    /// Every keyword line after the first, as sent (`SIZE 10240000`, `AUTH PLAIN LOGIN`).
    pub capabilities: Vec<String>,
    /// The `SIZE` limit.
    pub size: Option<u64>,
    /// `AUTH` mechanisms (also from the obsolete `AUTH=` form).
    pub auth: Vec<String>,
}

/// Parses a 250 reply to EHLO/LHLO (the first line is the server's name).
pub fn ehlo(reply: &Reply) -> Ehlo {
    let mut out = Ehlo::default();
    for line in reply.lines.iter().skip(1) {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        out.capabilities.push(line.to_string());
        let mut words = line.split([' ', '=']);
        let keyword = words.next().unwrap_or_default().to_ascii_uppercase();
        match keyword.as_str() {
            "SIZE" => out.size = words.next().and_then(|n| n.parse().ok()).or(out.size),
            "AUTH" => {
                for mech in words.filter(|m| !m.is_empty()) {
                    let mech = mech.to_ascii_uppercase();
                    if !out.auth.contains(&mech) {
                        out.auth.push(mech);
                    }
                }
            }
            _ => {}
        }
    }
    out
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
        let cases: &[(&[u8], Option<&str>, Option<&str>)] = &[
            (
                b"220 mail.example.org ESMTP Postfix (Debian/GNU)\r\n",
                Some("mail.example.org"),
                Some("Postfix (Debian/GNU)"),
            ),
            (
                b"220 mx.example.net ESMTP Exim 4.96 Tue, 21 Nov 2026 10:00:00 +0000\r\n",
                Some("mx.example.net"),
                Some("Exim 4.96"),
            ),
            (
                b"220 relay.example ESMTP OpenSMTPD\r\n",
                Some("relay.example"),
                Some("OpenSMTPD"),
            ),
            (
                b"220 smtp.example ESMTP Sendmail 8.17.1.9/8.17.1.9; Tue, 21 Nov 2026\r\n",
                Some("smtp.example"),
                Some("Sendmail 8.17.1.9/8.17.1.9"),
            ),
            (
                b"220 EX01.corp.example Microsoft ESMTP MAIL Service ready at Tue, 21 Nov 2026\r\n",
                Some("EX01.corp.example"),
                Some("Microsoft ESMTP MAIL Service"),
            ),
            (
                b"220 lmtp.example Dovecot (Debian) ready.\r\n",
                Some("lmtp.example"),
                Some("Dovecot (Debian)"),
            ),
            (
                b"220-mail.example ESMTP Postfix\r\n220-No UCE\r\n220 \r\n",
                Some("mail.example"),
                Some("Postfix"),
            ),
        ];
        for (bytes, host, soft) in cases {
            let r = reply(bytes);
            let g = greeting(&r);
            assert_eq!(g.code, 220);
            assert_eq!(g.host.as_deref(), *host, "{bytes:?}");
            assert_eq!(
                fingerprint::software_in(&r.joined(), "smtp").as_deref(),
                *soft,
                "{bytes:?}"
            );
        }
    }

    #[test]
    fn dialect_from_greeting_text() {
        assert_eq!(dialect(&reply(b"220 mx ESMTP Exim 4.96\r\n")), Some("smtp"));
        assert_eq!(
            dialect(&reply(b"220 host LMTP server ready\r\n")),
            Some("lmtp")
        );
        assert_eq!(dialect(&reply(b"220 (vsFTPd 3.0.3)\r\n")), Some("ftp"));
        assert_eq!(
            dialect(&reply(b"220 ProFTPD Server (Debian) [::1]\r\n")),
            Some("ftp")
        );
        assert_eq!(
            dialect(&reply(
                b"200 news.example InterNetNews NNRP server INN 2.7.1 ready (posting ok)\r\n"
            )),
            Some("nntp")
        );
        assert_eq!(dialect(&reply(b"220 welcome\r\n")), None);
    }

    #[test]
    fn refusing_greetings_keep_their_code() {
        let g = greeting(&reply(b"554 5.7.1 No SMTP service here\r\n"));
        assert_eq!(g.code, 554);
        let g = greeting(&reply(b"421 4.3.2 Service not available\r\n"));
        assert_eq!(g.code, 421);
    }

    #[test]
    fn ehlo_capabilities() {
        let postfix = reply(
            b"250-mail.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n\
              250-ETRN\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n250-AUTH=PLAIN LOGIN\r\n\
              250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n",
        );
        let e = ehlo(&postfix);
        assert_eq!(e.size, Some(10_240_000));
        assert_eq!(e.auth, ["PLAIN", "LOGIN"]);
        assert!(e.capabilities.iter().any(|c| c == "STARTTLS"));
        assert_eq!(e.capabilities.len(), 12);
        let exim = reply(b"250-mx.example Hello reach [127.0.0.1]\r\n250-SIZE 52428800\r\n250-8BITMIME\r\n250-PIPELINING\r\n250-PIPECONNECT\r\n250-CHUNKING\r\n250-STARTTLS\r\n250 HELP\r\n");
        let e = ehlo(&exim);
        assert_eq!(e.size, Some(52_428_800));
        assert!(e.auth.is_empty());
        assert_eq!(e.capabilities.last().map(String::as_str), Some("HELP"));
        let bare = reply(b"250 mx.example\r\n");
        assert_eq!(ehlo(&bare), Ehlo::default());
        let bad = reply(b"250-x\r\n250-SIZE huge\r\n250 AUTH\r\n");
        assert_eq!(ehlo(&bad).size, None);
    }
}
