//! The Durable Functions HTTP API's documents, as Scaleboard serves them and its page reads them.
//!
//! Field names, casing and the `null`s are Durable Functions' own, so `curl` scripts and the
//! official Durable Functions clients read Scaleboard's answers as they read Azure's. The server
//! builds these types and the dashboard deserialises them: a renamed field fails to compile on
//! both sides instead of failing silently in the browser.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The runtime status of a run, spelled as Durable Functions spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RuntimeStatus {
    /// Requested, nothing scheduled yet.
    Pending,
    /// At least one item scheduled, not all accounted for.
    Running,
    /// Every item completed.
    Completed,
    /// Every item accounted for, at least one failed.
    Failed,
    /// Stopped on request before finishing.
    Terminated,
    /// Scheduling paused on request; outcomes are still recorded.
    Suspended,
}

impl RuntimeStatus {
    /// Every status, in the order Durable Functions documents them.
    pub const ALL: [RuntimeStatus; 6] = [
        RuntimeStatus::Pending,
        RuntimeStatus::Running,
        RuntimeStatus::Completed,
        RuntimeStatus::Failed,
        RuntimeStatus::Terminated,
        RuntimeStatus::Suspended,
    ];

    /// Whether the run is over; a terminal run ignores every further event.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RuntimeStatus::Completed | RuntimeStatus::Failed | RuntimeStatus::Terminated
        )
    }

    /// Whether the run can still change (and so be suspended or terminated).
    pub fn is_active(self) -> bool {
        !self.is_terminal()
    }

    /// The name on the wire, e.g. `Running`.
    pub fn as_str(self) -> &'static str {
        match self {
            RuntimeStatus::Pending => "Pending",
            RuntimeStatus::Running => "Running",
            RuntimeStatus::Completed => "Completed",
            RuntimeStatus::Failed => "Failed",
            RuntimeStatus::Terminated => "Terminated",
            RuntimeStatus::Suspended => "Suspended",
        }
    }
}

impl fmt::Display for RuntimeStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not a runtime status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownStatus;

impl fmt::Display for UnknownStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not one of Pending, Running, Completed, Failed, Terminated, Suspended")
    }
}

impl std::error::Error for UnknownStatus {}

impl FromStr for RuntimeStatus {
    type Err = UnknownStatus;

    /// Exact names only, as Durable Functions compares them.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        RuntimeStatus::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or(UnknownStatus)
    }
}

/// What a run was started with: the document's `input`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunInput {
    pub input_count: u32,
    /// Rounds of SHA-256 per item.
    pub cost: u32,
    /// Every `fail_every`-th item (1-based) fails on purpose, to show the poison path; 0 = none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub fail_every: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// How far a run has got: the document's `customStatus`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// Items fanned out (including those known to have finished without a scheduling event).
    pub scheduled: u32,
    /// Items completed.
    pub completed: u32,
    /// Items failed.
    pub failed: u32,
    /// N.
    pub total: u32,
}

/// A run's result: the document's `output`, an order-independent fold of the completed items'
/// results plus how many items failed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Output {
    /// Items completed.
    pub completed: u32,
    /// Items failed.
    pub failed: u32,
    /// Wrapping sum of the completed items' values.
    pub sum: u64,
    /// Xor of the completed items' values.
    pub xor: u64,
    /// Sum of the compute times.
    pub total_compute_ms: u64,
    /// Longest compute time.
    pub max_compute_ms: u32,
}

/// `GET …/instances/{id}`: one run's status document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusDocument {
    pub name: String,
    pub instance_id: String,
    pub runtime_status: RuntimeStatus,
    pub input: RunInput,
    pub custom_status: Progress,
    /// `null` until the run is terminal, as in Durable Functions.
    pub output: Option<Output>,
    /// RFC 3339 UTC with milliseconds.
    pub created_time: String,
    /// RFC 3339 UTC with milliseconds.
    pub last_updated_time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminate_reason: Option<String>,
    /// With `showHistory=true`: the events that changed the run, oldest first. Their shape is
    /// the engine's own event log, for people to read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_events: Option<Vec<serde_json::Value>>,
}

/// The management URIs Durable Functions returns for a new run (`202 Accepted`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagementUris {
    pub id: String,
    pub status_query_get_uri: String,
    pub send_event_post_uri: String,
    pub terminate_post_uri: String,
    pub purge_history_delete_uri: String,
    pub restart_post_uri: String,
    pub suspend_post_uri: String,
    pub resume_post_uri: String,
}

/// `DELETE …/instances/{id}`: the purge answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PurgeResult {
    pub instances_deleted: u32,
}

/// The header that carries the paging token of the instance list, both ways.
pub const CONTINUATION_HEADER: &str = "x-ms-continuation-token";

/// The error body of every 4xx and 5xx answer of the API.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_spelled_as_durable_functions_spells_them() {
        for status in RuntimeStatus::ALL {
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
            assert_eq!(status.as_str().parse::<RuntimeStatus>(), Ok(status));
            assert_eq!(status.to_string(), status.as_str());
        }
        assert_eq!("running".parse::<RuntimeStatus>(), Err(UnknownStatus));
        assert_eq!("".parse::<RuntimeStatus>(), Err(UnknownStatus));
    }

    #[test]
    fn only_completed_failed_and_terminated_are_terminal() {
        let terminal: Vec<RuntimeStatus> = RuntimeStatus::ALL
            .into_iter()
            .filter(|s| s.is_terminal())
            .collect();
        assert_eq!(
            terminal,
            [
                RuntimeStatus::Completed,
                RuntimeStatus::Failed,
                RuntimeStatus::Terminated
            ]
        );
        assert!(RuntimeStatus::ALL
            .into_iter()
            .all(|s| s.is_active() != s.is_terminal()));
    }

    #[test]
    fn the_status_document_has_durable_functions_field_names_and_nulls() {
        let doc = StatusDocument {
            name: "ComputeOrchestrator".into(),
            instance_id: "abc".into(),
            runtime_status: RuntimeStatus::Running,
            input: RunInput {
                input_count: 3,
                cost: 0,
                fail_every: 0,
            },
            custom_status: Progress {
                scheduled: 3,
                completed: 1,
                failed: 0,
                total: 3,
            },
            output: None,
            created_time: "2026-11-26T18:00:00.000Z".into(),
            last_updated_time: "2026-11-26T18:00:01.000Z".into(),
            terminate_reason: None,
            history_events: None,
        };
        let json: serde_json::Value = serde_json::to_value(&doc).unwrap();
        let mut keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "createdTime",
                "customStatus",
                "input",
                "instanceId",
                "lastUpdatedTime",
                "name",
                "output",
                "runtimeStatus"
            ]
        );
        assert!(json["output"].is_null());
        assert_eq!(
            json["input"],
            serde_json::json!({"inputCount": 3, "cost": 0})
        );
        assert_eq!(json["customStatus"]["completed"], 1);
        let back: StatusDocument = serde_json::from_value(json).unwrap();
        assert_eq!(back, doc);
    }
}
