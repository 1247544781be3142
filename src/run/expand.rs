//! From one target to its probes' coordinates: which ports and which SNI names. (Addresses
//! come from name resolution, in the run.)

use crate::probe::Transport;
use crate::target::{Host, Target};

/// The port used when neither the target, its scheme nor `-p` names one.
pub const DEFAULT_PORT: u16 = 443;

/// How targets expand into probes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expansion {
    /// Ports for targets that name none (`-p`); empty: [`DEFAULT_PORT`].
    pub ports: Vec<u16>,
    /// `--sni` names (empty: the target's own name).
    pub snis: Vec<String>,
    /// `--no-sni`.
    pub no_sni: bool,
    /// `--quic`: probe over QUIC (as `h3://` targets always are).
    pub quic: bool,
    /// `--also-tcp`: with QUIC, probe over TCP too and compare.
    pub also_tcp: bool,
}

impl Expansion {
    /// The SNI names to probe `target` with: `--sni` names, else the name of an
    /// `address,name` pair, else the host when it is a DNS name; `None` means no SNI.
    pub fn snis_for(&self, target: &Target) -> Vec<Option<String>> {
        if self.no_sni {
            return vec![None];
        }
        if !self.snis.is_empty() {
            return self.snis.iter().cloned().map(Some).collect();
        }
        if let Some(name) = &target.sni {
            return vec![Some(name.clone())];
        }
        match &target.host {
            Host::Name(name) => vec![Some(name.clone())],
            Host::Ip(_) => vec![None],
        }
    }

    /// The transports to probe `target` over: QUIC for `--quic` and `h3://`, with TCP first
    /// when `--also-tcp` asks for the comparison; TCP otherwise.
    pub fn transports_for(&self, target: &Target) -> Vec<Transport> {
        let quic = self.quic || target.scheme.as_deref() == Some("h3");
        match (quic, self.also_tcp) {
            (false, _) => vec![Transport::Tcp],
            (true, false) => vec![Transport::Quic],
            (true, true) => vec![Transport::Tcp, Transport::Quic],
        }
    }

    /// The ports to probe for `target`.
    pub fn ports_for(&self, target: &Target) -> Vec<u16> {
        match target.port {
            Some(p) => vec![p],
            None if !self.ports.is_empty() => self.ports.clone(),
            None => vec![DEFAULT_PORT],
        }
    }
}
