//! The composition root: builds the settings, the target stream, the TLS context and the
//! printer, runs the probes, and wires each report (and each live latency attempt) to the
//! printer. Kept out of `main.rs` so the binary stays a thin shell and tests can drive a whole
//! run in-process.

use std::io::{self, BufReader, IsTerminal, Write};
use std::ops::ControlFlow;
use std::sync::Arc;

use crate::cancel::{Cancel, Caught, Signal};
use crate::cli::Cli;
use crate::config::{ConfigError, Format, InputSource, Settings};
use crate::exit::{self, Exit, ExitCode, PluginStatus};
use crate::input::{self, InputError};
use crate::render::human::Style;
use crate::render::nagios::Thresholds;
use crate::render::printer::{self, Cut, Printer};
use crate::run::{self, Event, Targets};

/// Runs `cli` and returns the exit code. Usage errors are printed to stderr in one line
/// (in plugin mode, as an UNKNOWN status line on stdout, exit 3).
pub async fn run(cli: Cli) -> Exit {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let plugin = crate::config::format_of(&cli.output, cli.report.format) == Format::Nagios;
    let settings = match Settings::from_cli(&cli, io::stdout().is_terminal(), no_color) {
        Ok(s) => s,
        Err(e) => return usage_error(&e, plugin),
    };
    let targets = match target_stream(&settings) {
        Ok(t) => t,
        Err(e) => return usage_error(&e, plugin),
    };
    let progress = io::stderr().is_terminal() && settings.format == Format::Human;
    // Ctrl-C and SIGTERM stop the run; what finished is still printed.
    let (cancel, caught) = crate::cancel::on_signals();
    run_reporting(
        settings,
        targets,
        progress,
        &mut io::stdout(),
        cancel,
        Some(&caught),
    )
    .await
}

/// The targets of a run: the command line's, then the input file's, expanded lazily.
pub fn target_stream(settings: &Settings) -> Result<Targets, ConfigError> {
    let from_args = input::targets(settings.exprs.clone().into_iter()).map(Ok);
    let Some(source) = &settings.input else {
        return Ok(Box::new(from_args));
    };
    let max = settings.max_addresses;
    let lines: Box<dyn Iterator<Item = Result<input::Expr, InputError>> + Send> = match source {
        InputSource::Stdin => Box::new(input::read_lines(
            BufReader::new(io::stdin()),
            "stdin".into(),
            max,
        )),
        InputSource::File { path, file } => {
            let file = file.try_clone().map_err(|e| ConfigError::File {
                what: "input file",
                path: path.clone(),
                problem: e.to_string(),
            })?;
            Box::new(input::read_lines(BufReader::new(file), path.clone(), max))
        }
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
    match run_reporting(settings, targets, progress, out, Cancel::never(), None).await {
        Exit::Code(code) => code,
        // Not reached: the callers of this function do not ask for plugin output.
        Exit::Plugin(_) => ExitCode::Usage,
    }
}

/// A usage error: one line on stderr and exit 64, or in plugin mode an UNKNOWN status line
/// on stdout (what Nagios shows) and exit 3.
pub fn usage_error(error: &dyn std::fmt::Display, plugin: bool) -> Exit {
    if plugin {
        println!("REACH UNKNOWN - usage: {error}");
        return Exit::Plugin(PluginStatus::Unknown);
    }
    eprintln!("reach: {error}");
    Exit::Code(ExitCode::Usage)
}

/// [`run_settings`], stopping early when `cancel` is cancelled by the signal it will show in
/// `caught`; in plugin mode the plugin status decides the exit.
async fn run_reporting(
    settings: Settings,
    targets: Targets,
    progress: bool,
    out: &mut (impl Write + Send),
    cancel: Cancel,
    caught: Option<&Caught>,
) -> Exit {
    let plugin = settings.format == Format::Nagios;
    let mut status = None;
    let code = run_until(
        settings,
        targets,
        progress,
        out,
        cancel,
        caught,
        &mut status,
    )
    .await;
    match (plugin, status) {
        // The run ended normally: the plugin status decides.
        (true, Some(status)) if code.severity() < ExitCode::Usage.severity() => {
            Exit::Plugin(status)
        }
        // Bad input lines, a bug, an interrupted run, output gone: could not check.
        (true, _) => Exit::Plugin(PluginStatus::Unknown),
        (false, _) => Exit::Code(code),
    }
}

async fn run_until(
    settings: Settings,
    targets: Targets,
    progress: bool,
    out: &mut (impl Write + Send),
    cancel: Cancel,
    caught: Option<&Caught>,
    plugin_status: &mut Option<PluginStatus>,
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
    let mut printer = Printer::new(out, printer_options(&settings));
    if progress {
        printer.show_progress();
    }
    if let Some(path) = &settings.junit {
        printer.junit_to(path.clone());
    }
    let live = settings.probe.latency.is_some() && printer.wants_attempts();
    let ordered = settings.format != Format::Json && settings.input.is_none();
    let human = settings.format == Format::Human;
    let ctx = Arc::new(crate::probe::Context {
        options: settings.probe.clone(),
        tls: Arc::clone(&settings.tls),
        open_ports: Default::default(),
        rtts: Default::default(),
    });
    let mut code = ExitCode::Ok;
    let mut write_error: Option<io::Error> = None;
    let outcome = run::run(ctx, targets, run_options, live, ordered, cancel, |event| {
        let written = match event {
            Event::Report(report) => {
                code = exit::worst(code, report.exit);
                printer.write(report)
            }
            Event::Attempt(report, attempt) => printer.attempt(report, attempt),
            Event::Planned { probes, complete } => {
                printer.planned(probes, complete);
                Ok(())
            }
            Event::Finished(probes) => {
                printer.finished(probes);
                Ok(())
            }
        };
        // Nobody reads the output any more (`| head -1`): stop the run.
        match written {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                write_error.get_or_insert(e);
                ControlFlow::Break(())
            }
        }
    })
    .await;
    if outcome.input_errors > 0 {
        code = exit::worst(code, ExitCode::Usage);
    }
    if outcome.deadline_hit {
        // No answer in time, as for a filtered port.
        code = exit::worst(code, ExitCode::Filtered);
    }
    let signal = caught
        .and_then(|caught| caught.get().copied())
        .filter(|_| outcome.cancelled);
    let cut_off = outcome.unfinished;
    let cut = match signal {
        Some(signal) => Some(Cut::Signal {
            name: signal.name(),
            cut_off,
        }),
        None => outcome.deadline_hit.then_some(Cut::Deadline { cut_off }),
    };
    // The human summary says it on stdout; other formats carry reports only.
    if let Some(cut) = cut
        && !human
    {
        eprintln!("reach: {}", cut.sentence());
    }
    *plugin_status = printer.plugin_status(cut.is_some());
    if let Err(e) = printer.finish(cut) {
        write_error.get_or_insert(e);
    }
    match (write_error, signal) {
        // Quietly, like a program killed by SIGPIPE.
        (Some(e), _) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::OutputClosed,
        (Some(e), _) => {
            eprintln!("reach: cannot write the report: {e}");
            ExitCode::OutputError
        }
        (None, Some(Signal::Interrupt)) => ExitCode::Interrupted,
        (None, Some(Signal::Terminate)) => ExitCode::Terminated,
        (None, None) => code,
    }
}

/// What the printer needs from the settings.
fn printer_options(settings: &Settings) -> printer::Options {
    printer::Options {
        format: match settings.format {
            Format::Human => printer::Format::Human,
            Format::Json => printer::Format::Json,
            Format::Quiet => printer::Format::Quiet,
            Format::Nagios => printer::Format::Nagios(Thresholds {
                warning: settings.probe.expect.days.and_then(|d| d.warning),
                critical: settings.probe.expect.days.and_then(|d| d.critical),
            }),
        },
        style: Style {
            color: settings.color,
            every_sni: settings.run.expand.snis.len() > 1,
        },
        show_certs: settings.show_certs,
        histogram: settings.probe.latency.is_some_and(|l| l.histogram),
        summary_only: settings.summary_only,
    }
}
