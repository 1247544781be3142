//! The Nagios/Icinga plugin output (`--format nagios`): one status line with perfdata, then
//! one line per probe (the plugin's "long output"). The status itself is decided by
//! `verdict::plugin_status`; this module only folds the probes together and writes.
//!
//! ```text
//! REACH OK - 127.0.0.1:8443 sni=www.example: OK: right virtual host, certificate trusted (…), 89 days left | days_left=89;20;15;; connect_ms=0.210ms;;;0; tls_ms=1.700ms;;;0;
//! ```

use std::io::{self, Write};

use super::human::{headline_text, probe_label};
use super::sanitize::escape;
use crate::exit::PluginStatus;
use crate::report::{ExpectCheck, Report, word};
use crate::verdict;

/// Longest long output kept (probes beyond it are counted, not listed).
const MAX_LINES: usize = 100;

/// The thresholds shown in the `days_left` perfdata.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Thresholds {
    /// `--warn-days`.
    pub warning: Option<i64>,
    /// `--crit-days`.
    pub critical: Option<i64>,
}

/// The probes of a run, folded into one plugin result.
#[derive(Debug, Default)]
pub(crate) struct Nagios {
    thresholds: Thresholds,
    status: Option<PluginStatus>,
    probes: usize,
    failing: usize,
    /// The first probe with the worst status: it names the problem on the status line.
    worst_text: Option<String>,
    lines: Vec<(PluginStatus, String)>,
    days_left: Option<i64>,
    connect_ms: Option<f64>,
    tls_ms: Option<f64>,
}

impl Nagios {
    pub(crate) fn new(thresholds: Thresholds) -> Nagios {
        Nagios {
            thresholds,
            ..Nagios::default()
        }
    }

    /// Counts one probe.
    pub(crate) fn add(&mut self, report: &Report) {
        let status = verdict::plugin_status(report);
        let text = probe_text(report);
        self.probes += 1;
        if status != PluginStatus::Ok {
            self.failing += 1;
        }
        let previous = self.status.unwrap_or(PluginStatus::Ok);
        let worst = previous.worst(status);
        if self.worst_text.is_none() || (worst != previous && worst == status) {
            self.worst_text = Some(text.clone());
        }
        self.status = Some(worst);
        if self.lines.len() < MAX_LINES {
            self.lines.push((status, text));
        }
        if let Some(days) = report
            .tls
            .as_ref()
            .and_then(|t| t.chain.iter().filter_map(|c| c.days_left).min())
        {
            self.days_left = Some(self.days_left.map_or(days, |d| d.min(days)));
        }
        if let Some(tcp) = report.tcp.as_ref().filter(|t| t.state.as_str() == "open") {
            self.connect_ms = Some(
                self.connect_ms
                    .map_or(tcp.connect_ms, |m| m.max(tcp.connect_ms)),
            );
        }
        if let Some(ms) = report.tls.as_ref().and_then(|t| t.handshake_ms) {
            self.tls_ms = Some(self.tls_ms.map_or(ms, |m| m.max(ms)));
        }
    }

    /// The status of the run: UNKNOWN when nothing was checked or the run was cut short.
    pub(crate) fn status(&self, cut: bool) -> PluginStatus {
        match self.status {
            None => PluginStatus::Unknown,
            Some(status) if cut => status.worst(PluginStatus::Unknown),
            Some(status) => status,
        }
    }

    /// Writes the status line, the perfdata and the long output.
    pub(crate) fn write(&self, out: &mut impl Write, cut: Option<String>) -> io::Result<()> {
        let status = self.status(cut.is_some());
        let summary = match (&self.worst_text, self.probes) {
            (None, _) => "no probe finished".to_string(),
            (Some(text), 1) => text.clone(),
            (Some(text), n) if self.failing == 0 => format!("{n} probes OK; {text}"),
            (Some(text), n) => format!("{} of {n} probes not OK; {text}", self.failing),
        };
        let summary = match cut {
            Some(why) => format!("{summary}; run cut short: {why}"),
            None => summary,
        };
        writeln!(
            out,
            "REACH {} - {} | {}",
            status.word(),
            plugin_safe(&summary),
            self.perfdata()
        )?;
        if self.probes > 1 {
            for (status, text) in &self.lines {
                writeln!(out, "{}: {}", status.word(), plugin_safe(text))?;
            }
            if self.probes > self.lines.len() {
                writeln!(out, "… and {} more probes", self.probes - self.lines.len())?;
            }
        }
        Ok(())
    }

    fn perfdata(&self) -> String {
        let mut parts = Vec::new();
        if let Some(days) = self.days_left {
            let t = |v: Option<i64>| v.map(|d| d.to_string()).unwrap_or_default();
            parts.push(format!(
                "days_left={days};{};{};;",
                t(self.thresholds.warning),
                t(self.thresholds.critical)
            ));
        }
        if let Some(ms) = self.connect_ms {
            parts.push(format!("connect_ms={ms:.3}ms;;;0;"));
        }
        if let Some(ms) = self.tls_ms {
            parts.push(format!("tls_ms={ms:.3}ms;;;0;"));
        }
        parts.push(format!("probes={};;;0;", self.probes));
        parts.push(format!("failing={};;;0;", self.failing));
        parts.join(" ")
    }
}

/// `label: headline`, with the days left and any warning said.
fn probe_text(report: &Report) -> String {
    let mut text = format!("{}: {}", probe_label(report, true), headline_text(report));
    let earliest = report
        .tls
        .as_ref()
        .and_then(|t| t.chain.iter().filter_map(|c| c.days_left).min());
    let days_said = report.expect.iter().any(|e| {
        !e.ok
            && matches!(
                e.check,
                ExpectCheck::MinDays | ExpectCheck::CritDays | ExpectCheck::WarnDays
            )
    });
    if let Some(days) = earliest.filter(|_| !days_said) {
        text.push_str(&format!(", {days} days left"));
    }
    // A warning is said when it is what the status is about.
    let warnings = report
        .expect
        .iter()
        .filter(|e| !e.ok && e.check.warns_only() && report.exit.code() == 0);
    for warning in warnings {
        text.push_str(&format!(
            "; {} crossed: wanted {}, saw {}",
            word(&warning.check),
            warning.wanted,
            warning.seen
        ));
    }
    text
}

/// Escaped for a terminal, and without `|`, which starts the perfdata for Nagios.
fn plugin_safe(text: &str) -> String {
    escape(text).replace('|', "/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::ExitCode;
    use crate::report::{Layer, Reason, Stopped, TcpReason, TcpReport, TcpState};

    fn tcp(state: TcpState) -> Report {
        Report {
            target: "127.0.0.1:1".into(),
            host: "127.0.0.1".into(),
            address: Some([127, 0, 0, 1].into()),
            port: 1,
            tcp: Some(TcpReport {
                state,
                reason: TcpReason::Rst,
                icmp_from: None,
                icmp: None,
                errno: None,
                connect_ms: 0.5,
                icmp_evidence: crate::report::IcmpEvidence::ErrorQueue,
            }),
            ..Report::default()
        }
    }

    #[test]
    fn one_line_with_perfdata_and_the_worst_status() {
        let mut n = Nagios::new(Thresholds::default());
        let mut ok = tcp(TcpState::Open);
        crate::verdict::settle(&mut ok, &Default::default());
        n.add(&ok);
        let mut text = Vec::new();
        n.write(&mut text, None).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(
            text.starts_with("REACH OK - 127.0.0.1:1: TCP open"),
            "{text}"
        );
        assert!(
            text.contains("| connect_ms=0.500ms;;;0; probes=1;;;0; failing=0;;;0;"),
            "{text}"
        );
        assert_eq!(text.lines().count(), 1);

        let mut closed = tcp(TcpState::Closed);
        closed.stopped = Some(Stopped {
            layer: Layer::Tcp,
            reason: Reason::Tcp(TcpState::Closed),
        });
        closed.exit = ExitCode::NotListening;
        n.add(&closed);
        assert_eq!(n.status(false), PluginStatus::Critical);
        assert_eq!(n.status(true), PluginStatus::Critical);
        let mut text = Vec::new();
        n.write(&mut text, None).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(
            text.starts_with("REACH CRITICAL - 1 of 2 probes not OK; 127.0.0.1:1: TCP closed"),
            "{text}"
        );
        assert_eq!(text.lines().count(), 3, "{text}");
        assert_eq!(Nagios::default().status(false), PluginStatus::Unknown);
    }
}
