//! A whole run: resolves the targets, expands them into probes (address × port), runs the
//! probes concurrently within bounds, and hands each report to a sink.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::config::Settings;
use crate::probe::resolve::Resolver;
use crate::probe::{self, AttemptHook, ProbeSpec};
use crate::report::{DnsOutcome, Report};
use crate::target::{Host, Target};

/// How many probes run at once.
pub const DEFAULT_CONCURRENCY: usize = 256;

/// One unit of work: a probe to run, or a report already decided (a name that did not
/// resolve).
enum Job {
    Probe(ProbeSpec),
    Done(Box<Report>),
}

/// Runs every probe of `settings` and calls `sink` with each report. With `ordered`, reports
/// arrive in input order (target, port, address); otherwise as soon as each finishes.
pub async fn run(
    settings: Arc<Settings>,
    hook: Option<AttemptHook>,
    ordered: bool,
    mut sink: impl FnMut(Report),
) {
    let jobs = expand(&settings).await;
    let limit = Arc::new(Semaphore::new(DEFAULT_CONCURRENCY));
    let mut set = JoinSet::new();
    for (index, job) in jobs.into_iter().enumerate() {
        let settings = Arc::clone(&settings);
        let limit = Arc::clone(&limit);
        let hook = hook.clone();
        set.spawn(async move {
            let report = match job {
                Job::Done(report) => *report,
                Job::Probe(spec) => {
                    // The semaphore is never closed, so acquiring cannot fail; if it somehow
                    // did, running unthrottled is still correct.
                    let _permit = limit.acquire().await.ok();
                    probe::run(&spec, &settings, hook.as_ref()).await
                }
            };
            (index, report)
        });
    }
    let mut pending: BTreeMap<usize, Report> = BTreeMap::new();
    let mut next = 0;
    while let Some(joined) = set.join_next().await {
        // A probe task can only end abnormally by panicking; keep going with the others.
        let Ok((index, report)) = joined else {
            continue;
        };
        if !ordered {
            sink(report);
            continue;
        }
        pending.insert(index, report);
        while let Some(report) = pending.remove(&next) {
            sink(report);
            next += 1;
        }
    }
    for (_, report) in pending {
        sink(report);
    }
}

/// Resolves every name (concurrently) and turns targets into jobs, in input order.
async fn expand(settings: &Settings) -> Vec<Job> {
    let resolver = Arc::new(Resolver::new(
        settings.resolver,
        settings.family,
        settings.dns_timeout,
    ));
    let mut lookups = JoinSet::new();
    for (index, target) in settings.targets.iter().enumerate() {
        if let Host::Name(name) = &target.host {
            let resolver = Arc::clone(&resolver);
            let name = name.clone();
            lookups.spawn(async move { (index, resolver.resolve(&name).await) });
        }
    }
    let mut resolved = BTreeMap::new();
    while let Some(Ok((index, dns))) = lookups.join_next().await {
        resolved.insert(index, dns);
    }
    let mut jobs = Vec::new();
    for (index, target) in settings.targets.iter().enumerate() {
        let target = Arc::new(target.clone());
        for port in settings.ports_for(&target) {
            match (&target.host, resolved.get(&index)) {
                (Host::Ip(ip), _) => {
                    if settings.family.admits(ip) {
                        jobs.push(Job::Probe(spec(&target, *ip, port, None)));
                    } else {
                        jobs.push(Job::Done(Box::new(family_mismatch(&target, port, *ip))));
                    }
                }
                (Host::Name(_), Some(dns)) if dns.outcome == DnsOutcome::Resolved => {
                    for ip in &dns.addresses {
                        jobs.push(Job::Probe(spec(&target, *ip, port, Some(dns.clone()))));
                    }
                }
                (Host::Name(_), Some(dns)) => {
                    jobs.push(Job::Done(Box::new(probe::dns_failure(
                        &target,
                        port,
                        dns.clone(),
                    ))));
                }
                (Host::Name(name), None) => {
                    // The lookup task panicked: report it as a resolver error, not silence.
                    let dns = crate::report::DnsReport {
                        name: name.clone(),
                        outcome: DnsOutcome::Error,
                        addresses: vec![],
                        resolve_ms: 0.0,
                        detail: Some("lookup failed unexpectedly".into()),
                    };
                    jobs.push(Job::Done(Box::new(probe::dns_failure(&target, port, dns))));
                }
            }
        }
    }
    jobs
}

fn spec(
    target: &Arc<Target>,
    address: std::net::IpAddr,
    port: u16,
    dns: Option<crate::report::DnsReport>,
) -> ProbeSpec {
    ProbeSpec {
        target: Arc::clone(target),
        address,
        port,
        dns,
    }
}

/// `-6` with an IPv4 literal (or `-4` with IPv6): there is nothing of the asked family.
fn family_mismatch(target: &Target, port: u16, ip: std::net::IpAddr) -> Report {
    let dns = crate::report::DnsReport {
        name: ip.to_string(),
        outcome: DnsOutcome::NoRecords,
        addresses: vec![],
        resolve_ms: 0.0,
        detail: Some("the address is not of the family asked for (-4/-6)".into()),
    };
    probe::dns_failure(target, port, dns)
}
