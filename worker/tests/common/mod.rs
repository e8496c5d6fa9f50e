//! What the worker's tests share: a private Azurite, items put the way the server puts them,
//! workers started as the local scaling model starts them, and waiting on what storage shows.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use azurite::{Azurite, Options};
use protocol::events::{parse_events, EventGridEvent, ItemEvent};
use protocol::work::{item_blob, ItemInput, ItemOutput, WorkItem};
use storage::messages::Received;
use storage::names::{EVENTS_QUEUE, INPUT_CONTAINER, OUTPUT_CONTAINER, POISON_QUEUE, WORK_QUEUE};
use storage::{Storage, StorageArgs};
use tokio::sync::{Mutex, MutexGuard};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use worker::poison::PoisonRecord;
use worker::{Progress, Stats, WorkerConfig};

/// The tests of one file run one at a time: they measure timing (visibility timeouts of 2 s)
/// on a 2-core machine where each runs its own Azurite and burns CPU on purpose.
static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// A private Azurite with Scaleboard's queues and containers.
pub struct Env {
    pub azurite: Azurite,
    pub storage: Storage,
    _turn: MutexGuard<'static, ()>,
}

impl Env {
    pub async fn start() -> Env {
        let turn = ONE_AT_A_TIME.lock().await;
        let azurite = tokio::task::spawn_blocking(|| Azurite::start(&Options::for_tests()))
            .await
            .unwrap()
            .expect("start Azurite");
        let ports = azurite.ports();
        let account = StorageArgs::azurite(ports.blob, ports.queue)
            .account()
            .unwrap();
        let storage = Storage::connect(&account, storage::Role::Server).unwrap();
        storage.ensure_resources().await.unwrap();
        Env {
            azurite,
            storage,
            _turn: turn,
        }
    }

    /// Puts item `item` of `run_id` as the server does: input blob, then message.
    pub async fn enqueue(&self, run_id: &str, item: u32, cost: u32) -> ItemInput {
        let input = ItemInput {
            run_id: run_id.into(),
            item,
            seed: seed(run_id, item),
            cost,
            fail: None,
        };
        self.enqueue_input(&input).await;
        input
    }

    pub async fn enqueue_input(&self, input: &ItemInput) {
        let path = item_blob(&input.run_id, input.item);
        self.storage
            .upload_blob(
                INPUT_CONTAINER,
                &path,
                serde_json::to_vec(input).unwrap(),
                "application/json",
            )
            .await
            .unwrap();
        self.send_work(&input.run_id, input.item).await;
    }

    /// Only the message, with no input blob.
    pub async fn send_work(&self, run_id: &str, item: u32) {
        let message = WorkItem {
            run_id: run_id.into(),
            item,
            input_blob: item_blob(run_id, item),
            trace: Default::default(),
            run_created_ms: None,
        };
        self.storage
            .send(WORK_QUEUE, &serde_json::to_string(&message).unwrap())
            .await
            .unwrap();
    }

    /// Items `0..count` of `run_id`, put by a few concurrent tasks.
    pub async fn enqueue_many(&self, run_id: &str, count: u32, cost: u32) {
        let mut tasks = tokio::task::JoinSet::new();
        for first in 0..8 {
            let storage = self.storage.clone();
            let run_id = run_id.to_string();
            tasks.spawn(async move {
                for item in (first..count).step_by(8) {
                    let input = ItemInput {
                        run_id: run_id.clone(),
                        item,
                        seed: seed(&run_id, item),
                        cost,
                        fail: None,
                    };
                    let path = item_blob(&run_id, item);
                    storage
                        .upload_blob(
                            INPUT_CONTAINER,
                            &path,
                            serde_json::to_vec(&input).unwrap(),
                            "application/json",
                        )
                        .await
                        .unwrap();
                    let message = WorkItem {
                        run_id: run_id.clone(),
                        item,
                        input_blob: path,
                        trace: Default::default(),
                        run_created_ms: None,
                    };
                    storage
                        .send(WORK_QUEUE, &serde_json::to_string(&message).unwrap())
                        .await
                        .unwrap();
                }
            });
        }
        while let Some(joined) = tasks.join_next().await {
            joined.unwrap();
        }
    }

    /// Starts a worker as a task, as the local scaling model does for each pod: connected as
    /// a worker, so that every call it makes is checked against the worker's SAS.
    pub fn spawn(&self, config: WorkerConfig) -> RunningWorker {
        let shutdown = CancellationToken::new();
        let progress = Arc::new(Progress::default());
        let task = tokio::spawn(worker::run_with(
            self.storage.with_role(storage::Role::Worker).unwrap(),
            config,
            progress.clone(),
            shutdown.clone(),
        ));
        RunningWorker {
            task,
            shutdown,
            progress,
        }
    }

    /// Every event on `item-events` now, removed from the queue.
    pub async fn take_events(&self) -> Vec<EventGridEvent> {
        self.take(EVENTS_QUEUE)
            .await
            .iter()
            .flat_map(|m| parse_events(&m.text).expect("events are Event Grid JSON"))
            .collect()
    }

    /// Every record on `work-items-poison` now, removed from the queue.
    pub async fn take_poison(&self) -> Vec<PoisonRecord> {
        self.take(POISON_QUEUE)
            .await
            .iter()
            .map(|m| serde_json::from_str(&m.text).expect("poison records are JSON"))
            .collect()
    }

    async fn take(&self, queue: &str) -> Vec<Received> {
        let mut all = Vec::new();
        loop {
            let batch = self
                .storage
                .receive(queue, 32, Duration::from_secs(60))
                .await
                .unwrap();
            if batch.is_empty() {
                return all;
            }
            for message in &batch {
                self.storage.delete(queue, message).await.unwrap();
            }
            all.extend(batch);
        }
    }

    /// Collects events until `done` says they are enough, or fails after `within`.
    pub async fn events_until(
        &self,
        within: Duration,
        what: &str,
        done: impl Fn(&[EventGridEvent]) -> bool,
    ) -> Vec<EventGridEvent> {
        let deadline = Deadline::after(within, what);
        let mut events = Vec::new();
        loop {
            events.extend(self.take_events().await);
            if done(&events) {
                return events;
            }
            deadline.pause().await;
        }
    }

    /// Waits until the work queue holds no message, visible or not.
    pub async fn work_queue_drained(&self, within: Duration) {
        let deadline = Deadline::after(within, "an empty work queue");
        while self.storage.queue_length(WORK_QUEUE).await.unwrap() > 0 {
            deadline.pause().await;
        }
    }

    /// Waits until no input blob of `run_id` is left.
    pub async fn inputs_deleted(&self, run_id: &str, within: Duration) {
        let deadline = Deadline::after(within, "input blobs deleted");
        while !self
            .storage
            .list_blob_names(INPUT_CONTAINER, &format!("{run_id}/"))
            .await
            .unwrap()
            .is_empty()
        {
            deadline.pause().await;
        }
    }

    pub async fn output(&self, run_id: &str, item: u32) -> Option<ItemOutput> {
        self.storage
            .download_blob(OUTPUT_CONTAINER, &item_blob(run_id, item))
            .await
            .unwrap()
            .map(|bytes| serde_json::from_slice(&bytes).expect("outputs are JSON"))
    }
}

/// A worker running as a task.
pub struct RunningWorker {
    pub task: JoinHandle<worker::Result<Stats>>,
    pub shutdown: CancellationToken,
    pub progress: Arc<Progress>,
}

impl RunningWorker {
    /// Waits until the worker has a message in hand.
    pub async fn busy(&self, within: Duration) {
        let deadline = Deadline::after(within, "the worker to take a message");
        while self.progress.busy() == 0 {
            deadline.pause().await;
        }
    }

    /// Asks the worker to stop and waits for it (bounded).
    pub async fn stop(self, within: Duration) -> Stats {
        self.shutdown.cancel();
        tokio::time::timeout(within, self.task)
            .await
            .expect("the worker stops in time")
            .expect("the worker task does not panic")
            .expect("the worker ends without error")
    }
}

/// A worker configuration for tests: quick to poll, quick to give up.
pub fn config(id: &str) -> WorkerConfig {
    WorkerConfig {
        max_idle: Duration::from_millis(200),
        call_timeout: Duration::from_secs(20),
        ..WorkerConfig::new(id)
    }
}

/// A time limit for a condition to hold, failing the test with what was awaited.
pub struct Deadline {
    at: Instant,
    what: String,
}

impl Deadline {
    pub fn after(within: Duration, what: &str) -> Deadline {
        Deadline {
            at: Instant::now() + within,
            what: what.to_string(),
        }
    }

    /// Between two looks at the condition; panics once the time is up.
    pub async fn pause(&self) {
        assert!(
            Instant::now() < self.at,
            "gave up waiting for {}",
            self.what
        );
        // Polling interval, not a synchronisation: the caller checks the condition again.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A seed that differs per item, as the server's would.
pub fn seed(run_id: &str, item: u32) -> u64 {
    run_id.bytes().fold(u64::from(item), |acc, b| {
        acc.wrapping_mul(31).wrapping_add(u64::from(b))
    })
}

/// Rounds that take about `duration` on this machine, in this build.
pub fn cost_for(duration: Duration) -> u32 {
    let probe = 300_000;
    let input = ItemInput {
        run_id: "calibration".into(),
        item: 0,
        seed: 1,
        cost: probe,
        fail: None,
    };
    let started = Instant::now();
    worker::compute(&input).unwrap();
    let rate = f64::from(probe) / started.elapsed().as_secs_f64();
    (rate * duration.as_secs_f64()) as u32
}

/// The items that events report completed, for `run_id`.
pub fn completed(events: &[EventGridEvent], run_id: &str) -> BTreeSet<u32> {
    events
        .iter()
        .filter_map(|e| match e.item_event() {
            Ok(ItemEvent::Completed {
                run_id: r, item, ..
            }) if r == run_id => Some(item),
            _ => None,
        })
        .collect()
}

/// `(item, reason)` of the failure events for `run_id`.
pub fn failed(events: &[EventGridEvent], run_id: &str) -> Vec<(u32, String)> {
    events
        .iter()
        .filter_map(|e| match e.item_event() {
            Ok(ItemEvent::Failed {
                run_id: r,
                item,
                reason,
            }) if r == run_id => Some((item, reason)),
            _ => None,
        })
        .collect()
}
