//! What travels through the work queue and the blobs of each item.
//!
//! A run's item `i` is an input blob `input/{runId}/{i:06}.json` plus a message on queue
//! `work-items`; a worker writes `output/{runId}/{i:06}.json`. Names are deterministic so that
//! every write is idempotent: a redelivered message overwrites the same output with the same
//! content.

use serde::{Deserialize, Serialize};

use crate::trace::TraceContext;

/// The message on queue `work-items` (JSON, base64-encoded in the queue as the Azure SDKs and
/// KEDA expect).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkItem {
    pub run_id: String,
    pub item: u32,
    /// Path of the input blob inside container `input`, e.g. `{runId}/000042.json`.
    pub input_blob: String,
    /// The trace of the server's fan-out of this item, continued by the worker: `traceparent`
    /// and `tracestate` fields, absent when the server exports no traces.
    #[serde(flatten)]
    pub trace: TraceContext,
    /// When the run was created (ms since the epoch): which run of that id the item belongs
    /// to, since a purged run's id may be used again. A worker drops the item when the run's
    /// [`Cancellation`] names the same creation time, or when the message has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_created_ms: Option<u64>,
}

impl WorkItem {
    /// This message, carrying `trace`.
    #[must_use]
    pub fn traced(mut self, trace: TraceContext) -> Self {
        self.trace = trace;
        self
    }
}

/// The marker a terminated or purged run leaves in container `orchestrations` at
/// [`cancellation_blob`]: workers that find it drop the run's messages without computing them.
/// It outlives the purge, so messages still in the queue afterwards are dropped too.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cancellation {
    pub run_id: String,
    /// Creation time of the run cancelled: a later run under the same id is not cancelled.
    pub run_created_ms: u64,
    /// When it was cancelled (ms since the epoch).
    pub at_ms: u64,
}

impl Cancellation {
    /// Whether a message naming this run and created at `run_created_ms` (absent in messages
    /// that do not say) is of the run cancelled.
    pub fn covers(&self, run_created_ms: Option<u64>) -> bool {
        run_created_ms.is_none_or(|created| created == self.run_created_ms)
    }
}

/// Path of a run's [`Cancellation`] inside container `orchestrations`: `cancelled/{runId}`,
/// which no run document (`{runId}.json`) can be named.
pub fn cancellation_blob(run_id: &str) -> String {
    format!("cancelled/{run_id}")
}

/// The content of an input blob, deterministic from the run id and the item number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemInput {
    pub run_id: String,
    pub item: u32,
    /// Seed of the computation.
    pub seed: u64,
    /// Rounds of SHA-256 to compute; 0 for throughput tests.
    pub cost: u32,
    /// When set, the computation fails with this reason: lets a demo show the poison path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail: Option<String>,
}

/// The content of an output blob.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemOutput {
    pub run_id: String,
    pub item: u32,
    /// The first 8 bytes of the final digest, big-endian: the item's checkable result.
    pub value: u64,
    /// The final digest, hex.
    pub digest: String,
    pub cost: u32,
    /// Which worker computed it (pod name or local pod id).
    pub worker: String,
    pub started_ms: u64,
    pub finished_ms: u64,
    pub compute_ms: u32,
}

/// Path of item `item`'s blob inside its container: `{runId}/{item:06}.json`.
pub fn item_blob(run_id: &str, item: u32) -> String {
    format!("{run_id}/{item:06}.json")
}

/// Parses `{runId}/{item:06}.json` back into its parts.
pub fn parse_item_blob(path: &str) -> Option<(&str, u32)> {
    let (run_id, file) = path.rsplit_once('/')?;
    let digits = file.strip_suffix(".json")?;
    if run_id.is_empty() || digits.len() < 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((run_id, digits.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_blob_names_round_trip() {
        assert_eq!(item_blob("run-1", 42), "run-1/000042.json");
        assert_eq!(parse_item_blob("run-1/000042.json"), Some(("run-1", 42)));
        assert_eq!(
            parse_item_blob("run-1/1234567.json"),
            Some(("run-1", 1_234_567))
        );
        for bad in [
            "000042.json",
            "/000042.json",
            "run/42.json",
            "run/00004x.json",
            "run/000042.txt",
        ] {
            assert_eq!(parse_item_blob(bad), None, "{bad}");
        }
    }

    #[test]
    fn work_item_json_uses_camel_case() {
        let json = serde_json::to_value(WorkItem {
            run_id: "r".into(),
            item: 3,
            input_blob: "r/000003.json".into(),
            trace: TraceContext::default(),
            run_created_ms: None,
        })
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!({"runId": "r", "item": 3, "inputBlob": "r/000003.json"})
        );
    }

    #[test]
    fn work_items_carry_an_optional_trace_context() {
        let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let traced = WorkItem {
            run_id: "r".into(),
            item: 3,
            input_blob: "r/000003.json".into(),
            trace: TraceContext {
                traceparent: Some(traceparent.into()),
                tracestate: Some("congo=t61rcWkgMzE".into()),
            },
            run_created_ms: Some(7),
        };
        let json = serde_json::to_value(&traced).unwrap();
        assert_eq!(json["traceparent"], traceparent);
        assert_eq!(json["tracestate"], "congo=t61rcWkgMzE");
        assert_eq!(serde_json::from_value::<WorkItem>(json).unwrap(), traced);
        // A message from a sender that knows nothing of traces still parses.
        let old: WorkItem =
            serde_json::from_str(r#"{"runId":"r","item":3,"inputBlob":"r/000003.json"}"#).unwrap();
        assert!(old.trace.is_empty());
    }

    #[test]
    fn a_cancellation_covers_its_own_run_and_messages_that_do_not_say() {
        let cancelled = Cancellation {
            run_id: "r".into(),
            run_created_ms: 7,
            at_ms: 9,
        };
        assert!(cancelled.covers(Some(7)));
        assert!(cancelled.covers(None));
        assert!(!cancelled.covers(Some(8)), "a later run under the same id");
        assert_eq!(cancellation_blob("r"), "cancelled/r");
        let json = serde_json::to_value(&cancelled).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"runId": "r", "runCreatedMs": 7, "atMs": 9})
        );
    }
}
