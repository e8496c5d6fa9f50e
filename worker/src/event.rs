//! The events a worker posts to `item-events`, shaped as Event Grid would deliver them.
//!
//! A completion is the `Microsoft.Storage.BlobCreated` event Event Grid sends for the output
//! blob, plus a `scaleboard` extension with the result; a failure is a `Scaleboard.ItemFailed`
//! event, which Event Grid never sends, so the worker posts it whether or not it posts
//! completions.

use std::time::SystemTime;

use protocol::events::{
    output_subject, BlobCreatedData, EventGridEvent, ItemFailedData, ResultExtension, BLOB_CREATED,
    ITEM_FAILED,
};

use crate::clock;

/// What a completion event says about the output blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputBlob {
    /// The blob's URL, without credentials.
    pub url: String,
    pub content_length: u64,
    pub etag: Option<String>,
}

/// The `BlobCreated` event for item `item` of `run_id`, with its result.
pub fn completed(
    run_id: &str,
    item: u32,
    blob: &OutputBlob,
    result: ResultExtension,
) -> EventGridEvent {
    blob_created(run_id, item, blob, Some(result))
}

/// The `BlobCreated` event for an item's output blob: with the `scaleboard` result extension
/// as the worker sends it, or without, as an Event Grid subscription delivers it.
pub fn blob_created(
    run_id: &str,
    item: u32,
    blob: &OutputBlob,
    result: Option<ResultExtension>,
) -> EventGridEvent {
    let now = SystemTime::now();
    let data = BlobCreatedData {
        api: "PutBlob".into(),
        e_tag: blob.etag.clone(),
        content_type: "application/json".into(),
        content_length: blob.content_length,
        blob_type: "BlockBlob".into(),
        url: blob.url.clone(),
        // Event Grid's sequencer orders events per blob; the write time in hex, zero-padded to
        // its 32 characters, orders them the same way.
        sequencer: format!("{:032x}", clock::unix_ms(now)),
        scaleboard: result,
    };
    EventGridEvent {
        id: event_id(),
        topic: None,
        subject: output_subject(run_id, item),
        event_type: BLOB_CREATED.into(),
        event_time: clock::rfc3339(now),
        data: serde_json::to_value(data).unwrap_or_default(),
        data_version: String::new(),
        metadata_version: Some("1".into()),
    }
}

/// The `Scaleboard.ItemFailed` event for an item whose message went to the poison queue.
pub fn failed(run_id: &str, item: u32, reason: &str, dequeue_count: u32) -> EventGridEvent {
    let data = ItemFailedData {
        run_id: run_id.into(),
        item,
        reason: reason.into(),
        dequeue_count,
    };
    EventGridEvent {
        id: event_id(),
        topic: None,
        subject: format!("/runs/{run_id}/items/{item:06}"),
        event_type: ITEM_FAILED.into(),
        event_time: clock::rfc3339(SystemTime::now()),
        data: serde_json::to_value(data).unwrap_or_default(),
        data_version: "1".into(),
        metadata_version: Some("1".into()),
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
    use protocol::events::{parse_events, ItemEvent};

    use super::*;

    #[test]
    fn a_completion_reads_back_as_the_item_with_its_result() {
        let blob = OutputBlob {
            url: "http://127.0.0.1:10000/devstoreaccount1/output/run-1/000004.json".into(),
            content_length: 210,
            etag: Some("\"0x1\"".into()),
        };
        let result = ResultExtension {
            value: 42,
            compute_ms: 7,
        };
        let event = completed("run-1", 4, &blob, result);
        let json = serde_json::to_string(&event).unwrap();
        let back = parse_events(&json).unwrap().remove(0);
        assert_eq!(
            back.item_event().unwrap(),
            ItemEvent::Completed {
                run_id: "run-1".into(),
                item: 4,
                result: Some(result)
            }
        );
        let data: BlobCreatedData = serde_json::from_value(back.data).unwrap();
        assert_eq!(data.api, "PutBlob");
        assert_eq!(data.blob_type, "BlockBlob");
        assert_eq!(data.content_type, "application/json");
        assert_eq!(data.content_length, 210);
        assert_eq!(data.url, blob.url);
        assert!(back.event_time.ends_with('Z'));
    }

    #[test]
    fn a_failure_reads_back_with_its_reason() {
        let event = failed("run-1", 9, "input blob missing", 5);
        let json = serde_json::to_string(&event).unwrap();
        let back = parse_events(&json).unwrap().remove(0);
        assert_eq!(
            back.item_event().unwrap(),
            ItemEvent::Failed {
                run_id: "run-1".into(),
                item: 9,
                reason: "input blob missing".into()
            }
        );
    }

    #[test]
    fn event_ids_are_distinct_uuids() {
        let a = event_id();
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert_ne!(a, event_id());
    }
}
