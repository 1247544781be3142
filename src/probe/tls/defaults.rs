//! Memory of each endpoint's reference certificates (no SNI, unknown name) for the run, so a
//! name the served certificate does not cover costs one handshake, not three.
//!
//! An endpoint is an address, port, transport and preamble (STARTTLS dialect): what decides
//! which certificate a catch-all serves. Probes of one endpoint that arrive together wait for
//! the first one's references instead of all making their own. Only a verdict of fallback is
//! taken from memory: when the served certificate is neither remembered default, the caller
//! asks again, because a load balancer's back ends can have different defaults.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use crate::report::tls::VhostReference;

/// Most endpoints remembered; the memory is emptied when it is full.
const CAPACITY: usize = 4096;

type Slot = Arc<OnceCell<Option<Vec<VhostReference>>>>;

/// Endpoint → its references, once made (`None` inside: made, but not worth keeping).
#[derive(Debug, Default)]
pub(crate) struct Defaults {
    slots: Mutex<HashMap<String, Slot>>,
}

impl Defaults {
    /// The references of `endpoint`: from memory (`true`), or made now by `make` (`false`)
    /// and remembered when they can stand for later probes.
    pub(crate) async fn get_or_make<F, Fut>(
        &self,
        endpoint: &str,
        make: F,
    ) -> (Vec<VhostReference>, bool)
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Vec<VhostReference>>,
    {
        let slot = self.slot(endpoint);
        let mut made = None;
        let kept = slot
            .get_or_init(|| async {
                let references = make().await;
                let keep = worth_keeping(&references).then(|| references.clone());
                made = Some(references);
                keep
            })
            .await;
        match (made, kept) {
            (Some(references), _) => (references, false),
            (None, Some(kept)) => (kept.clone(), true),
            // Made by another probe and not kept (a timeout, no connection): make our own.
            (None, None) => (make().await, false),
        }
    }

    /// Replaces what is remembered of `endpoint` (after a re-check found other defaults).
    pub(crate) fn replace(&self, endpoint: &str, references: &[VhostReference]) {
        let slot = Arc::new(OnceCell::new());
        let _ = slot.set(worth_keeping(references).then(|| references.to_vec()));
        self.insert(endpoint, slot);
    }

    /// The slot of `endpoint`, made under the same lock as the lookup, so probes that arrive
    /// together share one.
    fn slot(&self, endpoint: &str) -> Slot {
        let mut slots = self.lock();
        if let Some(slot) = slots.get(endpoint) {
            return slot.clone();
        }
        let slot = Slot::default();
        insert_bounded(&mut slots, endpoint, slot.clone());
        slot
    }

    fn insert(&self, endpoint: &str, slot: Slot) {
        insert_bounded(&mut self.lock(), endpoint, slot);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Inserts, emptying the memory first when it is full.
fn insert_bounded(slots: &mut HashMap<String, Slot>, endpoint: &str, slot: Slot) {
    if slots.len() >= CAPACITY {
        slots.clear();
    }
    slots.insert(endpoint.to_string(), slot);
}

/// References stand for later probes when at least one got a certificate and none failed in
/// a way that may pass (a timeout, no connection): an alert or a close is the server's answer.
fn worth_keeping(references: &[VhostReference]) -> bool {
    references.iter().any(|r| r.cert.is_some()) && !references.iter().any(|r| r.transient)
}
