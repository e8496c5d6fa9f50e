//! The fan-in's keep/drop rule: for a batch of event messages, which events are applied to
//! which runs, and afterwards which messages are deleted and which stay on the queue for
//! another try.
//!
//! Pure, so that every case is tested without a queue. The fan-in does the I/O in between —
//! reading the output blobs that completions without a result point to, then applying each
//! run's events once — and hands back what it learned. The rule:
//! - a message that is not Event Grid JSON is dropped: it will never parse, and left on the
//!   queue it would come back forever and block nothing but the log;
//! - an event that says nothing about an item of a run (another type, another container, an id
//!   that is not a run id) is ignored; it does not keep its message;
//! - a completion without its result waits for its output blob; when that read fails its
//!   message is kept, because the blob may be readable next time (its other events are still
//!   applied: applying them again later is harmless);
//! - a message is deleted only when every run it touches has its events stored, is unknown
//!   (never existed, or purged: nobody will ever want them) or refused them all (the machine
//!   would refuse them again). When storing any of its runs failed it is kept, and the queue
//!   delivers it again after its visibility timeout. Applying an event twice is harmless: the
//!   state machine counts each item once.

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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Applied {
    /// The run's state, with the events, is stored.
    Stored,
    /// No such run: it never existed here, or it was purged.
    Unknown,
    /// The state machine refused every event; it would refuse them again.
    Rejected,
    /// Storage failed; applying the events again may work.
    Failed,
}

/// What becomes of a message once its batch has been applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Fate {
    /// Delete it: what it says is stored, or can never be used.
    Delete,
    /// Delete it and say why: it is not Event Grid JSON.
    NotUnderstood(String),
    /// Leave it on the queue: something it needs failed and may work next time.
    Keep,
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
        results: &HashMap<Output, ItemResult>,
    ) -> Vec<(RunId, Vec<Event>)> {
        let mut by_run: Vec<(RunId, Vec<Event>)> = Vec::new();
        for wanted in self.wanted() {
            let (run, event) = match wanted {
                Wanted::Event(run, event) => (run, event.clone()),
                Wanted::Completion(output) => {
                    let Some(result) = results.get(output) else {
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

    /// The fate of each message, in the order they were read, given the results that could be
    /// read and how applying each run went. A run the message touches with no outcome at all
    /// was not applied, so the message is kept: only what is known to be stored is deleted.
    pub(super) fn fates(
        &self,
        results: &HashMap<Output, ItemResult>,
        applied: &HashMap<RunId, Applied>,
    ) -> Vec<Fate> {
        self.messages
            .iter()
            .map(|reading| match reading {
                Reading::NotJson(error) => Fate::NotUnderstood(error.clone()),
                Reading::Events(wanted) => {
                    let settled = wanted.iter().all(|wanted| {
                        let run = match wanted {
                            Wanted::Event(run, _) => run,
                            Wanted::Completion(output) if results.contains_key(output) => {
                                &output.run
                            }
                            Wanted::Completion(_) => return false,
                        };
                        matches!(
                            applied.get(run),
                            Some(Applied::Stored | Applied::Unknown | Applied::Rejected)
                        )
                    });
                    if settled {
                        Fate::Delete
                    } else {
                        Fate::Keep
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
        pairs.iter().map(|(id, a)| (run(id), *a)).collect()
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
    fn a_message_that_is_not_event_grid_json_is_dropped_with_the_reason() {
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
        assert!(matches!(&fates[0], Fate::NotUnderstood(e) if e.contains("expected")));
        assert!(matches!(&fates[1], Fate::NotUnderstood(e) if e.contains("missing field")));
        assert_eq!(fates[2], Fate::Delete);
    }

    #[test]
    fn events_for_a_run_not_known_or_refused_are_dropped() {
        let batch = read(&[
            one(&completed("gone", 1, Some(7))),
            one(&completed("over", 1, Some(7))),
        ]);
        let applied = outcomes(&[("gone", Applied::Unknown), ("over", Applied::Rejected)]);
        assert_eq!(
            batch.fates(&HashMap::new(), &applied),
            vec![Fate::Delete, Fate::Delete]
        );
    }

    #[test]
    fn a_run_that_was_not_stored_keeps_its_messages() {
        let batch = read(&[one(&completed("run-a", 1, Some(7)))]);
        let none = HashMap::new();
        assert_eq!(
            batch.fates(&none, &outcomes(&[("run-a", Applied::Failed)])),
            vec![Fate::Keep]
        );
        // No outcome at all: not known to be stored, so kept too.
        assert_eq!(batch.fates(&none, &HashMap::new()), vec![Fate::Keep]);
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
        let results: HashMap<Output, ItemResult> = [
            (
                output(2),
                ItemResult {
                    value: 20,
                    compute_ms: 3,
                },
            ),
            (
                output(3),
                ItemResult {
                    value: 30,
                    compute_ms: 3,
                },
            ),
        ]
        .into();
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
        let partial: HashMap<Output, ItemResult> = results
            .into_iter()
            .filter(|(output, _)| output.item == 2)
            .collect();
        let events = &batch.events_by_run(&partial)[0].1;
        assert_eq!(events.len(), 2);
        assert!(matches!(events[1], Event::ItemFailed { item: 9, .. }));
        assert_eq!(
            batch.fates(&partial, &stored),
            vec![Fate::Delete, Fate::Keep]
        );
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
        let results: HashMap<Output, ItemResult> = [(
            output,
            ItemResult {
                value: 60,
                compute_ms: 3,
            },
        )]
        .into();
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
        assert_eq!(
            fates(&[("run-a", Applied::Stored), ("run-b", Applied::Failed)]),
            vec![Fate::Keep, Fate::Keep]
        );
        assert_eq!(
            fates(&[("run-a", Applied::Failed), ("run-b", Applied::Stored)]),
            vec![Fate::Keep, Fate::Delete]
        );
        assert_eq!(
            fates(&[("run-a", Applied::Unknown), ("run-b", Applied::Stored)]),
            vec![Fate::Delete, Fate::Delete]
        );
    }
}
