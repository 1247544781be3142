//! Starting the binary under test: a start that Windows refuses for a passing reason is tried
//! again, so a test fails for what `reach` did, never for a process that never ran.
//!
//! Wine, the Windows of CI, now and then fails `CreateProcess` with `ERROR_INTERNAL_ERROR`
//! (1359) when many processes start at once. The process does not exist then, so starting it
//! again repeats nothing; any other error, and the last attempt's, goes to the test as it came.

use std::future::Future;
use std::io;
use std::process::{Child, Command, Output};
use std::time::Duration;

/// How often a refused start is tried, and the pause before each retry.
const ATTEMPTS: u32 = 5;
const PAUSE: Duration = Duration::from_millis(200);

/// Whether `error` from starting a process says the start may succeed when tried again.
fn passing(error: &io::Error) -> bool {
    const ERROR_INTERNAL_ERROR: i32 = 1359;
    cfg!(windows) && error.raw_os_error() == Some(ERROR_INTERNAL_ERROR)
}

/// Says on stderr (which `cargo test` shows with a failure) that a start is tried again.
fn note_retry(error: &io::Error, attempt: u32) {
    eprintln!("starting the process failed ({error}); attempt {attempt} of {ATTEMPTS}");
}

/// `spawn` and `output` of `std::process::Command`, tried again while the start is refused
/// for a passing reason.
pub trait Launch {
    fn spawn_retrying(&mut self) -> io::Result<Child>;
    fn output_retrying(&mut self) -> io::Result<Output>;
}

impl Launch for Command {
    fn spawn_retrying(&mut self) -> io::Result<Child> {
        retry_blocking(|| self.spawn())
    }

    fn output_retrying(&mut self) -> io::Result<Output> {
        retry_blocking(|| self.output())
    }
}

fn retry_blocking<T>(mut start: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    let mut attempt = 1;
    loop {
        match start() {
            Err(e) if passing(&e) && attempt < ATTEMPTS => {
                attempt += 1;
                note_retry(&e, attempt);
                std::thread::sleep(PAUSE);
            }
            result => return result,
        }
    }
}

/// `output` of `tokio::process::Command`, tried again while the start is refused for a
/// passing reason.
pub trait LaunchAsync {
    fn output_retrying(&mut self) -> impl Future<Output = io::Result<Output>> + Send;
}

impl LaunchAsync for tokio::process::Command {
    async fn output_retrying(&mut self) -> io::Result<Output> {
        let mut attempt = 1;
        loop {
            match self.output().await {
                Err(e) if passing(&e) && attempt < ATTEMPTS => {
                    attempt += 1;
                    note_retry(&e, attempt);
                    tokio::time::sleep(PAUSE).await;
                }
                result => return result,
            }
        }
    }
}
