//! The live feed while storage is gone: samples keep coming at their interval, saying storage
//! is unreachable, because the engine publishes run progress without waiting on storage.

mod support;

use std::time::Duration;

use azurite::{Azurite, Options};
use reqwest::StatusCode;
use server::orchestrator::EngineConfig;
use support::{eventually, next_sample, Settings, TestServer};
use tokio::time::Instant;

/// The test server's sample interval (see `support`).
const SAMPLE_INTERVAL: Duration = Duration::from_millis(200);

/// How long the feed is watched during the outage: 50 intervals.
const WATCHED: Duration = Duration::from_secs(10);

#[tokio::test]
async fn the_live_feed_keeps_its_cadence_while_storage_is_down_mid_run() {
    let data = tempfile::tempdir().unwrap();
    let options = Options {
        data_dir: Some(data.path().to_path_buf()),
        ..Options::for_tests()
    };
    let mut azurite = Azurite::start(&options).unwrap();
    let ports = azurite.ports();
    // A fan-out of small batches, so that run documents are being written when storage goes.
    let settings = Settings {
        engine: EngineConfig {
            fan_out_batch: 5,
            fan_out_concurrency: 2,
            storage_deadline: Duration::from_secs(10),
            ..EngineConfig::default()
        },
        ..Settings::default()
    };
    let server = TestServer::with(ports.blob, ports.queue, settings).await;
    let response = reqwest::Client::new()
        .post(server.url("/api/orchestrators/ComputeOrchestrator?inputCount=2000&cost=0"))
        .header("Content-Length", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let engine = server.running.state().engine.clone();
    eventually(Duration::from_secs(120), "part of the fan-out", || async {
        engine
            .progress()
            .first()
            .is_some_and(|run| run.scheduled >= 20)
            .then_some(())
    })
    .await;
    let (mut socket, _) = tokio_tungstenite::connect_async(server.live_url())
        .await
        .expect("connect to the live socket");

    azurite.stop();
    // The first sample that says so (a hang guard: the sampler's own call is bounded).
    let guard = Instant::now() + Duration::from_secs(60);
    loop {
        let sample = next_sample(&mut socket, guard)
            .await
            .expect("a sample saying storage is unreachable within a minute");
        if !sample.storage.is_ok() {
            break;
        }
    }

    // From then on, samples keep their cadence: 50 are due in the window; the engine's writes
    // to the run document hang meanwhile, and none of them may hold the feed up. At least a
    // fifth must arrive: a feed blocked on storage delivers next to none.
    let until = Instant::now() + WATCHED;
    let mut during = Vec::new();
    while let Some(sample) = next_sample(&mut socket, until).await {
        during.push(sample);
    }
    let due = WATCHED.as_millis() / SAMPLE_INTERVAL.as_millis();
    assert!(
        during.len() as u128 >= due / 5,
        "{} samples in {WATCHED:?}, {due} due",
        during.len()
    );
    assert!(
        during
            .iter()
            .all(|s| !s.storage.is_ok() && s.queue_length.is_none()),
        "every sample during the outage says storage is unreachable: {during:?}"
    );
    assert!(
        during.windows(2).all(|w| w[0].seq < w[1].seq),
        "samples in order"
    );

    // Storage back on the same ports with the same data: the feed says so again, and the run
    // goes on.
    let _azurite = Azurite::start(&Options {
        ports,
        ..options.clone()
    })
    .unwrap();
    let guard = Instant::now() + Duration::from_secs(120);
    loop {
        let sample = next_sample(&mut socket, guard)
            .await
            .expect("a sample saying storage is back within two minutes");
        if sample.storage.is_ok() {
            break;
        }
    }
    server.stop().await;
}
