//! Unix (Linux and the fallback systems alike): errno, SIGINT/SIGTERM, `RLIMIT_NOFILE`.

use nix::libc;

use super::{ConnectError, Signal};

/// The code recorded when our own deadline ends a connect.
pub(crate) const TIMED_OUT: i32 = libc::ETIMEDOUT;

/// What an errno from `connect()` means.
pub(crate) fn connect_error(errno: i32) -> ConnectError {
    match errno {
        libc::ECONNREFUSED => ConnectError::Refused,
        libc::ETIMEDOUT => ConnectError::TimedOut,
        libc::ENETUNREACH => ConnectError::NetUnreachable,
        libc::EHOSTUNREACH => ConnectError::HostUnreachable,
        libc::EACCES | libc::EPERM => ConnectError::Denied,
        libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM | libc::EADDRNOTAVAIL => {
            ConnectError::Resources
        }
        libc::ECONNRESET => ConnectError::Reset,
        _ => ConnectError::Other,
    }
}

/// A code meaning `meaning`, for tests written once for every platform.
#[cfg(test)]
pub(crate) fn code_for(meaning: ConnectError) -> i32 {
    match meaning {
        ConnectError::Refused => libc::ECONNREFUSED,
        ConnectError::TimedOut => libc::ETIMEDOUT,
        ConnectError::NetUnreachable => libc::ENETUNREACH,
        ConnectError::HostUnreachable => libc::EHOSTUNREACH,
        ConnectError::Denied => libc::EACCES,
        ConnectError::Resources => libc::EMFILE,
        ConnectError::Reset => libc::ECONNRESET,
        ConnectError::Other => libc::EINVAL,
    }
}

/// Raises the open-file limit as far as allowed and returns it (`None`: unknown).
pub(crate) fn descriptor_limit() -> Option<u64> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).ok()?;
    if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        Some(hard)
    } else {
        Some(soft)
    }
}

/// SIGINT and SIGTERM, once installed (inside the runtime).
pub(crate) struct StopSignals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl StopSignals {
    /// Installs the handlers; `None` if they cannot be (the signals keep their default action).
    pub(crate) fn install() -> Option<StopSignals> {
        use tokio::signal::unix::{SignalKind, signal};
        Some(StopSignals {
            interrupt: signal(SignalKind::interrupt()).ok()?,
            terminate: signal(SignalKind::terminate()).ok()?,
        })
    }

    /// The next signal.
    pub(crate) async fn next(&mut self) -> Signal {
        tokio::select! {
            _ = self.interrupt.recv() => Signal::Interrupt,
            _ = self.terminate.recv() => Signal::Terminate,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_errno_a_connect_can_end_with() {
        use ConnectError as E;
        let cases = [
            (libc::ECONNREFUSED, E::Refused),
            (libc::ETIMEDOUT, E::TimedOut),
            (libc::ENETUNREACH, E::NetUnreachable),
            (libc::EHOSTUNREACH, E::HostUnreachable),
            (libc::EACCES, E::Denied),
            (libc::EPERM, E::Denied),
            (libc::EMFILE, E::Resources),
            (libc::ENFILE, E::Resources),
            (libc::ENOBUFS, E::Resources),
            (libc::ENOMEM, E::Resources),
            (libc::EADDRNOTAVAIL, E::Resources),
            (libc::ECONNRESET, E::Reset),
            (libc::EINVAL, E::Other),
        ];
        for (errno, meaning) in cases {
            assert_eq!(connect_error(errno), meaning, "errno {errno}");
        }
    }

    #[test]
    fn the_descriptor_limit_is_known_and_not_lowered() {
        let limit = descriptor_limit().expect("getrlimit works on Unix");
        assert!(limit >= 64, "{limit}");
        assert!(descriptor_limit().unwrap() >= limit);
    }
}
