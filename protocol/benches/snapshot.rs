//! What a new viewer receives first: the snapshot of one hour of history (3,600 samples) while
//! 50 runs are active, in bytes and in the time to serialise and parse it (the server's work and
//! the page's before the first chart can be drawn), compared with the same snapshot when every
//! sample carried every run, as the feed once did. The frame is built as the server's hub
//! builds it: the samples, and the runs once.
//!
//! Run with `cargo xtask bench` (or `cargo bench -p protocol --bench snapshot`).

use std::time::{Duration, Instant};

use protocol::durable::RuntimeStatus;
use protocol::live::{ClusterSample, ClusterSource, Frame, RunProgress, Sample, StorageHealth};
use serde::Serialize;

const SAMPLES: u64 = 3_600;
const RUNS: u32 = 50;
const ROUNDS: u32 = 20;

/// The sample as it was when runs rode inside it.
#[derive(Serialize)]
struct SampleWithRuns<'a> {
    #[serde(flatten)]
    sample: &'a Sample,
    runs: &'a [RunProgress],
}

/// The snapshot as it was then.
#[derive(Serialize)]
struct OldSnapshot<'a> {
    r#type: &'static str,
    interval_ms: u64,
    samples: Vec<SampleWithRuns<'a>>,
}

fn main() {
    let runs: Vec<RunProgress> = (0..RUNS)
        .map(|i| RunProgress {
            id: format!("{:032x}", u128::from(i) * 0x9e37_79b9_7f4a_7c15),
            status: RuntimeStatus::Running,
            total: 10_000,
            scheduled: 10_000,
            completed: i * 100,
            failed: i,
            created_ms: 1_764_180_000_000 + u64::from(i),
            updated_ms: 1_764_183_600_000,
        })
        .collect();
    let samples: Vec<Sample> = (1..=SAMPLES)
        .map(|seq| Sample {
            t_ms: 1_764_180_000_000 + seq * 1000,
            seq,
            queue_length: Some(seq % 700),
            storage: StorageHealth::Ok,
            cluster: ClusterSample {
                source: ClusterSource::Local,
                pods_running: 12,
                pods_starting: 1,
                nodes_ready: 3,
                desired_replicas: Some(13),
                target_queue_length: Some(5),
                ..ClusterSample::default()
            },
            completed_total: seq * 10,
            events_poisoned: 0,
            events: Vec::new(),
        })
        .collect();

    // Now: the samples, and the runs once.
    let (now_bytes, now_time) = measure(|| {
        let frame = Frame::Snapshot {
            interval_ms: 1000,
            samples: samples.clone(),
            runs: runs.clone(),
            replay: None,
        };
        let text = frame.to_json();
        let parsed = Frame::from_json(&text).unwrap();
        assert!(matches!(parsed, Frame::Snapshot { .. }));
        text.len()
    });
    // Before: the same history with every run inside every sample.
    let (old_bytes, old_time) = measure(|| {
        let old = OldSnapshot {
            r#type: "snapshot",
            interval_ms: 1000,
            samples: samples
                .iter()
                .map(|sample| SampleWithRuns {
                    sample,
                    runs: &runs,
                })
                .collect(),
        };
        let text = serde_json::to_string(&old).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            parsed["samples"].as_array().unwrap().len(),
            SAMPLES as usize
        );
        text.len()
    });

    println!("snapshot for a new viewer: {SAMPLES} samples (one hour at 1/s), {RUNS} active runs");
    println!(
        "  runs in every sample (before)   {:>10} bytes   {:>8.1} ms to serialise + parse",
        old_bytes,
        old_time.as_secs_f64() * 1000.0
    );
    println!(
        "  runs in their own frames (now)  {:>10} bytes   {:>8.1} ms to serialise + parse",
        now_bytes,
        now_time.as_secs_f64() * 1000.0
    );
    println!(
        "  {:.1}× smaller, {:.1}× faster",
        old_bytes as f64 / now_bytes as f64,
        old_time.as_secs_f64() / now_time.as_secs_f64()
    );
}

/// The size and the median time of `ROUNDS` runs of `work`.
fn measure(mut work: impl FnMut() -> usize) -> (usize, Duration) {
    let mut times = Vec::with_capacity(ROUNDS as usize);
    let mut bytes = 0;
    for _ in 0..ROUNDS {
        let started = Instant::now();
        bytes = work();
        times.push(started.elapsed());
    }
    times.sort();
    (bytes, times[times.len() / 2])
}
