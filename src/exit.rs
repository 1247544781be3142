//! From a set of reports to the process exit code: the worst probe decides.

/// Exit codes, stable and documented in README.md.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExitCode {
    /// Every probe reached what was asked.
    #[default]
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
    pub fn severity(self) -> u8 {
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

/// The Nagios/Icinga plugin status of a probe (`--format nagios`), with the meaning
/// `check_ssl_cert` and `check_tcp` give it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PluginStatus {
    /// Everything asked for holds.
    Ok,
    /// Only a warning threshold was crossed.
    Warning,
    /// The service failed a check: not listening, no answer, TLS or certificate problem,
    /// an expectation failed.
    Critical,
    /// reach could not check: the name did not resolve, a local error, a bug, bad usage.
    Unknown,
}

impl PluginStatus {
    /// The plugin exit code: 0, 1, 2, 3.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The word of the status line.
    pub fn word(self) -> &'static str {
        match self {
            PluginStatus::Ok => "OK",
            PluginStatus::Warning => "WARNING",
            PluginStatus::Critical => "CRITICAL",
            PluginStatus::Unknown => "UNKNOWN",
        }
    }

    /// The worse of two, for several probes behind one status line: OK < WARNING < UNKNOWN
    /// < CRITICAL (a service seen failing on one address is CRITICAL even when another
    /// address could not be checked).
    pub fn worst(self, other: PluginStatus) -> PluginStatus {
        let rank = |s: PluginStatus| match s {
            PluginStatus::Ok => 0,
            PluginStatus::Warning => 1,
            PluginStatus::Unknown => 2,
            PluginStatus::Critical => 3,
        };
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

/// What the process exits with: reach's own code, or a plugin status (`--format nagios`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// A reach exit code.
    Code(ExitCode),
    /// A Nagios/Icinga plugin status.
    Plugin(PluginStatus),
}

impl Exit {
    /// The numeric code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Code(code) => code.code(),
            Exit::Plugin(status) => status.code(),
        }
    }
}

impl From<ExitCode> for Exit {
    fn from(code: ExitCode) -> Self {
        Exit::Code(code)
    }
}

/// Folds one more code into a running worst.
pub fn worst(a: ExitCode, b: ExitCode) -> ExitCode {
    if b.severity() > a.severity() { b } else { a }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lowest_failing_layer_is_the_worst() {
        assert_eq!(worst(ExitCode::Certificate, ExitCode::Tls), ExitCode::Tls);
        assert_eq!(
            worst(ExitCode::Ok, ExitCode::Expectation),
            ExitCode::Expectation
        );
        assert_eq!(
            worst(ExitCode::Filtered, ExitCode::NotListening),
            ExitCode::Filtered
        );
        assert_eq!(
            worst(ExitCode::Interrupted, ExitCode::Internal),
            ExitCode::Interrupted
        );
    }

    #[test]
    fn a_probe_that_failed_inside_reach_is_code_70_and_the_worst() {
        assert_eq!(ExitCode::Internal.code(), 70);
        assert_eq!(
            worst(ExitCode::Internal, ExitCode::Usage),
            ExitCode::Internal
        );
        assert_eq!(worst(ExitCode::Dns, ExitCode::Internal), ExitCode::Internal);
    }
}
