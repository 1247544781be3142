//! The path-trace part of a report: one row per hop and a diagnosis.

use serde::Serialize;

/// A TCP trace to the probed port.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TraceReport {
    /// Stable diagnosis word (`dropped_after`, `rejected_at`, `middlebox_reset`, `reached`,
    /// `unknown`).
    pub diagnosis: String,
}
