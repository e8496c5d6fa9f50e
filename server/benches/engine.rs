//! Fan-out and fan-in rates of the engine against the raw SDK on the same Azurite, in the same
//! run (Azurite is the ceiling locally, so only ratios carry over to other machines).
//!
//! Run with `cargo xtask bench` (or `cargo bench -p server --bench engine`). Prints:
//! - raw send rate (32 concurrent sends), raw blob upload rate (32 concurrent uploads), the raw
//!   rate of the same two calls fan-out makes per item (an input blob and a message), and the
//!   fan-out rate of a 10,000-item run (32 items at a time, persisted per batch), with its ratios.
//!   Every item needs an upload and a send, so the raw rate of that pair, as a fraction of raw
//!   send, is the most any fan-out can reach on the machine; the bench prints it;
//! - raw receive(32)+delete rate and the engine's fan-in rate (receive, apply, persist once per
//!   batch, delete) of 10,000 completion events, and their ratio;
//! - the rate of external events (the `raiseEvent` path: one event, one persist per call) on one
//!   run, 32 callers at a time.

mod common;

use std::time::{Duration, Instant};

use futures_util::{stream, StreamExt};
use orchestration::{Event, ItemResult, RunId};
use protocol::events::{EventGridEvent, ResultExtension};
use server::orchestrator::{Engine, RunInput};
use server::startup::ClusterChoice;
use storage::names;

const ITEMS: u32 = 10_000;
const CONCURRENCY: usize = 32;
/// Completions raised through the external-event path (fewer if the run is smaller).
const EXTERNAL_EVENTS: u32 = 2_000;

#[tokio::main]
async fn main() {
    let items = common::env_or("SCALEBOARD_BENCH_ITEMS", ITEMS);
    let (_azurite, storage) = common::private_storage().await;
    let raw_queue = "bench-raw";
    let pair_queue = "bench-raw-pair";
    for queue in [raw_queue, pair_queue] {
        storage.queue(queue).unwrap().create(None).await.unwrap();
    }
    let raw_container = storage.container(names::INPUT_CONTAINER);
    let storage = &storage;
    let raw_container = &raw_container;

    let raw_send = rate_of(items, |i| async move {
        storage.send(raw_queue, &small_json(i)).await.unwrap();
    })
    .await;
    // The other half of every fan-out item.
    let raw_upload = rate_of(items, |i| async move {
        upload(raw_container, &format!("bench-raw-upload/{i:06}.json"), i).await;
    })
    .await;
    // What fan-out does per item: an input blob, then a message.
    let raw_pair = rate_of(items, |i| async move {
        upload(raw_container, &format!("bench-raw/{i:06}.json"), i).await;
        storage.send(pair_queue, &small_json(i)).await.unwrap();
    })
    .await;

    // Only the queue being read stays filled: Azurite scans every stored message on each
    // receive and delete, so leftovers would slow the phases after this one.
    storage
        .queue(pair_queue)
        .unwrap()
        .clear(None)
        .await
        .unwrap();

    // Raw receive + delete, the shape the fan-in uses: batches of 32, 16 deletes at a time.
    let started = Instant::now();
    let mut taken = 0;
    while taken < items {
        let batch = storage
            .receive(raw_queue, 32, Duration::from_secs(60))
            .await
            .unwrap();
        taken += batch.len() as u32;
        stream::iter(batch)
            .for_each_concurrent(16, |m| async move {
                storage.delete(raw_queue, &m).await.unwrap()
            })
            .await;
    }
    let raw_receive = rate(items, started.elapsed());

    // Fan-out of a run.
    let running = common::start_server(storage, ClusterChoice::None).await;
    let engine = running.state().engine.clone();
    let started = Instant::now();
    let id = start_run(&engine, items).await;
    wait_for(&engine, &id, |p| p.scheduled == items).await;
    let fan_out = rate(items, started.elapsed());

    // Fan-in: completion events for every item, as the workers would send them.
    storage
        .queue(names::WORK_QUEUE)
        .unwrap()
        .clear(None)
        .await
        .unwrap();
    running.stop().await.unwrap();
    let fill = rate_of(items, |item| {
        let event = serde_json::to_string(&completion(id.as_str(), item)).unwrap();
        async move { storage.send(names::EVENTS_QUEUE, &event).await.unwrap() }
    })
    .await;
    let started = Instant::now();
    let running = common::start_server(storage, ClusterChoice::None).await;
    let engine = running.state().engine.clone();
    wait_for(&engine, &id, |p| p.completed == items).await;
    let fan_in = rate(items, started.elapsed());

    // External events: completions raised one call each, as `raiseEvent` does, by
    // `CONCURRENCY` callers at once on one run that has finished its fan-out.
    let external = items.min(EXTERNAL_EVENTS);
    let raised_id = start_run(&engine, external).await;
    wait_for(&engine, &raised_id, |p| p.scheduled == external).await;
    let (engine, raised_id) = (&engine, &raised_id);
    let raised = rate_of(external, |item| async move {
        let result = ItemResult {
            value: u64::from(item),
            compute_ms: 1,
        };
        let event = Event::ItemCompleted {
            item,
            result,
            at: plumbing::clock::now_ms(),
        };
        engine.raise(raised_id, event).await.unwrap();
    })
    .await;
    running.stop().await.unwrap();

    println!("engine benchmark, {items} items, Azurite on loopback");
    println!("  raw SDK send ({CONCURRENCY} concurrent)        {raw_send:>8.0} msg/s");
    println!("  raw SDK blob upload ({CONCURRENCY} concurrent)     {raw_upload:>8.0} blobs/s");
    println!(
        "  raw SDK blob + send per item (same work) {raw_pair:>6.0} items/s   {:.2} of raw send: the most any fan-out reaches here",
        raw_pair / raw_send
    );
    println!(
        "  fan-out (blob + message per item)      {fan_out:>8.0} items/s   ratio {:.2} to raw send, {:.2} to raw blob + send",
        fan_out / raw_send,
        fan_out / raw_pair
    );
    println!("  raw SDK receive(32) + delete           {raw_receive:>8.0} msg/s");
    println!(
        "  fan-in (receive, apply, persist, delete) {fan_in:>6.0} events/s  ratio {:.2}",
        fan_in / raw_receive
    );
    println!(
        "  external events ({external} raised, {CONCURRENCY} at a time) {raised:>6.0} events/s  (one persist each)"
    );
    println!("  (filling the events queue ran at {fill:.0} msg/s)");
}

/// A small blob, as the raw SDK writes it.
async fn upload(container: &azure_storage_blob::BlobContainerClient, name: &str, i: u32) {
    container
        .blob_client(name)
        .upload(
            azure_core::http::RequestContent::from(small_json(i).into_bytes()),
            None,
        )
        .await
        .unwrap();
}

/// The raw phases' message or blob body.
fn small_json(i: u32) -> String {
    format!("{{\"item\":{i}}}")
}

/// Runs `op` for items `0..n`, `CONCURRENCY` at a time, and returns operations per second.
async fn rate_of<F, Fut>(n: u32, op: F) -> f64
where
    F: FnMut(u32) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let started = Instant::now();
    stream::iter(0..n)
        .for_each_concurrent(CONCURRENCY, op)
        .await;
    rate(n, started.elapsed())
}

/// Starts a run of `items` items at cost 0 and returns its id.
async fn start_run(engine: &Engine, items: u32) -> RunId {
    let input = RunInput {
        input_count: items,
        cost: 0,
        fail_every: 0,
    };
    let doc = engine
        .start_run("ComputeOrchestrator", input)
        .await
        .unwrap();
    doc.state.id().clone()
}

fn rate(n: u32, elapsed: Duration) -> f64 {
    f64::from(n) / elapsed.as_secs_f64()
}

async fn wait_for(engine: &Engine, id: &RunId, done: impl Fn(orchestration::Progress) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(1800);
    loop {
        assert!(
            Instant::now() < deadline,
            "run {id} did not get there in 30 minutes"
        );
        if let Ok(doc) = engine.get(id).await {
            if done(doc.state.progress()) {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The completion a worker posts for an item.
fn completion(run_id: &str, item: u32) -> EventGridEvent {
    let blob = protocol::events::OutputBlob {
        url: String::new(),
        content_length: 200,
        etag: None,
    };
    let result = ResultExtension {
        value: u64::from(item),
        compute_ms: 1,
    };
    worker::event::completed(run_id, item, &blob, result)
}
