//! The `reach` binary: parse arguments, run, exit with the verdict's code.

use clap::Parser;

/// `--format nagios` among the raw arguments: usage errors must then be plugin statuses,
/// before the arguments could be parsed.
fn plugin_mode() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.iter().any(|a| a == "--format=nagios")
        || args
            .windows(2)
            .any(|w| w[0] == "--format" && w[1] == "nagios")
}

fn main() -> std::process::ExitCode {
    let cli = match reach::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e)
            if plugin_mode()
                && !matches!(
                    e.kind(),
                    clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
                ) =>
        {
            // A Nagios/Icinga plugin says UNKNOWN (3) on stdout for bad usage.
            let first = e.to_string();
            let first = first
                .lines()
                .next()
                .unwrap_or("bad usage")
                .trim_start_matches("error: ");
            println!("REACH UNKNOWN - usage: {first}");
            return std::process::ExitCode::from(3);
        }
        Err(e) => {
            use clap::error::ErrorKind;
            // --help and --version are not errors; everything else is a usage error (64), in
            // one line, never confused with a network verdict.
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return std::process::ExitCode::SUCCESS;
            }
            eprintln!("{}", reach::cli::one_line_error(&e));
            return std::process::ExitCode::from(reach::exit::ExitCode::Usage.code());
        }
    };
    // Text generated from the definitions needs neither a runtime nor the network.
    match cli.command {
        Some(reach::cli::Command::Completions { shell }) => {
            reach::cli::generate::completions(shell, &mut std::io::stdout());
            return std::process::ExitCode::SUCCESS;
        }
        Some(reach::cli::Command::Man) => {
            return match reach::cli::generate::man(&mut std::io::stdout()) {
                Ok(()) => std::process::ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("reach man: {e}");
                    std::process::ExitCode::from(reach::exit::ExitCode::OutputError.code())
                }
            };
        }
        _ => {}
    }
    // The main thread reads the input and writes reports; probes run on threads of their own
    // (`run::Limits::threads`).
    let mut builder = tokio::runtime::Builder::new_current_thread();
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("reach: cannot start the async runtime: {e}");
            return std::process::ExitCode::from(reach::exit::ExitCode::Local.code());
        }
    };
    // `main` is the composition root: the demo and a run of probes are siblings (the demo
    // drives runs of its own through `app`).
    let code: reach::exit::Exit = match cli.command {
        Some(reach::cli::Command::Demo { json, serve }) => {
            runtime.block_on(reach::demo::run(json, serve)).into()
        }
        Some(reach::cli::Command::Check(args)) => runtime.block_on(reach::check::run(args)),
        Some(reach::cli::Command::Serve(args)) => runtime.block_on(reach::serve::run(args)).into(),
        // (completions and man were written above)
        Some(reach::cli::Command::Completions { .. } | reach::cli::Command::Man) | None => {
            runtime.block_on(reach::app::run(cli))
        }
    };
    // The run is over; a thread still blocked reading a slow stdin must not hold up the exit.
    runtime.shutdown_background();
    std::process::ExitCode::from(code.code())
}
