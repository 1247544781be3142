//! The host's own hop distance, measured on other ports of the same address, when the traced
//! port was answered by a RST at hop `k`: a RST is what a middlebox forges too, so it proves
//! nothing about who sent it until another port's answer says how far away the host is.
//!
//! Candidates, in order of the evidence they can give (at most [`MAX_WALKS`] walks, each with
//! TTL-limited SYNs from `k` on):
//!
//! 1. `--reference-port`: the user's override, trusted to be the host's own answer; the only
//!    one tried.
//! 2. A port of the same address that answered SYN-ACK earlier in this run ([`OpenPorts`]).
//! 3. A common service port (443, 80, 22) that answers SYN-ACK to a plain connect now.
//! 4. A random high port: usually closed, so a RST; from further away than `k` it proves the
//!    RST at `k` was forged nearer.
//!
//! A SYN-ACK at distance `k` settles it one way (the host is `k` hops away: its own RST), an
//! answer from further away the other (a middlebox at `k`); a RST at `k` settles nothing (the
//! same middlebox may reset every port), so the next candidate is tried.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;

use tokio::task::JoinSet;

use super::walk;
use super::{ProbeAnswer, TraceOptions};
use crate::probe::tcp::{self, ConnectOptions};
use crate::report::trace::{HopReply, ReferenceDistance, ReferenceSource, TraceEnd};

/// Ports tried for a SYN-ACK when the run knows none of this address.
const COMMON_PORTS: [u16; 3] = [443, 80, 22];
/// At most this many reference walks per trace.
const MAX_WALKS: usize = 3;
/// Ports remembered per address, and addresses remembered, in [`OpenPorts`].
const PORTS_PER_ADDRESS: usize = 4;
const ADDRESSES: usize = 65_536;

/// The ports of each address that answered SYN-ACK in this run, shared by its probes: a trace
/// that meets a RST measures the host's distance on one of them first. Bounded.
#[derive(Debug, Default)]
pub struct OpenPorts {
    seen: Mutex<HashMap<IpAddr, Vec<u16>>>,
}

impl OpenPorts {
    /// Records that `addr` answered SYN-ACK.
    pub fn record(&self, addr: SocketAddr) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= ADDRESSES && !seen.contains_key(&addr.ip()) {
            return;
        }
        let ports = seen.entry(addr.ip()).or_default();
        if ports.len() < PORTS_PER_ADDRESS && !ports.contains(&addr.port()) {
            ports.push(addr.port());
        }
    }

    /// The open ports of `ip` seen so far, in the order they were seen.
    pub fn of(&self, ip: IpAddr) -> Vec<u16> {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.get(&ip).cloned().unwrap_or_default()
    }
}

/// One measured port: the TTL and kind of its first answer (SYN-ACK or RST), if any.
struct Measure {
    port: u16,
    answer: Option<(u8, HopReply)>,
    source: ReferenceSource,
}

impl Measure {
    /// Whether this measure says who sent a RST that came at hop `k`.
    fn decides(&self, k: u8) -> bool {
        match self.answer {
            Some((d, HopReply::SynAck)) => d >= k,
            Some((d, _)) => d > k || self.source == ReferenceSource::Given,
            None => false,
        }
    }
}

/// Measures the host's distance for a trace to `addr` whose RST came at hop `k` (see the
/// module documentation). `None` only when there is no port to try at all.
pub(crate) async fn measure(
    addr: SocketAddr,
    k: u8,
    opts: &TraceOptions,
    open: &OpenPorts,
) -> Option<ReferenceDistance> {
    let mut tried = Vec::new();
    let mut last: Option<Measure> = None;
    if let Some(port) = opts.reference_port.filter(|p| *p != addr.port()) {
        let m = walk_port(addr, port, k, opts, ReferenceSource::Given).await;
        return Some(distance(m, vec![port]));
    }
    let mut from_run: Vec<u16> = open
        .of(addr.ip())
        .into_iter()
        .filter(|p| *p != addr.port())
        .collect();
    from_run.truncate(1);
    let mut candidates: Vec<(u16, ReferenceSource)> = from_run
        .into_iter()
        .map(|p| (p, ReferenceSource::OpenInRun))
        .collect();
    if candidates.is_empty()
        && let Some(port) = first_open_common_port(addr, opts).await
    {
        candidates.push((port, ReferenceSource::CommonPort));
    }
    candidates.push((random_high_port(addr.port()), ReferenceSource::RandomPort));
    for (port, source) in candidates.into_iter().take(MAX_WALKS) {
        tried.push(port);
        let m = walk_port(addr, port, k, opts, source).await;
        let decided = m.decides(k);
        // Keep the most telling measure: one that answered beats one that did not.
        if decided || last.as_ref().is_none_or(|l| l.answer.is_none()) {
            last = Some(m);
        }
        if decided {
            break;
        }
    }
    last.map(|m| distance(m, tried))
}

fn distance(m: Measure, tried: Vec<u16>) -> ReferenceDistance {
    ReferenceDistance {
        port: m.port,
        hops: m.answer.map(|(d, _)| d),
        reply: m.answer.map(|(_, r)| r),
        source: m.source,
        tried,
    }
}

/// TTL-limited SYNs to `port` of the same host from TTL `k` on: the first SYN-ACK or RST.
async fn walk_port(
    addr: SocketAddr,
    port: u16,
    k: u8,
    opts: &TraceOptions,
    source: ReferenceSource,
) -> Measure {
    let walk = walk::walk(SocketAddr::new(addr.ip(), port), opts, k).await;
    let answer = if walk.ended == TraceEnd::Answered {
        walk.answers.iter().find_map(|(&ttl, answers)| {
            answers
                .iter()
                .map(|a: &ProbeAnswer| a.kind)
                .find(|kind| matches!(kind, HopReply::SynAck | HopReply::Rst))
                .map(|kind| (ttl, kind))
        })
    } else {
        None
    };
    Measure {
        port,
        answer,
        source,
    }
}

/// The first of [`COMMON_PORTS`] (in that order) that accepts a plain connect now, all tried
/// at once within the trace's per-probe deadline.
async fn first_open_common_port(addr: SocketAddr, opts: &TraceOptions) -> Option<u16> {
    let mut running = JoinSet::new();
    for port in COMMON_PORTS.into_iter().filter(|p| *p != addr.port()) {
        let target = SocketAddr::new(addr.ip(), port);
        let options = ConnectOptions {
            timeout: opts.timeout.min(walk::SINGLE_SYN_WAIT),
            ttl: None,
        };
        running.spawn(async move {
            let connected = tcp::connect(target, options).await;
            (port, connected.stream.is_some())
        });
    }
    let open: Vec<u16> = running
        .join_all()
        .await
        .into_iter()
        .filter_map(|(port, open)| open.then_some(port))
        .collect();
    COMMON_PORTS.into_iter().find(|p| open.contains(p))
}

/// A port from the dynamic range (49152–65535), other than `not`, different from one trace to
/// the next.
fn random_high_port(not: u16) -> u16 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u16(not);
    let pick = 49_152 + (hasher.finish() % 16_384) as u16;
    if pick == not {
        49_152 + (pick - 49_151) % 16_384
    } else {
        pick
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_ports_are_remembered_per_address_and_bounded() {
        let open = OpenPorts::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        for port in [443, 80, 443, 22, 25, 8080] {
            open.record(SocketAddr::new(a, port));
        }
        assert_eq!(open.of(a), vec![443, 80, 22, 25]);
        assert!(open.of("192.0.2.2".parse().unwrap()).is_empty());
    }

    #[test]
    fn random_ports_are_high_and_never_the_traced_one() {
        for not in [0, 49_152, 61_002, 65_535] {
            for _ in 0..200 {
                let p = random_high_port(not);
                assert!(p >= 49_152 && p != not, "{p}");
            }
        }
    }

    #[test]
    fn only_a_syn_ack_at_the_distance_or_an_answer_from_further_decides() {
        let m = |answer, source| Measure {
            port: 1,
            answer,
            source,
        };
        let auto = ReferenceSource::RandomPort;
        assert!(m(Some((2, HopReply::SynAck)), auto).decides(2));
        assert!(m(Some((3, HopReply::Rst)), auto).decides(2));
        assert!(m(Some((3, HopReply::SynAck)), auto).decides(2));
        assert!(!m(Some((2, HopReply::Rst)), auto).decides(2));
        assert!(!m(None, auto).decides(2));
        // The user's reference port is trusted, RST or not.
        assert!(m(Some((2, HopReply::Rst)), ReferenceSource::Given).decides(2));
    }
}
