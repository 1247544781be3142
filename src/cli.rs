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

    /// Connect deadline: past it a port is `filtered` (e.g. 500ms, 2s). Unset, each host's
    /// deadline is learned from its answers (see --timing), at most 3s per SYN.
    #[arg(short = 't', long, value_name = "DURATION")]
    pub timeout: Option<String>,

    /// How connects are timed: normal (a deadline learned per host from its answers, 100 ms at
    /// least, and a second SYN), patient (500 ms at least, three SYNs), fixed (one SYN, the
    /// whole --timeout).
    #[arg(long, value_enum, value_name = "HOW", default_value_t = TimingArg::Normal)]
    pub timing: TimingArg,

    /// Name-resolution deadline.
    #[arg(long, value_name = "DURATION", default_value = "5s")]
    pub dns_timeout: String,

    /// Ask this DNS server (IP or IP:PORT) instead of the system resolver.
    #[arg(long, value_name = "ADDR")]
    pub resolver: Option<String>,

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

    /// Revocation check of the server certificate: off, staple (verify a stapled OCSP
    /// response), ocsp (also ask the responder the certificate names), crl (also fetch its
    /// CRL). Only http:// locations, only where the certificate points.
    #[arg(long, value_enum, value_name = "HOW", default_value_t = RevocationArg::Staple)]
    pub revocation: RevocationArg,

    /// Deadline of the OCSP or CRL fetch (--revocation ocsp|crl).
    #[arg(long, value_name = "DURATION", default_value = "5s")]
    pub revocation_timeout: String,

    /// Upgrade in-band with this protocol: smtp, lmtp, imap, pop3, ftp, ldap, postgres,
    /// mysql, xmpp, xmpp-server, nntp, sieve, irc.
    #[arg(long, value_name = "PROTO", conflicts_with = "no_starttls")]
    pub starttls: Option<String>,

    /// Never attempt STARTTLS, even on ports that usually use it.
    #[arg(long)]
    pub no_starttls: bool,

    /// How long to wait for a service's first words (default 2s; unset, a sweep waits about
    /// four round trips of the host on a plain port).
    #[arg(long, value_name = "DURATION")]
    pub greeting_timeout: Option<String>,

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

    /// When to compare the served certificate with the server's default: `auto` (only when
    /// it does not cover the name) or `always` (also for covered names: `matched_default`
    /// when the name only has the catch-all certificate).
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = VhostReference::Auto)]
    pub vhost_reference: VhostReference,

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

    /// Expectations (exit 6 when one fails).
    #[command(flatten)]
    pub expect: ExpectArgs,

    /// Report formats for monitoring and CI.
    #[command(flatten)]
    pub report: ReportArgs,
}

/// Expectations on every layer: each failure exits 6 with a line naming wanted and seen.
#[derive(Debug, Args, Default)]
pub struct ExpectArgs {
    /// Expect this TCP state (e.g. `--expect-state closed`; `--expect` is the same flag).
    #[arg(
        long = "expect-state",
        id = "expect_state",
        visible_alias = "expect",
        value_enum,
        value_name = "STATE"
    )]
    pub state: Option<ExpectState>,

    /// Every certificate of the chain (intermediates too) must be valid N more days.
    #[arg(long, value_name = "N")]
    pub min_days: Option<i64>,

    /// Plugin mode: WARNING when a certificate has fewer than N days left (default 20 with
    /// --format nagios).
    #[arg(long, value_name = "N")]
    pub warn_days: Option<i64>,

    /// Plugin mode: CRITICAL when a certificate has fewer than N days left (default 15 with
    /// --format nagios); elsewhere it fails like --min-days.
    #[arg(long, value_name = "N")]
    pub crit_days: Option<i64>,

    /// The leaf certificate must cover NAME (repeatable: every name must be covered).
    #[arg(long = "expect-san", id = "expect_san", value_name = "NAME")]
    pub san: Vec<String>,

    /// The leaf's issuer (RFC 4514) must match this regular expression.
    #[arg(long = "expect-issuer", id = "expect_issuer", value_name = "REGEX")]
    pub issuer: Option<String>,

    /// The leaf's subject (RFC 4514) must match this regular expression.
    #[arg(long = "expect-subject", id = "expect_subject", value_name = "REGEX")]
    pub subject: Option<String>,

    /// A SHA-256 (hex) of the leaf, of any chain certificate or of its key, or a key pin
    /// `sha256//BASE64`; repeatable: one of them must be found.
    #[arg(
        long = "expect-fingerprint",
        id = "expect_fingerprint",
        value_name = "SHA256"
    )]
    pub fingerprint: Vec<String>,

    /// The negotiated TLS version must be at least this: 1.0, 1.1, 1.2 or 1.3.
    #[arg(long = "expect-tls-min", id = "expect_tls_min", value_name = "VERSION")]
    pub tls_min: Option<String>,

    /// The server must choose this ALPN protocol (offered automatically unless --alpn says).
    #[arg(long = "expect-alpn", id = "expect_alpn", value_name = "PROTO")]
    pub alpn: Option<String>,

    /// The service's greeting must match this regular expression.
    #[arg(long = "expect-banner", id = "expect_banner", value_name = "REGEX")]
    pub banner: Option<String>,

    /// The virtual-host verdict must be this: matched, default_fallback, unrecognized_name,
    /// mismatch.
    #[arg(long = "expect-vhost", id = "expect_vhost", value_name = "VERDICT")]
    pub vhost: Option<String>,

    /// Every address of a name must serve the same certificate (the stale-node check).
    #[arg(long = "expect-same-cert", id = "expect_same_cert")]
    pub same_cert: bool,
}

/// Report formats for monitoring and CI.
#[derive(Debug, Args, Default)]
pub struct ReportArgs {
    /// Output format: human, json, quiet, or nagios (one plugin status line with perfdata;
    /// exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).
    #[arg(long, value_enum, value_name = "FORMAT", conflicts_with_all = ["json", "quiet"])]
    pub format: Option<FormatChoice>,

    /// Also write a JUnit XML report to FILE (one testcase per probe and expectation).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<String>,
}

/// `--format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatChoice {
    /// The diagnosis for people.
    Human,
    /// One JSON object per line (as --json).
    Json,
    /// Nothing (as --quiet).
    Quiet,
    /// A Nagios/Icinga plugin status line with perfdata.
    Nagios,
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

    /// A port the host itself answers (open or closed), to tell a middlebox RST from the
    /// server's; without it, reach picks one (a port open in this run, 443/80/22, a random one).
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

/// `--vhost-reference` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VhostReference {
    /// Only when the served certificate does not cover the name.
    Auto,
    /// For every SNI probe.
    Always,
}

/// `--revocation` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RevocationArg {
    /// No check.
    Off,
    /// Verify a stapled OCSP response.
    Staple,
    /// Also ask the OCSP responder in the certificate's AIA extension.
    Ocsp,
    /// Also fetch the CRL from the certificate's distribution point.
    Crl,
}

/// `--timing` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TimingArg {
    /// Learned per host: srtt + 4·rttvar, at least 100 ms (1 s before any answer), two SYNs.
    Normal,
    /// Learned with more margin: at least 500 ms (2 s before any answer), three SYNs.
    Patient,
    /// One SYN, the whole --timeout (3 s unless set).
    Fixed,
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

/// `reach check FILE`: a checks file run as one test report.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The checks file (TOML; see examples/deploy.toml).
    #[arg(value_name = "FILE")]
    pub file: String,

    /// Probes in flight at once (over every entry of the file).
    #[arg(short = 'c', long, value_name = "N", default_value_t = 64)]
    pub concurrency: usize,

    /// Stop the whole run after this long (e.g. 60s).
    #[arg(long, value_name = "DURATION")]
    pub deadline: Option<String>,

    /// Output options.
    #[command(flatten)]
    pub output: OutputArgs,

    /// Report formats.
    #[command(flatten)]
    pub report: ReportArgs,
}

/// `reach serve`: the Prometheus exporter.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The exporter's configuration (TOML: modules, allow-lists, bounds; see
    /// examples/reach.toml).
    #[arg(long, value_name = "FILE")]
    pub config: String,

    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9115")]
    pub listen: String,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a checks file (targets and their expectations) and report like a test suite.
    Check(CheckArgs),
    /// Serve Prometheus probes: /probe?target=…&module=… and /metrics.
    Serve(ServeArgs),
    /// Start local servers on loopback and show every verdict reach can give.
    Demo {
        /// Write the demo's output as JSON lines instead.
        #[arg(long)]
        json: bool,
    },
}
