//! The local cluster model with real worker loops on a real Azurite: a run in the demo profile
//! scales pods and nodes up and back down, as the dashboard shows it.

mod support;

use std::time::Duration;

use azurite::{Azurite, Options};
use futures_util::StreamExt;
use protocol::live::{Frame, RunProgress, Sample};
use protocol::whatif::Comparison;
use serde_json::Value;
use support::{Settings, TestServer};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn a_demo_run_scales_up_adds_a_node_completes_and_scales_back_down() {
    let azurite = Azurite::start(&Options::for_tests()).unwrap();
    let profile = autoscale::Profile::demo();
    let min_nodes = profile.node_pool.min_nodes;
    let settings = Settings {
        cluster: Some(profile.clone()),
        // Ten minutes of samples, so the what-if replays below see the whole run.
        history: 3_000,
        ..Settings::default()
    };
    let server = TestServer::with(azurite.ports().blob, azurite.ports().queue, settings).await;
    let (mut socket, _) = tokio_tungstenite::connect_async(server.live_url())
        .await
        .unwrap();

    // About 50 ms of real SHA-256 work per item.
    let response = reqwest::Client::new()
        .post(server.url("/api/orchestrators/ComputeOrchestrator?inputCount=200&cost=150000"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    let mut max_running = 0;
    let mut max_nodes = 0;
    let mut completed_at = None;
    let mut kinds = std::collections::BTreeSet::new();
    // The run as the feed last described it (runs travel in their own frames).
    let mut run: Option<RunProgress> = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
    let last: Sample = loop {
        let message = tokio::time::timeout_at(deadline, socket.next())
            .await
            .expect("the cluster scaled back down within 4 minutes")
            .unwrap()
            .unwrap();
        let Message::Text(text) = message else {
            continue;
        };
        let (samples, runs) = match Frame::from_json(&text).unwrap() {
            Frame::Snapshot { samples, runs, .. } => (samples, runs),
            Frame::Sample { sample } => (vec![sample], Vec::new()),
            Frame::Runs { runs } => (Vec::new(), runs),
            // Older than what the test has seen: nothing new.
            Frame::History { .. } => (Vec::new(), Vec::new()),
        };
        if let Some(news) = runs.into_iter().find(|r| r.id == id) {
            run = Some(news);
        }
        let Some(sample) = samples.last().cloned() else {
            continue;
        };
        for s in &samples {
            max_running = max_running.max(s.cluster.pods_running);
            max_nodes = max_nodes.max(s.cluster.nodes_ready);
            kinds.extend(s.events.iter().map(|e| e.kind.clone()));
        }
        if completed_at.is_none()
            && run
                .as_ref()
                .is_some_and(|r| r.status == protocol::durable::RuntimeStatus::Completed)
        {
            completed_at = Some(sample.seq);
        }
        let cluster = &sample.cluster;
        let idle = cluster.pods_running
            + cluster.pods_pending
            + cluster.pods_starting
            + cluster.pods_terminating
            == 0;
        if completed_at.is_some()
            && idle
            && cluster.nodes_ready == min_nodes
            && cluster.nodes_provisioning == 0
        {
            break sample;
        }
    };
    assert!(
        max_running > 1,
        "pods never rose above 1 (max {max_running})"
    );
    assert!(max_nodes > min_nodes, "no node was added (max {max_nodes})");
    assert!(kinds.contains("scale_up"), "{kinds:?}");
    assert!(kinds.contains("node_added"), "{kinds:?}");
    assert_eq!(last.cluster.desired_replicas, Some(0));
    let run = run.expect("the feed described the run");
    assert_eq!((run.completed, run.failed), (200, 0));
    assert!(last.completed_total >= 200, "{}", last.completed_total);

    // The same run replayed under the AKS defaults: CSV, one row per second.
    let replay = reqwest::get(server.url(&format!(
        "/api/runs/{id}/replay?profile=aks&pollingInterval=5"
    )))
    .await
    .unwrap();
    assert_eq!(replay.status(), 200);
    let csv = replay.text().await.unwrap();
    assert!(
        csv.starts_with("seconds,desired_replicas"),
        "{}",
        &csv[..csv.len().min(80)]
    );
    assert!(csv.lines().count() > 10);
    let bad = reqwest::get(server.url(&format!("/api/runs/{id}/replay?profile=huge")))
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);

    // Without a preset, a what-if starts from the policy in force: the model's, edited live
    // here to at most 2 replicas, where the demo preset allows more.
    let client = reqwest::Client::new();
    let peak_desired = |csv: &str| -> u64 {
        csv.lines()
            .skip(1)
            .filter_map(|line| line.split(',').nth(1)?.parse().ok())
            .max()
            .unwrap()
    };
    let replayed = |query: &'static str| {
        let client = client.clone();
        let url = server.url(&format!("/api/runs/{id}/replay{query}"));
        async move {
            let response = client.get(url).send().await.unwrap();
            assert_eq!(response.status(), 200, "{query}");
            response.text().await.unwrap()
        }
    };
    let mut capped = serde_json::to_value(&profile).unwrap();
    capped["scaled_object"]["max_replicas"] = 2.into();
    let saved = client
        .put(server.url("/api/cluster/profile"))
        .json(&capped)
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 200);
    let from_cluster = replayed("").await;
    assert_eq!(peak_desired(&from_cluster), 2);
    assert_eq!(replayed("?profile=cluster").await, from_cluster);
    assert!(peak_desired(&replayed("?profile=demo").await) > 2);

    // The what-if lab: the same run under three policies side by side, as JSON, CSV and charts.
    let whatif = |query: String| {
        let client = client.clone();
        let url = server.url(&format!("{}?{query}", protocol::routes::whatif(&id)));
        async move { client.get(url).send().await.unwrap() }
    };
    let three = "a=profile:cluster&b=profile:demo,maxReplicaCount:1\
                 &c=profile:aks,behavior:conservative,maxNodes:3";
    let answer = whatif(three.to_string()).await;
    assert_eq!(answer.status(), 200);
    let comparison: Comparison = answer.json().await.unwrap();
    assert_eq!(comparison.run, id);
    let keys: Vec<&str> = comparison.outcomes.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(keys, ["a", "b", "c"]);
    let [a, b, c] = &comparison.outcomes[..] else {
        panic!("three outcomes")
    };
    // a: the policy in force (capped at 2 above), b: at most one replica, c: the AKS preset.
    assert_eq!(a.profile, "demo");
    assert_eq!(a.summary.peak_desired_replicas, 2);
    assert_eq!(b.policy, "profile:demo,maxReplicaCount:1");
    assert_eq!(b.summary.peak_desired_replicas, 1);
    assert_eq!(c.profile, "aks");
    assert!(c.summary.peak_nodes <= 3, "{:?}", c.summary);
    assert_eq!(a.rows.len(), b.rows.len());
    assert_eq!(a.rows.len(), c.rows.len());
    for outcome in [a, b, c] {
        assert!(outcome.summary.node_hours > 0.0, "{:?}", outcome.summary);
        assert!(outcome.summary.first_pod_after_s.is_some());
    }
    let csv = whatif(format!("{three}&format=csv")).await;
    assert_eq!(csv.status(), 200);
    let csv = csv.text().await.unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some(protocol::whatif::CSV_HEADER));
    assert_eq!(lines.count(), 3 * a.rows.len());
    let svg = whatif(format!("{three}&format=svg")).await;
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    let svg = svg.text().await.unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("Desired replicas"));
    let png = whatif(format!("{three}&format=png"))
        .await
        .bytes()
        .await
        .unwrap();
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    // Bad asks are named, with nothing replayed.
    for (query, says) in [
        ("a=profile:huge", "policy a: profile must be one of"),
        (
            "a=profile:aks&b=queueLength:many",
            "policy b: queueLength must be a whole number",
        ),
        ("d=profile:aks", "`d` is not a what-if parameter"),
        ("format=csv", "give at least one policy"),
        (
            "a=profile:aks&format=gif",
            "format must be json, csv, svg or png",
        ),
        (
            "a=minReplicaCount:9,maxReplicaCount:2",
            "the policy is not valid",
        ),
    ] {
        let answer = whatif(query.to_string()).await;
        assert_eq!(answer.status(), 400, "{query}");
        let body: Value = answer.json().await.unwrap();
        assert!(
            body["error"].as_str().unwrap().contains(says),
            "{query}: {body}"
        );
    }

    // The model's decisions and its policy are on the API too.
    let cluster: Value = reqwest::get(server.url("/api/cluster"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cluster["source"], "local");
    assert!(cluster["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["reason"].as_str().unwrap().contains("→")));
}

#[tokio::test]
async fn the_policy_can_be_read_and_edited_live_and_bad_edits_are_refused() {
    let azurite = Azurite::start(&Options::for_tests()).unwrap();
    let settings = Settings {
        cluster: Some(autoscale::Profile::demo()),
        ..Settings::default()
    };
    let server = TestServer::with(azurite.ports().blob, azurite.ports().queue, settings).await;
    let client = reqwest::Client::new();
    let cluster: Value = get_json(&client, &server.url("/api/cluster")).await;
    let mut profile = cluster["profile"].clone();
    profile["scaled_object"]["max_replicas"] = 3.into();
    let saved = client
        .put(server.url("/api/cluster/profile"))
        .json(&profile)
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 200);
    let cluster: Value = get_json(&client, &server.url("/api/cluster")).await;
    assert_eq!(cluster["profile"]["scaled_object"]["max_replicas"], 3);

    profile["scaled_object"]["min_replicas"] = 9.into();
    let refused = client
        .put(server.url("/api/cluster/profile"))
        .json(&profile)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("not valid"),
        "{body}"
    );
    let garbage = client
        .put(server.url("/api/cluster/profile"))
        .header("content-type", "application/json")
        .body("{\"nope\": 1}")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 400);
    // Nothing changed by the refused edits.
    let cluster: Value = get_json(&client, &server.url("/api/cluster")).await;
    assert_eq!(cluster["profile"]["scaled_object"]["max_replicas"], 3);
    assert_ne!(cluster["profile"]["scaled_object"]["min_replicas"], 9);

    // A what-if needs a finished run that the history still reaches.
    let started = client
        .post(server.url("/api/orchestrators/ComputeOrchestrator?inputCount=1000&cost=1000000"))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 202);
    let running: Value = started.json().await.unwrap();
    let running = running["id"].as_str().unwrap();
    for (id, status, says) in [
        (running, 409, "replay a finished run"),
        ("0123456789abcdef", 404, "no run"),
    ] {
        for route in [
            protocol::routes::whatif(id) + "?a=profile:aks",
            protocol::routes::replay(id),
        ] {
            let answer = client.get(server.url(&route)).send().await.unwrap();
            assert_eq!(answer.status(), status, "{route}");
            let body: Value = answer.json().await.unwrap();
            assert!(
                body["error"].as_str().unwrap().contains(says),
                "{route}: {body}"
            );
        }
    }
}

/// The JSON body of a GET.
async fn get_json(client: &reqwest::Client, url: &str) -> Value {
    client.get(url).send().await.unwrap().json().await.unwrap()
}
