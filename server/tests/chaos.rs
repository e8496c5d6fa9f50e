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
use support::{blobs_of_run, eventually, storage_for};
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

/// One Azurite, one server process (restartable on the same port), worker processes.
struct Stack {
    azurite: Azurite,
    storage: Storage,
    port: u16,
    server: Option<Child>,
    server_env: Vec<(&'static str, String)>,
    workers: Vec<Child>,
    client: reqwest::Client,
}

impl Stack {
    async fn start(server_env: &[(&'static str, &str)]) -> Stack {
        let azurite = Azurite::start(&Options::for_tests()).unwrap();
        let storage = storage_for(azurite.ports().blob, azurite.ports().queue);
        let mut stack = Stack {
            azurite,
            storage,
            port: free_port(),
            server: None,
            server_env: server_env
                .iter()
                .map(|(k, v)| (*k, (*v).to_string()))
                .collect(),
            workers: Vec::new(),
            client: reqwest::Client::new(),
        };
        stack.start_server().await;
        stack
    }

    /// Starts the server and waits until it answers.
    async fn start_server(&mut self) {
        let ports = self.azurite.ports();
        let mut command = Command::new(SERVER_BIN);
        command
            .env_clear()
            .env("SCALEBOARD_ADDR", format!("127.0.0.1:{}", self.port))
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
        self.server = Some(child);
        let url = self.url("/api/runs");
        let client = self.client.clone();
        eventually(HANG_GUARD, "the server to answer", || {
            let request = client.get(&url).send();
            async move { request.await.ok().map(|_| ()) }
        })
        .await;
    }

    /// SIGKILLs the server and waits until it is gone.
    async fn kill_server(&mut self) {
        let mut server = self.server.take().expect("a server runs");
        server.kill().await.unwrap();
    }

    /// Starts `count` more worker processes: quick to poll, and quick to see the message of a
    /// killed worker again (5 s visibility).
    async fn start_workers(&mut self, count: usize) {
        let bin = worker_bin().await;
        for _ in 0..count {
            let name = format!("chaos-worker-{}", self.workers.len());
            let child = Command::new(bin)
                .env_clear()
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
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        for child in self.workers.iter_mut().chain(self.server.as_mut()) {
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
