//! A terminated or purged run's messages are deleted without computing and never poisoned, and
//! finding that out costs one read of the run's marker per cache period, not one per message.

mod common;

use std::time::Duration;

use common::{completed, config, Env};
use protocol::work::{cancellation_blob, item_blob, Cancellation, ItemInput, WorkItem};
use storage::names::{INPUT_CONTAINER, ORCHESTRATIONS_CONTAINER, OUTPUT_CONTAINER, WORK_QUEUE};

/// Leaves the marker the server leaves when it terminates or purges `run_id`.
async fn cancel(env: &Env, run_id: &str, run_created_ms: u64) {
    let marker = Cancellation {
        run_id: run_id.into(),
        run_created_ms,
        at_ms: 1,
    };
    env.storage
        .upload_blob(
            ORCHESTRATIONS_CONTAINER,
            &cancellation_blob(run_id),
            serde_json::to_vec(&marker).unwrap(),
            "application/json",
        )
        .await
        .unwrap();
}

/// Puts an item whose message names the run's creation time, as the server's messages do.
async fn enqueue_created(env: &Env, run_id: &str, item: u32, run_created_ms: u64) {
    let input = ItemInput {
        run_id: run_id.into(),
        item,
        seed: common::seed(run_id, item),
        cost: 0,
        fail: None,
    };
    let path = item_blob(run_id, item);
    env.storage
        .upload_blob(
            INPUT_CONTAINER,
            &path,
            serde_json::to_vec(&input).unwrap(),
            "application/json",
        )
        .await
        .unwrap();
    let message = WorkItem {
        trace: Default::default(),
        run_id: run_id.into(),
        item,
        input_blob: path,
        run_created_ms: Some(run_created_ms),
    };
    env.storage
        .send(WORK_QUEUE, &serde_json::to_string(&message).unwrap())
        .await
        .unwrap();
}

async fn outputs(env: &Env, run_id: &str) -> Vec<String> {
    env.storage
        .list_blob_names(OUTPUT_CONTAINER, &format!("{run_id}/"))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancelled_runs_are_dropped_with_one_check_per_run() {
    let env = Env::start().await;
    // Terminated: inputs still there, and expensive enough that computing them would show.
    let terminated = "run-terminated";
    cancel(&env, terminated, 1).await;
    env.enqueue_many(terminated, 40, 2_000_000).await;
    // Purged: inputs gone, marker kept.
    let purged = "run-purged";
    cancel(&env, purged, 1).await;
    for item in 0..10 {
        env.send_work(purged, item).await;
    }
    // Going on, and a later run under a cancelled run's id: both computed.
    let live = "run-live";
    env.enqueue_many(live, 5, 0).await;
    let reused = "run-reused";
    cancel(&env, reused, 1).await;
    for item in 0..3 {
        enqueue_created(&env, reused, item, 2).await;
    }

    let worker = env.spawn(worker::WorkerConfig {
        concurrency: 4,
        cancel_check_ttl: Duration::from_secs(3600),
        ..config("pod-c")
    });
    env.work_queue_drained(Duration::from_secs(120)).await;
    let stats = worker.stop(Duration::from_secs(30)).await;

    assert_eq!(stats.cancelled, 50, "{stats:?}");
    assert_eq!(stats.processed, 8, "{stats:?}");
    assert_eq!((stats.failed, stats.retried), (0, 0), "{stats:?}");
    // Four runs, one read each, although four loops took 58 messages between them.
    assert_eq!(stats.cancel_checks, 4, "{stats:?}");
    assert!(outputs(&env, terminated).await.is_empty());
    assert!(outputs(&env, purged).await.is_empty());
    assert_eq!(outputs(&env, live).await.len(), 5);
    assert_eq!(outputs(&env, reused).await.len(), 3);
    assert!(env.take_poison().await.is_empty());
    let events = env.take_events().await;
    assert!(completed(&events, terminated).is_empty());
    assert!(completed(&events, purged).is_empty());
    assert_eq!(completed(&events, live).len(), 5);
    assert_eq!(completed(&events, reused).len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_input_gone_because_its_run_was_purged_since_is_dropped_not_poisoned() {
    let env = Env::start().await;
    let run = "run-purged-late";
    env.enqueue(run, 0, 0).await;
    let worker = env.spawn(worker::WorkerConfig {
        max_dequeue: 1,
        cancel_check_ttl: Duration::from_secs(3600),
        ..config("pod-d")
    });
    env.work_queue_drained(Duration::from_secs(60)).await;
    // The worker now trusts "not cancelled" for an hour; the run is purged under it.
    cancel(&env, run, 1).await;
    env.send_work(run, 1).await;
    env.work_queue_drained(Duration::from_secs(60)).await;
    let stats = worker.stop(Duration::from_secs(30)).await;

    assert_eq!((stats.processed, stats.cancelled), (1, 1), "{stats:?}");
    assert_eq!(stats.failed, 0, "{stats:?}");
    // The cached look, then a fresh one for the missing input.
    assert_eq!(stats.cancel_checks, 2, "{stats:?}");
    assert!(env.take_poison().await.is_empty());
    assert_eq!(outputs(&env, run).await, vec![item_blob(run, 0)]);
}
