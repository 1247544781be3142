//! The service part of a report: greeting (banner), service identification and STARTTLS.

use serde::Serialize;

/// How the greeting phase ended: the verdict that separates "said something" from "said
/// nothing" from "hung up".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GreetingState {
    /// The server spoke first (a banner).
    Banner,
    /// The server answered what we sent (HTTP `HEAD`, Redis `PING`, PostgreSQL `SSLRequest`…).
    Reply,
    /// The connection stayed open but nothing arrived within the window (like `nc -l`).
    #[default]
    Silent,
    /// The server closed the connection without sending anything.
    Closed,
    /// The server reset the connection without sending anything.
    Reset,
    /// Reading failed locally.
    Error,
}

impl GreetingState {
    /// The lowercase word used in JSON and in the human report.
    pub fn as_str(self) -> &'static str {
        match self {
            GreetingState::Banner => "banner",
            GreetingState::Reply => "reply",
            GreetingState::Silent => "silent",
            GreetingState::Closed => "closed",
            GreetingState::Reset => "reset",
            GreetingState::Error => "error",
        }
    }
}

/// What the service said first.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GreetingReport {
    /// `banner`, `reply`, `silent`, `closed`, `reset` or `error`.
    pub state: GreetingState,
    /// Protocol identified from the bytes (`ssh`, `smtp`…), `null` when unknown or silent.
    pub protocol: Option<String>,
    /// The greeting as received (lossy UTF-8, bounded; escaped only when rendered). For binary
    /// protocols (MySQL, TLS, PostgreSQL) a short description instead.
    pub text: String,
    /// Parsed software name/version, when the protocol carries one.
    pub software: Option<String>,
    /// Time from the start of the read to the first byte of the greeting.
    pub banner_ms: Option<f64>,
    /// Bytes received in the greeting window.
    pub bytes: usize,
    /// The read stopped at the size limit (the server had more to say).
    pub truncated: bool,
    /// What we sent to make the server speak (`HEAD / HTTP/1.1`, `PING`…), if anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asked: Option<String>,
    /// The greeting was read inside TLS (implicit-TLS ports, after the handshake).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub over_tls: bool,
    /// First bytes in hex, when the greeting is binary and unidentified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hex: Option<String>,
    /// Capabilities the server advertised (SMTP EHLO keywords, IMAP CAPABILITY, POP3 CAPA,
    /// FTP FEAT, NNTP CAPABILITIES, ManageSieve), as sent, one per entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Vec<String>>,
    /// SSH identification string (RFC 4253 §4.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh: Option<SshIdent>,
    /// SMTP/LMTP/FTP/NNTP numeric greeting details.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp: Option<SmtpGreeting>,
    /// MySQL/MariaDB initial handshake.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mysql: Option<MysqlHandshake>,
    /// PostgreSQL's answer to `SSLRequest`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postgres: Option<PostgresAnswer>,
    /// Redis answer to `PING`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis: Option<RedisReply>,
    /// HTTP answer to `HEAD /`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpInfo>,
    /// A TLS record sent unprompted (usually an alert): the port speaks TLS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsRecordInfo>,
}

impl GreetingReport {
    /// The server accepted the connection and said nothing within the window.
    pub fn is_silent(&self) -> bool {
        self.state == GreetingState::Silent
    }

    /// The server advertised `capability` (case-insensitive, first word of an entry).
    pub fn advertises(&self, capability: &str) -> bool {
        self.capabilities.as_ref().is_some_and(|caps| {
            caps.iter().any(|c| {
                c.split_whitespace()
                    .next()
                    .is_some_and(|w| w.eq_ignore_ascii_case(capability))
            })
        })
    }
}

/// The SSH identification string `SSH-protoversion-softwareversion SP comments`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SshIdent {
    /// `2.0` (or `1.99` for servers that also speak SSH-1).
    pub proto_version: String,
    /// e.g. `OpenSSH_9.2p1`.
    pub software: String,
    /// e.g. `Debian-2+deb12u3`.
    pub comments: Option<String>,
    /// Lines the server sent before the identification string (allowed by RFC 4253).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub preamble: Vec<String>,
}

/// A numeric greeting (`220 mail.example ESMTP Postfix`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SmtpGreeting {
    /// The reply code (220 ready, 421/554 refusing service).
    pub code: u16,
    /// The host name the server announced (first word of the greeting), if any.
    pub host: Option<String>,
    /// `SIZE` limit from EHLO, in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// `AUTH` mechanisms from EHLO.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub auth: Vec<String>,
}

/// The MySQL/MariaDB initial handshake packet (protocol 10), or the error packet sent instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MysqlHandshake {
    /// Handshake protocol version (10).
    pub protocol_version: Option<u8>,
    /// Server version string (`8.0.36`, `5.5.5-10.11.6-MariaDB-0+deb12u1`).
    pub server_version: Option<String>,
    /// Connection (thread) id.
    pub connection_id: Option<u32>,
    /// The server sets CLIENT_SSL: it can upgrade to TLS.
    pub ssl: bool,
    /// Raw capability flags (lower and upper 16 bits).
    pub capabilities: u32,
    /// Default authentication plugin (`mysql_native_password`, `caching_sha2_password`).
    pub auth_plugin: Option<String>,
    /// Error code, when the server sent an error packet instead (e.g. 1130 host not allowed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<u16>,
    /// Error message from the error packet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// PostgreSQL's one-byte answer to `SSLRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PostgresAnswer {
    /// `S` (will do TLS), `N` (will not), `E` (an error message: a pre-7.0-style server).
    pub answer: String,
    /// The answer means "TLS accepted".
    pub ssl: bool,
}

/// Redis' reply to `PING`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RedisReply {
    /// The reply line without its type byte (`PONG`, `NOAUTH Authentication required.`).
    pub reply: String,
    /// The reply was an error (`-`).
    pub error: bool,
    /// The server demands authentication.
    pub auth_required: bool,
}

/// The answer to `HEAD /`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpInfo {
    /// `HTTP/1.1`.
    pub version: String,
    /// Status code.
    pub status: u16,
    /// Reason phrase.
    pub reason: String,
    /// `Server` header.
    pub server: Option<String>,
    /// `Location` header (redirects).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

/// A TLS record received where a plaintext greeting was expected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TlsRecordInfo {
    /// Record content type name (`alert`, `handshake`).
    pub content_type: String,
    /// Record-layer version (`TLSv1.2`).
    pub version: String,
    /// Alert description name, when the record is an alert.
    pub alert: Option<String>,
}

/// Which service the port is registered for, and which one actually answered.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ServiceReport {
    /// The IANA service name for the port, if any.
    pub port_name: Option<String>,
    /// The service identified from what the server said.
    pub detected: Option<String>,
    /// The protocol a server on this port is expected to speak (`tls` on implicit-TLS ports).
    pub expected: Option<String>,
    /// The server said something identifiable that is not what the port suggests
    /// (`ssh` on port 443, `tls` on port 22).
    pub mismatch: bool,
}

/// How the STARTTLS upgrade ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StarttlsResult {
    /// The server agreed; the stream now awaits a TLS ClientHello.
    Negotiated,
    /// The server answered the upgrade command with a refusal.
    Refused,
    /// The server did not advertise the upgrade, so it was not attempted.
    NotOffered,
    /// The exchange broke down (timeout, connection closed, unintelligible reply).
    #[default]
    Error,
}

/// The in-band upgrade to TLS.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StarttlsReport {
    /// The dialect used (`smtp`, `imap`…).
    pub protocol: String,
    /// The server advertised the upgrade (for dialects with no advertisement — PostgreSQL,
    /// LDAP — this is set when the server accepted it).
    pub offered: bool,
    /// `negotiated`, `refused`, `not_offered` or `error`.
    pub result: StarttlsResult,
    /// The server's answer to the upgrade command (bounded; escaped only when rendered).
    pub reply: Option<String>,
    /// Why the exchange broke down, for `error` (`timeout`, `closed`, `reset`, `unexpected`…).
    pub error: Option<String>,
    /// Time from the first STARTTLS-dialect byte we sent to the server's go-ahead (or refusal).
    pub ms: Option<f64>,
    /// The dialect was chosen from the server's greeting: TLS was asked for, and the server
    /// answered with a mail or file-transfer greeting instead of a TLS handshake.
    pub from_greeting: bool,
}

impl StarttlsReport {
    /// The upgrade did not happen.
    pub fn failed(&self) -> bool {
        self.result != StarttlsResult::Negotiated
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starttls_failed_unless_negotiated() {
        let mut r = StarttlsReport {
            result: StarttlsResult::Negotiated,
            ..Default::default()
        };
        assert!(!r.failed());
        for result in [
            StarttlsResult::Refused,
            StarttlsResult::NotOffered,
            StarttlsResult::Error,
        ] {
            r.result = result;
            assert!(r.failed());
        }
        assert_eq!(
            serde_json::to_value(StarttlsResult::NotOffered).expect("word"),
            "not_offered"
        );
    }

    #[test]
    fn silent_greeting_serializes_as_a_state_word() {
        let g = GreetingReport::default();
        assert!(g.is_silent());
        let json = serde_json::to_value(&g).expect("serialize");
        assert_eq!(json["state"], "silent");
        assert!(json["protocol"].is_null());
        assert!(json.get("ssh").is_none());
    }

    #[test]
    fn contract_keys_are_present() {
        let g = GreetingReport {
            state: GreetingState::Banner,
            protocol: Some("ssh".into()),
            text: "SSH-2.0-OpenSSH_9.2p1 Debian-2".into(),
            software: Some("OpenSSH_9.2p1 Debian-2".into()),
            banner_ms: Some(1.5),
            bytes: 32,
            ssh: Some(SshIdent {
                proto_version: "2.0".into(),
                software: "OpenSSH_9.2p1".into(),
                comments: Some("Debian-2".into()),
                preamble: vec![],
            }),
            ..Default::default()
        };
        let json = serde_json::to_value(&g).expect("greeting");
        for key in [
            "state",
            "protocol",
            "text",
            "software",
            "banner_ms",
            "bytes",
            "truncated",
        ] {
            assert!(json.get(key).is_some(), "greeting.{key}");
        }
        assert_eq!(json["ssh"]["proto_version"], "2.0");
        assert_eq!(json["ssh"]["comments"], "Debian-2");
        let service = serde_json::to_value(ServiceReport::default()).expect("service");
        for key in ["port_name", "detected", "expected", "mismatch"] {
            assert!(service.get(key).is_some(), "service.{key}");
        }
        let st = serde_json::to_value(StarttlsReport::default()).expect("starttls");
        for key in ["protocol", "offered", "result", "reply", "error", "ms"] {
            assert!(st.get(key).is_some(), "starttls.{key}");
        }
    }

    #[test]
    fn advertises_matches_the_first_word_case_insensitively() {
        let g = GreetingReport {
            capabilities: Some(vec!["SIZE 10240000".into(), "starttls".into()]),
            ..Default::default()
        };
        assert!(g.advertises("STARTTLS"));
        assert!(g.advertises("size"));
        assert!(!g.advertises("AUTH"));
    }
}
