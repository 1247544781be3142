//! The JUnit XML report (`--junit FILE`): what CI systems show as a test report. One
//! `<testsuite>` per checks-file entry (`reach` for a plain run), one `<testcase>` per probe
//! for its verdict and one per probe × expectation; a failure's message names the layer and
//! the reason. The shape is the one of Ant's JUnit schema (`junit-4.xsd`), which Jenkins,
//! GitLab, GitHub Actions reporters and Azure DevOps read: `testsuites` > `testsuite` (name,
//! tests, failures, errors, skipped, time, timestamp, hostname, id, package; `properties`,
//! `system-out`, `system-err`) > `testcase` (name, classname, time) > `failure` (message,
//! type).

use std::io::{self, Write};

use super::human::probe_label;
use super::sanitize::escape;
use crate::report::{Report, word};

/// Cases kept per run, at most (a CI report of a sweep must not grow without bound).
const MAX_CASES: usize = 100_000;

#[derive(Debug)]
struct Case {
    name: String,
    time: f64,
    /// (message, type, body).
    failure: Option<(String, String, String)>,
}

#[derive(Debug)]
struct Suite {
    name: String,
    cases: Vec<Case>,
}

/// The test cases of a run, grouped in suites in the order they first appeared.
#[derive(Debug)]
pub(crate) struct Junit {
    started_unix: i64,
    suites: Vec<Suite>,
    cases: usize,
    dropped: usize,
}

impl Junit {
    pub(crate) fn new() -> Junit {
        Junit {
            started_unix: crate::cert::now_unix(),
            suites: Vec::new(),
            cases: 0,
            dropped: 0,
        }
    }

    /// Adds the cases of one probe to `suite`.
    pub(crate) fn add(&mut self, suite: &str, report: &Report) {
        let label = escape(&probe_label(report, true));
        let mut cases = vec![Case {
            name: format!("{label}: verdict"),
            time: probe_seconds(report),
            failure: verdict_failure(report),
        }];
        for e in &report.expect {
            let layer = e.check.layer().as_str();
            let check = word(&e.check);
            let failure = (!e.ok && !e.check.warns_only()).then(|| {
                let message = format!(
                    "{layer}: expect {check} failed: wanted {}, saw {}",
                    escape(&e.wanted),
                    escape(&e.seen)
                );
                (message.clone(), format!("expect.{check}"), message)
            });
            let name = match e.check {
                // One case per name: the name tells them apart.
                crate::report::ExpectCheck::San => {
                    format!("{label}: expect {check} {}", escape(&e.wanted))
                }
                _ => format!("{label}: expect {check}"),
            };
            cases.push(Case {
                name,
                time: 0.0,
                failure,
            });
        }
        let index = match self.suites.iter().position(|s| s.name == suite) {
            Some(i) => i,
            None => {
                self.suites.push(Suite {
                    name: suite.to_string(),
                    cases: Vec::new(),
                });
                self.suites.len() - 1
            }
        };
        for case in cases {
            if self.cases >= MAX_CASES {
                self.dropped += 1;
                continue;
            }
            self.cases += 1;
            self.suites[index].cases.push(case);
        }
    }

    /// Writes the XML document.
    pub(crate) fn write(&self, out: &mut impl Write) -> io::Result<()> {
        let failures = |cases: &[Case]| cases.iter().filter(|c| c.failure.is_some()).count();
        let time = |cases: &[Case]| cases.iter().map(|c| c.time).sum::<f64>();
        let all: Vec<&Case> = self.suites.iter().flat_map(|s| &s.cases).collect();
        let total_failures = all.iter().filter(|c| c.failure.is_some()).count();
        let total_time: f64 = all.iter().map(|c| c.time).sum();
        let timestamp = crate::cert::rfc3339(self.started_unix)
            .trim_end_matches('Z')
            .to_string();
        let host = hostname();
        writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
        writeln!(
            out,
            r#"<testsuites name="reach" tests="{}" failures="{total_failures}" errors="0" time="{total_time:.3}">"#,
            all.len()
        )?;
        for (id, suite) in self.suites.iter().enumerate() {
            writeln!(
                out,
                r#"  <testsuite name="{}" tests="{}" failures="{}" errors="0" skipped="0" time="{:.3}" timestamp="{timestamp}" hostname="{}" id="{id}" package="reach">"#,
                xml(&suite.name),
                suite.cases.len(),
                failures(&suite.cases),
                time(&suite.cases),
                xml(&host)
            )?;
            writeln!(out, "    <properties/>")?;
            for case in &suite.cases {
                write!(
                    out,
                    r#"    <testcase name="{}" classname="{}" time="{:.3}""#,
                    xml(&case.name),
                    xml(&suite.name),
                    case.time
                )?;
                match &case.failure {
                    None => writeln!(out, "/>")?,
                    Some((message, kind, body)) => {
                        writeln!(out, ">")?;
                        writeln!(
                            out,
                            r#"      <failure message="{}" type="{}">{}</failure>"#,
                            xml(message),
                            xml(kind),
                            xml(body)
                        )?;
                        writeln!(out, "    </testcase>")?;
                    }
                }
            }
            writeln!(out, "    <system-out/>")?;
            if self.dropped > 0 && id + 1 == self.suites.len() {
                writeln!(
                    out,
                    "    <system-err>{} test cases were left out (more than {MAX_CASES})</system-err>",
                    self.dropped
                )?;
            } else {
                writeln!(out, "    <system-err/>")?;
            }
            writeln!(out, "  </testsuite>")?;
        }
        writeln!(out, "</testsuites>")
    }
}

/// The probe's verdict as a failure: where it stopped and why, with every problem found.
fn verdict_failure(report: &Report) -> Option<(String, String, String)> {
    if report.exit.code() == 0 {
        return None;
    }
    let stopped = report.stopped?;
    let detail = report
        .problems
        .first()
        .map(|p| format!(": {}", escape(&p.detail)))
        .unwrap_or_default();
    let message = format!(
        "stopped at {}: {}{detail}",
        stopped.layer.as_str(),
        stopped.reason.word()
    );
    let body = report
        .problems
        .iter()
        .map(|p| {
            format!(
                "{} {}: {}",
                p.layer.as_str(),
                p.reason.word(),
                escape(&p.detail)
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    Some((
        message,
        format!("{}.{}", stopped.layer.as_str(), stopped.reason.word()),
        body,
    ))
}

/// The time the probe's layers took, in seconds.
fn probe_seconds(report: &Report) -> f64 {
    let dns = report.dns.as_ref().map_or(0.0, |d| d.resolve_ms);
    let tcp = report.tcp.as_ref().map_or(0.0, |t| t.connect_ms);
    let tls = report
        .tls
        .as_ref()
        .and_then(|t| t.handshake_ms)
        .unwrap_or(0.0);
    (dns + tcp + tls) / 1000.0
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// Text for an XML attribute or element: the five entities escaped, and characters XML 1.0
/// cannot carry at all (controls other than tab, newline, carriage return) dropped.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' | '\r' => out.push(' '),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_text_is_escaped_and_invalid_characters_dropped() {
        assert_eq!(xml("a<b & \"c\"\x01"), "a&lt;b &amp; &quot;c&quot;");
    }
}
