//! The probing schedule of a trace: which TTLs are probed when, and when to stop.
//!
//! First round: TTLs are launched `hop_spacing` apart, at most `parallel_hops` in flight and at
//! most `max_silent_hops` beyond the highest TTL answered so far, each with `probes_per_hop`
//! SYNs; launching stops where the path ends (an answer other than "time exceeded") or after
//! `max_silent_hops` silent TTLs. Then retry waves: routers rate-limit
//! ICMP per destination (IPv4: one per second after a burst of six), so a TTL that stayed silent
//! may only have been refused a token. Every silent TTL (also below an end) is probed again, in
//! TTL order, `retry_after` after the previous probes; as long as a wave turns a silent TTL into
//! an answer, another wave follows (at most `retry_waves`), so a rate-limited router ends up
//! answering every TTL it is responsible for, and a real drop costs a single extra wave.
//!
//! Each probe waits at most [`SINGLE_SYN_WAIT`], just under the kernel's first SYN
//! retransmission (1 s): every SYN on the wire is then one this schedule sent on purpose, in TTL
//! order. A retransmitted SYN of a probe about to be given up would spend the one ICMP a
//! rate-limited router has to spare, and starve the retry that needed it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::task::{AbortHandle, JoinSet};
use tokio::time::Instant;

use super::{ProbeAnswer, TraceOptions, ends_path};

/// The longest a trace probe waits (see the module documentation).
pub(crate) const SINGLE_SYN_WAIT: Duration = Duration::from_millis(950);
use crate::probe::tcp::{self, ConnectOptions};
use crate::report::trace::{HopReply, TraceEnd};

/// The raw result of probing: answers per TTL (in sending order), up to where the trace ended.
pub(crate) struct Walk {
    pub answers: BTreeMap<u8, Vec<ProbeAnswer>>,
    pub ended: TraceEnd,
}

/// Probes `addr` with TTLs from `first_ttl` on (see the module documentation).
pub(crate) async fn walk(addr: SocketAddr, opts: &TraceOptions, first_ttl: u8) -> Walk {
    let first_ttl = first_ttl.max(1);
    let mut opts = *opts;
    opts.timeout = opts.timeout.min(SINGLE_SYN_WAIT);
    let mut walker = Walker {
        addr,
        opts,
        first_ttl,
        answers: BTreeMap::new(),
        next_ttl: u16::from(first_ttl),
        limit: opts.max_hops.max(first_ttl),
        last_send: Instant::now(),
    };
    walker.first_round().await;
    for _ in 0..opts.retry_waves {
        // Silent TTLs below an end are retried too: a rate-limited router may have skipped
        // its "time exceeded" (or an earlier rejection) there.
        let silent = walker.silent_ttls();
        if silent.is_empty() || !walker.retry_wave(&silent).await {
            break;
        }
        if walker.path_end().is_none() && walker.silent_run_end().is_none() {
            // The answers broke the silent run: probe further out again.
            walker.limit = opts.max_hops.max(first_ttl);
            walker.first_round().await;
        }
    }
    let ended = match (walker.path_end(), walker.silent_run_end()) {
        (Some((ttl, end)), _) => {
            walker.limit = ttl;
            end
        }
        (None, Some(last)) => {
            walker.limit = walker.limit.min(last);
            TraceEnd::SilentHops
        }
        (None, None) => TraceEnd::MaxHops,
    };
    let limit = walker.limit;
    walker.answers.retain(|&ttl, _| ttl <= limit);
    Walk {
        answers: walker.answers,
        ended,
    }
}

struct Walker {
    addr: SocketAddr,
    opts: TraceOptions,
    first_ttl: u8,
    answers: BTreeMap<u8, Vec<ProbeAnswer>>,
    /// The next TTL never probed yet (u16: launching TTL 255 must not wrap around).
    next_ttl: u16,
    /// The highest TTL still worth probing; lowered when the path is found to end.
    limit: u8,
    /// When the latest probe was sent: a retry wave waits `retry_after` from there.
    last_send: Instant,
}

impl Walker {
    /// Launches new TTLs until the path ends, a silent run, or `limit`, and waits for them.
    async fn first_round(&mut self) {
        let opts = self.opts;
        let mut running: JoinSet<(u8, Vec<ProbeAnswer>)> = JoinSet::new();
        let mut handles: BTreeMap<u8, AbortHandle> = BTreeMap::new();
        let mut next_launch = Instant::now();
        loop {
            let can_launch = self.next_ttl <= u16::from(self.limit)
                && self.next_ttl <= self.lookahead()
                && running.len() < usize::from(opts.parallel_hops.max(1));
            if can_launch && Instant::now() >= next_launch {
                let ttl = u8::try_from(self.next_ttl).unwrap_or(u8::MAX);
                let probes = opts.probes_per_hop.max(1);
                let task = probe_ttl(self.addr, ttl, probes, opts.timeout, opts.hop_spacing);
                handles.insert(ttl, running.spawn(task));
                self.next_ttl += 1;
                self.last_send = Instant::now();
                next_launch = self.last_send + opts.hop_spacing;
                continue;
            }
            if running.is_empty() {
                if !can_launch {
                    return;
                }
                tokio::time::sleep_until(next_launch).await;
                continue;
            }
            let joined = tokio::select! {
                joined = running.join_next() => joined,
                () = tokio::time::sleep_until(next_launch), if can_launch => continue,
            };
            // Aborted TTLs (beyond the end) come back as errors: nothing to record.
            let Some(Ok((ttl, answers))) = joined else {
                continue;
            };
            handles.remove(&ttl);
            self.answers.insert(ttl, answers);
            if let Some((end_ttl, _)) = self.path_end() {
                self.limit = self.limit.min(end_ttl);
            } else if let Some(last) = self.silent_run_end() {
                self.limit = self.limit.min(last);
            }
            if let Some(beyond) = self.limit.checked_add(1) {
                for (_, handle) in handles.split_off(&beyond) {
                    handle.abort();
                }
                // Aborted TTLs were never recorded: a later round starts from there again.
                self.next_ttl = self.next_ttl.min(u16::from(beyond));
            }
        }
    }

    /// Probes each of `ttls` once more, in order, after the rate limiters have refilled.
    /// Returns whether any of them answered this time.
    async fn retry_wave(&mut self, ttls: &[u8]) -> bool {
        tokio::time::sleep_until(self.last_send + self.opts.retry_after).await;
        let wave_start = Instant::now();
        let mut running = JoinSet::new();
        for (index, &ttl) in ttls.iter().enumerate() {
            let index = u32::try_from(index).unwrap_or(u32::MAX);
            let delay = self.opts.hop_spacing.saturating_mul(index);
            let (addr, timeout) = (self.addr, self.opts.timeout);
            running.spawn(async move {
                tokio::time::sleep(delay).await;
                (ttl, probe_once(addr, ttl, timeout).await)
            });
        }
        let mut pending: Vec<u8> = ttls.to_vec();
        let mut progress = false;
        while let Some(joined) = running.join_next().await {
            let Ok((ttl, answer)) = joined else { continue };
            pending.retain(|&t| t != ttl);
            progress |= answer.answered();
            self.answers.entry(ttl).or_default().push(answer);
            // Once the path ends below every TTL still waiting, their answers cannot matter
            // (dropping the JoinSet aborts them).
            if let Some((end, _)) = self.path_end()
                && pending.iter().all(|&t| t > end)
            {
                break;
            }
        }
        let last_index = u32::try_from(ttls.len().saturating_sub(1)).unwrap_or(u32::MAX);
        self.last_send = wave_start + self.opts.hop_spacing.saturating_mul(last_index);
        progress
    }

    /// Probed TTLs within the limit that nobody answered yet.
    fn silent_ttls(&self) -> Vec<u8> {
        self.answers
            .iter()
            .filter(|(ttl, hop)| **ttl <= self.limit && !hop.iter().any(ProbeAnswer::answered))
            .map(|(&ttl, _)| ttl)
            .collect()
    }

    /// The highest TTL worth launching before more answers arrive: if every TTL up to it
    /// stays silent, the silent-run rule stops the trace there anyway.
    fn lookahead(&self) -> u16 {
        u16::from(last_answer(&self.answers, self.first_ttl))
            + u16::from(self.opts.max_silent_hops.max(1))
    }

    fn path_end(&self) -> Option<(u8, TraceEnd)> {
        path_end(&self.answers)
    }

    fn silent_run_end(&self) -> Option<u8> {
        silent_run_end(&self.answers, self.first_ttl, self.opts.max_silent_hops)
    }
}

/// The lowest TTL whose answers end the path, and how.
pub(crate) fn path_end(answers: &BTreeMap<u8, Vec<ProbeAnswer>>) -> Option<(u8, TraceEnd)> {
    answers.iter().find_map(|(&ttl, hop)| {
        let end = hop.iter().find(|a| ends_path(a.kind))?;
        let how = match end.kind {
            HopReply::SynAck | HopReply::Rst => TraceEnd::Answered,
            HopReply::IcmpError => TraceEnd::Rejected,
            HopReply::LocalError => TraceEnd::LocalError,
            _ => TraceEnd::Unsupported,
        };
        Some((ttl, how))
    })
}

/// If the `run` TTLs after the last answering one have all come back silent, the last of them.
pub(crate) fn silent_run_end(
    answers: &BTreeMap<u8, Vec<ProbeAnswer>>,
    first_ttl: u8,
    run: u8,
) -> Option<u8> {
    let run = run.max(1);
    let last_answer = last_answer(answers, first_ttl);
    let last = last_answer.checked_add(run)?;
    let all_silent = (last_answer + 1..=last).all(|ttl| {
        answers
            .get(&ttl)
            .is_some_and(|hop| !hop.iter().any(ProbeAnswer::answered))
    });
    all_silent.then_some(last)
}

/// The highest TTL anything answered (`first_ttl - 1` when nothing did).
fn last_answer(answers: &BTreeMap<u8, Vec<ProbeAnswer>>, first_ttl: u8) -> u8 {
    answers
        .iter()
        .rev()
        .find(|(_, hop)| hop.iter().any(ProbeAnswer::answered))
        .map_or(first_ttl.saturating_sub(1), |(&ttl, _)| ttl)
}

/// Probes one TTL with `probes` SYNs, `spacing / 4` apart, and returns them in sending order.
async fn probe_ttl(
    addr: SocketAddr,
    ttl: u8,
    probes: u8,
    timeout: Duration,
    spacing: Duration,
) -> (u8, Vec<ProbeAnswer>) {
    let mut running = JoinSet::new();
    for index in 0..probes {
        let delay = (spacing / 4).saturating_mul(u32::from(index));
        running.spawn(async move {
            tokio::time::sleep(delay).await;
            (index, probe_once(addr, ttl, timeout).await)
        });
    }
    let mut answers = running.join_all().await;
    answers.sort_by_key(|(index, _)| *index);
    (ttl, answers.into_iter().map(|(_, a)| a).collect())
}

async fn probe_once(addr: SocketAddr, ttl: u8, timeout: Duration) -> ProbeAnswer {
    let options = ConnectOptions {
        timeout,
        ttl: Some(u32::from(ttl)),
    };
    let connected = tcp::connect(addr, options).await;
    // An open port's stream is dropped (closed) at once: only the handshake mattered.
    ProbeAnswer::from_tcp(&connected.report, addr.ip())
}
