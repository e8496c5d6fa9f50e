//! Messages that will not succeed: parked on `work-items-poison` with the reason, their items
//! reported failed so that a run ends instead of waiting forever.
//!
//! The order matters as for completions: the poison record and the failure event are written
//! before the original is deleted, so a worker dying in between causes a duplicate record, never
//! a lost item.
//!
//! A record must fit in a queue message (64 KiB, after base64) whatever was received, or a
//! large hostile message could never be parked and would come back forever: the message is kept
//! up to [`MAX_RECORDED_MESSAGE`] characters and the reason up to [`MAX_REASON`].

use serde::{Deserialize, Serialize};
use storage::names::{EVENTS_QUEUE, POISON_QUEUE};
use tracing::Instrument;

use crate::check::check_run_id;
use crate::consumer::Context;
use crate::event;
use crate::item::Outcome;
use crate::lease::Lease;
use plumbing::clock;

/// Characters of the original message kept in its record. A genuine work item is under 200.
pub const MAX_RECORDED_MESSAGE: usize = 4096;

/// Characters of a reason kept in a record and its failure event (a parser's error may quote
/// the message).
pub const MAX_REASON: usize = 1024;

/// What goes to the poison queue: the original message and why it was given up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PoisonRecord {
    /// The original message's text, as received (decoded from base64); only its first
    /// [`MAX_RECORDED_MESSAGE`] characters when `message_length` is set.
    pub message: String,
    /// The original's length in characters, set when `message` holds only its beginning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_length: Option<usize>,
    pub reason: String,
    pub dequeue_count: u32,
    pub message_id: String,
    /// The worker that gave up on it.
    pub worker: String,
    /// The run and number of the item reported failed with this record, when there is one: the
    /// message named them and the run id is a run id (see [`crate::check`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<u32>,
    /// RFC 3339.
    pub poisoned_at: String,
}

/// Moves the message to the poison queue and reports `failed_item` failed (when there is one),
/// then deletes the original.
///
/// `failed_item` is the caller's decision: the item of a work item that was checked, or what a
/// message that is not a work item names ([`named_item`]). A run id that is not a run id is
/// never reported, whoever passes it: no such run exists to be told.
pub(crate) async fn poison(
    ctx: &Context,
    lease: &Lease,
    label: &str,
    failed_item: Option<(&str, u32)>,
    reason: &str,
) -> Outcome {
    let failed_item = failed_item.filter(|(run_id, _)| check_run_id(run_id).is_ok());
    let run_id = failed_item.map(|(run_id, _)| run_id.to_string());
    let item = failed_item.map(|(_, item)| item);
    let (message, message_length) = cut(lease.text(), MAX_RECORDED_MESSAGE);
    let (reason, _) = cut(reason, MAX_REASON);
    let reason = reason.as_str();
    let record = PoisonRecord {
        message,
        message_length,
        reason: reason.to_string(),
        dequeue_count: lease.dequeue_count(),
        message_id: lease.id().to_string(),
        worker: ctx.config.worker_id.clone(),
        run_id: run_id.clone(),
        item,
        poisoned_at: clock::rfc3339(clock::now_ms()),
    };
    let record = serde_json::to_string(&record).unwrap_or_default();
    let result = async {
        ctx.call("moving the message to the poison queue", label, || {
            ctx.storage.send(POISON_QUEUE, &record)
        })
        .await?;
        match (&run_id, item) {
            (Some(run_id), Some(item)) => {
                let span = tracing::info_span!("item.event", failed = true);
                let failed = event::failed(run_id, item, reason, lease.dequeue_count())
                    .with_trace(&plumbing::telemetry::context_of(&span));
                let text = serde_json::to_string(&failed).unwrap_or_default();
                ctx.call("posting the failure event", label, || {
                    ctx.storage.send(EVENTS_QUEUE, &text)
                })
                .instrument(span)
                .await?;
            }
            _ => tracing::error!(
                item = %label,
                "the message names no valid run and item, so no run can be told of its failure"
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

/// `text`'s first `max` characters, and its length in characters when that cut it short.
fn cut(text: &str, max: usize) -> (String, Option<usize>) {
    match text.char_indices().nth(max) {
        None => (text.to_string(), None),
        Some((end, _)) => (text[..end].to_string(), Some(text.chars().count())),
    }
}

/// The run and item that a message which is not a work item (a field missing or of the wrong
/// type) still names, so that its run can be told the item failed; `None` when it names no
/// valid run id and item.
pub(crate) fn named_item(text: &str) -> Option<(String, u32)> {
    let value = serde_json::from_str::<serde_json::Value>(text).ok()?;
    let run_id = value["runId"].as_str()?;
    let item = value["item"].as_u64().and_then(|n| u32::try_from(n).ok())?;
    check_run_id(run_id).ok()?;
    Some((run_id.to_string(), item))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_message_may_still_name_its_item() {
        assert_eq!(
            named_item(r#"{"runId":"r","item":3}"#),
            Some(("r".into(), 3))
        );
        assert_eq!(named_item(r#"{"runId":"r"}"#), None);
        assert_eq!(named_item("not json"), None);
        assert_eq!(named_item(r#"{"runId":"r","item":-1}"#), None);
    }

    #[test]
    fn a_broken_message_naming_no_valid_run_names_no_item() {
        for text in [
            r#"{"runId":"../victim","item":3}"#,
            r#"{"runId":"","item":3}"#,
            r#"{"runId":"a b","item":3,"inputBlob":7}"#,
        ] {
            assert_eq!(named_item(text), None, "{text}");
        }
    }

    #[test]
    fn records_use_camel_case() {
        let record = PoisonRecord {
            message: "x".into(),
            message_length: None,
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
        assert!(json.get("messageLength").is_none());
    }

    #[test]
    fn long_texts_are_cut_to_whole_characters() {
        assert_eq!(cut("abc", 3), ("abc".into(), None));
        assert_eq!(cut("abcd", 3), ("abc".into(), Some(4)));
        assert_eq!(cut("ééé", 2), ("éé".into(), Some(3)));
        assert_eq!(cut("", 0), (String::new(), None));
    }
}
