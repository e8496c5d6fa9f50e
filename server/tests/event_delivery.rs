//! Events that cannot be applied and events that never arrive, against a real server on a real
//! Azurite: nothing stays on `item-events` forever, and no completed item goes uncounted.

mod support;

use std::time::Duration;

use azurite::{Azurite, Options};
use reqwest::StatusCode;
use serde_json::Value;
use server::orchestrator::EngineConfig;
use storage::{names, Storage};
use support::{eventually, send_completion, take_event_poison, work, Settings, TestServer};

const START: &str = "/api/orchestrators/ComputeOrchestrator";

/// A hang guard, not a speed limit: these tests share two cores and Azurite with others.
const HANG_GUARD: Duration = Duration::from_secs(180);

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn start_run(server: &TestServer, items: u32) -> String {
    let response = client()
        .post(server.url(&format!("{START}?inputCount={items}&cost=0")))
        .header("Content-Length", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn status(server: &TestServer, id: &str) -> Value {
    client()
        .get(server.url(&format!("/runtime/webhooks/durabletask/instances/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn wait_status(
    server: &TestServer,
    id: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    eventually(HANG_GUARD, what, || async {
        let body = status(server, id).await;
        done(&body).then_some(body)
    })
    .await
}

fn progress(body: &Value, field: &str) -> u64 {
    body["customStatus"][field].as_u64().unwrap()
}

async fn queue_length(storage: &Storage, queue: &str) -> u64 {
    storage.queue_length(queue).await.unwrap()
}

/// An engine that hides a received event for one second and gives up on its third delivery,
/// so that a message that will never apply is parked within seconds.
fn quick_to_give_up() -> Settings {
    Settings {
        engine: EngineConfig {
            event_visibility: Duration::from_secs(1),
            event_max_dequeue: 3,
            ..EngineConfig::default()
        },
        ..Settings::default()
    }
}

#[tokio::test]
async fn events_that_can_never_apply_are_parked_with_the_reason() {
    let azurite = Azurite::start(&Options::for_tests()).unwrap();
    let server = TestServer::with(
        azurite.ports().blob,
        azurite.ports().queue,
        quick_to_give_up(),
    )
    .await;
    let storage = server.storage.clone();

    // A run that finishes and is purged: its output blobs are gone with it.
    let purged = start_run(&server, 1).await;
    wait_status(&server, &purged, "the fan-out", |b| {
        progress(b, "scheduled") == 1
    })
    .await;
    assert_eq!(work(&storage, 1).await, 1);
    wait_status(&server, &purged, "completion", |b| {
        b["runtimeStatus"] == "Completed"
    })
    .await;
    let deleted = client()
        .delete(server.url(&format!("/runtime/webhooks/durabletask/instances/{purged}")))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::OK);

    // A run still going, whose item 2 has no output blob.
    let going = start_run(&server, 3).await;
    wait_status(&server, &going, "the fan-out", |b| {
        progress(b, "scheduled") == 3
    })
    .await;

    // (a) A completion carrying its result, for a run that never existed: refused at once.
    send_completion(&storage, "never-started", 0, Some(7)).await;
    // (a) As Event Grid sends it (no result), for the purged run: its output cannot be read.
    send_completion(&storage, &purged, 0, None).await;
    // (b) As Event Grid sends it, for an output that is not there.
    send_completion(&storage, &going, 2, None).await;

    eventually(HANG_GUARD, "three parked events", || async {
        (server.running.state().engine.events_poisoned() >= 3).then_some(())
    })
    .await;
    let records = take_event_poison(&storage).await;
    assert_eq!(records.len(), 3, "{records:#?}");
    let record_of = |run: &str| {
        records
            .iter()
            .find(|r| r["message"].as_str().unwrap().contains(&format!("/{run}/")))
            .unwrap_or_else(|| panic!("no record for {run}: {records:#?}"))
    };
    let never = record_of("never-started");
    assert!(
        never["reason"].as_str().unwrap().contains("does not exist"),
        "{never}"
    );
    assert_eq!(never["dequeueCount"], 1, "refused on its first delivery");
    for run in [&purged, &going] {
        let record = record_of(run);
        let reason = record["reason"].as_str().unwrap();
        assert!(
            reason.contains("does not exist") && reason.contains("given up after 3 deliveries"),
            "{record}"
        );
        assert_eq!(record["dequeueCount"], 3, "{record}");
    }

    // Nothing is left to come back, and the live feed counts what was parked.
    eventually(HANG_GUARD, "the events queue to be empty", || async {
        (queue_length(&storage, names::EVENTS_QUEUE).await == 0).then_some(())
    })
    .await;
    eventually(
        HANG_GUARD,
        "a sample counting the parked events",
        || async {
            let sample = server.running.state().hub.latest()?;
            (sample.events_poisoned == 3).then_some(())
        },
    )
    .await;
    // The run with a missing output is still going, with that item not counted.
    let body = status(&server, &going).await;
    assert_eq!(body["runtimeStatus"], "Running");
    assert_eq!(progress(&body, "completed"), 0);
    server.stop().await;
}

/// A test worker that writes every output but posts the completion event of only the even
/// items: the odd items' events are lost, as when they are deleted unread, parked, or dropped by
/// a broken delivery. Returns how many items it did.
async fn work_losing_odd_events(storage: &Storage, limit: usize) -> usize {
    let mut done = 0;
    while done < limit {
        let messages = storage
            .receive(names::WORK_QUEUE, 32, Duration::from_secs(30))
            .await
            .unwrap();
        if messages.is_empty() {
            break;
        }
        for message in messages {
            let item: protocol::work::WorkItem = serde_json::from_str(&message.text).unwrap();
            let value = u64::from(item.item) * 3;
            let output = protocol::work::ItemOutput {
                run_id: item.run_id.clone(),
                item: item.item,
                value,
                digest: String::new(),
                cost: 0,
                worker: "test".into(),
                started_ms: 0,
                finished_ms: 1,
                compute_ms: 1,
            };
            storage
                .upload_blob(
                    names::OUTPUT_CONTAINER,
                    &protocol::work::item_blob(&item.run_id, item.item),
                    serde_json::to_vec(&output).unwrap(),
                    "application/json",
                )
                .await
                .unwrap();
            if item.item.is_multiple_of(2) {
                send_completion(storage, &item.run_id, item.item, Some(value)).await;
            }
            storage.delete(names::WORK_QUEUE, &message).await.unwrap();
            done += 1;
        }
    }
    done
}

#[tokio::test]
async fn a_run_whose_completion_events_are_lost_still_completes_with_exact_counts() {
    let azurite = Azurite::start(&Options::for_tests()).unwrap();
    let settings = Settings {
        engine: EngineConfig {
            reconcile_interval: Duration::from_secs(1),
            ..EngineConfig::default()
        },
        ..Settings::default()
    };
    let server = TestServer::with(azurite.ports().blob, azurite.ports().queue, settings).await;
    let storage = server.storage.clone();
    let id = start_run(&server, 200).await;
    wait_status(&server, &id, "the fan-out", |b| {
        progress(b, "scheduled") == 200
    })
    .await;
    let mut done = 0;
    while done < 200 {
        done += work_losing_odd_events(&storage, 200 - done).await;
    }

    // Half the events never come: only the listing of the outputs can count those items.
    let finished = wait_status(&server, &id, "completion", |b| {
        b["runtimeStatus"] == "Completed"
    })
    .await;
    assert_eq!(progress(&finished, "completed"), 200);
    assert_eq!(progress(&finished, "failed"), 0);
    assert_eq!(
        finished["output"]["sum"],
        (0..200u64).map(|i| i * 3).sum::<u64>(),
        "every item counted once, with the value its output holds"
    );
    assert_eq!(queue_length(&storage, names::EVENTS_POISON_QUEUE).await, 0);
    server.stop().await;
}
