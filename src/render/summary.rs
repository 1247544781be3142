//! The closing summary of a run over many probes: counts per verdict, the IP × SNI matrix and,
//! when there are enough probes for it to tell something, the slowest.
//! An accumulator of fixed size per distinct verdict, so it stays small however many probes
//! stream through it.

use std::collections::{BTreeMap, HashMap};

use super::human::{fmt_ms, probe_label};
use super::lines::{Line, Tone};
use crate::report::{Layer, Reason, Report, Stopped, Vhost};
use crate::verdict::{self, Headline};

/// How many of the slowest probes to list.
const SLOWEST: usize = 5;
/// The slowest are listed only from this many probes on: with fewer, the list would repeat
/// most of the run, in another order.
const SLOWEST_FROM: usize = 2 * SLOWEST + 1;

/// Running totals over the reports of a run.
#[derive(Debug, Default)]
pub struct Summary {
    total: usize,
    /// Labels name their SNI even when it is the host's (an IP × SNI run).
    every_sni: bool,
    /// Per verdict (`None`: reached everything asked), how many probes.
    by_verdict: HashMap<Option<Stopped>, usize>,
    slowest: Vec<(f64, String)>,
    /// SNI name → address → what was served (the IP × SNI matrix).
    matrix: BTreeMap<String, BTreeMap<String, Served>>,
}

/// What one address served for one name: a few short strings, so the matrix stays small.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Served {
    /// Where the probe stopped (`None`: it reached everything asked).
    stopped: Option<Stopped>,
    fingerprint: String,
    subject: String,
    /// Served over QUIC (its row is labelled `ADDRESS quic`, next to the TCP one).
    quic: bool,
}

/// The label suffix of a QUIC row in the matrix.
const QUIC_ROW: &str = " quic";

impl Summary {
    /// An empty summary; `every_sni` as in [`super::human::Style`].
    pub fn new(every_sni: bool) -> Summary {
        Summary {
            every_sni,
            ..Summary::default()
        }
    }

    /// Counts one more report.
    pub fn add(&mut self, report: &Report) {
        self.total += 1;
        let key = match verdict::headline(report) {
            Headline::Expectation(failed) => Some(Stopped {
                layer: Layer::Expect,
                reason: Reason::Expect(failed.check),
            }),
            Headline::Stopped(stopped) => Some(*stopped),
            Headline::Reached(_) => None,
        };
        *self.by_verdict.entry(key).or_default() += 1;
        if let (Some(tls), Some(address)) = (&report.tls, report.address)
            && let Some(name) = &tls.sni
        {
            let served = Served {
                stopped: report.stopped,
                fingerprint: tls
                    .leaf()
                    .map(|l| l.short_fingerprint())
                    .unwrap_or_default(),
                subject: tls.leaf().map(|l| l.subject.clone()).unwrap_or_default(),
                quic: tls.transport == crate::report::quic::TlsTransport::Quic,
            };
            let mut label = if report.port == 443 {
                address.to_string()
            } else {
                probe_label_addr(address, report.port)
            };
            if served.quic {
                label.push_str(QUIC_ROW);
            }
            self.matrix
                .entry(name.clone())
                .or_default()
                .insert(label, served);
        }
        let time = total_ms(report);
        if time > 0.0 {
            self.slowest
                .push((time, probe_label(report, self.every_sni)));
            self.slowest.sort_by(|a, b| b.0.total_cmp(&a.0));
            self.slowest.truncate(SLOWEST);
        }
    }

    /// Reports counted so far.
    pub fn total(&self) -> usize {
        self.total
    }

    /// The IP × SNI matrix: per name, what each address served; flags names whose addresses
    /// disagree (one node still on last month's certificate) and default-certificate fallbacks.
    pub fn matrix_lines(&self) -> Vec<Line> {
        let mut lines = Vec::new();
        if self.matrix.is_empty() {
            return lines;
        }
        lines.push(Line::new(
            0,
            "vhosts",
            "name → address: verdict, certificate",
            Tone::Plain,
        ));
        for (name, by_address) in &self.matrix {
            let prints: std::collections::BTreeSet<&str> = by_address
                .values()
                .filter(|s| !s.fingerprint.is_empty())
                .map(|s| s.fingerprint.as_str())
                .collect();
            let disagree = prints.len() > 1;
            let transports_differ = transports_disagree(by_address);
            let fell_back = by_address.values().any(|s| {
                s.stopped
                    .is_some_and(|st| st.reason == Reason::Vhost(Vhost::DefaultFallback))
            });
            let (note, tone) = match (disagree, fell_back) {
                _ if !transports_differ.is_empty() => (
                    format!(
                        "  ← TCP and QUIC disagree on {}",
                        transports_differ.join(", ")
                    ),
                    Tone::Bad,
                ),
                (true, _) => (
                    format!(
                        "  ← addresses disagree: {} different certificates",
                        prints.len()
                    ),
                    Tone::Bad,
                ),
                (false, true) => (
                    "  ← fell back to the default certificate".to_string(),
                    Tone::Bad,
                ),
                _ => (String::new(), Tone::Good),
            };
            lines.push(Line::new(1, name.clone(), note, tone));
            for (address, served) in by_address {
                let (verdict, tone) = match served.stopped {
                    Some(stopped) => (stopped.reason.word(), Tone::Bad),
                    None => ("matched".to_string(), Tone::Good),
                };
                // A row without a certificate says so in the certificate's place, so that the
                // columns stay aligned.
                let certificate = if served.fingerprint.is_empty() {
                    "(no certificate)".to_string()
                } else {
                    format!("{}  {}", served.fingerprint, served.subject)
                };
                // Each row names its SNI too, so that a row read alone (grep) says it all.
                lines.push(Line::new(
                    2,
                    "",
                    format!("{address:<24} {verdict:<17} {certificate}  sni={name}"),
                    tone,
                ));
            }
        }
        lines
    }

    /// The summary as report lines.
    pub fn lines(&self) -> Vec<Line> {
        let mut counts: Vec<(String, usize)> = self
            .by_verdict
            .iter()
            .map(|(stopped, n)| (verdict_word(stopped.as_ref()), *n))
            .collect();
        counts.sort();
        let counts: Vec<String> = counts.iter().map(|(w, n)| format!("{n} {w}")).collect();
        let all_ok = self.by_verdict.keys().all(Option::is_none);
        let text = if self.total == 0 {
            "no probe finished".to_string()
        } else {
            format!("{} probes: {}", self.total, counts.join(", "))
        };
        let mut lines = vec![Line::new(
            0,
            "summary",
            text,
            if all_ok && self.total > 0 {
                Tone::Good
            } else {
                Tone::Warn
            },
        )];
        lines.extend(self.matrix_lines());
        if self.total >= SLOWEST_FROM && !self.slowest.is_empty() {
            lines.push(Line::new(0, "slowest", "probes", Tone::Plain));
            for (ms, label) in &self.slowest {
                lines.push(Line::new(
                    1,
                    "",
                    format!("{:>10}  {label}", fmt_ms(*ms)),
                    Tone::Dim,
                ));
            }
        }
        lines
    }
}

/// The addresses where the TCP and the QUIC probe of one name disagree: another certificate,
/// or one side refused what the other served.
fn transports_disagree(by_address: &BTreeMap<String, Served>) -> Vec<String> {
    by_address
        .iter()
        .filter(|(_, served)| served.quic)
        .filter_map(|(label, quic)| {
            let base = label.strip_suffix(QUIC_ROW)?;
            let tcp = by_address.get(base)?;
            let differ = tcp.fingerprint != quic.fingerprint
                || tcp.stopped.is_some() != quic.stopped.is_some();
            differ.then(|| base.to_string())
        })
        .collect()
}

fn probe_label_addr(address: std::net::IpAddr, port: u16) -> String {
    match address {
        std::net::IpAddr::V6(v6) => format!("[{v6}]:{port}"),
        std::net::IpAddr::V4(v4) => format!("{v4}:{port}"),
    }
}

/// The words a verdict is counted under: `ok`, or the layer and reason it stopped at.
fn verdict_word(stopped: Option<&Stopped>) -> String {
    match stopped {
        Some(stopped) => format!("{} {}", stopped.layer.as_str(), stopped.reason.word()),
        None => "ok".to_string(),
    }
}

/// Time the probe spent on the network: connect (or the deadline) plus later layers.
fn total_ms(report: &Report) -> f64 {
    let connect = match (&report.tcp, &report.udp) {
        (Some(t), _) => t.connect_ms,
        (None, Some(u)) => u.elapsed_ms,
        (None, None) => 0.0,
    };
    let tls = report
        .tls
        .as_ref()
        .and_then(|t| t.handshake_ms)
        .unwrap_or(0.0);
    connect + tls
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::TcpState;

    fn report(port: u16, stopped: Option<TcpState>) -> Report {
        Report {
            host: "192.0.2.1".into(),
            port,
            stopped: stopped.map(|state| Stopped {
                layer: Layer::Tcp,
                reason: Reason::Tcp(state),
            }),
            ..Report::default()
        }
    }

    #[test]
    fn the_slowest_are_listed_only_when_there_are_enough_probes() {
        let timed = |port| {
            let mut r = report(port, None);
            r.tcp = Some(crate::report::TcpReport {
                state: TcpState::Open,
                reason: crate::report::TcpReason::SynAck,
                icmp_from: None,
                icmp: None,
                errno: None,
                connect_ms: f64::from(port),
                icmp_evidence: crate::report::IcmpEvidence::ErrorQueue,
            });
            r
        };
        let mut s = Summary::default();
        for port in 1..SLOWEST_FROM {
            s.add(&timed(u16::try_from(port).unwrap()));
        }
        let labels = |s: &Summary| s.lines().into_iter().map(|l| l.label).collect::<Vec<_>>();
        assert!(!labels(&s).contains(&"slowest".to_string()));
        s.add(&timed(100));
        assert!(labels(&s).contains(&"slowest".to_string()));
        let lines = s.lines();
        let first = lines.iter().position(|l| l.label == "slowest").unwrap();
        assert!(
            lines[first + 1].value.contains("192.0.2.1:100"),
            "{lines:?}"
        );
        assert_eq!(lines.len() - first - 1, SLOWEST);
    }

    #[test]
    fn counts_per_verdict() {
        let mut s = Summary::default();
        s.add(&report(1, None));
        s.add(&report(2, Some(TcpState::Closed)));
        s.add(&report(3, Some(TcpState::Closed)));
        let text: Vec<String> = s.lines().into_iter().map(|l| l.value).collect();
        assert_eq!(text[0], "3 probes: 1 ok, 2 tcp closed");
        assert_eq!(s.total(), 3);
    }
}
