//! The storage cost of one reconciliation pass over a run: listing `output/{runId}/` (one call
//! per page of 5,000 names), for runs of 1,000 and 20,000 items, against Azurite.
//!
//! Run with `cargo xtask bench --only reconcile` (or `cargo bench -p server --bench
//! reconcile_cost`; `SCALEBOARD_BENCH_ITEMS` replaces the two sizes by one). Prints, per size:
//! the list calls and the bytes they return (the same List Blobs request the storage crate
//! sends, made by hand so that every page is counted), and the time of the pass through the
//! storage crate as the engine makes it. A pass that finds every item counted reads nothing
//! else; an output whose event was missed costs one more GET of its few hundred bytes.

mod common;

use std::time::{Duration, Instant};

use futures_util::{stream, StreamExt};
use protocol::work::{item_blob, ItemOutput};
use storage::{names, Storage};

const SIZES: [u32; 2] = [1_000, 20_000];
const CONCURRENCY: usize = 32;

#[tokio::main]
async fn main() {
    let sizes = match std::env::var("SCALEBOARD_BENCH_ITEMS") {
        Ok(_) => vec![common::env_or("SCALEBOARD_BENCH_ITEMS", SIZES[0])],
        Err(_) => SIZES.to_vec(),
    };
    let (_azurite, storage) = common::private_storage().await;
    println!("reconciliation pass: listing a run's outputs, Azurite on loopback");
    for items in sizes {
        let run = format!("bench{items}");
        write_outputs(&storage, &run, items).await;
        let prefix = format!("{run}/");

        let started = Instant::now();
        let listed = storage
            .list_blob_names(names::OUTPUT_CONTAINER, &prefix)
            .await
            .unwrap();
        let took = started.elapsed();
        assert_eq!(listed.len(), items as usize, "every output listed");

        let (calls, bytes) = raw_listing(&storage, &prefix, items).await;
        println!(
            "  {items:>6} items: {calls} list call(s), {bytes} bytes ({:.0} bytes per item), pass {:.0} ms",
            bytes as f64 / f64::from(items),
            took.as_secs_f64() * 1000.0
        );
    }
}

/// Writes `items` outputs as a worker does, `CONCURRENCY` at a time.
async fn write_outputs(storage: &Storage, run: &str, items: u32) {
    let started = Instant::now();
    stream::iter(0..items)
        .for_each_concurrent(CONCURRENCY, |item| async move {
            let output = ItemOutput {
                run_id: run.to_string(),
                item,
                value: u64::from(item).wrapping_mul(0x9e37_79b9_7f4a_7c15),
                digest: format!("{:064x}", item),
                cost: 0,
                worker: "scaleboard-worker-7d9f8c6b5-x2x4q".into(),
                started_ms: 1_764_180_000_000,
                finished_ms: 1_764_180_000_850,
                compute_ms: 850,
            };
            storage
                .upload_blob(
                    names::OUTPUT_CONTAINER,
                    &item_blob(run, item),
                    serde_json::to_vec(&output).unwrap(),
                    "application/json",
                )
                .await
                .unwrap();
        })
        .await;
    eprintln!(
        "  ({items} outputs written in {:.1} s)",
        started.elapsed().as_secs_f64()
    );
}

/// The List Blobs calls of one pass and the bytes of their bodies, following `NextMarker`
/// page by page as the SDK's pager does.
async fn raw_listing(storage: &Storage, prefix: &str, items: u32) -> (u32, usize) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let base = storage.container(names::OUTPUT_CONTAINER).url().clone();
    let mut marker = String::new();
    let (mut calls, mut bytes, mut names) = (0u32, 0usize, 0usize);
    loop {
        let mut url = base.clone();
        url.query_pairs_mut()
            .append_pair("restype", "container")
            .append_pair("comp", "list")
            .append_pair("prefix", prefix);
        if !marker.is_empty() {
            url.query_pairs_mut().append_pair("marker", &marker);
        }
        let body = client
            .get(url)
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .text()
            .await
            .unwrap();
        calls += 1;
        bytes += body.len();
        names += body.matches("<Blob>").count();
        marker = between(&body, "<NextMarker>", "</NextMarker>").unwrap_or_default();
        if marker.is_empty() {
            break;
        }
        assert!(calls <= items / 1000 + 2, "more pages than names");
    }
    assert_eq!(names, items as usize, "every output listed by hand");
    (calls, bytes)
}

fn between(text: &str, open: &str, close: &str) -> Option<String> {
    let start = text.find(open)? + open.len();
    let end = start + text[start..].find(close)?;
    Some(text[start..end].to_string())
}
