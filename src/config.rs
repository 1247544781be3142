//! Validated, typed settings built from the command line (parse, don't validate): once a
//! `Settings` exists, every value in it is usable as is.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use thiserror::Error;

pub mod checks;
pub(crate) mod expect;
pub(crate) mod file;
mod layers;
pub mod serve;
mod udp;

use layers::{implies_tls, sni_name, tls_options, trace_options};

use std::sync::Arc;

use crate::cli::{Cli, ColorChoice, FormatChoice, VhostReference};
use crate::input::{self, Expr};
use crate::probe::ProbeOptions;
use crate::probe::plan::{PlanOptions, TlsWanted};
use crate::probe::resolve::{Family, ResolverOptions};
use crate::probe::series::{Count, Latency};
use crate::probe::tls::{TlsConfigError, TlsContext};
use crate::probe::trace::TraceWhen;
use crate::run::{Expansion, Limits, RunOptions};
use crate::service::StarttlsProto;
use crate::target::{self, TargetError};

/// A usage error: reported in one line, exit code 64.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// A target or port list is malformed.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// A flag value is malformed.
    #[error("invalid {flag} {value:?}: {problem}")]
    Flag {
        /// The flag.
        flag: &'static str,
        /// What was given.
        value: String,
        /// What is wrong.
        problem: String,
    },
    /// A file named on the command line cannot be read.
    #[error("cannot read {what} {path:?}: {problem}")]
    File {
        /// Which file.
        what: &'static str,
        /// Its path.
        path: String,
        /// The OS error.
        problem: String,
    },
    /// The TLS settings cannot be loaded (CA file, client certificate, versions).
    #[error(transparent)]
    Tls(#[from] TlsConfigError),
    /// A configuration or checks file is malformed (the problem names line and column).
    #[error("{path}: {problem}")]
    Syntax {
        /// The file.
        path: String,
        /// What is wrong, and where.
        problem: String,
    },
    /// Nothing to probe.
    #[error("no target given (try `reach demo`, or `reach --help`)")]
    NoTarget,
    /// A target that looks like a subcommand with a typo: a hint, not a DNS query.
    #[error(
        "{typed:?} looks like a mistyped subcommand: did you mean `reach {meant}`? (to probe a \
         host of that name, give its port: {typed}:443)"
    )]
    MistypedSubcommand {
        /// What was typed.
        typed: String,
        /// The subcommand it is closest to, with the other words typed.
        meant: String,
    },
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The diagnosis for people.
    Human,
    /// One JSON object per line.
    Json,
    /// Nothing; exit code only.
    Quiet,
    /// One Nagios/Icinga plugin status line with perfdata; plugin exit codes.
    Nagios,
}

/// Where `-i` reads targets from, opened while the settings are built.
#[derive(Debug, Clone)]
pub enum InputSource {
    /// `-i -`.
    Stdin,
    /// `-i FILE`, open for reading.
    File {
        /// As given, for messages.
        path: String,
        /// The open file (shared: settings are cloned, the file is read once).
        file: Arc<std::fs::File>,
    },
}

impl InputSource {
    /// Opens `path` (`-` is stdin); a directory or an unreadable file is a usage error here,
    /// before anything is probed.
    pub fn open(path: &str) -> Result<InputSource, ConfigError> {
        if path == "-" {
            return Ok(InputSource::Stdin);
        }
        let unreadable = |problem: String| ConfigError::File {
            what: "input file",
            path: path.to_string(),
            problem,
        };
        // Opening a directory succeeds on Unix (reading it then fails on every line) and is
        // "access denied" on Windows: either way, say what it is.
        let is_dir = |m: std::io::Result<std::fs::Metadata>| m.is_ok_and(|m| m.is_dir());
        let file = std::fs::File::open(path).map_err(|e| {
            if is_dir(std::fs::metadata(path)) {
                unreadable("it is a directory".into())
            } else {
                unreadable(e.to_string())
            }
        })?;
        if is_dir(file.metadata()) {
            return Err(unreadable("it is a directory".into()));
        }
        Ok(InputSource::File {
            path: path.to_string(),
            file: Arc::new(file),
        })
    }
}

/// Everything a run needs, checked and loaded: once a `Settings` exists, every value in it is
/// usable as is (the CA files and client certificate are already read).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Targets from the command line, in order (blocks not yet expanded).
    pub exprs: Vec<Expr>,
    /// The target file to stream (`-i`), already opened.
    pub input: Option<InputSource>,
    /// Largest accepted CIDR block.
    pub max_addresses: u128,
    /// What each probe does.
    pub probe: ProbeOptions,
    /// Trust roots, client identity and TLS configuration, loaded.
    pub tls: Arc<TlsContext>,
    /// How targets become probes, and the run's bounds.
    pub run: RunOptions,
    /// Only the closing summary.
    pub summary_only: bool,
    /// Print each certificate as PEM.
    pub show_certs: bool,
    /// Output format.
    pub format: Format,
    /// Colour in human output.
    pub color: bool,
    /// Also write a JUnit XML report here (`--junit`).
    pub junit: Option<std::path::PathBuf>,
}

impl Settings {
    /// Builds settings from parsed flags. `stdout_is_tty` and `no_color` come from the
    /// environment so that this stays a pure function.
    pub fn from_cli(cli: &Cli, stdout_is_tty: bool, no_color: bool) -> Result<Self, ConfigError> {
        if cli.targets.is_empty() && cli.scan.input.is_none() {
            return Err(ConfigError::NoTarget);
        }
        if let Some(typed) = cli.targets.first()
            && let Some(meant) = mistyped_subcommand(typed)
        {
            let mut meant = meant;
            for rest in &cli.targets[1..] {
                meant.push(' ');
                meant.push_str(rest);
            }
            return Err(ConfigError::MistypedSubcommand {
                typed: typed.clone(),
                meant,
            });
        }
        let max_addresses = cli.scan.max_addresses;
        let family = match (cli.ipv4_only, cli.ipv6_only) {
            (true, _) => Family::V4,
            (_, true) => Family::V6,
            _ => Family::Any,
        };
        let exprs = cli
            .targets
            .iter()
            .map(|t| {
                let expr = input::parse_expr(t, max_addresses)?;
                literal_of_family(t, &expr, family)?;
                Ok(expr)
            })
            .collect::<Result<Vec<_>, ConfigError>>()?;
        let mut snis = Vec::new();
        for name in &cli.sni {
            snis.push(sni_name(name)?);
        }
        if let Some(path) = &cli.sni_file {
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
                what: "--sni-file",
                path: path.clone(),
                problem: e.to_string(),
            })?;
            for line in text.lines() {
                let name = line.split('#').next().unwrap_or("").trim();
                if !name.is_empty() {
                    snis.push(sni_name(name)?);
                }
            }
        }
        let limits = Limits {
            concurrency: nonzero_count("--concurrency", cli.scan.concurrency)?,
            per_address: nonzero_count("--per-address", cli.scan.per_address)?,
            rate: match cli.scan.rate {
                Some(r) if !(r > 0.0 && r.is_finite()) => {
                    return Err(ConfigError::Flag {
                        flag: "--rate",
                        value: r.to_string(),
                        problem: "must be a positive number of probes per second".into(),
                    });
                }
                r => r,
            },
            deadline: cli
                .scan
                .deadline
                .as_deref()
                .map(|d| duration("--deadline", d))
                .transpose()?,
            threads: match cli.scan.threads {
                0 if is_small(cli) => 1,
                n => n,
            },
        };
        let ports = match &cli.ports {
            Some(spec) => target::parse_ports(spec).map_err(|e| ConfigError::Flag {
                flag: "--ports",
                value: spec.clone(),
                problem: e.problem,
            })?,
            None => Vec::new(),
        };
        let latency = match &cli.latency.count {
            None => None,
            Some(count) => Some(Latency {
                count: parse_count(count)?,
                warmup: cli.latency.warmup,
                interval: duration("--interval", &cli.latency.interval)?,
                histogram: cli.latency.histogram,
            }),
        };
        let format = format_of(&cli.output, cli.report.format);
        let expect = expect::from_args(&cli.expect, format == Format::Nagios)?;
        let color = match cli.output.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => stdout_is_tty && !no_color,
        };
        let tls_options = tls_options(cli)?;
        let show_certs = tls_options.keep_pem;
        let connect = connect_policy(cli)?;
        let probe = ProbeOptions {
            plan: PlanOptions {
                tls: match (
                    cli.tls || implies_tls(cli) || expect::wants_tls(&expect),
                    cli.no_tls,
                ) {
                    (_, true) => TlsWanted::Off,
                    (true, _) => TlsWanted::On,
                    _ => TlsWanted::Auto,
                },
                starttls: cli.starttls.as_deref().map(starttls_proto).transpose()?,
                no_starttls: cli.no_starttls,
                no_probe: cli.no_probe,
            },
            connect,
            greeting_timeout: match &cli.greeting_timeout {
                Some(text) => nonzero("--greeting-timeout", duration("--greeting-timeout", text)?)?,
                None => ProbeOptions::default().greeting_timeout,
            },
            greeting_learned: cli.greeting_timeout.is_none(),
            trace: match (cli.path.trace, cli.path.explain) {
                (true, _) => TraceWhen::Always,
                (_, true) => TraceWhen::OnFailure,
                _ => TraceWhen::Never,
            },
            trace_options: trace_options(cli)?,
            latency,
            expect,
            vhost_reference_always: cli.vhost_reference == VhostReference::Always,
            fingerprints: cli.fingerprints.as_deref().map(fingerprints).transpose()?,
            quic: crate::probe::quic::QuicOptions {
                silence_timeout: connect.timeout,
                alpn: tls_options.alpn.clone(),
            },
            udp: udp::options(&cli.udp, connect.timeout)?,
        };
        let run = RunOptions {
            limits,
            expand: Expansion {
                ports,
                snis,
                no_sni: cli.no_sni,
                quic: cli.quic.quic,
                also_tcp: cli.quic.also_tcp,
            },
            resolver: ResolverOptions {
                server: cli.resolver.as_deref().map(parse_resolver).transpose()?,
                family,
                timeout: nonzero(
                    "--dns-timeout",
                    duration("--dns-timeout", &cli.dns_timeout)?,
                )?,
            },
        };
        Ok(Settings {
            exprs,
            input: cli
                .scan
                .input
                .as_deref()
                .map(InputSource::open)
                .transpose()?,
            max_addresses,
            probe,
            tls: Arc::new(TlsContext::load(&tls_options).map_err(|e| name_the_flag(e, cli))?),
            run,
            summary_only: cli.scan.summary_only,
            show_certs,
            format,
            color,
            junit: cli.report.junit.as_deref().map(std::path::PathBuf::from),
        })
    }
}

/// Loads `--fingerprints DIR` (Recog XML databases) once, for every probe of the run.
fn fingerprints(dir: &str) -> Result<Arc<crate::probe::greeting::recog::Db>, ConfigError> {
    crate::probe::greeting::recog::Db::load_dir(std::path::Path::new(dir))
        .map(Arc::new)
        .map_err(|e| ConfigError::File {
            what: "--fingerprints",
            path: dir.to_string(),
            problem: e.to_string(),
        })
}

fn starttls_proto(word: &str) -> Result<StarttlsProto, ConfigError> {
    StarttlsProto::parse(word).ok_or_else(|| ConfigError::Flag {
        flag: "--starttls",
        value: word.to_string(),
        problem: "unknown protocol (smtp, lmtp, imap, pop3, ftp, ldap, postgres, mysql, xmpp, \
                  xmpp-server, nntp, sieve, irc)"
            .into(),
    })
}

/// The subcommand a bare word (one DNS label, no port) is one typo away from (two for long
/// names), if any: `reach completion bash` and `reach demo2` get a hint, not a DNS query.
/// Names come from the parser, so every subcommand counts.
fn mistyped_subcommand(word: &str) -> Option<String> {
    let word = word.to_ascii_lowercase();
    if word.is_empty() || !word.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return None;
    }
    let command = <Cli as clap::CommandFactory>::command();
    command
        .get_subcommands()
        .map(|sub| sub.get_name().to_string())
        .find(|name| {
            let allowed = if name.len() <= 5 { 1 } else { 2 };
            *name != word && edit_distance(name, &word) <= allowed
        })
}

/// Levenshtein distance (bytes), for short words only.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, &ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// An address literal of the family `-4`/`-6` excludes is a usage error, not a lookup that
/// finds nothing.
fn literal_of_family(text: &str, expr: &Expr, family: Family) -> Result<(), ConfigError> {
    let ip = match expr {
        Expr::One(t) => match t.host {
            target::Host::Ip(ip) => ip,
            target::Host::Name(_) => return Ok(()),
        },
        Expr::Block(b) => b.network,
    };
    let (flag, problem) = match (family, ip) {
        (Family::V4, IpAddr::V6(_)) => (
            "-4",
            format!("{ip} is an IPv6 address, and -4 asks for IPv4 only"),
        ),
        (Family::V6, IpAddr::V4(_)) => (
            "-6",
            format!("{ip} is an IPv4 address, and -6 asks for IPv6 only"),
        ),
        _ => return Ok(()),
    };
    Err(ConfigError::Flag {
        flag,
        value: text.to_string(),
        problem,
    })
}

/// A CA file, client certificate or key that cannot be loaded, named by its flag.
fn name_the_flag(error: TlsConfigError, cli: &Cli) -> ConfigError {
    let flag_of = |path: &std::path::Path| -> Option<&'static str> {
        let is = |given: &str| std::path::Path::new(given) == path;
        if cli.ca_file.iter().any(|f| is(f)) {
            Some("--ca-file")
        } else if cli.cert.as_deref().is_some_and(is) {
            Some("--cert")
        } else if cli.key.as_deref().is_some_and(is) {
            Some("--key")
        } else {
            None
        }
    };
    match &error {
        TlsConfigError::Read { path, source } => match flag_of(path) {
            Some(what) => ConfigError::File {
                what,
                path: path.display().to_string(),
                problem: source.to_string(),
            },
            None => ConfigError::Tls(error),
        },
        TlsConfigError::Invalid { path, what } => match flag_of(path) {
            Some(flag) => ConfigError::Flag {
                flag,
                value: path.display().to_string(),
                problem: what.clone(),
            },
            None => ConfigError::Tls(error),
        },
        _ => ConfigError::Tls(error),
    }
}

fn nonzero_count(flag: &'static str, n: usize) -> Result<usize, ConfigError> {
    if n == 0 {
        return Err(ConfigError::Flag {
            flag,
            value: "0".into(),
            problem: "must be at least 1".into(),
        });
    }
    Ok(n)
}

/// The output format from `--json`, `-q` and `--format`.
pub(crate) fn format_of(output: &crate::cli::OutputArgs, choice: Option<FormatChoice>) -> Format {
    match (choice, output.json, output.quiet) {
        (Some(FormatChoice::Nagios), _, _) => Format::Nagios,
        (Some(FormatChoice::Json), _, _) | (None, true, _) => Format::Json,
        (Some(FormatChoice::Quiet), _, _) | (None, _, true) => Format::Quiet,
        _ => Format::Human,
    }
}

/// `--timing` and `--timeout`: an explicit timeout is never shortened (probe::timing).
fn connect_policy(cli: &Cli) -> Result<crate::probe::timing::Policy, ConfigError> {
    use crate::cli::TimingArg;
    use crate::probe::timing::{Policy, Timing};
    let explicit = match &cli.timeout {
        Some(text) => Some(nonzero("--timeout", duration("--timeout", text)?)?),
        None => None,
    };
    Ok(Policy {
        timing: match cli.timing {
            TimingArg::Normal => Timing::Normal,
            TimingArg::Patient => Timing::Patient,
            TimingArg::Fixed => Timing::Fixed,
        },
        explicit,
        timeout: explicit.unwrap_or(Policy::default().timeout),
    })
}

fn nonzero(flag: &'static str, d: Duration) -> Result<Duration, ConfigError> {
    if d.is_zero() {
        return Err(ConfigError::Flag {
            flag,
            value: "0".into(),
            problem: "must be more than zero".into(),
        });
    }
    Ok(d)
}

fn parse_resolver(text: &str) -> Result<SocketAddr, ConfigError> {
    let err = |problem: &str| ConfigError::Flag {
        flag: "--resolver",
        value: text.to_string(),
        problem: problem.to_string(),
    };
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    text.parse::<SocketAddr>()
        .map_err(|_| err("expected IP or IP:PORT ([v6]:PORT)"))
}

fn parse_count(text: &str) -> Result<Count, ConfigError> {
    if text.starts_with('-') {
        return Err(ConfigError::Flag {
            flag: "-n",
            value: text.into(),
            problem: "a count must be at least 1 (or give a duration like 10s)".into(),
        });
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return match text.parse::<u32>() {
            Ok(n) if n > 0 => Ok(Count::Attempts(n)),
            _ => Err(ConfigError::Flag {
                flag: "-n",
                value: text.into(),
                problem: "expected a count from 1 to 4294967295 or a duration like 10s".into(),
            }),
        };
    }
    Ok(Count::For(nonzero("-n", duration("-n", text)?)?))
}

/// The longest duration accepted: a week is far beyond any useful deadline, and refusing more
/// keeps the float in range.
const MAX_SECONDS: f64 = 604_800.0;

/// Parses `500ms`, `2s`, `1.5s`, `2m`, or a bare number of seconds, up to a week.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let seconds = duration_seconds(text)?;
    (0.0..=MAX_SECONDS)
        .contains(&seconds)
        .then(|| Duration::from_secs_f64(seconds))
}

/// The seconds a well-formed duration stands for, however large.
fn duration_seconds(text: &str) -> Option<f64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().ok()?;
    let seconds = match unit.trim() {
        "" | "s" | "sec" => value,
        "ms" => value / 1000.0,
        "us" | "µs" => value / 1_000_000.0,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        _ => return None,
    };
    seconds.is_finite().then_some(seconds)
}

fn duration(flag: &'static str, text: &str) -> Result<Duration, ConfigError> {
    let problem = match duration_seconds(text) {
        Some(s) if s > MAX_SECONDS => "too large: at most 7 days (168h)",
        _ => "expected a duration like 500ms, 2s or 1m",
    };
    parse_duration(text).ok_or_else(|| ConfigError::Flag {
        flag,
        value: text.into(),
        problem: problem.into(),
    })
}

/// A handful of probes is I/O-bound: one thread serves it, and starting more would cost more
/// than it saves. Inputs, sweeps, networks and matrices get the default count
/// (`run::Limits::threads` 0: half the cores).
fn is_small(cli: &Cli) -> bool {
    matches!(cli.command, None | Some(crate::cli::Command::Demo { .. }))
        && cli.scan.input.is_none()
        && cli.ports.is_none()
        && cli.targets.len() <= 4
        && cli.sni.len() <= 4
        && cli
            .targets
            .iter()
            .all(|t| !t.contains('/') || t.contains("://"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2s"), Some(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("2x"), None);
        assert_eq!(parse_duration("s"), None);
        assert_eq!(parse_duration("99999999999h"), None);
        assert_eq!(parse_duration("1e9"), None);
    }

    #[test]
    fn a_well_formed_duration_can_still_be_too_large() {
        assert_eq!(duration_seconds("100000h"), Some(360_000_000.0));
        let err = duration("--timeout", "100000h").unwrap_err().to_string();
        assert!(err.contains("too large"), "{err}");
        let err = duration("--timeout", "soon").unwrap_err().to_string();
        assert!(err.contains("expected a duration"), "{err}");
        assert!(parse_duration("168h").is_some());
    }

    #[test]
    fn words_one_typo_from_a_subcommand_get_a_hint_and_hosts_do_not() {
        assert_eq!(edit_distance("completions", "completion"), 1);
        assert_eq!(edit_distance("demo", "demo2"), 1);
        assert_eq!(edit_distance("man", "mail"), 2);
        assert_eq!(
            mistyped_subcommand("completion").as_deref(),
            Some("completions")
        );
        assert_eq!(mistyped_subcommand("Demo2").as_deref(), Some("demo"));
        assert_eq!(mistyped_subcommand("mann").as_deref(), Some("man"));
        for host in [
            "mail",
            "router",
            "db",
            "demo2.example",
            "demo2:443",
            "192.0.2.1",
            "nas",
        ] {
            assert_eq!(mistyped_subcommand(host), None, "{host}");
        }
    }

    #[test]
    fn counts() {
        assert_eq!(parse_count("10").unwrap(), Count::Attempts(10));
        assert_eq!(
            parse_count("10s").unwrap(),
            Count::For(Duration::from_secs(10))
        );
        assert!(parse_count("0").is_err());
        assert!(parse_count("0s").is_err());
        assert!(parse_count("ten").is_err());
    }
}
