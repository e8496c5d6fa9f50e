//! The events a worker posts to `item-events`, shaped as Event Grid would deliver them.
//!
//! A completion is the `Microsoft.Storage.BlobCreated` event Event Grid sends for the output
//! blob, plus a `scaleboard` extension with the result; a failure is a `Scaleboard.ItemFailed`
//! event, which Event Grid never sends, so the worker posts it whether or not it posts
//! completions. The shapes are built in `protocol::events`, next to their parser; this module
//! adds the clock and the event id.

use plumbing::clock;
use protocol::events::{self, EventGridEvent, ResultExtension, Stamp};

pub use protocol::events::OutputBlob;

/// The `BlobCreated` event for item `item` of `run_id`, with its result.
pub fn completed(
    run_id: &str,
    item: u32,
    blob: &OutputBlob,
    result: ResultExtension,
) -> EventGridEvent {
    blob_created(run_id, item, blob, Some(result))
}

/// The `BlobCreated` event for an item's output blob, stamped now: with the `scaleboard` result
/// extension as the worker sends it, or without, as an Event Grid subscription delivers it.
pub fn blob_created(
    run_id: &str,
    item: u32,
    blob: &OutputBlob,
    result: Option<ResultExtension>,
) -> EventGridEvent {
    events::blob_created(run_id, item, blob, result, stamp())
}

/// The `Scaleboard.ItemFailed` event for an item whose message went to the poison queue.
pub fn failed(run_id: &str, item: u32, reason: &str, dequeue_count: u32) -> EventGridEvent {
    events::item_failed(run_id, item, reason, dequeue_count, stamp())
}

/// Now, under a fresh id.
fn stamp() -> Stamp {
    let at_ms = clock::now_ms();
    Stamp {
        id: event_id(),
        at_ms,
        event_time: clock::rfc3339(at_ms),
    }
}

/// A random (version 4) UUID, the form of Event Grid's event ids.
fn event_id() -> String {
    let mut bytes: [u8; 16] = rand::random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_stamped_now_with_distinct_uuids() {
        let before = clock::now_ms();
        let event = failed("run-1", 9, "input blob missing", 5);
        let after = clock::now_ms();
        let at = clock::parse_rfc3339(&event.event_time).unwrap();
        assert!(
            (before..=after).contains(&at),
            "{at} not in {before}..={after}"
        );
        let a = event_id();
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert_ne!(a, event_id());
    }
}
