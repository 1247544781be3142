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
    /// reach itself failed (a probe panicked): EX_SOFTWARE.
    Internal = 70,
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
            ExitCode::Internal => 8,
            ExitCode::Usage => 9,
        }
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
        assert_eq!(worst(ExitCode::Dns, ExitCode::Internal), ExitCode::Internal);
        assert_eq!(worst(ExitCode::Usage, ExitCode::Internal), ExitCode::Usage);
    }
}
