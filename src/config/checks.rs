//! The checks file of `reach check FILE`: entries of targets with their expectations, read and
//! checked whole before anything is probed (a bad file is a usage error naming the line and
//! column). See examples/deploy.toml.
//!
//! ```toml
//! [[check]]
//! name = "web"                                  # the JUnit test suite
//! names = ["www.example", "api.example"]        # SNI names (resolved unless `addresses`)
//! addresses = ["192.0.2.1", "192.0.2.2"]        # every name is probed on every address
//! port = 443
//! tls = { ca_file = ["corp-root.pem"] }
//! expect = { min_days = 30, issuer = "Corp Issuing CA", same_cert = true }
//!
//! [[check]]
//! name = "mail"
//! targets = ["smtp://mx1.example", "mx2.example:25"]   # any reach target
//! starttls = "smtp"
//! expect = { tls_min = "1.2" }
//! ```

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;

use super::ConfigError;
use super::expect::{ExpectSpec, Parsed};
use super::file::{DurationWord, ProbeTable, StarttlsWord, TlsSpec, read_toml};
use crate::probe::ProbeOptions;
use crate::probe::tls::TlsContext;
use crate::target::{self, Target};

/// Most probes one checks file may ask for (targets × names × addresses × ports).
pub(crate) const MAX_PROBES: usize = 10_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    check: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: Option<String>,
    #[serde(default)]
    targets: Vec<String>,
    #[serde(default)]
    names: Vec<String>,
    #[serde(default)]
    addresses: Vec<IpAddr>,
    port: Option<u16>,
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

/// One entry, ready to run.
#[derive(Debug, Clone)]
pub struct Check {
    /// Its name (the JUnit test suite).
    pub name: String,
    /// Its targets, in order.
    pub targets: Vec<Target>,
    /// Ports for targets that name none.
    pub ports: Vec<u16>,
    /// How each probe is done, with the per-probe expectations.
    pub probe: ProbeOptions,
    /// Trust and client identity, loaded.
    pub tls: Arc<TlsContext>,
    /// `expect.same_cert`: decided over the entry's reports once they are all in.
    pub same_cert: bool,
}

/// Reads and checks a checks file.
pub fn load(path: &Path) -> Result<Vec<Check>, ConfigError> {
    let file: File = read_toml(path)?;
    let shown = path.display().to_string();
    if file.check.is_empty() {
        return Err(ConfigError::Syntax {
            path: shown,
            problem: "no [[check]] entry: nothing to probe".into(),
        });
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let mut checks = Vec::new();
    let mut probes = 0usize;
    for (i, entry) in file.check.into_iter().enumerate() {
        let name = entry
            .name
            .clone()
            .unwrap_or_else(|| format!("check {}", i + 1));
        let bad = |problem: String| ConfigError::Syntax {
            path: shown.clone(),
            problem: format!("[[check]] {name:?}: {problem}"),
        };
        let targets = entry_targets(&entry).map_err(&bad)?;
        let ports = entry.port.map(|p| vec![p]).unwrap_or_default();
        probes = probes.saturating_add(targets.len() * ports.len().max(1));
        if probes > MAX_PROBES {
            return Err(bad(format!(
                "the file asks for more than {MAX_PROBES} probes"
            )));
        }
        let table = ProbeTable {
            starttls: entry.starttls,
            no_starttls: entry.no_starttls,
            timeout: entry.timeout,
            greeting_timeout: entry.greeting_timeout,
            tls: entry.tls,
            expect: entry.expect,
        };
        let (probe, tls, expect) = table.build(base, None).map_err(|e| bad(e.to_string()))?;
        checks.push(Check {
            name,
            targets,
            ports,
            probe,
            tls,
            same_cert: expect.same_cert,
        });
    }
    Ok(checks)
}

/// `targets` as written, then every name on every address (or the names themselves).
fn entry_targets(entry: &Entry) -> Result<Vec<Target>, String> {
    if entry.targets.is_empty() && entry.names.is_empty() && entry.addresses.is_empty() {
        return Err("give targets, names or addresses".into());
    }
    let mut out = Vec::new();
    for text in &entry.targets {
        out.push(target::parse(text).map_err(|e| e.to_string())?);
    }
    let with_port = |host: String| match entry.port {
        Some(port) if host.contains(':') => format!("[{host}]:{port}"),
        Some(port) => format!("{host}:{port}"),
        None if host.contains(':') => format!("[{host}]"),
        None => host,
    };
    match (entry.names.is_empty(), entry.addresses.is_empty()) {
        (false, true) => {
            for name in &entry.names {
                target::validate_dns_name(name).map_err(|p| format!("name {name:?}: {p}"))?;
                out.push(target::parse(&with_port(name.clone())).map_err(|e| e.to_string())?);
            }
        }
        (true, false) => {
            for address in &entry.addresses {
                out.push(
                    target::parse(&with_port(address.to_string())).map_err(|e| e.to_string())?,
                );
            }
        }
        (false, false) => {
            for name in &entry.names {
                for address in &entry.addresses {
                    let text = format!("{},{name}", with_port(address.to_string()));
                    out.push(target::parse(&text).map_err(|e| e.to_string())?);
                }
            }
        }
        (true, true) => {}
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_checks_file_reads() {
        let file: File = toml::from_str(include_str!("../../examples/deploy.toml")).unwrap();
        assert_eq!(file.check.len(), 4);
        let web = entry_targets(&file.check[0]).unwrap();
        assert_eq!(web.len(), 6);
        assert_eq!(web[0].input, "192.0.2.10:443,www.example.com");
    }
}
