//! The threads probes run on: one single-threaded tokio runtime per thread, probes handed out
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

    /// The runtime for the next probe (in turn), or the caller's.
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
}
