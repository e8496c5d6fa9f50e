//! Reconciliation: counting the outputs whose events never arrived (lost, deleted, parked, or
//! written while no server listened), from one prefix listing of `output/{runId}/` per run.
//!
//! At start-up every output the run has not counted is read and applied. While the server runs,
//! every `reconcile_interval` each unfinished run with items outstanding is listed again, and an
//! output is read only when the previous pass already saw it uncounted: an event still on its
//! way is applied by the fan-in before then, so the reconciliation reads (one blob each) only
//! what the events missed, and a busy run costs its listing alone (one call per 5,000 names).

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use futures_util::{stream, StreamExt};
use orchestration::{Event, RunId, RunState};
use plumbing::clock::now_ms;
use protocol::work::parse_item_blob;
use storage::names;

use super::engine::{Engine, EngineError};

/// The longest listing one run's outputs may take (20,000 items are four pages).
const LIST_DEADLINE: Duration = Duration::from_secs(60);

/// Outputs read at the same time during a pass.
const READ_CONCURRENCY: usize = 16;

/// Items whose output blob is among `listed` (names in the output container) but that `state`
/// counts neither completed nor failed.
pub(super) fn uncounted(listed: &[String], state: &RunState) -> BTreeSet<u32> {
    listed
        .iter()
        .filter_map(|name| parse_item_blob(name))
        .filter(|(run, _)| *run == state.id().as_str())
        .map(|(_, item)| item)
        .filter(|item| {
            *item < state.input_count() && !state.is_completed(*item) && !state.is_failed(*item)
        })
        .collect()
}

/// Whether a run may still have outputs to count: it is not finished and some of its items are
/// neither completed nor failed. Nothing else is worth a listing.
pub(super) fn outstanding(state: &RunState) -> bool {
    let p = state.progress();
    !state.is_terminal() && p.completed.saturating_add(p.failed) < p.total
}

impl Engine {
    /// Every `interval` until shutdown, reconciles each run this server owns that has items
    /// outstanding (the owner's job: another server's runs are its own to reconcile).
    pub(super) async fn reconcile_loop(self, interval: Duration) {
        // What each run's previous pass found uncounted.
        let mut previous: HashMap<RunId, BTreeSet<u32>> = HashMap::new();
        loop {
            tokio::select! {
                _ = self.inner.shutdown.cancelled() => return,
                _ = tokio::time::sleep(interval) => {}
            }
            let ids: Vec<RunId> = self.inner.owned.ids();
            let mut seen = HashMap::new();
            for id in ids {
                if self.inner.shutdown.is_cancelled() {
                    return;
                }
                let before = previous.remove(&id).unwrap_or_default();
                match self.reconcile(&id, Some(&before)).await {
                    Ok(Some(uncounted)) => {
                        seen.insert(id, uncounted);
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(run = %id, "reconciling outputs: {e}; next pass in {interval:?}");
                        seen.insert(id, before);
                    }
                }
            }
            previous = seen;
        }
    }

    /// Lists the run's outputs and applies a completion for each one it has not counted; with
    /// `only_if_seen`, only for those that set already held (what the previous pass found).
    /// Returns what was found uncounted and left for the next pass, or `None` when the run
    /// has nothing outstanding (or is gone) and was not listed.
    pub(super) async fn reconcile(
        &self,
        id: &RunId,
        only_if_seen: Option<&BTreeSet<u32>>,
    ) -> Result<Option<BTreeSet<u32>>, EngineError> {
        let Some(state) = self.state_if_outstanding(id).await? else {
            return Ok(None);
        };
        let storage = &self.inner.storage;
        let listed = storage
            .within(
                LIST_DEADLINE,
                "listing a run's outputs",
                storage.list_blob_names(names::OUTPUT_CONTAINER, &format!("{id}/")),
            )
            .await?;
        let uncounted = uncounted(&listed, &state);
        let (due, waiting): (BTreeSet<u32>, BTreeSet<u32>) = match only_if_seen {
            None => (uncounted, BTreeSet::new()),
            Some(seen) => uncounted.into_iter().partition(|item| seen.contains(item)),
        };
        if due.is_empty() {
            return Ok(Some(waiting));
        }
        let read: Vec<_> = stream::iter(due)
            .map(|item| async move { (item, self.read_result(id.as_str(), item).await) })
            .buffer_unordered(READ_CONCURRENCY)
            .collect()
            .await;
        let mut events = Vec::with_capacity(read.len());
        let mut unread = waiting;
        for (item, result) in read {
            match result {
                Ok(result) => events.push(Event::ItemCompleted {
                    item,
                    result,
                    at: now_ms(),
                }),
                Err(e) => {
                    tracing::warn!(run = %id, item, "reading an output to reconcile: {e}");
                    unread.insert(item);
                }
            }
        }
        if !events.is_empty() {
            tracing::info!(run = %id, items = events.len(), "counted outputs whose events were missed");
            self.apply(id, events).await?;
        }
        Ok(Some(unread))
    }

    /// The run's state when it has items outstanding.
    async fn state_if_outstanding(&self, id: &RunId) -> Result<Option<RunState>, EngineError> {
        let entry = self.entry(id).await?;
        let entry = entry.lock().await;
        Ok((!entry.purged && outstanding(&entry.doc.state)).then(|| entry.doc.state.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orchestration::{apply_all, ItemResult};

    fn state(items: u32) -> RunState {
        RunState::new(RunId::parse("run-a").unwrap(), "Compute", items, 1)
    }

    fn complete(state: &mut RunState, item: u32) {
        let result = ItemResult {
            value: 1,
            compute_ms: 1,
        };
        apply_all(
            state,
            [Event::ItemCompleted {
                item,
                result,
                at: 2,
            }],
        );
    }

    fn fail(state: &mut RunState, item: u32) {
        let reason = "bad".to_string();
        apply_all(
            state,
            [Event::ItemFailed {
                item,
                reason,
                at: 2,
            }],
        );
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn only_this_runs_uncounted_items_in_range_are_found() {
        let mut run = state(5);
        complete(&mut run, 0);
        fail(&mut run, 1);
        let listed = names(&[
            "run-a/000000.json",
            "run-a/000001.json",
            "run-a/000002.json",
            "run-a/000004.json",
            "run-a/000009.json",
            "run-ab/000003.json",
            "run-a/notes.txt",
        ]);
        assert_eq!(uncounted(&listed, &run), BTreeSet::from([2, 4]));
        assert!(uncounted(&[], &run).is_empty());
    }

    #[test]
    fn a_run_is_listed_only_while_items_are_outstanding() {
        let mut run = state(2);
        assert!(outstanding(&run));
        complete(&mut run, 0);
        assert!(outstanding(&run));
        fail(&mut run, 1);
        assert!(run.is_terminal());
        assert!(!outstanding(&run));
    }
}
