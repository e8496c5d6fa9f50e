//! One message, from receipt to deletion.
//!
//! The order of the steps is what makes a worker safe to kill at any point: the output is
//! written, then the event posted, and only then is the message deleted, so a worker that dies
//! in between leaves a message that reappears and is done again, overwriting the same output
//! with the same content. The input blob goes last. A message whose input is gone but whose
//! output exists is a second delivery of an item already finished (a duplicate message, or a
//! lease that expired while its worker was finishing): it is completed again without computing,
//! its event posted once more in case that is what was lost.
//!
//! Before any of it, the message is [checked](crate::check): one whose run id is not a run id or
//! whose input blob is not its item's own goes to the poison queue at once, and nothing is read,
//! written or deleted for it. Then its run is looked up among the
//! [cancelled](crate::cancelled) ones (cached): a terminated or purged run's message is deleted
//! without computing, and so is one whose input is missing because its run was purged since.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use protocol::events::ResultExtension;
use protocol::work::{item_blob, ItemInput, ItemOutput, WorkItem};
use storage::messages::Received;
use storage::names::{EVENTS_QUEUE, INPUT_CONTAINER, OUTPUT_CONTAINER};

use crate::check::{self, Rejection};
use crate::compute::{compute_until, ComputeError, ComputeOutput};
use crate::consumer::Context;
use crate::event::{self, OutputBlob};
use crate::lease::Lease;
use crate::poison;
use crate::stats::Counter;
use plumbing::{clock, telemetry};
use tracing::Instrument;

/// How the handling of one message ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Output written, event posted, message deleted.
    Completed,
    /// Already done by an earlier worker; event posted again and message deleted.
    Recovered,
    /// The item failed; the message will be tried again after a short delay.
    Retrying,
    /// The message went to the poison queue and the item was reported failed.
    Poisoned,
    /// The item's run was terminated or purged: message deleted, nothing computed or posted.
    Cancelled,
    /// Shutdown came before the work ended; the message is visible again.
    Released,
    /// Storage kept failing; the message reappears after its visibility timeout.
    Abandoned,
}

/// Why an attempt at an item did not complete it.
enum Failure {
    /// Something about the item itself: worth a few more tries, then poison.
    Item(String),
    /// Storage failed for good or too often; the message is left to reappear.
    Storage(storage::Error),
}

impl From<storage::Error> for Failure {
    fn from(error: storage::Error) -> Self {
        Failure::Storage(error)
    }
}

/// What a received message asks for, once read and checked.
#[derive(Debug, PartialEq, Eq)]
enum Request {
    /// A work item naming a valid run and that run's input for the item: worked on.
    Work(WorkItem),
    /// Not a work item at all (not JSON, fields missing): failed like an item that fails, so
    /// tried again and then poisoned.
    Unreadable(String),
    /// A work item asking for something it may not: poisoned at once, since another try would
    /// be rejected the same way, and nothing else is done for it.
    Rejected(Rejection),
}

impl Request {
    /// Reads and checks a message's text.
    fn read(text: &str) -> Request {
        match serde_json::from_str::<WorkItem>(text) {
            Err(e) => Request::Unreadable(format!("the message is not a work item ({e})")),
            Ok(work) => match check::validate(&work) {
                Ok(()) => Request::Work(work),
                Err(rejection) => Request::Rejected(rejection),
            },
        }
    }

    /// How the logs name the message: its item's blob once the message is known to name a
    /// valid one, otherwise its queue id (never the sender's text, which may hold anything).
    fn label(&self, message_id: &str) -> String {
        match self {
            Request::Work(work) => item_blob(&work.run_id, work.item),
            Request::Unreadable(_) | Request::Rejected(_) => format!("message {message_id}"),
        }
    }
}

/// Handles one received message to its end, keeping it hidden while the work lasts and handing
/// it back if shutdown's grace runs out first.
pub(crate) async fn process(ctx: &Context, message: Received) -> Outcome {
    let _busy = ctx.progress.working();
    let started = std::time::Instant::now();
    ctx.progress.add(Counter::Received);
    let received_at = SystemTime::now();
    let inserted_ms = message.inserted_ms;
    let lease = Lease::new(message);
    let request = Request::read(lease.text());
    let label = request.label(lease.id());
    let span = item_span(
        &request,
        &label,
        lease.dequeue_count(),
        inserted_ms,
        received_at,
    );
    tracing::debug!(
        parent: &span,
        item = %label,
        dequeue_count = lease.dequeue_count(),
        "received"
    );

    let outcome = async {
        let finished = tokio::select! {
            outcome = handle(ctx, &lease, request, &label) => Some(outcome),
            never = lease.keep_alive(ctx, &label) => match never {},
            () = ctx.stop.cancelled() => None,
        };
        match finished {
            Some(outcome) => outcome,
            None => match lease.release(ctx, &label, Duration::ZERO).await {
                Ok(()) => {
                    tracing::info!(item = %label, "shutting down: released the message for another worker");
                    Outcome::Released
                }
                Err(error) => {
                    tracing::warn!(
                        item = %label,
                        "shutting down: could not release the message, it reappears after its visibility timeout: {error}"
                    );
                    Outcome::Abandoned
                }
            },
        }
    }
    .instrument(span.clone())
    .await;
    span.record("outcome", tracing::field::debug(outcome));
    if outcome == Outcome::Recovered {
        ctx.progress.add(Counter::Recovered);
    }
    if matches!(outcome, Outcome::Completed | Outcome::Recovered) {
        ctx.progress.completed_in(started.elapsed());
    }
    ctx.progress.add(match outcome {
        Outcome::Completed | Outcome::Recovered => Counter::Processed,
        Outcome::Retrying => Counter::Retried,
        Outcome::Poisoned => Counter::Failed,
        Outcome::Cancelled => Counter::Cancelled,
        Outcome::Released => Counter::Released,
        Outcome::Abandoned => Counter::Abandoned,
    });
    outcome
}

/// The span of one message's handling: a continuation of its item's trace when the message
/// carries one, preceded there by the time the message waited in the queue. The queue service
/// gives a message's insertion time to the second, so the wait may read up to a second long.
fn item_span(
    request: &Request,
    label: &str,
    dequeue_count: u32,
    inserted_ms: Option<u64>,
    received_at: SystemTime,
) -> tracing::Span {
    let span = tracing::info_span!(
        "item.process",
        item = %label,
        dequeue_count,
        outcome = tracing::field::Empty,
    );
    if let Request::Work(work) = request {
        telemetry::continue_trace(&span, &work.trace);
        if let Some(inserted_ms) = inserted_ms {
            telemetry::record_past_span(
                "item.queue_wait",
                &work.trace,
                SystemTime::UNIX_EPOCH + Duration::from_millis(inserted_ms),
                received_at,
                &[
                    ("item", label.to_string()),
                    ("dequeue_count", dequeue_count.to_string()),
                ],
            );
        }
    }
    span
}

async fn handle(ctx: &Context, lease: &Lease, request: Request, label: &str) -> Outcome {
    let work = match request {
        Request::Work(work) => work,
        Request::Unreadable(reason) => {
            let named = poison::named_item(lease.text());
            let failed_item = named
                .as_ref()
                .map(|(run_id, item)| (run_id.as_str(), *item));
            return fail(ctx, lease, label, failed_item, reason).await;
        }
        Request::Rejected(rejection) => {
            let reason = format!("rejected: {rejection}");
            return poison::poison(ctx, lease, label, rejection.failed_item(), &reason).await;
        }
    };
    if ctx
        .cancelled
        .is_cancelled(ctx, &work.run_id, work.run_created_ms, label, false)
        .await
        == Some(true)
    {
        return drop_cancelled(ctx, lease, label).await;
    }
    let this_item = Some((work.run_id.as_str(), work.item));
    let attempt = if lease.dequeue_count() > ctx.config.max_dequeue {
        // Taken too often without an answer: the workers that took it died (the item may kill
        // them) or could not reach storage. Unless it turns out to be done, give up on it.
        match recover(ctx, lease, &work, label).await {
            Ok(Some(outcome)) => Ok(outcome),
            Ok(None) => {
                let reason = format!(
                    "received {} times without completing (the workers that took it stopped)",
                    lease.dequeue_count()
                );
                return poison::poison(ctx, lease, label, this_item, &reason).await;
            }
            Err(error) => Err(error),
        }
    } else {
        attempt(ctx, lease, &work, label).await
    };
    match attempt {
        Ok(outcome) => outcome,
        Err(Failure::Item(reason)) => fail(ctx, lease, label, this_item, reason).await,
        Err(Failure::Storage(error)) => {
            tracing::warn!(
                item = %label,
                "giving the message up, it reappears after its visibility timeout: {error}"
            );
            Outcome::Abandoned
        }
    }
}

/// Reads the input, computes, writes the output, posts the event, deletes the message and the
/// input.
async fn attempt(
    ctx: &Context,
    lease: &Lease,
    work: &WorkItem,
    label: &str,
) -> Result<Outcome, Failure> {
    // Named from the checked run and item, not taken from `input_blob` (checked equal): the
    // blob names the worker touches are its own to choose.
    let input_path = &item_blob(&work.run_id, work.item);
    let Some(bytes) = ctx
        .call("reading the input blob", label, || {
            ctx.storage.download_blob(INPUT_CONTAINER, input_path)
        })
        .instrument(tracing::info_span!("item.read_input"))
        .await?
    else {
        if let Some(outcome) = recover(ctx, lease, work, label).await? {
            return Ok(outcome);
        }
        // A purge deletes inputs: a run purged since its check was cached is no failure.
        if ctx
            .cancelled
            .is_cancelled(ctx, &work.run_id, work.run_created_ms, label, true)
            .await
            == Some(true)
        {
            return Ok(drop_cancelled(ctx, lease, label).await);
        }
        return Err(Failure::Item(format!(
            "input blob {INPUT_CONTAINER}/{input_path} is missing"
        )));
    };
    let input: ItemInput = serde_json::from_slice(&bytes).map_err(|e| {
        Failure::Item(format!(
            "input blob {INPUT_CONTAINER}/{input_path} is not an item input ({e})"
        ))
    })?;
    if input.run_id != work.run_id || input.item != work.item {
        return Err(Failure::Item(format!(
            "input blob {INPUT_CONTAINER}/{input_path} belongs to {}, not to this message",
            item_blob(&input.run_id, input.item)
        )));
    }

    let started_ms = clock::now_ms();
    let (result, took) = compute_blocking(input.clone())
        .instrument(tracing::info_span!("item.compute", cost = input.cost))
        .await
        .map_err(Failure::Item)?;
    let compute_ms = u32::try_from(took.as_millis()).unwrap_or(u32::MAX);
    let output = ItemOutput {
        run_id: work.run_id.clone(),
        item: work.item,
        value: result.value,
        digest: result.digest_hex(),
        cost: input.cost,
        worker: ctx.config.worker_id.clone(),
        started_ms,
        finished_ms: clock::now_ms(),
        compute_ms,
    };
    let bytes = serde_json::to_vec(&output).unwrap_or_default();
    let content_length = bytes.len() as u64;
    let output_path = item_blob(&work.run_id, work.item);
    let etag = ctx
        .call("writing the output blob", label, || {
            ctx.storage.upload_blob(
                OUTPUT_CONTAINER,
                &output_path,
                bytes.clone(),
                "application/json",
            )
        })
        .instrument(tracing::info_span!("item.write_output"))
        .await?;
    let blob = OutputBlob {
        url: ctx.storage.blob_url(OUTPUT_CONTAINER, &output_path),
        content_length,
        etag,
    };
    finish(ctx, lease, work, label, &blob, &output).await?;
    tracing::debug!(item = %label, value = output.value, compute_ms, "completed");
    Ok(Outcome::Completed)
}

/// Completes an item whose output already exists: posts its event again (the one posted before
/// may be what was lost; with events left to Event Grid, its event came with the blob) and
/// deletes the message and the input. `None` when there is no output.
async fn recover(
    ctx: &Context,
    lease: &Lease,
    work: &WorkItem,
    label: &str,
) -> Result<Option<Outcome>, Failure> {
    let output_path = item_blob(&work.run_id, work.item);
    let Some(bytes) = ctx
        .call("reading the output blob", label, || {
            ctx.storage.download_blob(OUTPUT_CONTAINER, &output_path)
        })
        .await?
    else {
        return Ok(None);
    };
    let Ok(output) = serde_json::from_slice::<ItemOutput>(&bytes) else {
        // Not something a worker wrote: compute it again rather than trust it.
        return Ok(None);
    };
    let blob = OutputBlob {
        url: ctx.storage.blob_url(OUTPUT_CONTAINER, &output_path),
        content_length: bytes.len() as u64,
        etag: None,
    };
    finish(ctx, lease, work, label, &blob, &output).await?;
    tracing::info!(item = %label, "already done by an earlier worker: completed without computing");
    Ok(Some(Outcome::Recovered))
}

/// The end of every completion: event, message, input, in that order.
async fn finish(
    ctx: &Context,
    lease: &Lease,
    work: &WorkItem,
    label: &str,
    blob: &OutputBlob,
    output: &ItemOutput,
) -> Result<(), Failure> {
    if ctx.config.emit_events {
        let result = ResultExtension {
            value: output.value,
            compute_ms: output.compute_ms,
        };
        // The event continues the item's trace from its own span, so the server's fan-in
        // appears after it.
        let span = tracing::info_span!("item.event");
        let completed = event::completed(&work.run_id, work.item, blob, result)
            .with_trace(&telemetry::context_of(&span));
        let text = serde_json::to_string(&completed).unwrap_or_default();
        ctx.call("posting the completion event", label, || {
            ctx.storage.send(EVENTS_QUEUE, &text)
        })
        .instrument(span)
        .await?;
    }
    lease.delete(ctx, label).await?;
    let input_path = &item_blob(&work.run_id, work.item);
    if let Err(error) = ctx
        .call("deleting the input blob", label, || {
            ctx.storage.delete_blob(INPUT_CONTAINER, input_path)
        })
        .await
    {
        // The item is complete; a leftover input only costs storage.
        tracing::warn!(item = %label, "could not delete the input blob: {error}");
    }
    Ok(())
}

/// A message of a terminated or purged run: deleted, with nothing computed, written or posted
/// (the run counts no more items). If the deletion fails it reappears and is dropped then.
async fn drop_cancelled(ctx: &Context, lease: &Lease, label: &str) -> Outcome {
    match lease.delete(ctx, label).await {
        Ok(()) => {
            tracing::debug!(item = %label, "run cancelled: message dropped");
            Outcome::Cancelled
        }
        Err(error) => {
            tracing::warn!(item = %label, "run cancelled, but the message could not be deleted; it reappears: {error}");
            Outcome::Abandoned
        }
    }
}

/// A failed attempt: poisoned at the limit (reporting `failed_item` failed), otherwise visible
/// again after a delay that grows with each failure (but never beyond the visibility timeout).
async fn fail(
    ctx: &Context,
    lease: &Lease,
    label: &str,
    failed_item: Option<(&str, u32)>,
    reason: String,
) -> Outcome {
    if lease.dequeue_count() >= ctx.config.max_dequeue {
        return poison::poison(ctx, lease, label, failed_item, &reason).await;
    }
    let delay = retry_delay(lease.dequeue_count(), ctx.config.visibility_timeout);
    tracing::warn!(
        item = %label,
        dequeue_count = lease.dequeue_count(),
        "failed, trying again in {} s: {reason}",
        delay.as_secs()
    );
    match lease.release(ctx, label, delay).await {
        Ok(()) => Outcome::Retrying,
        Err(error) => {
            tracing::warn!(item = %label, "could not hand the message back: {error}");
            Outcome::Abandoned
        }
    }
}

/// 1 s after the first failure, 2 s after the second, 4 s…, at most the visibility timeout.
fn retry_delay(dequeue_count: u32, visibility: Duration) -> Duration {
    let exponent = dequeue_count.saturating_sub(1).min(16);
    Duration::from_secs(1u64 << exponent).min(visibility)
}

/// Runs the computation on a blocking thread. If this future is dropped (grace over, task
/// aborted), the computation is told to stop, so a released item gives its core back at once.
async fn compute_blocking(input: ItemInput) -> Result<(ComputeOutput, Duration), String> {
    struct RaiseOnDrop(Arc<AtomicBool>);
    impl Drop for RaiseOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }

    let stop = Arc::new(AtomicBool::new(false));
    let _raise = RaiseOnDrop(stop.clone());
    let task = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        compute_until(&input, &stop).map(|output| (output, started.elapsed()))
    });
    match task.await {
        Ok(Ok(done)) => Ok(done),
        Ok(Err(ComputeError::Requested(reason))) => Err(format!("computation failed: {reason}")),
        Ok(Err(ComputeError::Stopped)) => Err("computation stopped".into()),
        Err(join) => Err(format!("computation panicked: {join}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_read_then_checked() {
        let genuine = r#"{"runId":"run-1","item":3,"inputBlob":"run-1/000003.json"}"#;
        let Request::Work(work) = Request::read(genuine) else {
            panic!("a genuine message is work");
        };
        assert_eq!(Request::Work(work).label("id-1"), "run-1/000003.json");

        let unreadable = Request::read(r#"{"runId":"run-1"}"#);
        assert!(
            matches!(unreadable, Request::Unreadable(ref reason) if reason.contains("not a work item"))
        );
        assert_eq!(unreadable.label("id-2"), "message id-2");

        for hostile in [
            r#"{"runId":"../victim","item":3,"inputBlob":"../victim/000003.json"}"#,
            r#"{"runId":"run-1","item":3,"inputBlob":"victim/000003.json"}"#,
        ] {
            let request = Request::read(hostile);
            assert!(matches!(request, Request::Rejected(_)), "{hostile}");
            assert_eq!(request.label("id-3"), "message id-3", "{hostile}");
        }
    }

    #[test]
    fn failures_back_off_up_to_the_visibility_timeout() {
        let visibility = Duration::from_secs(30);
        assert_eq!(retry_delay(1, visibility), Duration::from_secs(1));
        assert_eq!(retry_delay(2, visibility), Duration::from_secs(2));
        assert_eq!(retry_delay(4, visibility), Duration::from_secs(8));
        assert_eq!(retry_delay(9, visibility), visibility);
        assert_eq!(retry_delay(u32::MAX, visibility), visibility);
        assert_eq!(retry_delay(0, visibility), Duration::from_secs(1));
    }

    #[test]
    fn a_dropped_computation_stops_its_thread() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let input = ItemInput {
            run_id: "r".into(),
            item: 1,
            seed: 1,
            cost: u32::MAX,
            fail: None,
        };
        let cut_off = runtime.block_on(async {
            tokio::time::timeout(Duration::from_millis(50), compute_blocking(input))
                .await
                .is_err()
        });
        assert!(cut_off);
        // Shutting the runtime down waits for its blocking threads; u32::MAX rounds would take
        // minutes, so a quick shutdown shows the computation stopped when its future was dropped.
        let started = Instant::now();
        runtime.shutdown_timeout(Duration::from_secs(20));
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
