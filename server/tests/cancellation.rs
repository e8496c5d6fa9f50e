//! Cancellation reaches the workers: with the local cluster model's real worker loops, a run
//! terminated (or terminated and purged) halfway stops being computed. The work queue drains
//! without the rest of its items being worked, nothing goes to poison, no output appears after
//! the drain, and the model scales the workers back down.

mod support;

use std::time::Duration;

use azurite::{Azurite, Options};
use protocol::cluster::ClusterInfo;
use protocol::durable::{RuntimeStatus, StatusDocument};
use protocol::work::cancellation_blob;
use reqwest::StatusCode;
use serde_json::Value;
use storage::names;
use support::{blobs_of_run, eventually, Settings, TestServer};

const ITEMS: u32 = 300;
/// About 50 ms of SHA-256 per item in a debug build: long enough a run to stop it early.
const COST: u32 = 150_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    Terminate,
    Purge,
}

/// The two scenarios take turns: each runs a cluster's worth of CPU work.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_run_terminated_halfway_is_no_longer_computed() {
    let _turn = ONE_AT_A_TIME.lock().await;
    stopped_halfway(Stop::Terminate).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_run_purged_halfway_is_no_longer_computed_nor_poisoned() {
    let _turn = ONE_AT_A_TIME.lock().await;
    stopped_halfway(Stop::Purge).await;
}

async fn stopped_halfway(stop: Stop) {
    let azurite = Azurite::start(&Options::for_tests()).unwrap();
    let settings = Settings {
        cluster: Some(autoscale::Profile::demo()),
        ..Settings::default()
    };
    let server = TestServer::with(azurite.ports().blob, azurite.ports().queue, settings).await;
    let client = reqwest::Client::new();
    let started = client
        .post(server.url(&format!(
            "/api/orchestrators/ComputeOrchestrator?inputCount={ITEMS}&cost={COST}"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), StatusCode::ACCEPTED);
    let body: Value = started.json().await.unwrap();
    let id = body["id"].as_str().unwrap().to_string();

    // Halfway enough: the workers are up and computing, most items still queued.
    eventually(
        Duration::from_secs(180),
        "a sixth of the items done",
        || {
            let status = status(&client, &server, &id);
            async move {
                status
                    .await
                    .filter(|s| s.custom_status.completed >= ITEMS / 6)
            }
        },
    )
    .await;
    let stopped_ms = plumbing::clock::now_ms();
    let terminate = body["terminatePostUri"]
        .as_str()
        .unwrap()
        .replace("{text}", "enough");
    let response = client.post(&terminate).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let stopped = status(&client, &server, &id).await.unwrap();
    assert_eq!(stopped.runtime_status, RuntimeStatus::Terminated);
    let completed_at_stop = stopped.custom_status.completed;
    assert!(completed_at_stop < ITEMS, "{completed_at_stop}");
    if stop == Stop::Purge {
        let purge = body["purgeHistoryDeleteUri"].as_str().unwrap();
        let purged = client.delete(purge).send().await.unwrap();
        assert_eq!(purged.status(), StatusCode::OK);
    }

    // Without cancellation the workers would compute every remaining item first (or, after a
    // purge, fail each five times on its missing input).
    eventually(Duration::from_secs(120), "an empty work queue", || {
        let storage = server.storage.clone();
        async move {
            let left = storage.queue_length(names::WORK_QUEUE).await.ok()?;
            (left == 0).then_some(())
        }
    })
    .await;
    let outputs_at_drain = blobs_of_run(&server.storage, names::OUTPUT_CONTAINER, &id)
        .await
        .len();
    if stop == Stop::Terminate {
        assert!(
            outputs_at_drain < ITEMS as usize,
            "every item was computed after the run was terminated"
        );
        assert!(outputs_at_drain >= completed_at_stop as usize);
    }

    // The model sees an empty queue and scales the workers back down.
    let scaled_down = eventually(Duration::from_secs(120), "a scale-down", || {
        let info = cluster(&client, &server);
        async move {
            let info = info.await;
            info.events
                .iter()
                .find(|e| {
                    e.t_ms >= stopped_ms && (e.kind == "scale_down" || e.kind == "scale_to_zero")
                })
                .cloned()
        }
    })
    .await;
    assert!(scaled_down.reason.contains('→'), "{scaled_down:?}");

    // Nothing came after the drain, nothing was poisoned, and the marker stays for late
    // messages (after a purge too).
    let outputs_now = blobs_of_run(&server.storage, names::OUTPUT_CONTAINER, &id)
        .await
        .len();
    assert_eq!(outputs_now, outputs_at_drain);
    if stop == Stop::Purge {
        assert_eq!(outputs_now, 0, "the purge deleted the outputs");
        assert!(status(&client, &server, &id).await.is_none());
    } else {
        let after = status(&client, &server, &id).await.unwrap();
        assert_eq!(after.custom_status.completed, completed_at_stop);
    }
    assert_eq!(
        server
            .storage
            .queue_length(names::POISON_QUEUE)
            .await
            .unwrap(),
        0
    );
    assert!(server
        .storage
        .download_blob(names::ORCHESTRATIONS_CONTAINER, &cancellation_blob(&id))
        .await
        .unwrap()
        .is_some());
    server.stop().await;
}

async fn status(client: &reqwest::Client, server: &TestServer, id: &str) -> Option<StatusDocument> {
    let response = client
        .get(server.url(&protocol::routes::instance(id)))
        .send()
        .await
        .ok()?;
    if !matches!(response.status(), StatusCode::OK | StatusCode::ACCEPTED) {
        return None;
    }
    response.json().await.ok()
}

async fn cluster(client: &reqwest::Client, server: &TestServer) -> ClusterInfo {
    client
        .get(server.url("/api/cluster"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}
