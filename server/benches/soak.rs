//! A soak: one run of 20,000 items at cost 0 through the whole local system — the real server
//! binary with its local cluster model running the worker pods' loops, on one Azurite — while a
//! viewer keeps arriving.
//!
//! The server runs with its defaults, so the fan-out keeps at most `--fan-out-window` (1,000)
//! of the run's items queued; the figures are those of the system a user starts.
//!
//! Every 5 s it reads the run's status (items done, so items/s over time), the server's resident
//! memory from /proc, and opens a fresh live socket as a new dashboard would: the time until its
//! first frame (what the page needs to draw its first chart) and that frame's size. It also times
//! the dashboard's HTML. Prints the figures and writes the series to `<target>/bench/soak.csv`.
//! Run with `cargo xtask bench --only soak` or `cargo bench -p server --bench soak`;
//! `SCALEBOARD_BENCH_ITEMS` changes the run's size.

mod common;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use azurite::{Azurite, Options};
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;

/// How often the run is looked at.
const EVERY: Duration = Duration::from_secs(5);
/// A hang guard: the soak gives up after this long.
const LIMIT: Duration = Duration::from_secs(3600);

#[tokio::main]
async fn main() {
    let items = common::env_or("SCALEBOARD_BENCH_ITEMS", 20_000);
    let azurite = Azurite::start(&Options::for_tests()).expect("start Azurite");
    let (mut server, port) = common::spawn_server(&azurite, &[("SCALEBOARD_CLUSTER", "local")]);
    let base = format!("http://127.0.0.1:{port}");
    let live = format!("ws://127.0.0.1:{port}{}", protocol::live::LIVE_PATH);
    let http = reqwest::Client::new();

    let started = Instant::now();
    let id = loop {
        let response = http
            .post(format!("{base}{}", protocol::routes::start(items, Some(0))))
            .header("content-length", "0")
            .send()
            .await;
        if let Ok(response) = response {
            assert_eq!(response.status(), 202, "the run is accepted");
            let body: serde_json::Value = response.json().await.unwrap();
            break body["id"].as_str().unwrap().to_string();
        }
        assert!(started.elapsed() < Duration::from_secs(60), "no server");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let started = Instant::now();
    let mut csv = String::from(
        "seconds,scheduled,completed,items_per_s,rss_mib,first_frame_ms,first_frame_bytes,page_ms\n",
    );
    let mut rows: Vec<Row> = Vec::new();
    let mut fanned_out_at = None;
    let mut last_completed = 0u32;
    let mut ticker = tokio::time::interval(EVERY);
    let status = loop {
        ticker.tick().await;
        let t = started.elapsed();
        assert!(t < LIMIT, "the soak did not finish within {LIMIT:?}");
        let body: serde_json::Value = http
            .get(format!("{base}{}", protocol::routes::instance(&id)))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let progress = &body["customStatus"];
        let number = |field: &str| u32::try_from(progress[field].as_u64().unwrap()).unwrap();
        let (scheduled, completed) = (number("scheduled"), number("completed"));
        if fanned_out_at.is_none() && scheduled == items {
            fanned_out_at = Some(t);
        }
        let (first_frame, first_frame_bytes) = first_frame(&live).await;
        let page = Instant::now();
        let html = http.get(&base).send().await.unwrap();
        assert!(html.status().is_success());
        html.bytes().await.unwrap();
        let row = Row {
            seconds: t.as_secs_f64(),
            scheduled,
            completed,
            items_per_s: f64::from(completed - last_completed) / EVERY.as_secs_f64(),
            rss_mib: rss_mib(server.id(), "VmRSS:"),
            first_frame_ms: first_frame.as_secs_f64() * 1000.0,
            first_frame_bytes,
            page_ms: page.elapsed().as_secs_f64() * 1000.0,
        };
        last_completed = completed;
        let _ = writeln!(
            csv,
            "{:.0},{},{},{:.0},{:.1},{:.1},{},{:.1}",
            row.seconds,
            row.scheduled,
            row.completed,
            row.items_per_s,
            row.rss_mib,
            row.first_frame_ms,
            row.first_frame_bytes,
            row.page_ms
        );
        eprintln!(
            "{:>5.0} s  scheduled {:>6}  completed {:>6}  {:>5.0} items/s  RSS {:>6.1} MiB  first frame {:>6.1} ms ({} B)",
            row.seconds,
            row.scheduled,
            row.completed,
            row.items_per_s,
            row.rss_mib,
            row.first_frame_ms,
            row.first_frame_bytes
        );
        rows.push(row);
        let runtime = body["runtimeStatus"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if runtime != "Running" && runtime != "Pending" {
            break runtime;
        }
    };
    let duration = started.elapsed();
    let peak_rss = rss_mib(server.id(), "VmHWM:");
    let _ = server.kill();
    let _ = server.wait();

    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("../bench");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("soak.csv");
    std::fs::write(&path, &csv).unwrap();

    let rates: Vec<f64> = rows
        .iter()
        .filter(|r| r.completed > 0 && r.completed < items)
        .map(|r| r.items_per_s)
        .collect();
    let frames: Vec<f64> = rows.iter().map(|r| r.first_frame_ms).collect();
    let pages: Vec<f64> = rows.iter().map(|r| r.page_ms).collect();
    println!("soak: one run of {items} items at cost 0, local model, one Azurite");
    println!(
        "  ended {status} after {:.0} s (fan-out done at {:.0} s): {:.0} items/s on average",
        duration.as_secs_f64(),
        fanned_out_at.map_or(f64::NAN, |t| t.as_secs_f64()),
        f64::from(items) / duration.as_secs_f64()
    );
    println!(
        "  items/s per {} s while items completed: min {:.0}, median {:.0}, max {:.0}",
        EVERY.as_secs(),
        percentile(&rates, 0.0),
        percentile(&rates, 0.5),
        percentile(&rates, 1.0)
    );
    println!("  server peak RSS (VmHWM): {peak_rss:.1} MiB");
    println!(
        "  a new viewer's first frame: {} to {} bytes; time to it p50 {:.1} ms, max {:.1} ms",
        rows.iter().map(|r| r.first_frame_bytes).min().unwrap_or(0),
        rows.iter().map(|r| r.first_frame_bytes).max().unwrap_or(0),
        percentile(&frames, 0.5),
        percentile(&frames, 1.0)
    );
    println!(
        "  the dashboard's HTML: p50 {:.1} ms, max {:.1} ms",
        percentile(&pages, 0.5),
        percentile(&pages, 1.0)
    );
    println!("  series: {}", path.display());
    assert_eq!(status, "Completed", "the soak's run completes");
    drop(azurite);
}

struct Row {
    seconds: f64,
    scheduled: u32,
    completed: u32,
    items_per_s: f64,
    rss_mib: f64,
    first_frame_ms: f64,
    first_frame_bytes: usize,
    page_ms: f64,
}

/// Connects as a new dashboard does: the time until the first frame (the snapshot the first
/// chart is drawn from), and its size.
async fn first_frame(url: &str) -> (Duration, usize) {
    let connected = Instant::now();
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connect to the live feed");
    loop {
        let message = tokio::time::timeout(Duration::from_secs(30), socket.next())
            .await
            .expect("a first frame within 30 s")
            .expect("the socket stays open")
            .expect("a valid message");
        if let Message::Text(text) = message {
            return (connected.elapsed(), text.len());
        }
    }
}

/// A line of /proc/<pid>/status in MiB.
fn rss_mib(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

/// The `q`-quantile of `values` (0 = min, 1 = max); NaN when empty.
fn percentile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let index = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[index]
}
