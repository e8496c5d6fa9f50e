//! Messages that will not succeed: parked on `work-items-poison` with the reason, their items
//! reported failed so that a run ends instead of waiting forever.
//!
//! The order matters as for completions: the poison record and the failure event are written
//! before the original is deleted, so a worker dying in between causes a duplicate record, never
//! a lost item.

use protocol::work::WorkItem;
use serde::{Deserialize, Serialize};
use storage::names::{EVENTS_QUEUE, POISON_QUEUE};

use crate::clock;
use crate::consumer::Context;
use crate::event;
use crate::item::Outcome;
use crate::lease::Lease;

/// What goes to the poison queue: the original message and why it was given up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PoisonRecord {
    /// The original message's text, as received (decoded from base64).
    pub message: String,
    pub reason: String,
    pub dequeue_count: u32,
    pub message_id: String,
    /// The worker that gave up on it.
    pub worker: String,
    /// The item's run and number when the message told them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<u32>,
    /// RFC 3339.
    pub poisoned_at: String,
}

/// Moves the message to the poison queue and reports its item failed (when the message names
/// one), then deletes the original.
pub(crate) async fn poison(
    ctx: &Context,
    lease: &Lease,
    label: &str,
    work: Option<&WorkItem>,
    reason: &str,
) -> Outcome {
    let (run_id, item) = match work {
        Some(work) => (Some(work.run_id.clone()), Some(work.item)),
        None => run_and_item(lease.text()),
    };
    let record = PoisonRecord {
        message: lease.text().to_string(),
        reason: reason.to_string(),
        dequeue_count: lease.dequeue_count(),
        message_id: lease.id().to_string(),
        worker: ctx.config.worker_id.clone(),
        run_id: run_id.clone(),
        item,
        poisoned_at: clock::rfc3339(std::time::SystemTime::now()),
    };
    let record = serde_json::to_string(&record).unwrap_or_default();
    let result = async {
        ctx.call("moving the message to the poison queue", label, || {
            ctx.storage.send(POISON_QUEUE, &record)
        })
        .await?;
        match (&run_id, item) {
            (Some(run_id), Some(item)) => {
                let failed = event::failed(run_id, item, reason, lease.dequeue_count());
                let text = serde_json::to_string(&failed).unwrap_or_default();
                ctx.call("posting the failure event", label, || {
                    ctx.storage.send(EVENTS_QUEUE, &text)
                })
                .await?;
            }
            _ => tracing::error!(
                item = %label,
                "the message names no run and item, so no run can be told of its failure"
            ),
        }
        lease.delete(ctx, label).await
    }
    .await;
    match result {
        Ok(()) => {
            tracing::error!(
                item = %label,
                dequeue_count = lease.dequeue_count(),
                "moved to {POISON_QUEUE}: {reason}"
            );
            Outcome::Poisoned
        }
        Err(error) => {
            tracing::warn!(
                item = %label,
                "could not move the message to {POISON_QUEUE}, it reappears after its visibility timeout: {error}"
            );
            Outcome::Abandoned
        }
    }
}

/// The run and item of a message that is not a valid work item but may still name them.
fn run_and_item(text: &str) -> (Option<String>, Option<u32>) {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
        return (None, None);
    };
    let run_id = value["runId"].as_str().map(str::to_string);
    let item = value["item"].as_u64().and_then(|n| u32::try_from(n).ok());
    match (run_id, item) {
        (Some(run_id), Some(item)) => (Some(run_id), Some(item)),
        _ => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_message_may_still_name_its_item() {
        assert_eq!(
            run_and_item(r#"{"runId":"r","item":3}"#),
            (Some("r".into()), Some(3))
        );
        assert_eq!(run_and_item(r#"{"runId":"r"}"#), (None, None));
        assert_eq!(run_and_item("not json"), (None, None));
        assert_eq!(run_and_item(r#"{"runId":"r","item":-1}"#), (None, None));
    }

    #[test]
    fn records_use_camel_case() {
        let record = PoisonRecord {
            message: "x".into(),
            reason: "bad".into(),
            dequeue_count: 5,
            message_id: "id".into(),
            worker: "w".into(),
            run_id: None,
            item: None,
            poisoned_at: "2026-01-01T00:00:00.000Z".into(),
        };
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["dequeueCount"], 5);
        assert!(json.get("runId").is_none());
    }
}
