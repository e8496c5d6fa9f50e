//! `/metrics` over real HTTP: a server with the local cluster model (real worker loops) on a real
//! Azurite, scraped before and after a run. The counters move by exactly the run's item count,
//! labels come from small fixed sets (never a run id), and the dashboard's port does not serve
//! the metrics.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use azurite::{Azurite, Options};
use plumbing::metrics::{Scrape, CONTENT_TYPE};
use reqwest::StatusCode;
use serde_json::Value;
use support::{eventually, Settings, TestServer};

/// The run's id, chosen so that any label carrying it would be found.
const RUN: &str = "metrics-probe-run-7";
const ITEMS: u32 = 12;

async fn scrape(client: &reqwest::Client, url: &str) -> Scrape {
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], CONTENT_TYPE);
    let text = response.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    Scrape::parse(&text).unwrap()
}

fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .value(name, labels)
        .unwrap_or_else(|| panic!("no {name}{labels:?} in the scrape"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_moves_the_counters_by_its_item_count_on_the_metrics_port_only() {
    let azurite = Azurite::start(&Options::for_tests()).unwrap();
    let settings = Settings {
        cluster: Some(autoscale::Profile::demo()),
        metrics: true,
        ..Settings::default()
    };
    let server = TestServer::with(azurite.ports().blob, azurite.ports().queue, settings).await;
    let client = reqwest::Client::new();
    let metrics_url = format!("http://{}/metrics", server.metrics_addr.unwrap());

    // The dashboard's port does not serve the metrics, and the metrics port nothing else.
    let response = client.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: Value = response.json().await.unwrap();
    assert!(body["error"].is_string(), "{body}");
    let metrics_base = format!("http://{}", server.metrics_addr.unwrap());
    let response = client
        .get(format!("{metrics_base}/api/cluster"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: Value = response.json().await.unwrap();
    assert!(body["error"].is_string(), "{body}");

    let before = scrape(&client, &metrics_url).await;
    let counters = [
        "scaleboard_items_scheduled_total",
        "scaleboard_items_completed_total",
        "scaleboard_items_failed_total",
        "scaleboard_fan_out_messages_total",
        "scaleboard_fan_in_events_total",
        "scaleboard_item_latency_seconds_count",
    ];
    for name in counters {
        assert_eq!(value(&before, name, &[]), 0.0, "{name} before any run");
    }

    let response = client
        .post(server.url(&format!(
            "/runtime/webhooks/durabletask/orchestrators/ComputeOrchestrator/{RUN}?inputCount={ITEMS}&cost=0"
        )))
        .header("Content-Length", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);

    // A hang guard, not a speed limit: the demo profile starts pods a few seconds apart.
    let status_url = server.url(&format!("/runtime/webhooks/durabletask/instances/{RUN}"));
    eventually(Duration::from_secs(240), "the run to complete", || async {
        let body: Value = client
            .get(&status_url)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (body["runtimeStatus"] == "Completed").then_some(())
    })
    .await;
    // The run census is sampled; the counters are counted when the change is stored.
    let after = eventually(
        Duration::from_secs(60),
        "a sample that counts the completed run",
        || async {
            let scrape = scrape(&client, &metrics_url).await;
            (scrape.value("scaleboard_runs", &[("status", "completed")]) == Some(1.0))
                .then_some(scrape)
        },
    )
    .await;

    let moved = |name: &str| value(&after, name, &[]) - value(&before, name, &[]);
    let items = f64::from(ITEMS);
    assert_eq!(moved("scaleboard_items_scheduled_total"), items);
    assert_eq!(moved("scaleboard_items_completed_total"), items);
    assert_eq!(moved("scaleboard_items_failed_total"), 0.0);
    assert_eq!(moved("scaleboard_item_latency_seconds_count"), items);
    assert!(moved("scaleboard_item_latency_seconds_sum") > 0.0);
    assert_eq!(
        value(
            &after,
            "scaleboard_item_latency_seconds_bucket",
            &[("le", "+Inf")]
        ),
        items
    );
    // At least once: a retry or a duplicate event counts again.
    assert!(moved("scaleboard_fan_out_messages_total") >= items);
    assert!(moved("scaleboard_fan_in_events_total") >= items);
    assert_eq!(
        value(&after, "scaleboard_runs", &[("status", "running")]),
        0.0
    );

    // Storage calls, by operation: the fan-out's messages and the workers' events at least.
    let sends = [("operation", "send_message")];
    let sent = value(&after, "scaleboard_storage_calls_total", &sends)
        - value(&before, "scaleboard_storage_calls_total", &sends);
    assert!(sent >= 2.0 * items, "{sent} messages sent");
    assert!(
        value(
            &after,
            "scaleboard_storage_calls_total",
            &[("operation", "queue_length")]
        ) > 0.0
    );
    // The sampled gauges are there with the local model's counts.
    assert!(value(&after, "scaleboard_cluster_nodes", &[("state", "ready")]) >= 1.0);
    value(&after, "scaleboard_cluster_pods", &[("phase", "running")]);
    value(
        &after,
        "scaleboard_queue_messages",
        &[("queue", "work-items")],
    );
    assert_eq!(value(&after, "scaleboard_live_viewers", &[]), 0.0);

    // Labels come from small fixed sets; no value is a run id or carries one.
    let keys: BTreeSet<&str> = after
        .samples
        .iter()
        .flat_map(|s| s.labels.iter().map(|(k, _)| k.as_str()))
        .collect();
    let allowed = BTreeSet::from(["le", "operation", "phase", "queue", "state", "status"]);
    assert!(keys.is_subset(&allowed), "label keys {keys:?}");
    for sample in &after.samples {
        for (key, label) in &sample.labels {
            let hex_id = label.len() >= 16 && label.chars().all(|c| c.is_ascii_hexdigit());
            assert!(
                !label.contains(RUN) && !hex_id,
                "{}{{{key}={label:?}}} looks like a run id",
                sample.name
            );
        }
    }
    let series = after.samples.len();
    assert!(series < 150, "{series} series: a label has too many values");

    server.stop().await;
}
