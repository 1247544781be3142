//! External fingerprint databases in Rapid7 Recog's XML format (`--fingerprints DIR`),
//! matched after the built-in table.
//!
//! The format, as documented by the Recog project: a `<fingerprints matches="ssh.banner">`
//! root holding `<fingerprint pattern="…" flags="REG_ICASE">` elements, each with `<param
//! pos="N" name="service.version"/>` (capture group N) or `<param pos="0"
//! name="service.product" value="…"/>` (a constant, which may interpolate `{service.version}`).
//! Only the `matches` kinds that name a greeting reach reads are used (see [`protocol_of`]).
//! Patterns are Ruby regular expressions; those the linear-time `regex` crate cannot express
//! (look-around, back-references, atomic groups) are skipped and counted. No database is
//! shipped with reach.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use regex::{Regex, RegexBuilder};

use super::fingerprint::{self, Named, SUBJECT_MAX};
use crate::report::greeting::{GreetingReport, Identification};

/// The biggest database file read.
const FILE_MAX: u64 = 16 * 1024 * 1024;
/// At most this many files are read from the directory.
const FILES_MAX: usize = 1000;

/// A database directory that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RecogError {
    /// The directory (or a file in it) could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file is not well-formed XML.
    #[error("{path} is not a Recog XML database: {reason}")]
    Xml {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        reason: String,
    },
    /// No usable fingerprint was found in the directory.
    #[error(
        "no usable Recog fingerprint in {0} (expected *.xml files with <fingerprints matches=\"ssh.banner\"> and the like)"
    )]
    Empty(PathBuf),
}

/// A fingerprint being read: its pattern (`None`: unusable), constants and captures.
type Partial = (Option<Regex>, HashMap<String, String>, Vec<(String, usize)>);

/// One fingerprint.
#[derive(Debug)]
struct Print {
    regex: Regex,
    /// Constant parameters (`pos="0"`), by name.
    constants: HashMap<String, String>,
    /// Captured parameters: name and capture group.
    captured: Vec<(String, usize)>,
}

/// Fingerprints for one protocol.
#[derive(Debug)]
struct Set {
    protocol: &'static str,
    prints: Vec<Print>,
}

/// Loaded databases.
#[derive(Debug, Default)]
pub struct Db {
    sets: Vec<Set>,
    /// Fingerprints loaded.
    pub loaded: usize,
    /// Fingerprints skipped (a pattern this engine cannot run, or an unused `matches` kind).
    pub skipped: usize,
    /// Files read.
    pub files: usize,
}

/// The greeting protocol a Recog `matches` kind describes, when reach reads such greetings.
pub fn protocol_of(matches: &str) -> Option<&'static str> {
    Some(match matches {
        "ssh.banner" => "ssh",
        "smtp.banner" => "smtp",
        "ftp.banner" => "ftp",
        "pop.banner" | "pop3.banner" => "pop3",
        "imap.banner" | "imap4.banner" => "imap",
        "nntp.banner" => "nntp",
        "telnet.banner" => "telnet",
        "http_header.server" => "http",
        "mysql.banners" | "mysql.banner" => "mysql",
        _ => return None,
    })
}

impl Db {
    /// Loads every `*.xml` file in `dir` (not recursive), in name order.
    pub fn load_dir(dir: &Path) -> Result<Db, RecogError> {
        let io = |source| RecogError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "xml") && p.is_file())
            .collect();
        files.sort();
        files.truncate(FILES_MAX);
        let mut db = Db::default();
        for path in &files {
            let size = std::fs::metadata(path)
                .map_err(|source| RecogError::Io {
                    path: path.clone(),
                    source,
                })?
                .len();
            if size > FILE_MAX {
                db.skipped += 1;
                continue;
            }
            let text = std::fs::read_to_string(path).map_err(|source| RecogError::Io {
                path: path.clone(),
                source,
            })?;
            db.add_xml(&text).map_err(|reason| RecogError::Xml {
                path: path.clone(),
                reason,
            })?;
            db.files += 1;
        }
        if db.loaded == 0 {
            return Err(RecogError::Empty(dir.to_path_buf()));
        }
        Ok(db)
    }

    /// Adds the fingerprints of one XML document.
    pub fn add_xml(&mut self, xml: &str) -> Result<(), String> {
        let mut reader = Reader::from_str(xml);
        reader.config_mut().trim_text(true);
        let mut protocol: Option<&'static str> = None;
        let mut current: Option<Partial> = None;
        loop {
            let event = reader.read_event().map_err(|e| e.to_string())?;
            match &event {
                Event::Start(e) | Event::Empty(e) => match e.local_name().as_ref() {
                    b"fingerprints" => {
                        protocol = attr(e, "matches").as_deref().and_then(protocol_of);
                    }
                    b"fingerprint" => {
                        let pattern = attr(e, "pattern").unwrap_or_default();
                        let flags = attr(e, "flags").unwrap_or_default();
                        let regex = protocol.and_then(|_| ruby_regex(&pattern, &flags));
                        current = Some((regex, HashMap::new(), Vec::new()));
                        if matches!(event, Event::Empty(_)) {
                            self.finish(protocol, current.take());
                        }
                    }
                    b"param" => {
                        if let Some((_, constants, captured)) = current.as_mut() {
                            let name = attr(e, "name").unwrap_or_default();
                            let pos: usize =
                                attr(e, "pos").and_then(|p| p.parse().ok()).unwrap_or(0);
                            match (pos, attr(e, "value")) {
                                (0, Some(value)) => {
                                    constants.insert(name, value);
                                }
                                (0, None) => {}
                                (n, _) => captured.push((name, n)),
                            }
                        }
                    }
                    _ => {}
                },
                Event::End(e) if e.local_name().as_ref() == b"fingerprint" => {
                    self.finish(protocol, current.take());
                }
                Event::Eof => break,
                _ => {}
            }
        }
        Ok(())
    }

    fn finish(&mut self, protocol: Option<&'static str>, print: Option<Partial>) {
        let Some((regex, constants, captured)) = print else {
            return;
        };
        let (Some(protocol), Some(regex)) = (protocol, regex) else {
            self.skipped += 1;
            return;
        };
        if !constants.contains_key("service.product")
            && !captured.iter().any(|(n, _)| n == "service.product")
        {
            self.skipped += 1;
            return;
        }
        let print = Print {
            regex,
            constants,
            captured,
        };
        self.loaded += 1;
        match self.sets.iter_mut().find(|s| s.protocol == protocol) {
            Some(set) => set.prints.push(print),
            None => self.sets.push(Set {
                protocol,
                prints: vec![print],
            }),
        }
    }

    /// Names the product of a greeting the built-in table did not identify.
    pub fn apply(&self, report: &mut GreetingReport) {
        if report.bytes == 0 || report.identification == Some(Identification::Table) {
            return;
        }
        let Some(protocol) = report.protocol.as_deref() else {
            return;
        };
        let protocol = if protocol == "lmtp" { "smtp" } else { protocol };
        let subject = fingerprint::subject(report);
        let first_line: String = report
            .text
            .lines()
            .next()
            .unwrap_or_default()
            .chars()
            .take(SUBJECT_MAX)
            .collect();
        let found = self
            .sets
            .iter()
            .filter(|s| s.protocol == protocol)
            .flat_map(|s| s.prints.iter())
            .find_map(|p| {
                [subject.as_str(), first_line.as_str()]
                    .into_iter()
                    .find_map(|text| named(p, text).map(|n| (n, text.to_string())))
            });
        if let Some((named, subject)) = found {
            fingerprint::record(report, &subject, named);
        }
    }
}

fn named(print: &Print, text: &str) -> Option<Named> {
    let caps = print.regex.captures(text)?;
    let mut values = print.constants.clone();
    for (name, group) in &print.captured {
        if let Some(m) = caps.get(*group) {
            values.insert(name.clone(), m.as_str().to_string());
        }
    }
    let interpolate = |v: &str| {
        let mut out = v.to_string();
        for (name, value) in &values {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        out
    };
    let product = interpolate(values.get("service.product")?);
    let version = values
        .get("service.version")
        .map(|v| fingerprint::clean_version(&interpolate(v)))
        .filter(|v| !v.is_empty() && !v.contains('{'));
    let vendor = values.get("service.vendor").map(|v| interpolate(v));
    let cpe = values
        .get("service.cpe23")
        .and_then(|c| cpe_base(c))
        .and_then(|base| fingerprint::cpe(&base, version.as_deref()));
    let span = caps.get(0).map(|m| m.range()).unwrap_or_default();
    Some(Named {
        product,
        vendor,
        version,
        cpe,
        span,
        by: Identification::Fingerprints,
    })
}

/// `cpe:/a:openbsd:openssh:{service.version}` (CPE 2.2 URI, as Recog writes it) or a CPE 2.3
/// name → `a:openbsd:openssh`.
fn cpe_base(value: &str) -> Option<String> {
    let rest = value
        .strip_prefix("cpe:/")
        .or_else(|| value.strip_prefix("cpe:2.3:"))?;
    let parts: Vec<&str> = rest.split(':').take(3).collect();
    (parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && !p.contains('{')))
        .then(|| parts.join(":").to_ascii_lowercase())
}

fn attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
    e.attributes()
        .filter_map(Result::ok)
        .find(|a| a.key.local_name().as_ref() == name.as_bytes())
        .and_then(|a| a.unescape_value().ok())
        .map(|v| v.into_owned())
}

/// A Ruby pattern as a `regex`-crate one: `^`/`$` match at line ends as in Ruby, `REG_ICASE`
/// is case-insensitive, `REG_DOT_NEWLINE`/`REG_MULTILINE` let `.` match a newline. `None` when
/// the pattern uses what a linear-time engine cannot do.
fn ruby_regex(pattern: &str, flags: &str) -> Option<Regex> {
    let translated = pattern
        .replace(r"\h", "[0-9A-Fa-f]")
        .replace(r"\Z", r"\n?\z");
    RegexBuilder::new(&translated)
        .case_insensitive(flags.contains("REG_ICASE"))
        .dot_matches_new_line(flags.contains("REG_DOT_NEWLINE") || flags.contains("REG_MULTILINE"))
        .multi_line(true)
        .size_limit(fingerprint::SIZE_LIMIT)
        .dfa_size_limit(fingerprint::SIZE_LIMIT)
        .build()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &str = r#"<?xml version="1.0"?>
<fingerprints matches="ftp.banner" protocol="ftp" database_type="service" preference="0.90">
  <fingerprint pattern="^Frobnicator FTPd v(\d+\.\d+) ready$" flags="REG_ICASE">
    <description>A made-up server, for the loader's test</description>
    <example service.version="2.5">Frobnicator FTPd v2.5 ready</example>
    <param pos="0" name="service.vendor" value="Example Corp"/>
    <param pos="0" name="service.product" value="Frobnicator"/>
    <param pos="1" name="service.version"/>
    <param pos="0" name="service.cpe23" value="cpe:/a:example:frobnicator:{service.version}"/>
  </fingerprint>
  <fingerprint pattern="^(?=lookahead)x$">
    <param pos="0" name="service.product" value="Unsupported"/>
  </fingerprint>
</fingerprints>"#;

    #[test]
    fn loads_matches_and_skips_what_it_cannot_run() {
        let mut db = Db::default();
        db.add_xml(XML).expect("parses");
        assert_eq!((db.loaded, db.skipped), (1, 1));
        let mut g = GreetingReport {
            protocol: Some("ftp".into()),
            text: "220 Frobnicator FTPd V2.5 ready".into(),
            bytes: 30,
            ..GreetingReport::default()
        };
        super::super::fingerprint::apply(&mut g);
        assert_eq!(g.identification, Some(Identification::NotIdentified));
        db.apply(&mut g);
        assert_eq!(g.product.as_deref(), Some("Frobnicator"));
        assert_eq!(g.vendor.as_deref(), Some("Example Corp"));
        assert_eq!(g.version.as_deref(), Some("2.5"));
        assert_eq!(
            g.cpe.as_deref(),
            Some("cpe:2.3:a:example:frobnicator:2.5:*:*:*:*:*:*:*")
        );
        assert_eq!(g.identification, Some(Identification::Fingerprints));
    }

    #[test]
    fn malformed_documents_are_errors_not_panics() {
        let mut db = Db::default();
        assert!(
            db.add_xml("<fingerprints><fingerprint pattern='(' ></fingerprints>")
                .is_err()
        );
        assert!(db.add_xml("").is_ok());
        assert_eq!(db.loaded, 0);
    }
}
