//! The fan-in: reading completion and failure events from queue `item-events`, applying them a
//! batch at a time with one persist per run, and deleting their messages only once the state
//! that includes them is stored. Which messages are applied, kept or dropped is decided by the
//! pure rule in `triage`; this module does the I/O around it.
//!
//! Every server reads the queue, but only a run's owner applies its events (see `lease`); the
//! others forward them. A server that owns no unfinished run reads the queue only once per
//! lease renewal, so a standby takes few of the owner's events, and events that need no owner
//! (late duplicates for finished runs) are still cleared when no server owns anything.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::stream;
use futures_util::StreamExt;
use orchestration::ItemResult;
use plumbing::clock::now_ms;
use protocol::work::{item_blob, ItemOutput};
use storage::messages::Received;
use storage::names;

use super::engine::{Engine, EngineError};
use super::item_spans::ItemSpans;
use super::triage::{give_up_at, Applied, Batch, Fate};

/// The longest one receive from the events queue may take.
const RECEIVE_DEADLINE: Duration = Duration::from_secs(10);

impl Engine {
    /// Reads the events queue until shutdown: a batch at a time, applied and persisted per run,
    /// then deleted.
    ///
    /// The deletes of one batch run while the next batch is received and persisted: the queue
    /// service is kept busy instead of waiting on the run document's write. They are still
    /// started only after the state that includes their events is stored.
    pub(super) async fn fan_in(self) {
        let mut idle = Duration::from_millis(50);
        let mut failing = false;
        let mut deleting: Option<tokio::task::JoinHandle<()>> = None;
        loop {
            if self.inner.shutdown.is_cancelled() {
                break;
            }
            // Never cut a receive short: the service may already have hidden the messages it is
            // returning, and a dropped answer would leave them hidden and unapplied for the
            // visibility timeout. The call is bounded instead, and the batch it brings is
            // applied and deleted even when shutdown began meanwhile.
            let storage = &self.inner.storage;
            let received = storage
                .within(
                    RECEIVE_DEADLINE,
                    "receiving events",
                    storage.receive(names::EVENTS_QUEUE, 32, self.inner.config.event_visibility),
                )
                .await;
            let pause = match received {
                Ok(messages) if messages.is_empty() => {
                    failing = false;
                    let pause = idle;
                    idle = (idle * 2).min(Duration::from_millis(500));
                    if self.inner.owned.count() > 0 {
                        pause
                    } else {
                        self.inner.owned.renew_every()
                    }
                }
                Ok(messages) => {
                    failing = false;
                    idle = Duration::from_millis(50);
                    let applied = self.apply_events(messages).await;
                    if let Some(previous) = deleting.take() {
                        let _ = previous.await;
                    }
                    deleting = Some(
                        self.inner
                            .tracker
                            .spawn(self.clone().delete_events(applied)),
                    );
                    if self.inner.owned.count() > 0 {
                        continue;
                    }
                    self.inner.owned.renew_every()
                }
                Err(e) => {
                    if !failing {
                        tracing::warn!("reading events: {e}; retrying");
                        failing = true;
                    }
                    Duration::from_secs(1)
                }
            };
            tokio::select! {
                _ = self.inner.shutdown.cancelled() => break,
                _ = tokio::time::sleep(pause) => {}
            }
        }
        // Events already applied are deleted before stopping; had they stayed, they would
        // only be applied again (idempotently) by the next server.
        if let Some(previous) = deleting {
            let _ = previous.await;
        }
    }

    /// Applies a batch of event messages, one persist per run, and returns the messages that
    /// may now be deleted: those whose runs were all persisted, and those parked on
    /// `item-events-poison` (a message that can never be applied, or was kept on too many
    /// deliveries). The rule is [`Batch`]'s and [`give_up_at`]'s; this reads the outputs they
    /// ask for, applies the events they sort and parks what they give up on.
    #[tracing::instrument(name = "run.fan_in", skip_all, fields(messages = messages.len()))]
    async fn apply_events(&self, messages: Vec<Received>) -> Vec<Received> {
        let mut spans = ItemSpans::open(messages.iter().map(|m| m.text.as_str()));
        let batch = Batch::read(messages.iter().map(|m| m.text.as_str()), now_ms());
        let mut results = HashMap::new();
        for output in batch.outputs() {
            let read = self.read_result(output.run.as_str(), output.item).await;
            if let Err(e) = &read {
                // Its message is kept: reading the output may work next time.
                tracing::warn!(run = %output.run, item = output.item, "cannot use event: {e}");
            }
            results.insert(output, read.map_err(|e| e.to_string()));
        }
        let mut applied = HashMap::new();
        for (run, events) in batch.events_by_run(&results) {
            let count = events.len() as u64;
            let outcome = match self.apply(&run, events).await {
                Ok(_) => {
                    self.inner.metrics.fan_in_events.inc_by(count);
                    Applied::Stored
                }
                Err(EngineError::NotFound(_)) => Applied::Unknown,
                Err(EngineError::Rejected { message, .. }) => Applied::Rejected(message),
                Err(EngineError::NotOwner(_)) => Applied::Elsewhere,
                Err(e) => {
                    tracing::warn!(run = %run, "cannot apply events: {e}; they will be retried");
                    Applied::Failed(e.to_string())
                }
            };
            spans.close(run.as_str(), &outcome);
            applied.insert(run, outcome);
        }
        let max = self.inner.config.event_max_dequeue;
        let mut done = Vec::with_capacity(messages.len());
        for (fate, message) in batch.fates(&results, &applied).into_iter().zip(messages) {
            match give_up_at(fate, message.dequeue_count, max) {
                Fate::Delete => done.push(message),
                Fate::Keep(_) => {}
                Fate::Forward => match self.forward_event(&message).await {
                    Ok(()) => done.push(message),
                    Err(e) => tracing::warn!(
                        message = %message.id,
                        "cannot forward an event to its run's owner: {e}; it returns after its visibility timeout"
                    ),
                },
                Fate::Poison(reason) => match self.park_event(&message, &reason).await {
                    Ok(()) => done.push(message),
                    Err(e) => tracing::warn!(
                        message = %message.id,
                        "cannot park an event that will never apply ({reason}): {e}; it returns after its visibility timeout"
                    ),
                },
            }
        }
        done
    }

    /// Sends an event message again, for the server that owns its run; the original is deleted
    /// only after this.
    async fn forward_event(&self, message: &Received) -> Result<(), EngineError> {
        let storage = &self.inner.storage;
        let send = storage.send(names::EVENTS_QUEUE, &message.text);
        storage
            .within(
                self.inner.config.storage_deadline,
                "forwarding an event",
                send,
            )
            .await?;
        self.inner.metrics.events_forwarded.inc();
        Ok(())
    }

    /// Deletes applied event messages, 16 at a time.
    async fn delete_events(self, applied: Vec<Received>) {
        let storage = &self.inner.storage;
        let deadline = self.inner.config.storage_deadline;
        stream::iter(applied)
            .for_each_concurrent(16, |message| async move {
                let delete = storage.delete(names::EVENTS_QUEUE, &message);
                if let Err(e) = storage.within(deadline, "deleting an event", delete).await {
                    tracing::warn!("deleting an applied event: {e}");
                }
            })
            .await;
    }

    /// An item's result from its output blob (for events that do not carry it).
    pub(super) async fn read_result(
        &self,
        run_id: &str,
        item: u32,
    ) -> Result<ItemResult, EngineError> {
        let name = item_blob(run_id, item);
        let storage = &self.inner.storage;
        let read = storage.download_blob(names::OUTPUT_CONTAINER, &name);
        let bytes = storage
            .within(
                self.inner.config.storage_deadline,
                "reading an output",
                read,
            )
            .await?
            .ok_or_else(|| EngineError::Rejected {
                id: run_id.to_string(),
                message: format!("output {name} does not exist"),
            })?;
        let output: ItemOutput =
            serde_json::from_slice(&bytes).map_err(|e| EngineError::Rejected {
                id: run_id.to_string(),
                message: format!("output {name} is not valid: {e}"),
            })?;
        Ok(ItemResult {
            value: output.value,
            compute_ms: output.compute_ms,
        })
    }
}
