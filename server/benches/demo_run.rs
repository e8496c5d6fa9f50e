//! One demo-profile run of 500 items on the local cluster model, recorded as a CSV of the
//! replica, pod and node series (`<target>/bench/demo-run.csv`), with the time from the first
//! message to the first Running pod. Run with `cargo xtask bench`.

mod common;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use server::orchestrator::RunInput;
use server::startup::ClusterChoice;

#[tokio::main]
async fn main() {
    let items = common::env_or("SCALEBOARD_BENCH_ITEMS", 500);
    let (_azurite, storage) = common::private_storage().await;
    let profile = autoscale::Profile::demo();
    let min_nodes = profile.node_pool.min_nodes;
    let running = common::start_server(
        &storage,
        ClusterChoice::Local {
            profile: Box::new(profile),
            worker: worker::WorkerConfig::default(),
        },
    )
    .await;
    let engine = running.state().engine.clone();
    let hub = running.state().hub.clone();

    let doc = engine
        .start_run(
            "ComputeOrchestrator",
            RunInput {
                input_count: items,
                cost: worker::DEFAULT_COST,
                fail_every: 0,
            },
        )
        .await
        .unwrap();
    let id = doc.state.id().clone();
    let started = Instant::now();
    let mut csv = String::from("seconds,queue_length,desired_replicas,pods_pending,pods_starting,pods_running,pods_terminating,nodes_ready,nodes_provisioning,completed\n");
    let mut first_message = None;
    let mut first_running = None;
    let mut completed_at = None;
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    loop {
        ticker.tick().await;
        let t = started.elapsed().as_secs_f64();
        // The server's own sampler drives the model once a second; read what it published.
        let Some(sample) = hub.latest() else { continue };
        let queue = sample.queue_length;
        let c = sample.cluster;
        let progress = engine.get(&id).await.unwrap().state.progress();
        if first_message.is_none() && queue.unwrap_or(0) > 0 {
            first_message = Some(t);
        }
        if first_running.is_none() && c.pods_running > 0 {
            first_running = Some(t);
        }
        if completed_at.is_none() && progress.completed == items {
            completed_at = Some(t);
        }
        let _ = writeln!(
            csv,
            "{t:.0},{},{},{},{},{},{},{},{},{}",
            queue.unwrap_or(0),
            c.desired_replicas.unwrap_or(0),
            c.pods_pending,
            c.pods_starting,
            c.pods_running,
            c.pods_terminating,
            c.nodes_ready,
            c.nodes_provisioning,
            progress.completed
        );
        let idle = c.pods_running + c.pods_pending + c.pods_starting + c.pods_terminating == 0;
        if completed_at.is_some() && idle && c.nodes_ready == min_nodes && c.nodes_provisioning == 0
        {
            break;
        }
        assert!(
            t < 900.0,
            "the run did not finish and scale down within 15 minutes"
        );
    }
    running.stop().await.unwrap();
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("../bench");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("demo-run.csv");
    std::fs::write(&path, &csv).unwrap();
    let peak = |column: usize| {
        csv.lines()
            .skip(1)
            .filter_map(|l| l.split(',').nth(column)?.parse::<u32>().ok())
            .max()
            .unwrap_or_default()
    };
    println!(
        "demo-profile run of {items} items (cost {} rounds/item)",
        worker::DEFAULT_COST
    );
    println!(
        "  first message → first Running pod: {:.0} s",
        first_running.unwrap_or_default() - first_message.unwrap_or_default()
    );
    println!(
        "  run completed after {:.0} s; back to 0 pods and {min_nodes} node(s) after {:.0} s",
        completed_at.unwrap_or_default(),
        started.elapsed().as_secs_f64()
    );
    println!(
        "  peak desired replicas {}, running pods {}, ready nodes {}",
        peak(2),
        peak(5),
        peak(7)
    );
    println!("  series: {}", path.display());
}
