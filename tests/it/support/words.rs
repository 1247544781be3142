//! Verdict words for assertions: the JSON word of a typed verdict, so tests can compare with
//! the words docs/json.md documents.

use reach::report::TlsReport;
use reach::report::tls::Vhost;

pub use reach::report::word;

/// The JSON words of a list of verdicts.
pub fn words<T: serde::Serialize>(values: &[T]) -> Vec<String> {
    values.iter().map(word).collect()
}

/// The handshake completed but a certificate check or the virtual host failed.
pub fn certificate_problem(report: &TlsReport) -> bool {
    let cert_bad = report
        .verify
        .as_ref()
        .is_some_and(|v| !v.trusted || !v.name_match);
    let vhost_bad = report.vhost.is_some_and(|v| v != Vhost::Matched);
    report.error.is_none() && (cert_bad || vhost_bad)
}
