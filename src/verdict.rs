//! The verdict engine: the one place that turns a report's typed layer results into
//! `reached`, `problems[]`, `stopped`, the expectation results and the exit code. Printers,
//! the summary and the process exit code read what it decided and never re-derive it.
//!
//! Precedence (README "Verdict precedence", docs/json.md): when several problems coexist, the
//! headline (`stopped`) names the cause, not the symptom. Lower layers come first, because a
//! failure there hides everything above. Within TLS: a name the server did not route
//! (`unrecognized_name`, `default_fallback`) explains a name mismatch and comes first; an
//! untrusted chain is never hidden behind a name mismatch; a mismatch seen from the vhost
//! side (`vhost mismatch`) comes before the bare `certificate name_mismatch`. A UDP probe's
//! `udp` verdict ranks with TCP's: it is the transport, and nothing above it was tried.

use crate::exit::{ExitCode, PluginStatus};
use crate::report::tls::TlsAlert;
use crate::report::{
    CertProblem, DnsOutcome, ExpectCheck, ExpectResult, GreetingState, InternalFault, Layer,
    Problem, QuicState, Reason, Report, StarttlsResult, Stopped, TcpState, UdpState, Vhost, word,
};

/// What the user expects of a probe (`--expect-…` flags, a checks file's entry, an exporter
/// module); each failed expectation exits 6 (a `--warn-days` failure only warns).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expectations {
    /// The TCP state the probe must end in.
    pub state: Option<TcpState>,
    /// Every certificate of the presented chain must have at least this many days left.
    pub min_days: Option<i64>,
    /// Plugin thresholds on days left (`--warn-days`, `--crit-days`).
    pub days: Option<DayThresholds>,
    /// Names the leaf must cover, each its own result.
    pub sans: Vec<String>,
    /// A pattern the leaf's issuer (RFC 4514) must match.
    pub issuer: Option<Pattern>,
    /// A pattern the leaf's subject (RFC 4514) must match.
    pub subject: Option<Pattern>,
    /// Pins: one of them must be found in the chain (certificate or key).
    pub fingerprints: Vec<Pin>,
    /// The lowest acceptable negotiated version, as (major, minor): (1, 2) for TLS 1.2.
    pub tls_min: Option<(u8, u8)>,
    /// The ALPN protocol the server must choose.
    pub alpn: Option<String>,
    /// A pattern the greeting must match.
    pub banner: Option<Pattern>,
    /// The virtual-host verdict wanted.
    pub vhost: Option<Vhost>,
    /// Every address of a name must serve the same certificate: decided by [`same_cert`]
    /// where the reports of one target meet, not by [`settle`].
    pub same_cert: bool,
}

/// Days-left thresholds of the plugin mode, `check_ssl_cert` style: fewer than `critical` days
/// is CRITICAL, fewer than `warning` is WARNING.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayThresholds {
    /// `--warn-days`.
    pub warning: Option<i64>,
    /// `--crit-days`.
    pub critical: Option<i64>,
    /// Applied only to probes that saw a certificate (the plugin mode's default thresholds,
    /// which must not fail a plain TCP check); explicit flags apply to every probe.
    pub only_with_certificate: bool,
}

/// A regular expression as the user wrote it (compared by its text).
#[derive(Debug, Clone)]
pub struct Pattern {
    text: String,
    regex: regex::Regex,
}

impl Pattern {
    /// Compiles `text` (Rust `regex` syntax, unanchored: `Example CA` matches anywhere).
    pub fn new(text: &str) -> Result<Pattern, regex::Error> {
        let regex = regex::RegexBuilder::new(text).size_limit(1 << 20).build()?;
        Ok(Pattern {
            text: text.to_string(),
            regex,
        })
    }

    /// As written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn is_match(&self, haystack: &str) -> bool {
        self.regex.is_match(haystack)
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for Pattern {}

/// A pin: a SHA-256 that must be found in the presented chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pin {
    /// 64 hex digits: the fingerprint of a certificate, or of a certificate's key (SPKI).
    Any(String),
    /// `sha256//BASE64`: the fingerprint of a key (SPKI), as `curl --pinnedpubkey` writes it.
    Spki(String),
}

impl Pin {
    /// Parses 64 hex digits (colons allowed) or `sha256//BASE64`; `None` otherwise.
    pub fn parse(text: &str) -> Option<Pin> {
        let text = text.trim();
        if let Some(b64) = text.strip_prefix("sha256//") {
            let bytes = base64_decode(b64)?;
            return (bytes.len() == 32).then(|| Pin::Spki(hex_colon(&bytes)));
        }
        let digits: String = text.chars().filter(|c| *c != ':').collect();
        if digits.len() != 64 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let bytes: Vec<u8> = (0..32)
            .filter_map(|i| u8::from_str_radix(&digits[2 * i..2 * i + 2], 16).ok())
            .collect();
        Some(Pin::Any(hex_colon(&bytes)))
    }

    /// As shown in `wanted`.
    fn describe(&self) -> String {
        match self {
            Pin::Any(hex) => hex.clone(),
            Pin::Spki(hex) => format!("key {hex}"),
        }
    }

    fn found_in(&self, cert: &crate::cert::CertSummary) -> bool {
        match self {
            Pin::Any(hex) => cert.sha256 == *hex || cert.spki_sha256 == *hex,
            Pin::Spki(hex) => cert.spki_sha256 == *hex,
        }
    }
}

fn hex_colon(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Standard base64 (padding optional); `None` on any other character.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.trim_end_matches('=').bytes() {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(value);
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    Some(out)
}

/// What the headline of a probe is about, decided here so every printer agrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Headline<'a> {
    /// An expectation failed: it decided the exit code.
    Expectation(&'a ExpectResult),
    /// The probe stopped at a failing layer.
    Stopped(&'a Stopped),
    /// Everything asked for was reached (the deepest layer, if any).
    Reached(Option<Layer>),
}

/// Decides the verdict of `report` from its layer results and writes it into the report:
/// `reached`, `problems`, `stopped`, `expect` and `exit`.
pub fn settle(report: &mut Report, expect: &Expectations) {
    report.reached = reached(report);
    let mut problems = problems(report);
    problems.sort_by_key(rank);
    // A notice (a chain sent out of order but trusted) is listed, never the stop.
    report.stopped = problems.first().filter(|p| !is_notice(p)).map(|p| Stopped {
        layer: p.layer,
        reason: p.reason,
    });
    report.expect = check(report, expect);
    problems.extend(report.expect.iter().filter(|e| !e.ok).map(expect_problem));
    report.problems = problems;
    report.exit = exit_code(report);
}

fn expect_problem(e: &ExpectResult) -> Problem {
    Problem {
        layer: Layer::Expect,
        reason: Reason::Expect(e.check),
        detail: format!("wanted {} {}, saw {}", word(&e.check), e.wanted, e.seen),
    }
}

/// `--expect-same-cert`: among `reports` (the probes of one target, or of one checks-file
/// entry), every address probed for the same port and SNI name must serve the same leaf
/// certificate. The certificate most addresses serve is the one wanted; an address serving
/// another one (the stale node after a deploy), or none, fails. Without a majority (a tie),
/// every address fails: nobody can tell which one is stale. A name probed on one address
/// passes. Adds one `same_cert` result to each report and settles its exit code again.
pub fn same_cert(reports: &mut [Report]) {
    use std::collections::BTreeMap;
    type Group = (u16, Option<String>);
    let key = |r: &Report| -> Group { (r.port, r.tls.as_ref().and_then(|t| t.sni.clone())) };
    let leaf = |r: &Report| -> Option<String> {
        r.tls
            .as_ref()
            .and_then(|t| t.leaf())
            .map(|c| c.sha256.clone())
    };
    let mut groups: BTreeMap<Group, Vec<usize>> = BTreeMap::new();
    for (i, r) in reports.iter().enumerate() {
        if r.address.is_some() {
            groups.entry(key(r)).or_default().push(i);
        }
    }
    for members in groups.values() {
        let mut votes: BTreeMap<String, usize> = BTreeMap::new();
        for &i in members {
            if let Some(fp) = leaf(&reports[i]) {
                *votes.entry(fp).or_default() += 1;
            }
        }
        let best = votes.values().copied().max().unwrap_or(0);
        let leaders: Vec<&String> = votes
            .iter()
            .filter(|(_, n)| **n == best)
            .map(|(f, _)| f)
            .collect();
        let majority = (leaders.len() == 1).then(|| leaders[0].clone());
        let total = members.len();
        for &i in members {
            let report = &mut reports[i];
            let seen_fp = leaf(report);
            let seen = match (&seen_fp, report.tls.as_ref().and_then(|t| t.leaf())) {
                (Some(fp), Some(cert)) => format!("{} ({})", short(fp), cert.subject),
                _ => "no certificate".to_string(),
            };
            let (wanted, ok) = match &majority {
                _ if total == 1 => (
                    "the same certificate on every address".to_string(),
                    seen_fp.is_some(),
                ),
                Some(fp) => (
                    format!("{} (served by {} of {total} addresses)", short(fp), best),
                    seen_fp.as_ref() == Some(fp),
                ),
                None => (
                    format!(
                        "one certificate on all {total} addresses ({} differ)",
                        votes.len()
                    ),
                    false,
                ),
            };
            let result = ExpectResult {
                check: ExpectCheck::SameCert,
                wanted,
                seen,
                ok,
            };
            if !ok {
                report.problems.push(expect_problem(&result));
            }
            report.expect.push(result);
            report.exit = exit_code(report);
        }
    }
}

/// The first 16 hex digits of a colon-separated fingerprint.
fn short(fp: &str) -> String {
    fp.chars().filter(|c| *c != ':').take(16).collect()
}

/// The plugin status of one probe (`--format nagios`): UNKNOWN when reach could not check
/// (the name did not resolve, a local error, a bug), WARNING when only `--warn-days` failed,
/// CRITICAL for any other failure (not listening, no answer, TLS, certificate, virtual host,
/// a failed expectation), OK otherwise — the meanings of `check_tcp` and `check_ssl_cert`.
pub fn plugin_status(report: &Report) -> PluginStatus {
    if let Some(stopped) = &report.stopped {
        match stopped.reason {
            Reason::Dns(_)
            | Reason::Internal(_)
            | Reason::Tcp(TcpState::Error)
            | Reason::Udp(UdpState::Error) => {
                return PluginStatus::Unknown;
            }
            _ => {}
        }
    }
    match report.exit {
        ExitCode::Ok if report.expect.iter().any(|e| !e.ok) => PluginStatus::Warning,
        ExitCode::Ok => PluginStatus::Ok,
        _ => PluginStatus::Critical,
    }
}

/// Marks `report` as lost to a bug in reach (a panicking probe): it must still be reported,
/// and the run must not exit 0.
pub fn fault(report: &mut Report, fault: InternalFault, detail: String) {
    let problem = Problem {
        layer: Layer::Internal,
        reason: Reason::Internal(fault),
        detail,
    };
    report.stopped = Some(Stopped {
        layer: problem.layer,
        reason: problem.reason,
    });
    report.problems = vec![problem];
    report.exit = ExitCode::Internal;
}

/// What the headline is about: a failed expectation, else the stop, else the layer reached.
pub fn headline(report: &Report) -> Headline<'_> {
    if let Some(failed) = report.expect.iter().find(|e| decides(report, e)) {
        return Headline::Expectation(failed);
    }
    match &report.stopped {
        Some(stopped) => Headline::Stopped(stopped),
        None => Headline::Reached(report.reached),
    }
}

/// The exit code a stop stands for (README "Exit codes").
pub fn code_for(stopped: &Stopped) -> ExitCode {
    match stopped.reason {
        Reason::Dns(_) => ExitCode::Dns,
        Reason::Tcp(TcpState::Filtered) => ExitCode::Filtered,
        Reason::Tcp(TcpState::Error) => ExitCode::Local,
        Reason::Tcp(_) => ExitCode::NotListening,
        Reason::Quic(state) => quic_code(state),
        // UDP as TCP (docs/decisions.md): silence is 2 whatever it hides, a refusal 1.
        Reason::Udp(UdpState::OpenFiltered) => ExitCode::Filtered,
        Reason::Udp(UdpState::Error) => ExitCode::Local,
        Reason::Udp(_) => ExitCode::NotListening,
        Reason::Starttls(_) | Reason::Tls(_) => ExitCode::Tls,
        Reason::Certificate(_) | Reason::Vhost(_) => ExitCode::Certificate,
        Reason::Expect(_) => ExitCode::Expectation,
        Reason::Internal(_) => ExitCode::Internal,
    }
}

/// The deepest layer passed, walking in order and stopping at the first failure. A greeting
/// is passed when the server spoke; a silent one does not stop the walk.
fn reached(report: &Report) -> Option<Layer> {
    let mut deepest = None;
    if let Some(dns) = &report.dns {
        if dns.outcome != DnsOutcome::Resolved {
            return None;
        }
        deepest = Some(Layer::Dns);
    }
    // A UDP probe has one layer of its own: an answer came back, or not.
    if let Some(udp) = &report.udp {
        return match udp.state {
            UdpState::Open => Some(Layer::Udp),
            _ => deepest,
        };
    }
    match (&report.tcp, &report.quic) {
        (Some(tcp), _) if tcp.state != TcpState::Open => return deepest,
        (Some(_), _) => deepest = Some(Layer::Tcp),
        (None, Some(quic)) if quic.state != QuicState::Open => return deepest,
        (None, Some(_)) => deepest = Some(Layer::Quic),
        (None, None) => return deepest,
    }
    let spoke = report
        .greeting
        .as_ref()
        .is_some_and(|g| matches!(g.state, GreetingState::Banner | GreetingState::Reply));
    if spoke {
        deepest = Some(Layer::Greeting);
    }
    if let Some(starttls) = &report.starttls {
        if starttls.result != StarttlsResult::Negotiated {
            return deepest;
        }
        deepest = Some(Layer::Starttls);
    }
    let Some(tls) = &report.tls else {
        return deepest;
    };
    if tls.error.is_some() {
        return deepest;
    }
    deepest = Some(Layer::Tls);
    if !tls
        .verify
        .as_ref()
        .is_some_and(|v| v.trusted && v.name_match)
    {
        return deepest;
    }
    deepest = Some(Layer::Certificate);
    if tls.vhost.is_some_and(Vhost::routed) {
        deepest = Some(Layer::Vhost);
    }
    deepest
}

/// Every problem on every layer, in walk order.
fn problems(report: &Report) -> Vec<Problem> {
    let mut found = Vec::new();
    let mut add = |layer, reason, detail: String| {
        found.push(Problem {
            layer,
            reason,
            detail,
        })
    };
    if let Some(dns) = report
        .dns
        .as_ref()
        .filter(|d| d.outcome != DnsOutcome::Resolved)
    {
        let detail = dns
            .detail
            .clone()
            .unwrap_or_else(|| dns_sentence(dns.outcome));
        add(Layer::Dns, Reason::Dns(dns.outcome), detail);
    }
    if let Some(tcp) = report.tcp.as_ref().filter(|t| t.state != TcpState::Open) {
        let from = tcp
            .icmp_from
            .map(|a| format!(" from {a}"))
            .unwrap_or_default();
        add(
            Layer::Tcp,
            Reason::Tcp(tcp.state),
            format!("{}{from}", word(&tcp.reason)),
        );
    }
    if let Some(quic) = report.quic.as_ref().filter(|q| q.state != QuicState::Open) {
        add(Layer::Quic, Reason::Quic(quic.state), quic_detail(quic));
    }
    if let Some(udp) = report.udp.as_ref().filter(|u| u.state != UdpState::Open) {
        let from = udp
            .icmp_from
            .map(|a| format!(" from {a}"))
            .unwrap_or_default();
        let detail = match udp.state {
            UdpState::OpenFiltered => format!(
                "no answer to {} datagram(s) ({}): open and ignoring it, or dropped; UDP \
                 cannot tell which",
                udp.sent.datagrams, udp.sent.what
            ),
            _ => format!("{}{from}", word(&udp.reason)),
        };
        add(Layer::Udp, Reason::Udp(udp.state), detail);
    }
    if let Some(st) = report.starttls.as_ref().filter(|s| s.failed()) {
        let detail = st
            .error
            .clone()
            .or_else(|| st.reply.clone())
            .unwrap_or_default();
        add(
            Layer::Starttls,
            Reason::Starttls(st.result),
            format!("{}: {detail}", st.protocol),
        );
    }
    let Some(tls) = &report.tls else {
        return found;
    };
    let mut vhost_said = false;
    if let Some(error) = &tls.error {
        // A name turned away (`unrecognized_name`, another alert or a dropped connection while
        // the address serves other names) is a routing verdict, not a broken handshake: it
        // stops at the vhost layer (the alert or close stays in `tls.error`).
        let refused_by_alert =
            error.alert == Some(TlsAlert::UNRECOGNIZED_NAME) && tls.sni.is_some();
        let turned_away = tls
            .vhost
            .filter(|v| v.not_routed())
            .or(refused_by_alert.then_some(Vhost::UnrecognizedName));
        match turned_away {
            Some(vhost) => {
                vhost_said = true;
                let detail = match vhost {
                    Vhost::UnrecognizedName => error.detail.clone(),
                    _ => format!("{}, while the address serves other names", error.detail),
                };
                add(Layer::Vhost, Reason::Vhost(vhost), detail);
            }
            None => add(Layer::Tls, Reason::Tls(error.kind), error.detail.clone()),
        }
    }
    if let Some(verify) = &tls.verify {
        for (problem, note) in verify.errors.iter().zip(&verify.notes) {
            add(
                Layer::Certificate,
                Reason::Certificate(*problem),
                note.clone(),
            );
        }
    }
    if let Some(vhost) = tls.vhost.filter(|v| !v.routed() && !vhost_said) {
        let nothing_to_compare = tls.references.iter().all(|r| r.cert.is_none());
        let detail = match (vhost, &tls.default_cert) {
            (Vhost::Mismatch, _) if nothing_to_compare && !tls.references.is_empty() => {
                "the certificate is not for this name, and no reference certificate could be \
                 fetched (no SNI, unknown name) to tell a fallback apart"
                    .to_string()
            }
            (Vhost::DefaultFallback, Some(default)) => format!(
                "the server answered with its default certificate ({})",
                default.subject
            ),
            (Vhost::Mismatch, Some(default)) => format!(
                "the certificate is neither for this name nor the default ({})",
                default.subject
            ),
            (Vhost::Mismatch, None) => {
                "the certificate is not for this name, and the default could not be fetched"
                    .to_string()
            }
            _ => word(&vhost),
        };
        add(Layer::Vhost, Reason::Vhost(vhost), detail);
    }
    found
}

/// A problem that is worth saying but does not fail the probe.
fn is_notice(problem: &Problem) -> bool {
    matches!(problem.reason, Reason::Certificate(c) if c.is_notice())
}

/// Precedence: the lower, the more it explains the others.
fn rank(problem: &Problem) -> u8 {
    match problem.reason {
        Reason::Certificate(c) if c.is_notice() => 11,
        Reason::Internal(_) => 0,
        Reason::Dns(_) => 1,
        Reason::Tcp(_) | Reason::Quic(_) | Reason::Udp(_) => 2,
        Reason::Starttls(_) => 3,
        Reason::Tls(_) => 4,
        Reason::Vhost(v) if v.not_routed() => 5,
        Reason::Certificate(CertProblem::Expired | CertProblem::NotYetValid) => 7,
        Reason::Certificate(CertProblem::NameMismatch) => 9,
        Reason::Certificate(_) => 6,
        Reason::Vhost(_) => 8,
        Reason::Expect(_) => 10,
    }
}

/// Checks each expectation against what the probe saw. An expectation about a layer the
/// probe never reached fails, saying where the probe stopped.
fn check(report: &Report, expect: &Expectations) -> Vec<ExpectResult> {
    let mut results = Vec::new();
    let mut add = |check, wanted: String, seen: String, ok| {
        results.push(ExpectResult {
            check,
            wanted,
            seen,
            ok,
        })
    };
    // What stands in for a layer's result when the probe did not get there.
    let missing = |what: &str| match &report.stopped {
        Some(stopped) => format!(
            "no {what} (stopped at {}: {})",
            stopped.layer.as_str(),
            stopped.reason.word()
        ),
        None => format!("no {what}"),
    };
    if let (Some(wanted), Some(udp)) = (expect.state, &report.udp) {
        // The TCP words stand for UDP's: `filtered` for silence (`open_filtered`).
        let ok = match udp.state {
            UdpState::Open => wanted == TcpState::Open,
            UdpState::Closed => wanted == TcpState::Closed,
            UdpState::Rejected => wanted == TcpState::Rejected,
            UdpState::Unreachable => wanted == TcpState::Unreachable,
            UdpState::OpenFiltered => wanted == TcpState::Filtered,
            UdpState::Error => wanted == TcpState::Error,
        };
        add(ExpectCheck::State, word(&wanted), word(&udp.state), ok);
    } else if let Some(wanted) = expect.state {
        let seen = match (&report.tcp, &report.stopped) {
            (Some(tcp), _) => word(&tcp.state),
            (None, Some(stopped)) => stopped.reason.word(),
            (None, None) => "nothing".to_string(),
        };
        let ok = report.tcp.as_ref().is_some_and(|t| t.state == wanted);
        add(ExpectCheck::State, word(&wanted), seen, ok);
    }
    if let Some(pattern) = &expect.banner {
        let wanted = format!("a greeting matching /{}/", pattern.as_str());
        match report.greeting.as_ref().filter(|g| !g.text.is_empty()) {
            Some(g) => add(
                ExpectCheck::Banner,
                wanted,
                format!("{:?}", first_line(&g.text)),
                pattern.is_match(&g.text),
            ),
            None => add(ExpectCheck::Banner, wanted, missing("greeting"), false),
        }
    }
    let tls = report.tls.as_ref().filter(|t| t.version.is_some());
    if let Some((major, minor)) = expect.tls_min {
        let wanted = format!("TLSv{major}.{minor} or newer");
        match tls.and_then(|t| t.version.as_deref()) {
            Some(version) => add(
                ExpectCheck::TlsMin,
                wanted,
                version.to_string(),
                tls_version(version).is_some_and(|v| v >= (major, minor)),
            ),
            None => add(ExpectCheck::TlsMin, wanted, missing("TLS handshake"), false),
        }
    }
    if let Some(alpn) = &expect.alpn {
        let seen = match tls {
            Some(t) => t.alpn.clone().unwrap_or_else(|| "no ALPN".to_string()),
            None => missing("TLS handshake"),
        };
        let ok = tls.and_then(|t| t.alpn.as_deref()) == Some(alpn.as_str());
        add(ExpectCheck::Alpn, alpn.clone(), seen, ok);
    }
    let chain = report
        .tls
        .as_ref()
        .map(|t| t.chain.as_slice())
        .unwrap_or_default();
    let earliest = chain
        .iter()
        .filter_map(|c| c.days_left.map(|d| (d, c)))
        .min_by_key(|(d, _)| *d);
    let days_seen = || match earliest {
        Some((days, cert)) => format!("{days} days ({})", cert.subject),
        None => missing("certificate"),
    };
    let days_ok = |min: i64| earliest.is_some_and(|(days, _)| days >= min);
    if let Some(min) = expect.min_days {
        add(
            ExpectCheck::MinDays,
            format!("at least {min} days left on every certificate"),
            days_seen(),
            days_ok(min),
        );
    }
    if let Some(days) = expect.days
        && (earliest.is_some() || !days.only_with_certificate)
    {
        if let Some(min) = days.critical {
            add(
                ExpectCheck::CritDays,
                format!("at least {min} days left"),
                days_seen(),
                days_ok(min),
            );
        }
        if let Some(min) = days.warning {
            add(
                ExpectCheck::WarnDays,
                format!("at least {min} days left"),
                days_seen(),
                days_ok(min),
            );
        }
    }
    let leaf = chain.first();
    for name in &expect.sans {
        let wanted = format!("a certificate for {name}");
        match leaf {
            Some(cert) => add(
                ExpectCheck::San,
                wanted,
                format!("SANs {}", list_or_none(&cert.sans)),
                covers(&cert.sans, name),
            ),
            None => add(ExpectCheck::San, wanted, missing("certificate"), false),
        }
    }
    for (check, pattern, field) in [
        (ExpectCheck::Issuer, &expect.issuer, true),
        (ExpectCheck::Subject, &expect.subject, false),
    ] {
        let Some(pattern) = pattern else { continue };
        let wanted = format!("/{}/", pattern.as_str());
        match leaf {
            Some(cert) => {
                let dn = if field { &cert.issuer } else { &cert.subject };
                add(check, wanted, dn.clone(), pattern.is_match(dn));
            }
            None => add(check, wanted, missing("certificate"), false),
        }
    }
    if !expect.fingerprints.is_empty() {
        let wanted = expect
            .fingerprints
            .iter()
            .map(Pin::describe)
            .collect::<Vec<_>>()
            .join(" or ");
        let found = chain
            .iter()
            .enumerate()
            .find(|(_, c)| expect.fingerprints.iter().any(|p| p.found_in(c)));
        let seen = match (found, leaf) {
            (Some((0, c)), _) => format!("the leaf ({})", c.subject),
            (Some((i, c)), _) => format!("chain[{i}] ({})", c.subject),
            (None, Some(c)) => format!("not in the chain; leaf is {}", c.sha256),
            (None, None) => missing("certificate"),
        };
        add(ExpectCheck::Fingerprint, wanted, seen, found.is_some());
    }
    if let Some(wanted) = expect.vhost {
        let seen = match (report.tls.as_ref().and_then(|t| t.vhost), &report.stopped) {
            (Some(v), _) => word(&v),
            (None, _) if report.tls.as_ref().is_some_and(|t| t.sni.is_none()) => {
                "no SNI sent".to_string()
            }
            (None, _) => missing("virtual-host verdict"),
        };
        let ok = report.tls.as_ref().and_then(|t| t.vhost) == Some(wanted);
        add(ExpectCheck::Vhost, word(&wanted), seen, ok);
    }
    results
}

/// Whether a failed expectation decides the headline and the exit code (6). A warning never
/// does; nor does an expectation about a layer the probe stopped at or below, because the
/// stop explains it (an expired certificate explains `--min-days`, a closed port explains
/// the missing certificate) and the stop is the cause to show. `--expect-state` is about the
/// stop itself, so it always decides.
fn decides(report: &Report, e: &ExpectResult) -> bool {
    if e.ok || e.check.warns_only() {
        return false;
    }
    let explained = e.check != ExpectCheck::State
        && report
            .stopped
            .is_some_and(|s| s.layer != Layer::Expect && s.layer <= e.check.layer());
    !explained
}

/// `TLSv1.2` → (1, 2); `SSLv3` → (0, 3).
fn tls_version(text: &str) -> Option<(u8, u8)> {
    if let Some(rest) = text.strip_prefix("TLSv") {
        let (major, minor) = rest.split_once('.')?;
        return Some((major.parse().ok()?, minor.parse().ok()?));
    }
    let minor = text.strip_prefix("SSLv")?.parse().ok()?;
    Some((0, minor))
}

/// Whether the SANs cover `name` (RFC 6125: case-insensitive, a wildcard only as the whole
/// leftmost label and matching exactly one label; IP addresses exactly).
fn covers(sans: &[String], name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    sans.iter().any(|san| {
        let san = san.trim_end_matches('.').to_ascii_lowercase();
        if san == name {
            return true;
        }
        match (san.strip_prefix("*."), name.split_once('.')) {
            (Some(parent), Some((label, rest))) => {
                !label.is_empty() && rest == parent && parent.contains('.')
            }
            _ => false,
        }
    })
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(", ")
    }
}

fn first_line(text: &str) -> &str {
    let line = text.lines().next().unwrap_or_default();
    match line.char_indices().nth(120) {
        Some((at, _)) => &line[..at],
        None => line,
    }
}

/// A failed expectation decides (6); otherwise the stop does, unless an expectation asked for
/// exactly that TCP state (`--expect closed` on a closed port exits 0).
fn exit_code(report: &Report) -> ExitCode {
    if report.expect.iter().any(|e| decides(report, e)) {
        return ExitCode::Expectation;
    }
    let Some(stopped) = &report.stopped else {
        return ExitCode::Ok;
    };
    let accepted = stopped.layer.is_transport()
        && report
            .expect
            .iter()
            .any(|e| e.check == ExpectCheck::State && e.ok);
    if accepted {
        ExitCode::Ok
    } else {
        code_for(stopped)
    }
}

// QUIC (`--quic`): the transport's words and their exit codes, consistent with TCP's.

/// Silence is `filtered` (2) as on TCP; nothing listening or a firewall's ICMP is 1; a server
/// that answered QUIC but no common version, or closed with a transport error, failed the
/// handshake (3, like a TLS failure); a local failure is 7.
fn quic_code(state: QuicState) -> ExitCode {
    match state {
        QuicState::Filtered => ExitCode::Filtered,
        QuicState::Closed | QuicState::Rejected | QuicState::Unreachable => ExitCode::NotListening,
        QuicState::VersionNegotiation | QuicState::TransportError => ExitCode::Tls,
        QuicState::Error => ExitCode::Local,
        QuicState::Open => ExitCode::Ok,
    }
}

/// The sentence of a QUIC problem: the probe's own, else the evidence in words.
fn quic_detail(quic: &crate::report::QuicReport) -> String {
    if let Some(detail) = &quic.detail {
        return detail.clone();
    }
    let from = quic
        .icmp_from
        .map(|a| format!(" from {a}"))
        .unwrap_or_default();
    format!("{}{from}", word(&quic.reason))
}

fn dns_sentence(outcome: DnsOutcome) -> String {
    match outcome {
        DnsOutcome::Nxdomain => "the name does not exist",
        DnsOutcome::NoRecords => "the name has no address of the asked family",
        DnsOutcome::Timeout => "the resolver did not answer in time",
        DnsOutcome::Error | DnsOutcome::Resolved => "resolver failure",
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tls::{CertRef, TlsFailure, TlsFailureKind, VerifyReport};
    use crate::report::{DnsReport, StarttlsReport, TcpReason, TcpReport, TlsReport};

    fn open() -> Report {
        Report {
            tcp: Some(TcpReport {
                state: TcpState::Open,
                reason: TcpReason::SynAck,
                icmp_from: None,
                icmp: None,
                errno: None,
                connect_ms: 1.0,
                icmp_evidence: crate::report::IcmpEvidence::ErrorQueue,
            }),
            ..Report::default()
        }
    }

    fn with_tcp(state: TcpState, reason: TcpReason) -> Report {
        let mut r = open();
        if let Some(tcp) = r.tcp.as_mut() {
            tcp.state = state;
            tcp.reason = reason;
        }
        r
    }

    fn with_tls(errors: &[CertProblem], vhost: Option<Vhost>) -> Report {
        let mut r = open();
        r.tls = Some(TlsReport {
            sni: vhost.map(|_| "x.example".to_string()),
            verify: Some(VerifyReport {
                trusted: errors.iter().all(|e| !e.is_trust()),
                name_match: !errors.contains(&CertProblem::NameMismatch),
                name: "x.example".into(),
                errors: errors.to_vec(),
                notes: errors.iter().map(|e| format!("{e:?}")).collect(),
                earliest_expiry_days: None,
                earliest_expiry_subject: None,
            }),
            vhost,
            default_cert: Some(CertRef {
                subject: "CN=default.example".into(),
                sha256: "AA".into(),
            }),
            ..TlsReport::default()
        });
        r
    }

    fn settled(mut r: Report, expect: &Expectations) -> Report {
        settle(&mut r, expect);
        r
    }

    fn stop(r: &Report) -> (Layer, String) {
        let s = r.stopped.expect("stopped");
        (s.layer, s.reason.word())
    }

    #[test]
    fn tcp_states_map_to_portqry_codes() {
        let none = Expectations::default();
        let cases = [
            (TcpState::Closed, TcpReason::Rst, ExitCode::NotListening),
            (
                TcpState::Rejected,
                TcpReason::IcmpAdminProhibited,
                ExitCode::NotListening,
            ),
            (
                TcpState::Unreachable,
                TcpReason::NoRoute,
                ExitCode::NotListening,
            ),
            (TcpState::Filtered, TcpReason::Timeout, ExitCode::Filtered),
            (TcpState::Error, TcpReason::LocalPolicy, ExitCode::Local),
        ];
        for (state, reason, code) in cases {
            let r = settled(with_tcp(state, reason), &none);
            assert_eq!(r.exit, code, "{state:?}");
            assert_eq!(r.reached, None);
            assert_eq!(stop(&r), (Layer::Tcp, word(&state)));
        }
        let ok = settled(open(), &none);
        assert_eq!(
            (ok.exit, ok.reached, ok.stopped),
            (ExitCode::Ok, Some(Layer::Tcp), None)
        );
        assert!(ok.problems.is_empty());
    }

    #[test]
    fn dns_failure_stops_before_tcp() {
        let r = settled(
            Report {
                dns: Some(DnsReport {
                    name: "nosuch.example".into(),
                    outcome: DnsOutcome::Nxdomain,
                    addresses: vec![],
                    resolve_ms: 1.0,
                    detail: None,
                }),
                ..Report::default()
            },
            &Expectations::default(),
        );
        assert_eq!(stop(&r), (Layer::Dns, "nxdomain".into()));
        assert_eq!(r.exit, ExitCode::Dns);
        assert_eq!(r.problems[0].detail, "the name does not exist");
    }

    /// The precedence table of README "Verdict precedence", row by row.
    #[test]
    fn precedence_names_the_cause_not_the_symptom() {
        use CertProblem as C;
        let none = Expectations::default();
        let rows: [(&[CertProblem], Option<Vhost>, Layer, &str); 7] = [
            // A default fallback explains the name mismatch, and the self-signed default.
            (
                &[C::NameMismatch, C::SelfSigned],
                Some(Vhost::DefaultFallback),
                Layer::Vhost,
                "default_fallback",
            ),
            // An untrusted chain is never hidden behind a name mismatch.
            (
                &[C::NameMismatch, C::UnknownIssuer],
                None,
                Layer::Certificate,
                "unknown_issuer",
            ),
            (
                &[C::NameMismatch, C::UnknownIssuer],
                Some(Vhost::Mismatch),
                Layer::Certificate,
                "unknown_issuer",
            ),
            // Who signed comes before when: an expired self-signed certificate is self-signed.
            (
                &[C::Expired, C::SelfSigned],
                None,
                Layer::Certificate,
                "self_signed",
            ),
            (
                &[C::Expired],
                Some(Vhost::Mismatch),
                Layer::Certificate,
                "expired",
            ),
            // A trusted certificate for other names: the vhost side says more than the name.
            (
                &[C::NameMismatch],
                Some(Vhost::Mismatch),
                Layer::Vhost,
                "mismatch",
            ),
            (
                &[C::NameMismatch],
                None,
                Layer::Certificate,
                "name_mismatch",
            ),
        ];
        for (errors, vhost, layer, reason) in rows {
            let r = settled(with_tls(errors, vhost), &none);
            assert_eq!(
                stop(&r),
                (layer, reason.to_string()),
                "{errors:?} {vhost:?}"
            );
            assert_eq!(r.exit, ExitCode::Certificate);
            assert_eq!(r.reached, Some(Layer::Tls));
            let expected_problems = errors.len() + usize::from(vhost.is_some());
            assert_eq!(r.problems.len(), expected_problems, "{:?}", r.problems);
        }
        let fine = settled(with_tls(&[], Some(Vhost::Matched)), &none);
        assert_eq!(
            (fine.exit, fine.reached),
            (ExitCode::Ok, Some(Layer::Vhost))
        );
    }

    #[test]
    fn handshake_and_starttls_failures_exit_3_and_unrecognized_name_is_a_vhost_stop() {
        let none = Expectations::default();
        let mut r = open();
        r.starttls = Some(StarttlsReport {
            protocol: "smtp".into(),
            result: StarttlsResult::Refused,
            ..StarttlsReport::default()
        });
        let r = settled(r, &none);
        assert_eq!(
            (stop(&r), r.exit),
            ((Layer::Starttls, "refused".into()), ExitCode::Tls)
        );

        let failing = |alert: Option<TlsAlert>, sni: bool| {
            let mut r = open();
            r.tls = Some(TlsReport {
                sni: sni.then(|| "x.example".into()),
                error: Some(TlsFailure {
                    kind: TlsFailureKind::Alert,
                    alert,
                    detail: "refused".into(),
                    received: None,
                }),
                ..TlsReport::default()
            });
            settled(r, &none)
        };
        let refused = failing(Some(TlsAlert::UNRECOGNIZED_NAME), true);
        assert_eq!(stop(&refused), (Layer::Vhost, "unrecognized_name".into()));
        assert_eq!(refused.exit, ExitCode::Certificate);
        let broken = failing(Some(TlsAlert(40)), true);
        assert_eq!(stop(&broken), (Layer::Tls, "alert".into()));
        assert_eq!(broken.exit, ExitCode::Tls);
        // Without SNI there is no name to refuse: the alert is a TLS failure.
        let no_sni = failing(Some(TlsAlert::UNRECOGNIZED_NAME), false);
        assert_eq!(stop(&no_sni), (Layer::Tls, "alert".into()));
    }

    #[test]
    fn expectations_explain_themselves_and_decide_the_code() {
        let closed = Expectations {
            state: Some(TcpState::Closed),
            ..Expectations::default()
        };
        let r = settled(open(), &closed);
        assert_eq!(r.exit, ExitCode::Expectation);
        assert_eq!(
            (
                r.expect[0].wanted.as_str(),
                r.expect[0].seen.as_str(),
                r.expect[0].ok
            ),
            ("closed", "open", false)
        );
        assert!(matches!(headline(&r), Headline::Expectation(_)));
        assert_eq!(r.problems.last().map(|p| p.layer), Some(Layer::Expect));

        let r = settled(with_tcp(TcpState::Closed, TcpReason::Rst), &closed);
        assert_eq!(r.exit, ExitCode::Ok);
        assert!(r.expect[0].ok);
        assert_eq!(stop(&r), (Layer::Tcp, "closed".into()));

        // `--expect open` holds, but a certificate problem above TCP still counts.
        let open_wanted = Expectations {
            state: Some(TcpState::Open),
            ..Expectations::default()
        };
        let r = settled(with_tls(&[CertProblem::SelfSigned], None), &open_wanted);
        assert_eq!(r.exit, ExitCode::Certificate);
        let r = settled(
            with_tcp(TcpState::Filtered, TcpReason::Timeout),
            &open_wanted,
        );
        assert_eq!(r.exit, ExitCode::Expectation);
    }

    fn with_leaf(fp: &str, days: i64, address: [u8; 4]) -> Report {
        let mut r = with_tls(&[], Some(Vhost::Matched));
        r.address = Some(address.into());
        r.port = 443;
        if let Some(tls) = r.tls.as_mut() {
            tls.version = Some("TLSv1.2".into());
            tls.chain = vec![crate::cert::CertSummary {
                subject: "CN=x.example".into(),
                issuer: "CN=Example Issuing CA,O=Example".into(),
                sans: vec!["x.example".into(), "*.x.example".into()],
                days_left: Some(days),
                sha256: fp.into(),
                spki_sha256: format!("K{fp}"),
                ..Default::default()
            }];
        }
        r
    }

    #[test]
    fn certificate_expectations_say_wanted_and_seen() {
        let expect = Expectations {
            min_days: Some(30),
            sans: vec!["a.x.example".into(), "b.c.x.example".into()],
            issuer: Some(Pattern::new("Example Issuing").unwrap()),
            subject: Some(Pattern::new("^CN=y").unwrap()),
            tls_min: Some((1, 3)),
            days: Some(DayThresholds {
                warning: Some(40),
                critical: None,
                only_with_certificate: false,
            }),
            ..Expectations::default()
        };
        let r = settled(with_leaf("AA", 35, [127, 0, 0, 1]), &expect);
        let verdicts: Vec<(String, bool)> =
            r.expect.iter().map(|e| (word(&e.check), e.ok)).collect();
        assert_eq!(
            verdicts,
            [
                ("tls_min".into(), false),
                ("min_days".into(), true),
                ("warn_days".into(), false),
                ("san".into(), true),
                ("san".into(), false),
                ("issuer".into(), true),
                ("subject".into(), false),
            ]
        );
        assert_eq!(r.expect[0].seen, "TLSv1.2");
        assert_eq!(r.exit, ExitCode::Expectation);
        // A warning alone changes nothing but the plugin status.
        let warn_only = Expectations {
            days: expect.days,
            ..Expectations::default()
        };
        let r = settled(with_leaf("AA", 35, [127, 0, 0, 1]), &warn_only);
        assert_eq!(r.exit, ExitCode::Ok);
        assert_eq!(plugin_status(&r), PluginStatus::Warning);
        assert!(matches!(headline(&r), Headline::Reached(_)));
        // No certificate: the expectation fails and says where the probe stopped.
        let r = settled(with_tcp(TcpState::Closed, TcpReason::Rst), &expect);
        assert_eq!(r.expect[1].seen, "no certificate (stopped at tcp: closed)");
        assert_eq!(plugin_status(&r), PluginStatus::Critical);
    }

    #[test]
    fn pins_match_any_chain_member_or_its_key() {
        let fp = "AB:CD".to_string();
        let hit = |pin: Pin| {
            let expect = Expectations {
                fingerprints: vec![pin],
                ..Expectations::default()
            };
            settled(with_leaf(&fp, 90, [127, 0, 0, 1]), &expect).expect[0].ok
        };
        assert!(hit(Pin::Any(fp.clone())));
        assert!(hit(Pin::Spki(format!("K{fp}"))));
        assert!(!hit(Pin::Spki(fp.clone())));
    }

    #[test]
    fn the_odd_address_out_serves_the_stale_certificate() {
        let mut reports = vec![
            with_leaf("AA:01", 90, [127, 0, 0, 1]),
            with_leaf("AA:01", 90, [127, 0, 0, 2]),
            with_leaf("BB:02", 10, [127, 0, 0, 3]),
        ];
        for r in &mut reports {
            settle(r, &Expectations::default());
        }
        same_cert(&mut reports);
        let oks: Vec<bool> = reports.iter().map(|r| r.expect[0].ok).collect();
        assert_eq!(oks, [true, true, false]);
        assert_eq!(reports[2].exit, ExitCode::Expectation);
        assert_eq!(
            reports[2].expect[0].wanted,
            "AA01 (served by 2 of 3 addresses)"
        );
        assert!(reports[2].expect[0].seen.starts_with("BB02 (CN=x.example)"));
        // A tie has no majority: nobody can say which one is stale.
        let mut tie = vec![
            with_leaf("AA:01", 90, [127, 0, 0, 1]),
            with_leaf("BB:02", 90, [127, 0, 0, 2]),
        ];
        same_cert(&mut tie);
        assert!(tie.iter().all(|r| !r.expect[0].ok));
    }

    #[test]
    fn plugin_status_follows_check_ssl_cert() {
        let none = Expectations::default();
        let dns = settled(
            Report {
                dns: Some(DnsReport {
                    name: "nosuch.example".into(),
                    outcome: DnsOutcome::Nxdomain,
                    addresses: vec![],
                    resolve_ms: 1.0,
                    detail: None,
                }),
                ..Report::default()
            },
            &none,
        );
        assert_eq!(plugin_status(&dns), PluginStatus::Unknown);
        let expired = settled(with_tls(&[CertProblem::Expired], None), &none);
        assert_eq!(plugin_status(&expired), PluginStatus::Critical);
        assert_eq!(plugin_status(&settled(open(), &none)), PluginStatus::Ok);
        assert_eq!(
            PluginStatus::Unknown.worst(PluginStatus::Critical),
            PluginStatus::Critical
        );
    }

    /// QUIC: the transport's words stop at `quic` with TCP's exit codes; a TLS alert in a
    /// CONNECTION_CLOSE is judged as over TCP (a refused name is a vhost stop, exit 4).
    #[test]
    fn quic_states_exit_like_tcp_and_its_tls_is_judged_as_over_tcp() {
        use crate::report::quic::{QuicReason, QuicReport, TlsTransport};
        let none = Expectations::default();
        let quic = |state| Report {
            quic: Some(QuicReport {
                state,
                reason: QuicReason::Timeout,
                version: None,
                versions_offered: vec![],
                retry: false,
                close: None,
                datagrams_sent: 1,
                datagrams_received: 0,
                icmp_from: None,
                icmp: None,
                icmp_evidence: crate::report::IcmpEvidence::ErrorQueue,
                handshake_ms: 1.0,
                detail: None,
            }),
            ..Report::default()
        };
        let cases = [
            (QuicState::Filtered, ExitCode::Filtered),
            (QuicState::Closed, ExitCode::NotListening),
            (QuicState::Rejected, ExitCode::NotListening),
            (QuicState::VersionNegotiation, ExitCode::Tls),
            (QuicState::TransportError, ExitCode::Tls),
            (QuicState::Error, ExitCode::Local),
        ];
        for (state, code) in cases {
            let r = settled(quic(state), &none);
            assert_eq!((stop(&r), r.exit), ((Layer::Quic, word(&state)), code));
            assert_eq!(r.reached, None);
        }
        let mut refused = quic(QuicState::Open);
        refused.tls = Some(TlsReport {
            transport: TlsTransport::Quic,
            sni: Some("nosuch.example".into()),
            error: Some(TlsFailure {
                kind: TlsFailureKind::Alert,
                alert: Some(TlsAlert(80)),
                detail: "refused".into(),
                received: None,
            }),
            vhost: Some(Vhost::Refused),
            ..TlsReport::default()
        });
        let r = settled(refused, &none);
        assert_eq!(stop(&r), (Layer::Vhost, "refused".into()));
        assert_eq!(
            (r.reached, r.exit),
            (Some(Layer::Quic), ExitCode::Certificate)
        );
    }

    #[test]
    fn a_fault_is_reported_and_never_exits_0() {
        let mut r = open();
        fault(&mut r, InternalFault::Panic, "boom".into());
        assert_eq!(stop(&r), (Layer::Internal, "panic".into()));
        assert_eq!(r.exit, ExitCode::Internal);
        assert_eq!(r.problems.len(), 1);
    }
}
