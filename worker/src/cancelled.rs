//! Which runs are cancelled, looked up once per run per period rather than once per message.
//!
//! A terminated or purged run leaves a [`Cancellation`] marker in container `orchestrations`
//! ([`cancellation_blob`]); its messages are dropped without computing. A queue of a
//! cancelled run's messages can be thousands long, so the answer (marker or none) is cached
//! per run id for [`WorkerConfig::cancel_check_ttl`](crate::WorkerConfig): N messages of a run
//! cost one read per period, however many loops take them at once (a run's lookups wait for
//! each other). A run going on costs the same: one read that finds nothing, per period.
//!
//! Storage failing on the lookup is not a reason to stop working: the item is computed, as it
//! was before markers existed, and the next message asks again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex as SyncMutex};
use std::time::{Duration, Instant};

use protocol::work::{cancellation_blob, Cancellation};
use storage::names::ORCHESTRATIONS_CONTAINER;
use tokio::sync::Mutex;

use crate::consumer::Context;
use crate::stats::Counter;

/// Past this many runs in the cache, stale entries are dropped on the next lookup.
const PRUNE_ABOVE: usize = 1024;

/// What was found for a run, and when.
#[derive(Clone, Debug)]
struct Looked {
    at: Instant,
    marker: Option<Cancellation>,
}

/// One slot per run; a run's slot is locked while it is looked up, so concurrent messages of
/// the same run wait for one read instead of each making their own.
type Slot = Arc<Mutex<Option<Looked>>>;

/// The cache of cancellation markers, shared by a worker's loops.
#[derive(Debug)]
pub(crate) struct CancelledRuns {
    ttl: Duration,
    runs: SyncMutex<HashMap<String, Slot>>,
}

impl CancelledRuns {
    pub(crate) fn new(ttl: Duration) -> CancelledRuns {
        CancelledRuns {
            ttl,
            runs: SyncMutex::new(HashMap::new()),
        }
    }

    /// Whether the message of run `run_id` created at `run_created_ms` is of a cancelled run.
    /// `fresh` skips the cache: for a message whose input is gone, where a wrong "no" poisons
    /// it. `None` when storage could not say.
    pub(crate) async fn is_cancelled(
        &self,
        ctx: &Context,
        run_id: &str,
        run_created_ms: Option<u64>,
        label: &str,
        fresh: bool,
    ) -> Option<bool> {
        let slot = self.slot(run_id);
        let mut looked = slot.lock().await;
        let stale = fresh || looked.as_ref().is_none_or(|l| l.at.elapsed() >= self.ttl);
        if stale {
            ctx.progress.add(Counter::CancelChecks);
            match read(ctx, run_id, label).await {
                Ok(marker) => {
                    *looked = Some(Looked {
                        at: Instant::now(),
                        marker,
                    })
                }
                Err(error) => {
                    tracing::warn!(item = %label, "could not check whether the run is cancelled, working on it: {error}");
                    return None;
                }
            }
        }
        looked
            .as_ref()
            .map(|l| l.marker.as_ref().is_some_and(|m| m.covers(run_created_ms)))
    }

    fn slot(&self, run_id: &str) -> Slot {
        let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        if runs.len() > PRUNE_ABOVE {
            let ttl = self.ttl;
            // Slots in use (locked, or held elsewhere) stay; settled stale ones go.
            runs.retain(|_, slot| {
                Arc::strong_count(slot) > 1
                    || slot
                        .try_lock()
                        .is_ok_and(|l| l.as_ref().is_some_and(|l| l.at.elapsed() < ttl))
            });
        }
        runs.entry(run_id.to_string()).or_default().clone()
    }
}

/// The run's marker, if it has one. A marker that is not a cancellation is reported and
/// ignored: the worker computes rather than drop work on a blob it cannot read.
async fn read(ctx: &Context, run_id: &str, label: &str) -> storage::Result<Option<Cancellation>> {
    let path = cancellation_blob(run_id);
    let bytes = ctx
        .call("checking whether the run is cancelled", label, || {
            ctx.storage.download_blob(ORCHESTRATIONS_CONTAINER, &path)
        })
        .await?;
    Ok(bytes.and_then(|bytes| match serde_json::from_slice(&bytes) {
        Ok(marker) => Some(marker),
        Err(e) => {
            tracing::warn!(item = %label, "{ORCHESTRATIONS_CONTAINER}/{path} is not a cancellation ({e}); ignoring it");
            None
        }
    }))
}
