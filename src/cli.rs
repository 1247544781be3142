//! What the user types: clap derive definitions, syntax only. Meaning is given in `config`.
//!
//! `-h` shows the first paragraph of each option, `--help` all of it; options are grouped by
//! layer (`help_heading`), in the order the sections appear. `generate` writes the man page and
//! the shell completions from these definitions.

pub mod generate;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// A clap error in one line, as every usage error is (README, exit code 64): clap's message,
/// what it lists (possible values, missing arguments) and its useful tips, without the usage
/// block or the advice to pass a flag-looking value after `--`.
pub fn one_line_error(error: &clap::Error) -> String {
    let text = error.render().to_string();
    let mut line = String::new();
    for part in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if part.starts_with("Usage:") || part.starts_with("For more information") {
            break;
        }
        if part.starts_with("tip: to pass") {
            continue;
        }
        let part = part.strip_prefix("error: ").unwrap_or(part);
        if !line.is_empty() {
            let glue = line.ends_with(':') || part.starts_with('[');
            line.push_str(if glue { " " } else { "; " });
        }
        line.push_str(part);
    }
    format!("reach: {line} (reach --help explains every option)")
}

/// Help sections, one per layer, in the order they are shown.
pub(crate) mod heading {
    /// What to probe and how names resolve.
    pub const TARGETS: &str = "Targets";
    /// The TCP connect.
    pub const TCP: &str = "TCP";
    /// TLS, certificates, virtual hosts.
    pub const TLS: &str = "TLS";
    /// The service's first words and in-band upgrades.
    pub const GREETING: &str = "STARTTLS/greeting";
    /// The TTL-limited path trace.
    pub const TRACE: &str = "Trace";
    /// Latency mode (PsPing).
    pub const LATENCY: &str = "Latency mode";
    /// Inputs, CIDR blocks, bounds.
    pub const MANY: &str = "Many targets";
    /// What is printed.
    pub const OUTPUT: &str = "Output";
    /// What the exit code checks.
    pub const EXPECT: &str = "Expectations";
}

/// `reach --version`: the version and the target it was built for.
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("REACH_TARGET"), ")");

const SHORT_AFTER: &str = "\
Examples:
  reach example.com                  port 443: DNS, TCP, TLS, certificate, virtual host
  reach -p 22,25,443 host.example    several ports
  reach demo                         local servers showing every verdict

'reach --help' explains each option. Exit codes: 0 reached, 1 not listening, 2 filtered, \
3 TLS, 4 certificate, 5 DNS, 6 expectation, 7 local error, 64 usage.";

const LONG_AFTER: &str = "\
Examples:
  reach example.com                           port 443: DNS, TCP, TLS, certificate, vhost
  reach -p 22,80,443,8000-8100 host.example   PortQry-style lists and ranges
  reach mail.example:25                       greeting, EHLO, STARTTLS, certificate
  reach --sni a.example --sni b.example 203.0.113.10:443
                                              which names does this address route?
  reach -n 10 --interval 200ms host.example   latency mode, like PsPing
  reach --explain -p 1-1024 host.example      trace the ports that are filtered or rejected
  reach -i inventory.txt --summary-only       many targets, one summary
  reach -q --expect closed db.example:5432    exit code only: is it closed, as it should be?

Exit codes: 0 reached what was asked, 1 not listening (closed, rejected, unreachable), \
2 filtered, 3 TLS or STARTTLS failed, 4 certificate or virtual-host problem, 5 name \
resolution failed, 6 expectation failed, 7 local error, 64 usage error, 130/143 interrupted. \
With many probes the worst decides.

More: 'reach man' (the manual page), 'reach completions SHELL', README, docs/json.md.";

/// How far does the connection get, and did it reach the right thing?
///
/// reach walks the layers (DNS, TCP, service greeting, STARTTLS, TLS, certificate, virtual
/// host) for every address of every target and stops at the first one that fails, saying which
/// layer, why, and who answered.
#[derive(Debug, Parser)]
#[command(name = "reach", version = VERSION, args_conflicts_with_subcommands = true)]
#[command(after_help = SHORT_AFTER, after_long_help = LONG_AFTER)]
pub struct Cli {
    /// Subcommands (`demo`, `completions`, `man`).
    #[command(subcommand)]
    pub command: Option<Command>,

    /// HOST, HOST:PORT, [V6]:PORT, URL, ADDRESS,SNI-NAME, CIDR.
    ///
    /// Every address of a name is probed. Without a port: the scheme's (https 443, smtp 25,
    /// imaps 993…), else -p, else 443. ADDRESS,NAME probes ADDRESS with NAME as SNI;
    /// 203.0.113.0/28:443 probes each address of the block.
    #[arg(value_name = "TARGET", help_heading = heading::TARGETS, display_order = 0)]
    pub targets: Vec<String>,

    /// Ports for targets that name none: 22,80,443 or 8000-8100.
    ///
    /// Lists and ranges as PortQry takes them; each port of each address is one probe. The
    /// default is the scheme's port, else 443.
    #[arg(short = 'p', long = "ports", value_name = "PORTS", help_heading = heading::TARGETS)]
    pub ports: Option<String>,

    /// IPv4 addresses only.
    #[arg(short = '4', conflicts_with = "ipv6_only", help_heading = heading::TARGETS)]
    pub ipv4_only: bool,

    /// IPv6 addresses only.
    #[arg(short = '6', help_heading = heading::TARGETS)]
    pub ipv6_only: bool,

    /// Connect deadline: past it a port is `filtered`.
    ///
    /// A duration: 500ms, 2s, 1.5s, 1m; at most 7 days.
    #[arg(
        short = 't',
        long,
        value_name = "DURATION",
        default_value = "3s",
        help_heading = heading::TCP
    )]
    pub timeout: String,

    /// Name-resolution deadline.
    #[arg(long, value_name = "DURATION", default_value = "5s", help_heading = heading::TARGETS)]
    pub dns_timeout: String,

    /// Ask this DNS server (IP or IP:PORT), not the system's.
    ///
    /// `localhost` is still answered locally (RFC 6761).
    #[arg(long, value_name = "ADDR", help_heading = heading::TARGETS)]
    pub resolver: Option<String>,

    /// Speak TLS on this port even if it is not a TLS port.
    ///
    /// TLS-only options (--sni, --alpn, --ca-file, --cert, --show-certs, --tls-min/max) imply
    /// it.
    #[arg(long, conflicts_with = "no_tls", help_heading = heading::TLS)]
    pub tls: bool,

    /// Stop after TCP and the greeting: no TLS, no STARTTLS.
    #[arg(long, help_heading = heading::TLS)]
    pub no_tls: bool,

    /// Offer these ALPN protocols (h2,http/1.1).
    #[arg(long, value_name = "LIST", help_heading = heading::TLS)]
    pub alpn: Option<String>,

    /// Lowest TLS version to offer: 1.2 or 1.3.
    #[arg(long, value_name = "VERSION", help_heading = heading::TLS)]
    pub tls_min: Option<String>,

    /// Highest TLS version to offer: 1.2 or 1.3.
    #[arg(long, value_name = "VERSION", help_heading = heading::TLS)]
    pub tls_max: Option<String>,

    /// Trust the CA certificates in this PEM file too (repeatable).
    #[arg(long, value_name = "PEM", help_heading = heading::TLS)]
    pub ca_file: Vec<String>,

    /// Trust only --ca-file and --system-roots, not Mozilla's roots.
    #[arg(long, requires = "ca_file", help_heading = heading::TLS)]
    pub no_default_roots: bool,

    /// Also trust the operating system's certificate store.
    #[arg(long, help_heading = heading::TLS)]
    pub system_roots: bool,

    /// Client certificate (PEM chain) for mutual TLS.
    #[arg(long, value_name = "PEM", requires = "key", help_heading = heading::TLS)]
    pub cert: Option<String>,

    /// Private key (PEM) for --cert.
    #[arg(long, value_name = "PEM", requires = "cert", help_heading = heading::TLS)]
    pub key: Option<String>,

    /// TLS handshake deadline (the connect has its own).
    #[arg(long, value_name = "DURATION", default_value = "5s", help_heading = heading::TLS)]
    pub handshake_timeout: String,

    /// Print each certificate as PEM (like s_client -showcerts).
    #[arg(long, help_heading = heading::TLS)]
    pub show_certs: bool,

    /// Upgrade in-band: smtp, imap, pop3, ftp, ldap, postgres, mysql, xmpp…
    ///
    /// One of smtp, lmtp, imap, pop3, ftp, ldap, postgres, mysql, xmpp, xmpp-server, nntp,
    /// sieve, irc. Without it the dialect is chosen by the port or the URL scheme (25, 587 →
    /// smtp; 143 → imap…).
    #[arg(long, value_name = "PROTO", conflicts_with = "no_starttls", help_heading = heading::GREETING)]
    pub starttls: Option<String>,

    /// Never attempt STARTTLS, even on ports that usually use it.
    #[arg(long, help_heading = heading::GREETING)]
    pub no_starttls: bool,

    /// How long to wait for a service's first words.
    #[arg(long, value_name = "DURATION", default_value = "2s", help_heading = heading::GREETING)]
    pub greeting_timeout: String,

    /// SNI name to send (repeatable: each name on each address).
    ///
    /// With several names or addresses the summary shows the IP × SNI matrix: which names each
    /// address routes, and which fall back to its default certificate.
    #[arg(long = "sni", value_name = "NAME", help_heading = heading::TLS)]
    pub sni: Vec<String>,

    /// Read SNI names from a file, one per line.
    #[arg(long, value_name = "FILE", help_heading = heading::TLS)]
    pub sni_file: Option<String>,

    /// Send no SNI at all.
    #[arg(long, conflicts_with_all = ["sni", "sni_file"], help_heading = heading::TLS)]
    pub no_sni: bool,

    /// Path options.
    #[command(flatten)]
    pub path: PathArgs,

    /// Latency mode: number of attempts, or a duration such as 10s.
    #[command(flatten)]
    pub latency: LatencyArgs,

    /// Many-target options.
    #[command(flatten)]
    pub scan: ScanArgs,

    /// Output options.
    #[command(flatten)]
    pub output: OutputArgs,

    /// Expect this TCP state; exit 6 when a probe ends otherwise.
    ///
    /// A met expectation accepts that stop (a closed port exits 0 with `--expect closed`);
    /// layers above TCP still count (`--expect open` on a bad certificate exits 4).
    #[arg(long, value_enum, value_name = "STATE", help_heading = heading::EXPECT)]
    pub expect: Option<ExpectState>,
}

/// Latency-mode flags (PsPing style).
#[derive(Debug, Args)]
#[command(next_help_heading = heading::LATENCY)]
pub struct LatencyArgs {
    /// Repeat COUNT times, or for a DURATION (10s); then statistics.
    ///
    /// Every attempt walks the same layers as a single probe (TCP, STARTTLS, TLS, certificate);
    /// one line per attempt as it happens, then min/avg/max, percentiles and loss.
    #[arg(
        short = 'n',
        long = "count",
        value_name = "COUNT|DURATION",
        allow_negative_numbers = true
    )]
    pub count: Option<String>,

    /// Attempts made first and not counted.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub warmup: u32,

    /// Pause between attempts.
    #[arg(long, value_name = "DURATION", default_value = "1s")]
    pub interval: String,

    /// Print a text histogram of the timings.
    #[arg(long)]
    pub histogram: bool,
}

/// Path-trace flags.
#[derive(Debug, Args)]
#[command(next_help_heading = heading::TRACE)]
pub struct PathArgs {
    /// Trace the path with TTL-limited SYNs (Linux ≥ 5.8, no root needed).
    ///
    /// Says which hop drops, rejects or resets the port. Other systems cannot tell who sent
    /// an ICMP error without raw sockets, and say the trace is unsupported.
    #[arg(long)]
    pub trace: bool,

    /// Trace when a probe ends filtered, rejected or unreachable.
    #[arg(long)]
    pub explain: bool,

    /// Highest TTL / hop limit of a trace.
    #[arg(long, value_name = "N", default_value_t = 30)]
    pub max_hops: u8,

    /// Probes per hop.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub probes_per_hop: u8,

    /// A port of the same host known to answer (tells a middlebox's RST).
    ///
    /// When the traced port is answered by a RST, the hop distance of this port tells the
    /// server's own RST from one forged by a middlebox on the way.
    #[arg(long, value_name = "PORT")]
    pub reference_port: Option<u16>,

    /// Look up the hops' reverse DNS names (off, like traceroute -n).
    #[arg(long)]
    pub rdns: bool,
}

/// Flags for runs over many targets.
#[derive(Debug, Args)]
#[command(next_help_heading = heading::MANY)]
pub struct ScanArgs {
    /// Read targets from FILE (`-`: stdin), one per line, `#` comments.
    ///
    /// A bad line is reported with its number and the rest is probed (exit 64). Reading
    /// streams: memory stays bounded by the probes in flight.
    #[arg(short = 'i', long = "input", value_name = "FILE")]
    pub input: Option<String>,

    /// Probes in flight at once.
    #[arg(short = 'c', long, value_name = "N", default_value_t = crate::run::DEFAULT_CONCURRENCY)]
    pub concurrency: usize,

    /// Probes in flight to one address at once.
    #[arg(long, value_name = "N", default_value_t = crate::run::DEFAULT_PER_ADDRESS)]
    pub per_address: usize,

    /// New probes per second at most.
    #[arg(long, value_name = "PER_SECOND")]
    pub rate: Option<f64>,

    /// Stop the whole run after this long (e.g. 30s).
    #[arg(long, value_name = "DURATION")]
    pub deadline: Option<String>,

    /// Largest CIDR block accepted, in addresses.
    #[arg(long, value_name = "N", default_value_t = crate::input::DEFAULT_MAX_ADDRESSES)]
    pub max_addresses: u128,

    /// Print only the closing summary.
    #[arg(long)]
    pub summary_only: bool,
}

/// Output flags.
#[derive(Debug, Args)]
#[command(next_help_heading = heading::OUTPUT)]
pub struct OutputArgs {
    /// One JSON object per line per probe (docs/json.md).
    #[arg(long, conflicts_with = "quiet")]
    pub json: bool,

    /// Print nothing; the exit code says it all.
    #[arg(short = 'q', long)]
    pub quiet: bool,

    /// Colour: auto, always, never.
    ///
    /// auto: when stdout is a terminal and NO_COLOR is unset.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
}

/// `--color` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour when stdout is a terminal and `NO_COLOR` is unset.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// `--expect` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExpectState {
    /// Connection accepted.
    Open,
    /// Answered with RST.
    Closed,
    /// Refused by ICMP.
    Rejected,
    /// Network says the host is not there.
    Unreachable,
    /// No answer.
    Filtered,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start local servers on loopback and show every verdict reach can give.
    Demo {
        /// Write the demo's output as JSON lines instead.
        #[arg(long)]
        json: bool,
        /// Keep the servers up until Ctrl-C, to re-run the printed commands.
        #[arg(long)]
        serve: bool,
    },
    /// Print a completion script for SHELL (bash, zsh, fish, powershell, elvish).
    ///
    /// bash: `reach completions bash > /etc/bash_completion.d/reach` (or source it from
    /// ~/.bashrc); zsh: into a directory of `$fpath` as `_reach`; fish:
    /// ~/.config/fish/completions/reach.fish; PowerShell: add it to `$PROFILE`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `reach man > reach.1`, or `reach man | man -l -`.
    Man,
}
