//! Memory of chains already found trusted, so repeated probes of the same server skip the
//! chain's signature checks (the handshake's own signature is still verified every time).
//!
//! Only positive verdicts are kept, keyed by the SHA-256 of every certificate in the chain as
//! presented, together with the period in which all of them are valid: a chain that verified
//! once verifies again at any moment of that period (the other checks do not depend on time).

use std::collections::HashMap;
use std::sync::Mutex;

/// Most chains remembered; the memory is emptied when it is full.
const CAPACITY: usize = 1024;

/// Trusted chains → the period (Unix times, inclusive) in which that verdict holds.
#[derive(Debug, Default)]
pub struct ChainCache {
    trusted: Mutex<HashMap<String, (i64, i64)>>,
}

impl ChainCache {
    /// Whether the chain `key` is known to be trusted at `now`.
    pub fn trusted_at(&self, key: &str, now: i64) -> bool {
        let map = self.trusted.lock().unwrap_or_else(|p| p.into_inner());
        map.get(key)
            .is_some_and(|(from, until)| (*from..=*until).contains(&now))
    }

    /// Remembers that chain `key` is trusted from `from` until `until`.
    pub fn remember(&self, key: String, from: i64, until: i64) {
        let mut map = self.trusted.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= CAPACITY {
            map.clear();
        }
        map.insert(key, (from, until));
    }
}

#[cfg(test)]
mod tests {
    use super::ChainCache;

    #[test]
    fn verdict_holds_only_inside_its_period() {
        let cache = ChainCache::default();
        assert!(!cache.trusted_at("k", 5));
        cache.remember("k".into(), 0, 10);
        assert!(cache.trusted_at("k", 0) && cache.trusted_at("k", 10));
        assert!(!cache.trusted_at("k", 11) && !cache.trusted_at("k", -1));
        assert!(!cache.trusted_at("other", 5));
    }
}
