//! Adaptive connect deadlines (`--timing`): per host, how long to wait for a SYN's answer is
//! learned from the answers this run has already seen from that host (SYN-ACK and RST round
//! trips), as nmap does: `srtt + 4·rttvar` (RFC 6298 smoothing), never under a floor. A connect
//! sends a second SYN (a new socket, racing the first) when the first has had one window, so a
//! single lost SYN is not a drop; the port is `filtered` only when every attempt has had its
//! window. An explicit `--timeout` is never shortened: it is then the whole deadline.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::tcp::{self, ConnectOptions, Connected};
use crate::report::TcpState;

/// How a run times its connects (`--timing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Timing {
    /// Learned windows (floor 100 ms, 1 s before any answer), two SYNs.
    #[default]
    Normal,
    /// Learned windows with more margin (floor 500 ms, 2 s before any answer), three SYNs.
    Patient,
    /// One SYN and the whole `--timeout` for it (3 s unless set): the behaviour before
    /// adaptive timing, and what the tracer uses.
    Fixed,
}

/// The connect policy of a run: built by `config` from `--timing` and `--timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// `--timing`.
    pub timing: Timing,
    /// `--timeout` when the user gave it: then every silent port waits exactly this long.
    pub explicit: Option<Duration>,
    /// `--timeout` or its default: the deadline of `Timing::Fixed`, and the longest one
    /// adaptive window may be.
    pub timeout: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            timing: Timing::Normal,
            explicit: None,
            timeout: Duration::from_secs(3),
        }
    }
}

impl Policy {
    /// How many SYNs a connect may send (each on its own socket, racing).
    pub fn attempts(&self) -> u32 {
        match self.timing {
            Timing::Normal => 2,
            Timing::Patient => 3,
            Timing::Fixed => 1,
        }
    }

    fn floor(&self) -> Duration {
        match self.timing {
            Timing::Patient => Duration::from_millis(500),
            _ => Duration::from_millis(100),
        }
    }

    fn initial(&self) -> Duration {
        match self.timing {
            Timing::Patient => Duration::from_secs(2),
            _ => Duration::from_secs(1),
        }
    }

    /// One attempt's window for a host with this estimate.
    pub fn window(&self, estimate: Option<Estimate>) -> Duration {
        if self.timing == Timing::Fixed {
            return self.timeout;
        }
        let learned = match estimate {
            None => self.initial(),
            Some(e) => (e.srtt + e.rttvar * 4).max(self.floor()),
        };
        learned.min(self.timeout.max(self.floor()))
    }

    /// When a connect that started `window`s ago gives up: after every attempt had its window,
    /// or exactly at an explicit `--timeout`.
    pub fn give_up_after(&self, windows_used: Duration) -> Duration {
        self.explicit.unwrap_or(windows_used)
    }
}

/// A host's smoothed round trip and its variation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// Smoothed round-trip time.
    pub srtt: Duration,
    /// Round-trip variation.
    pub rttvar: Duration,
    /// Answers seen.
    pub samples: u32,
}

impl Estimate {
    /// RFC 6298 §2: the first sample sets srtt = R, rttvar = R/2; later ones smooth with
    /// α = 1/8, β = 1/4.
    fn add(previous: Option<Estimate>, rtt: Duration) -> Estimate {
        match previous {
            None => Estimate {
                srtt: rtt,
                rttvar: rtt / 2,
                samples: 1,
            },
            Some(e) => {
                let delta = e.srtt.abs_diff(rtt);
                Estimate {
                    rttvar: e.rttvar * 3 / 4 + delta / 4,
                    srtt: e.srtt * 7 / 8 + rtt / 8,
                    samples: e.samples.saturating_add(1),
                }
            }
        }
    }
}

/// The estimates of one run, per host address. Bounded: past `MAX_HOSTS` hosts the table
/// starts again (a huge address sweep then learns host by host, as before).
#[derive(Debug, Default)]
pub struct Rtts {
    hosts: Mutex<HashMap<IpAddr, Estimate>>,
}

const MAX_HOSTS: usize = 65_536;

impl Rtts {
    /// A new, empty table to share.
    pub fn shared() -> Arc<Rtts> {
        Arc::new(Rtts::default())
    }

    /// What has been learned of `host` so far.
    pub fn estimate(&self, host: IpAddr) -> Option<Estimate> {
        self.lock().get(&host).copied()
    }

    /// An answer (SYN-ACK or RST) from `host` came `rtt` after its SYN.
    pub fn record(&self, host: IpAddr, rtt: Duration) {
        let mut hosts = self.lock();
        if hosts.len() >= MAX_HOSTS && !hosts.contains_key(&host) {
            hosts.clear();
        }
        let next = Estimate::add(hosts.get(&host).copied(), rtt);
        hosts.insert(host, next);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Estimate>> {
        // A panic while holding this lock cannot leave a half-written estimate.
        self.hosts.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// How often a waiting connect looks at its host's estimate again: answers to other ports
/// may have shortened (or lengthened) its window since it started.
const RECHECK: Duration = Duration::from_millis(50);

/// A wake-up later than this counts as time the machine kept this task waiting.
const LATE: Duration = Duration::from_millis(5);

type Attempt<'a> = Pin<Box<dyn Future<Output = Connected> + Send + 'a>>;

/// Connects to `addr` under `policy`, learning from and into `rtts`: SYNs on fresh sockets, one
/// window apart, racing; the first answer wins (a SYN-ACK or RST round trip is recorded for
/// the host); `filtered` when every attempt has had its window, or at an explicit `--timeout`.
/// The verdict itself comes from [`tcp::connect_until`], as for one SYN.
pub async fn connect(addr: SocketAddr, policy: &Policy, rtts: &Rtts) -> Connected {
    if policy.timing == Timing::Fixed {
        let options = ConnectOptions {
            timeout: policy.explicit.unwrap_or(policy.timeout),
            ttl: None,
        };
        return tcp::connect(addr, options).await;
    }
    let host = addr.ip();
    let started = Instant::now();
    // Every attempt ends when this loop says so; the platform gets the longest wait as a hint.
    let hint = ConnectOptions {
        timeout: policy.explicit.unwrap_or(policy.timeout) * policy.attempts(),
        ttl: None,
    };
    let stop = Notify::new();
    let attempt = || -> Attempt<'_> { Box::pin(tcp::connect_until(addr, hint, stop.notified())) };
    let mut attempts: Vec<(Instant, Attempt)> = vec![(started, attempt())];
    // Time this task was kept from running (a busy machine): not the network's, so every
    // deadline moves by it. Without this, a late wake-up could find an answer the kernel already
    // had and still call the port `filtered`.
    let mut slip = Duration::ZERO;
    loop {
        let window = policy.window(rtts.estimate(host));
        let last = attempts.last().map_or(started, |a| a.0);
        let more = attempts.len() < policy.attempts() as usize;
        // With an explicit --timeout T the SYNs are spread inside T; otherwise one window each.
        let spacing = match policy.explicit {
            Some(t) => window.min(t / policy.attempts()),
            None => window,
        };
        let give_up = slip
            + match policy.explicit {
                Some(t) => t,
                None if more => (last - started) + spacing * 2,
                None => (last - started) + window,
            };
        let give_up = started + give_up;
        let next_syn = more.then_some(last + spacing + slip);
        let wake = next_syn
            .map_or(give_up, |t| t.min(give_up))
            .min(Instant::now() + RECHECK);
        // Biased: an answer already there wins over a deadline that fired at the same time.
        let done = tokio::select! {
            biased;
            done = first_of(&mut attempts) => Some(done),
            () = tokio::time::sleep_until(wake.into()) => None,
        };
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        match done {
            Some((i, mut connected)) => {
                let (began, _) = attempts.swap_remove(i);
                let state = connected.report.state;
                if matches!(state, TcpState::Open | TcpState::Closed) {
                    rtts.record(host, began.elapsed());
                }
                if state != TcpState::Filtered || attempts.is_empty() {
                    // The time from the first SYN, retries included.
                    connected.report.connect_ms = ms;
                    return connected;
                }
            }
            None => {
                let now = Instant::now();
                let late = now.saturating_duration_since(wake);
                if late > LATE {
                    slip += late;
                    continue;
                }
                if now >= give_up {
                    return given_up(&stop, attempts, ms).await;
                }
                if next_syn.is_some_and(|t| now >= t) {
                    attempts.push((now, attempt()));
                }
            }
        }
    }
}

/// Ends every attempt and returns the verdict of the oldest, unless one of them had an answer
/// after all (an ICMP error read from its queue, or a SYN-ACK in the last instant).
async fn given_up(stop: &Notify, mut attempts: Vec<(Instant, Attempt<'_>)>, ms: f64) -> Connected {
    stop.notify_waiters();
    let mut verdict: Option<(Instant, Connected)> = None;
    while !attempts.is_empty() {
        let (i, connected) = first_of(&mut attempts).await;
        let (began, _) = attempts.swap_remove(i);
        let better = match &verdict {
            None => true,
            Some((b, v)) => {
                let answered = connected.report.state != TcpState::Filtered;
                let had = v.report.state != TcpState::Filtered;
                (answered && !had) || (answered == had && began < *b)
            }
        };
        if better {
            verdict = Some((began, connected));
        }
    }
    let (_, mut connected) = verdict.expect("a connect has at least one attempt");
    connected.report.connect_ms = ms;
    connected
}

/// The first attempt to finish, and its index.
async fn first_of(attempts: &mut [(Instant, Attempt<'_>)]) -> (usize, Connected) {
    std::future::poll_fn(|cx| {
        for (i, (_, attempt)) in attempts.iter_mut().enumerate() {
            if let Poll::Ready(done) = attempt.as_mut().poll(cx) {
                return Poll::Ready((i, done));
            }
        }
        Poll::Pending
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn before_any_answer_the_window_is_the_initial_one() {
        let p = Policy::default();
        assert_eq!(p.window(None), ms(1000));
        assert_eq!(p.attempts(), 2);
        let patient = Policy {
            timing: Timing::Patient,
            ..p
        };
        assert_eq!(patient.window(None), ms(2000));
        assert_eq!(patient.attempts(), 3);
    }

    #[test]
    fn fast_answers_shrink_the_window_to_the_floor() {
        let rtts = Rtts::default();
        let host: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..20 {
            rtts.record(host, Duration::from_micros(300));
        }
        let e = rtts.estimate(host).unwrap();
        assert_eq!(e.samples, 20);
        assert_eq!(Policy::default().window(Some(e)), ms(100));
    }

    #[test]
    fn slow_answers_widen_the_window_past_the_round_trip() {
        let rtts = Rtts::default();
        let host: IpAddr = "192.0.2.1".parse().unwrap();
        rtts.record(host, ms(300));
        // First sample: srtt 300, rttvar 150: 300 + 600.
        assert_eq!(Policy::default().window(rtts.estimate(host)), ms(900));
        for _ in 0..50 {
            rtts.record(host, ms(300));
        }
        let w = Policy::default().window(rtts.estimate(host));
        assert!(w >= ms(300) && w < ms(320), "{w:?}");
        // A jump in delay widens it at once by the variation term.
        rtts.record(host, ms(600));
        let w = Policy::default().window(rtts.estimate(host));
        assert!(w > ms(600), "{w:?}");
    }

    #[test]
    fn the_window_never_exceeds_the_timeout_and_fixed_is_the_timeout() {
        let p = Policy {
            timeout: ms(500),
            ..Policy::default()
        };
        assert_eq!(p.window(None), ms(500));
        let fixed = Policy {
            timing: Timing::Fixed,
            ..Policy::default()
        };
        assert_eq!(fixed.window(None), ms(3000));
        assert_eq!(fixed.attempts(), 1);
    }

    #[test]
    fn an_explicit_timeout_is_the_whole_deadline() {
        let p = Policy {
            explicit: Some(ms(1500)),
            timeout: ms(1500),
            ..Policy::default()
        };
        assert_eq!(p.give_up_after(ms(200)), ms(1500));
        assert_eq!(Policy::default().give_up_after(ms(200)), ms(200));
    }

    #[test]
    fn hosts_are_learned_apart() {
        let rtts = Rtts::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "2001:db8::1".parse().unwrap();
        rtts.record(a, ms(5));
        assert!(rtts.estimate(b).is_none());
        assert_eq!(rtts.estimate(a).unwrap().srtt, ms(5));
    }
}
