//! How fast the worker drains the queue, against the raw speed of the queue itself.
//!
//! Azurite, not the worker, is the ceiling locally (one single-threaded Node process per
//! service; each receive and delete scans every stored message), and its speed varies from run
//! to run and machine to machine. So this program measures, on one private Azurite in one run:
//! 1. the computation's rounds per second (what [`worker::DEFAULT_COST`] is derived from);
//! 2. the raw SDK rate: `receive(32)` + `delete` per message, one consumer, on a queue pre-filled
//!    with `BENCH_ITEMS` messages (default 2,000); and the same with `receive(1)`, the floor of
//!    a consumer that takes one message at a time, as each worker does;
//! 3. the worker's rate with cost 0 for 1, 4 and 16 concurrent workers on as many items, each
//!    item being six calls: receive, read the input, write the output, post the event, delete
//!    the message, delete the input;
//!
//! and prints items per second and the ratio to the raw `receive(32)` rate.
//!
//! `cargo bench -p worker --bench throughput` (release); `… -- compute` measures only the
//! computation, which `cargo test -p worker --bench throughput -- compute` does in the dev
//! profile.

use std::sync::Arc;
use std::time::{Duration, Instant};

use azurite::{Azurite, Options};
use protocol::work::{item_blob, ItemInput, WorkItem};
use storage::names::{EVENTS_QUEUE, INPUT_CONTAINER, WORK_QUEUE};
use storage::{Storage, StorageArgs};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use worker::{compute, Progress, WorkerConfig, DEFAULT_COST};

/// Concurrent senders while pre-filling; sending is not what is measured.
const FILL_TASKS: usize = 16;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let compute_only = std::env::args().any(|arg| arg == "compute");
    let items: usize = std::env::var("BENCH_ITEMS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2000);

    let rate = rounds_per_second();
    println!(
        "compute: {:.2} M rounds/s on one core; DEFAULT_COST {} = {:.2} s per item",
        rate / 1e6,
        DEFAULT_COST,
        f64::from(DEFAULT_COST) / rate
    );
    if compute_only {
        return Ok(());
    }

    let azurite = Azurite::start(&Options::for_tests())?;
    let ports = azurite.ports();
    let storage = Storage::connect(
        &StorageArgs::azurite(ports.blob, ports.queue).account()?,
        storage::Role::Server,
    )?;
    storage.ensure_resources().await?;

    let raw = raw_rate(&storage, items, 32).await?;
    println!("raw SDK receive(32)+delete, 1 consumer, {items} messages: {raw:.0} msg/s");
    let single = raw_rate(&storage, items, 1).await?;
    println!(
        "raw SDK receive(1)+delete,  1 consumer, {items} messages: {single:.0} msg/s = {:.2} × raw",
        single / raw
    );

    for workers in [1, 4, 16] {
        let rate = worker_rate(&storage, items, workers).await?;
        println!(
            "worker, cost 0, {workers:>2} concurrent, {items} items: {rate:.0} items/s = {:.2} × raw",
            rate / raw
        );
        // Events pile up otherwise; they do not slow the work queue, but keep Azurite lean.
        storage.queue(EVENTS_QUEUE)?.clear(None).await?;
    }
    drop(azurite);
    Ok(())
}

/// Rounds of the computation per second, measured for about two seconds.
fn rounds_per_second() -> f64 {
    let cost = 1_000_000;
    let input = ItemInput {
        run_id: "bench".into(),
        item: 0,
        seed: 42,
        cost,
        fail: None,
    };
    let started = Instant::now();
    let mut rounds = 0u64;
    let mut seed = 0;
    while started.elapsed() < Duration::from_secs(2) {
        let input = ItemInput {
            seed,
            ..input.clone()
        };
        std::hint::black_box(compute(&input).expect("no failure requested"));
        rounds += u64::from(cost);
        seed += 1;
    }
    rounds as f64 / started.elapsed().as_secs_f64()
}

async fn raw_rate(storage: &Storage, count: usize, batch: u8) -> anyhow::Result<f64> {
    fill(storage, count, |storage, i| async move {
        storage.send(WORK_QUEUE, &format!("raw message {i}")).await
    })
    .await?;
    let started = Instant::now();
    let mut done = 0;
    while done < count {
        let messages = storage
            .receive(WORK_QUEUE, batch, Duration::from_secs(60))
            .await?;
        anyhow::ensure!(
            !messages.is_empty(),
            "the queue ran dry after {done} messages"
        );
        for message in &messages {
            storage.delete(WORK_QUEUE, message).await?;
        }
        done += messages.len();
    }
    Ok(done as f64 / started.elapsed().as_secs_f64())
}

async fn worker_rate(storage: &Storage, count: usize, workers: usize) -> anyhow::Result<f64> {
    let run_id = format!("bench-{workers}");
    let run = run_id.clone();
    fill(storage, count, move |storage, i| {
        let run = run.clone();
        async move {
            let item = u32::try_from(i).unwrap_or(u32::MAX);
            let path = item_blob(&run, item);
            let input = ItemInput {
                run_id: run.clone(),
                item,
                seed: u64::from(item),
                cost: 0,
                fail: None,
            };
            let bytes = serde_json::to_vec(&input).unwrap_or_default();
            storage
                .upload_blob(INPUT_CONTAINER, &path, bytes, "application/json")
                .await?;
            let message = WorkItem {
                run_id: run,
                item,
                input_blob: path,
                trace: Default::default(),
                run_created_ms: None,
            };
            storage
                .send(
                    WORK_QUEUE,
                    &serde_json::to_string(&message).unwrap_or_default(),
                )
                .await
        }
    })
    .await?;

    let shutdown = CancellationToken::new();
    let progress: Vec<Arc<Progress>> = (0..workers).map(|_| Arc::default()).collect();
    let mut running = JoinSet::new();
    // The workers connect as workers, as in a pod.
    let worker_storage = storage.with_role(storage::Role::Worker)?;
    let started = Instant::now();
    for (n, progress) in progress.iter().enumerate() {
        running.spawn(worker::run_with(
            worker_storage.clone(),
            WorkerConfig::new(format!("bench-{workers}-{n}")),
            progress.clone(),
            shutdown.clone(),
        ));
    }
    let deadline = started + Duration::from_secs(1800);
    loop {
        let processed: u64 = progress.iter().map(|p| p.stats().processed).sum();
        if processed >= count as u64 {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {processed} of {count} items done"
        );
        // Sampling a counter; the workers do not wait for this.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let elapsed = started.elapsed();
    shutdown.cancel();
    while let Some(joined) = running.join_next().await {
        joined??;
    }
    Ok(count as f64 / elapsed.as_secs_f64())
}

/// Runs `put(storage, i)` for `i` in `0..count` on a few concurrent tasks.
async fn fill<F, Fut>(storage: &Storage, count: usize, put: F) -> anyhow::Result<()>
where
    F: Fn(Storage, usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = storage::Result<()>> + Send + 'static,
{
    let mut tasks = JoinSet::new();
    for first in 0..FILL_TASKS {
        let (storage, put) = (storage.clone(), put.clone());
        tasks.spawn(async move {
            for i in (first..count).step_by(FILL_TASKS) {
                put(storage.clone(), i).await?;
            }
            Ok::<_, storage::Error>(())
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined??;
    }
    Ok(())
}
