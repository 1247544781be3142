//! The Printer: the one place that writes the report. It turns each report into the chosen
//! format (human, JSON lines, quiet, a Nagios plugin line), keeps the closing summary and,
//! when asked, the JUnit report for a file, and owns the progress spinner on stderr so that the
//! spinner is out of the way whenever a report is written.
//!
//! A pure function of the reports and a writer: give it a `Vec<u8>` and it renders into it.

use std::io::{self, Write};

use super::human::{self, Style};
use super::json;
use super::junit::Junit;
use super::lines::{Line, Tone};
use super::nagios::{Nagios, Thresholds};
use super::summary::Summary;
use crate::report::{Attempt, Report};

/// What the report looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// The diagnosis for people, with a closing summary.
    Human,
    /// One JSON object per probe, per line.
    Json,
    /// Nothing: the exit code says it all.
    Quiet,
    /// One plugin status line with perfdata, written when the run ends.
    Nagios(Thresholds),
}

/// How to print, decided once per run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Options {
    /// The format.
    pub format: Format,
    /// Colour on or off.
    pub style: Style,
    /// Print every certificate as PEM (`--show-certs`).
    pub show_certs: bool,
    /// Print a histogram under latency statistics (`--histogram`).
    pub histogram: bool,
    /// Print only the closing summary (`--summary-only`).
    pub summary_only: bool,
}

/// Why a run ended before every probe finished, for the closing summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cut {
    /// `--deadline` ran out; `cut_off` probes had started and were not reported.
    Deadline {
        /// Probes started and stopped before they finished.
        cut_off: usize,
    },
    /// A signal (Ctrl-C, `kill`) asked the run to stop.
    Signal {
        /// `SIGINT` or `SIGTERM`.
        name: &'static str,
        /// Probes started and stopped before they finished.
        cut_off: usize,
    },
}

impl Cut {
    /// One sentence: what cut the run and what it cost.
    pub(crate) fn sentence(self) -> String {
        let (what, cut_off) = match self {
            Cut::Deadline { cut_off } => ("--deadline reached".to_string(), cut_off),
            Cut::Signal { name, cut_off } => (format!("interrupted by {name}"), cut_off),
        };
        match cut_off {
            0 => format!("{what}, no probe started after it"),
            1 => format!("{what}: 1 probe cut off, no probe started after it"),
            n => format!("{what}: {n} probes cut off, no probe started after it"),
        }
    }
}

/// Writes the JUnit document to `path` (created or truncated), naming the file on error.
fn write_junit(path: &std::path::Path, junit: &Junit) -> io::Result<()> {
    let write = || -> io::Result<()> {
        let mut file = io::BufWriter::new(std::fs::File::create(path)?);
        junit.write(&mut file)?;
        file.flush()
    };
    write().map_err(|e| io::Error::new(e.kind(), format!("JUnit report {}: {e}", path.display())))
}

/// What the progress line knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Progress {
    /// Nothing planned yet: a count.
    Counting,
    /// Some targets are not resolved (or read) yet: done of planned so far.
    Planning,
    /// The total is known: a bar and an estimate of the time left.
    Total,
}

fn progress_style(stage: Progress) -> indicatif::ProgressStyle {
    let template = match stage {
        Progress::Counting => "{spinner} {pos} probes done, {rate}, {elapsed}",
        Progress::Planning => "{spinner} {pos} of {len}+ probes done, {rate}, {elapsed}",
        Progress::Total => "{spinner} {bar:24} {pos}/{len} probes, {rate}, {elapsed}, {left}",
    };
    indicatif::ProgressStyle::with_template(template)
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner())
        .with_key(
            "rate",
            |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = w.write_str(&rate(state.per_sec()));
            },
        )
        .with_key(
            "left",
            |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                // No estimate before the first probe has finished.
                let _ = match state.pos() {
                    0 => w.write_str("estimating the time left"),
                    _ => write!(w, "about {} left", indicatif::HumanDuration(state.eta())),
                };
            },
        )
        .progress_chars("=> ")
}

/// Probes per second as people read it: `12/s`, `3.5/s`, `0.4/s`.
fn rate(per_sec: f64) -> String {
    if !per_sec.is_finite() || per_sec <= 0.0 {
        "-/s".to_string()
    } else if per_sec >= 10.0 {
        format!("{per_sec:.0}/s")
    } else {
        format!("{per_sec:.1}/s")
    }
}

/// Writes reports to `out` in one format and closes the run with a summary.
pub(crate) struct Printer<W: Write> {
    out: W,
    options: Options,
    summary: Summary,
    progress: Option<indicatif::ProgressBar>,
    progress_stage: Progress,
    /// The first write error: once the reader has gone, nothing more is written.
    broken: Option<io::ErrorKind>,
    /// The plugin result, in `Format::Nagios`.
    nagios: Option<Nagios>,
    /// The JUnit report and the file it goes to (`--junit`).
    junit: Option<(std::path::PathBuf, Junit)>,
    /// Where one report (or the summary) is rendered before it is written in one call: a
    /// serializer's hundreds of small writes never reach the (locked, unbuffered) stdout.
    buffer: Vec<u8>,
}

impl<W: Write> Printer<W> {
    /// A printer writing to `out`.
    pub(crate) fn new(out: W, options: Options) -> Self {
        Printer {
            out,
            options,
            summary: Summary::new(options.style.every_sni),
            progress: None,
            progress_stage: Progress::Counting,
            broken: None,
            nagios: match options.format {
                Format::Nagios(thresholds) => Some(Nagios::new(thresholds)),
                _ => None,
            },
            junit: None,
            buffer: Vec::with_capacity(4096),
        }
    }

    /// Also keeps a JUnit report, written to `path` by [`Printer::finish`].
    pub(crate) fn junit_to(&mut self, path: std::path::PathBuf) {
        self.junit = Some((path, Junit::new()));
    }

    /// The plugin status of the run so far (`Format::Nagios`; `None` in other formats).
    pub(crate) fn plugin_status(&self, cut: bool) -> Option<crate::exit::PluginStatus> {
        self.nagios.as_ref().map(|n| n.status(cut))
    }

    /// Shows the progress on stderr (for a terminal): a spinner with the probes done, then,
    /// once the run knows how many probes it will make, a bar with the total and an ETA.
    pub(crate) fn show_progress(&mut self) {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(progress_style(Progress::Counting));
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        self.progress = Some(bar);
    }

    /// Probes finished (counted as they finish, before their turn to be printed).
    pub(crate) fn finished(&mut self, probes: u64) {
        if let Some(bar) = &self.progress {
            bar.inc(probes);
        }
    }

    /// What the run plans to report so far (`complete`: the total).
    pub(crate) fn planned(&mut self, probes: u64, complete: bool) {
        let Some(bar) = &self.progress else { return };
        bar.set_length(probes);
        let stage = if complete {
            Progress::Total
        } else {
            Progress::Planning
        };
        if self.progress_stage != stage {
            bar.set_style(progress_style(stage));
            self.progress_stage = stage;
        }
    }

    /// Whether latency-mode attempts are printed as they happen (worth sending them here).
    pub(crate) fn wants_attempts(&self) -> bool {
        self.options.format == Format::Human && !self.options.summary_only
    }

    /// Prints one finished probe and counts it for the summary. An error means the output is
    /// gone (a closed pipe): later calls write nothing and return an error of the same kind.
    /// With a JUnit report, the probe's checks-file entry (`reach` outside one) is its test
    /// suite.
    pub(crate) fn write(&mut self, report: &Report) -> io::Result<()> {
        self.summary.add(report);
        if let Some((_, junit)) = &mut self.junit {
            junit.add(report.check.as_deref().unwrap_or("reach"), report);
        }
        if let Some(nagios) = &mut self.nagios {
            nagios.add(report);
        }
        if self.options.summary_only {
            return self.check();
        }
        let options = self.options;
        match options.format {
            Format::Quiet | Format::Nagios(_) => self.check(),
            Format::Json => self.emit(|out| json::write_report(out, report)),
            Format::Human => self.emit(|out| {
                human::write_report(out, report, options.style, options.show_certs)?;
                if options.histogram
                    && let Some(stats) = &report.stats
                {
                    for line in human::histogram_lines(stats) {
                        human::write_line(out, &line, options.style)?;
                    }
                }
                Ok(())
            }),
        }
    }

    /// Prints one latency-mode attempt as it happens (PsPing's per-attempt line).
    pub(crate) fn attempt(&mut self, report: &Report, attempt: &Attempt) -> io::Result<()> {
        if !self.wants_attempts() {
            return self.check();
        }
        let style = self.options.style;
        self.emit(|out| human::write_attempt(out, report, attempt, style))
    }

    /// Clears the spinner and closes the report: the human summary (counts per verdict, the
    /// IP × SNI matrix, the slowest probes) when there was more than one probe, when only the
    /// summary was asked for, or when the run was cut short (then it says so).
    /// The JUnit report, when asked, is written to its file even when stdout has gone; an
    /// error writing it is returned after the rest is done.
    pub(crate) fn finish(mut self, cut: Option<Cut>) -> io::Result<()> {
        if let Some(bar) = self.progress.take() {
            bar.finish_and_clear();
        }
        let junit = match self.junit.take() {
            Some((path, junit)) => write_junit(&path, &junit),
            None => Ok(()),
        };
        let printed = self.close(cut);
        printed.and(junit)
    }

    fn close(&mut self, cut: Option<Cut>) -> io::Result<()> {
        if let Some(nagios) = self.nagios.take() {
            return self.emit(|out| nagios.write(out, cut.map(Cut::sentence)));
        }
        let wanted = self.options.format == Format::Human
            && (self.summary.total() > 1 || self.options.summary_only || cut.is_some());
        if !wanted {
            return self.check();
        }
        let mut lines = self.summary.lines();
        if let Some(cut) = cut {
            let at = lines.len().min(1);
            lines.insert(at, Line::new(0, "cut short", cut.sentence(), Tone::Warn));
        }
        let style = self.options.style;
        self.emit(|out| {
            for line in &lines {
                human::write_line(out, line, style)?;
            }
            Ok(())
        })
    }

    /// Renders into the reused buffer, then writes it in one call (with the spinner out of the
    /// way) and flushes, remembering a failure.
    fn emit(&mut self, write: impl FnOnce(&mut Vec<u8>) -> io::Result<()>) -> io::Result<()> {
        self.check()?;
        self.buffer.clear();
        write(&mut self.buffer)?;
        let (out, rendered) = (&mut self.out, &self.buffer);
        let mut write_and_flush = || -> io::Result<()> {
            out.write_all(rendered)?;
            out.flush()
        };
        let result = match &self.progress {
            Some(bar) => bar.suspend(write_and_flush),
            None => write_and_flush(),
        };
        if let Err(e) = &result {
            self.broken = Some(e.kind());
        }
        result
    }

    /// `Err` once a write has failed.
    fn check(&self) -> io::Result<()> {
        match self.broken {
            Some(kind) => Err(io::Error::new(kind, "the output is closed")),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod progress_tests {
    use super::*;

    #[test]
    fn rates_read_like_numbers_people_write() {
        assert_eq!(rate(1234.5678), "1235/s");
        assert_eq!(rate(12.34), "12/s");
        assert_eq!(rate(3.456), "3.5/s");
        assert_eq!(rate(0.04), "0.0/s");
        assert_eq!(rate(0.0), "-/s");
        assert_eq!(rate(f64::NAN), "-/s");
    }

    #[test]
    fn the_bar_gets_its_total_once_the_plan_is_complete() {
        let options = Options {
            format: Format::Human,
            style: Style::default(),
            show_certs: false,
            histogram: false,
            summary_only: false,
        };
        let mut printer = Printer::new(Vec::new(), options);
        printer.show_progress();
        let bar = printer.progress.clone().unwrap();
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
        printer.planned(3, false);
        assert_eq!(printer.progress_stage, Progress::Planning);
        printer.planned(7, true);
        assert_eq!(printer.progress_stage, Progress::Total);
        assert_eq!(bar.length(), Some(7));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Layer, Reason, Stopped, TcpReason, TcpReport, TcpState};

    fn options(format: Format) -> Options {
        Options {
            format,
            style: Style::default(),
            show_certs: false,
            histogram: false,
            summary_only: false,
        }
    }

    fn closed(port: u16) -> Report {
        Report {
            target: format!("192.0.2.1:{port}"),
            host: "192.0.2.1".into(),
            address: Some("192.0.2.1".parse().unwrap()),
            port,
            stopped: Some(Stopped {
                layer: Layer::Tcp,
                reason: Reason::Tcp(TcpState::Closed),
            }),
            tcp: Some(TcpReport {
                state: TcpState::Closed,
                reason: TcpReason::Rst,
                icmp_from: None,
                icmp: None,
                errno: Some(111),
                connect_ms: 0.5,
                icmp_evidence: crate::report::IcmpEvidence::ErrorQueue,
            }),
            ..Report::default()
        }
    }

    fn render(format: Format, reports: &[Report], cut: Option<Cut>) -> String {
        let mut out = Vec::new();
        let mut printer = Printer::new(&mut out, options(format));
        for r in reports {
            printer.write(r).unwrap();
        }
        printer.finish(cut).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn human_report_then_a_summary_only_for_several_probes() {
        let one = render(Format::Human, &[closed(1)], None);
        assert!(one.starts_with("192.0.2.1:1  TCP closed: RST"), "{one}");
        assert!(!one.contains("summary"), "{one}");
        let two = render(Format::Human, &[closed(1), closed(2)], None);
        assert!(two.contains("summary    2 probes: 2 tcp closed"), "{two}");
    }

    #[test]
    fn json_is_one_line_per_report_and_nothing_else() {
        let text = render(Format::Json, &[closed(1), closed(2)], None);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        let first: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(first["tcp"]["state"], "closed");
        assert_eq!(render(Format::Quiet, &[closed(1), closed(2)], None), "");
    }

    #[test]
    fn a_cut_run_says_so_in_the_summary() {
        let text = render(
            Format::Human,
            &[closed(1)],
            Some(Cut::Deadline { cut_off: 3 }),
        );
        assert!(
            text.contains("cut short  --deadline reached: 3 probes cut off"),
            "{text}"
        );
        let text = render(
            Format::Human,
            &[],
            Some(Cut::Signal {
                name: "SIGINT",
                cut_off: 1,
            }),
        );
        assert!(text.contains("no probe finished"), "{text}");
        assert!(
            text.contains("interrupted by SIGINT: 1 probe cut off"),
            "{text}"
        );
        // JSON output carries reports only; the cut is said on stderr.
        let text = render(Format::Json, &[], Some(Cut::Deadline { cut_off: 1 }));
        assert_eq!(text, "");
    }

    #[test]
    fn attempts_are_live_lines_in_human_mode_only() {
        let report = closed(7);
        let attempt = Attempt {
            seq: 2,
            state: crate::report::AttemptState::Tcp(TcpState::Open),
            reason: crate::report::AttemptReason::Tcp(TcpReason::SynAck),
            connect_ms: 0.25,
            tls_handshake_ms: None,
            tls_error: None,
            stopped: None,
        };
        let mut out = Vec::new();
        Printer::new(&mut out, options(Format::Human))
            .attempt(&report, &attempt)
            .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "192.0.2.1:7  #2    open 0.25 ms\n"
        );
        let mut out = Vec::new();
        Printer::new(&mut out, options(Format::Json))
            .attempt(&report, &attempt)
            .unwrap();
        assert!(out.is_empty());
    }

    /// A writer whose reader has gone after `left` writes.
    struct ClosedAfter {
        left: usize,
        writes: usize,
    }

    impl Write for ClosedAfter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.writes += 1;
            if self.left == 0 {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            self.left -= 1;
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_output_is_reported_once_and_never_written_again() {
        let mut out = ClosedAfter { left: 0, writes: 0 };
        let mut printer = Printer::new(&mut out, options(Format::Json));
        let e = printer.write(&closed(1)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
        let e = printer.write(&closed(2)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
        assert!(printer.finish(None).is_err());
        assert_eq!(out.writes, 1, "wrote again after the pipe closed");
    }
}
