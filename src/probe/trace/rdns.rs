//! Best-effort reverse DNS names for the hops of a trace, all looked up at once under one
//! deadline; any failure just leaves a hop without a name.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::proto::rr::RData;
use tokio::task::JoinSet;

use crate::report::trace::TraceHop;

/// Fills in `hostname` for every hop whose address has a PTR record found within `deadline`.
pub(super) async fn annotate(hops: &mut [TraceHop], deadline: Duration) {
    let mut addresses: Vec<IpAddr> = hops.iter().filter_map(|h| h.address).collect();
    addresses.sort();
    addresses.dedup();
    if addresses.is_empty() {
        return;
    }
    let Ok(builder) = TokioResolver::builder_tokio() else {
        return;
    };
    let Ok(resolver) = builder.build() else {
        return;
    };
    let mut lookups = JoinSet::new();
    for address in addresses {
        let resolver = resolver.clone();
        lookups.spawn(async move {
            let name = resolver
                .reverse_lookup(address)
                .await
                .ok()
                .and_then(|lookup| {
                    lookup
                        .answers()
                        .iter()
                        .find_map(|record| match &record.data {
                            RData::PTR(ptr) => {
                                Some(ptr.to_string().trim_end_matches('.').to_string())
                            }
                            _ => None,
                        })
                });
            (address, name)
        });
    }
    let mut names = HashMap::new();
    let collect = async {
        while let Some(joined) = lookups.join_next().await {
            if let Ok((address, Some(name))) = joined {
                names.insert(address, name);
            }
        }
    };
    // Past the deadline the unfinished lookups are dropped (and aborted with the JoinSet).
    let _ = tokio::time::timeout(deadline, collect).await;
    for hop in hops {
        hop.hostname = hop.address.and_then(|a| names.get(&a).cloned());
    }
}
