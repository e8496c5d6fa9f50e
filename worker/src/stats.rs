//! What a worker has done, counted as it goes.
//!
//! [`Progress`] is shared between the item loops, the health endpoint and whoever started the
//! worker (the local scaling model reads `busy` to show which pods are working); [`Stats`] is a
//! copy of its counters at one moment. Every count also goes to the worker's Prometheus
//! metrics ([`WorkerMetrics`]).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use serde::Serialize;

use crate::metrics::WorkerMetrics;

/// Counters of one worker at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Messages received from the work queue.
    pub received: u64,
    /// Items completed: output written, event posted, message deleted. Includes `recovered`.
    pub processed: u64,
    /// Completions found already done (output present, input gone): the earlier worker stopped
    /// before deleting the message, so only the event and the deletion were redone.
    pub recovered: u64,
    /// Messages moved to the poison queue, their items reported failed.
    pub failed: u64,
    /// Failures left for another attempt (message made visible again after a short delay).
    pub retried: u64,
    /// Messages handed back unfinished at shutdown.
    pub released: u64,
    /// Messages given up after storage kept failing; they reappear after their visibility
    /// timeout.
    pub abandoned: u64,
    /// Visibility extensions of messages whose work outlasted half the timeout.
    pub extensions: u64,
    /// Storage calls that failed transiently and were retried.
    pub storage_retries: u64,
    /// Messages of terminated or purged runs, deleted without computing.
    pub cancelled: u64,
    /// Reads of runs' cancellation markers (one per run per cache period, not per message).
    pub cancel_checks: u64,
}

/// Live counters, updated by the item loops.
#[derive(Debug, Default)]
pub struct Progress {
    received: AtomicU64,
    processed: AtomicU64,
    recovered: AtomicU64,
    failed: AtomicU64,
    retried: AtomicU64,
    released: AtomicU64,
    abandoned: AtomicU64,
    extensions: AtomicU64,
    storage_retries: AtomicU64,
    cancelled: AtomicU64,
    cancel_checks: AtomicU64,
    busy: AtomicUsize,
    metrics: WorkerMetrics,
}

/// One of the counters of [`Progress`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Counter {
    Received,
    Processed,
    Recovered,
    Failed,
    Retried,
    Released,
    Abandoned,
    Extensions,
    StorageRetries,
    Cancelled,
    CancelChecks,
}

impl Progress {
    /// A copy of the counters now.
    pub fn stats(&self) -> Stats {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        Stats {
            received: get(&self.received),
            processed: get(&self.processed),
            recovered: get(&self.recovered),
            failed: get(&self.failed),
            retried: get(&self.retried),
            released: get(&self.released),
            abandoned: get(&self.abandoned),
            extensions: get(&self.extensions),
            storage_retries: get(&self.storage_retries),
            cancelled: get(&self.cancelled),
            cancel_checks: get(&self.cancel_checks),
        }
    }

    /// Messages being worked on right now.
    pub fn busy(&self) -> usize {
        self.busy.load(Ordering::Relaxed)
    }

    /// The same counts as Prometheus metrics, for `/metrics`.
    pub fn metrics(&self) -> &WorkerMetrics {
        &self.metrics
    }

    /// A completed item took `took` from its receipt to its message's deletion.
    pub(crate) fn completed_in(&self, took: std::time::Duration) {
        self.metrics.completed_in(took);
    }

    pub(crate) fn add(&self, counter: Counter) {
        self.metrics.count(counter);
        let cell = match counter {
            Counter::Received => &self.received,
            Counter::Processed => &self.processed,
            Counter::Recovered => &self.recovered,
            Counter::Failed => &self.failed,
            Counter::Retried => &self.retried,
            Counter::Released => &self.released,
            Counter::Abandoned => &self.abandoned,
            Counter::Extensions => &self.extensions,
            Counter::StorageRetries => &self.storage_retries,
            Counter::Cancelled => &self.cancelled,
            Counter::CancelChecks => &self.cancel_checks,
        };
        cell.fetch_add(1, Ordering::Relaxed);
    }

    /// Marks one message as being worked on until the guard is dropped, however the work ends.
    pub(crate) fn working(&self) -> Busy<'_> {
        self.busy.fetch_add(1, Ordering::Relaxed);
        self.metrics.busy.inc();
        Busy(self)
    }
}

/// Counts one message in [`Progress::busy`] while it lives.
pub(crate) struct Busy<'a>(&'a Progress);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::Relaxed);
        self.0.metrics.busy.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_busy_gauge() {
        let progress = Progress::default();
        progress.add(Counter::Received);
        progress.add(Counter::Processed);
        progress.add(Counter::Processed);
        {
            let _busy = progress.working();
            assert_eq!(progress.busy(), 1);
        }
        assert_eq!(progress.busy(), 0);
        let stats = progress.stats();
        assert_eq!((stats.received, stats.processed), (1, 2));
        let json = serde_json::to_value(stats).unwrap();
        assert_eq!(json["storageRetries"], 0);
    }
}
