//! The worker's Prometheus metrics, served at `/metrics` beside `/healthz`.
//!
//! They mirror [`crate::Progress`]'s counters (every count goes through [`Progress::add`], which
//! feeds both) and add what a counter cannot say: how long completed items took. One registry
//! per worker; in a pod that is one process.
//!
//! [`Progress::add`]: crate::Progress

use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::stats::Counter as Count;

/// Upper bounds of the item duration buckets, in seconds: from a cost-0 item (tens of
/// milliseconds of storage calls) to items of several minutes.
const DURATION_BUCKETS: [f64; 14] = [
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

/// The worker's metrics and the registry they are exported from.
#[derive(Debug)]
pub struct WorkerMetrics {
    registry: Registry,
    received: Counter,
    completed: Counter,
    failed: Counter,
    poisoned: Counter,
    released: Counter,
    abandoned: Counter,
    extensions: Counter,
    storage_retries: Counter,
    cancelled: Counter,
    cancel_checks: Counter,
    /// Messages in hand now.
    pub(crate) busy: Gauge,
    duration: Histogram,
}

impl Default for WorkerMetrics {
    fn default() -> WorkerMetrics {
        let mut registry = Registry::with_prefix("scaleboard_worker");
        let mut counter = |name: &str, help: &str| {
            let counter = Counter::default();
            registry.register(name, help, counter.clone());
            counter
        };
        let received = counter(
            "messages_received",
            "Messages received from the work queue.",
        );
        let completed = counter(
            "items_completed",
            "Items completed: output written, event posted, message deleted.",
        );
        let failed = counter(
            "items_failed",
            "Attempts that failed: the message was made visible again for a retry, or poisoned.",
        );
        let poisoned = counter(
            "messages_poisoned",
            "Messages moved to the poison queue, their items reported failed.",
        );
        let released = counter(
            "messages_released",
            "Messages handed back unfinished at shutdown.",
        );
        let abandoned = counter(
            "messages_abandoned",
            "Messages given up after storage kept failing; they reappear after their visibility timeout.",
        );
        let extensions = counter(
            "visibility_extensions",
            "Visibility extensions of messages whose work outlasted half the timeout.",
        );
        let storage_retries = counter(
            "storage_retries",
            "Storage calls that failed transiently and were retried.",
        );
        let cancelled = counter(
            "messages_cancelled",
            "Messages of a terminated or purged run, deleted without computing.",
        );
        let cancel_checks = counter(
            "cancel_checks",
            "Storage reads of a run's cancellation marker (cached per run).",
        );
        let busy = Gauge::default();
        registry.register("busy", "Messages being worked on now.", busy.clone());
        let duration = Histogram::new(DURATION_BUCKETS);
        registry.register_with_unit(
            "item_duration",
            "Time from receiving a message to deleting it, for completed items.",
            Unit::Seconds,
            duration.clone(),
        );
        WorkerMetrics {
            registry,
            received,
            completed,
            failed,
            poisoned,
            released,
            abandoned,
            extensions,
            storage_retries,
            cancelled,
            cancel_checks,
            busy,
            duration,
        }
    }
}

impl WorkerMetrics {
    /// The registry, for `/metrics`.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub(crate) fn count(&self, count: Count) {
        let counter = match count {
            Count::Received => &self.received,
            Count::Processed => &self.completed,
            // A part of `Processed`, which counts it already.
            Count::Recovered => return,
            Count::Failed => {
                self.failed.inc();
                &self.poisoned
            }
            Count::Retried => &self.failed,
            Count::Released => &self.released,
            Count::Abandoned => &self.abandoned,
            Count::Extensions => &self.extensions,
            Count::StorageRetries => &self.storage_retries,
            Count::Cancelled => &self.cancelled,
            Count::CancelChecks => &self.cancel_checks,
        };
        counter.inc();
    }

    pub(crate) fn completed_in(&self, took: Duration) {
        self.duration.observe(took.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use plumbing::metrics::{encode, Scrape};

    use super::*;

    #[test]
    fn counts_are_exported_under_conventional_names() {
        let metrics = WorkerMetrics::default();
        for count in [
            Count::Received,
            Count::Processed,
            Count::Recovered,
            Count::Processed,
            Count::Retried,
            Count::Failed,
            Count::Extensions,
        ] {
            metrics.count(count);
        }
        metrics.completed_in(Duration::from_millis(300));
        let scrape = Scrape::parse(&encode(metrics.registry()).unwrap()).unwrap();
        let value = |name: &str| scrape.value(name, &[]).unwrap_or(-1.0);
        assert_eq!(value("scaleboard_worker_messages_received_total"), 1.0);
        assert_eq!(value("scaleboard_worker_items_completed_total"), 2.0);
        assert_eq!(value("scaleboard_worker_items_failed_total"), 2.0);
        assert_eq!(value("scaleboard_worker_messages_poisoned_total"), 1.0);
        assert_eq!(value("scaleboard_worker_visibility_extensions_total"), 1.0);
        assert_eq!(value("scaleboard_worker_messages_released_total"), 0.0);
        assert_eq!(value("scaleboard_worker_item_duration_seconds_count"), 1.0);
        assert_eq!(
            scrape.value(
                "scaleboard_worker_item_duration_seconds_bucket",
                &[("le", "0.25")]
            ),
            Some(0.0)
        );
        assert_eq!(
            scrape.value(
                "scaleboard_worker_item_duration_seconds_bucket",
                &[("le", "0.5")]
            ),
            Some(1.0)
        );
    }
}
