//! Name resolution: every A and AAAA record, with NXDOMAIN, "no records of this family" and a
//! resolver timeout kept apart (getaddrinfo folds them into one error, hence hickory).

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    ConnectionConfig, LookupIpStrategy, NameServerConfig, ResolverConfig,
};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;

use crate::report::{DnsOutcome, DnsReport};

/// Which address families to probe.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Family {
    /// Every A and AAAA record.
    #[default]
    Any,
    /// A records only.
    V4,
    /// AAAA records only.
    V6,
}

impl Family {
    /// Whether `ip` belongs to this family.
    pub fn admits(self, ip: &IpAddr) -> bool {
        match self {
            Family::Any => true,
            Family::V4 => ip.is_ipv4(),
            Family::V6 => ip.is_ipv6(),
        }
    }
}

/// How names are resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolverOptions {
    /// A specific DNS server (`None`: the system's).
    pub server: Option<SocketAddr>,
    /// Address families to ask for.
    pub family: Family,
    /// Deadline of one lookup.
    pub timeout: Duration,
}

impl Default for ResolverOptions {
    fn default() -> Self {
        ResolverOptions {
            server: None,
            family: Family::Any,
            timeout: Duration::from_secs(5),
        }
    }
}

/// A resolver shared by every probe of a run.
pub struct Resolver {
    inner: Option<TokioResolver>,
    /// The server asked (`--resolver`), named when it fails.
    server: Option<SocketAddr>,
    setup_error: Option<String>,
    family: Family,
    timeout: Duration,
}

impl Resolver {
    /// Builds a resolver from the system configuration, or aimed at `server` when given.
    /// A broken system configuration is not fatal: lookups then report it as their verdict.
    pub fn new(options: ResolverOptions) -> Self {
        let ResolverOptions {
            server,
            family,
            timeout,
        } = options;
        let builder = match server {
            Some(addr) => {
                let mut udp = ConnectionConfig::udp();
                udp.port = addr.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = addr.port();
                let ns = NameServerConfig::new(addr.ip(), true, vec![udp, tcp]);
                let config = ResolverConfig::from_parts(None, vec![], vec![ns]);
                Ok(TokioResolver::builder_with_config(
                    config,
                    TokioRuntimeProvider::default(),
                ))
            }
            None => TokioResolver::builder_tokio(),
        };
        let built = builder.and_then(|mut b| {
            let opts = b.options_mut();
            opts.timeout = timeout;
            opts.attempts = 1;
            opts.ip_strategy = match family {
                Family::Any => LookupIpStrategy::Ipv4AndIpv6,
                Family::V4 => LookupIpStrategy::Ipv4Only,
                Family::V6 => LookupIpStrategy::Ipv6Only,
            };
            b.build()
        });
        match built {
            Ok(inner) => Resolver {
                inner: Some(inner),
                server,
                setup_error: None,
                family,
                timeout,
            },
            Err(e) => Resolver {
                inner: None,
                server,
                setup_error: Some(e.to_string()),
                family,
                timeout,
            },
        }
    }

    /// Looks `name` up. Never fails: every outcome is a [`DnsReport`].
    pub async fn resolve(&self, name: &str) -> DnsReport {
        let started = Instant::now();
        let report = |outcome, addresses: Vec<IpAddr>, detail: Option<String>| DnsReport {
            name: name.to_string(),
            outcome,
            addresses,
            resolve_ms: started.elapsed().as_secs_f64() * 1000.0,
            detail,
        };
        if is_localhost(name) {
            // RFC 6761 §6.3: localhost is loopback, answered here so it never leaves the host
            // (a resolver asked for localhost's AAAA would otherwise forward the query).
            let loopback = [
                IpAddr::from([127, 0, 0, 1]),
                IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
            ];
            let addresses: Vec<IpAddr> = loopback
                .into_iter()
                .filter(|ip| self.family.admits(ip))
                .collect();
            return report(DnsOutcome::Resolved, addresses, None);
        }
        let Some(inner) = &self.inner else {
            return report(DnsOutcome::Error, vec![], self.setup_error.clone());
        };
        // hickory has its own per-query timeout; this outer one bounds retries and search
        // domains too, so the user's deadline holds whatever the resolver configuration says.
        let fqdn = format!("{name}.");
        // A server the user named is named back when it fails: "the resolver" would read as
        // the system's.
        let named = |what: String| match self.server {
            Some(server) => Some(format!("resolver {server}: {what}")),
            None => Some(what),
        };
        match tokio::time::timeout(self.timeout, inner.lookup_ip(fqdn.as_str())).await {
            Err(_) => {
                let detail = self
                    .server
                    .map(|server| format!("resolver {server} did not answer in time"));
                report(DnsOutcome::Timeout, vec![], detail)
            }
            Ok(Ok(lookup)) => {
                let mut addresses: Vec<IpAddr> = Vec::new();
                for ip in lookup.iter().filter(|ip| self.family.admits(ip)) {
                    if !addresses.contains(&ip) {
                        addresses.push(ip);
                    }
                }
                let outcome = if addresses.is_empty() {
                    DnsOutcome::NoRecords
                } else {
                    DnsOutcome::Resolved
                };
                report(outcome, addresses, None)
            }
            Ok(Err(e)) => {
                let (outcome, detail) = classify(&e);
                let detail = match outcome {
                    DnsOutcome::Timeout => self
                        .server
                        .map(|server| format!("resolver {server} did not answer in time")),
                    DnsOutcome::Error => detail.and_then(named),
                    _ => detail,
                };
                report(outcome, vec![], detail)
            }
        }
    }
}

fn is_localhost(name: &str) -> bool {
    let name = name.trim_end_matches('.');
    name == "localhost" || name.ends_with(".localhost")
}

fn classify(e: &NetError) -> (DnsOutcome, Option<String>) {
    if e.is_nx_domain() {
        (DnsOutcome::Nxdomain, None)
    } else if e.is_no_records_found() {
        (DnsOutcome::NoRecords, None)
    } else if matches!(e, NetError::Timeout) || e.to_string().contains("timed out") {
        (DnsOutcome::Timeout, None)
    } else {
        (DnsOutcome::Error, Some(e.to_string()))
    }
}
