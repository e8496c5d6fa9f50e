//! Measures the system once per interval and publishes a [`Sample`] to the hub.
//!
//! The sampler keeps its cadence when storage is down: the dashboard still gets a sample a
//! second, saying storage is unreachable and where, so the presenter sees the problem instead
//! of a frozen chart. The transition is logged once, not once a second.

use std::time::Duration;

use protocol::live::{Sample, StorageHealth};
use storage::{names, Storage};
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::cluster::ClusterView;
use crate::live::Hub;
use crate::orchestrator::Engine;

/// What the sampler reads besides storage.
#[derive(Clone)]
pub struct Sources {
    pub engine: Engine,
    pub cluster: std::sync::Arc<dyn ClusterView>,
    /// Told what each sample measured.
    pub metrics: crate::metrics::Metrics,
}

impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sources").finish_non_exhaustive()
    }
}

/// Publishes a sample every `interval` until `shutdown`.
pub async fn run(
    storage: Storage,
    sources: Sources,
    hub: Hub,
    interval: Duration,
    shutdown: CancellationToken,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut seq = 0;
    let mut was_ok = None;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        seq += 1;
        let mut sample = measure(&storage, seq, interval).await;
        let observed = sources.cluster.tick(sample.queue_length);
        sample.cluster = observed.sample;
        sample.events = observed.events;
        sample.events_poisoned = sources.engine.events_poisoned();
        let ok = sample.storage.is_ok();
        if was_ok != Some(ok) {
            match &sample.storage {
                StorageHealth::Ok => {
                    tracing::info!(endpoint = storage.queue_endpoint(), "storage reachable")
                }
                StorageHealth::Unreachable { endpoint, error } => tracing::warn!(
                    endpoint = %endpoint,
                    "storage unreachable: {error}; retrying every {} ms",
                    interval.as_millis()
                ),
            }
            was_ok = Some(ok);
        }
        sources.metrics.sampled(&sample);
        sources.metrics.set_runs(&sources.engine.runs_by_status());
        // Runs first, so a sample's completed total includes the progress it was taken with.
        // From the engine's published snapshot: no run lock, no storage call.
        hub.publish_runs(sources.engine.progress());
        hub.publish(sample);
    }
}

/// Takes one sample. Each storage call is bounded by the interval, so a hung endpoint delays
/// no more than one sample.
pub async fn measure(storage: &Storage, seq: u64, interval: Duration) -> Sample {
    let limit = interval.max(Duration::from_millis(500));
    let operation = "reading the work queue's length";
    let mut result = storage
        .within(limit, operation, storage.queue_length(names::WORK_QUEUE))
        .await;
    if result.as_ref().is_err_and(storage::Error::is_not_found) {
        // The queues vanish when an emulator restarts without its data: recreate them.
        if storage
            .within(
                limit,
                "creating queues and containers",
                storage.ensure_resources(),
            )
            .await
            .is_ok()
        {
            result = storage
                .within(limit, operation, storage.queue_length(names::WORK_QUEUE))
                .await;
        }
    }
    let (queue_length, health) = match result {
        Ok(length) => (Some(length), StorageHealth::Ok),
        Err(e) => (
            None,
            StorageHealth::Unreachable {
                endpoint: storage.queue_endpoint().to_string(),
                error: e.to_string(),
            },
        ),
    };
    Sample {
        t_ms: plumbing::clock::now_ms(),
        seq,
        queue_length,
        storage: health,
        ..Default::default()
    }
}
