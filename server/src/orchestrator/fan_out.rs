//! The fan-out: writing each item's input blob and work message, a bounded number at a time,
//! and recording them as scheduled in batches.
//!
//! An item counts as scheduled only once its blob and its message are written and the run
//! document that says so is stored; a crash in between sends it again (same blob, same
//! content), and the machine counts its completion once.
//!
//! Only the run's owner fans it out (see `lease`): each pass, and each item, starts only while
//! this server holds the run's lease, so a server that lost it stops within one item; what it
//! wrote but could not record (the owner's lease refuses the write) is sent again by the new
//! owner, the one duplicate a lost lease can cause.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::stream::{self, FuturesUnordered};
use futures_util::StreamExt;
use orchestration::{Event, RunId};
use plumbing::clock::now_ms;
use protocol::work::{item_blob, WorkItem};
use storage::names;
use tracing::Instrument;

use super::engine::{Engine, EngineError};
use super::input::{item_input, work_item};
use super::RunInput;

impl Engine {
    /// Starts fanning a run's items out in the background, unless that is already going on
    /// (a run has one fan-out at a time, so items are not written twice at once).
    pub(super) fn spawn_fan_out(&self, id: RunId) {
        let fresh = self
            .inner
            .fanning_out
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.clone());
        if fresh {
            let span = tracing::info_span!("run.fan_out", run = %id);
            self.inner
                .tracker
                .spawn(self.clone().fan_out(id).instrument(span));
        }
    }

    /// Fans out every unscheduled item of a run until none is left or the run stops taking
    /// them (suspended, finished, purged), retrying after a pause when storage fails.
    async fn fan_out(self, id: RunId) {
        let mut delay = Duration::from_millis(200);
        loop {
            if self.inner.shutdown.is_cancelled() || !self.owns(&id) {
                break;
            }
            let Ok(entry) = self.entry(&id).await else {
                break;
            };
            let (items, input, created_ms) = {
                let entry = entry.lock().await;
                let state = &entry.doc.state;
                if entry.purged {
                    break;
                }
                (
                    state.next_to_schedule(state.input_count() as usize),
                    entry.doc.input.clone(),
                    state.created_ms(),
                )
            };
            if items.is_empty() {
                break;
            }
            match self.schedule_items(&id, items, &input, created_ms).await {
                Ok(()) => delay = Duration::from_millis(200),
                Err(e) => {
                    tracing::warn!(run = %id, "fan-out: {e}; retrying in {delay:?}");
                    tokio::select! {
                        _ = self.inner.shutdown.cancelled() => break,
                        _ = tokio::time::sleep(delay) => {}
                    }
                    delay = (delay * 2).min(Duration::from_secs(10));
                }
            }
        }
        self.inner
            .fanning_out
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }

    /// Writes the items' input blobs and messages, `fan_out_concurrency` at a time, and records
    /// them as scheduled every `fan_out_batch` items.
    ///
    /// Items flow without a pause at batch boundaries: a batch is recorded while the next
    /// items are being written (one recording at a time, so the document is written in order).
    /// After a failed write, a failed recording, a suspension or a termination no new item is
    /// started; the ones in flight finish and are recorded, so a message that went out is not
    /// sent again by the next pass.
    async fn schedule_items(
        &self,
        id: &RunId,
        items: Vec<u32>,
        input: &RunInput,
        created_ms: u64,
    ) -> Result<(), EngineError> {
        let config = &self.inner.config;
        let batch = config.fan_out_batch.max(1);
        let stop = AtomicBool::new(false);
        let mut written = stream::iter(items)
            .take_while(|_| {
                let go = !stop.load(Ordering::Relaxed)
                    && !self.inner.shutdown.is_cancelled()
                    && self.owns(id);
                std::future::ready(go)
            })
            .map(
                |item| async move { (item, self.schedule_item(id, item, input, created_ms).await) },
            )
            .buffer_unordered(config.fan_out_concurrency.max(1));
        let mut recording = FuturesUnordered::new();
        let mut pending = Vec::with_capacity(batch);
        let mut failure = None;
        let mut exhausted = false;
        loop {
            if recording.is_empty()
                && (pending.len() >= batch || (exhausted && !pending.is_empty()))
            {
                recording.push(self.apply(id, std::mem::take(&mut pending)));
            }
            tokio::select! {
                Some(recorded) = recording.next() => match recorded {
                    Ok(doc) if doc.state.may_schedule() => {}
                    Ok(_) => stop.store(true, Ordering::Relaxed),
                    Err(e) => {
                        // Its items were written but are not recorded: the next pass sends
                        // them again (same blobs, and completions count once).
                        stop.store(true, Ordering::Relaxed);
                        failure.get_or_insert(e);
                    }
                },
                next = written.next(), if !exhausted => match next {
                    Some((item, Ok(()))) => pending.push(Event::ItemScheduled { item, at: now_ms() }),
                    Some((_, Err(e))) => {
                        stop.store(true, Ordering::Relaxed);
                        failure.get_or_insert(e);
                    }
                    None => exhausted = true,
                },
                else => break,
            }
        }
        failure.map_or(Ok(()), Err)
    }

    /// The input blob first, then the message: a worker never finds a message without input.
    ///
    /// Each item starts a trace of its own, which its message carries to the worker and the
    /// worker's event back to the fan-in; it links to the run's fan-out, so a run of thousands
    /// of items is thousands of small traces rather than one huge one.
    async fn schedule_item(
        &self,
        id: &RunId,
        item: u32,
        input: &RunInput,
        created_ms: u64,
    ) -> Result<(), EngineError> {
        let span = tracing::info_span!(parent: None, "item.fan_out", run = %id, item);
        span.follows_from(tracing::Span::current());
        let message =
            work_item(id.as_str(), item, created_ms).traced(plumbing::telemetry::context_of(&span));
        self.write_item(id, item, input, message)
            .instrument(span)
            .await
    }

    async fn write_item(
        &self,
        id: &RunId,
        item: u32,
        input: &RunInput,
        message: WorkItem,
    ) -> Result<(), EngineError> {
        let blob = item_blob(id.as_str(), item);
        let body = serde_json::to_vec(&item_input(id.as_str(), item, input))
            .expect("an item input always serializes");
        let storage = &self.inner.storage;
        let deadline = self.inner.config.storage_deadline;
        let upload = storage.upload_blob(names::INPUT_CONTAINER, &blob, body, "application/json");
        storage
            .within(deadline, "writing an item's input", upload)
            .await?;
        let message = serde_json::to_string(&message).expect("a work item always serializes");
        // Noted before the send: a worker may finish the item before the send returns.
        self.inner.metrics.enqueuing(id, item, now_ms());
        let send = storage.send(names::WORK_QUEUE, &message);
        storage
            .within(deadline, "sending an item's work message", send)
            .await?;
        self.inner.metrics.fan_out_messages.inc();
        Ok(())
    }
}
