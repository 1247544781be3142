//! Product, vendor, version and CPE from a greeting, by the built-in table
//! ([`super::table::TABLE`]) and then, when the user gave one, external Recog databases
//! ([`super::recog`]).
//!
//! Patterns are compiled case-insensitively by the `regex` crate, whose matching time is
//! linear in the input: no pattern can backtrack catastrophically on hostile text. The subject
//! a pattern sees is bounded ([`SUBJECT_MAX`]). Each pattern is compiled the first time it could
//! match, once per process: a pattern whose every match starts with one of a few words
//! (`nginx`, `OpenSSH`) is skipped without compiling when the subject has none of them.
//! Compiling the whole table took ≈ 370 M instructions (≈ 0.1 s), 98 % of a one-shot check.

use std::ops::Range;
use std::sync::{LazyLock, OnceLock};

use regex::{Regex, RegexBuilder};

use super::table::{Entry, TABLE};
use crate::report::greeting::{GreetingReport, Identification};

/// The longest text a pattern is run on, in bytes.
pub const SUBJECT_MAX: usize = 1024;
/// The longest version string kept.
const VERSION_MAX: usize = 48;
/// The compiled size a pattern may reach (the table's and a user's databases alike).
pub const SIZE_LIMIT: usize = 1 << 20;

/// The version grammar `{V}` stands for in a table pattern: an optional separator and
/// keyword (`/`, `_`, ` v`, `version `, `Version: `, `release `), then the version itself:
/// digits and dots, a glued suffix (`p1`, `a`, `rc2`) or a dotted pre-release (`1.11.7.rc1`, as
/// Leafnode writes it), and a glued parenthetical (`6.1(05544322)`, `2.6.2(1)`). ASCII
/// classes (`[0-9]`, not `\d`): a version is ASCII, and the Unicode classes made compiling
/// a pattern 1.6 times as costly (2.5 M instructions for `nginx{V}`, in a one-shot check).
pub const VERSION: &str = r"(?:[ /_.:-]|[ \t\r\n]*\(|,[ \t\r\n]*|:[ \t\r\n]*|[ \t\r\n]+)?(?:v(?:er(?:sion)?)?\.?[ \t\r\n]*:?[ \t\r\n]*|release[ \t\r\n]+|rel\.?[ \t\r\n]*)?(?P<version>[0-9]+(?:\.[0-9]+)*(?:[a-z]+[0-9]*(?:\.[0-9]+)*|\.(?:rc|beta|alpha|pre)[0-9]+)?(?:\([0-9a-z.]+\))?)";

/// What identified a greeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    /// Product name (`OpenSSH`).
    pub product: String,
    /// Vendor (`OpenBSD`).
    pub vendor: Option<String>,
    /// Version as the product writes it, without `v`/`version` (`9.2p1`, `6.1(05544322)`).
    pub version: Option<String>,
    /// CPE 2.3 formatted string.
    pub cpe: Option<String>,
    /// Where in the subject the match is (for the `software` text).
    pub span: Range<usize>,
    /// Which database named it.
    pub by: Identification,
}

/// One table entry, compiled when first needed.
struct Lazy {
    entry: &'static Entry,
    /// Lowercase ASCII words one of which every match starts with (`None`: no such words).
    starts: Option<&'static [&'static [u8]]>,
    /// `None` inside: a broken built-in pattern (caught by the table's unit test), skipped at
    /// run time rather than taking the probe down.
    regex: OnceLock<Option<Regex>>,
}

impl Lazy {
    /// Whether the pattern may match `lower` (the subject, ASCII-lowercased; `None` when the
    /// subject is not ASCII, where case folding could differ).
    fn may_match(&self, lower: Option<&[u8]>) -> bool {
        match (&self.starts, lower) {
            (Some(starts), Some(lower)) => starts
                .iter()
                .any(|w| lower.windows(w.len()).any(|at| at == *w)),
            _ => true,
        }
    }

    fn regex(&self) -> Option<&Regex> {
        self.regex
            .get_or_init(|| compile(self.entry.pattern).ok())
            .as_ref()
    }
}

// `STARTS`: each table entry's prefilter words, computed by build.rs.
include!(concat!(env!("OUT_DIR"), "/starts.rs"));

static TABLE_LAZY: LazyLock<Vec<Lazy>> = LazyLock::new(|| {
    TABLE
        .iter()
        .zip(STARTS.iter())
        .map(|(entry, starts)| Lazy {
            entry,
            starts: *starts,
            regex: OnceLock::new(),
        })
        .collect()
});

/// Compiles every pattern now (for timing a match apart from the one-time compile: the fuzz
/// target); returns how many compiled.
pub fn compile_all() -> usize {
    TABLE_LAZY.iter().filter(|c| c.regex().is_some()).count()
}

/// Compiles a table pattern: `{V}` expanded, case-insensitive, size-bounded.
pub fn compile(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(&expand(pattern))
        .case_insensitive(true)
        .size_limit(SIZE_LIMIT)
        .dfa_size_limit(SIZE_LIMIT)
        .build()
}

/// Expands `{V}`. After a name that ends in a letter or digit, the name must end there (a word
/// boundary, or `_` as in `OpenSSH_9.2`) whether or not a version follows, so `Exim` never
/// matches inside `Eximious`.
fn expand(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 256);
    let mut rest = pattern;
    while let Some(at) = rest.find("{V}") {
        let before = &rest[..at];
        out.push_str(before);
        if before.ends_with(|c: char| c.is_ascii_alphanumeric()) {
            out.push_str(r"(?:\b|_)");
        }
        out.push_str("(?:");
        out.push_str(VERSION);
        out.push(')');
        rest = &rest[at + 3..];
    }
    out.push_str(rest);
    out
}

/// The text identification looks at, for a report whose protocol is known: the SSH software
/// and comments, the HTTP `Server` header, the MySQL version, ManageSieve's IMPLEMENTATION,
/// else the greeting text (without a numeric reply's codes).
pub fn subject(report: &GreetingReport) -> String {
    let text = if let Some(ssh) = &report.ssh {
        match &ssh.comments {
            Some(c) => format!("{} {c}", ssh.software),
            None => ssh.software.clone(),
        }
    } else if let Some(http) = &report.http {
        http.server.clone().unwrap_or_default()
    } else if let Some(mysql) = &report.mysql {
        mysql.server_version.clone().unwrap_or_default()
    } else if report.protocol.as_deref() == Some("sieve") {
        report.software.clone().unwrap_or_default()
    } else {
        without_codes(&report.text)
    };
    bounded(text)
}

/// `220-a\r\n220 b` → `a\nb`: numeric reply codes and separators dropped, so that patterns
/// see the words.
fn without_codes(text: &str) -> String {
    text.lines()
        .map(|line| {
            let line = line.trim_end_matches('\r');
            let b = line.as_bytes();
            if b.len() >= 3
                && b[..3].iter().all(u8::is_ascii_digit)
                && matches!(b.get(3), None | Some(b' ' | b'-'))
            {
                line.get(4..).unwrap_or_default()
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn bounded(mut text: String) -> String {
    if text.len() > SUBJECT_MAX {
        let mut cut = SUBJECT_MAX;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    text
}

/// Names the product in `subject` by the built-in table, for a greeting of `protocol`
/// (`None`: only entries that apply to any protocol).
pub fn by_table(subject: &str, protocol: Option<&str>) -> Option<Named> {
    let subject = &subject[..floor_boundary(subject, SUBJECT_MAX)];
    let lower = subject
        .is_ascii()
        .then(|| subject.as_bytes().to_ascii_lowercase());
    TABLE_LAZY.iter().find_map(|c| {
        // An unidentified protocol gets only entries that fit any: a product is not guessed
        // from words in a greeting nobody could read.
        let fits = c.entry.protocols.is_empty()
            || protocol.is_some_and(|p| c.entry.protocols.contains(&p));
        if !fits || !c.may_match(lower.as_deref()) {
            return None;
        }
        let caps = c.regex()?.captures(subject)?;
        let whole = caps.get(0)?;
        let version = caps
            .name("version")
            .map(|m| clean_version(m.as_str()))
            .filter(|v| !v.is_empty());
        Some(Named {
            product: c.entry.product.to_string(),
            vendor: (!c.entry.vendor.is_empty()).then(|| c.entry.vendor.to_string()),
            cpe: cpe(c.entry.cpe, version.as_deref()),
            version,
            // A pattern that needs context to tell one product from another (`… ready at`)
            // marks the words naming it with a `name` group.
            span: caps.name("name").unwrap_or(whole).range(),
            by: Identification::Table,
        })
    })
}

fn floor_boundary(s: &str, max: usize) -> usize {
    let mut cut = max.min(s.len());
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    cut
}

/// The words naming a product in free `text` of `protocol` (`Exim 4.96`, `Dovecot (Debian)`).
pub fn software_in(text: &str, protocol: &str) -> Option<String> {
    let text = bounded(text.to_string());
    let named = by_table(&text, Some(protocol))?;
    Some(software_words(&text, &named.span))
}

/// A version as kept: trailing punctuation cut, bounded.
pub fn clean_version(v: &str) -> String {
    let v = v.trim().trim_end_matches(['.', '-', '_', ',', ';', ':']);
    v.chars().take(VERSION_MAX).collect()
}

/// The CPE 2.3 formatted string for `part:vendor:product` (`a:openbsd:openssh`) at `version`
/// (`*` when unknown). Characters other than letters, digits, `_`, `-` and `.` in the version
/// are quoted with `\`, as the CPE 2.3 naming specification (NISTIR 7695 §6.2) requires.
pub fn cpe(base: &str, version: Option<&str>) -> Option<String> {
    if base.is_empty() {
        return None;
    }
    let version = match version {
        Some(v) => v
            .to_ascii_lowercase()
            .chars()
            .filter(|c| c.is_ascii_graphic())
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                    c.to_string()
                } else {
                    format!("\\{c}")
                }
            })
            .collect(),
        None => "*".to_string(),
    };
    Some(format!("cpe:2.3:{base}:{version}:*:*:*:*:*:*:*"))
}

/// Fills `report.product`, `vendor`, `version`, `cpe` and `identification` from the built-in
/// table; for free-text greetings also `software` (the matched words as the server wrote
/// them, never a fragment that is not a product).
pub fn apply(report: &mut GreetingReport) {
    if report.bytes == 0 {
        return;
    }
    let subject = subject(report);
    match by_table(&subject, report.protocol.as_deref()) {
        Some(named) => record(report, &subject, named),
        None => {
            report.identification = Some(Identification::NotIdentified);
            if free_text(report) {
                report.software = None;
            }
        }
    }
}

/// Records what named the greeting.
pub fn record(report: &mut GreetingReport, subject: &str, named: Named) {
    if free_text(report) {
        report.software = Some(software_words(subject, &named.span));
    }
    report.product = Some(named.product);
    report.vendor = named.vendor;
    report.version = named.version;
    report.cpe = named.cpe;
    report.identification = Some(named.by);
}

/// The protocol carries no software field of its own: `software` comes from identification.
fn free_text(report: &GreetingReport) -> bool {
    report.ssh.is_none()
        && report.http.is_none()
        && report.mysql.is_none()
        && !matches!(report.protocol.as_deref(), Some("sieve" | "vnc"))
}

/// The matched words, with a short parenthetical that follows them (`Dovecot (Debian)`).
fn software_words(subject: &str, span: &Range<usize>) -> String {
    let Some(matched) = subject.get(span.clone()) else {
        return String::new();
    };
    let mut words = matched.trim().to_string();
    // The rest of a token the match ended inside (`3.6.1` of `3.6.1-Debian`).
    let glued = subject[span.end..]
        .find(|c: char| !(c.is_alphanumeric() || matches!(c, '-' | '.' | '_' | '+' | '~' | '/')))
        .map_or(subject.len(), |n| span.end + n);
    if matched.ends_with(|c: char| c.is_alphanumeric()) && glued - span.end <= 40 {
        words.push_str(subject[span.end..glued].trim_end_matches(['.', '-']));
    }
    let rest = &subject[glued..];
    let trimmed = rest.trim_start_matches(' ');
    if !words.ends_with(')')
        && let Some(paren) = trimmed.strip_prefix('(')
        && let Some(end) = paren.find(')')
        && end <= 40
    {
        words = format!("{words} ({})", &paren[..end]);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_pattern_compiles_and_cites_a_source() {
        for entry in TABLE {
            compile(entry.pattern).unwrap_or_else(|e| panic!("{}: {e}", entry.product));
            assert!(
                !entry.source.trim().is_empty(),
                "{} has no source",
                entry.product
            );
            if !entry.cpe.is_empty() {
                assert_eq!(entry.cpe.split(':').count(), 3, "{}", entry.product);
            }
        }
        assert_eq!(compile_all(), TABLE.len());
    }

    #[test]
    fn the_prefilter_keeps_every_match_and_skips_the_rest() {
        use crate::probe::greeting::prefilter::starts;
        let words = starts(r"\bnginx(?s:.)?").expect("literal prefixes");
        assert!(words.iter().all(|w| w.starts_with(b"nginx")), "{words:?}");
        assert_eq!(starts(r".*nginx"), None);
        assert_eq!(starts(r"(?:a|nginx)"), None);
        // Case folds: the table matches case-insensitively.
        let lazy = &TABLE_LAZY[TABLE
            .iter()
            .position(|e| e.product == "nginx")
            .expect("nginx")];
        assert!(lazy.may_match(Some(b"server: nginx/1.22.1")));
        assert!(!lazy.may_match(Some(b"server: apache")));
        assert!(
            lazy.may_match(None),
            "a non-ASCII subject is never filtered"
        );
        assert_eq!(
            by_table("Server: NGINX/1.22.1", Some("http")).map(|n| n.product),
            Some("nginx".to_string())
        );
        // build.rs wrote the words this function finds for every entry.
        for (entry, built) in TABLE.iter().zip(STARTS.iter()) {
            let words = starts(entry.pattern);
            let built = built.map(|b| b.iter().map(|w| w.to_vec()).collect::<Vec<_>>());
            assert_eq!(words, built, "{}", entry.product);
        }
        // Most of the table has such words; the rest is always tried.
        let filtered = TABLE_LAZY.iter().filter(|c| c.starts.is_some()).count();
        assert!(
            filtered * 10 >= TABLE.len() * 8,
            "{filtered} of {}",
            TABLE.len()
        );
    }

    #[test]
    fn versions_keep_their_grammar() {
        let cases: &[(&str, Option<&str>, &str, Option<&str>)] = &[
            (
                "WS_FTP Server 6.1(05544322)",
                Some("ftp"),
                "WS_FTP Server",
                Some("6.1(05544322)"),
            ),
            (
                "Serv-U FTP Server v7.2 ready...",
                Some("ftp"),
                "Serv-U",
                Some("7.2"),
            ),
            (
                "mail.example.com Sendmail 8.13.3/8.13.3; Mon, 1 Jan 2024",
                Some("smtp"),
                "Sendmail",
                Some("8.13.3"),
            ),
            (
                "host Microsoft ESMTP MAIL Service, Version: 10.0.17763.1 ready at",
                Some("smtp"),
                "IIS SMTP Service",
                Some("10.0.17763.1"),
            ),
            (
                "Microsoft FTP Service",
                Some("ftp"),
                "IIS FTP Service",
                None,
            ),
            ("proftpd[40312] host.example", Some("ftp"), "ProFTPD", None),
            (
                "host FTP server (Version wu-2.6.2(1) Mon Jan 1 2001) ready.",
                Some("ftp"),
                "WU-FTPD",
                Some("2.6.2(1)"),
            ),
            (
                "host Cyrus IMAP4 v2.3.7-Invoca-RPM-2.3.7-7.el5 server ready",
                Some("imap"),
                "Cyrus IMAP",
                Some("2.3.7"),
            ),
            (
                "Microsoft Exchange POP3 server version 5.5.2654.50 ready",
                Some("pop3"),
                "Exchange Server",
                Some("5.5.2654.50"),
            ),
            (
                "mail.example.com Sendmail ready; version 8.13.3",
                Some("smtp"),
                "Sendmail",
                Some("8.13.3"),
            ),
            (
                "host FTP server (VxWorks 5.4.2) ready.",
                Some("ftp"),
                "VxWorks FTP",
                Some("5.4.2"),
            ),
            (
                "OpenSSH_9.2p1 Debian-2+deb12u3",
                Some("ssh"),
                "OpenSSH",
                Some("9.2p1"),
            ),
        ];
        for (text, proto, product, version) in cases {
            let n = by_table(text, *proto).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(
                (n.product.as_str(), n.version.as_deref()),
                (*product, *version),
                "{text}"
            );
        }
        let n = by_table("OpenSSH_9.2p1 Debian-2+deb12u3", Some("ssh")).expect("ssh");
        assert_eq!(
            n.cpe.as_deref(),
            Some("cpe:2.3:a:openbsd:openssh:9.2p1:*:*:*:*:*:*:*")
        );
        assert_eq!(n.vendor.as_deref(), Some("OpenBSD"));
    }

    #[test]
    fn software_words_keep_glued_tokens_and_short_parentheticals() {
        assert_eq!(
            software_in(
                "host Cyrus IMAP4 v2.3.7-Invoca-RPM-2.3.7 server ready",
                "imap"
            )
            .as_deref(),
            Some("Cyrus IMAP4 v2.3.7-Invoca-RPM-2.3.7")
        );
        assert_eq!(
            software_in("+OK Dovecot (Debian) ready.", "pop3").as_deref(),
            Some("Dovecot (Debian)")
        );
        assert_eq!(software_in("nothing known", "ftp"), None);
    }

    #[test]
    fn cpe_quotes_what_the_grammar_requires() {
        assert_eq!(
            cpe("a:ipswitch:ws_ftp_server", Some("6.1(05544322)")).as_deref(),
            Some("cpe:2.3:a:ipswitch:ws_ftp_server:6.1\\(05544322\\):*:*:*:*:*:*:*")
        );
        assert_eq!(
            cpe("a:x:y", None).as_deref(),
            Some("cpe:2.3:a:x:y:*:*:*:*:*:*:*:*")
        );
        assert_eq!(cpe("", Some("1")), None);
    }

    #[test]
    fn fragments_are_never_products() {
        for text in [
            "wu-",
            "FTP server (Version",
            "ready",
            "",
            "220",
            "Version 1.2",
        ] {
            assert!(by_table(text, Some("ftp")).is_none(), "{text}");
        }
        assert!(by_table("MyExim server", Some("smtp")).is_none());
    }

    #[test]
    fn codes_are_dropped_from_numeric_greetings() {
        assert_eq!(without_codes("220-a b\r\n220 c"), "a b\nc");
        assert_eq!(without_codes("* OK x"), "* OK x");
    }

    /// Random and adversarial subjects against every pattern: linear-time matching means even
    /// the worst inputs finish quickly (a backtracking engine would take exponential time on
    /// some of these for patterns with nested repetition).
    #[test]
    fn randomized_subjects_match_in_bounded_time() {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let alphabet: &[u8] = b"aA0.9-_/ ()vV:;[]ESMTPftpOpenSSH\r\n\t(version)";
        let started = std::time::Instant::now();
        for round in 0..200 {
            let len = (next() % SUBJECT_MAX as u64) as usize;
            let subject: String = if round % 3 == 0 {
                // Long runs of version-like characters: the shape that hurts backtracking.
                "1.".repeat(len / 2) + "x"
            } else {
                (0..len)
                    .map(|_| alphabet[(next() % alphabet.len() as u64) as usize] as char)
                    .collect()
            };
            let _ = by_table(&subject, Some(["ssh", "smtp", "ftp", "http"][round % 4]));
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(60));
    }
}
