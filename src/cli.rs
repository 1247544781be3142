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
    /// UDP probes and their application requests.
    pub const UDP: &str = "UDP";
    /// TLS, certificates, virtual hosts.
    pub const TLS: &str = "TLS";
    /// QUIC (HTTP/3): the handshake over UDP.
    pub const QUIC: &str = "QUIC";
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
    /// Subcommands (`check`, `serve`, `demo`, `completions`, `man`).
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

    /// Connect deadline: past it a port is `filtered`. Unset, each host's deadline is learned
    /// from its answers (see --timing), at most 3s per SYN.
    ///
    /// A duration: 500ms, 2s, 1.5s, 1m; at most 7 days.
    #[arg(short = 't', long, value_name = "DURATION", help_heading = heading::TCP)]
    pub timeout: Option<String>,

    /// How connects are timed: normal (a deadline learned per host from its answers, 100 ms at
    /// least, and a second SYN), patient (500 ms at least, three SYNs), fixed (one SYN, the
    /// whole --timeout).
    #[arg(
        long,
        value_enum,
        value_name = "HOW",
        default_value_t = TimingArg::Normal,
        help_heading = heading::TCP
    )]
    pub timing: TimingArg,

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

    /// Revocation check of the server certificate: off, staple (verify a stapled OCSP
    /// response), ocsp (also ask the responder the certificate names), crl (also fetch its
    /// CRL). Only http:// locations, only where the certificate points.
    #[arg(
        long,
        value_enum,
        value_name = "HOW",
        default_value_t = RevocationArg::Staple,
        help_heading = heading::TLS
    )]
    pub revocation: RevocationArg,

    /// Deadline of the OCSP or CRL fetch (--revocation ocsp|crl).
    #[arg(long, value_name = "DURATION", default_value = "5s", help_heading = heading::TLS)]
    pub revocation_timeout: String,

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

    /// How long to wait for a service's first words (default 2s; unset, a sweep waits about
    /// four round trips of the host on a plain port).
    #[arg(long, value_name = "DURATION", help_heading = heading::GREETING)]
    pub greeting_timeout: Option<String>,

    /// Only listen on plaintext ports: no follow-up probes on a silent port.
    ///
    /// No TLS/HTTP/PostgreSQL follow-up probes on a silent port, no EHLO/FEAT after a bare 220,
    /// no capability commands.
    #[arg(long, help_heading = heading::GREETING)]
    pub no_probe: bool,

    /// Also identify products with the Recog XML databases in DIR.
    ///
    /// Rapid7 Recog's *.xml files, matched after the built-in table (docs/identification.md).
    #[arg(long, value_name = "DIR", help_heading = heading::GREETING)]
    pub fingerprints: Option<String>,

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

    /// When to compare the served certificate with the server's default: auto or always.
    ///
    /// `auto`: only when it does not cover the name; `always`: also for covered names
    /// (`matched_default` when the name only has the catch-all certificate).
    #[arg(
        long,
        value_enum,
        value_name = "WHEN",
        default_value_t = VhostReference::Auto,
        help_heading = heading::TLS
    )]
    pub vhost_reference: VhostReference,

    /// QUIC options.
    #[command(flatten)]
    pub quic: QuicArgs,
    /// UDP options.
    #[command(flatten)]
    pub udp: UdpArgs,

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

/// QUIC: the TLS handshake, certificates and virtual hosts over QUIC (HTTP/3).
#[derive(Debug, Args, Default)]
#[command(next_help_heading = heading::QUIC)]
pub struct QuicArgs {
    /// Probe over QUIC (UDP) instead of TCP, as h3:// targets are: QUIC version, ALPN (h3
    /// unless --alpn), chain, certificate and virtual-host verdicts.
    ///
    /// A silent UDP port is `filtered` after --timeout; an ICMP error names who sent it.
    #[arg(long, conflicts_with = "udp")]
    pub quic: bool,

    /// With --quic (or h3://), probe over TCP too and say where the two disagree (another
    /// certificate, one refuses the name).
    #[arg(long)]
    pub also_tcp: bool,
}

/// Expectations on every layer: each failure exits 6 with a line naming wanted and seen.
#[derive(Debug, Args, Default)]
#[command(next_help_heading = heading::EXPECT)]
pub struct ExpectArgs {
    /// Expect this TCP state (`--expect` is the same flag); exit 6 when a probe ends otherwise.
    ///
    /// A met expectation accepts that stop (a closed port exits 0 with `--expect closed`);
    /// layers above TCP still count (`--expect open` on a bad certificate exits 4). UDP probes
    /// take the same words; `filtered` is UDP's silence, also spelled `open_filtered`.
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
#[command(next_help_heading = heading::OUTPUT)]
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

/// UDP flags: `-u` and the application request sent to each port.
#[derive(Debug, Args, Default)]
#[command(next_help_heading = heading::UDP)]
pub struct UdpArgs {
    /// Probe over UDP instead of TCP (as do udp://HOST:PORT targets).
    ///
    /// Each port gets the request of its service (53 DNS, 123 NTP, 161 SNMP, 137 NetBIOS,
    /// 389 CLDAP, 3478 STUN; else an empty datagram). Verdicts: open (an answer came back),
    /// closed (ICMP port unreachable from the host), rejected (ICMP from someone else, named),
    /// unreachable, open|filtered (silence: UDP cannot tell an open port that ignored the
    /// request from a dropped datagram). --timeout is the whole deadline of one probe.
    #[arg(short = 'u', long = "udp")]
    pub udp: bool,

    /// Datagrams re-sent when nothing came back, spread over --timeout.
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub udp_retries: u32,

    /// The request to send, whatever the port: dns, ntp, snmp, netbios, cldap, stun, empty.
    #[arg(long, value_name = "NAME")]
    pub udp_probe: Option<String>,

    /// Send these bytes (hex) instead of any request; the answer is shown in hex.
    #[arg(long, value_name = "HEX", conflicts_with = "udp_probe")]
    pub udp_payload: Option<String>,

    /// What the DNS request asks: NAME (type A) or NAME/TYPE; default `.` SOA.
    #[arg(long, value_name = "NAME[/TYPE]")]
    pub query: Option<String>,

    /// SNMP v2c community for a sysDescr.0 request (a credential: never sent unless given).
    ///
    /// Without it, the SNMP request is an SNMPv3 engine discovery, which carries no user and
    /// no community: it cannot count as an authentication attempt.
    #[arg(long, value_name = "COMMUNITY")]
    pub snmp_community: Option<String>,
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

    /// A port the host itself answers, open or closed (tells a middlebox's RST).
    ///
    /// When the traced port is answered by a RST, the hop distance of this port tells the
    /// server's own RST from one forged by a middlebox on the way. Without it, reach picks one:
    /// a port open in this run, else 443/80/22, else a random high port.
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

    /// Threads that run probes (0: half the cores for inputs, sweeps and matrices; a handful
    /// of probes runs on one).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub threads: usize,

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
    /// No answer (for UDP: `open_filtered`, which this also accepts).
    #[value(alias = "open_filtered", alias = "open|filtered")]
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
