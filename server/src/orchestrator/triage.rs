//! The fan-in's keep/drop rule: for a batch of event messages, which events are applied to
//! which runs, and afterwards which messages are deleted and which stay on the queue for
//! another try.
//!
//! Pure, so that every case is tested without a queue. The fan-in does the I/O in between —
//! reading the output blobs that completions without a result point to, then applying each
//! run's events once — and hands back what it learned. The rule:
//! - a message that is not Event Grid JSON is parked on `item-events-poison` with the parser's
//!   complaint: it will never parse, and left on the queue it would come back forever;
//! - an event that says nothing about an item of a run (another type, another container, an id
//!   that is not a run id) is ignored; it does not keep its message;
//! - a completion without its result waits for its output blob; when that read fails its
//!   message is kept, because the blob may be readable next time (its other events are still
//!   applied: applying them again later is harmless);
//! - a message is deleted when every run it touches has its events stored. When storing any of
//!   its runs failed it is kept, and the queue delivers it again after its visibility timeout.
//!   Applying an event twice is harmless: the state machine counts each item once;
//! - a message that touches a run that is unknown (never existed, or purged) or that refused
//!   its events (the machine would refuse them again) is parked with the reason, unless
//!   something else in it may still work next time: then it is kept, like any other;
//! - a message for a run another server owns (and none that needs a retry here) is forwarded:
//!   sent again to the queue for its owner, as a new message, then deleted. Left on the queue
//!   instead, it would use up the deliveries that give a message up (below) on servers that
//!   may never apply it; forwarded, it keeps them for its owner. The copy is sent before the
//!   original is deleted, so a crash in between makes a duplicate (counted once), never a loss;
//! - a kept message is given up after a bounded number of deliveries ([`give_up_at`], the
//!   same convention as the worker's `work-items-poison`): an output blob that is not there
//!   (its run purged while its events waited, or an event from another writer) would otherwise
//!   return every visibility timeout forever. An output that does exist is still counted by
//!   the periodic reconciliation, which lists the outputs and needs no event.

use std::collections::HashMap;

use orchestration::{Event, ItemResult, RunId};
use protocol::events::{parse_events, EventGridEvent, ItemEvent};

/// An item whose result has to be read from its output blob.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Output {
    pub(super) run: RunId,
    pub(super) item: u32,
}

/// What one event of a message asks of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Wanted {
    /// This event, applied to this run as it is.
    Event(RunId, Event),
    /// A completion that does not carry its result (Event Grid's own `BlobCreated`): applied
    /// once the output blob is read.
    Completion(Output),
}

/// One message, read.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Reading {
    /// Not Event Grid JSON: the parser's complaint.
    NotJson(String),
    /// What its events ask, in order; events about no item of a run are left out.
    Events(Vec<Wanted>),
}

/// How applying one run's events went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Applied {
    /// The run's state, with the events, is stored.
    Stored,
    /// No such run: it never existed here, or it was purged.
    Unknown,
    /// The state machine refused every event, for this reason; it would refuse them again.
    Rejected(String),
    /// Storage failed, for this reason; applying the events again may work.
    Failed(String),
    /// Another server owns the run: the events are its to apply.
    Elsewhere,
}

/// What reading an output blob gave: the result, or why there is none (yet).
pub(super) type Read = Result<ItemResult, String>;

/// What becomes of a message once its batch has been applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Fate {
    /// Delete it: what it says is stored, or concerns no run.
    Delete,
    /// Leave it on the queue, for this reason: something it needs failed and may work next
    /// time.
    Keep(String),
    /// Park it on `item-events-poison` with this reason, then delete it: it can never be
    /// applied.
    Poison(String),
    /// Send it again, for the server that owns its run, then delete it.
    Forward,
}

/// The delivery on which a message that is still kept is parked instead: the `max`th, as the
/// worker parks a work item on its `max_dequeue`th failure (a `max` of 0 counts as 1).
pub(super) fn give_up_at(fate: Fate, dequeue_count: u32, max: u32) -> Fate {
    match fate {
        Fate::Keep(why) if dequeue_count >= max.max(1) => {
            Fate::Poison(format!("{why}; given up after {dequeue_count} deliveries"))
        }
        other => other,
    }
}

/// A batch of event messages, read once.
#[derive(Clone, Debug)]
pub(super) struct Batch {
    messages: Vec<Reading>,
    /// When the batch was read: the time its events are stamped with.
    at: u64,
}

impl Batch {
    /// Reads each message's text (one Event Grid event or an array of them).
    pub(super) fn read<'a>(texts: impl IntoIterator<Item = &'a str>, at: u64) -> Batch {
        let messages = texts
            .into_iter()
            .map(|text| match parse_events(text) {
                Err(e) => Reading::NotJson(e.to_string()),
                Ok(events) => Reading::Events(
                    events
                        .iter()
                        .filter_map(|event| wanted(event, at))
                        .collect(),
                ),
            })
            .collect();
        Batch { messages, at }
    }

    /// The output blobs to read before the events can be applied, each once, in the order the
    /// messages name them.
    pub(super) fn outputs(&self) -> Vec<Output> {
        let mut outputs: Vec<Output> = Vec::new();
        for wanted in self.wanted() {
            if let Wanted::Completion(output) = wanted {
                if !outputs.contains(output) {
                    outputs.push(output.clone());
                }
            }
        }
        outputs
    }

    /// The events to apply, per run: runs in the order they first appear, events in the order
    /// they arrived, duplicates included (the machine counts an item once, so one persist
    /// covers them all). Completions whose output could not be read are left out.
    pub(super) fn events_by_run(
        &self,
        results: &HashMap<Output, Read>,
    ) -> Vec<(RunId, Vec<Event>)> {
        let mut by_run: Vec<(RunId, Vec<Event>)> = Vec::new();
        for wanted in self.wanted() {
            let (run, event) = match wanted {
                Wanted::Event(run, event) => (run, event.clone()),
                Wanted::Completion(output) => {
                    let Some(Ok(result)) = results.get(output) else {
                        continue;
                    };
                    let event = Event::ItemCompleted {
                        item: output.item,
                        result: *result,
                        at: self.at,
                    };
                    (&output.run, event)
                }
            };
            match by_run.iter_mut().find(|(known, _)| known == run) {
                Some((_, events)) => events.push(event),
                None => by_run.push((run.clone(), vec![event])),
            }
        }
        by_run
    }

    /// The fate of each message, in the order they were read, given what reading each output
    /// gave and how applying each run went. A run the message touches with no outcome at all
    /// was not applied, so the message is kept: only what is known to be stored is deleted.
    /// A message is parked only when nothing in it may work next time.
    pub(super) fn fates(
        &self,
        results: &HashMap<Output, Read>,
        applied: &HashMap<RunId, Applied>,
    ) -> Vec<Fate> {
        self.messages
            .iter()
            .map(|reading| match reading {
                Reading::NotJson(error) => Fate::Poison(format!("not Event Grid JSON: {error}")),
                Reading::Events(wanted) => {
                    let mut retry = Vec::new();
                    let mut never = Vec::new();
                    let mut elsewhere = false;
                    for wanted in wanted {
                        let run = match wanted {
                            Wanted::Event(run, _) => run,
                            Wanted::Completion(output) => match results.get(output) {
                                Some(Ok(_)) => &output.run,
                                Some(Err(why)) => {
                                    push_once(&mut retry, why.clone());
                                    continue;
                                }
                                None => {
                                    push_once(
                                        &mut retry,
                                        format!(
                                            "the output of {} item {} was not read",
                                            output.run, output.item
                                        ),
                                    );
                                    continue;
                                }
                            },
                        };
                        match applied.get(run) {
                            Some(Applied::Stored) => {}
                            Some(Applied::Unknown) => push_once(
                                &mut never,
                                format!("run {run} does not exist (never started, or purged)"),
                            ),
                            Some(Applied::Rejected(why)) => push_once(
                                &mut never,
                                format!("run {run} refused the events: {why}"),
                            ),
                            Some(Applied::Failed(why)) => {
                                push_once(&mut retry, format!("storing run {run} failed: {why}"))
                            }
                            Some(Applied::Elsewhere) => elsewhere = true,
                            None => push_once(&mut retry, format!("run {run} was not applied")),
                        }
                    }
                    match (retry.is_empty(), never.is_empty()) {
                        (true, _) if elsewhere => Fate::Forward,
                        (true, true) => Fate::Delete,
                        (true, false) => Fate::Poison(never.join("; ")),
                        (false, _) => {
                            retry.extend(never);
                            Fate::Keep(retry.join("; "))
                        }
                    }
                }
            })
            .collect()
    }

    fn wanted(&self) -> impl Iterator<Item = &Wanted> {
        self.messages.iter().flat_map(|reading| match reading {
            Reading::NotJson(_) => [].iter(),
            Reading::Events(wanted) => wanted.iter(),
        })
    }
}

/// Adds `reason` unless it is there already (a message may name one run many times).
fn push_once(reasons: &mut Vec<String>, reason: String) {
    if !reasons.contains(&reason) {
        reasons.push(reason);
    }
}

/// What an Event Grid event asks of a run; `None` for an event that is not about an item of a
/// run (another event type, a blob outside `output`, an id that is not a run id).
fn wanted(event: &EventGridEvent, at: u64) -> Option<Wanted> {
    match event.item_event().ok()? {
        ItemEvent::Completed {
            run_id,
            item,
            result,
        } => {
            let run = RunId::parse(&run_id).ok()?;
            Some(match result {
                Some(r) => Wanted::Event(
                    run,
                    Event::ItemCompleted {
                        item,
                        result: ItemResult {
                            value: r.value,
                            compute_ms: r.compute_ms,
                        },
                        at,
                    },
                ),
                None => Wanted::Completion(Output { run, item }),
            })
        }
        ItemEvent::Failed {
            run_id,
            item,
            reason,
        } => Some(Wanted::Event(
            RunId::parse(&run_id).ok()?,
            Event::ItemFailed { item, reason, at },
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::events::{blob_created, item_failed, OutputBlob, ResultExtension, Stamp};

    const AT: u64 = 1_700_000_000_000;

    fn run(id: &str) -> RunId {
        RunId::parse(id).unwrap()
    }

    fn stamp() -> Stamp {
        Stamp {
            id: "831e1650-001e-401b-86ab-eeb76e069631".into(),
            at_ms: AT - 500,
            event_time: "2023-11-14T22:13:19.5Z".into(),
        }
    }

    /// A completion event; with `value` it carries the result as the worker sends it, without
    /// it is Event Grid's own event.
    fn completed(run_id: &str, item: u32, value: Option<u64>) -> EventGridEvent {
        let blob = OutputBlob {
            url: format!("http://127.0.0.1:10000/devstoreaccount1/output/{run_id}/{item:06}.json"),
            content_length: 100,
            etag: None,
        };
        let result = value.map(|value| ResultExtension {
            value,
            compute_ms: 3,
        });
        blob_created(run_id, item, &blob, result, stamp())
    }

    fn failed(run_id: &str, item: u32) -> EventGridEvent {
        item_failed(run_id, item, "input blob missing", 6, stamp())
    }

    fn one(event: &EventGridEvent) -> String {
        serde_json::to_string(event).unwrap()
    }

    fn many(events: &[EventGridEvent]) -> String {
        serde_json::to_string(events).unwrap()
    }

    fn completion(item: u32, value: u64) -> Event {
        Event::ItemCompleted {
            item,
            result: ItemResult {
                value,
                compute_ms: 3,
            },
            at: AT,
        }
    }

    fn read(texts: &[String]) -> Batch {
        Batch::read(texts.iter().map(String::as_str), AT)
    }

    fn outcomes(pairs: &[(&str, Applied)]) -> HashMap<RunId, Applied> {
        pairs.iter().map(|(id, a)| (run(id), a.clone())).collect()
    }

    fn failed_store() -> Applied {
        Applied::Failed("timed out".into())
    }

    fn kept(fate: &Fate) -> bool {
        matches!(fate, Fate::Keep(_))
    }

    fn result(value: u64) -> Read {
        Ok(ItemResult {
            value,
            compute_ms: 3,
        })
    }

    #[test]
    fn a_worker_completion_is_applied_and_its_message_deleted_once_stored() {
        let batch = read(&[one(&completed("run-a", 4, Some(42)))]);
        let none = HashMap::new();
        assert!(batch.outputs().is_empty());
        assert_eq!(
            batch.events_by_run(&none),
            vec![(run("run-a"), vec![completion(4, 42)])]
        );
        assert_eq!(
            batch.fates(&none, &outcomes(&[("run-a", Applied::Stored)])),
            vec![Fate::Delete]
        );
    }

    #[test]
    fn an_unknown_event_type_applies_nothing_and_is_deleted() {
        let mut deleted = completed("run-a", 4, Some(42));
        deleted.event_type = "Microsoft.Storage.BlobDeleted".into();
        let mut input = completed("run-a", 5, Some(42));
        input.subject = "/blobServices/default/containers/input/blobs/run-a/000005.json".into();
        let batch = read(&[one(&deleted), one(&input)]);
        let none = HashMap::new();
        assert!(batch.outputs().is_empty());
        assert!(batch.events_by_run(&none).is_empty());
        assert_eq!(
            batch.fates(&none, &HashMap::new()),
            vec![Fate::Delete, Fate::Delete]
        );
    }

    #[test]
    fn an_event_whose_run_id_is_not_a_run_id_is_ignored() {
        let batch = read(&[one(&failed("not_a_run", 1))]);
        assert!(batch.events_by_run(&HashMap::new()).is_empty());
        assert_eq!(
            batch.fates(&HashMap::new(), &HashMap::new()),
            vec![Fate::Delete]
        );
    }

    #[test]
    fn a_message_that_is_not_event_grid_json_is_parked_with_the_reason() {
        let batch = read(&[
            "not json".to_string(),
            r#"{"id": "1"}"#.to_string(),
            one(&completed("run-a", 1, Some(7))),
        ]);
        let none = HashMap::new();
        // The good message in the same batch is applied all the same.
        assert_eq!(
            batch.events_by_run(&none),
            vec![(run("run-a"), vec![completion(1, 7)])]
        );
        let fates = batch.fates(&none, &outcomes(&[("run-a", Applied::Stored)]));
        assert!(matches!(&fates[0], Fate::Poison(e) if e.contains("expected")));
        assert!(matches!(&fates[1], Fate::Poison(e) if e.contains("missing field")));
        assert_eq!(fates[2], Fate::Delete);
    }

    #[test]
    fn events_for_a_run_not_known_or_refused_are_parked_with_the_reason() {
        let batch = read(&[
            one(&completed("gone", 1, Some(7))),
            one(&completed("over", 1, Some(7))),
        ]);
        let applied = outcomes(&[
            ("gone", Applied::Unknown),
            ("over", Applied::Rejected("item 1 is out of range".into())),
        ]);
        assert_eq!(
            batch.fates(&HashMap::new(), &applied),
            vec![
                Fate::Poison("run gone does not exist (never started, or purged)".into()),
                Fate::Poison("run over refused the events: item 1 is out of range".into()),
            ]
        );
    }

    #[test]
    fn a_run_that_was_not_stored_keeps_its_messages() {
        let batch = read(&[one(&completed("run-a", 1, Some(7)))]);
        let none = HashMap::new();
        assert_eq!(
            batch.fates(&none, &outcomes(&[("run-a", failed_store())])),
            vec![Fate::Keep("storing run run-a failed: timed out".into())]
        );
        // No outcome at all: not known to be stored, so kept too.
        assert!(kept(&batch.fates(&none, &HashMap::new())[0]));
    }

    #[test]
    fn a_completion_without_its_result_waits_for_its_output_blob() {
        let batch = read(&[
            one(&completed("run-a", 2, None)),
            many(&[completed("run-a", 3, None), failed("run-a", 9)]),
        ]);
        let output = |item| Output {
            run: run("run-a"),
            item,
        };
        assert_eq!(batch.outputs(), vec![output(2), output(3)]);

        // Both blobs read: the completions carry what they hold.
        let results: HashMap<Output, Read> =
            [(output(2), result(20)), (output(3), result(30))].into();
        let events = &batch.events_by_run(&results)[0].1;
        assert_eq!(events[0], completion(2, 20));
        assert_eq!(events[1], completion(3, 30));
        let stored = outcomes(&[("run-a", Applied::Stored)]);
        assert_eq!(
            batch.fates(&results, &stored),
            vec![Fate::Delete, Fate::Delete]
        );

        // Item 3's blob could not be read: its message is kept, the failure beside it is still
        // applied (it will be applied again, harmlessly), and the other message goes.
        let mut partial = results.clone();
        partial.insert(
            output(3),
            Err("output run-a/000003.json does not exist".into()),
        );
        let events = &batch.events_by_run(&partial)[0].1;
        assert_eq!(events.len(), 2);
        assert!(matches!(events[1], Event::ItemFailed { item: 9, .. }));
        assert_eq!(
            batch.fates(&partial, &stored),
            vec![
                Fate::Delete,
                Fate::Keep("output run-a/000003.json does not exist".into())
            ]
        );
        // Not read at all (no answer yet): kept as well.
        let unread: HashMap<Output, Read> = [(output(2), result(20))].into();
        assert!(kept(&batch.fates(&unread, &stored)[1]));
    }

    #[test]
    fn a_failure_event_is_applied_with_its_reason() {
        let batch = read(&[one(&failed("run-a", 3))]);
        assert_eq!(
            batch.events_by_run(&HashMap::new()),
            vec![(
                run("run-a"),
                vec![Event::ItemFailed {
                    item: 3,
                    reason: "input blob missing".into(),
                    at: AT
                }]
            )]
        );
        assert_eq!(
            batch.fates(&HashMap::new(), &outcomes(&[("run-a", Applied::Stored)])),
            vec![Fate::Delete]
        );
    }

    #[test]
    fn duplicates_in_one_batch_are_applied_together_and_all_deleted() {
        let twice = one(&completed("run-a", 5, Some(50)));
        let from_grid = one(&completed("run-a", 6, None));
        let batch = read(&[twice.clone(), from_grid.clone(), twice, from_grid]);
        let output = Output {
            run: run("run-a"),
            item: 6,
        };
        // The blob is read once however many messages name it.
        assert_eq!(batch.outputs(), vec![output.clone()]);
        let results: HashMap<Output, Read> = [(output, result(60))].into();
        // One persist for the run; the machine counts each item once.
        assert_eq!(
            batch.events_by_run(&results),
            vec![(
                run("run-a"),
                vec![
                    completion(5, 50),
                    completion(6, 60),
                    completion(5, 50),
                    completion(6, 60)
                ]
            )]
        );
        assert_eq!(
            batch.fates(&results, &outcomes(&[("run-a", Applied::Stored)])),
            vec![Fate::Delete; 4]
        );
    }

    #[test]
    fn an_array_touching_two_runs_is_deleted_only_when_both_are_settled() {
        let batch = read(&[
            many(&[completed("run-a", 1, Some(10)), failed("run-b", 2)]),
            one(&completed("run-b", 3, Some(30))),
        ]);
        let by_run = batch.events_by_run(&HashMap::new());
        assert_eq!(
            by_run
                .iter()
                .map(|(r, e)| (r.as_str(), e.len()))
                .collect::<Vec<_>>(),
            vec![("run-a", 1), ("run-b", 2)]
        );
        let none = HashMap::new();
        let fates = |pairs: &[(&str, Applied)]| batch.fates(&none, &outcomes(pairs));
        assert_eq!(
            fates(&[("run-a", Applied::Stored), ("run-b", Applied::Stored)]),
            vec![Fate::Delete, Fate::Delete]
        );
        // run-b's store failed: both messages touching it stay; run-a's events are stored.
        let both_kept = fates(&[("run-a", Applied::Stored), ("run-b", failed_store())]);
        assert!(both_kept.iter().all(kept), "{both_kept:?}");
        let first_kept = fates(&[("run-a", failed_store()), ("run-b", Applied::Stored)]);
        assert!(kept(&first_kept[0]));
        assert_eq!(first_kept[1], Fate::Delete);
        let first_parked = fates(&[("run-a", Applied::Unknown), ("run-b", Applied::Stored)]);
        assert!(matches!(&first_parked[0], Fate::Poison(why) if why.contains("run-a")));
        assert_eq!(first_parked[1], Fate::Delete);
        // One run gone, the other not stored: kept (run-b may be stored next time), and the
        // reason names both, for the record it may end as.
        let mixed = fates(&[("run-a", Applied::Unknown), ("run-b", failed_store())]);
        assert!(
            matches!(&mixed[0], Fate::Keep(why) if why.contains("run-b") && why.contains("run-a")),
            "{mixed:?}"
        );
    }

    #[test]
    fn a_kept_message_is_parked_on_its_last_allowed_delivery() {
        let keep = || Fate::Keep("output run-a/000001.json does not exist".into());
        for delivery in 1..5 {
            assert_eq!(
                give_up_at(keep(), delivery, 5),
                keep(),
                "delivery {delivery}"
            );
        }
        for delivery in [5, 6, u32::MAX] {
            assert_eq!(
                give_up_at(keep(), delivery, 5),
                Fate::Poison(format!(
                    "output run-a/000001.json does not exist; given up after {delivery} deliveries"
                ))
            );
        }
        // Deleted and parked messages are not affected by the count.
        assert_eq!(give_up_at(Fate::Delete, 99, 5), Fate::Delete);
        let parked = Fate::Poison("not Event Grid JSON".into());
        assert_eq!(give_up_at(parked.clone(), 1, 5), parked);
        // A cap of 0 is taken as 1: the first delivery is the last.
        assert!(matches!(give_up_at(keep(), 1, 0), Fate::Poison(_)));
    }
}
