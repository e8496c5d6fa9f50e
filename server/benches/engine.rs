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

use std::time::{Duration, Instant};

use azurite::{Azurite, Options};
use futures_util::{stream, StreamExt};
use orchestration::{Event, ItemResult, RunId};
use protocol::events::{
    output_subject, BlobCreatedData, EventGridEvent, ResultExtension, BLOB_CREATED,
};
use server::orchestrator::{Engine, EngineConfig, RunInput};
use storage::{names, Storage, StorageArgs};
use tokio_util::sync::CancellationToken;

const ITEMS: u32 = 10_000;
const CONCURRENCY: usize = 32;
/// Completions raised through the external-event path (fewer if the run is smaller).
const EXTERNAL_EVENTS: u32 = 2_000;

#[tokio::main]
async fn main() {
    let items: u32 = std::env::var("SCALEBOARD_BENCH_ITEMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(ITEMS);
    let azurite = Azurite::start(&Options::for_tests()).expect("start Azurite");
    let account = StorageArgs::azurite(azurite.ports().blob, azurite.ports().queue)
        .account()
        .unwrap();
    let storage = Storage::connect(&account).unwrap();
    storage.ensure_resources().await.unwrap();
    let raw_queue = "bench-raw";
    storage
        .queue(raw_queue)
        .unwrap()
        .create(None)
        .await
        .unwrap();

    // Raw send.
    let started = Instant::now();
    stream::iter(0..items)
        .for_each_concurrent(CONCURRENCY, |i| {
            let storage = &storage;
            async move {
                storage
                    .send(raw_queue, &format!("{{\"item\":{i}}}"))
                    .await
                    .unwrap();
            }
        })
        .await;
    let raw_send = rate(items, started.elapsed());

    // Raw blob upload, the other half of every fan-out item.
    let raw_container = storage.container(names::INPUT_CONTAINER);
    let started = Instant::now();
    stream::iter(0..items)
        .for_each_concurrent(CONCURRENCY, |i| {
            let raw_container = &raw_container;
            async move { upload(raw_container, &format!("bench-raw-upload/{i:06}.json"), i).await }
        })
        .await;
    let raw_upload = rate(items, started.elapsed());

    // Raw SDK doing what fan-out does per item: an input blob, then a message.
    let pair_queue = "bench-raw-pair";
    storage
        .queue(pair_queue)
        .unwrap()
        .create(None)
        .await
        .unwrap();
    let started = Instant::now();
    stream::iter(0..items)
        .for_each_concurrent(CONCURRENCY, |i| {
            let storage = &storage;
            let raw_container = &raw_container;
            async move {
                upload(raw_container, &format!("bench-raw/{i:06}.json"), i).await;
                storage
                    .send(pair_queue, &format!("{{\"item\":{i}}}"))
                    .await
                    .unwrap();
            }
        })
        .await;
    let raw_pair = rate(items, started.elapsed());

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
            .for_each_concurrent(16, |m| {
                let storage = &storage;
                async move { storage.delete(raw_queue, &m).await.unwrap() }
            })
            .await;
    }
    let raw_receive = rate(items, started.elapsed());

    // Fan-out of a run.
    let shutdown = CancellationToken::new();
    let engine = Engine::start(storage.clone(), EngineConfig::default(), shutdown.clone());
    let started = Instant::now();
    let doc = engine
        .start_run(
            "ComputeOrchestrator",
            RunInput {
                input_count: items,
                cost: 0,
                fail_every: 0,
            },
        )
        .await
        .unwrap();
    let id = doc.state.id().clone();
    wait_for(&engine, &id, |p| p.scheduled == items).await;
    let fan_out = rate(items, started.elapsed());

    // Fan-in: completion events for every item, as the workers would send them.
    storage
        .queue(names::WORK_QUEUE)
        .unwrap()
        .clear(None)
        .await
        .unwrap();
    shutdown.cancel();
    let started_fill = Instant::now();
    stream::iter(0..items)
        .for_each_concurrent(CONCURRENCY, |item| {
            let storage = &storage;
            let id = id.as_str();
            async move {
                let event = completion(id, item);
                storage
                    .send(names::EVENTS_QUEUE, &serde_json::to_string(&event).unwrap())
                    .await
                    .unwrap();
            }
        })
        .await;
    let fill = started_fill.elapsed();
    let shutdown = CancellationToken::new();
    let started = Instant::now();
    let engine = Engine::start(storage.clone(), EngineConfig::default(), shutdown.clone());
    wait_for(&engine, &id, |p| p.completed == items).await;
    let fan_in = rate(items, started.elapsed());

    // External events: completions raised one call each, as `raiseEvent` does, by
    // `CONCURRENCY` callers at once on one run that has finished its fan-out.
    let external = items.min(EXTERNAL_EVENTS);
    let doc = engine
        .start_run(
            "ComputeOrchestrator",
            RunInput {
                input_count: external,
                cost: 0,
                fail_every: 0,
            },
        )
        .await
        .unwrap();
    let raised_id = doc.state.id().clone();
    wait_for(&engine, &raised_id, |p| p.scheduled == external).await;
    let started = Instant::now();
    stream::iter(0..external)
        .for_each_concurrent(CONCURRENCY, |item| {
            let engine = &engine;
            let id = &raised_id;
            async move {
                let result = ItemResult {
                    value: u64::from(item),
                    compute_ms: 1,
                };
                let at = u64::try_from(started.elapsed().as_millis()).unwrap();
                engine
                    .raise(id, Event::ItemCompleted { item, result, at })
                    .await
                    .unwrap();
            }
        })
        .await;
    let raised = rate(external, started.elapsed());
    shutdown.cancel();

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
    println!(
        "  (filling the events queue took {:.1} s)",
        fill.as_secs_f64()
    );
}

/// A small blob, as the raw SDK writes it.
async fn upload(container: &azure_storage_blob::BlobContainerClient, name: &str, i: u32) {
    container
        .blob_client(name)
        .upload(
            azure_core::http::RequestContent::from(format!("{{\"item\":{i}}}").into_bytes()),
            None,
        )
        .await
        .unwrap();
}

fn rate(n: u32, elapsed: Duration) -> f64 {
    f64::from(n) / elapsed.as_secs_f64()
}

async fn wait_for(engine: &Engine, id: &RunId, done: impl Fn(orchestration::Progress) -> bool) {
    loop {
        if let Ok(doc) = engine.get(id).await {
            if done(doc.state.progress()) {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn completion(run_id: &str, item: u32) -> EventGridEvent {
    EventGridEvent {
        id: format!("{run_id}-{item}"),
        topic: None,
        subject: output_subject(run_id, item),
        event_type: BLOB_CREATED.into(),
        event_time: "2026-11-26T18:00:00Z".into(),
        data: serde_json::to_value(BlobCreatedData {
            api: "PutBlob".into(),
            e_tag: None,
            content_type: "application/json".into(),
            content_length: 200,
            blob_type: "BlockBlob".into(),
            url: String::new(),
            sequencer: String::new(),
            scaleboard: Some(ResultExtension {
                value: u64::from(item),
                compute_ms: 1,
            }),
        })
        .unwrap(),
        data_version: String::new(),
        metadata_version: Some("1".into()),
    }
}
