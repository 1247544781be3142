//! Target syntax: `host`, `host:port`, `[v6]:port`, bare IPv6, `scheme://host:port/…`, and
//! `address,name` pairs; plus `-p` port lists and ranges. Parse, don't validate: a `Target`
//! that exists is well-formed.
//!
//! URLs are parsed as browsers parse them (the WHATWG URL standard, with the `url` crate), so
//! a URL pasted from a browser goes where the browser would go: `https://localhost\@evil/` is
//! `localhost`, percent-encoding and international names are decoded to the ASCII name that is
//! looked up, `http://0x7f.1/` is 127.0.0.1.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use thiserror::Error;

/// A syntactically wrong target or port list. Displayed as one line naming the input.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid target {input:?}: {problem}")]
pub struct TargetError {
    /// What the user typed.
    pub input: String,
    /// What is wrong with it.
    pub problem: String,
}

fn bad(input: &str, problem: impl Into<String>) -> TargetError {
    TargetError {
        input: input.to_string(),
        problem: problem.into(),
    }
}

/// The host part of a target.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A DNS name, lowercased, without a trailing dot.
    Name(String),
    /// An IP literal.
    Ip(IpAddr),
}

impl std::fmt::Display for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Host::Name(n) => f.write_str(n),
            Host::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// One parsed target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The text as given (trimmed).
    pub input: String,
    /// Host name or address.
    pub host: Host,
    /// The explicit port, or the scheme's default port.
    pub port: Option<u16>,
    /// The URL scheme, lowercased, when one was given.
    pub scheme: Option<String>,
    /// The SNI name of an `address,name` pair.
    pub sni: Option<String>,
}

/// Longest accepted input: anything longer is not a host name.
const MAX_INPUT: usize = 2048;

/// Parses one target.
pub fn parse(input: &str) -> Result<Target, TargetError> {
    let text = input.trim();
    if text.is_empty() {
        return Err(bad(input, "empty target"));
    }
    if text.len() > MAX_INPUT {
        return Err(bad(
            &text.chars().take(40).collect::<String>(),
            "longer than 2048 characters",
        ));
    }
    if let Some((left, name)) = text.split_once(',') {
        let mut target = parse(left).map_err(|e| bad(text, e.problem))?;
        let name = name.trim();
        validate_dns_name(name).map_err(|p| bad(text, format!("SNI name {name:?}: {p}")))?;
        // As given: the SNI is sent with its case (see `--sni`).
        target.sni = Some(name.trim_end_matches('.').to_string());
        target.input = text.to_string();
        return Ok(target);
    }
    if let Some((scheme, _)) = text.split_once("://") {
        return parse_url(text, scheme);
    }
    let (host, port) = split_host_port(text, text)?;
    let port = port.map(|p| parse_port(text, p)).transpose()?;
    Ok(Target {
        input: text.to_string(),
        host,
        port,
        scheme: None,
        sni: None,
    })
}

/// Parses `scheme://…` as the WHATWG URL standard says (what browsers do). The scheme must be
/// one reach knows (it decides the port, TLS and what to send first); userinfo, path, query
/// and fragment are ignored.
fn parse_url(text: &str, scheme: &str) -> Result<Target, TargetError> {
    let well_formed = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !well_formed {
        return Err(bad(text, format!("{scheme:?} is not a URL scheme")));
    }
    let scheme = scheme.to_ascii_lowercase();
    let Some(info) = crate::service::scheme(&scheme) else {
        return Err(bad(
            text,
            format!(
                "unknown scheme {scheme:?}: reach knows the usual ones (https, smtp, imaps, ssh, \
                 postgres, …); write HOST:PORT for any other service"
            ),
        ));
    };
    let url = url::Url::parse(text).map_err(|e| bad(text, url_problem(e)))?;
    let host = match url.host() {
        None => return Err(bad(text, "no host")),
        // http, https, ws, wss and ftp hosts are parsed by the URL parser itself; other
        // schemes keep an "opaque" host, which is parsed here with the same rules.
        Some(url::Host::Domain(domain)) if !url.is_special() => {
            if domain.is_empty() {
                return Err(bad(text, "no host"));
            }
            url::Host::parse(domain).map_err(|e| bad(text, url_problem(e)))?
        }
        Some(host) => host.to_owned(),
    };
    let host = match host {
        url::Host::Ipv4(v4) => Host::Ip(IpAddr::V4(v4)),
        url::Host::Ipv6(v6) => Host::Ip(IpAddr::V6(v6)),
        url::Host::Domain(name) => {
            validate_dns_name(&name).map_err(|p| bad(text, p))?;
            Host::Name(name.trim_end_matches('.').to_ascii_lowercase())
        }
    };
    // The URL parser drops a port equal to the scheme's default; reach's default is the same.
    let port = match url.port() {
        Some(0) => return Err(bad(text, "port 0 is out of range (1-65535)")),
        Some(port) => port,
        // No port is "the" UDP port: the request sent depends on it.
        None if scheme == "udp" => {
            return Err(bad(text, "udp:// needs a port (udp://HOST:PORT)"));
        }
        None => info.port,
    };
    Ok(Target {
        input: text.to_string(),
        host,
        port: Some(port),
        scheme: Some(scheme),
        sni: None,
    })
}

/// A URL parse error in the words of this module.
fn url_problem(e: url::ParseError) -> String {
    use url::ParseError as E;
    match e {
        E::EmptyHost => "no host".into(),
        E::InvalidPort => "the port is not a number in 1-65535".into(),
        E::IdnaError => "the host is not a valid (international) domain name".into(),
        E::InvalidDomainCharacter => "the host holds a character not allowed in a host".into(),
        E::InvalidIpv4Address => "not a valid IPv4 address".into(),
        E::InvalidIpv6Address => "not a valid IPv6 address".into(),
        other => format!("not a valid URL: {other}"),
    }
}

fn split_host_port<'a>(
    input: &str,
    authority: &'a str,
) -> Result<(Host, Option<&'a str>), TargetError> {
    if authority.is_empty() {
        return Err(bad(input, "no host"));
    }
    if let Some(inner) = authority.strip_prefix('[') {
        let Some((addr, after)) = inner.split_once(']') else {
            return Err(bad(input, "'[' without a closing ']'"));
        };
        let ip: Ipv6Addr = addr
            .parse()
            .map_err(|_| bad(input, format!("{addr:?} is not an IPv6 address")))?;
        let port = match after {
            "" => None,
            _ => match after.strip_prefix(':') {
                Some(p) => Some(p),
                None => return Err(bad(input, format!("unexpected {after:?} after ']'"))),
            },
        };
        return Ok((Host::Ip(IpAddr::V6(ip)), port));
    }
    if authority.matches(':').count() >= 2 {
        // Several colons and no brackets: only a bare IPv6 address makes sense.
        let ip: Ipv6Addr = authority.parse().map_err(|_| {
            bad(
                input,
                "not an IPv6 address (write [address]:port to give a port)",
            )
        })?;
        return Ok((Host::Ip(IpAddr::V6(ip)), None));
    }
    let (host, port) = match authority.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    Ok((parse_host(input, host)?, port))
}

fn parse_host(input: &str, host: &str) -> Result<Host, TargetError> {
    if host.is_empty() {
        return Err(bad(input, "no host"));
    }
    if let Ok(v4) = host.parse::<Ipv4Addr>() {
        return Ok(Host::Ip(IpAddr::V4(v4)));
    }
    validate_dns_name(host).map_err(|p| bad(input, p))?;
    Ok(Host::Name(host.trim_end_matches('.').to_ascii_lowercase()))
}

/// Checks host-name syntax (letters, digits, `-`, `_`; labels of 1–63; at most 253 in all; the
/// last label not all-numeric, so that `999.1.1.1` is not taken for a name).
pub fn validate_dns_name(name: &str) -> Result<(), String> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() {
        return Err("empty host name".into());
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err("empty label in host name".into());
        }
        if label.len() > 63 {
            return Err(format!("label of {} characters (at most 63)", label.len()));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(format!("character {c:?} is not allowed in a host name"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("label {label:?} starts or ends with '-'"));
        }
    }
    if name.len() > 253 {
        return Err(format!(
            "host name is {} characters long (at most 253)",
            name.len()
        ));
    }
    if name
        .rsplit('.')
        .next()
        .is_some_and(|last| last.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err("not a valid IPv4 address, and a host name cannot end in a number".into());
    }
    Ok(())
}

fn parse_port(input: &str, text: &str) -> Result<u16, TargetError> {
    if text.is_empty() {
        return Err(bad(input, "empty port"));
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return crate::service::scheme(&text.to_ascii_lowercase())
            .map(|info| info.port)
            .ok_or_else(|| {
                bad(
                    input,
                    format!("port {text:?} is not a number or a known service"),
                )
            });
    }
    match text.parse::<u32>() {
        Ok(p @ 1..=65535) => Ok(p as u16),
        Ok(0) => Err(bad(input, "port 0 is not a port (ports are 1-65535)")),
        _ => Err(bad(input, format!("port {text} is out of range (1-65535)"))),
    }
}

/// Parses a `-p` list: `22,80,443`, `8000-8100`, or a mix; duplicates are dropped, order kept.
pub fn parse_ports(spec: &str) -> Result<Vec<u16>, TargetError> {
    let mut ports = Vec::new();
    let mut seen = vec![false; 65536];
    for item in spec.split(',') {
        let item = item.trim();
        let (lo, hi) = match item.split_once('-') {
            Some((lo, hi)) => (parse_port(spec, lo.trim())?, parse_port(spec, hi.trim())?),
            None => {
                let p = parse_port(spec, item)?;
                (p, p)
            }
        };
        if lo > hi {
            return Err(bad(spec, format!("range {item} runs backwards")));
        }
        for p in lo..=hi {
            if !std::mem::replace(&mut seen[usize::from(p)], true) {
                ports.push(p);
            }
        }
    }
    Ok(ports)
}

/// An address block to sweep, e.g. `203.0.113.0/28` or `2001:db8::/120`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The text as given.
    pub input: String,
    /// First address of the block.
    pub network: IpAddr,
    /// Prefix length.
    pub prefix: u8,
    /// The port, when written as `block:port` (IPv4) or `[block]:port` (IPv6).
    pub port: Option<u16>,
}

impl Block {
    /// How many addresses the block holds (saturating for huge IPv6 blocks).
    pub fn len(&self) -> u128 {
        let bits = if self.network.is_ipv4() { 32 } else { 128 };
        1u128
            .checked_shl(u32::from(bits - self.prefix))
            .unwrap_or(u128::MAX)
    }

    /// Never empty: even a /32 or /128 holds one address.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Every address of the block as a target, lazily, in order.
    pub fn into_targets(self) -> impl Iterator<Item = Target> {
        let start = match self.network {
            IpAddr::V4(v4) => u128::from(u32::from(v4)),
            IpAddr::V6(v6) => u128::from(v6),
        };
        let v4 = self.network.is_ipv4();
        (0..self.len()).map(move |offset| {
            let n = start + offset;
            let ip = if v4 {
                IpAddr::V4(Ipv4Addr::from(u32::try_from(n).unwrap_or(u32::MAX)))
            } else {
                IpAddr::V6(Ipv6Addr::from(n))
            };
            Target {
                input: self.input.clone(),
                host: Host::Ip(ip),
                port: self.port,
                scheme: None,
                sni: None,
            }
        })
    }
}

/// Parses a CIDR block if `input` looks like one (`None` when it has no `/` before any port).
pub fn parse_block(input: &str) -> Option<Result<Block, TargetError>> {
    let text = input.trim();
    if text.contains("://") || !text.contains('/') {
        return None;
    }
    let (body, port) = if let Some(inner) = text.strip_prefix('[') {
        let (body, after) = inner.split_once(']')?;
        (body, after.strip_prefix(':'))
    } else if text.matches(':').count() == 1 {
        let (body, port) = text.split_once(':')?;
        (body, Some(port))
    } else {
        (text, None)
    };
    let (addr, prefix) = body.split_once('/')?;
    let result = (|| {
        let ip: IpAddr = addr
            .parse()
            .map_err(|_| bad(text, format!("{addr:?} is not an IP address")))?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let prefix: u8 = match prefix.parse() {
            Ok(p) if p <= max => p,
            _ => return Err(bad(text, format!("prefix length must be 0-{max}"))),
        };
        let port = port.map(|p| parse_port(text, p)).transpose()?;
        let network = mask(ip, prefix);
        Ok(Block {
            input: text.to_string(),
            network,
            prefix,
            port,
        })
    })();
    Some(result)
}

fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let m = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(v4) & m))
        }
        IpAddr::V6(v6) => {
            let m = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & m))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Target {
        parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn host_and_port_forms() {
        let t = ok("Example.COM");
        assert_eq!((t.host, t.port), (Host::Name("example.com".into()), None));
        let t = ok("example.com:8443");
        assert_eq!(t.port, Some(8443));
        let t = ok("192.0.2.1:22");
        assert_eq!(
            (t.host, t.port),
            (Host::Ip("192.0.2.1".parse().unwrap()), Some(22))
        );
        let t = ok("[2001:db8::1]:443");
        assert_eq!(
            (t.host, t.port),
            (Host::Ip("2001:db8::1".parse().unwrap()), Some(443))
        );
        let t = ok("[2001:db8::1]");
        assert_eq!(t.port, None);
        let t = ok("2001:db8::1");
        assert_eq!(
            (t.host, t.port),
            (Host::Ip("2001:db8::1".parse().unwrap()), None)
        );
        assert_eq!(
            ok("host.example.:25").host,
            Host::Name("host.example".into())
        );
        assert_eq!(ok("mail.example:smtp").port, Some(25));
    }

    #[test]
    fn urls_give_scheme_default_ports() {
        for (url, port) in [
            ("https://host.example/", 443),
            ("smtp://mail.example", 25),
            ("smtps://mail.example", 465),
            ("submission://mail.example", 587),
            ("imap://mail.example", 143),
            ("imaps://mail.example", 993),
            ("pop3://mail.example", 110),
            ("pop3s://mail.example", 995),
            ("ftp://files.example/pub/x", 21),
            ("ssh://user@shell.example", 22),
            ("ldap://dir.example", 389),
            ("ldaps://dir.example", 636),
            ("postgres://db.example/app", 5432),
            ("mysql://db.example", 3306),
            ("https://host.example:8443/path?q=1", 8443),
        ] {
            let t = ok(url);
            assert_eq!(t.port, Some(port), "{url}");
            assert!(t.scheme.is_some());
        }
        assert_eq!(
            ok("https://[2001:db8::5]/").host,
            Host::Ip("2001:db8::5".parse().unwrap())
        );
    }

    #[test]
    fn urls_are_parsed_as_browsers_parse_them() {
        let name = |s: &str| Host::Name(s.into());
        let ip = |s: &str| Host::Ip(s.parse().unwrap());
        for (url, host, port) in [
            // A backslash ends the authority of a special URL: the browser goes to localhost.
            (r"https://localhost\@127.0.0.2/", name("localhost"), 443),
            (
                r"https://localhost:8443\@127.0.0.2/",
                name("localhost"),
                8443,
            ),
            // Only in special schemes (http, https, ws, wss, ftp): elsewhere the standard
            // keeps a backslash in the userinfo, as it does for every other character.
            (r"smtp://localhost\@127.0.0.2/", ip("127.0.0.2"), 25),
            // Userinfo is not the host; the last '@' ends it.
            (
                "https://user:p@ss@host.example:8443/x",
                name("host.example"),
                8443,
            ),
            ("ssh://git@shell.example", name("shell.example"), 22),
            // Percent-encoding in the host is decoded, case folded, a trailing dot dropped.
            ("https://%6C%6Fcal%68ost/", name("localhost"), 443),
            ("HTTPS://WWW.Example.COM./", name("www.example.com"), 443),
            // International names become the punycode that DNS is asked for.
            (
                "https://bücher.example/",
                name("xn--bcher-kva.example"),
                443,
            ),
            ("imaps://Bücher.example", name("xn--bcher-kva.example"), 993),
            (
                "smtp://b%C3%BCcher.example",
                name("xn--bcher-kva.example"),
                25,
            ),
            // IPv4 in the forms browsers accept, on special and other schemes alike.
            ("http://0x7f.1/", ip("127.0.0.1"), 80),
            ("http://2130706433:8080/", ip("127.0.0.1"), 8080),
            ("ldap://127.0.0.1", ip("127.0.0.1"), 389),
            // IPv6 in brackets, compressed as usual.
            ("https://[2001:DB8:0::5]:8443/", ip("2001:db8::5"), 8443),
            ("imap://[::ffff:127.0.0.1]", ip("::ffff:127.0.0.1"), 143),
            // Default ports per scheme; an explicit default port is the same port.
            ("https://host.example:443/", name("host.example"), 443),
            ("http://host.example:443/", name("host.example"), 443),
            ("ws://host.example", name("host.example"), 80),
            ("wss://host.example", name("host.example"), 443),
            ("ftp://host.example:21", name("host.example"), 21),
            ("submission://mail.example?x#y", name("mail.example"), 587),
        ] {
            let t = ok(url);
            assert_eq!((&t.host, t.port), (&host, Some(port)), "{url}");
            assert_eq!(t.input, url);
        }
        assert_eq!(ok("HTTPS://h.example").scheme.as_deref(), Some("https"));
    }

    #[test]
    fn bad_urls_are_usage_errors_naming_the_problem() {
        for (input, needle) in [
            ("no such scheme!://127.0.0.1:1", "is not a URL scheme"),
            ("1http://host", "is not a URL scheme"),
            ("://host", "is not a URL scheme"),
            // An unknown scheme is refused even with a port: reach would not know what to say.
            ("gopherx://127.0.0.1:70", "unknown scheme \"gopherx\""),
            ("https://host.example:99999/", "port is not a number"),
            ("https://host.example:0/", "port 0"),
            ("https://host.example:https/", "port is not a number"),
            ("https:///", "no host"),
            ("smtp://", "no host"),
            ("smtp://:25", "no host"),
            ("https://[::1/", "IPv6"),
            ("imap://[::1", "IPv6"),
            (
                "https://exa mple.com/",
                "not a valid (international) domain name",
            ),
            ("https://a..b/", "empty label"),
            ("https://bad_host!.example/", "not allowed"),
            ("https://999.1.1.1/", "IPv4"),
        ] {
            let e = parse(input).expect_err(input);
            let msg = e.to_string();
            assert!(msg.contains(needle), "{input:?} gave {msg:?}");
            assert!(!msg.contains('\n'));
        }
    }

    #[test]
    fn address_name_pairs_set_the_sni() {
        let t = ok("203.0.113.10:443,A.Example");
        assert_eq!(t.host, Host::Ip("203.0.113.10".parse().unwrap()));
        // The case is kept: the SNI goes out as given.
        assert_eq!(t.sni.as_deref(), Some("A.Example"));
        assert!(parse("203.0.113.10,bad name").is_err());
    }

    #[test]
    fn bad_input_names_the_input_and_the_problem() {
        let cases = [
            ("host:99999", "out of range"),
            ("host:0", "port 0 is not a port"),
            ("[::1", "closing ']'"),
            ("", "empty target"),
            ("   ", "empty target"),
            ("host:", "empty port"),
            ("host:abc", "not a number"),
            ("bad_host!.example", "not allowed"),
            ("-lead.example", "starts or ends"),
            ("a..b", "empty label"),
            ("999.1.1.1", "IPv4"),
            ("1:2:3", "IPv6"),
            ("[2001:db8::1]x", "after ']'"),
            ("gopherx://host", "unknown scheme"),
            ("udp://192.0.2.1", "udp:// needs a port"),
        ];
        for (input, needle) in cases {
            let e = parse(input).expect_err(input);
            let msg = e.to_string();
            assert!(msg.contains(needle), "{input:?} gave {msg:?}");
            assert!(!msg.contains('\n'));
        }
        let long_label = format!("{}.example", "a".repeat(300));
        assert!(
            parse(&long_label)
                .unwrap_err()
                .to_string()
                .contains("at most 63")
        );
        let long_name = vec!["abcdefghij"; 30].join(".");
        assert!(
            parse(&long_name)
                .unwrap_err()
                .to_string()
                .contains("at most 253")
        );
        assert!(
            parse(&"x".repeat(5000))
                .unwrap_err()
                .to_string()
                .contains("2048")
        );
    }

    #[test]
    fn port_lists_and_ranges() {
        assert_eq!(parse_ports("22,80,443").unwrap(), vec![22, 80, 443]);
        assert_eq!(
            parse_ports("8000-8003").unwrap(),
            vec![8000, 8001, 8002, 8003]
        );
        assert_eq!(parse_ports("80, 22-23,80").unwrap(), vec![80, 22, 23]);
        assert_eq!(parse_ports("1-65535").unwrap().len(), 65535);
        assert!(parse_ports("90-80").is_err());
        assert!(parse_ports("70000").is_err());
        assert!(parse_ports("").is_err());
        assert!(parse_ports("1,,2").is_err());
    }
    #[test]
    fn cidr_blocks() {
        let b = parse_block("203.0.113.0/28").unwrap().unwrap();
        assert_eq!(b.len(), 16);
        let all: Vec<_> = b.into_targets().map(|t| t.host.to_string()).collect();
        assert_eq!(all.first().unwrap(), "203.0.113.0");
        assert_eq!(all.last().unwrap(), "203.0.113.15");
        let b = parse_block("203.0.113.77/30:443").unwrap().unwrap();
        assert_eq!(
            (b.network.to_string(), b.port),
            ("203.0.113.76".into(), Some(443))
        );
        let b = parse_block("[2001:db8::/126]:22").unwrap().unwrap();
        assert_eq!((b.len(), b.port), (4, Some(22)));
        assert_eq!(
            parse_block("2001:db8::/32").unwrap().unwrap().len(),
            1u128 << 96
        );
        assert_eq!(parse_block("192.0.2.1/32").unwrap().unwrap().len(), 1);
        assert!(parse_block("192.0.2.0/33").unwrap().is_err());
        assert!(parse_block("host.example/24").unwrap().is_err());
        assert!(parse_block("https://host/path").is_none());
        assert!(parse_block("host:443").is_none());
    }
    #[test]
    fn hostile_targets_never_panic() {
        // A deterministic xorshift walk over the characters that matter to the grammar.
        let alphabet: Vec<char> = "[]:/.,@#?-_09azAZ%\u{0}\u{1b}é\u{202e} 😀"
            .chars()
            .collect();
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 40) as usize;
            let text: String = (0..len)
                .map(|i| alphabet[((state >> (i % 50)) as usize + i) % alphabet.len()])
                .collect();
            let _ = parse(&text);
            let _ = parse_block(&text);
            let _ = parse_ports(&text);
        }
    }
}
