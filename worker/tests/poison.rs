//! Messages that cannot succeed end in the poison queue with their reason and let the run
//! finish; a message whose work was already done is completed without computing; a message
//! asking for blobs that are not its item's is poisoned without touching them.

mod common;

use std::time::Duration;

use common::{completed, config, failed, Env};
use protocol::events::{ItemEvent, ResultExtension};
use protocol::work::{item_blob, ItemInput, ItemOutput, WorkItem};
use storage::names::{INPUT_CONTAINER, OUTPUT_CONTAINER, WORK_QUEUE};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failing_messages_are_poisoned_with_their_reason() {
    let env = Env::start().await;
    let run = "run-poison";
    env.storage
        .send(WORK_QUEUE, "this is not JSON")
        .await
        .unwrap();
    env.send_work(run, 1).await; // no input blob
    env.enqueue_input(&ItemInput {
        run_id: run.into(),
        item: 2,
        seed: 2,
        cost: 10,
        fail: Some("the disk is on fire".into()),
    })
    .await;
    env.enqueue(run, 3, 0).await;

    let worker = env.spawn(worker::WorkerConfig {
        visibility_timeout: Duration::from_secs(2),
        max_dequeue: 2,
        ..config("pod-p")
    });

    let events = env
        .events_until(
            Duration::from_secs(60),
            "two failures and a completion",
            |events| failed(events, run).len() == 2 && completed(events, run).contains(&3),
        )
        .await;
    let mut failures = failed(&events, run);
    failures.sort();
    assert_eq!(failures[0].0, 1);
    assert!(failures[0].1.contains("is missing"), "{failures:?}");
    assert_eq!(failures[1].0, 2);
    assert!(
        failures[1].1.contains("the disk is on fire"),
        "{failures:?}"
    );

    let deadline = common::Deadline::after(Duration::from_secs(30), "three poison records");
    let mut records = Vec::new();
    while records.len() < 3 {
        records.extend(env.take_poison().await);
        if records.len() < 3 {
            deadline.pause().await;
        }
    }
    records.sort_by_key(|r| r.item);
    assert_eq!(records.len(), 3, "{records:?}");
    let [garbage, missing, failing] = [&records[0], &records[1], &records[2]];
    assert_eq!(garbage.message, "this is not JSON");
    assert!(garbage.reason.contains("not a work item"), "{garbage:?}");
    assert_eq!((garbage.run_id.as_deref(), garbage.item), (None, None));
    assert_eq!(missing.item, Some(1));
    assert!(missing.reason.contains("is missing"), "{missing:?}");
    assert_eq!(failing.item, Some(2));
    assert!(
        failing.reason.contains("the disk is on fire"),
        "{failing:?}"
    );
    for record in &records {
        assert_eq!(record.dequeue_count, 2, "{record:?}");
        assert_eq!(record.worker, "pod-p");
    }

    env.work_queue_drained(Duration::from_secs(10)).await;
    let stats = worker.stop(Duration::from_secs(30)).await;
    assert_eq!(stats.failed, 3, "{stats:?}");
    assert_eq!(stats.retried, 3, "{stats:?}");
    assert_eq!(stats.processed, 1, "{stats:?}");
    assert_eq!(env.output(run, 1).await, None);
    assert_eq!(env.output(run, 2).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_message_taken_too_often_is_poisoned_without_running() {
    let env = Env::start().await;
    let run = "run-crashes";
    env.enqueue(run, 0, 0).await;
    // Two workers took it and died (here: received and never deleted, made visible again).
    let dying = env.storage.with_role(storage::Role::Worker).unwrap();
    for _ in 0..2 {
        let mut taken = dying
            .receive(WORK_QUEUE, 1, Duration::from_secs(30))
            .await
            .unwrap();
        assert_eq!(taken.len(), 1);
        dying
            .set_visibility(WORK_QUEUE, &mut taken[0], Duration::ZERO)
            .await
            .unwrap();
    }

    let worker = env.spawn(worker::WorkerConfig {
        max_dequeue: 2,
        ..config("pod-c")
    });
    let events = env
        .events_until(Duration::from_secs(30), "the failure", |events| {
            !failed(events, run).is_empty()
        })
        .await;
    let failures = failed(&events, run);
    assert_eq!(failures[0].0, 0);
    assert!(failures[0].1.contains("received 3 times"), "{failures:?}");
    let stats = worker.stop(Duration::from_secs(30)).await;
    assert_eq!((stats.failed, stats.processed), (1, 0));
    assert_eq!(env.output(run, 0).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_item_already_done_is_completed_again_without_computing() {
    let env = Env::start().await;
    let run = "run-done";
    // An earlier worker wrote the output and deleted the input, then died before deleting the
    // message (and its event was lost).
    let output = ItemOutput {
        run_id: run.into(),
        item: 4,
        value: 1234,
        digest: "ab".repeat(32),
        cost: 0,
        worker: "earlier".into(),
        started_ms: 1,
        finished_ms: 2,
        compute_ms: 1,
    };
    env.storage
        .upload_blob(
            OUTPUT_CONTAINER,
            &item_blob(run, 4),
            serde_json::to_vec(&output).unwrap(),
            "application/json",
        )
        .await
        .unwrap();
    env.send_work(run, 4).await;

    let worker = env.spawn(config("pod-r"));
    let events = env
        .events_until(Duration::from_secs(30), "the completion", |events| {
            completed(events, run).contains(&4)
        })
        .await;
    assert!(events.iter().any(|e| matches!(
        e.item_event(),
        Ok(ItemEvent::Completed {
            result: Some(ResultExtension {
                value: 1234,
                compute_ms: 1
            }),
            ..
        })
    )));
    env.work_queue_drained(Duration::from_secs(10)).await;
    let stats = worker.stop(Duration::from_secs(30)).await;
    assert_eq!((stats.processed, stats.recovered), (1, 1));
    // Untouched: the earlier worker's output stands.
    assert_eq!(env.output(run, 4).await.unwrap().worker, "earlier");
}

/// Messages that ask for what they may not: the worker must not be the message writer's tool
/// for reading, writing or deleting blobs outside the item the message names.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn messages_asking_for_other_blobs_are_poisoned_untouched() {
    let env = Env::start().await;
    let run = "run-hostile";
    // Another run's input, which no message of `run` may read or delete; and the genuine input
    // of item 1 of `run`, whose message below has been tampered with.
    let victim = ItemInput {
        run_id: "victim-run".into(),
        item: 3,
        seed: 3,
        cost: 0,
        fail: None,
    };
    let genuine_1 = ItemInput {
        run_id: run.into(),
        item: 1,
        seed: 1,
        cost: 0,
        fail: None,
    };
    let mut planted = Vec::new();
    for input in [&victim, &genuine_1] {
        let path = item_blob(&input.run_id, input.item);
        let bytes = serde_json::to_vec(input).unwrap();
        env.storage
            .upload_blob(INPUT_CONTAINER, &path, bytes.clone(), "application/json")
            .await
            .unwrap();
        planted.push((path, bytes));
    }

    let huge_run_id = "\"".repeat(20_000);
    let hostile = [
        // Run ids that are not run ids, the input blob named from them as the server would.
        work_message("../victim-run", 3, "../victim-run/000003.json"),
        work_message(
            "victim-run/000003.json?",
            0,
            "victim-run/000003.json?/000000.json",
        ),
        work_message("", 3, "/000003.json"),
        work_message(&huge_run_id, 3, "victim-run/000003.json"),
        // Valid run ids whose input blob is not the item's own.
        work_message(run, 1, "victim-run/000003.json"),
        work_message(run, 2, "run-hostile/../victim-run/000003.json"),
    ];
    for message in &hostile {
        env.storage.send(WORK_QUEUE, message).await.unwrap();
    }
    env.enqueue(run, 5, 0).await;

    let worker = env.spawn(config("pod-h"));
    let events = env
        .events_until(
            Duration::from_secs(60),
            "two failures and a completion",
            |events| failed(events, run).len() == 2 && completed(events, run).contains(&5),
        )
        .await;
    let deadline = common::Deadline::after(Duration::from_secs(30), "six poison records");
    let mut records = Vec::new();
    while records.len() < hostile.len() {
        records.extend(env.take_poison().await);
        if records.len() < hostile.len() {
            deadline.pause().await;
        }
    }
    env.work_queue_drained(Duration::from_secs(10)).await;
    let stats = worker.stop(Duration::from_secs(30)).await;
    let events = [events, env.take_events().await].concat();

    // Each hostile message is parked at its first receipt, with what is wrong with it.
    assert_eq!(records.len(), hostile.len(), "{records:?}");
    let record = |message: &str| {
        records
            .iter()
            .find(|r| match r.message_length {
                None => r.message == message,
                Some(length) => {
                    length == message.chars().count() && message.starts_with(&r.message)
                }
            })
            .unwrap_or_else(|| panic!("no poison record for {message:.100}: {records:?}"))
    };
    for message in &hostile[..4] {
        let record = record(message);
        assert!(
            record.reason.starts_with("rejected: runId ")
                && record.reason.contains("is not a run id"),
            "{record:?}"
        );
        assert_eq!(
            (record.run_id.as_deref(), record.item),
            (None, None),
            "{record:?}"
        );
    }
    let huge = record(&hostile[3]);
    assert_eq!(huge.message_length, Some(hostile[3].chars().count()));
    assert!(huge.reason.len() < 300, "{}", huge.reason);
    for (message, item) in [(&hostile[4], 1), (&hostile[5], 2)] {
        let record = record(message);
        assert!(
            record.reason.contains(&format!(
                "is not the input of item {item} of run run-hostile, which is \"run-hostile/00000{item}.json\""
            )),
            "{record:?}"
        );
        assert_eq!(
            (record.run_id.as_deref(), record.item),
            (Some(run), Some(item))
        );
    }
    for record in &records {
        assert_eq!(record.dequeue_count, 1, "{record:?}");
    }

    // Only the items of the valid run are reported failed, so that `run` can finish; nothing
    // is said about runs that cannot exist.
    let mut failures = failed(&events, run);
    failures.sort();
    assert_eq!(failures.iter().map(|f| f.0).collect::<Vec<_>>(), [1, 2]);
    for event in &events {
        let about = match event.item_event() {
            Ok(ItemEvent::Completed { run_id, .. } | ItemEvent::Failed { run_id, .. }) => run_id,
            Err(error) => panic!("an event the server cannot read: {error}: {event:?}"),
        };
        assert_eq!(about, run, "{event:?}");
    }

    // Nothing was read into an output, written or deleted for them; the good item was done.
    for (path, bytes) in &planted {
        let still = env
            .storage
            .download_blob(INPUT_CONTAINER, path)
            .await
            .unwrap();
        assert_eq!(
            still.as_ref(),
            Some(bytes),
            "{INPUT_CONTAINER}/{path} was touched"
        );
    }
    let outputs = env
        .storage
        .list_blob_names(OUTPUT_CONTAINER, "")
        .await
        .unwrap();
    assert_eq!(outputs, [item_blob(run, 5)]);
    assert_eq!(env.output(run, 5).await.unwrap().worker, "pod-h");
    let inputs = env
        .storage
        .list_blob_names(INPUT_CONTAINER, "")
        .await
        .unwrap();
    assert_eq!(
        inputs.len(),
        2,
        "the good item's input is deleted, the rest stay: {inputs:?}"
    );
    assert_eq!(
        (stats.failed, stats.retried, stats.processed),
        (6, 0, 1),
        "{stats:?}"
    );
}

/// A work message's JSON, as a message writer chooses it.
fn work_message(run_id: &str, item: u32, input_blob: &str) -> String {
    serde_json::to_string(&WorkItem {
        run_id: run_id.into(),
        item,
        input_blob: input_blob.into(),
        trace: Default::default(),
        run_created_ms: None,
    })
    .unwrap()
}
