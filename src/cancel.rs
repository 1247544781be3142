//! How a run is asked to stop early (a closed stdout, the deadline, Ctrl-C): a flag set once
//! and seen by every task of the run — the dispatcher stops starting probes, probes in flight
//! stop, and a latency series stops between attempts and reports what it measured. And the
//! signals that set it.

use std::future::Future;
use std::sync::{Arc, OnceLock};

use tokio::sync::watch;

/// The side that stops a run.
#[derive(Debug, Clone)]
pub struct Trigger(Arc<watch::Sender<bool>>);

/// The side that watches for it: cheap to clone, one per task.
#[derive(Debug, Clone)]
pub struct Cancel(watch::Receiver<bool>);

/// A new trigger and what it cancels.
pub fn pair() -> (Trigger, Cancel) {
    let (tx, rx) = watch::channel(false);
    (Trigger(Arc::new(tx)), Cancel(rx))
}

impl Trigger {
    /// Stops the run (again: no effect).
    pub fn cancel(&self) {
        self.0.send_replace(true);
    }
}

impl Cancel {
    /// Never cancelled.
    pub fn never() -> Cancel {
        pair().1
    }

    /// Whether the run was asked to stop.
    pub fn is_cancelled(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves when the run is asked to stop (never, if it cannot be any more).
    pub async fn cancelled(&self) {
        let mut rx = self.0.clone();
        if rx.wait_for(|stop| *stop).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Runs `work` unless the run is asked to stop first (`None` then; `work` is dropped).
    pub async fn unless<T>(&self, work: impl Future<Output = T>) -> Option<T> {
        tokio::select! {
            biased;
            () = self.cancelled() => None,
            value = work => Some(value),
        }
    }
}

/// A signal (Ctrl-C on every system) that asked the run to stop.
pub(crate) use crate::platform::Signal;

/// The first signal received, once there is one.
pub(crate) type Caught = Arc<OnceLock<Signal>>;

/// Listens for SIGINT and SIGTERM (Ctrl-C and Ctrl-Break on Windows; must be called inside
/// the runtime): the first cancels the run, which then prints what finished; a second one ends
/// the process at once, for a user who will not wait even for that.
pub(crate) fn on_signals() -> (Cancel, Caught) {
    let (trigger, cancel) = pair();
    let caught: Caught = Arc::new(OnceLock::new());
    let Some(mut signals) = crate::platform::StopSignals::install() else {
        // No handler could be installed: the signals keep their default action.
        return (cancel, caught);
    };
    let slot = Arc::clone(&caught);
    tokio::spawn(async move {
        let first = signals.next().await;
        let _ = slot.set(first);
        trigger.cancel();
        let second = signals.next().await;
        std::process::exit(i32::from(second.exit_code()));
    });
    (cancel, caught)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn cancelling_is_seen_by_every_clone_and_stops_work() {
        let (trigger, cancel) = pair();
        let other = cancel.clone();
        assert!(!cancel.is_cancelled());
        assert_eq!(cancel.unless(async { 7 }).await, Some(7));
        let waiting = tokio::spawn(async move { other.cancelled().await });
        trigger.cancel();
        waiting.await.unwrap();
        assert!(cancel.is_cancelled());
        assert_eq!(cancel.unless(std::future::pending::<()>()).await, None);
        // A run that can no longer be cancelled is never cancelled.
        let never = Cancel::never();
        assert_eq!(never.unless(async { 1 }).await, Some(1));
        assert!(!never.is_cancelled());
    }
}
