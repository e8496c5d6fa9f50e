//! Events on queue `item-events`, in the Event Grid event schema.
//!
//! In Azure, an Event Grid subscription on the storage account delivers
//! `Microsoft.Storage.BlobCreated` for container `output` to this queue; locally (Azurite has no
//! Event Grid) the worker emits the same event itself. The server reads one schema either way.
//! A worker's own event adds a `scaleboard` extension to `data` with the result, which saves the
//! server a blob read; an event from Event Grid lacks it and the server reads the output blob.
//! Failures (a message that went to the poison queue) are `Scaleboard.ItemFailed` events.
//! The worker's events may also carry the item's W3C trace context as `traceparent` and
//! `tracestate` fields of `data` (Event Grid's `data` takes extra fields), so the server's
//! fan-in continues the item's trace; events without them are read the same way.

use serde::{Deserialize, Serialize};

use crate::trace::TraceContext;
use crate::work::{item_blob, parse_item_blob};

pub const BLOB_CREATED: &str = "Microsoft.Storage.BlobCreated";
pub const ITEM_FAILED: &str = "Scaleboard.ItemFailed";

/// An event in the Event Grid event schema.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventGridEvent {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    pub subject: String,
    pub event_type: String,
    /// RFC 3339.
    pub event_time: String,
    pub data: serde_json::Value,
    #[serde(default)]
    pub data_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_version: Option<String>,
}

/// `data` of a `Microsoft.Storage.BlobCreated` event (the fields Scaleboard reads or writes).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlobCreatedData {
    pub api: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e_tag: Option<String>,
    #[serde(default)]
    pub content_type: String,
    #[serde(default)]
    pub content_length: u64,
    #[serde(default)]
    pub blob_type: String,
    pub url: String,
    #[serde(default)]
    pub sequencer: String,
    /// Present only in events the worker emits itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaleboard: Option<ResultExtension>,
}

/// The result of an item, carried in the worker's own events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResultExtension {
    pub value: u64,
    pub compute_ms: u32,
}

/// `data` of a `Scaleboard.ItemFailed` event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemFailedData {
    pub run_id: String,
    pub item: u32,
    pub reason: String,
    pub dequeue_count: u32,
}

/// What an event means for a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ItemEvent {
    /// Item `item` of `run_id` has an output; `result` is known when the worker sent it.
    Completed {
        run_id: String,
        item: u32,
        result: Option<ResultExtension>,
    },
    Failed {
        run_id: String,
        item: u32,
        reason: String,
    },
}

/// Subject of a BlobCreated event for an output blob.
pub fn output_subject(run_id: &str, item: u32) -> String {
    format!(
        "/blobServices/default/containers/output/blobs/{}",
        item_blob(run_id, item)
    )
}

/// When and under which id an event is written: the caller's clock and randomness, so that the
/// builders below stay pure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// A version 4 UUID, the form of Event Grid's event ids.
    pub id: String,
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// The same instant as RFC 3339 in UTC.
    pub event_time: String,
}

/// What a completion event says about the output blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputBlob {
    /// The blob's URL, without credentials.
    pub url: String,
    pub content_length: u64,
    pub etag: Option<String>,
}

/// The `BlobCreated` event for an item's output blob: with the `scaleboard` result extension
/// as the worker sends it, or without, as an Event Grid subscription delivers it.
pub fn blob_created(
    run_id: &str,
    item: u32,
    blob: &OutputBlob,
    result: Option<ResultExtension>,
    stamp: Stamp,
) -> EventGridEvent {
    let data = BlobCreatedData {
        api: "PutBlob".into(),
        e_tag: blob.etag.clone(),
        content_type: "application/json".into(),
        content_length: blob.content_length,
        blob_type: "BlockBlob".into(),
        url: blob.url.clone(),
        // Event Grid's sequencer orders events per blob; the write time in hex, zero-padded to
        // its 32 characters, orders them the same way.
        sequencer: format!("{:032x}", stamp.at_ms),
        scaleboard: result,
    };
    EventGridEvent {
        id: stamp.id,
        topic: None,
        subject: output_subject(run_id, item),
        event_type: BLOB_CREATED.into(),
        event_time: stamp.event_time,
        data: serde_json::to_value(data).unwrap_or_default(),
        data_version: String::new(),
        metadata_version: Some("1".into()),
    }
}

/// The `Scaleboard.ItemFailed` event for an item whose message went to the poison queue.
pub fn item_failed(
    run_id: &str,
    item: u32,
    reason: &str,
    dequeue_count: u32,
    stamp: Stamp,
) -> EventGridEvent {
    let data = ItemFailedData {
        run_id: run_id.into(),
        item,
        reason: reason.into(),
        dequeue_count,
    };
    EventGridEvent {
        id: stamp.id,
        topic: None,
        subject: format!("/runs/{run_id}/items/{item:06}"),
        event_type: ITEM_FAILED.into(),
        event_time: stamp.event_time,
        data: serde_json::to_value(data).unwrap_or_default(),
        data_version: "1".into(),
        metadata_version: Some("1".into()),
    }
}

/// Why an event could not be understood.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownEvent(pub String);

impl std::fmt::Display for UnknownEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UnknownEvent {}

impl EventGridEvent {
    /// This event with `trace`'s fields added to its `data` (nothing added for an empty
    /// context, or when `data` is not an object).
    #[must_use]
    pub fn with_trace(mut self, trace: &TraceContext) -> Self {
        if let serde_json::Value::Object(data) = &mut self.data {
            for (key, value) in [
                ("traceparent", &trace.traceparent),
                ("tracestate", &trace.tracestate),
            ] {
                if let Some(value) = value {
                    data.insert(key.into(), value.clone().into());
                }
            }
        }
        self
    }

    /// The trace context in this event's `data`, empty when it carries none.
    pub fn trace(&self) -> TraceContext {
        let field = |key: &str| {
            self.data
                .get(key)
                .and_then(serde_json::Value::as_str)
                .map(str::to_string)
        };
        TraceContext {
            traceparent: field("traceparent"),
            tracestate: field("tracestate"),
        }
    }

    /// What this event says about an item, or why it says nothing Scaleboard knows.
    pub fn item_event(&self) -> Result<ItemEvent, UnknownEvent> {
        match self.event_type.as_str() {
            BLOB_CREATED => {
                let path = self
                    .subject
                    .strip_prefix("/blobServices/default/containers/output/blobs/")
                    .ok_or_else(|| UnknownEvent(format!("not an output blob: {}", self.subject)))?;
                let (run_id, item) = parse_item_blob(path)
                    .ok_or_else(|| UnknownEvent(format!("not an item blob: {}", self.subject)))?;
                let data: BlobCreatedData = serde_json::from_value(self.data.clone())
                    .map_err(|e| UnknownEvent(format!("BlobCreated data: {e}")))?;
                Ok(ItemEvent::Completed {
                    run_id: run_id.to_string(),
                    item,
                    result: data.scaleboard,
                })
            }
            ITEM_FAILED => {
                let data: ItemFailedData = serde_json::from_value(self.data.clone())
                    .map_err(|e| UnknownEvent(format!("ItemFailed data: {e}")))?;
                Ok(ItemEvent::Failed {
                    run_id: data.run_id,
                    item: data.item,
                    reason: data.reason,
                })
            }
            other => Err(UnknownEvent(format!("event type {other}"))),
        }
    }
}

/// Event Grid delivers to a storage queue either one event or an array of them.
pub fn parse_events(json: &str) -> Result<Vec<EventGridEvent>, serde_json::Error> {
    if json.trim_start().starts_with('[') {
        serde_json::from_str(json)
    } else {
        serde_json::from_str(json).map(|event| vec![event])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A BlobCreated event as Event Grid delivers it (from Azure's documentation, trimmed).
    const FROM_EVENT_GRID: &str = r#"{
      "topic": "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct",
      "subject": "/blobServices/default/containers/output/blobs/run-7/000012.json",
      "eventType": "Microsoft.Storage.BlobCreated",
      "id": "831e1650-001e-001b-66ab-eeb76e069631",
      "data": {
        "api": "PutBlob",
        "clientRequestId": "6d79dbfb-0e37-4fc4-981f-442c9ca65760",
        "requestId": "831e1650-001e-001b-66ab-eeb76e000000",
        "eTag": "0x8D4BCC2E4835CD0",
        "contentType": "application/json",
        "contentLength": 524,
        "blobType": "BlockBlob",
        "url": "https://acct.blob.core.windows.net/output/run-7/000012.json",
        "sequencer": "00000000000004420000000000028963",
        "storageDiagnostics": { "batchId": "b68529f3-68cd-4744-baa4-3c0498ec19f0" }
      },
      "dataVersion": "",
      "metadataVersion": "1",
      "eventTime": "2017-06-26T18:41:00.9584103Z"
    }"#;

    #[test]
    fn event_grid_blob_created_is_a_completion_without_result() {
        let events = parse_events(FROM_EVENT_GRID).unwrap();
        assert_eq!(
            events[0].item_event().unwrap(),
            ItemEvent::Completed {
                run_id: "run-7".into(),
                item: 12,
                result: None
            }
        );
    }

    #[test]
    fn events_carry_an_optional_trace_context() {
        let event = parse_events(FROM_EVENT_GRID).unwrap().remove(0);
        assert!(event.trace().is_empty());
        let trace = TraceContext {
            traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
            tracestate: None,
        };
        let traced = event.clone().with_trace(&trace);
        let text = serde_json::to_string(&traced).unwrap();
        let read = parse_events(&text).unwrap().remove(0);
        assert_eq!(read.trace(), trace);
        assert_eq!(read.item_event().unwrap(), event.item_event().unwrap());
        assert_eq!(
            event.clone().with_trace(&TraceContext::default()),
            event,
            "an empty context adds nothing"
        );
    }

    #[test]
    fn arrays_of_events_are_accepted() {
        let events = parse_events(&format!("[{FROM_EVENT_GRID},{FROM_EVENT_GRID}]")).unwrap();
        assert_eq!(events.len(), 2);
    }

    #[test]
    fn other_blobs_and_types_are_not_item_events() {
        let mut event = parse_events(FROM_EVENT_GRID).unwrap().remove(0);
        event.subject = "/blobServices/default/containers/input/blobs/run-7/000012.json".into();
        assert!(event.item_event().is_err());
        event.event_type = "Microsoft.Storage.BlobDeleted".into();
        assert!(event.item_event().is_err());
    }

    #[test]
    fn failure_events_carry_the_reason() {
        let event = EventGridEvent {
            id: "1".into(),
            topic: None,
            subject: "/runs/r/items/000003".into(),
            event_type: ITEM_FAILED.into(),
            event_time: "2026-01-01T00:00:00Z".into(),
            data: serde_json::to_value(ItemFailedData {
                run_id: "r".into(),
                item: 3,
                reason: "input blob missing".into(),
                dequeue_count: 6,
            })
            .unwrap(),
            data_version: "1".into(),
            metadata_version: None,
        };
        let json = serde_json::to_string(&event).unwrap();
        let back = parse_events(&json).unwrap().remove(0);
        assert_eq!(
            back.item_event().unwrap(),
            ItemEvent::Failed {
                run_id: "r".into(),
                item: 3,
                reason: "input blob missing".into()
            }
        );
    }

    fn stamp() -> Stamp {
        Stamp {
            id: "831e1650-001e-401b-86ab-eeb76e069631".into(),
            at_ms: 1_700_000_000_250,
            event_time: "2023-11-14T22:13:20.25Z".into(),
        }
    }

    #[test]
    fn a_built_completion_reads_back_as_the_item_with_its_result() {
        let blob = OutputBlob {
            url: "http://127.0.0.1:10000/devstoreaccount1/output/run-1/000004.json".into(),
            content_length: 210,
            etag: Some("\"0x1\"".into()),
        };
        let result = ResultExtension {
            value: 42,
            compute_ms: 7,
        };
        for extension in [Some(result), None] {
            let event = blob_created("run-1", 4, &blob, extension, stamp());
            let json = serde_json::to_string(&event).unwrap();
            let back = parse_events(&json).unwrap().remove(0);
            assert_eq!(
                back.item_event().unwrap(),
                ItemEvent::Completed {
                    run_id: "run-1".into(),
                    item: 4,
                    result: extension
                }
            );
            assert_eq!(back.id, stamp().id);
            assert_eq!(back.event_time, stamp().event_time);
            let data: BlobCreatedData = serde_json::from_value(back.data).unwrap();
            assert_eq!(data.api, "PutBlob");
            assert_eq!(data.blob_type, "BlockBlob");
            assert_eq!(data.content_type, "application/json");
            assert_eq!(data.content_length, 210);
            assert_eq!(data.url, blob.url);
            assert_eq!(data.sequencer, "00000000000000000000018bcfe568fa");
            assert_eq!(data.sequencer.len(), 32);
        }
    }

    #[test]
    fn a_built_failure_reads_back_with_its_reason() {
        let event = item_failed("run-1", 9, "input blob missing", 5, stamp());
        let json = serde_json::to_string(&event).unwrap();
        let back = parse_events(&json).unwrap().remove(0);
        assert_eq!(back.subject, "/runs/run-1/items/000009");
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
    fn output_subject_matches_what_event_grid_sends() {
        assert_eq!(
            output_subject("run-7", 12),
            "/blobServices/default/containers/output/blobs/run-7/000012.json"
        );
    }
}
