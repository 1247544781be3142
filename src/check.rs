//! `reach check FILE`: the composition root of a checks-file run. Every entry runs as its own
//! run of probes (its own options, trust and expectations), at most [`ENTRIES_AT_ONCE`]
//! entries at once, each within `-c` probes in flight; reports are printed entry by entry in
//! file order. `expect.same_cert` is decided here, where all reports of an entry meet.

use std::io::{self, IsTerminal};
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;

use crate::cancel::Cancel;
use crate::cli::CheckArgs;
use crate::config::checks::{self, Check};
use crate::config::{ConfigError, Format, format_of, parse_duration};
use crate::exit::{self, Exit, ExitCode, PluginStatus};
use crate::render::human::Style;
use crate::render::nagios::Thresholds;
use crate::render::printer::{self, Cut, Printer};
use crate::report::Report;
use crate::run::{self, Event, Expansion, Limits, RunOptions, Targets};
use crate::verdict;

/// Entries probed at once.
pub const ENTRIES_AT_ONCE: usize = 8;

/// Runs the checks file named in `args` and returns the exit code (a plugin status with
/// `--format nagios`).
pub async fn run(args: CheckArgs) -> Exit {
    let format = format_of(&args.output, args.report.format);
    let plugin = format == Format::Nagios;
    let checks = match checks::load(Path::new(&args.file)) {
        Ok(c) => c,
        Err(e) => return crate::app::usage_error(&e, plugin),
    };
    let deadline = match args.deadline.as_deref().map(|d| (d, parse_duration(d))) {
        None => None,
        Some((_, Some(d))) if !d.is_zero() => Some(d),
        Some((text, _)) => {
            let e = ConfigError::Flag {
                flag: "--deadline",
                value: text.to_string(),
                problem: "expected a duration like 30s".into(),
            };
            return crate::app::usage_error(&e, plugin);
        }
    };
    if args.concurrency == 0 {
        let e = ConfigError::Flag {
            flag: "--concurrency",
            value: "0".into(),
            problem: "must be at least 1".into(),
        };
        return crate::app::usage_error(&e, plugin);
    }
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let color = match args.output.color {
        crate::cli::ColorChoice::Always => true,
        crate::cli::ColorChoice::Never => false,
        crate::cli::ColorChoice::Auto => io::stdout().is_terminal() && !no_color,
    };
    let thresholds = plugin_thresholds(&checks);
    let options = printer::Options {
        format: match format {
            Format::Human => printer::Format::Human,
            Format::Json => printer::Format::Json,
            Format::Quiet => printer::Format::Quiet,
            Format::Nagios => printer::Format::Nagios(thresholds),
        },
        // A checks file mixes entries with and without SNI names: name it on every line.
        style: Style {
            color,
            every_sni: true,
        },
        show_certs: false,
        histogram: false,
        summary_only: false,
    };
    let mut stdout = io::stdout();
    let mut printer = Printer::new(&mut stdout, options);
    if let Some(path) = &args.report.junit {
        printer.junit_to(path.into());
    }
    let limits = Limits {
        concurrency: args.concurrency,
        ..Limits::default()
    };
    let (code, cut) = run_checks(checks, limits, deadline, |report| printer.write(report)).await;
    let status = printer.plugin_status(cut.is_some());
    let finished = printer.finish(cut);
    match (finished, status) {
        (Err(e), _) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::OutputClosed.into(),
        (Err(e), Some(_)) => {
            eprintln!("reach: cannot write the report: {e}");
            Exit::Plugin(PluginStatus::Unknown)
        }
        (Err(e), None) => {
            eprintln!("reach: cannot write the report: {e}");
            ExitCode::OutputError.into()
        }
        (Ok(()), Some(status)) => Exit::Plugin(status),
        (Ok(()), None) => code.into(),
    }
}

/// The days thresholds shown in plugin perfdata: the first entry's that has any.
fn plugin_thresholds(checks: &[Check]) -> Thresholds {
    checks
        .iter()
        .find_map(|c| c.probe.expect.days)
        .map(|d| Thresholds {
            warning: d.warning,
            critical: d.critical,
        })
        .unwrap_or_default()
}

/// Runs every entry and hands each report to `sink`, entry by entry in file order. Returns
/// the worst exit code and why the run was cut short, if it was.
pub(crate) async fn run_checks(
    checks: Vec<Check>,
    limits: Limits,
    deadline: Option<Duration>,
    mut sink: impl FnMut(&Report) -> io::Result<()>,
) -> (ExitCode, Option<Cut>) {
    let started = tokio::time::Instant::now();
    let total = checks.len();
    let mut pending = checks.into_iter().enumerate();
    let mut running: JoinSet<(usize, Vec<Report>, bool)> = JoinSet::new();
    let mut done: std::collections::BTreeMap<usize, Vec<Report>> = Default::default();
    let mut next = 0usize;
    let mut code = ExitCode::Ok;
    let mut cut_off = 0usize;
    let mut deadline_hit = false;
    let mut write_error = None;
    loop {
        while running.len() < ENTRIES_AT_ONCE {
            let Some((index, check)) = pending.next() else {
                break;
            };
            let left = deadline.map(|d| d.saturating_sub(started.elapsed()));
            if left.is_some_and(|l| l.is_zero()) {
                deadline_hit = true;
                break;
            }
            running.spawn(run_entry(
                index,
                check,
                Limits {
                    deadline: left,
                    ..limits
                },
            ));
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let (index, reports, hit) = match joined {
            Ok(done) => done,
            Err(e) => {
                eprintln!("reach: internal error: a checks entry failed ({e}); please report it");
                code = exit::worst(code, ExitCode::Internal);
                continue;
            }
        };
        deadline_hit |= hit;
        done.insert(index, reports);
        while let Some(reports) = done.remove(&next) {
            for report in &reports {
                code = exit::worst(code, report.exit);
                if write_error.is_none()
                    && let Err(e) = sink(report)
                {
                    write_error = Some(e);
                }
            }
            next += 1;
        }
        if write_error.is_some() {
            running.abort_all();
            break;
        }
    }
    for (_, reports) in std::mem::take(&mut done) {
        for report in &reports {
            code = exit::worst(code, report.exit);
            if write_error.is_none() {
                let _ = sink(report);
            }
        }
    }
    if deadline_hit {
        cut_off = total.saturating_sub(next);
        code = exit::worst(code, ExitCode::Filtered);
    }
    let cut = deadline_hit.then_some(Cut::Deadline { cut_off });
    (code, cut)
}

/// One entry: its probes as one run, then the same-certificate decision over all of them.
async fn run_entry(index: usize, check: Check, limits: Limits) -> (usize, Vec<Report>, bool) {
    let ctx = Arc::new(crate::probe::Context {
        options: check.probe.clone(),
        tls: Arc::clone(&check.tls),
        open_ports: Default::default(),
        rtts: Default::default(),
    });
    let options = RunOptions {
        limits,
        expand: Expansion {
            ports: check.ports.clone(),
            snis: Vec::new(),
            no_sni: false,
            ..Expansion::default()
        },
        resolver: Default::default(),
    };
    let targets: Targets = Box::new(check.targets.clone().into_iter().map(Ok));
    let mut reports = Vec::new();
    let outcome = run::run(
        ctx,
        targets,
        options,
        false,
        true,
        Cancel::never(),
        |event| {
            if let Event::Report(report) = event {
                reports.push(report.clone());
            }
            ControlFlow::Continue(())
        },
    )
    .await;
    if check.same_cert {
        verdict::same_cert(&mut reports);
    }
    for report in &mut reports {
        report.check = Some(check.name.clone());
    }
    (index, reports, outcome.deadline_hit)
}
