//! Two servers on one storage account, in one process against one real Azurite: a run is fanned
//! out by one of them only (no item queued twice), and both show the same status of every run,
//! fresh from storage, within a sample interval; a run can be terminated and purged on either.

mod support;

use std::time::Duration;

use azurite::{Azurite, Options};
use reqwest::StatusCode;
use serde_json::Value;
use server::orchestrator::EngineConfig;
use storage::names;
use support::{eventually, send_completion, Settings, TestServer};

/// A hang guard, not a speed limit.
const HANG_GUARD: Duration = Duration::from_secs(120);

/// How long two servers may disagree: the test servers sample every 200 ms; the rest is slack
/// for two cores shared with Azurite.
const FRESH: Duration = Duration::from_secs(3);

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn start_run(server: &TestServer, query: &str) -> String {
    let response = client()
        .post(server.url(&format!("/api/orchestrators/ComputeOrchestrator?{query}")))
        .header("Content-Length", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let body: Value = response.json().await.unwrap();
    body["id"].as_str().unwrap().to_string()
}

async fn status(server: &TestServer, id: &str) -> (StatusCode, Value) {
    let response = client()
        .get(server.url(&protocol::routes::instance(id)))
        .send()
        .await
        .unwrap();
    let code = response.status();
    (code, response.json().await.unwrap_or(Value::Null))
}

async fn wait_status(
    server: &TestServer,
    id: &str,
    limit: Duration,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let last = std::sync::Mutex::new(Value::Null);
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let (_, body) = status(server, id).await;
        if done(&body) {
            return body;
        }
        *last.lock().unwrap() = body;
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what} on {}: last {}",
            server.addr,
            last.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn field(body: &Value, name: &str) -> u64 {
    body["customStatus"][name].as_u64().unwrap_or(0)
}

/// A server whose fan-out is slow (two items at a time, recorded every ten), so that a second
/// server starts while the first is still fanning out.
fn slow_fan_out() -> Settings {
    Settings {
        engine: EngineConfig {
            fan_out_concurrency: 2,
            fan_out_batch: 10,
            ..EngineConfig::default()
        },
        ..Settings::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_started_mid_fan_out_queues_no_item_twice() {
    let azurite = Azurite::start(&Options::for_tests()).unwrap();
    let ports = azurite.ports();
    let first = TestServer::with(ports.blob, ports.queue, slow_fan_out()).await;
    const ITEMS: u64 = 400;
    let id = start_run(&first, &format!("inputCount={ITEMS}&cost=0")).await;
    let under_way = wait_status(&first, &id, HANG_GUARD, "the fan-out under way", |s| {
        field(s, "scheduled") >= 10
    })
    .await;
    assert!(field(&under_way, "scheduled") < ITEMS, "{under_way}");

    let second = TestServer::with(ports.blob, ports.queue, slow_fan_out()).await;
    for server in [&first, &second] {
        wait_status(server, &id, HANG_GUARD, "every item scheduled", |s| {
            field(s, "scheduled") == ITEMS
        })
        .await;
    }
    // No worker runs: every message sent is still there, and there is one per item.
    let storage = &first.storage;
    let queued = storage.queue_length(names::WORK_QUEUE).await.unwrap();
    assert_eq!(queued, ITEMS, "items queued twice");
    second.stop().await;
    first.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_servers_show_fresh_status_and_either_terminates_and_purges() {
    let azurite = Azurite::start(&Options::for_tests()).unwrap();
    let ports = azurite.ports();
    let first = TestServer::start(ports.blob, ports.queue).await;
    let second = TestServer::start(ports.blob, ports.queue).await;
    const ITEMS: u64 = 40;
    let id = start_run(&first, &format!("inputCount={ITEMS}&cost=0")).await;
    wait_status(&first, &id, HANG_GUARD, "every item scheduled", |s| {
        field(s, "scheduled") == ITEMS
    })
    .await;
    // The second server has read the run once.
    let (code, seen) = status(&second, &id).await;
    assert_eq!(code, StatusCode::ACCEPTED, "{seen}");

    // Completions, whichever server reads them, reach both servers' answers.
    for item in 0..10 {
        send_completion(&first.storage, &id, item, Some(7)).await;
    }
    for server in [&first, &second] {
        wait_status(server, &id, HANG_GUARD, "ten items completed", |s| {
            field(s, "completed") == 10
        })
        .await;
    }

    // Terminated on one server, terminated on the other within a sample interval.
    let terminated = client()
        .post(second.url(&format!(
            "/runtime/webhooks/durabletask/instances/{id}/terminate?reason=enough"
        )))
        .header("Content-Length", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(terminated.status(), StatusCode::ACCEPTED);
    for server in [&second, &first] {
        let done = wait_status(server, &id, FRESH, "the run terminated", |s| {
            s["runtimeStatus"] == "Terminated"
        })
        .await;
        assert_eq!(field(&done, "completed"), 10, "{done}");
    }

    // Purged on the server that did not terminate it: gone on both.
    let purged = client()
        .delete(first.url(&protocol::routes::instance(&id)))
        .send()
        .await
        .unwrap();
    assert_eq!(purged.status(), StatusCode::OK);
    for server in [&first, &second] {
        eventually(FRESH, "the run gone", || async {
            (status(server, &id).await.0 == StatusCode::NOT_FOUND).then_some(())
        })
        .await;
    }
    let documents = first
        .storage
        .list_blob_names(names::ORCHESTRATIONS_CONTAINER, &id)
        .await
        .unwrap();
    assert!(documents.is_empty(), "{documents:?}");
    second.stop().await;
    first.stop().await;
}
