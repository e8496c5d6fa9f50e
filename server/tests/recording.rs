//! Recordings end to end: a finished run on the local model downloaded as a recording over real
//! HTTP, decoded, compared with the run's CSV export; the recording replayed by a replay server
//! (its feed, its controls, its roles); and `scaleboard replay` refusing a damaged file.

mod support;

use std::time::Duration;

use azurite::{Azurite, Options};
use futures_util::StreamExt;
use protocol::durable::{RuntimeStatus, StatusDocument};
use protocol::live::Frame;
use protocol::recording::{Recording, ReplayStatus};
use protocol::routes;
use serde_json::Value;
use server::playback::{ReplaySettings, Replaying};
use support::{eventually, Settings, TestServer};
use tokio_tungstenite::tungstenite::Message;

/// A run of `count` items, started and awaited until it is Completed.
async fn finished_run(server: &TestServer, client: &reqwest::Client, count: u32) -> String {
    let response = client
        .post(server.url(&routes::start(count, Some(0))))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    eventually(Duration::from_secs(240), "the run to complete", || async {
        let doc: StatusDocument = client
            .get(server.url(&routes::instance(&id)))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (doc.runtime_status == RuntimeStatus::Completed).then_some(())
    })
    .await;
    id
}

/// The CSV's rows as maps from column to value.
fn csv_rows(csv: &str) -> Vec<std::collections::HashMap<String, String>> {
    let mut lines = csv.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect();
    lines
        .map(|line| {
            header
                .iter()
                .cloned()
                .zip(line.split(',').map(str::to_string))
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn a_finished_runs_recording_holds_its_samples_decisions_and_document() {
    let azurite = Azurite::start(&Options::for_tests()).unwrap();
    let settings = Settings {
        cluster: Some(autoscale::Profile::demo()),
        history: 5_000,
        ..Settings::default()
    };
    let server = TestServer::with(azurite.ports().blob, azurite.ports().queue, settings).await;
    let client = reqwest::Client::new();
    let id = finished_run(&server, &client, 60).await;
    // Wait for a sample that shows the run finished, so the recording's tail has it.
    let hub = server.running.state().hub.clone();
    eventually(Duration::from_secs(30), "a sample after the run", || {
        let seen = hub.history().last().is_some_and(|r| {
            r.runs
                .iter()
                .any(|run| run.id == id && run.status == RuntimeStatus::Completed)
        });
        async move { seen.then_some(()) }
    })
    .await;

    let response = client
        .get(server.url(&routes::recording(&id)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/gzip");
    assert_eq!(
        response.headers()["content-disposition"],
        format!("attachment; filename=\"scaleboard-{id}.json.gz\"").as_str()
    );
    let bytes = response.bytes().await.unwrap();
    let recording = Recording::from_gzip(&bytes).unwrap();
    assert_eq!(recording.run_id(), id);
    assert_eq!(recording.run.runtime_status, RuntimeStatus::Completed);
    assert_eq!(recording.run.custom_status.completed, 60);
    assert_eq!(recording.policy.as_ref().unwrap().name, "demo");
    assert_eq!(recording.place.profile.as_deref(), Some("demo"));
    assert_eq!(recording.interval_ms, 200);

    // The run's samples: those the hub kept from the run's creation on (its span, then the
    // tail after it), each with the run's progress.
    let from = protocol::timestamp::parse_rfc3339(&recording.run.created_time).unwrap();
    let to = protocol::timestamp::parse_rfc3339(&recording.run.last_updated_time).unwrap();
    let kept: Vec<_> = server
        .running
        .state()
        .hub
        .history()
        .into_iter()
        .filter(|r| r.sample.t_ms >= from)
        .take(recording.samples.len())
        .collect();
    assert!(recording.samples.iter().any(|s| s.sample.t_ms > to));
    // The tail shows the run finished.
    assert_eq!(
        recording
            .samples
            .last()
            .unwrap()
            .progress
            .as_ref()
            .unwrap()
            .status,
        RuntimeStatus::Completed
    );
    assert!(recording.samples.len() > 5, "{}", recording.samples.len());
    assert_eq!(
        recording
            .samples
            .iter()
            .map(|s| &s.sample)
            .collect::<Vec<_>>(),
        kept.iter().map(|r| &r.sample).collect::<Vec<_>>()
    );
    assert!(recording
        .samples
        .iter()
        .filter_map(|s| s.progress.as_ref())
        .any(|p| p.id == id && p.completed > 0));
    // And its scaling decisions: the demo profile scaled pods up for 60 items.
    let decisions: Vec<_> = recording.decisions().collect();
    assert!(
        decisions.iter().any(|d| d.kind.contains("scale")),
        "{decisions:?}"
    );
    assert_eq!(
        decisions,
        kept.iter()
            .flat_map(|r| r.sample.events.iter())
            .collect::<Vec<_>>()
    );

    // The run's span, sample for sample what the run's CSV export says.
    let csv = client
        .get(server.url(&format!("/api/export/samples.csv?run={id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let rows = csv_rows(&csv);
    let span: Vec<_> = recording
        .samples
        .iter()
        .take_while(|s| s.sample.t_ms <= to)
        .collect();
    assert!(span.len() > 5, "{}", span.len());
    assert_eq!(rows.len(), span.len());
    for (row, recorded) in rows.iter().zip(span) {
        let s = &recorded.sample;
        let c = &s.cluster;
        let expected = [
            ("t_ms", s.t_ms.to_string()),
            ("seq", s.seq.to_string()),
            (
                "queue_length",
                s.queue_length.map(|q| q.to_string()).unwrap_or_default(),
            ),
            ("pods_pending", c.pods_pending.to_string()),
            ("pods_starting", c.pods_starting.to_string()),
            ("pods_running", c.pods_running.to_string()),
            ("pods_terminating", c.pods_terminating.to_string()),
            ("nodes_ready", c.nodes_ready.to_string()),
            ("nodes_provisioning", c.nodes_provisioning.to_string()),
            (
                "run_completed",
                recorded
                    .progress
                    .as_ref()
                    .map(|p| p.completed.to_string())
                    .unwrap_or_default(),
            ),
        ];
        for (column, value) in expected {
            assert_eq!(row[column], value, "{column} at t_ms {}", s.t_ms);
        }
    }

    // Replayed anywhere, the run gives the same chart: the replay server's CSV of the run is
    // the live server's, byte for byte, whatever the replay has shown so far.
    let replaying = replay(recording.clone(), None).await;
    let replayed = reqwest::get(format!(
        "http://{}/api/export/samples.csv?run={id}",
        replaying.addr()
    ))
    .await
    .unwrap();
    assert_eq!(replayed.status(), 200);
    let replayed = replayed.text().await.unwrap();
    assert_eq!(replayed.lines().count(), rows.len() + 1);
    for (n, (live, replay)) in csv.lines().zip(replayed.lines()).enumerate() {
        assert_eq!(live, replay, "row {n}");
    }
    assert_eq!(replayed, csv);
    // The recording itself comes back from the replay, and no other run's export does.
    let file = reqwest::get(format!(
        "http://{}{}",
        replaying.addr(),
        routes::recording(&id)
    ))
    .await
    .unwrap();
    assert_eq!(file.status(), 200);
    assert_eq!(
        Recording::from_gzip(&file.bytes().await.unwrap()).unwrap(),
        recording
    );
    let other = reqwest::get(format!(
        "http://{}/api/export/samples.csv?run=0123456789abcdef0123456789abcdef",
        replaying.addr()
    ))
    .await
    .unwrap();
    assert_eq!(other.status(), 404);
    assert!(other.text().await.unwrap().contains("replays run"));
    replaying.stop().await.unwrap();
    server.stop().await;
}

#[tokio::test]
async fn an_unknown_run_is_404_and_a_run_still_going_is_409() {
    let azurite = Azurite::start(&Options::for_tests()).unwrap();
    // No cluster and no workers: a run stays Running.
    let server = TestServer::start(azurite.ports().blob, azurite.ports().queue).await;
    let client = reqwest::Client::new();
    let response = client
        .get(server.url(&routes::recording("0123456789abcdef0123456789abcdef")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert!(response.json::<Value>().await.unwrap()["error"].is_string());

    let id = client
        .post(server.url(&routes::start(3, Some(0))))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let response = client
        .get(server.url(&routes::recording(&id)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 409);
    let error = response.json::<Value>().await.unwrap()["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(error.contains("finished"), "{error}");

    let response = client
        .get(server.url(&routes::recording("not an id!")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    server.stop().await;
}

/// A replay server on a free loopback port.
async fn replay(recording: Recording, api_key: Option<&str>) -> Replaying {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let settings = ReplaySettings {
        recording: std::sync::Arc::new(recording),
        speed: 1,
        api: server::durable::ApiSettings {
            operator_key: api_key.map(server::auth::Secret::new),
            viewer_key: None,
            max_input_count: 1,
            max_cost: 1,
            default_cost: 0,
            trust_forwarded: false,
            public_url: None,
        },
        hosts: server::guard::HostPolicy::for_bind("127.0.0.1:0".parse().unwrap(), &[], false)
            .unwrap(),
        site_root: "target/site".into(),
    };
    server::playback::serve(settings, listener).await.unwrap()
}

/// A recording of `n` samples a second apart, made by hand (no server needed).
fn synthetic(n: u64) -> Recording {
    use protocol::durable::{Progress, RunInput};
    use protocol::live::{ClusterSample, ClusterSource, RunProgress, Sample};
    use protocol::recording::{Place, RecordedSample};
    let samples = (0..n)
        .map(|i| RecordedSample {
            sample: Sample {
                t_ms: 1_700_000_000_000 + i * 1000,
                seq: i + 1,
                queue_length: Some(n - i),
                cluster: ClusterSample {
                    source: ClusterSource::Local,
                    pods_running: u32::try_from(i % 7).unwrap(),
                    nodes_ready: 1,
                    ..ClusterSample::default()
                },
                completed_total: i,
                ..Sample::default()
            },
            progress: Some(RunProgress {
                id: "run1".into(),
                status: RuntimeStatus::Running,
                total: u32::try_from(n).unwrap(),
                scheduled: u32::try_from(n).unwrap(),
                completed: u32::try_from(i).unwrap(),
                failed: 0,
                created_ms: 1_700_000_000_000,
                updated_ms: 1_700_000_000_000 + i * 1000,
            }),
        })
        .collect();
    Recording::new(
        StatusDocument {
            name: "ComputeOrchestrator".into(),
            instance_id: "run1".into(),
            runtime_status: RuntimeStatus::Completed,
            input: RunInput {
                input_count: u32::try_from(n).unwrap(),
                cost: 0,
                fail_every: 0,
            },
            custom_status: Progress::default(),
            output: None,
            created_time: protocol::timestamp::rfc3339(1_700_000_000_000),
            last_updated_time: protocol::timestamp::rfc3339(1_700_000_000_000 + n * 1000),
            terminate_reason: None,
            history_events: None,
        },
        Some(autoscale::Profile::seed_demo()),
        Place {
            cluster: ClusterSource::Local,
            profile: Some("seed-demo".into()),
            ..Place::default()
        },
        1000,
        samples,
        1_700_000_100_000,
    )
}

#[tokio::test]
async fn a_replay_serves_the_feed_and_obeys_its_controls() {
    let recording = synthetic(30);
    let first_t = recording.samples[0].sample.t_ms;
    let last_t = recording.samples[29].sample.t_ms;
    let run_id = recording.run_id().to_string();
    let replaying = replay(recording.clone(), None).await;
    let base = format!("http://{}", replaying.addr());
    let client = reqwest::Client::new();

    let (mut socket, _) =
        tokio_tungstenite::connect_async(format!("ws://{}{}", replaying.addr(), routes::LIVE))
            .await
            .unwrap();
    let mut next_snapshot = async || -> (Vec<u64>, ReplayStatus) {
        loop {
            let message = tokio::time::timeout(Duration::from_secs(30), socket.next())
                .await
                .expect("a frame within 30 s")
                .unwrap()
                .unwrap();
            let Message::Text(text) = message else {
                continue;
            };
            if let Frame::Snapshot {
                samples,
                replay: Some(replay),
                ..
            } = Frame::from_json(&text).unwrap()
            {
                return (samples.iter().map(|s| s.t_ms).collect(), replay);
            }
        }
    };
    let (shown, state) = next_snapshot().await;
    assert_eq!(shown.first(), Some(&first_t));
    assert_eq!((state.start_ms, state.end_ms), (first_t, last_t));
    assert_eq!(state.run_id, run_id);
    assert!(state.place.contains("seed-demo"), "{}", state.place);

    // Seek to the end and pause: every viewer gets the whole run and the paused state.
    let response = client
        .post(format!("{base}{}", routes::REPLAY_CONTROL))
        .json(&serde_json::json!({"positionMs": last_t - first_t, "paused": true, "speed": 10}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answered: ReplayStatus = response.json().await.unwrap();
    assert!(answered.paused);
    assert_eq!(answered.speed, 10);
    let (shown, state) = next_snapshot().await;
    assert_eq!(shown.len(), 30);
    assert_eq!(shown.last(), Some(&last_t));
    assert!(state.paused);

    // Bad controls: 400 with a reason, nothing changed.
    for body in [
        serde_json::json!({"speed": 3}),
        serde_json::json!({"positionMs": last_t - first_t + 1}),
        serde_json::json!({"rewind": true}),
    ] {
        let response = client
            .post(format!("{base}{}", routes::REPLAY_CONTROL))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{body}");
        assert!(response.json::<Value>().await.unwrap()["error"].is_string());
    }
    // Hostile bodies: a 4xx with a JSON reason, never a 5xx, and nothing changed.
    for (content_type, body) in [
        ("application/json", "not json".to_string()),
        ("application/json", "{\"speed\": -1}".to_string()),
        ("application/json", "{\"speed\": 1e308}".to_string()),
        ("application/json", "{\"positionMs\": -5}".to_string()),
        (
            "application/json",
            "{\"positionMs\": 18446744073709551616}".to_string(),
        ),
        ("application/json", "{\"paused\": \"yes\"}".to_string()),
        (
            "application/json",
            format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)),
        ),
        (
            "application/json",
            format!("{{\"x\": \"{}\"}}", "a".repeat(100_000)),
        ),
        ("text/plain", "{\"paused\": true}".to_string()),
    ] {
        let response = client
            .post(format!("{base}{}", routes::REPLAY_CONTROL))
            .header("content-type", content_type)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert!(status.is_client_error(), "{status} for {:.60}", body);
        let text = response.text().await.unwrap();
        let error: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{status} not JSON ({e}): {text}"));
        assert!(error["error"].is_string(), "{text}");
    }
    assert_eq!(replaying.player().status(), answered);

    // The recorded run's document, the recorded policy; nothing else.
    let doc: StatusDocument = client
        .get(format!("{base}{}", routes::instance(&run_id)))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc, recording.run);
    let cluster: Value = client
        .get(format!("{base}{}", routes::CLUSTER))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cluster["profile"]["name"], "seed-demo");
    let start = client
        .post(format!("{base}{}", routes::start(1, None)))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 404);
    replaying.stop().await.unwrap();
}

#[tokio::test]
async fn replay_controls_need_the_operator_key_when_there_is_one() {
    let replaying = replay(synthetic(5), Some("k3y")).await;
    let url = format!("http://{}{}", replaying.addr(), routes::REPLAY_CONTROL);
    let client = reqwest::Client::new();
    let body = serde_json::json!({"paused": true});
    let response = client.post(&url).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert!(!replaying.player().status().paused);
    let response = client
        .post(&url)
        .bearer_auth("k3y")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(replaying.player().status().paused);
    replaying.stop().await.unwrap();
}

/// `scaleboard replay FILE` with `file`'s bytes: its exit status and stderr.
fn replay_command(bytes: &[u8]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.json.gz");
    std::fs::write(&path, bytes).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_scaleboard"))
        .arg("replay")
        .arg(&path)
        .args(["--addr", "127.0.0.1:0"])
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn scaleboard_replay_refuses_a_damaged_file_or_another_version() {
    let (ok, stderr) = replay_command(b"definitely not gzip");
    assert!(!ok);
    assert!(stderr.contains("cannot be replayed"), "{stderr}");
    assert!(stderr.contains("damaged"), "{stderr}");

    let mut json: Value = serde_json::from_slice(&synthetic(3).to_json()).unwrap();
    json["schemaVersion"] = 99.into();
    let (ok, stderr) = replay_command(&protocol::recording::compress(json.to_string().as_bytes()));
    assert!(!ok);
    assert!(stderr.contains("schema version 99"), "{stderr}");

    // A good file passes the checks (and would serve; port 0 is refused by nothing, so only
    // the damaged ones are run to completion here).
    assert!(Recording::from_gzip(&synthetic(3).to_gzip()).is_ok());
}

/// `docs/recordings/seed-demo-500.json.gz`, the recording shipped for presenters: a complete
/// 500-item run on the local model with the seed-demo profile.
#[test]
fn the_shipped_recording_is_a_complete_seed_demo_run() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/recordings/seed-demo-500.json.gz"
    );
    let recording = server::playback::load(std::path::Path::new(path)).unwrap();
    let run = &recording.run;
    assert_eq!(run.runtime_status, RuntimeStatus::Completed);
    assert_eq!(run.input.input_count, 500);
    assert_eq!(run.output.unwrap().completed, 500);
    assert_eq!(run.custom_status.completed, 500);
    assert_eq!(recording.policy.as_ref().unwrap().name, "seed-demo");
    assert_eq!(recording.place.profile.as_deref(), Some("seed-demo"));

    // The queue rises from where it started to its peak, then drains back to 0.
    let queue: Vec<u64> = recording
        .samples
        .iter()
        .filter_map(|s| s.sample.queue_length)
        .collect();
    let peak = queue.iter().copied().max().unwrap();
    let at_peak = queue.iter().position(|q| *q == peak).unwrap();
    assert!(peak >= 100, "peak {peak}");
    assert!(queue[0] < peak && at_peak > 0, "{queue:?}");
    assert_eq!(queue.last(), Some(&0), "{queue:?}");
    assert!(at_peak < queue.len() - 1);
    // Pods came to work it, and the autoscalers said why.
    assert!(recording
        .samples
        .iter()
        .any(|s| s.sample.cluster.pods_running > 0));
    assert!(recording.decisions().count() > 0);
    let last = recording.samples.last().unwrap().progress.as_ref().unwrap();
    assert_eq!(last.completed, 500);
}
