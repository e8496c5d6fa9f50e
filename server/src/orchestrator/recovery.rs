//! Recovery at start-up: every stored run that is not finished is resumed, after counting the
//! outputs its workers wrote while no server was listening.

use std::time::Duration;

use orchestration::{Event, RunId};
use plumbing::clock::now_ms;
use protocol::work::parse_item_blob;
use storage::names;

use super::engine::{Engine, EngineError};

impl Engine {
    /// Loads every stored run and resumes those not finished, retrying until storage answers.
    pub(super) async fn recover(self) {
        let mut delay = Duration::from_millis(500);
        let ids = loop {
            match self.inner.store.ids().await {
                Ok(ids) => break ids,
                Err(e) => {
                    tracing::warn!("cannot list stored runs yet: {e}; retrying in {delay:?}");
                    tokio::select! {
                        _ = self.inner.shutdown.cancelled() => return,
                        _ = tokio::time::sleep(delay) => {}
                    }
                    delay = (delay * 2).min(Duration::from_secs(30));
                }
            }
        };
        let mut resumed = 0;
        for id in ids {
            let doc = match self.get(&id).await {
                Ok(doc) => doc,
                Err(e) => {
                    tracing::warn!(run = %id, "cannot load stored run: {e}");
                    continue;
                }
            };
            if doc.state.is_terminal() {
                // A crash may have come between storing a termination and marking it.
                self.mark_if_terminated(&doc).await;
                continue;
            }
            if let Err(e) = self.reconcile(&id).await {
                tracing::warn!(run = %id, "cannot reconcile outputs: {e}");
            }
            self.spawn_fan_out(id);
            resumed += 1;
        }
        if resumed > 0 {
            tracing::info!(resumed, "resumed unfinished runs");
        }
    }

    /// Counts outputs written while no server was listening (or whose events were lost).
    async fn reconcile(&self, id: &RunId) -> Result<(), EngineError> {
        let names = self
            .inner
            .storage
            .list_blob_names(names::OUTPUT_CONTAINER, &format!("{id}/"))
            .await?;
        let known = {
            let entry = self.entry(id).await?;
            let entry = entry.lock().await;
            entry.doc.state.clone()
        };
        let missing: Vec<u32> = names
            .iter()
            .filter_map(|name| parse_item_blob(name).map(|(_, item)| item))
            .filter(|item| {
                *item < known.input_count() && !known.is_completed(*item) && !known.is_failed(*item)
            })
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let mut events = Vec::with_capacity(missing.len());
        for item in missing {
            let result = self.read_result(id.as_str(), item).await?;
            events.push(Event::ItemCompleted {
                item,
                result,
                at: now_ms(),
            });
        }
        tracing::info!(run = %id, items = events.len(), "reconciled outputs");
        self.apply(id, events).await.map(|_| ())
    }
}
