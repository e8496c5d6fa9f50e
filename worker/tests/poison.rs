//! Messages that cannot succeed end in the poison queue with their reason and let the run
//! finish; a message whose work was already done is completed without computing.

mod common;

use std::time::Duration;

use common::{completed, config, failed, Env};
use protocol::events::{ItemEvent, ResultExtension};
use protocol::work::{item_blob, ItemInput, ItemOutput};
use storage::names::{OUTPUT_CONTAINER, WORK_QUEUE};

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
    for _ in 0..2 {
        let mut taken = env
            .storage
            .receive(WORK_QUEUE, 1, Duration::from_secs(30))
            .await
            .unwrap();
        assert_eq!(taken.len(), 1);
        env.storage
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
