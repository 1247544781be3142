//! The service part of a report: greeting (banner), service identification and STARTTLS.

use serde::Serialize;

/// What the service said first.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GreetingReport {
    /// Protocol identified from the bytes (`ssh`, `smtp`…), `null` when unknown or silent.
    pub protocol: Option<String>,
    /// The greeting as received (lossy UTF-8, bounded; escaped only when rendered).
    pub text: String,
    /// Parsed software name/version, when the protocol carries one.
    pub software: Option<String>,
    /// Time from connect to the first byte of the greeting.
    pub banner_ms: Option<f64>,
}

/// Which service the port is registered for, and which one actually answered.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ServiceReport {
    /// The IANA service name for the port, if any.
    pub port_name: Option<String>,
    /// The service identified from what the server said.
    pub detected: Option<String>,
}

/// The in-band upgrade to TLS.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StarttlsReport {
    /// The dialect used (`smtp`, `imap`…).
    pub protocol: String,
    /// The server advertised the upgrade.
    pub offered: bool,
    /// `negotiated`, `refused` or `not_offered`.
    pub result: String,
}

impl StarttlsReport {
    /// The upgrade did not happen.
    pub fn failed(&self) -> bool {
        self.result != "negotiated"
    }
}
