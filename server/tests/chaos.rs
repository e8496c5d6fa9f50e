//! Chaos with real processes: the `scaleboard` server binary (no in-process cluster model) and
//! several `scaleboard-worker` binaries on one Azurite, killed with SIGKILL at the worst moments.
//! Every scenario ends with everything accounted for: the run Completed (or Terminated when
//! asked), exactly one output blob per completed item, exact counts in the status document,
//! `work-items` and `item-events` empty, and the poison queue holding only the items made to
//! fail on purpose.
//!
//! The worker binary is built (a no-op when up to date) by the same cargo, into the same target
//! folder, before the first scenario. Scenarios take turns: each burns the machine's cores.

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use azurite::{Azurite, Options};
use protocol::durable::{RuntimeStatus, StatusDocument};
use reqwest::StatusCode;
use serde_json::Value;
use storage::{names, Storage};
use support::{
    blobs_of_run, eventually, next_sample, send_completion, storage_for, take_event_poison,
};
use tokio::process::{Child, Command};
use tokio::sync::{Mutex, OnceCell};

const SERVER_BIN: &str = env!("CARGO_BIN_EXE_scaleboard");
/// Longest a scenario waits for any one thing; a hang guard, not a speed limit.
const HANG_GUARD: Duration = Duration::from_secs(180);

static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());
static WORKER_BIN: OnceCell<PathBuf> = OnceCell::const_new();

/// The `scaleboard-worker` binary of this build, built now if it is missing or stale.
async fn worker_bin() -> &'static Path {
    WORKER_BIN
        .get_or_init(|| async {
            let server = Path::new(SERVER_BIN);
            let release = server
                .parent()
                .and_then(Path::file_name)
                .is_some_and(|profile| profile == "release");
            let mut build = Command::new(env!("CARGO"));
            build.args(["build", "--package", "worker", "--bin", "scaleboard-worker"]);
            if release {
                build.arg("--release");
            }
            let status = build
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .status()
                .await
                .expect("cargo runs");
            assert!(status.success(), "building scaleboard-worker failed");
            let bin =
                server.with_file_name(format!("scaleboard-worker{}", std::env::consts::EXE_SUFFIX));
            assert!(bin.exists(), "{} was not built", bin.display());
            bin
        })
        .await
}

/// One Azurite (restartable on the same ports with the same data), one server process
/// (restartable on the same port), and when asked a second server on the same Azurite; worker
/// processes.
struct Stack {
    azurite: Azurite,
    azurite_options: Options,
    _azurite_data: tempfile::TempDir,
    storage: Storage,
    port: u16,
    metrics_port: u16,
    server: Option<Child>,
    /// A second server on the same Azurite, with its port and its metrics port.
    standby: Option<(Child, u16, u16)>,
    /// Added to the scenario's report row.
    note: String,
    server_env: Vec<(&'static str, String)>,
    workers: Vec<Child>,
    client: reqwest::Client,
    started: std::time::Instant,
}

impl Stack {
    async fn start(server_env: &[(&'static str, &str)]) -> Stack {
        let data = tempfile::tempdir().unwrap();
        let mut azurite_options = Options {
            data_dir: Some(data.path().to_path_buf()),
            ..Options::for_tests()
        };
        let azurite = Azurite::start(&azurite_options).unwrap();
        // A restart takes the same ports, which the workers and the server know.
        azurite_options.ports = azurite.ports();
        let storage = storage_for(azurite.ports().blob, azurite.ports().queue);
        let mut stack = Stack {
            azurite,
            azurite_options,
            _azurite_data: data,
            storage,
            port: free_port(),
            metrics_port: free_port(),
            server: None,
            standby: None,
            note: String::new(),
            server_env: server_env
                .iter()
                .map(|(k, v)| (*k, (*v).to_string()))
                .collect(),
            workers: Vec::new(),
            client: reqwest::Client::new(),
            started: std::time::Instant::now(),
        };
        stack.start_server().await;
        stack
    }

    /// Starts the server and waits until it answers.
    async fn start_server(&mut self) {
        let child = self.spawn_server(self.port, self.metrics_port).await;
        self.server = Some(child);
    }

    /// Starts a second server on the same Azurite and waits until it answers.
    async fn start_standby(&mut self) {
        let (port, metrics_port) = (free_port(), free_port());
        let child = self.spawn_server(port, metrics_port).await;
        self.standby = Some((child, port, metrics_port));
    }

    /// From now on the second server is the one the scenario talks to.
    fn promote_standby(&mut self) {
        let (child, port, metrics_port) = self.standby.take().expect("a second server runs");
        self.server = Some(child);
        self.port = port;
        self.metrics_port = metrics_port;
    }

    /// A server process on `port` (metrics on `metrics_port`), once it answers.
    async fn spawn_server(&self, port: u16, metrics_port: u16) -> Child {
        let ports = self.azurite.ports();
        let mut command = Command::new(SERVER_BIN);
        command
            .env_clear()
            .env("SCALEBOARD_ADDR", format!("127.0.0.1:{port}"))
            .env(
                "SCALEBOARD_METRICS_ADDR",
                format!("127.0.0.1:{metrics_port}"),
            )
            .env(
                "SCALEBOARD_AZURITE_BLOB",
                format!("127.0.0.1:{}", ports.blob),
            )
            .env(
                "SCALEBOARD_AZURITE_QUEUE",
                format!("127.0.0.1:{}", ports.queue),
            )
            .env("SCALEBOARD_CLUSTER", "none")
            .env("SCALEBOARD_SAMPLE_INTERVAL_MS", "500")
            .env("LEPTOS_SITE_ROOT", "target/site")
            .env("RUST_LOG", "warn");
        for (key, value) in &self.server_env {
            command.env(key, value);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}/api/runs");
        let client = self.client.clone();
        eventually(HANG_GUARD, "the server to answer", || {
            let request = client.get(&url).send();
            async move { request.await.ok().map(|_| ()) }
        })
        .await;
        child
    }

    /// A counter or gauge of the server's `/metrics` on `metrics_port`.
    async fn metric(&self, metrics_port: u16, name: &str) -> Option<f64> {
        let text = self
            .client
            .get(format!("http://127.0.0.1:{metrics_port}/metrics"))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
    }

    /// SIGKILLs the server and waits until it is gone.
    async fn kill_server(&mut self) {
        let mut server = self.server.take().expect("a server runs");
        server.kill().await.unwrap();
    }

    /// Stops Azurite (both services); its data stays for [`Stack::start_azurite`].
    fn stop_azurite(&mut self) {
        self.azurite.stop();
    }

    /// Starts Azurite again on the same ports with the same data.
    fn start_azurite(&mut self) {
        self.azurite = Azurite::start(&self.azurite_options).unwrap();
    }

    /// Starts `count` more worker processes: quick to poll, and quick to see the message of a
    /// killed worker again (5 s visibility).
    async fn start_workers(&mut self, count: usize) {
        self.start_workers_with(count, &[]).await;
    }

    /// Starts `count` more worker processes with extra environment.
    async fn start_workers_with(&mut self, count: usize, env: &[(&str, &str)]) {
        let bin = worker_bin().await;
        for _ in 0..count {
            let name = format!("chaos-worker-{}", self.workers.len());
            let child = Command::new(bin)
                .env_clear()
                .envs(env.iter().copied())
                .env(
                    "AZURE_STORAGE_CONNECTION_STRING",
                    self.azurite.connection_string(),
                )
                .env("HOSTNAME", name)
                .env("SCALEBOARD_WORKER_VISIBILITY_SECONDS", "5")
                .env("SCALEBOARD_WORKER_MAX_IDLE_MS", "200")
                .env("RUST_LOG", "warn")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .kill_on_drop(true)
                .spawn()
                .unwrap();
            self.workers.push(child);
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Connects to the server's live feed.
    async fn live(&self) -> support::Socket {
        let url = format!("ws://127.0.0.1:{}{}", self.port, protocol::live::LIVE_PATH);
        tokio_tungstenite::connect_async(url)
            .await
            .expect("connect to the live socket")
            .0
    }

    /// Starts a run; its id and management URIs.
    async fn start_run(&self, query: &str) -> (String, Value) {
        let response = self
            .client
            .post(self.url(&format!("/api/orchestrators/ComputeOrchestrator?{query}")))
            .header("content-length", "0")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let body: Value = response.json().await.unwrap();
        (body["id"].as_str().unwrap().to_string(), body)
    }

    async fn status(&self, id: &str) -> Option<StatusDocument> {
        let response = self
            .client
            .get(self.url(&protocol::routes::instance(id)))
            .send()
            .await
            .ok()?;
        if !matches!(response.status(), StatusCode::OK | StatusCode::ACCEPTED) {
            return None;
        }
        response.json().await.ok()
    }

    /// Waits until the run's status satisfies `done`.
    async fn wait_status(
        &self,
        id: &str,
        what: &str,
        done: impl Fn(&StatusDocument) -> bool,
    ) -> StatusDocument {
        let done = &done;
        eventually(HANG_GUARD, what, || async move {
            self.status(id).await.filter(|s| done(s))
        })
        .await
    }

    async fn queue_length(&self, queue: &str) -> u64 {
        self.storage.queue_length(queue).await.unwrap()
    }

    /// Waits until `queue` holds no message, visible or hidden.
    async fn drained(&self, queue: &'static str) {
        eventually(HANG_GUARD, &format!("an empty {queue}"), || async move {
            (self.storage.queue_length(queue).await.ok()? == 0).then_some(())
        })
        .await;
    }

    async fn outputs(&self, id: &str) -> Vec<String> {
        blobs_of_run(&self.storage, names::OUTPUT_CONTAINER, id).await
    }

    /// Every poison record now: `(run id, item)`.
    async fn poisoned(&self) -> Vec<(Option<String>, Option<u32>)> {
        let mut records = Vec::new();
        loop {
            let batch = self
                .storage
                .receive(names::POISON_QUEUE, 32, Duration::from_secs(60))
                .await
                .unwrap();
            if batch.is_empty() {
                return records;
            }
            for message in batch {
                let record: worker::poison::PoisonRecord =
                    serde_json::from_str(&message.text).unwrap();
                records.push((record.run_id, record.item));
            }
        }
    }

    /// The end of every scenario that runs to the end: the run Completed (Failed when `failed`
    /// items were made to fail), one output per completed item, both queues empty and poison holding exactly the
    /// failed items.
    async fn assert_completed(&self, id: &str, total: u32, failed: &[u32]) {
        let done = self
            .wait_status(id, "the run to finish", |s| {
                s.runtime_status != RuntimeStatus::Running
                    && s.runtime_status != RuntimeStatus::Pending
            })
            .await;
        let expected_failed = u32::try_from(failed.len()).unwrap();
        let progress = &done.custom_status;
        // A run with failed items ends Failed once every item is accounted for.
        let expected_status = if failed.is_empty() {
            RuntimeStatus::Completed
        } else {
            RuntimeStatus::Failed
        };
        assert_eq!(done.runtime_status, expected_status, "{done:?}");
        assert_eq!(
            (
                progress.total,
                progress.scheduled,
                progress.completed,
                progress.failed
            ),
            (total, total, total - expected_failed, expected_failed),
            "{done:?}"
        );
        self.drained(names::WORK_QUEUE).await;
        self.drained(names::EVENTS_QUEUE).await;
        let outputs = self.outputs(id).await;
        assert_eq!(outputs.len() as u32, total - expected_failed);
        let mut poisoned: Vec<u32> = self
            .poisoned()
            .await
            .into_iter()
            .map(|(run, item)| {
                assert_eq!(run.as_deref(), Some(id));
                item.expect("a poisoned item names itself")
            })
            .collect();
        poisoned.sort_unstable();
        assert_eq!(poisoned, failed);
        self.report(
            total,
            outputs.len(),
            &format!("{} failed items", failed.len()),
        );
    }

    /// One line for the suite's table: the scenario (the test's name), its size, its outputs,
    /// how long it took and what the queues hold at its end.
    fn report(&self, items: u32, outputs: usize, poison: &str) {
        let scenario = std::thread::current()
            .name()
            .unwrap_or("a scenario")
            .to_string();
        let mut line = format!(
            "chaos | {scenario} | N={items} | outputs={outputs} | {:.0} s | work-items 0, item-events 0, poison: {poison}",
            self.started.elapsed().as_secs_f64()
        );
        if !self.note.is_empty() {
            line.push_str(" | ");
            line.push_str(&self.note);
        }
        eprintln!("{line}");
        // Also kept with the build (a passing test's output is not shown), one line per
        // scenario run, for the suite's table.
        let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("chaos-report.txt");
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            use std::io::Write as _;
            let _ = writeln!(file, "{line}");
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let standby = self.standby.as_mut().map(|(child, _, _)| child);
        for child in self
            .workers
            .iter_mut()
            .chain(self.server.as_mut())
            .chain(standby)
        {
            let _ = child.start_kill();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_mid_fan_out_then_started_again() {
    let _turn = ONE_AT_A_TIME.lock().await;
    // A slow fan-out: two items written at a time.
    let mut stack = Stack::start(&[("SCALEBOARD_FAN_OUT_CONCURRENCY", "4")]).await;
    stack.start_workers(3).await;
    const ITEMS: u32 = 800;
    let (id, _) = stack.start_run(&format!("inputCount={ITEMS}&cost=0")).await;
    // Some messages out, most not.
    eventually(HANG_GUARD, "the fan-out under way", || async {
        let doc = stack.status(&id).await?;
        let sent = stack.storage.queue_length(names::WORK_QUEUE).await.ok()?
            + u64::from(doc.custom_status.completed);
        (sent >= 50).then_some(())
    })
    .await;
    let before = stack.status(&id).await.unwrap();
    assert!(before.custom_status.scheduled < ITEMS, "{before:?}");
    stack.kill_server().await;
    stack.start_server().await;
    stack.assert_completed(&id, ITEMS, &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_mid_fan_in_then_started_again() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let mut stack = Stack::start(&[]).await;
    const ITEMS: u32 = 600;
    let (id, _) = stack.start_run(&format!("inputCount={ITEMS}&cost=0")).await;
    stack
        .wait_status(&id, "the fan-out done", |s| {
            s.custom_status.scheduled == ITEMS
        })
        .await;
    stack.start_workers(3).await;
    stack
        .wait_status(&id, "a quarter of the items done", |s| {
            s.custom_status.completed >= ITEMS / 4
        })
        .await;
    stack.kill_server().await;
    // The workers go on while no server listens: their events wait in the queue.
    eventually(
        HANG_GUARD,
        "events waiting while the server is down",
        || async { (stack.queue_length(names::EVENTS_QUEUE).await > 10).then_some(()) },
    )
    .await;
    stack.start_server().await;
    stack.assert_completed(&id, ITEMS, &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_killed_mid_item_while_others_keep_going() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let mut stack = Stack::start(&[]).await;
    stack.start_workers(4).await;
    const ITEMS: u32 = 120;
    const FAIL_EVERY: u32 = 40;
    // About 0.2 s of SHA-256 per item in a debug build, so a worker is nearly always mid-item.
    let (id, _) = stack
        .start_run(&format!(
            "inputCount={ITEMS}&cost=600000&failEvery={FAIL_EVERY}"
        ))
        .await;
    for victim in 0..2 {
        let done_before = stack.status(&id).await.unwrap().custom_status.completed;
        stack
            .wait_status(&id, "more items done", |s| {
                s.custom_status.completed >= done_before + 10
            })
            .await;
        let mut worker = stack.workers.remove(victim);
        worker.kill().await.unwrap();
    }
    let failed: Vec<u32> = (0..ITEMS)
        .filter(|item| (item + 1) % FAIL_EVERY == 0)
        .collect();
    stack.assert_completed(&id, ITEMS, &failed).await;
}

/// Terminates a run halfway (and purges it when asked): the workers drop the rest of its items.
async fn stopped_halfway(purge: bool) {
    let mut stack = Stack::start(&[]).await;
    stack.start_workers(3).await;
    const ITEMS: u32 = 400;
    let (id, body) = stack
        .start_run(&format!("inputCount={ITEMS}&cost=150000"))
        .await;
    stack
        .wait_status(&id, "a quarter of the items done", |s| {
            s.custom_status.completed >= ITEMS / 4
        })
        .await;
    let terminate = body["terminatePostUri"]
        .as_str()
        .unwrap()
        .replace("{text}", "enough");
    let response = stack.client.post(&terminate).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let stopped = stack.status(&id).await.unwrap();
    assert_eq!(stopped.runtime_status, RuntimeStatus::Terminated);
    if purge {
        let purge_uri = body["purgeHistoryDeleteUri"].as_str().unwrap();
        let purged = stack.client.delete(purge_uri).send().await.unwrap();
        assert_eq!(purged.status(), StatusCode::OK);
    }
    stack.drained(names::WORK_QUEUE).await;
    stack.drained(names::EVENTS_QUEUE).await;
    let outputs = stack.outputs(&id).await.len() as u32;
    if purge {
        assert_eq!(outputs, 0, "outputs written after the purge");
        assert!(stack.status(&id).await.is_none());
    } else {
        let after = stack.status(&id).await.unwrap();
        assert_eq!(after.runtime_status, RuntimeStatus::Terminated);
        assert_eq!(
            after.custom_status.completed,
            stopped.custom_status.completed
        );
        assert!(
            outputs >= stopped.custom_status.completed && outputs < ITEMS,
            "{outputs} outputs, {} completed at termination",
            stopped.custom_status.completed
        );
    }
    assert!(stack.poisoned().await.is_empty());
    stack.report(ITEMS, outputs as usize, "empty");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_terminated_halfway_is_dropped_by_the_worker_processes() {
    let _turn = ONE_AT_A_TIME.lock().await;
    stopped_halfway(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_purged_halfway_is_dropped_by_the_worker_processes() {
    let _turn = ONE_AT_A_TIME.lock().await;
    stopped_halfway(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_stopped_for_30_s_mid_run_while_the_live_feed_keeps_ticking() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let mut stack = Stack::start(&[]).await;
    stack.start_workers(3).await;
    const ITEMS: u32 = 400;
    let (id, _) = stack
        .start_run(&format!("inputCount={ITEMS}&cost=150000"))
        .await;
    stack
        .wait_status(&id, "a quarter of the items done", |s| {
            s.custom_status.completed >= ITEMS / 4
        })
        .await;
    let mut live = stack.live().await;

    stack.stop_azurite();
    // The first sample that says so; the sampler's own call to storage is bounded.
    let guard = tokio::time::Instant::now() + Duration::from_secs(60);
    let first = loop {
        let sample = next_sample(&mut live, guard)
            .await
            .expect("a sample saying storage is unreachable within a minute");
        if !sample.storage.is_ok() {
            break sample;
        }
    };
    // The outage lasts 30 s from then; the feed keeps its 500 ms cadence all along, each sample
    // naming the endpoint that does not answer (the badge's text).
    let outage = Duration::from_secs(30);
    let until = tokio::time::Instant::now() + outage;
    let mut during = vec![first];
    while let Some(sample) = next_sample(&mut live, until).await {
        during.push(sample);
    }
    stack.start_azurite();
    let due = outage.as_millis() / 500;
    assert!(
        during.len() as u128 >= due / 2,
        "{} samples in {outage:?}, {due} due",
        during.len()
    );
    for sample in &during {
        match &sample.storage {
            protocol::live::StorageHealth::Unreachable { endpoint, error } => {
                assert!(!endpoint.is_empty() && !error.is_empty(), "{sample:?}")
            }
            protocol::live::StorageHealth::Ok => panic!("storage said reachable: {sample:?}"),
        }
        assert!(sample.queue_length.is_none(), "{sample:?}");
    }
    assert!(
        during.windows(2).all(|w| w[0].seq < w[1].seq),
        "samples in order"
    );
    let guard = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let sample = next_sample(&mut live, guard)
            .await
            .expect("a sample saying storage is back within two minutes");
        if sample.storage.is_ok() {
            break;
        }
    }
    // Workers and server retried through the outage: nothing lost, nothing twice.
    stack.assert_completed(&id, ITEMS, &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_percent_of_the_events_lost_still_completes_exactly() {
    let _turn = ONE_AT_A_TIME.lock().await;
    // The workers post no event: as on AKS, a relay plays Event Grid (BlobCreated, no result),
    // and it drops every 20th event before the server can see it. The server lists the run's
    // outputs every 2 s and counts what the lost events did not.
    let mut stack = Stack::start(&[("SCALEBOARD_RECONCILE_INTERVAL", "2")]).await;
    stack
        .start_workers_with(3, &[("SCALEBOARD_EMIT_EVENTS", "false")])
        .await;
    const ITEMS: u32 = 400;
    let (id, _) = stack
        .start_run(&format!("inputCount={ITEMS}&cost=50000"))
        .await;
    let relay = {
        let storage = stack.storage.clone();
        let id = id.clone();
        tokio::spawn(async move {
            let mut seen = std::collections::BTreeSet::new();
            let mut dropped = 0u32;
            while seen.len() < ITEMS as usize {
                for name in blobs_of_run(&storage, names::OUTPUT_CONTAINER, &id).await {
                    let (_, item) = protocol::work::parse_item_blob(&name).expect("an item blob");
                    if !seen.insert(item) {
                        continue;
                    }
                    if item % 20 == 7 {
                        dropped += 1;
                    } else {
                        send_completion(&storage, &id, item, None).await;
                    }
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            dropped
        })
    };
    stack.assert_completed(&id, ITEMS, &[]).await;
    let dropped = tokio::time::timeout(HANG_GUARD, relay)
        .await
        .expect("the relay saw every output")
        .unwrap();
    assert_eq!(dropped, ITEMS / 20, "the relay lost 5 % of the events");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_for_a_purged_run_and_a_missing_blob_are_parked_and_nothing_else_moves() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let mut stack = Stack::start(&[
        ("SCALEBOARD_EVENT_VISIBILITY_SECONDS", "1"),
        ("SCALEBOARD_EVENT_MAX_DEQUEUE", "3"),
    ])
    .await;
    stack.start_workers(2).await;
    // A run that finishes and is purged.
    let (purged, body) = stack.start_run("inputCount=20&cost=0").await;
    stack
        .wait_status(&purged, "the small run done", |s| {
            s.runtime_status == RuntimeStatus::Completed
        })
        .await;
    let purge_uri = body["purgeHistoryDeleteUri"].as_str().unwrap();
    let response = stack.client.delete(purge_uri).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    for worker in &mut stack.workers {
        worker.kill().await.unwrap();
    }
    stack.workers.clear();

    // A run whose items are queued and not yet worked on: none of its outputs exists.
    const ITEMS: u32 = 200;
    const FAIL_EVERY: u32 = 50;
    let (going, _) = stack
        .start_run(&format!(
            "inputCount={ITEMS}&cost=50000&failEvery={FAIL_EVERY}"
        ))
        .await;
    stack
        .wait_status(&going, "the fan-out done", |s| {
            s.custom_status.scheduled == ITEMS
        })
        .await;
    // Injected through the Storage REST API: two events for the purged run (as the worker
    // sends it, and as Event Grid sends it), and one for an output of the going run that is
    // not there (item 49, which is made to fail, so it never will be).
    send_completion(&stack.storage, &purged, 0, Some(1)).await;
    send_completion(&stack.storage, &purged, 1, None).await;
    send_completion(&stack.storage, &going, FAIL_EVERY - 1, None).await;
    eventually(HANG_GUARD, "three parked events", || async {
        let poisoned = stack
            .storage
            .queue_length(names::EVENTS_POISON_QUEUE)
            .await
            .ok()?;
        (poisoned >= 3).then_some(())
    })
    .await;
    let records = take_event_poison(&stack.storage).await;
    assert_eq!(records.len(), 3, "{records:#?}");
    for record in &records {
        let reason = record["reason"].as_str().unwrap();
        assert!(reason.contains("does not exist"), "{record}");
    }
    let about = |run: &str| {
        records
            .iter()
            .filter(|r| r["message"].as_str().unwrap().contains(&format!("/{run}/")))
            .count()
    };
    assert_eq!((about(&purged), about(&going)), (2, 1), "{records:#?}");
    // The going run did not move, and runs to its end with exact counts once workers come.
    let before = stack.status(&going).await.unwrap();
    assert_eq!(before.custom_status.completed, 0, "{before:?}");
    assert!(
        stack.status(&purged).await.is_none(),
        "the purged run stays purged"
    );
    stack.start_workers(3).await;
    let failed: Vec<u32> = (0..ITEMS)
        .filter(|item| (item + 1) % FAIL_EVERY == 0)
        .collect();
    stack.assert_completed(&going, ITEMS, &failed).await;
    assert!(stack.outputs(&purged).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_for_the_whole_run_and_the_owner_killed_halfway() {
    let _turn = ONE_AT_A_TIME.lock().await;
    const LEASE_SECONDS: u64 = 15;
    let lease = LEASE_SECONDS.to_string();
    // A slow fan-out, so that the owner dies with items still to fan out.
    let mut stack = Stack::start(&[
        ("SCALEBOARD_RUN_LEASE_SECONDS", lease.as_str()),
        ("SCALEBOARD_FAN_OUT_CONCURRENCY", "2"),
    ])
    .await;
    stack.start_standby().await;
    let (standby_port, standby_metrics) = stack
        .standby
        .as_ref()
        .map(|(_, port, metrics)| (*port, *metrics))
        .expect("a second server runs");
    stack.start_workers(3).await;
    const ITEMS: u32 = 600;
    // Started on the first server: it owns the run; the standby only shows it.
    let (id, _) = stack.start_run(&format!("inputCount={ITEMS}&cost=0")).await;
    let owner_metrics = stack.metrics_port;
    eventually(HANG_GUARD, "the first server owning the run", || async {
        (stack.metric(owner_metrics, "scaleboard_runs_owned").await? >= 1.0).then_some(())
    })
    .await;
    // Halfway, as the standby sees it: its status follows the owner's.
    let standby_status = |id: String| {
        let client = stack.client.clone();
        async move {
            let url = format!(
                "http://127.0.0.1:{standby_port}{}",
                protocol::routes::instance(&id)
            );
            client
                .get(url)
                .send()
                .await
                .ok()?
                .json::<StatusDocument>()
                .await
                .ok()
        }
    };
    eventually(HANG_GUARD, "half the items done, on the standby", || {
        let status = standby_status(id.clone());
        async move {
            status
                .await
                .filter(|s| s.custom_status.completed >= ITEMS / 2)
                .map(|_| ())
        }
    })
    .await;
    assert_eq!(
        stack
            .metric(standby_metrics, "scaleboard_run_takeovers_total")
            .await,
        Some(0.0),
        "the standby took nothing while the owner lived"
    );
    let killed = std::time::Instant::now();
    stack.kill_server().await;
    eventually(HANG_GUARD, "the standby taking the run over", || async {
        (stack
            .metric(standby_metrics, "scaleboard_run_takeovers_total")
            .await?
            >= 1.0)
            .then_some(())
    })
    .await;
    let takeover = killed.elapsed();
    // The owner renewed at most a third of the period before it died, and the standby looks
    // every third: the period bounds the wait, plus slack for calls on two busy cores.
    assert!(
        takeover <= Duration::from_secs(LEASE_SECONDS + 5),
        "took over after {takeover:?}"
    );
    stack.note = format!(
        "takeover {:.1} s after the kill (lease {LEASE_SECONDS} s)",
        takeover.as_secs_f64()
    );
    stack.promote_standby();
    stack.assert_completed(&id, ITEMS, &[]).await;
}
