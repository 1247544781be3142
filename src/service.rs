//! The port and URL-scheme table: IANA service names, how each service starts TLS (implicitly,
//! through a STARTTLS dialect, or not at all) and what a client must say first.
//!
//! Pure data and lookups; nothing here does I/O. The target parser calls [`scheme`], the probe
//! calls [`port_name`], [`tls_mode`] and [`greeting_ask`].

use std::fmt;

/// An in-band upgrade to TLS, one per wire dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StarttlsProto {
    /// SMTP `EHLO` + `STARTTLS` (RFC 3207); also submission (587).
    Smtp,
    /// LMTP: the SMTP dialect with `LHLO` (RFC 2033).
    Lmtp,
    /// IMAP `STARTTLS` (RFC 3501).
    Imap,
    /// POP3 `STLS` (RFC 2595).
    Pop3,
    /// FTP `AUTH TLS` (RFC 4217).
    Ftp,
    /// PostgreSQL `SSLRequest`.
    Postgres,
    /// MySQL/MariaDB SSL request packet after the server's handshake.
    Mysql,
    /// LDAP StartTLS extended operation (RFC 4511, OID 1.3.6.1.4.1.1466.20037).
    Ldap,
    /// XMPP client-to-server stream with `<starttls/>` (RFC 6120).
    Xmpp,
    /// XMPP server-to-server stream.
    XmppServer,
    /// NNTP `STARTTLS` (RFC 4642).
    Nntp,
    /// ManageSieve `STARTTLS` (RFC 5804).
    Sieve,
    /// IRC `STARTTLS` (IRCv3 tls extension).
    Irc,
}

impl StarttlsProto {
    /// Every dialect, in a stable order (for help text and tests).
    pub const ALL: [StarttlsProto; 13] = [
        StarttlsProto::Smtp,
        StarttlsProto::Lmtp,
        StarttlsProto::Imap,
        StarttlsProto::Pop3,
        StarttlsProto::Ftp,
        StarttlsProto::Postgres,
        StarttlsProto::Mysql,
        StarttlsProto::Ldap,
        StarttlsProto::Xmpp,
        StarttlsProto::XmppServer,
        StarttlsProto::Nntp,
        StarttlsProto::Sieve,
        StarttlsProto::Irc,
    ];

    /// The word used on the command line and in JSON (`smtp`, `xmpp-server`…).
    pub fn as_str(self) -> &'static str {
        match self {
            StarttlsProto::Smtp => "smtp",
            StarttlsProto::Lmtp => "lmtp",
            StarttlsProto::Imap => "imap",
            StarttlsProto::Pop3 => "pop3",
            StarttlsProto::Ftp => "ftp",
            StarttlsProto::Postgres => "postgres",
            StarttlsProto::Mysql => "mysql",
            StarttlsProto::Ldap => "ldap",
            StarttlsProto::Xmpp => "xmpp",
            StarttlsProto::XmppServer => "xmpp-server",
            StarttlsProto::Nntp => "nntp",
            StarttlsProto::Sieve => "sieve",
            StarttlsProto::Irc => "irc",
        }
    }

    /// Parses a `--starttls` word; accepts common aliases (`submission`, `postgresql`, `pop`,
    /// `managesieve`, `xmpp-client`, `ftps`-less names only). Case-insensitive.
    pub fn parse(word: &str) -> Option<StarttlsProto> {
        let word = word.to_ascii_lowercase();
        let proto = match word.as_str() {
            "smtp" | "submission" | "esmtp" => StarttlsProto::Smtp,
            "lmtp" => StarttlsProto::Lmtp,
            "imap" | "imap4" => StarttlsProto::Imap,
            "pop3" | "pop" => StarttlsProto::Pop3,
            "ftp" => StarttlsProto::Ftp,
            "postgres" | "postgresql" | "psql" => StarttlsProto::Postgres,
            "mysql" | "mariadb" => StarttlsProto::Mysql,
            "ldap" => StarttlsProto::Ldap,
            "xmpp" | "xmpp-client" | "jabber" => StarttlsProto::Xmpp,
            "xmpp-server" | "xmpp_server" => StarttlsProto::XmppServer,
            "nntp" => StarttlsProto::Nntp,
            "sieve" | "managesieve" => StarttlsProto::Sieve,
            "irc" => StarttlsProto::Irc,
            _ => return None,
        };
        Some(proto)
    }

    /// Does the server speak first in this dialect (so its greeting is read before upgrading)?
    pub fn server_speaks_first(self) -> bool {
        !matches!(
            self,
            StarttlsProto::Postgres
                | StarttlsProto::Ldap
                | StarttlsProto::Xmpp
                | StarttlsProto::XmppServer
        )
    }
}

impl fmt::Display for StarttlsProto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a service on a port starts TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// TLS from the first byte (443, 993…).
    Implicit,
    /// Plaintext first, then an in-band upgrade.
    Starttls(StarttlsProto),
    /// No TLS expected.
    Plain,
}

/// What the client must send before a server that waits for it says anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    /// Send nothing; read what the server volunteers.
    Listen,
    /// `HEAD / HTTP/1.1` with the right `Host`.
    HttpHead,
    /// Redis `PING`.
    RedisPing,
    /// PostgreSQL `SSLRequest` (the answer is one byte; `S` leaves the stream awaiting TLS).
    PostgresSslRequest,
}

/// One row of the table.
struct Entry {
    port: u16,
    name: &'static str,
    mode: TlsMode,
    /// The protocol word the greeting detector reports for this service.
    speaks: Option<&'static str>,
}

const fn row(port: u16, name: &'static str, mode: TlsMode, speaks: Option<&'static str>) -> Entry {
    Entry {
        port,
        name,
        mode,
        speaks,
    }
}

use StarttlsProto as P;
use TlsMode::{Implicit, Plain, Starttls};

/// IANA service names (Service Name and Transport Protocol Port Number Registry) for the ports
/// people most often diagnose, with the protocol a server there is expected to speak.
const PORTS: &[Entry] = &[
    row(7, "echo", Plain, None),
    row(20, "ftp-data", Plain, None),
    row(21, "ftp", Starttls(P::Ftp), Some("ftp")),
    row(22, "ssh", Plain, Some("ssh")),
    row(23, "telnet", Plain, Some("telnet")),
    row(24, "lmtp", Starttls(P::Lmtp), Some("lmtp")),
    row(25, "smtp", Starttls(P::Smtp), Some("smtp")),
    row(53, "domain", Plain, None),
    row(80, "http", Plain, Some("http")),
    row(88, "kerberos", Plain, None),
    row(110, "pop3", Starttls(P::Pop3), Some("pop3")),
    row(111, "sunrpc", Plain, None),
    row(119, "nntp", Starttls(P::Nntp), Some("nntp")),
    row(135, "epmap", Plain, None),
    row(139, "netbios-ssn", Plain, None),
    row(143, "imap", Starttls(P::Imap), Some("imap")),
    row(179, "bgp", Plain, None),
    row(194, "irc", Starttls(P::Irc), Some("irc")),
    row(389, "ldap", Starttls(P::Ldap), Some("ldap")),
    row(443, "https", Implicit, Some("tls")),
    row(445, "microsoft-ds", Plain, None),
    row(465, "submissions", Implicit, Some("tls")),
    row(514, "shell", Plain, None),
    row(543, "klogin", Plain, None),
    row(554, "rtsp", Plain, None),
    row(563, "nntps", Implicit, Some("tls")),
    row(587, "submission", Starttls(P::Smtp), Some("smtp")),
    row(631, "ipp", Plain, Some("http")),
    row(636, "ldaps", Implicit, Some("tls")),
    row(853, "domain-s", Implicit, Some("tls")),
    row(873, "rsync", Plain, Some("rsync")),
    row(989, "ftps-data", Implicit, Some("tls")),
    row(990, "ftps", Implicit, Some("tls")),
    row(992, "telnets", Implicit, Some("tls")),
    row(993, "imaps", Implicit, Some("tls")),
    row(994, "ircs", Implicit, Some("tls")),
    row(995, "pop3s", Implicit, Some("tls")),
    row(1433, "ms-sql-s", Plain, None),
    row(1521, "ncube-lm", Plain, None),
    row(1883, "mqtt", Plain, None),
    row(2049, "nfs", Plain, None),
    row(2379, "etcd-client", Implicit, Some("tls")),
    row(3000, "hbci", Plain, None),
    row(3128, "squid-http", Plain, Some("http")),
    row(3268, "msft-gc", Starttls(P::Ldap), Some("ldap")),
    row(3269, "msft-gc-ssl", Implicit, Some("tls")),
    row(3306, "mysql", Starttls(P::Mysql), Some("mysql")),
    row(3389, "ms-wbt-server", Plain, None),
    row(4190, "sieve", Starttls(P::Sieve), Some("sieve")),
    row(5060, "sip", Plain, None),
    row(5061, "sips", Implicit, Some("tls")),
    row(5222, "xmpp-client", Starttls(P::Xmpp), Some("xmpp")),
    row(5223, "xmpp-client-ssl", Implicit, Some("tls")),
    row(5269, "xmpp-server", Starttls(P::XmppServer), Some("xmpp")),
    row(5432, "postgresql", Starttls(P::Postgres), Some("postgres")),
    row(5671, "amqps", Implicit, Some("tls")),
    row(5672, "amqp", Plain, None),
    row(5900, "rfb", Plain, Some("vnc")),
    row(5986, "wsmans", Implicit, Some("tls")),
    row(6379, "redis", Plain, Some("redis")),
    row(6443, "sun-sr-https", Implicit, Some("tls")),
    row(6667, "ircu", Starttls(P::Irc), Some("irc")),
    row(6697, "ircs-u", Implicit, Some("tls")),
    row(8000, "irdmi", Plain, Some("http")),
    row(8080, "http-alt", Plain, Some("http")),
    row(8443, "pcsync-https", Implicit, Some("tls")),
    row(8883, "secure-mqtt", Implicit, Some("tls")),
    row(9093, "copycat", Plain, None),
    row(9200, "wap-wsp", Plain, Some("http")),
    row(9418, "git", Plain, None),
    row(11211, "memcache", Plain, None),
    row(27017, "mongodb", Plain, None),
];

fn entry(port: u16) -> Option<&'static Entry> {
    PORTS.iter().find(|e| e.port == port)
}

/// The IANA service name registered for a TCP port (`22` → `ssh`), for the ports in the table.
pub fn port_name(port: u16) -> Option<&'static str> {
    entry(port).map(|e| e.name)
}

/// How a service on `port` usually starts TLS (`Plain` for unknown ports).
pub fn tls_mode(port: u16) -> TlsMode {
    entry(port).map_or(Plain, |e| e.mode)
}

/// The protocol word a server on `port` is expected to answer with, as the greeting detector
/// names it (`ssh` for 22, `tls` for implicit-TLS ports): the basis of the mismatch warning.
pub fn expected_protocol(port: u16) -> Option<&'static str> {
    entry(port).and_then(|e| e.speaks)
}

/// The protocol spoken inside TLS on an implicit-TLS port (`993` → `imap`), as the greeting
/// detector names it.
pub fn expected_inside_tls(port: u16) -> Option<&'static str> {
    let inner = match port {
        443 | 8443 | 6443 | 2379 | 5986 => "http",
        465 => "smtp",
        993 => "imap",
        995 => "pop3",
        990 => "ftp",
        563 => "nntp",
        994 | 6697 => "irc",
        _ => return None,
    };
    Some(inner)
}

/// What a client should send on `port` before expecting an answer.
pub fn greeting_ask(port: u16) -> Ask {
    match expected_protocol(port) {
        Some("http") => Ask::HttpHead,
        Some("redis") => Ask::RedisPing,
        Some("postgres") => Ask::PostgresSslRequest,
        _ => Ask::Listen,
    }
}

/// What a URL scheme implies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemeInfo {
    /// The scheme's default port.
    pub port: u16,
    /// How TLS starts under this scheme.
    pub tls_mode: TlsMode,
    /// What a client sends first (inside TLS for implicit-TLS schemes): `HttpHead` for
    /// http/https, `RedisPing` for redis/rediss, `PostgresSslRequest` for postgres.
    pub ask: Ask,
}

/// Looks up a URL scheme (`https`, `smtp`, `imaps`…), case-insensitively.
pub fn scheme(name: &str) -> Option<SchemeInfo> {
    let name = name.to_ascii_lowercase();
    let (port, tls_mode) = match name.as_str() {
        "http" | "ws" => (80, Plain),
        // h3: QUIC on UDP 443 (`--quic` implied); its TCP counterpart (`--also-tcp`) is HTTPS.
        "https" | "wss" | "h2" | "h3" => (443, Implicit),
        "smtp" => (25, Starttls(P::Smtp)),
        "smtps" | "submissions" => (465, Implicit),
        "submission" => (587, Starttls(P::Smtp)),
        "lmtp" => (24, Starttls(P::Lmtp)),
        "imap" => (143, Starttls(P::Imap)),
        "imaps" => (993, Implicit),
        "pop3" | "pop" => (110, Starttls(P::Pop3)),
        "pop3s" | "pops" => (995, Implicit),
        "ftp" => (21, Starttls(P::Ftp)),
        "ftps" => (990, Implicit),
        "ssh" | "sftp" => (22, Plain),
        "telnet" => (23, Plain),
        "telnets" => (992, Implicit),
        "ldap" => (389, Starttls(P::Ldap)),
        "ldaps" => (636, Implicit),
        "postgres" | "postgresql" => (5432, Starttls(P::Postgres)),
        "mysql" | "mariadb" => (3306, Starttls(P::Mysql)),
        "redis" => (6379, Plain),
        "rediss" => (6379, Implicit),
        "xmpp" | "xmpp-client" => (5222, Starttls(P::Xmpp)),
        "xmpp-server" => (5269, Starttls(P::XmppServer)),
        "xmpps" => (5223, Implicit),
        "nntp" | "news" => (119, Starttls(P::Nntp)),
        "nntps" | "snews" => (563, Implicit),
        "sieve" | "managesieve" => (4190, Starttls(P::Sieve)),
        "irc" => (6667, Starttls(P::Irc)),
        "ircs" => (6697, Implicit),
        "dot" | "dns-over-tls" => (853, Implicit),
        "dns" => (53, Plain),
        "sip" => (5060, Plain),
        "sips" => (5061, Implicit),
        "mqtt" => (1883, Plain),
        "mqtts" => (8883, Implicit),
        "amqp" => (5672, Plain),
        "amqps" => (5671, Implicit),
        "rsync" => (873, Plain),
        "vnc" => (5900, Plain),
        "tls" => (443, Implicit),
        // UDP (`udp://HOST:PORT`): the probe chooses its request by port; the port is
        // required (target.rs), so this default is never used.
        "udp" => (53, Plain),
        _ => return None,
    };
    let ask = match name.as_str() {
        "http" | "https" | "ws" | "wss" | "h2" | "h3" => Ask::HttpHead,
        "redis" | "rediss" => Ask::RedisPing,
        "postgres" | "postgresql" => Ask::PostgresSslRequest,
        _ => Ask::Listen,
    };
    Some(SchemeInfo {
        port,
        tls_mode,
        ask,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_ports_have_iana_names() {
        assert_eq!(port_name(22), Some("ssh"));
        assert_eq!(port_name(443), Some("https"));
        assert_eq!(port_name(587), Some("submission"));
        assert_eq!(port_name(5432), Some("postgresql"));
        assert_eq!(port_name(61000), None);
    }

    #[test]
    fn table_has_no_duplicate_ports() {
        for (i, a) in PORTS.iter().enumerate() {
            assert!(
                PORTS[i + 1..].iter().all(|b| b.port != a.port),
                "port {} listed twice",
                a.port
            );
        }
    }

    #[test]
    fn tls_modes_follow_the_port() {
        assert_eq!(tls_mode(25), TlsMode::Starttls(StarttlsProto::Smtp));
        assert_eq!(tls_mode(587), TlsMode::Starttls(StarttlsProto::Smtp));
        assert_eq!(tls_mode(24), TlsMode::Starttls(StarttlsProto::Lmtp));
        assert_eq!(tls_mode(5269), TlsMode::Starttls(StarttlsProto::XmppServer));
        for port in [
            443, 465, 563, 636, 853, 989, 990, 993, 995, 5061, 5223, 6697, 8443,
        ] {
            assert_eq!(tls_mode(port), TlsMode::Implicit, "port {port}");
        }
        assert_eq!(tls_mode(22), TlsMode::Plain);
        assert_eq!(tls_mode(12345), TlsMode::Plain);
    }

    #[test]
    fn schemes_give_port_and_tls_mode() {
        let https = scheme("HTTPS").expect("https");
        assert_eq!((https.port, https.tls_mode), (443, TlsMode::Implicit));
        let sub = scheme("submission").expect("submission");
        assert_eq!(sub.tls_mode, TlsMode::Starttls(StarttlsProto::Smtp));
        assert_eq!(scheme("postgresql").map(|s| s.port), Some(5432));
        assert_eq!(scheme("dot").map(|s| s.port), Some(853));
        assert_eq!(scheme("gopher"), None);
        assert_eq!(scheme("http").map(|s| s.ask), Some(Ask::HttpHead));
        assert_eq!(scheme("https").map(|s| s.ask), Some(Ask::HttpHead));
        assert_eq!(scheme("imaps").map(|s| s.ask), Some(Ask::Listen));
    }

    #[test]
    fn every_dialect_round_trips_through_its_word() {
        for proto in StarttlsProto::ALL {
            assert_eq!(StarttlsProto::parse(proto.as_str()), Some(proto));
        }
        assert_eq!(
            StarttlsProto::parse("Submission"),
            Some(StarttlsProto::Smtp)
        );
        assert_eq!(StarttlsProto::parse("telnet"), None);
    }

    #[test]
    fn clients_speak_first_only_where_the_protocol_says_so() {
        assert_eq!(greeting_ask(80), Ask::HttpHead);
        assert_eq!(greeting_ask(6379), Ask::RedisPing);
        assert_eq!(greeting_ask(5432), Ask::PostgresSslRequest);
        assert_eq!(greeting_ask(22), Ask::Listen);
        assert_eq!(greeting_ask(40000), Ask::Listen);
        assert!(!StarttlsProto::Ldap.server_speaks_first());
        assert!(StarttlsProto::Mysql.server_speaks_first());
    }
}
