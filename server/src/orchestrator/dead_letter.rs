//! Event messages that can never be applied, parked on `item-events-poison` with the reason
//! instead of returning every visibility timeout forever (see `triage` for which ones).
//!
//! As the worker does with `work-items-poison`: the record is written before the original is
//! deleted, so a server stopping in between leaves a duplicate record, never a lost message.
//! A record must fit in a queue message whatever was received, so the message is kept up to
//! [`MAX_RECORDED_MESSAGE`] characters and the reason up to [`MAX_REASON`].

use std::sync::atomic::Ordering;
use std::time::Duration;

use plumbing::clock;
use serde::{Deserialize, Serialize};
use storage::messages::Received;
use storage::names;

use super::engine::Engine;

/// Characters of the original message kept in its record. A genuine event is under 1,000.
pub const MAX_RECORDED_MESSAGE: usize = 4096;

/// Characters of a reason kept in a record.
pub const MAX_REASON: usize = 1024;

/// The longest writing one record may take.
const PARK_DEADLINE: Duration = Duration::from_secs(10);

/// What goes to `item-events-poison`: the original message and why it was given up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventPoisonRecord {
    /// The original message's text, as received (decoded from base64); only its first
    /// [`MAX_RECORDED_MESSAGE`] characters when `message_length` is set.
    pub message: String,
    /// The original's length in characters, set when `message` holds only its beginning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_length: Option<usize>,
    pub reason: String,
    /// Deliveries of the original, the last one included.
    pub dequeue_count: u32,
    pub message_id: String,
    /// RFC 3339.
    pub poisoned_at: String,
}

impl EventPoisonRecord {
    pub fn new(message: &Received, reason: &str, at_ms: u64) -> EventPoisonRecord {
        let (text, message_length) = cut(&message.text, MAX_RECORDED_MESSAGE);
        EventPoisonRecord {
            message: text,
            message_length,
            reason: cut(reason, MAX_REASON).0,
            dequeue_count: message.dequeue_count,
            message_id: message.id.clone(),
            poisoned_at: clock::rfc3339(at_ms),
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

impl Engine {
    /// Writes the message's record to `item-events-poison` and counts it; the caller deletes
    /// the original afterwards. On failure the original stays and is parked on a later
    /// delivery.
    pub(super) async fn park_event(
        &self,
        message: &Received,
        reason: &str,
    ) -> Result<(), storage::Error> {
        let record = EventPoisonRecord::new(message, reason, clock::now_ms());
        let text = serde_json::to_string(&record).expect("a poison record always serializes");
        let storage = &self.inner.storage;
        storage
            .within(
                PARK_DEADLINE,
                "parking an event message",
                storage.send(names::EVENTS_POISON_QUEUE, &text),
            )
            .await?;
        self.inner.events_poisoned.fetch_add(1, Ordering::Relaxed);
        tracing::error!(
            message = %message.id,
            dequeue_count = message.dequeue_count,
            "event moved to {}: {}",
            names::EVENTS_POISON_QUEUE,
            record.reason
        );
        Ok(())
    }

    /// Event messages this engine parked on `item-events-poison` since it started.
    pub fn events_poisoned(&self) -> u64 {
        self.inner.events_poisoned.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn received(text: &str) -> Received {
        Received {
            id: "m1".into(),
            pop_receipt: "p".into(),
            dequeue_count: 5,
            text: text.into(),
            inserted_ms: None,
        }
    }

    #[test]
    fn a_record_names_the_message_and_the_reason_in_camel_case() {
        let record = EventPoisonRecord::new(&received("{}"), "run r does not exist", 0);
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["message"], "{}");
        assert_eq!(json["reason"], "run r does not exist");
        assert_eq!(json["dequeueCount"], 5);
        assert_eq!(json["messageId"], "m1");
        assert_eq!(json["poisonedAt"], "1970-01-01T00:00:00Z");
        assert!(json.get("messageLength").is_none());
    }

    #[test]
    fn a_long_message_is_kept_in_part_with_its_length() {
        let long = "é".repeat(MAX_RECORDED_MESSAGE + 10);
        let record = EventPoisonRecord::new(&received(&long), &"x".repeat(5000), 0);
        assert_eq!(record.message.chars().count(), MAX_RECORDED_MESSAGE);
        assert_eq!(record.message_length, Some(MAX_RECORDED_MESSAGE + 10));
        assert_eq!(record.reason.len(), MAX_REASON);
    }
}
