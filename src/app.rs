//! Runs a parsed command line: probes, renders as asked, and returns the exit code. Kept out of
//! `main.rs` so the binary stays a thin shell and tests can drive a whole run in-process.

use std::io::{self, IsTerminal, Write};
use std::sync::Arc;

use crate::cli::{Cli, Command};
use crate::config::{Format, Settings};
use crate::exit::{self, ExitCode};
use crate::probe::AttemptHook;
use crate::render::human::{self, Style};
use crate::render::json;
use crate::report::Report;

/// Runs `cli` and returns the exit code. Usage errors are printed to stderr in one line.
pub async fn run(cli: Cli) -> ExitCode {
    if let Some(Command::Demo { json }) = cli.command {
        return crate::demo::run(json).await;
    }
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let settings = match Settings::from_cli(&cli, io::stdout().is_terminal(), no_color) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("reach: {e}");
            return ExitCode::Usage;
        }
    };
    run_settings(settings, &mut io::stdout()).await
}

/// Probes everything in `settings`, writing the report to `out`.
pub async fn run_settings(settings: Settings, out: &mut (impl Write + Send)) -> ExitCode {
    let settings = Arc::new(settings);
    let style = Style {
        color: settings.color,
    };
    let format = settings.format;
    let expect = settings.expect;
    let hook: Option<AttemptHook> = match (format, &settings.latency) {
        (Format::Human, Some(_)) => Some(Arc::new(move |report: &Report, attempt| {
            let mut stdout = io::stdout().lock();
            // A closed stdout is handled when the final report is written.
            let _ = human::write_attempt(&mut stdout, report, attempt, style);
            let _ = stdout.flush();
        })),
        _ => None,
    };
    let histogram = settings.latency.is_some_and(|l| l.histogram);
    let mut code = ExitCode::Ok;
    let mut count = 0usize;
    let mut write_error: Option<io::Error> = None;
    let ordered = format != Format::Json;
    let mut tally: std::collections::BTreeMap<String, usize> = Default::default();
    crate::run::run(Arc::clone(&settings), hook, ordered, |report| {
        count += 1;
        let this = exit::for_report(&report, expect);
        code = exit::worst(code, this);
        *tally.entry(verdict_word(&report)).or_default() += 1;
        if write_error.is_some() {
            return;
        }
        let written = match format {
            Format::Quiet => Ok(()),
            Format::Json => json::write_report(out, &report),
            Format::Human => write_human(out, &report, style, histogram),
        };
        if let Err(e) = written.and_then(|()| out.flush()) {
            write_error = Some(e);
        }
    })
    .await;
    if format == Format::Human && count > 1 && write_error.is_none() {
        let summary: Vec<String> = tally.iter().map(|(w, n)| format!("{n} {w}")).collect();
        let _ = writeln!(out, "{count} probes: {}", summary.join(", "));
    }
    code
}

fn write_human(
    out: &mut impl Write,
    report: &Report,
    style: Style,
    histogram: bool,
) -> io::Result<()> {
    human::write_report(out, report, style)?;
    if histogram && let Some(stats) = &report.stats {
        for line in human::histogram_lines(stats) {
            human::write_line(out, &line, style)?;
        }
    }
    Ok(())
}

/// The word a report is counted under in the closing summary.
fn verdict_word(report: &Report) -> String {
    if let Some(stopped) = &report.stopped {
        return format!("{} {}", stopped.layer.as_str(), stopped.reason);
    }
    match &report.tcp {
        Some(tcp) => tcp.state.as_str().to_string(),
        None => "unknown".to_string(),
    }
}
