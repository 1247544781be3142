//! From a set of reports to the process exit code: the worst probe decides.

use crate::report::{Layer, Report, TcpState};

/// Exit codes, stable and documented in README.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExitCode {
    /// Every probe reached what was asked.
    Ok = 0,
    /// Not listening: closed, rejected or unreachable (PortQry's NOT LISTENING).
    NotListening = 1,
    /// Filtered: no answer (PortQry's FILTERED).
    Filtered = 2,
    /// TLS handshake or STARTTLS failed.
    Tls = 3,
    /// Certificate problem: untrusted, name not covered, expired, wrong virtual host.
    Certificate = 4,
    /// Name resolution failed.
    Dns = 5,
    /// An explicit expectation (`--expect`) failed.
    Expectation = 6,
    /// A local failure: permission denied by local policy, out of file descriptors.
    Local = 7,
    /// Bad flags or targets.
    Usage = 64,
    /// A probe failed inside reach itself (a panic): its result is unknown (EX_SOFTWARE).
    Internal = 70,
    /// The report could not be written (other than a closed pipe): EX_IOERR.
    OutputError = 74,
    /// stdout was closed by its reader (`reach … | head -1`): the run stopped at once. 141 is
    /// 128 + SIGPIPE, what the shell reports for a program killed by a closed pipe.
    OutputClosed = 141,
    /// SIGINT (Ctrl-C) stopped the run; what finished was printed. 128 + 2.
    Interrupted = 130,
    /// SIGTERM stopped the run; what finished was printed. 128 + 15.
    Terminated = 143,
}

impl ExitCode {
    /// The numeric code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// How bad it is, for "the worst decides": the lowest failing layer is the worst, because
    /// it hides everything above it (a name that does not resolve tells nothing about TLS).
    fn severity(self) -> u8 {
        match self {
            ExitCode::Ok => 0,
            ExitCode::Expectation => 1,
            ExitCode::Certificate => 2,
            ExitCode::Tls => 3,
            ExitCode::NotListening => 4,
            ExitCode::Filtered => 5,
            ExitCode::Local => 6,
            ExitCode::Dns => 7,
            ExitCode::Usage => 8,
            // A bug hides the verdict it should have given: no verdict may mask it.
            ExitCode::Internal => 9,
            // The run did not finish: how it ended says more than any verdict so far.
            ExitCode::OutputError => 10,
            ExitCode::OutputClosed => 11,
            ExitCode::Interrupted | ExitCode::Terminated => 12,
        }
    }
}

/// The exit code one report stands for. With `expect`, the TCP state is checked against it
/// instead of requiring `open`.
pub fn for_report(report: &Report, expect: Option<TcpState>) -> ExitCode {
    match report.stopped.as_ref().map(|s| s.layer) {
        Some(Layer::Dns) => return ExitCode::Dns,
        Some(Layer::Internal) => return ExitCode::Internal,
        _ => {}
    }
    let Some(tcp) = &report.tcp else {
        return ExitCode::Dns;
    };
    if let Some(expected) = expect {
        return if tcp.state == expected {
            ExitCode::Ok
        } else {
            ExitCode::Expectation
        };
    }
    match tcp.state {
        TcpState::Open => {}
        TcpState::Closed | TcpState::Rejected | TcpState::Unreachable => {
            return ExitCode::NotListening;
        }
        TcpState::Filtered => return ExitCode::Filtered,
        TcpState::Error => return ExitCode::Local,
    }
    if report.starttls.as_ref().is_some_and(|s| s.failed()) {
        return ExitCode::Tls;
    }
    if let Some(tls) = &report.tls {
        if tls.handshake_failed() {
            return ExitCode::Tls;
        }
        if tls.certificate_problem() {
            return ExitCode::Certificate;
        }
    }
    ExitCode::Ok
}

/// The worst code over all reports (`Ok` when there are none).
#[cfg(test)]
fn for_all<'a>(
    reports: impl IntoIterator<Item = &'a Report>,
    expect: Option<TcpState>,
) -> ExitCode {
    reports
        .into_iter()
        .map(|r| for_report(r, expect))
        .max_by_key(|c| c.severity())
        .unwrap_or(ExitCode::Ok)
}

/// Folds one more code into a running worst.
pub fn worst(a: ExitCode, b: ExitCode) -> ExitCode {
    if b.severity() > a.severity() { b } else { a }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{DnsOutcome, DnsReport, Stopped, TcpReason, TcpReport};

    fn with_tcp(state: TcpState) -> Report {
        Report {
            tcp: Some(TcpReport {
                state,
                reason: TcpReason::SynAck,
                icmp_from: None,
                icmp: None,
                errno: None,
                connect_ms: 1.0,
            }),
            ..Report::default()
        }
    }

    #[test]
    fn tcp_codes_match_portqry() {
        assert_eq!(for_report(&with_tcp(TcpState::Open), None), ExitCode::Ok);
        assert_eq!(for_report(&with_tcp(TcpState::Closed), None).code(), 1);
        assert_eq!(for_report(&with_tcp(TcpState::Rejected), None).code(), 1);
        assert_eq!(for_report(&with_tcp(TcpState::Unreachable), None).code(), 1);
        assert_eq!(for_report(&with_tcp(TcpState::Filtered), None).code(), 2);
        assert_eq!(for_report(&with_tcp(TcpState::Error), None).code(), 7);
    }

    #[test]
    fn dns_failure_is_code_5() {
        let r = Report {
            stopped: Some(Stopped {
                layer: Layer::Dns,
                reason: "nxdomain".into(),
            }),
            dns: Some(DnsReport {
                name: "x".into(),
                outcome: DnsOutcome::Nxdomain,
                addresses: vec![],
                resolve_ms: 1.0,
                detail: None,
            }),
            ..Report::default()
        };
        assert_eq!(for_report(&r, None), ExitCode::Dns);
    }

    #[test]
    fn expectation() {
        assert_eq!(
            for_report(&with_tcp(TcpState::Closed), Some(TcpState::Closed)),
            ExitCode::Ok
        );
        assert_eq!(
            for_report(&with_tcp(TcpState::Open), Some(TcpState::Closed)),
            ExitCode::Expectation
        );
    }

    #[test]
    fn the_worst_decides() {
        let reports = [
            with_tcp(TcpState::Open),
            with_tcp(TcpState::Closed),
            with_tcp(TcpState::Filtered),
        ];
        assert_eq!(for_all(&reports, None), ExitCode::Filtered);
        let reports = [with_tcp(TcpState::Open), with_tcp(TcpState::Open)];
        assert_eq!(for_all(&reports, None), ExitCode::Ok);
        assert_eq!(for_all(&[], None), ExitCode::Ok);
        assert_eq!(worst(ExitCode::Certificate, ExitCode::Tls), ExitCode::Tls);
    }

    #[test]
    fn a_probe_that_failed_inside_reach_is_code_70_and_the_worst() {
        let r = Report {
            stopped: Some(Stopped {
                layer: Layer::Internal,
                reason: "panic".into(),
            }),
            ..Report::default()
        };
        assert_eq!(for_report(&r, None).code(), 70);
        assert_eq!(for_report(&r, Some(TcpState::Closed)).code(), 70);
        assert_eq!(
            worst(ExitCode::Internal, ExitCode::Usage),
            ExitCode::Internal
        );
        assert_eq!(worst(ExitCode::Dns, ExitCode::Internal), ExitCode::Internal);
    }
}
