//! The Durable Functions-shaped API and the engine behind it, over real HTTP against a real
//! Azurite, with a test worker loop.

mod support;

use std::time::Duration;

use azurite::{Azurite, Options};
use reqwest::StatusCode;
use serde_json::Value;
use server::orchestrator::EngineConfig;
use storage::names;
use support::{blobs_of_run, eventually, send_completion, work, Settings, TestServer};

const START: &str = "/api/orchestrators/ComputeOrchestrator";

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn start_run(server: &TestServer, query: &str) -> (String, Value) {
    let response = client()
        .post(server.url(&format!("{START}?{query}")))
        .header("Content-Length", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["statusQueryGetUri"], location.as_str());
    (body["id"].as_str().unwrap().to_string(), body)
}

async fn status(server: &TestServer, id: &str) -> (StatusCode, Value) {
    let response = client()
        .get(server.url(&format!("/runtime/webhooks/durabletask/instances/{id}")))
        .send()
        .await
        .unwrap();
    let code = response.status();
    (code, response.json().await.unwrap())
}

/// Waits until the run's status satisfies `done`, returning the last status document.
async fn wait_status(
    server: &TestServer,
    id: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    // A hang guard, not a speed limit: eight of these tests share two cores and one Azurite.
    eventually(Duration::from_secs(300), what, || async {
        let (_, body) = status(server, id).await;
        done(&body).then_some(body)
    })
    .await
}

/// A test worker that keeps taking work until the test ends.
fn keep_working(storage: storage::Storage, batch: usize) {
    tokio::spawn(async move {
        loop {
            if work(&storage, batch).await == 0 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    });
}

fn progress(body: &Value, field: &str) -> u64 {
    body["customStatus"][field].as_u64().unwrap()
}

#[tokio::test]
async fn a_thousand_item_run_completes_with_exactly_a_thousand_outputs() {
    let azurite = Azurite::start(&Options::for_tests()).unwrap();
    let server = TestServer::start(azurite.ports().blob, azurite.ports().queue).await;
    let (id, body) = start_run(&server, "inputCount=1000&cost=0").await;

    // The management URIs are absolute and follow the Durable Functions layout.
    let base = format!(
        "http://{}/runtime/webhooks/durabletask/instances/{id}",
        server.addr
    );
    assert_eq!(
        body["terminatePostUri"],
        format!("{base}/terminate?reason={{text}}")
    );
    assert_eq!(
        body["sendEventPostUri"],
        format!("{base}/raiseEvent/{{eventName}}")
    );
    for key in [
        "purgeHistoryDeleteUri",
        "restartPostUri",
        "suspendPostUri",
        "resumePostUri",
    ] {
        assert!(body[key].as_str().unwrap().starts_with(&base), "{key}");
    }

    let (code, running) = status(&server, &id).await;
    assert_eq!(code, StatusCode::ACCEPTED, "not finished yet: 202");
    assert_eq!(running["name"], "ComputeOrchestrator");
    assert_eq!(running["input"]["inputCount"], 1000);
    assert!(running["output"].is_null());

    let storage = server.storage.clone();
    let worker = tokio::spawn(async move {
        let mut total = 0;
        while total < 1000 {
            total += work(&storage, 1000 - total).await;
            tokio::task::yield_now().await;
        }
        total
    });
    let done = wait_status(&server, &id, "the run to complete", |b| {
        b["runtimeStatus"] == "Completed"
    })
    .await;
    assert_eq!(worker.await.unwrap(), 1000);
    assert_eq!(progress(&done, "completed"), 1000);
    assert_eq!(progress(&done, "failed"), 0);
    assert_eq!(done["output"]["completed"], 1000);
    let (code, _) = status(&server, &id).await;
    assert_eq!(code, StatusCode::OK, "finished: 200");
    assert_eq!(
        blobs_of_run(&server.storage, names::OUTPUT_CONTAINER, &id)
            .await
            .len(),
        1000
    );
    assert_eq!(
        server
            .storage
            .queue_length(names::WORK_QUEUE)
            .await
            .unwrap(),
        0
    );
    // Every event was applied and deleted.
    eventually(
        Duration::from_secs(10),
        "the events queue to drain",
        || async {
            (server
                .storage
                .queue_length(names::EVENTS_QUEUE)
                .await
                .unwrap()
                == 0)
                .then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn duplicated_and_out_of_order_events_count_each_item_once() {
    let azurite = Azurite::start(&Options::for_tests()).unwrap();
    let server = TestServer::start(azurite.ports().blob, azurite.ports().queue).await;
    let (id, _) = start_run(&server, "inputCount=20&cost=0").await;
    wait_status(&server, &id, "all items scheduled", |b| {
        progress(b, "scheduled") == 20
    })
    .await;

    // Items 19 down to 1, each three times, some with the result and some without (as Event
    // Grid sends them: the engine then reads the output blob).
    for item in (1..20).rev() {
        for copy in 0..3 {
            let value = (copy != 1).then_some(u64::from(item));
            if value.is_none() {
                write_output(&server, &id, item).await;
            }
            send_completion(&server.storage, &id, item, value).await;
        }
    }
    let partial = wait_status(&server, &id, "19 completions", |b| {
        progress(b, "completed") == 19
    })
    .await;
    assert_eq!(
        partial["runtimeStatus"], "Running",
        "57 events for 19 items must not finish 20"
    );
    send_completion(&server.storage, &id, 0, Some(0)).await;
    let done = wait_status(&server, &id, "completion", |b| {
        b["runtimeStatus"] == "Completed"
    })
    .await;
    assert_eq!(progress(&done, "completed"), 20);
    assert_eq!(done["output"]["sum"], (0..20u64).sum::<u64>());
}

async fn write_output(server: &TestServer, id: &str, item: u32) {
    let output = protocol::work::ItemOutput {
        run_id: id.into(),
        item,
        value: u64::from(item),
        digest: String::new(),
        cost: 0,
        worker: "test".into(),
        started_ms: 0,
        finished_ms: 0,
        compute_ms: 1,
    };
    server
        .storage
        .container(names::OUTPUT_CONTAINER)
        .blob_client(&protocol::work::item_blob(id, item))
        .upload(
            azure_core::http::RequestContent::from(serde_json::to_vec(&output).unwrap()),
            None,
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn terminate_mid_run_then_purge() {
    let azurite = Azurite::start(&Options::for_tests()).unwrap();
    let server = TestServer::start(azurite.ports().blob, azurite.ports().queue).await;
    let (id, body) = start_run(&server, "inputCount=50&cost=0").await;
    wait_status(&server, &id, "the fan-out", |b| {
        progress(b, "scheduled") == 50
    })
    .await;
    assert_eq!(work(&server.storage, 5).await, 5);
    wait_status(&server, &id, "5 completions", |b| {
        progress(b, "completed") == 5
    })
    .await;

    // Purging a run that is not finished is refused.
    let purge_uri = body["purgeHistoryDeleteUri"].as_str().unwrap();
    let refused = client().delete(purge_uri).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::PRECONDITION_FAILED);
    assert!(refused.json::<Value>().await.unwrap()["error"]
        .as_str()
        .unwrap()
        .contains("Running"));

    let terminate = body["terminatePostUri"]
        .as_str()
        .unwrap()
        .replace("{text}", "enough");
    let response = client().post(&terminate).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let (code, stopped) = status(&server, &id).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(stopped["runtimeStatus"], "Terminated");
    assert_eq!(stopped["terminateReason"], "enough");
    assert!(
        stopped.get("historyEvents").is_none(),
        "history only when asked"
    );
    let history: Value = client()
        .get(server.url(&format!(
            "/runtime/webhooks/durabletask/instances/{id}?showHistory=true"
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let events = history["historyEvents"].as_array().unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.to_string().contains("TerminateRequested")),
        "{events:?}"
    );
    let bad = client()
        .get(server.url(&format!(
            "/runtime/webhooks/durabletask/instances/{id}?showHistory=maybe"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);

    // A finished run takes no more lifecycle calls or events, and later completions change
    // nothing.
    assert_eq!(
        client().post(&terminate).send().await.unwrap().status(),
        StatusCode::GONE
    );
    work(&server.storage, 10).await;
    let (_, after) = status(&server, &id).await;
    assert_eq!(progress(&after, "completed"), 5);

    // Restart: a new run with the same input.
    let restarted = client()
        .post(body["restartPostUri"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(restarted.status(), StatusCode::ACCEPTED);
    let new_id = restarted.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(new_id, id);
    let (_, new_run) = status(&server, &new_id).await;
    assert_eq!(new_run["input"], stopped["input"]);

    let purged = client().delete(purge_uri).send().await.unwrap();
    assert_eq!(purged.status(), StatusCode::OK);
    assert_eq!(purged.json::<Value>().await.unwrap()["instancesDeleted"], 1);
    assert_eq!(status(&server, &id).await.0, StatusCode::NOT_FOUND);
    assert!(blobs_of_run(&server.storage, names::OUTPUT_CONTAINER, &id)
        .await
        .is_empty());
    assert!(blobs_of_run(&server.storage, names::INPUT_CONTAINER, &id)
        .await
        .is_empty());
    assert!(
        blobs_of_run(&server.storage, names::ORCHESTRATIONS_CONTAINER, "")
            .await
            .is_empty()
    );
}

/// Works the run's items a few at a time, from `done` of `items`, asserting after each step
/// that the queue holds no more than `window` messages.
async fn work_within_window(server: &TestServer, id: &str, window: u32, items: u32, done: u32) {
    let mut done = done;
    while done < items {
        let took = work(&server.storage, 7).await;
        done += u32::try_from(took).unwrap();
        let now = server
            .storage
            .queue_length(names::WORK_QUEUE)
            .await
            .unwrap();
        assert!(
            now <= u64::from(window),
            "{now} messages queued with a window of {window}"
        );
        if took == 0 {
            // The window is refilling after the server applied the last completions.
            wait_status(server, id, "a refill", |b| {
                progress(b, "scheduled") > u64::from(done)
                    || progress(b, "completed") == u64::from(items)
            })
            .await;
        }
    }
}

/// The fan-out keeps at most `fan_out_window` of a run's items queued and unfinished: the queue
/// (and the storage emulator's cost per message, which grows with its length) stays bounded
/// however large the run, and the window refills as items finish until every item is done.
#[tokio::test]
async fn the_fan_out_keeps_at_most_a_window_of_items_queued() {
    const WINDOW: u32 = 50;
    const ITEMS: u32 = 300;
    let azurite = Azurite::start(&Options::for_tests()).unwrap();
    let settings = Settings {
        engine: EngineConfig {
            fan_out_batch: 10,
            fan_out_window: WINDOW,
            ..EngineConfig::default()
        },
        ..Settings::default()
    };
    let server = TestServer::with(azurite.ports().blob, azurite.ports().queue, settings).await;
    let (id, _) = start_run(&server, &format!("inputCount={ITEMS}&cost=0")).await;
    let queued = || async {
        server
            .storage
            .queue_length(names::WORK_QUEUE)
            .await
            .unwrap()
    };

    // The window fills and the fan-out stops there, with nothing done yet.
    let full = wait_status(&server, &id, "the window to fill", |b| {
        progress(b, "scheduled") == u64::from(WINDOW)
    })
    .await;
    assert_eq!(progress(&full, "completed"), 0);
    assert_eq!(queued().await, u64::from(WINDOW));

    work_within_window(&server, &id, WINDOW, ITEMS, 0).await;
    let finished = wait_status(&server, &id, "the run to complete", |b| {
        b["runtimeStatus"] == "Completed"
    })
    .await;
    assert_eq!(progress(&finished, "completed"), u64::from(ITEMS));
    assert_eq!(
        blobs_of_run(&server.storage, names::OUTPUT_CONTAINER, &id)
            .await
            .len(),
        ITEMS as usize
    );
    assert_eq!(queued().await, 0);
}

/// A server stopped while its run's window is full, with items finished and events lost while
/// no server runs: the next server refills the window from the stored counts (never past it)
/// and the run completes with every item counted once.
#[tokio::test]
async fn a_server_restarted_with_a_full_window_keeps_to_it_and_loses_nothing() {
    const WINDOW: u32 = 50;
    const ITEMS: u32 = 200;
    let azurite = Azurite::start(&Options::for_tests()).unwrap();
    let ports = azurite.ports();
    let windowed = || Settings {
        engine: EngineConfig {
            fan_out_batch: 10,
            fan_out_window: WINDOW,
            reconcile_interval: Duration::from_secs(2),
            ..EngineConfig::default()
        },
        ..Settings::default()
    };
    let first = TestServer::with(ports.blob, ports.queue, windowed()).await;
    let (id, _) = start_run(&first, &format!("inputCount={ITEMS}&cost=0")).await;
    wait_status(&first, &id, "the window to fill", |b| {
        progress(b, "scheduled") == u64::from(WINDOW)
    })
    .await;
    let storage = first.storage.clone();
    first.stop().await;

    let done_offline = u32::try_from(work(&storage, 30).await).unwrap();
    assert_eq!(done_offline, 30);
    let lost = storage
        .receive(names::EVENTS_QUEUE, 3, Duration::from_secs(30))
        .await
        .unwrap();
    for message in &lost {
        storage.delete(names::EVENTS_QUEUE, message).await.unwrap();
    }

    let second = TestServer::with(ports.blob, ports.queue, windowed()).await;
    work_within_window(&second, &id, WINDOW, ITEMS, done_offline).await;
    let finished = wait_status(&second, &id, "completion after restart", |b| {
        b["runtimeStatus"] == "Completed"
    })
    .await;
    assert_eq!(progress(&finished, "completed"), u64::from(ITEMS));
    assert_eq!(progress(&finished, "failed"), 0);
    assert_eq!(
        blobs_of_run(&storage, names::OUTPUT_CONTAINER, &id)
            .await
            .len(),
        ITEMS as usize
    );
    assert_eq!(storage.queue_length(names::WORK_QUEUE).await.unwrap(), 0);
}

#[tokio::test]
async fn suspend_pauses_fan_out_and_resume_finishes_the_run() {
    let azurite = Azurite::start(&Options::for_tests()).unwrap();
    let settings = Settings {
        engine: EngineConfig {
            fan_out_batch: 10,
            fan_out_concurrency: 2,
            ..EngineConfig::default()
        },
        ..Settings::default()
    };
    let server = TestServer::with(azurite.ports().blob, azurite.ports().queue, settings).await;
    let (id, body) = start_run(&server, "inputCount=400&cost=0").await;
    let suspend = body["suspendPostUri"]
        .as_str()
        .unwrap()
        .replace("{text}", "pause");
    assert_eq!(
        client().post(&suspend).send().await.unwrap().status(),
        StatusCode::ACCEPTED
    );
    let suspended = wait_status(&server, &id, "Suspended", |b| {
        b["runtimeStatus"] == "Suspended"
    })
    .await;
    let scheduled = progress(&suspended, "scheduled");
    // Fan-out stopped: the count of scheduled items no longer grows.
    let (_, later) = status(&server, &id).await;
    assert_eq!(progress(&later, "scheduled"), scheduled);
    assert!(
        scheduled < 400,
        "suspend came after the whole fan-out ({scheduled})"
    );

    let resume = body["resumePostUri"]
        .as_str()
        .unwrap()
        .replace("{text}", "go");
    assert_eq!(
        client().post(&resume).send().await.unwrap().status(),
        StatusCode::ACCEPTED
    );
    keep_working(server.storage.clone(), 400);
    let done = wait_status(&server, &id, "completion after resume", |b| {
        b["runtimeStatus"] == "Completed"
    })
    .await;
    assert_eq!(progress(&done, "completed"), 400);
}

#[tokio::test]
async fn a_server_restarted_mid_run_loses_nothing() {
    let azurite = Azurite::start(&Options::for_tests()).unwrap();
    let ports = azurite.ports();
    let slow = || Settings {
        engine: EngineConfig {
            fan_out_batch: 25,
            fan_out_concurrency: 4,
            ..EngineConfig::default()
        },
        ..Settings::default()
    };
    let first = TestServer::with(ports.blob, ports.queue, slow()).await;
    let (id, _) = start_run(&first, "inputCount=600&cost=0").await;
    // Stop the first server mid fan-out, after some items went out.
    wait_status(&first, &id, "part of the fan-out", |b| {
        progress(b, "scheduled") >= 50
    })
    .await;
    let storage = first.storage.clone();
    first.stop().await;

    // While no server runs, workers finish some items: their events wait in the queue, and a
    // few are lost altogether (deleted unread), which only the output blobs remember.
    let done_offline = work(&storage, 40).await;
    assert!(done_offline > 0);
    let lost = storage
        .receive(names::EVENTS_QUEUE, 5, Duration::from_secs(30))
        .await
        .unwrap();
    for message in &lost {
        storage.delete(names::EVENTS_QUEUE, message).await.unwrap();
    }

    let second = TestServer::with(ports.blob, ports.queue, slow()).await;
    keep_working(storage.clone(), 600);
    let done = wait_status(&second, &id, "completion after restart", |b| {
        b["runtimeStatus"] == "Completed"
    })
    .await;
    assert_eq!(progress(&done, "completed"), 600);
    assert_eq!(
        blobs_of_run(&storage, names::OUTPUT_CONTAINER, &id)
            .await
            .len(),
        600
    );
}

#[tokio::test]
async fn storage_lost_mid_fan_out_then_back_loses_nothing() {
    let data = tempfile::tempdir().unwrap();
    let options = Options {
        data_dir: Some(data.path().to_path_buf()),
        ..Options::for_tests()
    };
    let mut azurite = Azurite::start(&options).unwrap();
    let ports = azurite.ports();
    let settings = Settings {
        engine: EngineConfig {
            fan_out_batch: 25,
            fan_out_concurrency: 4,
            ..EngineConfig::default()
        },
        ..Settings::default()
    };
    let server = TestServer::with(ports.blob, ports.queue, settings).await;
    let (id, _) = start_run(&server, "inputCount=600&cost=0").await;
    wait_status(&server, &id, "part of the fan-out", |b| {
        progress(b, "scheduled") >= 50
    })
    .await;

    // Storage goes away mid fan-out: writes and recordings in flight fail.
    azurite.stop();
    eventually(Duration::from_secs(30), "readiness to fail", || async {
        let ready = client().get(server.url("/readyz")).send().await.ok()?;
        (ready.status() == StatusCode::SERVICE_UNAVAILABLE).then_some(())
    })
    .await;
    let (_, during) = status(&server, &id).await;
    assert!(progress(&during, "scheduled") < 600, "{during}");

    // Back on the same ports with the same data, as after a restart of the emulator.
    let _azurite = Azurite::start(&Options {
        ports,
        ..options.clone()
    })
    .unwrap();
    keep_working(server.storage.clone(), 600);
    let done = wait_status(&server, &id, "completion after storage came back", |b| {
        b["runtimeStatus"] == "Completed"
    })
    .await;
    assert_eq!(progress(&done, "completed"), 600);
    assert_eq!(progress(&done, "failed"), 0);
    assert_eq!(
        blobs_of_run(&server.storage, names::OUTPUT_CONTAINER, &id)
            .await
            .len(),
        600
    );
}

#[tokio::test]
async fn bad_requests_get_a_json_error_naming_the_problem() {
    let azurite = Azurite::start(&Options::for_tests()).unwrap();
    let settings = Settings {
        max_input_count: 1000,
        ..Settings::default()
    };
    let server = TestServer::with(azurite.ports().blob, azurite.ports().queue, settings).await;
    let cases: [(&str, &str, StatusCode, &str); 9] = [
        (
            "POST",
            START,
            StatusCode::BAD_REQUEST,
            "inputCount is missing",
        ),
        (
            "POST",
            &format!("{START}?inputCount=abc"),
            StatusCode::BAD_REQUEST,
            "whole number",
        ),
        (
            "POST",
            &format!("{START}?inputCount=0"),
            StatusCode::BAD_REQUEST,
            "between 1 and 1000",
        ),
        (
            "POST",
            &format!("{START}?inputCount=1001"),
            StatusCode::BAD_REQUEST,
            "between 1 and 1000",
        ),
        (
            "POST",
            "/api/orchestrators/Other?inputCount=1",
            StatusCode::NOT_FOUND,
            "ComputeOrchestrator",
        ),
        (
            "GET",
            "/runtime/webhooks/durabletask/instances/0123456789abcdef",
            StatusCode::NOT_FOUND,
            "no run",
        ),
        (
            "GET",
            "/runtime/webhooks/durabletask/instances/..%2Fetc",
            StatusCode::BAD_REQUEST,
            "not a valid instance id",
        ),
        (
            "GET",
            "/runtime/webhooks/durabletask/instances?runtimeStatus=Done",
            StatusCode::BAD_REQUEST,
            "runtimeStatus",
        ),
        (
            "GET",
            "/runtime/webhooks/durabletask/instances?createdTimeFrom=yesterday",
            StatusCode::BAD_REQUEST,
            "RFC 3339",
        ),
    ];
    for (method, path, expected, message) in cases {
        let request = match method {
            "POST" => client().post(server.url(path)),
            _ => client().get(server.url(path)),
        };
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), expected, "{method} {path}");
        let body: Value = response.json().await.unwrap();
        let error = body["error"].as_str().unwrap_or_default();
        assert!(error.contains(message), "{method} {path}: {error}");
    }
    // Nothing was started by any of them.
    let list: Value = client()
        .get(server.url("/runtime/webhooks/durabletask/instances"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list, serde_json::json!([]));

    // Events with a bad body or name.
    let (id, body) = start_run(&server, "inputCount=3&cost=0").await;
    let event_uri = body["sendEventPostUri"].as_str().unwrap();
    let bad = [
        ("ComputeComplete", "not json", "application/json", "JSON"),
        (
            "ComputeComplete",
            "{\"value\": 1}",
            "application/json",
            "the item number",
        ),
        (
            "SomethingElse",
            "{\"item\": 1}",
            "application/json",
            "unknown event",
        ),
        (
            "ComputeComplete",
            "{\"item\": 7, \"value\": 1}",
            "application/json",
            "out of range",
        ),
        (
            "ComputeComplete",
            "{\"item\": 1}",
            "application/json",
            "a ComputeComplete body needs",
        ),
    ];
    for (name, payload, content_type, message) in bad {
        let response = client()
            .post(event_uri.replace("{eventName}", name))
            .header("content-type", content_type)
            .body(payload)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "{name} {payload}"
        );
        let text = response.text().await.unwrap();
        assert!(
            text.to_lowercase().contains(&message.to_lowercase()),
            "{name} {payload}: {text}"
        );
    }
    // A good raised event counts.
    let ok = client()
        .post(event_uri.replace("{eventName}", "ComputeComplete"))
        .json(&serde_json::json!({"item": 1, "value": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::ACCEPTED);
    let (_, after) = status(&server, &id).await;
    assert_eq!(progress(&after, "completed"), 1);
}

#[tokio::test]
async fn instances_can_be_filtered_and_paged() {
    let azurite = Azurite::start(&Options::for_tests()).unwrap();
    let server = TestServer::start(azurite.ports().blob, azurite.ports().queue).await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(start_run(&server, "inputCount=1&cost=0").await.0);
    }
    let terminate = |id: &str| {
        client().post(server.url(&format!(
            "/runtime/webhooks/durabletask/instances/{id}/terminate?reason=t"
        )))
    };
    terminate(&ids[0]).send().await.unwrap();
    terminate(&ids[1]).send().await.unwrap();

    let list = |query: String, token: Option<String>| {
        let mut request =
            client().get(server.url(&format!("/runtime/webhooks/durabletask/instances{query}")));
        if let Some(token) = token {
            request = request.header("x-ms-continuation-token", token);
        }
        request.send()
    };
    let terminated: Vec<Value> = list("?runtimeStatus=Terminated".into(), None)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(terminated.len(), 2);
    assert!(terminated
        .iter()
        .all(|r| r["runtimeStatus"] == "Terminated"));

    // Pages of two: 2 + 2 + 1, each page naming the next.
    let mut seen = Vec::new();
    let mut token = None;
    for page_number in 0.. {
        // Five runs in pages of two: a fourth page would be a paging bug, not slowness.
        assert!(page_number < 3, "more pages than runs: {seen:?}");
        let response = list("?top=2".into(), token.clone()).await.unwrap();
        token = response
            .headers()
            .get("x-ms-continuation-token")
            .map(|v| v.to_str().unwrap().to_string());
        let page: Vec<Value> = response.json().await.unwrap();
        assert!(page.len() <= 2);
        seen.extend(
            page.into_iter()
                .map(|r| r["instanceId"].as_str().unwrap().to_string()),
        );
        if token.is_none() {
            break;
        }
    }
    seen.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(seen, expected);

    let future: Vec<Value> = list("?createdTimeFrom=2999-01-01T00:00:00Z".into(), None)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(future.is_empty());
}
