//! The state of one run, and the read-only views the server shows of it.
//!
//! [`RunState`] is persisted as one JSON document per run. Its fields change only through
//! [`crate::apply`]; reading it back validates every invariant the machine keeps, so a document
//! edited by hand or cut short fails loudly instead of finishing a run wrongly.

use std::collections::VecDeque;
use std::fmt;
use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::bitset::ItemSet;
use crate::event::{Event, ItemResult};
use crate::run_id::RunId;

/// How many history entries a run keeps. The oldest are dropped first: the history is for people
/// looking at a run (`showHistory=true`), the bitsets are what the machine relies on.
pub const HISTORY_LIMIT: usize = 100;

/// Longest failure or termination reason kept, in bytes; longer ones are clipped at a character
/// boundary. Reasons come from outside (a caller, a worker's error), and the document must stay
/// small whatever they say.
pub const MAX_REASON_BYTES: usize = 200;

/// The runtime status, `customStatus` and `output` of a run are part of the Durable Functions
/// contract, so they live in `protocol`; the machine decides them.
pub use protocol::durable::{Output, Progress, RuntimeStatus};

/// Order-independent summary of the completed items' results: every field is a commutative,
/// associative fold, so any order of completions gives the same aggregate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Aggregate {
    /// Number of results folded in.
    pub count: u32,
    /// Wrapping sum of the values (wrapping, so it never panics and stays order-independent).
    pub sum: u64,
    /// Xor of the values: a cheap check that the same set of values arrived.
    pub xor: u64,
    /// Sum of the compute times.
    pub total_compute_ms: u64,
    /// Longest compute time.
    pub max_compute_ms: u32,
}

impl Aggregate {
    /// Folds one result in.
    pub fn add(&mut self, result: ItemResult) {
        self.count += 1;
        self.sum = self.sum.wrapping_add(result.value);
        self.xor ^= result.value;
        self.total_compute_ms += u64::from(result.compute_ms);
        self.max_compute_ms = self.max_compute_ms.max(result.compute_ms);
    }
}

/// The durable state of one run.
///
/// Invariants (kept by [`crate::apply`], checked when deserializing):
/// - every item in a set is `< input_count`;
/// - `completed` and `failed` are disjoint and both inside `scheduled`;
/// - `aggregate.count == completed.count()`;
/// - `Completed` means all N completed; `Failed` means all N accounted for with at least one
///   failure; `Running` means some item is scheduled and not all are accounted for; `Pending`
///   means nothing is scheduled; `terminate_reason` is present exactly when `Terminated`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "Unchecked")]
pub struct RunState {
    pub(crate) id: RunId,
    pub(crate) name: String,
    pub(crate) input_count: u32,
    pub(crate) runtime_status: RuntimeStatus,
    pub(crate) scheduled: ItemSet,
    pub(crate) completed: ItemSet,
    pub(crate) failed: ItemSet,
    pub(crate) created_ms: u64,
    pub(crate) last_updated_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) terminate_reason: Option<String>,
    pub(crate) aggregate: Aggregate,
    pub(crate) history: VecDeque<Event>,
}

impl RunState {
    /// A new run of `input_count` items, `Pending`, with its request as the first history entry.
    ///
    /// The driver writes this document (create-only), then applies the same
    /// [`Event::RunRequested`] to learn what to schedule; a re-delivered request does the same.
    pub fn new(id: RunId, name: impl Into<String>, input_count: u32, created_ms: u64) -> RunState {
        let name = name.into();
        let mut history = VecDeque::with_capacity(1);
        history.push_back(Event::RunRequested {
            id: id.clone(),
            name: name.clone(),
            input_count,
            at: created_ms,
        });
        RunState {
            id,
            name,
            input_count,
            runtime_status: RuntimeStatus::Pending,
            scheduled: ItemSet::new(),
            completed: ItemSet::new(),
            failed: ItemSet::new(),
            created_ms,
            last_updated_ms: created_ms,
            terminate_reason: None,
            aggregate: Aggregate::default(),
            history,
        }
    }

    /// The run id.
    pub fn id(&self) -> &RunId {
        &self.id
    }

    /// The orchestrator name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// N, the number of items.
    pub fn input_count(&self) -> u32 {
        self.input_count
    }

    /// The runtime status.
    pub fn runtime_status(&self) -> RuntimeStatus {
        self.runtime_status
    }

    /// Whether the run is over (`Completed`, `Failed` or `Terminated`).
    pub fn is_terminal(&self) -> bool {
        self.runtime_status.is_terminal()
    }

    /// When the run was requested, in milliseconds since the Unix epoch.
    pub fn created_ms(&self) -> u64 {
        self.created_ms
    }

    /// The latest `at` of any event that changed the state. A maximum rather than "the last
    /// one applied", so events that arrive out of order cannot move it backwards.
    pub fn last_updated_ms(&self) -> u64 {
        self.last_updated_ms
    }

    /// Why the run was terminated, if it was.
    pub fn terminate_reason(&self) -> Option<&str> {
        self.terminate_reason.as_deref()
    }

    /// The fold of the completed items' results.
    pub fn aggregate(&self) -> Aggregate {
        self.aggregate
    }

    /// The last [`HISTORY_LIMIT`] events that changed the state, oldest first. Events ignored as
    /// duplicates or after the end are not recorded.
    pub fn history(&self) -> impl ExactSizeIterator<Item = &Event> + '_ {
        self.history.iter()
    }

    /// Whether `item` has been scheduled (or is known done, which implies it was).
    pub fn is_scheduled(&self, item: u32) -> bool {
        self.scheduled.contains(item)
    }

    /// Whether `item` completed.
    pub fn is_completed(&self, item: u32) -> bool {
        self.completed.contains(item)
    }

    /// Whether `item` failed.
    pub fn is_failed(&self, item: u32) -> bool {
        self.failed.contains(item)
    }

    /// Counts of scheduled, completed and failed items.
    pub fn progress(&self) -> Progress {
        Progress {
            scheduled: self.scheduled.count(),
            completed: self.completed.count(),
            failed: self.failed.count(),
            total: self.input_count,
        }
    }

    /// The Durable Functions `customStatus` of the run: its progress.
    pub fn custom_status(&self) -> Progress {
        self.progress()
    }

    /// The Durable Functions `output` of the run: see [`Output`].
    pub fn output(&self) -> Output {
        Output {
            completed: self.completed.count(),
            failed: self.failed.count(),
            sum: self.aggregate.sum,
            xor: self.aggregate.xor,
            total_compute_ms: self.aggregate.total_compute_ms,
            max_compute_ms: self.aggregate.max_compute_ms,
        }
    }

    /// Up to `limit` items still to fan out, ascending; none unless `Pending` or `Running`.
    ///
    /// The driver fans these out and feeds [`Event::ItemScheduled`] back for each, so the next
    /// call continues after them: no item is returned again once it has been scheduled.
    pub fn next_to_schedule(&self, limit: usize) -> Vec<u32> {
        if self.may_schedule() {
            self.scheduled.missing(self.input_count, limit)
        } else {
            Vec::new()
        }
    }

    /// Every item not yet scheduled, as ascending half-open ranges, whatever the status.
    pub fn unscheduled(&self) -> Vec<Range<u32>> {
        self.scheduled.gaps(self.input_count)
    }

    /// Whether items may be fanned out now (`Pending` or `Running`; not suspended or over).
    pub fn may_schedule(&self) -> bool {
        matches!(
            self.runtime_status,
            RuntimeStatus::Pending | RuntimeStatus::Running
        )
    }

    /// Completed plus failed: every item with an outcome.
    pub(crate) fn accounted(&self) -> u32 {
        self.completed.count() + self.failed.count()
    }

    pub(crate) fn record(&mut self, event: Event) {
        self.last_updated_ms = self.last_updated_ms.max(event.at());
        if self.history.len() == HISTORY_LIMIT {
            self.history.pop_front();
        }
        self.history.push_back(event);
    }
}

/// Cuts `reason` to at most [`MAX_REASON_BYTES`] bytes, at a character boundary.
pub(crate) fn clip_reason(mut reason: String) -> String {
    // The longest prefix of at most MAX_REASON_BYTES that ends at a character boundary (0 always
    // does); the whole reason when it is short enough.
    let end = (0..=MAX_REASON_BYTES.min(reason.len()))
        .rev()
        .find(|&end| reason.is_char_boundary(end))
        .unwrap_or(0);
    reason.truncate(end);
    reason
}

/// The document as read, before its invariants are checked.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Unchecked {
    id: RunId,
    name: String,
    input_count: u32,
    runtime_status: RuntimeStatus,
    scheduled: ItemSet,
    completed: ItemSet,
    failed: ItemSet,
    created_ms: u64,
    last_updated_ms: u64,
    #[serde(default)]
    terminate_reason: Option<String>,
    aggregate: Aggregate,
    history: VecDeque<Event>,
}

/// Why a document is not a valid [`RunState`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidState(String);

impl fmt::Display for InvalidState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid run state: {}", self.0)
    }
}

impl std::error::Error for InvalidState {}

impl TryFrom<Unchecked> for RunState {
    type Error = InvalidState;

    fn try_from(u: Unchecked) -> Result<RunState, InvalidState> {
        let fail = |what: &str| Err(InvalidState(what.to_owned()));
        for (name, set) in [
            ("scheduled", &u.scheduled),
            ("completed", &u.completed),
            ("failed", &u.failed),
        ] {
            if set.max().is_some_and(|max| max >= u.input_count) {
                return Err(InvalidState(format!(
                    "{name} holds an item beyond inputCount {}",
                    u.input_count
                )));
            }
        }
        if !u.completed.is_disjoint(&u.failed) {
            return fail("an item is both completed and failed");
        }
        if !u.completed.is_subset(&u.scheduled) || !u.failed.is_subset(&u.scheduled) {
            return fail("an item has an outcome but is not scheduled");
        }
        if u.aggregate.count != u.completed.count() {
            return fail("aggregate count differs from the completed items");
        }
        if u.history.len() > HISTORY_LIMIT {
            return fail("history is longer than its limit");
        }
        let accounted = u.completed.count() + u.failed.count();
        let all_done = accounted == u.input_count;
        let status_fits = match u.runtime_status {
            RuntimeStatus::Pending => u.scheduled.count() == 0,
            RuntimeStatus::Running => u.scheduled.count() > 0 && !all_done,
            RuntimeStatus::Completed => u.completed.count() == u.input_count,
            RuntimeStatus::Failed => all_done && u.failed.count() > 0,
            RuntimeStatus::Terminated | RuntimeStatus::Suspended => true,
        };
        if !status_fits {
            return Err(InvalidState(format!(
                "runtimeStatus {:?} does not fit the item sets",
                u.runtime_status
            )));
        }
        if u.terminate_reason.is_some() != (u.runtime_status == RuntimeStatus::Terminated) {
            return fail("terminateReason is present exactly when the run is Terminated");
        }
        Ok(RunState {
            id: u.id,
            name: u.name,
            input_count: u.input_count,
            runtime_status: u.runtime_status,
            scheduled: u.scheduled,
            completed: u.completed,
            failed: u.failed,
            created_ms: u.created_ms,
            last_updated_ms: u.last_updated_ms,
            terminate_reason: u.terminate_reason,
            aggregate: u.aggregate,
            history: u.history,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn state(n: u32) -> RunState {
        RunState::new(
            RunId::parse("run-1").unwrap(),
            "ComputeOrchestrator",
            n,
            1000,
        )
    }

    #[test]
    fn new_run_is_pending_with_its_request_in_history() {
        let s = state(5);
        assert_eq!(s.runtime_status(), RuntimeStatus::Pending);
        assert_eq!(
            s.progress(),
            Progress {
                scheduled: 0,
                completed: 0,
                failed: 0,
                total: 5
            }
        );
        assert_eq!(s.created_ms(), 1000);
        assert_eq!(s.last_updated_ms(), 1000);
        let history: Vec<&Event> = s.history().collect();
        assert!(matches!(
            history.as_slice(),
            [Event::RunRequested {
                input_count: 5,
                at: 1000,
                ..
            }]
        ));
        assert_eq!(s.unscheduled(), vec![0..5]);
    }

    #[test]
    fn a_run_reports_the_id_name_and_size_it_was_created_with() {
        let s = RunState::new(RunId::parse("run-9").unwrap(), "Fanout", 7, 1000);
        assert_eq!(s.id().as_str(), "run-9");
        assert_eq!(s.name(), "Fanout");
        assert_eq!(s.input_count(), 7);
        assert_eq!(s.terminate_reason(), None);
        assert_eq!(s.aggregate(), Aggregate::default());
    }

    #[test]
    fn runtime_status_uses_durable_functions_names() {
        for (status, name) in [
            (RuntimeStatus::Pending, "Pending"),
            (RuntimeStatus::Running, "Running"),
            (RuntimeStatus::Completed, "Completed"),
            (RuntimeStatus::Failed, "Failed"),
            (RuntimeStatus::Terminated, "Terminated"),
            (RuntimeStatus::Suspended, "Suspended"),
        ] {
            assert_eq!(serde_json::to_value(status).unwrap(), json!(name));
        }
    }

    #[test]
    fn only_completed_failed_and_terminated_are_terminal() {
        assert!(RuntimeStatus::Completed.is_terminal());
        assert!(RuntimeStatus::Failed.is_terminal());
        assert!(RuntimeStatus::Terminated.is_terminal());
        assert!(!RuntimeStatus::Pending.is_terminal());
        assert!(!RuntimeStatus::Running.is_terminal());
        assert!(!RuntimeStatus::Suspended.is_terminal());
    }

    #[test]
    fn document_shape_is_camel_case_and_compact() {
        let v = serde_json::to_value(state(3)).unwrap();
        assert_eq!(v["id"], json!("run-1"));
        assert_eq!(v["name"], json!("ComputeOrchestrator"));
        assert_eq!(v["inputCount"], json!(3));
        assert_eq!(v["runtimeStatus"], json!("Pending"));
        assert_eq!(v["scheduled"], json!(""));
        assert_eq!(v["createdMs"], json!(1000));
        assert!(
            v.get("terminateReason").is_none(),
            "absent while not terminated"
        );
        assert_eq!(v["aggregate"]["count"], json!(0));
    }

    #[test]
    fn aggregate_wraps_instead_of_overflowing() {
        let mut a = Aggregate::default();
        a.add(ItemResult {
            value: u64::MAX,
            compute_ms: 10,
        });
        a.add(ItemResult {
            value: 2,
            compute_ms: 30,
        });
        assert_eq!(a.count, 2);
        assert_eq!(a.sum, 1);
        assert_eq!(a.xor, u64::MAX ^ 2);
        assert_eq!(a.total_compute_ms, 40);
        assert_eq!(a.max_compute_ms, 30);
    }

    #[test]
    fn clip_reason_respects_char_boundaries() {
        let short = "fine".to_owned();
        assert_eq!(clip_reason(short), "fine");
        let long = "é".repeat(MAX_REASON_BYTES); // two bytes each
        let clipped = clip_reason(long);
        assert!(clipped.len() <= MAX_REASON_BYTES);
        assert_eq!(clipped.len(), MAX_REASON_BYTES);
        let odd = format!("a{}", "é".repeat(MAX_REASON_BYTES));
        assert_eq!(clip_reason(odd).len(), MAX_REASON_BYTES - 1);
    }

    #[test]
    fn history_keeps_only_the_latest_entries() {
        let mut s = state(1);
        for at in 0..(HISTORY_LIMIT as u64 + 10) {
            s.record(Event::SuspendRequested { at: 2000 + at });
        }
        assert_eq!(s.history().len(), HISTORY_LIMIT);
        assert_eq!(s.history().next().unwrap().at(), 2010);
        assert_eq!(s.last_updated_ms(), 2000 + HISTORY_LIMIT as u64 + 9);
    }

    #[test]
    fn record_never_moves_last_updated_backwards() {
        let mut s = state(1);
        s.record(Event::SuspendRequested { at: 5000 });
        s.record(Event::ResumeRequested { at: 4000 });
        assert_eq!(s.last_updated_ms(), 5000);
    }

    fn parse(v: Value) -> Result<RunState, String> {
        serde_json::from_value(v).map_err(|e| e.to_string())
    }

    fn valid_doc() -> Value {
        serde_json::to_value(state(8)).unwrap()
    }

    #[test]
    fn valid_document_parses() {
        assert_eq!(parse(valid_doc()).unwrap(), state(8));
    }

    #[test]
    fn rejects_items_beyond_input_count() {
        let mut v = valid_doc();
        v["runtimeStatus"] = json!("Running");
        v["scheduled"] = json!("AAE="); // item 8 of 8
        let err = parse(v).unwrap_err();
        assert!(err.contains("beyond inputCount"), "{err}");
    }

    #[test]
    fn rejects_an_item_both_completed_and_failed() {
        let mut v = valid_doc();
        v["runtimeStatus"] = json!("Running");
        v["scheduled"] = json!("Aw==");
        v["completed"] = json!("AQ==");
        v["failed"] = json!("AQ==");
        v["aggregate"]["count"] = json!(1);
        let err = parse(v).unwrap_err();
        assert!(err.contains("both completed and failed"), "{err}");
    }

    #[test]
    fn rejects_an_outcome_for_an_unscheduled_item() {
        let mut v = valid_doc();
        v["runtimeStatus"] = json!("Running");
        v["scheduled"] = json!("AQ==");
        v["completed"] = json!("Ag==");
        v["aggregate"]["count"] = json!(1);
        let err = parse(v).unwrap_err();
        assert!(err.contains("not scheduled"), "{err}");
    }

    #[test]
    fn rejects_an_aggregate_that_does_not_match() {
        let mut v = valid_doc();
        v["runtimeStatus"] = json!("Running");
        v["scheduled"] = json!("AQ==");
        v["completed"] = json!("AQ==");
        let err = parse(v).unwrap_err();
        assert!(err.contains("aggregate count"), "{err}");
    }

    #[test]
    fn rejects_a_status_that_does_not_fit() {
        let mut v = valid_doc();
        v["runtimeStatus"] = json!("Completed");
        let err = parse(v).unwrap_err();
        assert!(err.contains("does not fit"), "{err}");

        let mut v = valid_doc();
        v["runtimeStatus"] = json!("Running");
        let err = parse(v).unwrap_err();
        assert!(err.contains("does not fit"), "{err}");
    }

    #[test]
    fn rejects_terminate_reason_without_termination() {
        let mut v = valid_doc();
        v["terminateReason"] = json!("why");
        let err = parse(v).unwrap_err();
        assert!(err.contains("terminateReason"), "{err}");

        let mut v = valid_doc();
        v["runtimeStatus"] = json!("Terminated");
        assert!(parse(v).is_err());
    }

    #[test]
    fn rejects_overlong_history() {
        let mut v = valid_doc();
        let entry = v["history"][0].clone();
        v["history"] = Value::Array(vec![entry; HISTORY_LIMIT + 1]);
        let err = parse(v).unwrap_err();
        assert!(err.contains("history"), "{err}");
    }

    #[test]
    fn rejects_an_invalid_run_id_and_missing_fields() {
        let mut v = valid_doc();
        v["id"] = json!("a/b");
        assert!(parse(v).is_err());
        let mut v = valid_doc();
        v.as_object_mut().unwrap().remove("completed");
        let err = parse(v).unwrap_err();
        assert!(err.contains("completed"), "{err}");
    }

    /// A stored document of `n` items with the given status, item sets (base64), aggregate
    /// count and terminate reason; everything else as a new run writes it.
    fn stored(
        n: u32,
        status: &str,
        [scheduled, completed, failed]: [&str; 3],
        aggregate_count: u32,
        terminate_reason: Option<&str>,
    ) -> Value {
        let mut v = serde_json::to_value(state(n)).unwrap();
        v["runtimeStatus"] = json!(status);
        v["scheduled"] = json!(scheduled);
        v["completed"] = json!(completed);
        v["failed"] = json!(failed);
        v["aggregate"]["count"] = json!(aggregate_count);
        if let Some(reason) = terminate_reason {
            v["terminateReason"] = json!(reason);
        }
        v
    }

    // Item sets in their stored form: item i is bit i % 8 of byte i / 8.
    const NONE: &str = "";
    const ITEM_0: &str = "AQ==";
    const ITEM_1: &str = "Ag==";
    const ITEMS_0_1: &str = "Aw==";
    const ITEM_2: &str = "BA==";
    const ITEMS_0_1_2: &str = "Bw==";

    #[test]
    fn documents_that_keep_every_invariant_are_accepted() {
        let cases = [
            stored(3, "Pending", [NONE; 3], 0, None),
            stored(3, "Running", [ITEMS_0_1, ITEM_0, ITEM_1], 1, None),
            stored(3, "Running", [ITEM_2, NONE, NONE], 0, None),
            stored(2, "Completed", [ITEMS_0_1, ITEMS_0_1, NONE], 2, None),
            stored(2, "Failed", [ITEMS_0_1, ITEM_0, ITEM_1], 1, None),
            stored(2, "Failed", [ITEMS_0_1, NONE, ITEMS_0_1], 0, None),
            stored(2, "Suspended", [ITEMS_0_1, ITEMS_0_1, NONE], 2, None),
            stored(3, "Suspended", [NONE; 3], 0, None),
            stored(3, "Terminated", [ITEM_0, ITEM_0, NONE], 1, Some("stop")),
            stored(0, "Completed", [NONE; 3], 0, None),
        ];
        for v in cases {
            let run = parse(v.clone()).unwrap_or_else(|e| panic!("{e}: {v}"));
            assert_eq!(serde_json::to_value(&run).unwrap(), v);
        }
    }

    #[test]
    fn each_corruption_of_a_stored_document_is_rejected_with_its_reason() {
        let cases = [
            // An item at or past inputCount, in each set.
            (
                stored(2, "Running", [ITEM_2, NONE, NONE], 0, None),
                "scheduled holds an item beyond inputCount 2",
            ),
            (
                stored(2, "Running", [ITEMS_0_1, ITEM_2, NONE], 1, None),
                "completed holds an item beyond inputCount 2",
            ),
            (
                stored(2, "Running", [ITEMS_0_1, NONE, ITEM_2], 0, None),
                "failed holds an item beyond inputCount 2",
            ),
            (
                stored(3, "Running", [ITEMS_0_1, ITEM_1, ITEM_1], 1, None),
                "an item is both completed and failed",
            ),
            (
                stored(3, "Running", [ITEM_0, ITEM_0, ITEM_1], 1, None),
                "an item has an outcome but is not scheduled",
            ),
            (
                stored(3, "Running", [ITEM_1, ITEM_0, NONE], 1, None),
                "an item has an outcome but is not scheduled",
            ),
            // The aggregate must count exactly the completed items, too many or too few.
            (
                stored(3, "Running", [ITEMS_0_1, ITEMS_0_1, NONE], 1, None),
                "aggregate count differs from the completed items",
            ),
            (
                stored(3, "Running", [ITEMS_0_1, ITEM_0, NONE], 2, None),
                "aggregate count differs from the completed items",
            ),
            (
                stored(3, "Pending", [ITEM_0, NONE, NONE], 0, None),
                "runtimeStatus Pending does not fit the item sets",
            ),
            (
                stored(3, "Running", [NONE; 3], 0, None),
                "runtimeStatus Running does not fit the item sets",
            ),
            (
                stored(2, "Running", [ITEMS_0_1, ITEM_0, ITEM_1], 1, None),
                "runtimeStatus Running does not fit the item sets",
            ),
            (
                stored(2, "Completed", [ITEMS_0_1, ITEM_0, ITEM_1], 1, None),
                "runtimeStatus Completed does not fit the item sets",
            ),
            (
                stored(2, "Completed", [ITEM_0, ITEM_0, NONE], 1, None),
                "runtimeStatus Completed does not fit the item sets",
            ),
            (
                stored(2, "Failed", [ITEMS_0_1, ITEMS_0_1, NONE], 2, None),
                "runtimeStatus Failed does not fit the item sets",
            ),
            (
                stored(3, "Failed", [ITEMS_0_1, ITEM_0, ITEM_1], 1, None),
                "runtimeStatus Failed does not fit the item sets",
            ),
            (
                stored(3, "Terminated", [ITEM_0, ITEM_0, NONE], 1, None),
                "terminateReason is present exactly when the run is Terminated",
            ),
            (
                stored(3, "Suspended", [ITEM_0, ITEM_0, NONE], 1, Some("stop")),
                "terminateReason is present exactly when the run is Terminated",
            ),
        ];
        for (v, reason) in cases {
            let err = parse(v.clone()).unwrap_err();
            assert_eq!(err, format!("invalid run state: {reason}"), "{v}");
        }
    }

    #[test]
    fn history_may_be_exactly_as_long_as_its_limit() {
        let mut v = valid_doc();
        let entry = v["history"][0].clone();
        v["history"] = Value::Array(vec![entry; HISTORY_LIMIT]);
        assert_eq!(parse(v).unwrap().history().len(), HISTORY_LIMIT);
    }

    #[test]
    fn item_queries_tell_scheduled_completed_and_failed_apart() {
        let v = stored(4, "Running", [ITEMS_0_1_2, ITEM_1, ITEM_2], 1, None);
        let run = parse(v).unwrap();
        // (item, scheduled, completed, failed)
        for (item, scheduled, completed, failed) in [
            (0, true, false, false),
            (1, true, true, false),
            (2, true, false, true),
            (3, false, false, false),
            (4, false, false, false),
        ] {
            assert_eq!(run.is_scheduled(item), scheduled, "scheduled {item}");
            assert_eq!(run.is_completed(item), completed, "completed {item}");
            assert_eq!(run.is_failed(item), failed, "failed {item}");
        }
        assert_eq!(run.accounted(), 2);
    }
}
