//! Memory of certificate summaries already made in this run, so repeated probes of the same
//! server do not parse and fingerprint the same certificates again.
//!
//! Keyed by the certificate's DER. A summary's time-dependent fields (`days_left`, `expired`,
//! `not_yet_valid`) are recomputed for the moment of each probe; the rest depends on the
//! bytes alone. The PEM form (`--show-certs`) is added by the caller, never remembered.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::cert::{self, CertSummary};

/// Most certificates remembered; the memory is emptied when it is full.
const CAPACITY: usize = 4096;

/// DER → summary (as of some moment; re-dated on the way out).
#[derive(Debug, Default)]
pub(crate) struct SummaryCache {
    known: Mutex<HashMap<Box<[u8]>, CertSummary>>,
}

impl SummaryCache {
    /// The summary of `der` as of `now`, from memory when this run has seen `der` before.
    pub(crate) fn summarize(&self, der: &[u8], now: i64) -> CertSummary {
        if let Some(known) = self.lock().get(der) {
            return known.clone().dated(now);
        }
        let summary = cert::summarize(der, now);
        let mut map = self.lock();
        if map.len() >= CAPACITY {
            map.clear();
        }
        map.insert(der.into(), summary.clone());
        summary
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Box<[u8]>, CertSummary>> {
        self.known.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::SummaryCache;
    use crate::cert;

    #[test]
    fn remembered_summary_is_redated_and_equals_a_fresh_one() {
        let leaf = crate::demo::pki::self_signed(&crate::demo::pki::LeafSpec::server(&["a.test"]))
            .expect("mint a leaf");
        let der = leaf.chain[0].to_vec();
        let not_after = cert::summarize(&der, 0).not_after_unix.expect("validity");
        let cache = SummaryCache::default();
        let before = not_after - 86_400 * 3 - 5;
        let first = cache.summarize(&der, before);
        assert_eq!(first.days_left, Some(3));
        assert!(!first.expired);
        // Same bytes, later moment: from memory, yet dated to the new moment.
        let after = not_after + 1;
        let again = cache.summarize(&der, after);
        assert_eq!(again, cert::summarize(&der, after));
        assert!(again.expired);
        assert_eq!(again.days_left, Some(-1));
    }
}
