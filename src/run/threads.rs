//! The threads probes run on: one single-threaded tokio runtime per thread, targets handed out
//! in turn. Measured against tokio's work-stealing runtime on the TLS benchmark
//! (docs/benchmarks.md), a probe never moves between threads and no thread wakes another to
//! steal work, which cut client CPU per probe by about a third.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::runtime::{Builder, Handle};
use tokio::sync::oneshot;

/// Runtimes that run probes, each driven by its own thread until this is dropped.
pub(crate) struct ProbeThreads {
    handles: Vec<Handle>,
    next: AtomicUsize,
    /// Dropped with `self`: each thread then lets its runtime go (without waiting for a
    /// blocked task: the run is over).
    _stop: Vec<oneshot::Sender<()>>,
}

impl ProbeThreads {
    /// How many threads run probes when the user did not say: half the cores, at least one.
    /// reach shares its machine with the server it checks (a local benchmark, a CI job) or
    /// the monitor it runs in; on the 2-core benchmark machine with nginx alongside, one probe
    /// thread cost less CPU per probe *and* ran more probes per second than two
    /// (docs/decisions.md).
    pub(crate) fn default_count() -> usize {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        (cores / 2).max(1)
    }

    /// `count` probe threads; with fewer than two, probes run on the caller's runtime. A
    /// thread or runtime that cannot start is left out (the caller's runtime is the last
    /// resort).
    pub(crate) fn start(count: usize) -> ProbeThreads {
        let mut threads = ProbeThreads {
            handles: Vec::new(),
            next: AtomicUsize::new(0),
            _stop: Vec::new(),
        };
        if count < 2 {
            return threads;
        }
        for n in 0..count {
            let (handle_tx, handle_rx) = std::sync::mpsc::sync_channel(1);
            let (stop_tx, stop_rx) = oneshot::channel::<()>();
            let spawned = std::thread::Builder::new()
                .name(format!("reach-probe-{n}"))
                .spawn(move || {
                    let Ok(runtime) = Builder::new_current_thread().enable_all().build() else {
                        return;
                    };
                    if handle_tx.send(runtime.handle().clone()).is_err() {
                        return;
                    }
                    runtime.block_on(async {
                        let _ = stop_rx.await;
                    });
                    runtime.shutdown_background();
                });
            if spawned.is_err() {
                break;
            }
            if let Ok(handle) = handle_rx.recv() {
                threads.handles.push(handle);
                threads._stop.push(stop_tx);
            }
        }
        threads
    }

    /// The runtime for one of the `planned` probes of the target whose task calls this. A lone
    /// probe stays on the target's own thread: handing it to another thread cost two
    /// cross-thread wake-ups per probe, and with round-robin turns shared by targets and probes
    /// it put every target on one thread and every probe on the other. A target of many
    /// probes (a sweep, a matrix) spreads them in turn.
    pub(crate) fn probe_handle(&self, planned: usize) -> Handle {
        if planned <= 1 {
            return Handle::current();
        }
        self.handle()
    }

    /// The runtime for the next target or probe (in turn), or the caller's.
    pub(crate) fn handle(&self) -> Handle {
        if self.handles.is_empty() {
            return Handle::current();
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed) % self.handles.len();
        self.handles[n].clone()
    }
}

#[cfg(test)]
mod tests {
    use super::ProbeThreads;

    #[tokio::test]
    async fn tasks_run_on_the_probe_threads_in_turn() {
        let threads = ProbeThreads::start(2);
        let mut names = Vec::new();
        for _ in 0..4 {
            let name = threads
                .handle()
                .spawn(async { std::thread::current().name().map(str::to_string) })
                .await
                .expect("the task ran");
            names.push(name.unwrap_or_default());
        }
        assert_eq!(
            names,
            [
                "reach-probe-0",
                "reach-probe-1",
                "reach-probe-0",
                "reach-probe-1"
            ]
        );
        // One thread: the caller's runtime.
        let alone = ProbeThreads::start(1);
        let here = alone.handle().spawn(async { 7 }).await.expect("ran");
        assert_eq!(here, 7);
        assert!(alone.handles.is_empty());
    }

    #[tokio::test]
    async fn a_lone_probe_stays_on_its_targets_thread_and_many_go_in_turn() {
        let threads = std::sync::Arc::new(ProbeThreads::start(2));
        let name = || std::thread::current().name().map(str::to_string);
        for _ in 0..3 {
            let inner = std::sync::Arc::clone(&threads);
            let (target, lone, mut spread) = threads
                .handle()
                .spawn(async move {
                    let lone = inner.probe_handle(1).spawn(async move { name() });
                    let lone = lone.await.expect("the lone probe ran");
                    let mut spread = Vec::new();
                    for _ in 0..2 {
                        let probe = inner.probe_handle(2).spawn(async move { name() });
                        spread.push(probe.await.expect("the probe ran"));
                    }
                    (name(), lone, spread)
                })
                .await
                .expect("the target task ran");
            assert_eq!(lone, target);
            spread.sort();
            assert_eq!(
                spread,
                [Some("reach-probe-0".into()), Some("reach-probe-1".into())]
            );
        }
    }
}
