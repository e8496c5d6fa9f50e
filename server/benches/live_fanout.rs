//! The live feed under load: 1,000, 5,000 and 10,000 concurrent WebSocket clients at 4 samples
//! a second — a conference hall on its phones.
//!
//! For each count, starts the real server binary (local cluster model, 250 ms samples) on one
//! Azurite, connects the clients with tokio-tungstenite, and measures for each sample frame the
//! lag from its creation (`t_ms`, stamped by the server) to its arrival; then reads the server's
//! peak RSS (VmHWM) from /proc. Run with `cargo xtask bench` or `cargo bench -p server --bench
//! live_fanout`; `SCALEBOARD_BENCH_CLIENTS` (a comma-separated list of counts) and
//! `SCALEBOARD_BENCH_SECONDS` change the load.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use azurite::{Azurite, Options};
use futures_util::StreamExt;
use plumbing::clock::now_ms;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

/// The one field a client reads of a frame: a sample frame's creation time.
#[derive(serde::Deserialize)]
struct Stamped {
    sample: Option<Stamp>,
}

#[derive(serde::Deserialize)]
struct Stamp {
    t_ms: u64,
}

#[tokio::main]
async fn main() {
    let counts: Vec<usize> = std::env::var("SCALEBOARD_BENCH_CLIENTS")
        .unwrap_or_else(|_| "1000,5000,10000".into())
        .split(',')
        .filter_map(|c| c.trim().parse().ok())
        .collect();
    let seconds = u64::from(common::env_or("SCALEBOARD_BENCH_SECONDS", 30));
    let azurite = Azurite::start(&Options::for_tests()).expect("start Azurite");
    for clients in counts {
        measure(&azurite, clients, seconds).await;
    }
}

/// One server, `clients` viewers for `seconds`: delivery lag and the server's peak RSS.
async fn measure(azurite: &Azurite, clients: usize, seconds: u64) {
    let (mut server, port) =
        common::spawn_server(azurite, &[("SCALEBOARD_SAMPLE_INTERVAL_MS", "250")]);
    let url = format!("ws://127.0.0.1:{port}/ws/live");
    // Wait for the server to listen.
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio_tungstenite::connect_async(&url).await.is_err() {
        assert!(Instant::now() < deadline, "the server did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Each client keeps its own lags while the window is open: no channel shared by thousands
    // of tasks, whose contention would be the clients' cost, not the server's.
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = tokio_util::sync::CancellationToken::new();
    let connect_started = Instant::now();
    let mut tasks = Vec::with_capacity(clients);
    // A read buffer about one sample frame large: tungstenite zero-fills its whole read buffer
    // (128 KiB by default) before every read, which at 20,000 frames a second would spend this
    // machine's cores on the clients' memset instead of on the server. Larger frames (a
    // snapshot's parts) are still read, in several reads.
    let config = WebSocketConfig::default().read_buffer_size(2 * 1024);
    for _ in 0..clients {
        let (mut socket, _) =
            tokio_tungstenite::connect_async_with_config(&url, Some(config), false)
                .await
                .expect("connect");
        let measuring = measuring.clone();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let mut lags = Vec::with_capacity(usize::try_from(seconds * 4 + 8).unwrap_or(0));
            // Registered once: a waiter made per frame would take the token's shared lock
            // 20,000 times a second, a cost of the clients rather than of the server.
            let stopped = stop.cancelled();
            tokio::pin!(stopped);
            loop {
                let message = tokio::select! {
                    _ = &mut stopped => return lags,
                    message = socket.next() => message,
                };
                let Some(Ok(Message::Text(text))) = message else {
                    return lags;
                };
                if !measuring.load(Ordering::Relaxed) {
                    continue;
                }
                // Only the stamp is read: the clients share this machine's cores with the
                // server, and parsing whole frames 20,000 times a second would measure the
                // clients instead of the server.
                if let Ok(Stamped {
                    sample: Some(Stamp { t_ms }),
                }) = serde_json::from_str::<Stamped>(&text)
                {
                    lags.push(now_ms().saturating_sub(t_ms));
                }
            }
        }));
    }
    let connect_time = connect_started.elapsed();
    // Measure over a steady window, after every client is connected.
    measuring.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    measuring.store(false, Ordering::Relaxed);
    let peak_rss_kib = std::fs::read_to_string(format!("/proc/{}/status", server.id()))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| {
                    l.split_whitespace()
                        .nth(1)
                        .and_then(|v| v.parse::<u64>().ok())
                })
        })
        .unwrap_or_default();
    stop.cancel();
    let mut lags = Vec::new();
    for task in tasks {
        lags.extend(task.await.unwrap_or_default());
    }
    let _ = server.kill();
    let _ = server.wait();

    lags.sort_unstable();
    let pct = |p: f64| {
        lags.get(((lags.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or_default()
    };
    let expected = clients as u64 * seconds * 4;
    println!("live feed benchmark: {clients} clients, 4 samples/s, {seconds} s");
    println!(
        "  connected all clients in {:.1} s",
        connect_time.as_secs_f64()
    );
    println!(
        "  frames delivered {} of ~{expected} expected ({:.1} %)",
        lags.len(),
        100.0 * lags.len() as f64 / expected as f64
    );
    println!(
        "  delivery lag p50 {} ms, p99 {} ms, max {} ms",
        pct(0.5),
        pct(0.99),
        lags.last().copied().unwrap_or_default()
    );
    println!(
        "  server peak RSS {:.1} MiB ({:.1} KiB per client)",
        peak_rss_kib as f64 / 1024.0,
        peak_rss_kib as f64 / clients as f64
    );
}
