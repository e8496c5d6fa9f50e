//! The fan-out: writing each item's input blob and work message, a bounded number at a time,
//! and recording them as scheduled in batches.
//!
//! An item counts as scheduled only once its blob and its message are written and the run
//! document that says so is stored; a crash in between sends it again (same blob, same
//! content), and the machine counts its completion once.
//!
//! A run keeps at most `fan_out_window` items scheduled and unfinished: the fan-out waits for
//! items to finish, then queues the next chunk (see [`room`]).
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
use protocol::durable::Progress;
use protocol::work::{item_blob, WorkItem};
use storage::names;
use tracing::Instrument;

use super::engine::{Engine, EngineError};
use super::input::{item_input, work_item};
use super::RunInput;

/// How often a fan-out waiting for its window re-checks the run without being woken: whether
/// this server still owns it, and completions counted by another server's takeover.
const WINDOW_RECHECK: Duration = Duration::from_secs(1);

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
        // Every stored change of any run's progress: a finished item frees the window.
        let mut progressed = self.inner.progress.subscribe();
        loop {
            if self.inner.shutdown.is_cancelled() || !self.owns(&id) {
                break;
            }
            let Ok(entry) = self.entry(&id).await else {
                break;
            };
            // Seen before the run is read, so a change stored meanwhile still wakes the wait.
            progressed.borrow_and_update();
            let (items, unscheduled, input, created_ms) = {
                let entry = entry.lock().await;
                let state = &entry.doc.state;
                if entry.purged {
                    break;
                }
                let progress = state.progress();
                let room = room(progress, self.inner.config.fan_out_window);
                (
                    state.next_to_schedule(room as usize),
                    state.may_schedule() && progress.scheduled < progress.total,
                    entry.doc.input.clone(),
                    state.created_ms(),
                )
            };
            if items.is_empty() {
                if !unscheduled {
                    break;
                }
                tokio::select! {
                    _ = self.inner.shutdown.cancelled() => break,
                    _ = progressed.changed() => {}
                    _ = tokio::time::sleep(WINDOW_RECHECK) => {}
                }
                continue;
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

/// How many items to schedule now so that at most `window` of the run's items are scheduled
/// and unfinished. None until a quarter of the window is free (or all that is left, when
/// less), so the run document is written once per chunk rather than once per finished item.
fn room(progress: Progress, window: u32) -> u32 {
    let left = progress.total.saturating_sub(progress.scheduled);
    let finished = progress.completed.saturating_add(progress.failed);
    let free = window.saturating_sub(progress.scheduled.saturating_sub(finished));
    let chunk = window.div_ceil(4).min(left).max(1);
    if free >= chunk {
        free.min(left)
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(total: u32, scheduled: u32, completed: u32, failed: u32) -> Progress {
        Progress {
            scheduled,
            completed,
            failed,
            total,
        }
    }

    #[test]
    fn a_new_run_fills_the_window_or_takes_all_when_smaller() {
        assert_eq!(room(progress(20_000, 0, 0, 0), 1_000), 1_000);
        assert_eq!(room(progress(300, 0, 0, 0), 1_000), 300);
    }

    #[test]
    fn a_full_window_waits_until_a_quarter_of_it_is_free() {
        assert_eq!(room(progress(20_000, 1_000, 0, 0), 1_000), 0);
        assert_eq!(room(progress(20_000, 1_000, 249, 0), 1_000), 0);
        assert_eq!(room(progress(20_000, 1_000, 200, 50), 1_000), 250);
        assert_eq!(room(progress(20_000, 1_000, 400, 0), 1_000), 400);
    }

    #[test]
    fn the_tail_is_scheduled_even_when_less_than_a_quarter() {
        assert_eq!(room(progress(1_010, 1_000, 10, 0), 1_000), 10);
        assert_eq!(room(progress(1_010, 1_000, 9, 0), 1_000), 0);
        assert_eq!(room(progress(1_010, 1_010, 500, 0), 1_000), 0);
    }

    #[test]
    fn a_window_of_one_schedules_one_at_a_time() {
        assert_eq!(room(progress(5, 0, 0, 0), 1), 1);
        assert_eq!(room(progress(5, 1, 0, 0), 1), 0);
        assert_eq!(room(progress(5, 1, 1, 0), 1), 1);
    }

    #[test]
    fn counts_past_the_total_do_not_overflow() {
        // Completions seen for items never recorded as scheduled (a lost lease's duplicates).
        assert_eq!(room(progress(10, 4, 8, 0), 5), 5);
        assert_eq!(
            room(progress(u32::MAX, 0, u32::MAX, u32::MAX), u32::MAX),
            u32::MAX
        );
    }
}
