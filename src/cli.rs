//! What the user types: clap derive definitions, syntax only. Meaning is given in `config`.

use clap::{Args, Parser, Subcommand, ValueEnum};

/// How far does the connection get, and did it reach the right thing?
///
/// reach walks the layers (DNS, TCP, service greeting, STARTTLS, TLS, certificate, virtual
/// host) for every address of every target and stops at the first one that fails, saying which
/// layer, why, and who answered.
#[derive(Debug, Parser)]
#[command(name = "reach", version, args_conflicts_with_subcommands = true)]
#[command(
    after_help = "Exit codes: 0 reached, 1 not listening (closed/rejected/unreachable), \
2 filtered, 3 TLS/STARTTLS failed, 4 certificate or virtual-host problem, 5 name resolution \
failed, 6 expectation failed, 7 local error, 64 usage error. With many probes the worst decides."
)]
pub struct Cli {
    /// Subcommands (`demo`).
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Targets: HOST, HOST:PORT, [V6]:PORT, SCHEME://HOST[:PORT], ADDRESS,SNI-NAME.
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,

    /// Ports for targets that name none: 22,80,443 or 8000-8100 (default: the scheme's, else 443).
    #[arg(short = 'p', long = "ports", value_name = "PORTS")]
    pub ports: Option<String>,

    /// Use IPv4 addresses only.
    #[arg(short = '4', conflicts_with = "ipv6_only")]
    pub ipv4_only: bool,

    /// Use IPv6 addresses only.
    #[arg(short = '6')]
    pub ipv6_only: bool,

    /// Connect deadline: past it a port is `filtered` (e.g. 500ms, 2s).
    #[arg(short = 't', long, value_name = "DURATION", default_value = "3s")]
    pub timeout: String,

    /// Name-resolution deadline.
    #[arg(long, value_name = "DURATION", default_value = "5s")]
    pub dns_timeout: String,

    /// Ask this DNS server (IP or IP:PORT) instead of the system resolver.
    #[arg(long, value_name = "ADDR")]
    pub resolver: Option<String>,

    /// Expect this TCP state; exit 6 when a probe ends otherwise (e.g. `--expect closed`).
    #[arg(long, value_enum, value_name = "STATE")]
    pub expect: Option<ExpectState>,

    /// Do TLS on this port even if it is not a TLS port.
    #[arg(long, conflicts_with = "no_tls")]
    pub tls: bool,

    /// Stop after TCP (and the greeting): no TLS, no STARTTLS.
    #[arg(long)]
    pub no_tls: bool,

    /// Offer these ALPN protocols, e.g. h2,http/1.1.
    #[arg(long, value_name = "LIST")]
    pub alpn: Option<String>,

    /// Lowest TLS version to offer: 1.2 or 1.3.
    #[arg(long, value_name = "VERSION")]
    pub tls_min: Option<String>,

    /// Highest TLS version to offer: 1.2 or 1.3.
    #[arg(long, value_name = "VERSION")]
    pub tls_max: Option<String>,

    /// Trust the CA certificates in this PEM file too (repeatable).
    #[arg(long, value_name = "PEM")]
    pub ca_file: Vec<String>,

    /// Trust only --ca-file (and --system-roots), not the built-in Mozilla roots.
    #[arg(long, requires = "ca_file")]
    pub no_default_roots: bool,

    /// Also trust the operating system's certificate store.
    #[arg(long)]
    pub system_roots: bool,

    /// Client certificate (PEM chain) for mutual TLS.
    #[arg(long, value_name = "PEM", requires = "key")]
    pub cert: Option<String>,

    /// Private key (PEM) for --cert.
    #[arg(long, value_name = "PEM", requires = "cert")]
    pub key: Option<String>,

    /// TLS handshake deadline (separate from the connect deadline).
    #[arg(long, value_name = "DURATION", default_value = "5s")]
    pub handshake_timeout: String,

    /// Print each certificate as PEM (like s_client -showcerts).
    #[arg(long)]
    pub show_certs: bool,

    /// Upgrade in-band with this protocol: smtp, lmtp, imap, pop3, ftp, ldap, postgres,
    /// mysql, xmpp, xmpp-server, nntp, sieve, irc.
    #[arg(long, value_name = "PROTO", conflicts_with = "no_starttls")]
    pub starttls: Option<String>,

    /// Never attempt STARTTLS, even on ports that usually use it.
    #[arg(long)]
    pub no_starttls: bool,

    /// How long to wait for a service's first words.
    #[arg(long, value_name = "DURATION", default_value = "2s")]
    pub greeting_timeout: String,

    /// Only listen on plaintext ports: no TLS/HTTP/PostgreSQL follow-up probes on a silent
    /// port, no EHLO/FEAT after a bare 220, no capability commands.
    #[arg(long)]
    pub no_probe: bool,

    /// Also identify products with the Rapid7 Recog XML databases (*.xml) in DIR, matched
    /// after the built-in table.
    #[arg(long, value_name = "DIR")]
    pub fingerprints: Option<String>,

    /// SNI names: each one is probed on each address (repeatable).
    #[arg(long = "sni", value_name = "NAME")]
    pub sni: Vec<String>,

    /// Read SNI names from a file, one per line.
    #[arg(long, value_name = "FILE")]
    pub sni_file: Option<String>,

    /// Send no SNI at all.
    #[arg(long, conflicts_with_all = ["sni", "sni_file"])]
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
}

/// Latency-mode flags (PsPing style).
#[derive(Debug, Args)]
pub struct LatencyArgs {
    /// Repeat the connect COUNT times (or for a duration like 10s) and report statistics.
    #[arg(short = 'n', long = "count", value_name = "COUNT|DURATION")]
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
pub struct PathArgs {
    /// Trace the path to the port: SYNs with TTL 1, 2, 3… (no root needed on Linux ≥ 5.8).
    #[arg(long)]
    pub trace: bool,

    /// Trace automatically when a probe ends filtered, rejected or unreachable.
    #[arg(long)]
    pub explain: bool,

    /// Highest TTL / hop limit of a trace.
    #[arg(long, value_name = "N", default_value_t = 30)]
    pub max_hops: u8,

    /// Probes per hop.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub probes_per_hop: u8,

    /// A port of the same host known to answer, to tell a middlebox RST from the server's.
    #[arg(long, value_name = "PORT")]
    pub reference_port: Option<u16>,

    /// Look up the hops' reverse DNS names (off by default: like traceroute -n).
    #[arg(long)]
    pub rdns: bool,
}

/// Flags for runs over many targets.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Read targets from FILE (`-` for stdin), one per line; `#` starts a comment.
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

    /// Largest CIDR block (in addresses) accepted without complaint.
    #[arg(long, value_name = "N", default_value_t = crate::input::DEFAULT_MAX_ADDRESSES)]
    pub max_addresses: u128,

    /// Print only the closing summary, not one block per probe.
    #[arg(long)]
    pub summary_only: bool,
}

/// Output flags.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// One JSON object per line per probe (see docs/json.md).
    #[arg(long, conflicts_with = "quiet")]
    pub json: bool,

    /// Print nothing; the exit code says it all.
    #[arg(short = 'q', long)]
    pub quiet: bool,

    /// Colour: auto (when stdout is a terminal and NO_COLOR is unset), always, never.
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
    },
}
