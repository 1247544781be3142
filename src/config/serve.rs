//! The exporter's configuration (`reach serve --config reach.toml`): bounds of the server and
//! the modules a scrape may name. Deny by default: a module probes only the networks, names
//! and ports it allows. See examples/reach.toml.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::ConfigError;
use super::expect::{ExpectSpec, Parsed, Word};
use super::file::{DurationWord, ProbeTable, StarttlsWord, TlsSpec, read_toml};
use crate::probe::ProbeOptions;
use crate::probe::tls::TlsContext;
use crate::target;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    server: ServerSpec,
    #[serde(default)]
    module: BTreeMap<String, ModuleSpec>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerSpec {
    max_concurrent_scrapes: Option<usize>,
    max_timeout: Option<Parsed<DurationWord>>,
    max_addresses: Option<usize>,
    max_connections: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModuleSpec {
    #[serde(default)]
    ports: Vec<u16>,
    #[serde(default)]
    allow_networks: Vec<Parsed<Network>>,
    #[serde(default)]
    allow_names: Vec<Parsed<NamePattern>>,
    #[serde(default)]
    sni: Vec<String>,
    #[serde(default)]
    allow_sni_param: bool,
    starttls: Option<Parsed<StarttlsWord>>,
    #[serde(default)]
    no_starttls: bool,
    timeout: Option<Parsed<DurationWord>>,
    greeting_timeout: Option<Parsed<DurationWord>>,
    #[serde(default)]
    tls: TlsSpec,
    #[serde(default)]
    expect: ExpectSpec,
}

/// The exporter, configured.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Scrapes probed at once; more wait (within their deadline) or get 503.
    pub max_concurrent_scrapes: usize,
    /// The longest a scrape may take, and its deadline when Prometheus sends none.
    pub max_timeout: Duration,
    /// Addresses of one name probed at most.
    pub max_addresses: usize,
    /// HTTP connections open at once.
    pub max_connections: usize,
    /// Modules by name.
    pub modules: BTreeMap<String, Arc<Module>>,
}

/// One module: what a scrape naming it may probe, and how.
#[derive(Debug)]
pub struct Module {
    /// Ports a target may name; the first is used when it names none.
    pub ports: Vec<u16>,
    /// Networks whose addresses may be probed (a name's addresses too).
    pub networks: Vec<Network>,
    /// Names that may be probed or sent as SNI.
    pub names: Vec<NamePattern>,
    /// SNI names sent on every address (when empty: the target's name, or none).
    pub sni: Vec<String>,
    /// A scrape may add `sni=NAME` (an allowed name).
    pub allow_sni_param: bool,
    /// How each probe is done, with its expectations.
    pub probe: ProbeOptions,
    /// Trust and client identity, loaded.
    pub tls: Arc<TlsContext>,
    /// `expect.same_cert`, decided over the addresses of the scrape.
    pub same_cert: bool,
}

impl Module {
    /// Whether `ip` may be probed.
    pub fn allows_address(&self, ip: IpAddr) -> bool {
        self.networks.iter().any(|n| n.contains(ip))
    }

    /// Whether `name` may be probed or sent as SNI.
    pub fn allows_name(&self, name: &str) -> bool {
        self.names.iter().any(|p| p.matches(name))
    }
}

/// An allowed network: `127.0.0.0/8`, `::1/128`, or a bare address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    base: IpAddr,
    prefix: u8,
}

impl Network {
    /// Whether `ip` is inside (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.base, ip) {
            (IpAddr::V4(base), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(base) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(base), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(base) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl Word for Network {
    fn parse(text: &str) -> Result<Self, String> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let base: IpAddr = addr
            .parse()
            .map_err(|_| format!("{text:?} is not an address or CIDR network"))?;
        let max = if base.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{text:?}: prefix length must be 0 to {max}"))?,
        };
        Ok(Network { base, prefix })
    }
}

/// An allowed name: exact (`www.example`), every name under a domain (`*.example`), or
/// any name (`*`: the addresses must still be in an allowed network).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamePattern(String);

impl NamePattern {
    fn matches(&self, name: &str) -> bool {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        match self.0.strip_prefix('*') {
            Some("") => true,
            Some(suffix) => name.len() > suffix.len() && name.ends_with(suffix),
            None => name == self.0,
        }
    }
}

impl Word for NamePattern {
    fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim_end_matches('.').to_ascii_lowercase();
        if text == "*" {
            return Ok(NamePattern(text));
        }
        let bare = text.strip_prefix("*.").unwrap_or(&text);
        target::validate_dns_name(bare).map_err(|p| format!("{text:?}: {p}"))?;
        Ok(NamePattern(text))
    }
}

/// Reads and checks the exporter's configuration.
pub fn load(path: &Path) -> Result<ServeConfig, ConfigError> {
    let file: File = read_toml(path)?;
    let shown = path.display().to_string();
    let bad = |problem: String| ConfigError::Syntax {
        path: shown.clone(),
        problem,
    };
    if file.module.is_empty() {
        return Err(bad(
            "no [module.NAME] section: nothing could be probed".into()
        ));
    }
    let max_timeout = file
        .server
        .max_timeout
        .map_or(Duration::from_secs(30), |d| d.0.0);
    let base = path.parent().unwrap_or(Path::new("."));
    let mut modules = BTreeMap::new();
    for (name, spec) in file.module {
        let bad = |problem: String| bad(format!("[module.{name}]: {problem}"));
        if spec.allow_networks.is_empty() {
            return Err(bad(
                "allow_networks is empty: the module could probe nothing (deny by default)".into(),
            ));
        }
        let names: Vec<NamePattern> = spec.allow_names.into_iter().map(|p| p.0).collect();
        let mut sni = Vec::new();
        for n in spec.sni {
            target::validate_dns_name(&n).map_err(|p| bad(format!("sni {n:?}: {p}")))?;
            sni.push(n.trim_end_matches('.').to_ascii_lowercase());
        }
        let table = ProbeTable {
            starttls: spec.starttls,
            no_starttls: spec.no_starttls,
            timeout: spec.timeout,
            greeting_timeout: spec.greeting_timeout,
            tls: spec.tls,
            expect: spec.expect,
        };
        let (probe, tls, expect) = table
            .build(base, Some(max_timeout))
            .map_err(|e| bad(e.to_string()))?;
        modules.insert(
            name,
            Arc::new(Module {
                ports: if spec.ports.is_empty() {
                    vec![443]
                } else {
                    spec.ports
                },
                networks: spec.allow_networks.into_iter().map(|n| n.0).collect(),
                names,
                sni,
                allow_sni_param: spec.allow_sni_param,
                probe,
                tls,
                same_cert: expect.same_cert,
            }),
        );
    }
    let positive = |what: &str, n: Option<usize>, default: usize| match n {
        Some(0) => Err(bad(format!("[server] {what} must be at least 1"))),
        Some(n) => Ok(n),
        None => Ok(default),
    };
    Ok(ServeConfig {
        max_concurrent_scrapes: positive(
            "max_concurrent_scrapes",
            file.server.max_concurrent_scrapes,
            16,
        )?,
        max_timeout,
        max_addresses: positive("max_addresses", file.server.max_addresses, 8)?,
        max_connections: positive("max_connections", file.server.max_connections, 256)?,
        modules,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_and_names_allow_only_what_they_say() {
        let net = Network::parse("127.0.0.0/8").unwrap();
        assert!(net.contains("127.1.2.3".parse().unwrap()));
        assert!(net.contains("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!net.contains("10.0.0.1".parse().unwrap()));
        assert!(!net.contains("::1".parse().unwrap()));
        assert!(
            Network::parse("::1")
                .unwrap()
                .contains("::1".parse().unwrap())
        );
        assert!(
            Network::parse("0.0.0.0/0")
                .unwrap()
                .contains("192.0.2.1".parse().unwrap())
        );
        assert!(Network::parse("10.0.0.0/33").is_err());
        assert!(Network::parse("example").is_err());
        let names = NamePattern::parse("*.lab.example").unwrap();
        assert!(names.matches("www.lab.example"));
        assert!(names.matches("WWW.LAB.EXAMPLE."));
        assert!(!names.matches("lab.example"));
        assert!(!names.matches("evil-lab.example"));
        assert!(NamePattern::parse("bad name").is_err());
    }
}

#[cfg(test)]
mod example {
    #[test]
    fn the_example_exporter_config_reads() {
        let file: super::File = toml::from_str(include_str!("../../examples/reach.toml")).unwrap();
        assert_eq!(file.module.len(), 3);
    }
}
