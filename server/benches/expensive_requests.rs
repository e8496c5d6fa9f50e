//! The most expensive requests a viewer can make, a hundred at once: maximum-size PNG exports
//! (three charts, 4000×4000) and maximum replays (1,000 replicas, 100 nodes, an hour's trace),
//! against one server, while `/healthz` is polled. Reports what each got (200, or 503 with
//! Retry-After once the permits are taken), the p50/p99 latency of `/healthz` meanwhile, and the
//! process's peak resident memory (the server runs in this process).
//!
//! Run with `cargo xtask bench` (or `cargo bench -p server --bench expensive_requests`).

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use protocol::durable::{RuntimeStatus, StatusDocument};
use protocol::routes;
use server::startup::ClusterChoice;

const CONCURRENT: usize = 100;

#[tokio::main]
async fn main() {
    let (_azurite, storage) = common::private_storage().await;
    let running = common::start_server(
        &storage,
        ClusterChoice::Local {
            profile: Box::new(autoscale::Profile::demo()),
            worker: worker::WorkerConfig::default(),
        },
    )
    .await;
    let base = format!("http://{}", running.addr());
    let client = reqwest::Client::new();

    // A finished run to replay.
    let started: serde_json::Value = client
        .post(format!("{base}{}", routes::start(20, Some(0))))
        .header("content-length", "0")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = started["id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        assert!(Instant::now() < deadline, "the run did not finish");
        let doc: StatusDocument = client
            .get(format!("{base}{}", routes::instance(&id)))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if doc.runtime_status == RuntimeStatus::Completed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let png = format!("{base}/api/export/charts.png?minutes=60&width=4000&height=4000");
    let replay = format!(
        "{base}{}?profile=aks&maxReplicaCount=1000&maxNodes=100&pollingInterval=1",
        routes::replay(&id)
    );
    let rss_before = peak_rss_kib();
    let done = tokio::sync::watch::channel(false);
    let probe = tokio::spawn({
        let client = client.clone();
        let url = format!("{base}/healthz");
        let mut stop = done.1.clone();
        async move {
            let mut latencies = Vec::new();
            while !*stop.borrow() {
                let t = Instant::now();
                let ok = client
                    .get(&url)
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 200);
                assert!(ok, "/healthz failed during the load");
                latencies.push(t.elapsed());
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(20)) => {}
                    _ = stop.changed() => {}
                }
            }
            latencies
        }
    });
    let started = Instant::now();
    let requests = (0..CONCURRENT)
        .flat_map(|_| [("png", png.clone()), ("replay", replay.clone())])
        .map(|(kind, url)| {
            let client = client.clone();
            async move {
                let t = Instant::now();
                let response = client.get(&url).send().await.unwrap();
                let status = response.status().as_u16();
                let bytes = response.bytes().await.map(|b| b.len()).unwrap_or(0);
                (kind, status, bytes, t.elapsed())
            }
        });
    let results = join_all(requests).await;
    let took = started.elapsed();
    done.0.send(true).unwrap();
    let mut latencies = probe.await.unwrap();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];

    let mut outcomes: BTreeMap<(&str, u16), (usize, Duration, usize)> = BTreeMap::new();
    for (kind, status, bytes, elapsed) in results {
        let entry = outcomes.entry((kind, status)).or_default();
        entry.0 += 1;
        entry.1 = entry.1.max(elapsed);
        entry.2 = entry.2.max(bytes);
    }
    println!("{CONCURRENT} maximum PNG exports + {CONCURRENT} maximum replays at once, one server");
    for ((kind, status), (count, slowest, bytes)) in &outcomes {
        println!(
            "  {kind:<7} {status}: {count:>3}   slowest {slowest:>8.2?}   largest body {bytes} B"
        );
    }
    println!("  all answered in {took:.2?}");
    println!(
        "  /healthz meanwhile: {} probes, p50 {:.1?}, p99 {:.1?}, max {:.1?}",
        latencies.len(),
        pct(0.50),
        pct(0.99),
        latencies.last().unwrap()
    );
    println!(
        "  peak RSS of the process: {} MiB before, {} MiB after",
        rss_before / 1024,
        peak_rss_kib() / 1024
    );
    running.stop().await.unwrap();
}

/// The process's peak resident set size (`VmHWM`), in KiB.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}
