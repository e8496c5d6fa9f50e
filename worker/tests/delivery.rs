//! Exactly once in effect: many workers, a killed worker, and work that outlasts its visibility
//! timeout, all against a real Azurite.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{completed, config, cost_for, Env};
use protocol::events::{ItemEvent, ResultExtension};
use protocol::work::ItemInput;
use storage::names::OUTPUT_CONTAINER;
use worker::compute;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_workers_complete_every_item_once_in_effect() {
    let env = Env::start().await;
    let run = "run-many";
    let count = 200;
    env.enqueue_many(run, count, 0).await;

    let workers: Vec<_> = (0..4)
        .map(|n| {
            env.spawn(worker::WorkerConfig {
                visibility_timeout: Duration::from_secs(5),
                ..config(&format!("pod-{n}"))
            })
        })
        .collect();

    let events = env
        .events_until(
            Duration::from_secs(180),
            "a completion for every item",
            |events| completed(events, run).len() == count as usize,
        )
        .await;
    env.work_queue_drained(Duration::from_secs(30)).await;
    env.inputs_deleted(run, Duration::from_secs(30)).await;

    // Every event carries the right result, and every output is right.
    for event in &events {
        if let Ok(ItemEvent::Completed {
            item,
            result: Some(ResultExtension { value, .. }),
            ..
        }) = event.item_event()
        {
            assert_eq!(value, expected(run, item).value, "event of item {item}");
        }
    }
    let names = env
        .storage
        .list_blob_names(OUTPUT_CONTAINER, &format!("{run}/"))
        .await
        .unwrap();
    assert_eq!(names.len(), count as usize);
    let mut by_worker = BTreeSet::new();
    for item in 0..count {
        let output = env.output(run, item).await.expect("an output per item");
        let right = expected(run, item);
        assert_eq!(output.value, right.value, "item {item}");
        assert_eq!(output.digest, right.digest_hex(), "item {item}");
        assert_eq!((output.run_id.as_str(), output.item), (run, item));
        by_worker.insert(output.worker);
    }
    assert!(by_worker.iter().all(|w| w.starts_with("pod-")));

    let mut processed = 0;
    for worker in workers {
        let stats = worker.stop(Duration::from_secs(30)).await;
        assert_eq!(stats.failed, 0);
        assert_eq!(stats.released, 0);
        processed += stats.processed;
    }
    assert!(processed >= u64::from(count), "{processed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_worker_s_item_is_redone_by_another() {
    let env = Env::start().await;
    let run = "run-killed";
    let visibility = Duration::from_secs(2);
    let input = env.enqueue(run, 0, cost_for(Duration::from_secs(4))).await;

    let doomed = env.spawn(worker::WorkerConfig {
        visibility_timeout: visibility,
        ..config("doomed")
    });
    // Computing for over a second: it has extended the message's visibility at least once.
    let deadline = common::Deadline::after(Duration::from_secs(30), "the item to be computing");
    while doomed.progress.stats().extensions == 0 {
        deadline.pause().await;
    }
    // As a pod killed by SIGKILL: nothing of it runs after this, no release, no cleanup.
    doomed.task.abort();
    assert!(doomed.task.await.unwrap_err().is_cancelled());
    assert_eq!(env.output(run, 0).await, None);

    // The run goes on with more items and another worker.
    for item in 1..5 {
        env.enqueue(run, item, 0).await;
    }
    let rescuer = env.spawn(worker::WorkerConfig {
        visibility_timeout: visibility,
        ..config("rescuer")
    });
    env.events_until(Duration::from_secs(60), "all five items", |events| {
        completed(events, run) == (0..5).collect()
    })
    .await;
    env.work_queue_drained(Duration::from_secs(30)).await;

    let redone = env.output(run, 0).await.unwrap();
    assert_eq!(redone.worker, "rescuer");
    assert_eq!(redone.value, compute(&input).unwrap().value);
    let stats = rescuer.stop(Duration::from_secs(30)).await;
    assert_eq!(stats.processed, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn long_work_keeps_its_message_hidden_past_the_timeout() {
    let env = Env::start().await;
    let run = "run-long";
    let visibility = Duration::from_secs(2);
    let input = env.enqueue(run, 0, cost_for(Duration::from_secs(5))).await;

    let first = env.spawn(worker::WorkerConfig {
        visibility_timeout: visibility,
        ..config("first")
    });
    first.busy(Duration::from_secs(30)).await;
    // A second worker polling all along: it must never see the message.
    let second = env.spawn(worker::WorkerConfig {
        visibility_timeout: visibility,
        ..config("second")
    });

    let events = env
        .events_until(Duration::from_secs(60), "the completion", |events| {
            completed(events, run).contains(&0)
        })
        .await;
    assert_eq!(completed(&events, run).len(), 1);
    let first_stats = first.stop(Duration::from_secs(30)).await;
    let second_stats = second.stop(Duration::from_secs(30)).await;

    let output = env.output(run, 0).await.unwrap();
    assert_eq!(output.worker, "first");
    assert_eq!(output.value, compute(&input).unwrap().value);
    assert!(
        output.compute_ms > 2 * 1000,
        "the work outlasted the visibility timeout: {} ms",
        output.compute_ms
    );
    // Received once in all: never redelivered, so written once.
    assert_eq!(first_stats.received, 1);
    assert_eq!(first_stats.processed, 1);
    assert!(first_stats.extensions >= 2, "{first_stats:?}");
    assert_eq!(second_stats.received, 0, "{second_stats:?}");
    env.work_queue_drained(Duration::from_secs(10)).await;
}

fn expected(run: &str, item: u32) -> worker::ComputeOutput {
    compute(&ItemInput {
        run_id: run.into(),
        item,
        seed: common::seed(run, item),
        cost: 0,
        fail: None,
    })
    .unwrap()
}
