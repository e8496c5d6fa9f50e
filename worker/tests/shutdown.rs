//! Scaling in: a worker asked to stop finishes its item within the grace period, or hands the
//! message back at once so another worker can take it without waiting out its timeout.

mod common;

use std::time::{Duration, Instant};

use common::{completed, config, cost_for, Deadline, Env};
use storage::names::WORK_QUEUE;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_grace_shorter_than_the_work_releases_the_message_at_once() {
    let env = Env::start().await;
    let run = "run-release";
    let visibility = Duration::from_secs(30);
    env.enqueue(run, 0, cost_for(Duration::from_secs(20))).await;

    let worker = env.spawn(worker::WorkerConfig {
        visibility_timeout: visibility,
        grace: Duration::ZERO,
        ..config("pod-leaving")
    });
    worker.busy(Duration::from_secs(30)).await;
    let asked = Instant::now();
    let stats = worker.stop(Duration::from_secs(15)).await;
    assert_eq!((stats.released, stats.processed), (1, 0), "{stats:?}");

    // Visible again long before its 30 s timeout would have run out.
    let deadline = Deadline::after(Duration::from_secs(10), "the released message");
    let message = loop {
        let mut got = env
            .storage
            .receive(WORK_QUEUE, 1, visibility)
            .await
            .unwrap();
        if let Some(message) = got.pop() {
            break message;
        }
        deadline.pause().await;
    };
    assert!(asked.elapsed() < visibility / 2, "{:?}", asked.elapsed());
    assert_eq!(message.dequeue_count, 2);
    assert_eq!(env.output(run, 0).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_grace_longer_than_the_work_finishes_the_item_and_takes_no_more() {
    let env = Env::start().await;
    let run = "run-finish";
    env.enqueue(run, 0, cost_for(Duration::from_secs(2))).await;

    let worker = env.spawn(worker::WorkerConfig {
        grace: Duration::from_secs(60),
        ..config("pod-finishing")
    });
    worker.busy(Duration::from_secs(30)).await;
    // Work that arrives during shutdown is left for the other workers.
    env.enqueue(run, 1, 0).await;
    let stats = worker.stop(Duration::from_secs(60)).await;
    assert_eq!((stats.processed, stats.released), (1, 0), "{stats:?}");

    assert_eq!(env.output(run, 0).await.unwrap().worker, "pod-finishing");
    let events = env.take_events().await;
    assert_eq!(completed(&events, run), [0].into());
    assert_eq!(env.storage.queue_length(WORK_QUEUE).await.unwrap(), 1);
    assert_eq!(env.output(run, 1).await, None);
}
