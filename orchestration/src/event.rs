//! What the state machine consumes ([`Event`]) and what it asks the driver to do ([`Command`]).

use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::run_id::RunId;
use crate::state::RuntimeStatus;

/// Something that happened to a run, with the time it happened (`at`, milliseconds since the
/// Unix epoch). Times come from the caller so the machine needs no clock and replays exactly.
///
/// Serialized internally tagged (`{"type":"ItemCompleted","item":3,...}`), the same shape whether
/// it is logged, queued or kept in a run's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all_fields = "camelCase")]
pub enum Event {
    /// A run was asked for. Re-delivery is harmless: it re-announces what is still unscheduled.
    RunRequested {
        /// The run it is for; must match the state it is applied to.
        id: RunId,
        /// Orchestrator name, e.g. `ComputeOrchestrator`.
        name: String,
        /// Number of items N.
        input_count: u32,
        /// When it happened.
        at: u64,
    },
    /// The driver wrote item `item`'s input blob and queue message.
    ItemScheduled {
        /// Item index, `0..N`.
        item: u32,
        /// When it happened.
        at: u64,
    },
    /// A worker finished item `item` (its output blob exists).
    ItemCompleted {
        /// Item index, `0..N`.
        item: u32,
        /// What the worker computed.
        result: ItemResult,
        /// When it happened.
        at: u64,
    },
    /// Item `item` failed for good (the driver decides when retries are exhausted).
    ItemFailed {
        /// Item index, `0..N`.
        item: u32,
        /// Why, for people reading the history. Clipped to [`crate::MAX_REASON_BYTES`].
        reason: String,
        /// When it happened.
        at: u64,
    },
    /// Someone asked to stop the run.
    TerminateRequested {
        /// Why. Clipped to [`crate::MAX_REASON_BYTES`].
        reason: String,
        /// When it happened.
        at: u64,
    },
    /// Someone asked to pause scheduling.
    SuspendRequested {
        /// When it happened.
        at: u64,
    },
    /// Someone asked to continue a suspended run.
    ResumeRequested {
        /// When it happened.
        at: u64,
    },
}

impl Event {
    /// When the event happened.
    pub fn at(&self) -> u64 {
        match self {
            Event::RunRequested { at, .. }
            | Event::ItemScheduled { at, .. }
            | Event::ItemCompleted { at, .. }
            | Event::ItemFailed { at, .. }
            | Event::TerminateRequested { at, .. }
            | Event::SuspendRequested { at }
            | Event::ResumeRequested { at } => *at,
        }
    }

    /// The item the event is about, for the events that are about one item.
    pub fn item(&self) -> Option<u32> {
        match self {
            Event::ItemScheduled { item, .. }
            | Event::ItemCompleted { item, .. }
            | Event::ItemFailed { item, .. } => Some(*item),
            _ => None,
        }
    }
}

/// The result of one item, as reported by the worker.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemResult {
    /// The computed value.
    pub value: u64,
    /// How long the computation took on the worker.
    pub compute_ms: u32,
}

/// Something the driver must do after an event was applied, in the order given.
///
/// [`Command::Persist`] always comes last: the driver performs the (idempotent) side effects,
/// then writes the state, then acknowledges the events it applied. A crash anywhere in between
/// replays the events against the last persisted state and repeats only idempotent work.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Fan out these items (input blob + queue message each), feeding [`Event::ItemScheduled`]
    /// back for each one. Ascending, non-overlapping, non-adjacent half-open ranges; usually a
    /// single range. The driver may work through them in bounded batches, or ignore the ranges and
    /// use [`crate::RunState::next_to_schedule`], which yields the same items.
    ScheduleItems(Vec<Range<u32>>),
    /// The state changed: write it.
    Persist,
    /// The run reached a terminal status: announce it, stop fanning out, clean up.
    Finish(RuntimeStatus),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_internally_tagged_with_camel_case_fields() {
        let e = Event::ItemCompleted {
            item: 3,
            result: ItemResult {
                value: 7,
                compute_ms: 5000,
            },
            at: 1_700_000_000_000,
        };
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(
            json,
            r#"{"type":"ItemCompleted","item":3,"result":{"value":7,"computeMs":5000},"at":1700000000000}"#
        );
        let back: Event = serde_json::from_str(&json).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn run_requested_round_trips_with_its_id_validated() {
        let e = Event::RunRequested {
            id: RunId::parse("r-1").unwrap(),
            name: "ComputeOrchestrator".into(),
            input_count: 10,
            at: 1,
        };
        let json = serde_json::to_string(&e).unwrap();
        assert!(json.contains(r#""inputCount":10"#), "{json}");
        assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), e);
        let bad = json.replace("r-1", "r/1");
        assert!(serde_json::from_str::<Event>(&bad).is_err());
    }

    #[test]
    fn at_and_item_accessors() {
        let e = Event::ItemFailed {
            item: 4,
            reason: "x".into(),
            at: 9,
        };
        assert_eq!(e.at(), 9);
        assert_eq!(e.item(), Some(4));
        let e = Event::SuspendRequested { at: 11 };
        assert_eq!(e.at(), 11);
        assert_eq!(e.item(), None);
    }
}
