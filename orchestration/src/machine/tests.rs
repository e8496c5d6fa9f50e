use super::*;
use crate::event::ItemResult;
use crate::state::{Output, Progress, HISTORY_LIMIT, MAX_REASON_BYTES};
use proptest::prelude::*;
use serde_json::Value;
use std::collections::BTreeSet;

const NAME: &str = "ComputeOrchestrator";

fn id() -> RunId {
    RunId::parse("run-1").unwrap()
}

fn new_run(n: u32) -> RunState {
    RunState::new(id(), NAME, n, 1000)
}

fn requested(n: u32) -> Event {
    Event::RunRequested {
        id: id(),
        name: NAME.into(),
        input_count: n,
        at: 1000,
    }
}

fn scheduled(item: u32) -> Event {
    Event::ItemScheduled {
        item,
        at: 2000 + u64::from(item),
    }
}

fn result(item: u32) -> ItemResult {
    ItemResult {
        value: u64::from(item) * 10 + 1,
        compute_ms: 100 + item,
    }
}

fn completed(item: u32) -> Event {
    Event::ItemCompleted {
        item,
        result: result(item),
        at: 3000 + u64::from(item),
    }
}

fn failed(item: u32) -> Event {
    Event::ItemFailed {
        item,
        reason: format!("item {item} broke"),
        at: 4000 + u64::from(item),
    }
}

fn terminate(reason: &str) -> Event {
    Event::TerminateRequested {
        reason: reason.into(),
        at: 5000,
    }
}

fn suspend() -> Event {
    Event::SuspendRequested { at: 6000 }
}

fn resume() -> Event {
    Event::ResumeRequested { at: 7000 }
}

/// `ScheduleItems` for half-open ranges given as `(start, end)` pairs.
fn schedule(ranges: &[(u32, u32)]) -> Command {
    Command::ScheduleItems(ranges.iter().map(|&(start, end)| start..end).collect())
}

fn ok(state: &mut RunState, event: Event) -> Vec<Command> {
    apply(state, event).expect("event accepted")
}

/// A run with items `0..n` all scheduled.
fn running(n: u32) -> RunState {
    let mut s = new_run(n);
    ok(&mut s, requested(n));
    for i in 0..n {
        ok(&mut s, scheduled(i));
    }
    s
}

fn progress(scheduled: u32, completed: u32, failed: u32, total: u32) -> Progress {
    Progress {
        scheduled,
        completed,
        failed,
        total,
    }
}

// ---- RunRequested ----

#[test]
fn request_announces_every_item_and_changes_nothing() {
    let mut s = new_run(5);
    let before = s.clone();
    assert_eq!(ok(&mut s, requested(5)), vec![schedule(&[(0, 5)])]);
    assert_eq!(s, before);
}

#[test]
fn repeated_request_announces_only_what_is_left() {
    let mut s = new_run(5);
    ok(&mut s, scheduled(0));
    ok(&mut s, scheduled(1));
    ok(&mut s, scheduled(3));
    assert_eq!(ok(&mut s, requested(5)), vec![schedule(&[(2, 3), (4, 5)])]);
}

#[test]
fn request_of_zero_items_completes_at_once() {
    let mut s = new_run(0);
    assert_eq!(
        ok(&mut s, requested(0)),
        vec![Command::Finish(RuntimeStatus::Completed), Command::Persist]
    );
    assert_eq!(s.runtime_status(), RuntimeStatus::Completed);
    assert_eq!(s.next_to_schedule(10), Vec::<u32>::new());
}

#[test]
fn request_for_another_run_is_rejected() {
    let mut s = new_run(5);
    let other = RunId::parse("run-2").unwrap();
    let err = apply(
        &mut s,
        Event::RunRequested {
            id: other.clone(),
            name: NAME.into(),
            input_count: 5,
            at: 1,
        },
    )
    .unwrap_err();
    assert_eq!(
        err,
        ApplyError::WrongRun {
            expected: id(),
            found: other
        }
    );
    assert!(err.to_string().contains("run-2"));
}

#[test]
fn request_with_other_size_or_name_is_rejected() {
    let mut s = new_run(5);
    let before = s.clone();
    assert_eq!(
        apply(&mut s, requested(6)),
        Err(ApplyError::ConflictingRequest { id: id() })
    );
    let renamed = Event::RunRequested {
        id: id(),
        name: "Other".into(),
        input_count: 5,
        at: 1,
    };
    assert_eq!(
        apply(&mut s, renamed),
        Err(ApplyError::ConflictingRequest { id: id() })
    );
    assert_eq!(s, before);
}

#[test]
fn request_while_suspended_asks_for_nothing() {
    let mut s = new_run(5);
    ok(&mut s, suspend());
    assert_eq!(ok(&mut s, requested(5)), vec![]);
}

// ---- ItemScheduled ----

#[test]
fn first_scheduled_item_starts_the_run() {
    let mut s = new_run(3);
    assert_eq!(ok(&mut s, scheduled(1)), vec![Command::Persist]);
    assert_eq!(s.runtime_status(), RuntimeStatus::Running);
    assert!(s.is_scheduled(1));
    assert_eq!(s.progress(), progress(1, 0, 0, 3));
    assert_eq!(s.last_updated_ms(), 2001);
}

#[test]
fn duplicate_scheduling_is_a_no_op() {
    let mut s = new_run(3);
    ok(&mut s, scheduled(1));
    let before = s.clone();
    assert_eq!(ok(&mut s, scheduled(1)), vec![]);
    assert_eq!(s, before);
}

#[test]
fn scheduling_report_while_suspended_is_recorded() {
    let mut s = new_run(3);
    ok(&mut s, suspend());
    assert_eq!(ok(&mut s, scheduled(0)), vec![Command::Persist]);
    assert!(s.is_scheduled(0));
    assert_eq!(s.runtime_status(), RuntimeStatus::Suspended);
}

// ---- ItemCompleted / ItemFailed ----

#[test]
fn completion_folds_the_result_in() {
    let mut s = running(3);
    assert_eq!(ok(&mut s, completed(2)), vec![Command::Persist]);
    assert!(s.is_completed(2));
    let a = s.aggregate();
    assert_eq!((a.count, a.sum, a.xor), (1, 21, 21));
    assert_eq!((a.total_compute_ms, a.max_compute_ms), (102, 102));
    assert_eq!(s.runtime_status(), RuntimeStatus::Running);
}

#[test]
fn last_outcome_completes_the_run() {
    let mut s = running(3);
    ok(&mut s, completed(0));
    ok(&mut s, completed(2));
    assert_eq!(
        ok(&mut s, completed(1)),
        vec![Command::Finish(RuntimeStatus::Completed), Command::Persist]
    );
    assert_eq!(s.runtime_status(), RuntimeStatus::Completed);
    assert_eq!(
        s.output(),
        Output {
            completed: 3,
            failed: 0,
            sum: 1 + 11 + 21,
            xor: 1 ^ 11 ^ 21,
            total_compute_ms: 303,
            max_compute_ms: 102,
        }
    );
}

#[test]
fn any_failure_fails_the_run_once_all_are_accounted_for() {
    let mut s = running(3);
    ok(&mut s, completed(0));
    assert_eq!(ok(&mut s, failed(1)), vec![Command::Persist]);
    assert_eq!(s.runtime_status(), RuntimeStatus::Running);
    assert_eq!(
        ok(&mut s, completed(2)),
        vec![Command::Finish(RuntimeStatus::Failed), Command::Persist]
    );
    assert_eq!(s.runtime_status(), RuntimeStatus::Failed);
    assert_eq!(s.output().failed, 1);
    assert_eq!(s.output().completed, 2);
}

#[test]
fn duplicate_completions_do_not_finish_the_run_early() {
    // The original demo counted N events, not N distinct items.
    let mut s = running(3);
    ok(&mut s, completed(0));
    for _ in 0..5 {
        assert_eq!(ok(&mut s, completed(0)), vec![]);
    }
    assert_eq!(s.runtime_status(), RuntimeStatus::Running);
    assert_eq!(s.progress(), progress(3, 1, 0, 3));
    assert_eq!(s.aggregate().count, 1);
}

#[test]
fn duplicate_failures_are_ignored() {
    let mut s = running(3);
    ok(&mut s, failed(0));
    let before = s.clone();
    assert_eq!(ok(&mut s, failed(0)), vec![]);
    assert_eq!(s, before);
}

#[test]
fn first_outcome_wins_completed_then_failed() {
    let mut s = running(2);
    ok(&mut s, completed(0));
    let before = s.clone();
    assert_eq!(ok(&mut s, failed(0)), vec![]);
    assert_eq!(s, before);
    assert!(!s.is_failed(0));
}

#[test]
fn first_outcome_wins_failed_then_completed() {
    let mut s = running(2);
    ok(&mut s, failed(0));
    let before = s.clone();
    assert_eq!(ok(&mut s, completed(0)), vec![]);
    assert_eq!(s, before);
    assert!(!s.is_completed(0));
    assert_eq!(s.aggregate().count, 0);
}

#[test]
fn outcome_for_an_unscheduled_item_is_accepted_and_marks_it_scheduled() {
    let mut s = new_run(3);
    assert_eq!(ok(&mut s, completed(1)), vec![Command::Persist]);
    assert_eq!(s.runtime_status(), RuntimeStatus::Running);
    assert!(s.is_scheduled(1));
    assert_eq!(s.next_to_schedule(10), vec![0, 2]);
    ok(&mut s, failed(2));
    assert!(s.is_scheduled(2));
    assert_eq!(s.next_to_schedule(10), vec![0]);
}

#[test]
fn outcomes_alone_can_finish_a_pending_run() {
    let mut s = new_run(2);
    ok(&mut s, completed(0));
    assert_eq!(
        ok(&mut s, completed(1)),
        vec![Command::Finish(RuntimeStatus::Completed), Command::Persist]
    );
}

#[test]
fn failure_reason_is_clipped_in_history() {
    let mut s = running(2);
    let long = "x".repeat(MAX_REASON_BYTES * 3);
    ok(
        &mut s,
        Event::ItemFailed {
            item: 0,
            reason: long,
            at: 1,
        },
    );
    match s.history().last() {
        Some(Event::ItemFailed { reason, .. }) => assert_eq!(reason.len(), MAX_REASON_BYTES),
        other => panic!("unexpected last entry {other:?}"),
    }
}

// ---- Out of range ----

#[test]
fn out_of_range_items_are_rejected_without_change() {
    let mut s = running(3);
    let before = s.clone();
    for event in [scheduled(3), completed(3), failed(u32::MAX)] {
        let item = event.item().unwrap();
        assert_eq!(
            apply(&mut s, event),
            Err(ApplyError::ItemOutOfRange {
                item,
                input_count: 3
            })
        );
    }
    assert_eq!(s, before);
    let msg = apply(&mut s, completed(7)).unwrap_err().to_string();
    assert!(msg.contains("item 7") && msg.contains("3 items"), "{msg}");
}

#[test]
fn out_of_range_is_rejected_even_after_the_end() {
    let mut s = running(1);
    ok(&mut s, completed(0));
    assert!(s.is_terminal());
    assert!(matches!(
        apply(&mut s, completed(1)),
        Err(ApplyError::ItemOutOfRange { .. })
    ));
}

// ---- Terminal states ----

#[test]
fn terminal_run_ignores_everything() {
    let mut s = running(2);
    ok(&mut s, completed(0));
    ok(&mut s, failed(1));
    assert_eq!(s.runtime_status(), RuntimeStatus::Failed);
    let before = s.clone();
    for event in [
        requested(2),
        scheduled(0),
        completed(1),
        failed(0),
        terminate("late"),
        suspend(),
        resume(),
    ] {
        assert_eq!(ok(&mut s, event), vec![]);
    }
    assert_eq!(s, before);
}

// ---- TerminateRequested ----

#[test]
fn terminate_ends_the_run_and_keeps_the_reason() {
    let mut s = new_run(4);
    ok(&mut s, scheduled(0));
    assert_eq!(
        ok(&mut s, terminate("operator said so")),
        vec![Command::Finish(RuntimeStatus::Terminated), Command::Persist]
    );
    assert_eq!(s.runtime_status(), RuntimeStatus::Terminated);
    assert_eq!(s.terminate_reason(), Some("operator said so"));
    assert_eq!(s.next_to_schedule(10), Vec::<u32>::new());
    assert_eq!(ok(&mut s, completed(0)), vec![]);
    assert_eq!(ok(&mut s, requested(4)), vec![]);
    assert!(!s.is_completed(0));
}

#[test]
fn terminate_clips_a_long_reason() {
    let mut s = new_run(1);
    ok(&mut s, terminate(&"y".repeat(10_000)));
    assert_eq!(s.terminate_reason().unwrap().len(), MAX_REASON_BYTES);
}

#[test]
fn suspended_run_can_be_terminated() {
    let mut s = new_run(2);
    ok(&mut s, suspend());
    ok(&mut s, terminate("stop"));
    assert_eq!(s.runtime_status(), RuntimeStatus::Terminated);
    assert_eq!(ok(&mut s, resume()), vec![]);
    assert_eq!(s.runtime_status(), RuntimeStatus::Terminated);
}

// ---- Suspend / Resume ----

#[test]
fn suspend_pauses_scheduling() {
    let mut s = new_run(4);
    ok(&mut s, scheduled(0));
    assert_eq!(ok(&mut s, suspend()), vec![Command::Persist]);
    assert_eq!(s.runtime_status(), RuntimeStatus::Suspended);
    assert_eq!(s.next_to_schedule(10), Vec::<u32>::new());
    assert_eq!(ok(&mut s, suspend()), vec![], "already suspended");
}

#[test]
fn finished_run_cannot_be_suspended() {
    // A run of zero items finishes at its request.
    let mut s = running(0);
    assert_eq!(ok(&mut s, suspend()), vec![]);
    assert_eq!(s.runtime_status(), RuntimeStatus::Completed);
}

#[test]
fn resume_of_a_run_that_is_not_suspended_is_a_no_op() {
    let mut s = running(2);
    let before = s.clone();
    assert_eq!(ok(&mut s, resume()), vec![]);
    assert_eq!(s, before);
}

#[test]
fn suspended_run_keeps_recording_outcomes() {
    let mut s = running(3);
    ok(&mut s, suspend());
    assert_eq!(ok(&mut s, completed(0)), vec![Command::Persist]);
    assert_eq!(ok(&mut s, failed(1)), vec![Command::Persist]);
    assert_eq!(s.progress(), progress(3, 1, 1, 3));
    assert_eq!(s.runtime_status(), RuntimeStatus::Suspended);
}

#[test]
fn run_done_while_suspended_stays_suspended_until_resumed() {
    let mut s = running(2);
    ok(&mut s, suspend());
    ok(&mut s, completed(0));
    assert_eq!(ok(&mut s, completed(1)), vec![Command::Persist]);
    assert_eq!(s.runtime_status(), RuntimeStatus::Suspended);
    assert_eq!(
        ok(&mut s, resume()),
        vec![Command::Finish(RuntimeStatus::Completed), Command::Persist]
    );
    assert_eq!(s.runtime_status(), RuntimeStatus::Completed);
}

#[test]
fn resume_continues_scheduling_where_it_stopped() {
    let mut s = new_run(5);
    ok(&mut s, scheduled(0));
    ok(&mut s, scheduled(1));
    ok(&mut s, suspend());
    assert_eq!(
        ok(&mut s, resume()),
        vec![schedule(&[(2, 5)]), Command::Persist]
    );
    assert_eq!(s.runtime_status(), RuntimeStatus::Running);
    assert_eq!(s.next_to_schedule(2), vec![2, 3]);
}

#[test]
fn resume_before_anything_was_scheduled_returns_to_pending() {
    let mut s = new_run(2);
    ok(&mut s, suspend());
    assert_eq!(
        ok(&mut s, resume()),
        vec![schedule(&[(0, 2)]), Command::Persist]
    );
    assert_eq!(s.runtime_status(), RuntimeStatus::Pending);
}

// ---- Views ----

#[test]
fn next_to_schedule_is_ascending_and_bounded() {
    let mut s = new_run(10);
    assert_eq!(s.next_to_schedule(3), vec![0, 1, 2]);
    ok(&mut s, scheduled(1));
    assert_eq!(s.next_to_schedule(3), vec![0, 2, 3]);
    assert_eq!(s.next_to_schedule(0), Vec::<u32>::new());
    for i in 0..10 {
        ok(&mut s, scheduled(i));
    }
    assert_eq!(s.next_to_schedule(3), Vec::<u32>::new());
}

#[test]
fn custom_status_is_the_progress() {
    let mut s = running(4);
    ok(&mut s, completed(0));
    ok(&mut s, failed(3));
    assert_eq!(s.custom_status(), progress(4, 1, 1, 4));
    assert_eq!(
        serde_json::to_value(s.custom_status()).unwrap(),
        serde_json::json!({"scheduled": 4, "completed": 1, "failed": 1, "total": 4})
    );
}

#[test]
fn history_records_only_changes() {
    let mut s = new_run(3);
    ok(&mut s, requested(3));
    ok(&mut s, scheduled(0));
    ok(&mut s, scheduled(0));
    ok(&mut s, completed(0));
    ok(&mut s, completed(0));
    let kinds: Vec<String> = s
        .history()
        .map(|e| serde_json::to_value(e).unwrap()["type"].to_string())
        .collect();
    assert_eq!(
        kinds,
        [
            r#""RunRequested""#,
            r#""ItemScheduled""#,
            r#""ItemCompleted""#
        ]
    );
}

// ---- apply_all ----

#[test]
fn batch_persists_once_at_the_end() {
    let mut s = new_run(4);
    let batch = apply_all(&mut s, (0..4).map(scheduled).chain([completed(0)]));
    assert_eq!(batch.commands, vec![Command::Persist]);
    assert!(batch.rejected.is_empty());
    assert_eq!(s.progress(), progress(4, 1, 0, 4));
}

#[test]
fn batch_reports_rejected_events_and_applies_the_rest() {
    let mut s = running(3);
    let batch = apply_all(&mut s, [completed(0), completed(9), completed(1)]);
    assert_eq!(
        batch.rejected,
        vec![Rejected {
            index: 1,
            error: ApplyError::ItemOutOfRange {
                item: 9,
                input_count: 3
            }
        }]
    );
    assert_eq!(batch.commands, vec![Command::Persist]);
    assert_eq!(s.progress().completed, 2);
}

#[test]
fn batch_finish_comes_before_the_single_persist() {
    let mut s = running(2);
    let batch = apply_all(&mut s, [completed(0), completed(1), completed(1)]);
    assert_eq!(
        batch.commands,
        vec![Command::Finish(RuntimeStatus::Completed), Command::Persist]
    );
}

#[test]
fn batch_drops_scheduling_that_a_later_event_cancelled() {
    let mut s = new_run(3);
    let batch = apply_all(&mut s, [requested(3), terminate("no")]);
    assert_eq!(
        batch.commands,
        vec![Command::Finish(RuntimeStatus::Terminated), Command::Persist]
    );
    let mut s = new_run(3);
    let batch = apply_all(&mut s, [requested(3), suspend()]);
    assert_eq!(batch.commands, vec![Command::Persist]);
}

#[test]
fn batch_schedules_what_is_left_after_the_batch() {
    let mut s = new_run(4);
    let batch = apply_all(&mut s, [requested(4), scheduled(0), scheduled(1)]);
    assert_eq!(batch.commands, vec![schedule(&[(2, 4)]), Command::Persist]);
}

#[test]
fn empty_batch_does_nothing() {
    let mut s = running(2);
    let before = s.clone();
    assert_eq!(
        apply_all(&mut s, []),
        Batch {
            commands: vec![],
            rejected: vec![]
        }
    );
    assert_eq!(s, before);
}

// ---- Size ----

#[test]
fn a_100k_item_run_stays_well_under_100_kb() {
    const N: u32 = 100_000;
    let mut s = new_run(N);
    for i in 0..N {
        ok(&mut s, scheduled(i));
    }
    // Worst case for the bitsets (completed and failed interleaved, nothing compresses) and for
    // the history (full of failures with reasons of the longest kept length).
    let reason = "r".repeat(MAX_REASON_BYTES * 2);
    for i in (0..N).step_by(2) {
        ok(&mut s, completed(i));
    }
    for i in (1..N).step_by(2) {
        ok(
            &mut s,
            Event::ItemFailed {
                item: i,
                reason: reason.clone(),
                at: 1_700_000_000_000 + u64::from(i),
            },
        );
    }
    assert_eq!(s.runtime_status(), RuntimeStatus::Failed);
    assert_eq!(s.history().len(), HISTORY_LIMIT);
    let json = serde_json::to_string(&s).unwrap();
    assert!(json.len() < 100_000, "{} bytes", json.len());
    let back: RunState = serde_json::from_str(&json).unwrap();
    assert_eq!(back, s);
}

// ---- Properties ----

/// The state as JSON without its history, which records arrival order by design.
fn core(state: &RunState) -> Value {
    let mut v = serde_json::to_value(state).unwrap();
    v.as_object_mut().unwrap().remove("history");
    v
}

/// For each item of a run: `None` = completes with its result, `Some(reason)` = fails.
fn outcome_plan() -> impl Strategy<Value = Vec<Option<String>>> {
    proptest::collection::vec(proptest::option::weighted(0.2, "[a-z]{0,8}"), 1..60)
}

fn outcome_events(plan: &[Option<String>]) -> Vec<Event> {
    plan.iter()
        .enumerate()
        .map(|(i, outcome)| {
            let item = i as u32;
            match outcome {
                None => completed(item),
                Some(reason) => Event::ItemFailed {
                    item,
                    reason: reason.clone(),
                    at: 4000 + u64::from(item),
                },
            }
        })
        .collect()
}

/// The outcome events of `plan` with some scheduling reports and duplicates mixed in, shuffled.
fn shuffled_with_duplicates() -> impl Strategy<Value = (Vec<Option<String>>, Vec<Event>)> {
    outcome_plan().prop_flat_map(|plan| {
        let n = plan.len();
        let events = outcome_events(&plan);
        let extra = (
            proptest::collection::vec(0..n, 0..2 * n),
            proptest::collection::vec(0..n as u32, 0..n),
        );
        (Just(plan), Just(events), extra).prop_flat_map(|(plan, events, (dups, sched))| {
            let mut all = events.clone();
            all.extend(dups.iter().map(|&d| events[d].clone()));
            all.extend(sched.into_iter().map(scheduled));
            (Just(plan), Just(all).prop_shuffle())
        })
    })
}

/// Any event, for any item in `0..n + 2` (so some are out of range).
fn any_event(n: u32) -> impl Strategy<Value = Event> {
    let item = 0..n + 2;
    let at = 0u64..10_000;
    prop_oneof![
        4 => (item.clone(), at.clone()).prop_map(|(item, at)| Event::ItemScheduled { item, at }),
        4 => (item.clone(), any::<u64>(), any::<u32>(), at.clone()).prop_map(
            |(item, value, compute_ms, at)| Event::ItemCompleted {
                item,
                result: ItemResult { value, compute_ms },
                at,
            }
        ),
        2 => (item, "[a-z]{0,4}", at.clone())
            .prop_map(|(item, reason, at)| Event::ItemFailed { item, reason, at }),
        1 => at.clone().prop_map(move |at| Event::RunRequested {
            id: id(),
            name: NAME.into(),
            input_count: n,
            at,
        }),
        1 => at.clone().prop_map(|at| Event::SuspendRequested { at }),
        1 => at.clone().prop_map(|at| Event::ResumeRequested { at }),
        1 => (at, "[a-z]{0,4}").prop_map(|(at, reason)| Event::TerminateRequested { reason, at }),
    ]
}

fn run_and_events() -> impl Strategy<Value = (u32, Vec<Event>)> {
    (0u32..40).prop_flat_map(|n| (Just(n), proptest::collection::vec(any_event(n), 0..150)))
}

fn assert_invariants(s: &RunState) -> Result<(), TestCaseError> {
    let p = s.progress();
    prop_assert!(p.completed + p.failed <= p.total);
    prop_assert!(p.scheduled <= p.total);
    prop_assert!(p.completed + p.failed <= p.scheduled);
    prop_assert!(s.completed.is_disjoint(&s.failed));
    prop_assert_eq!(s.aggregate().count, p.completed);
    prop_assert!(s.history().len() <= HISTORY_LIMIT);
    Ok(())
}

proptest! {
    #[test]
    fn order_and_duplicates_of_outcomes_do_not_matter(
        (plan, shuffled) in shuffled_with_duplicates()
    ) {
        let n = plan.len() as u32;
        let mut reference = new_run(n);
        for event in outcome_events(&plan) {
            ok(&mut reference, event);
        }
        let mut s = new_run(n);
        let mut finishes = 0;
        for event in shuffled {
            let commands = ok(&mut s, event);
            finishes += commands.iter().filter(|c| matches!(c, Command::Finish(_))).count();
        }
        let expected = if plan.iter().all(Option::is_none) {
            RuntimeStatus::Completed
        } else {
            RuntimeStatus::Failed
        };
        prop_assert_eq!(s.runtime_status(), expected);
        prop_assert_eq!(finishes, 1);
        prop_assert_eq!(core(&s), core(&reference));
    }

    #[test]
    fn a_batch_reaches_the_same_state_as_single_events(
        (plan, shuffled) in shuffled_with_duplicates(),
        chunk in 1usize..20,
    ) {
        let n = plan.len() as u32;
        let mut single = new_run(n);
        for event in shuffled.clone() {
            ok(&mut single, event);
        }
        let mut batched = new_run(n);
        for events in shuffled.chunks(chunk) {
            let batch = apply_all(&mut batched, events.to_vec());
            prop_assert!(batch.rejected.is_empty());
            let persists = batch.commands.iter().filter(|c| **c == Command::Persist).count();
            prop_assert!(persists <= 1);
            if persists == 1 {
                prop_assert_eq!(batch.commands.last(), Some(&Command::Persist));
            }
        }
        prop_assert_eq!(batched, single);
    }

    #[test]
    fn any_event_sequence_keeps_the_invariants((n, events) in run_and_events()) {
        let mut s = new_run(n);
        for event in events {
            let before = s.clone();
            let out_of_range = event.item().is_some_and(|i| i >= n);
            match apply(&mut s, event) {
                Ok(commands) => {
                    prop_assert!(!out_of_range);
                    // Persist exactly when the state changed, and always last.
                    prop_assert_eq!(commands.contains(&Command::Persist), s != before);
                    if let Some(pos) = commands.iter().position(|c| *c == Command::Persist) {
                        prop_assert_eq!(pos, commands.len() - 1);
                    }
                    if before.is_terminal() {
                        prop_assert!(commands.is_empty());
                        prop_assert_eq!(&s, &before);
                    }
                }
                Err(_) => {
                    prop_assert!(out_of_range);
                    prop_assert_eq!(&s, &before);
                }
            }
            assert_invariants(&s)?;
        }
        let json = serde_json::to_string(&s).unwrap();
        let back: RunState = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back, s);
    }

    #[test]
    fn a_terminated_run_never_schedules_again(
        (n, mut events) in run_and_events(),
        cut in any::<prop::sample::Index>(),
    ) {
        let at = cut.index(events.len() + 1);
        events.insert(at, terminate("stop"));
        let mut s = new_run(n);
        let mut terminated = false;
        for event in events {
            let commands = ok_or_empty(&mut s, event);
            if terminated {
                prop_assert!(commands.is_empty());
            }
            terminated |= s.runtime_status() == RuntimeStatus::Terminated;
            if terminated {
                prop_assert!(s.next_to_schedule(usize::MAX).is_empty());
            }
        }
        // The inserted terminate ends the run unless it had already finished on its own.
        prop_assert!(s.is_terminal());
    }

    #[test]
    fn next_to_schedule_never_repeats_an_item(
        n in 0u32..80,
        steps in proptest::collection::vec((0u8..6, 0usize..7, any::<prop::sample::Index>()), 0..80),
    ) {
        let mut s = new_run(n);
        ok(&mut s, requested(n));
        let mut handed_out = BTreeSet::new();
        for (op, limit, pick) in steps {
            match op {
                0..=2 => {
                    let batch = s.next_to_schedule(limit);
                    prop_assert!(batch.len() <= limit);
                    prop_assert!(batch.windows(2).all(|w| w[0] < w[1]));
                    for item in batch {
                        prop_assert!(!s.is_scheduled(item));
                        prop_assert!(handed_out.insert(item), "item {} handed out twice", item);
                        ok(&mut s, scheduled(item));
                    }
                }
                3 if n > 0 => {
                    // A completion the driver learns of, scheduled or not.
                    ok(&mut s, completed(pick.index(n as usize) as u32));
                }
                4 => { ok(&mut s, suspend()); }
                5 => { ok(&mut s, resume()); }
                _ => {}
            }
        }
        // Drive to the end: everything not yet handed out is still obtainable exactly once.
        ok(&mut s, resume());
        loop {
            let batch = s.next_to_schedule(7);
            if batch.is_empty() {
                break;
            }
            for item in batch {
                prop_assert!(handed_out.insert(item), "item {} handed out twice", item);
                ok(&mut s, scheduled(item));
            }
        }
        prop_assert_eq!(s.progress().scheduled, n);
    }
}

fn ok_or_empty(state: &mut RunState, event: Event) -> Vec<Command> {
    apply(state, event).unwrap_or_default()
}
