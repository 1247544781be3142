//! Runs a parsed command line: probes, renders as asked, and returns the exit code. Kept out of
//! `main.rs` so the binary stays a thin shell and tests can drive a whole run in-process.

use std::io::{self, BufReader, IsTerminal, Write};
use std::sync::Arc;

use crate::cli::{Cli, Command};
use crate::config::{ConfigError, Format, Settings};
use crate::exit::{self, ExitCode};
use crate::input::{self, InputError};
use crate::probe::AttemptHook;
use crate::render::human::{self, Style};
use crate::render::json;
use crate::render::summary::Summary;
use crate::report::Report;
use crate::run::{self, Targets};

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
    let targets = match target_stream(&settings) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("reach: {e}");
            return ExitCode::Usage;
        }
    };
    let progress = io::stderr().is_terminal() && settings.format == Format::Human;
    run_settings(settings, targets, progress, &mut io::stdout()).await
}

/// The targets of a run: the command line's, then the input file's, expanded lazily.
pub fn target_stream(settings: &Settings) -> Result<Targets, ConfigError> {
    let from_args = input::targets(settings.exprs.clone().into_iter()).map(Ok);
    let Some(path) = &settings.input else {
        return Ok(Box::new(from_args));
    };
    let max = settings.max_addresses;
    let lines: Box<dyn Iterator<Item = Result<input::Expr, InputError>> + Send> = if path == "-" {
        Box::new(input::read_lines(
            BufReader::new(io::stdin()),
            "stdin".into(),
            max,
        ))
    } else {
        let file = std::fs::File::open(path).map_err(|e| ConfigError::File {
            what: "input file",
            path: path.clone(),
            problem: e.to_string(),
        })?;
        Box::new(input::read_lines(BufReader::new(file), path.clone(), max))
    };
    let from_file = lines.flat_map(
        |item| -> Box<dyn Iterator<Item = Result<crate::target::Target, InputError>> + Send> {
            match item {
                Ok(expr) => Box::new(input::targets(std::iter::once(expr)).map(Ok)),
                Err(e) => Box::new(std::iter::once(Err(e))),
            }
        },
    );
    Ok(Box::new(from_args.chain(from_file)))
}

/// Probes `targets` with `settings`, writing the report to `out`.
pub async fn run_settings(
    settings: Settings,
    targets: Targets,
    progress: bool,
    out: &mut (impl Write + Send),
) -> ExitCode {
    let mut run_options = settings.run.clone();
    let budget = run::fd_budget();
    if run_options.limits.concurrency > budget {
        eprintln!(
            "reach: the open-file limit allows about {budget} probes at once; using -c {budget} instead of {}",
            run_options.limits.concurrency
        );
        run_options.limits.concurrency = budget;
    }
    let ctx = Arc::new(crate::probe::Context {
        options: settings.probe.clone(),
        tls: Arc::clone(&settings.tls),
    });
    let style = Style {
        color: settings.color,
    };
    let format = settings.format;
    let summary_only = settings.summary_only;
    let hook: Option<AttemptHook> = match (format, &settings.probe.latency, summary_only) {
        (Format::Human, Some(_), false) => Some(Arc::new(move |report: &Report, attempt| {
            let mut stdout = io::stdout().lock();
            // A closed stdout is noticed when the final report is written.
            let _ = human::write_attempt(&mut stdout, report, attempt, style);
            let _ = stdout.flush();
        })),
        _ => None,
    };
    let bar = progress.then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {pos} probes done, {per_sec} {elapsed}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    });
    let histogram = settings.probe.latency.is_some_and(|l| l.histogram);
    let show_certs = settings.show_certs;
    let mut code = ExitCode::Ok;
    let mut summary = Summary::default();
    let mut write_error: Option<io::Error> = None;
    let ordered = format != Format::Json && settings.input.is_none();
    let outcome = run::run(ctx, targets, run_options, hook, ordered, |report| {
        code = exit::worst(code, report.exit);
        summary.add(&report);
        if let Some(bar) = &bar {
            bar.inc(1);
        }
        if write_error.is_some() || summary_only {
            return;
        }
        let mut write = || -> io::Result<()> {
            match format {
                Format::Quiet => Ok(()),
                Format::Json => json::write_report(out, &report),
                Format::Human => write_human(out, &report, style, histogram, show_certs),
            }?;
            out.flush()
        };
        let written = match &bar {
            Some(bar) => bar.suspend(write),
            None => write(),
        };
        if let Err(e) = written {
            write_error = Some(e);
        }
    })
    .await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if outcome.input_errors > 0 {
        code = exit::worst(code, ExitCode::Usage);
    }
    if outcome.deadline_hit {
        eprintln!(
            "reach: --deadline reached: {} probes cut off, the rest of the input skipped",
            outcome.unfinished
        );
        code = exit::worst(code, ExitCode::Filtered);
    }
    let show_summary = format == Format::Human && (summary.total() > 1 || summary_only);
    if show_summary && write_error.is_none() {
        for line in summary.lines() {
            let _ = human::write_line(out, &line, style);
        }
    }
    code
}

fn write_human(
    out: &mut impl Write,
    report: &Report,
    style: Style,
    histogram: bool,
    show_certs: bool,
) -> io::Result<()> {
    human::write_report(out, report, style, show_certs)?;
    if histogram && let Some(stats) = &report.stats {
        for line in human::histogram_lines(stats) {
            human::write_line(out, &line, style)?;
        }
    }
    Ok(())
}
