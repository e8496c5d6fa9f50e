//! A real server on a free port, against a real Azurite, for the integration tests.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use protocol::events::{EventGridEvent, ResultExtension};
use protocol::live::{Frame, Sample, LIVE_PATH};
use protocol::work::{item_blob, ItemInput, ItemOutput, WorkItem};

use server::durable::ApiSettings;
use server::orchestrator::EngineConfig;
use server::startup::ClusterChoice;
use storage::{names, Storage, StorageArgs};
use tokio_util::sync::CancellationToken;

pub struct TestServer {
    pub addr: SocketAddr,
    /// Where `/metrics` is served, when `Settings::metrics` asked for it.
    pub metrics_addr: Option<SocketAddr>,
    pub storage: Storage,
    pub shutdown: CancellationToken,
    pub running: server::Running,
}

pub struct Settings {
    pub api_key: Option<String>,
    /// When set, viewing needs this key (or the operator key).
    pub viewer_key: Option<String>,
    pub engine: EngineConfig,
    pub max_input_count: u32,
    /// Run the local cluster model with this profile (and real worker loops); none when `None`.
    pub cluster: Option<autoscale::Profile>,
    /// Samples the hub keeps (100 = 20 s at the tests' 200 ms).
    pub history: usize,
    /// Serve `/metrics` on a listener of its own (a free port).
    pub metrics: bool,
    /// `--public-url`: the address the share link names.
    pub public_url: Option<server::share::PublicUrl>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            api_key: None,
            viewer_key: None,
            engine: EngineConfig::default(),
            max_input_count: 100_000,
            cluster: None,
            history: 100,
            metrics: false,
            public_url: None,
        }
    }
}

pub fn storage_for(blob_port: u16, queue_port: u16) -> Storage {
    let account = StorageArgs::azurite(blob_port, queue_port)
        .account()
        .unwrap();
    Storage::connect(&account, storage::Role::Server).unwrap()
}

impl TestServer {
    pub async fn start(blob_port: u16, queue_port: u16) -> TestServer {
        Self::with(blob_port, queue_port, Settings::default()).await
    }

    /// A server sampling every 200 ms, started the way `scaleboard` starts.
    pub async fn with(blob_port: u16, queue_port: u16, settings: Settings) -> TestServer {
        let storage = storage_for(blob_port, queue_port);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let metrics_listener = match settings.metrics {
            true => Some(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()),
            false => None,
        };
        let cluster = match settings.cluster {
            Some(profile) => ClusterChoice::Local {
                profile: Box::new(profile),
                worker: worker::WorkerConfig {
                    min_idle: Duration::from_millis(20),
                    max_idle: Duration::from_millis(200),
                    ..worker::WorkerConfig::default()
                },
            },
            None => ClusterChoice::None,
        };
        let running = server::startup::start_with(
            server::Settings {
                storage: storage.clone(),
                engine: settings.engine,
                api: ApiSettings {
                    operator_key: settings.api_key.map(server::auth::Secret::new),
                    viewer_key: settings.viewer_key.map(server::auth::Secret::new),
                    max_input_count: settings.max_input_count,
                    max_cost: 1_000_000,
                    default_cost: 0,
                    trust_forwarded: false,
                    public_url: settings.public_url,
                },
                cluster,
                sample_interval: Duration::from_millis(200),
                history: settings.history,
                site_root: "target/site".into(),
                hosts: server::guard::HostPolicy::for_bind(
                    "127.0.0.1:0".parse().unwrap(),
                    &[],
                    false,
                )
                .unwrap(),
            },
            listener,
            metrics_listener,
        )
        .await
        .unwrap();
        TestServer {
            addr: running.addr(),
            metrics_addr: running.metrics_addr(),
            storage,
            shutdown: running.shutdown_token(),
            running,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn live_url(&self) -> String {
        format!("ws://{}{LIVE_PATH}", self.addr)
    }

    /// Stops the server and waits until it and every task it started have stopped.
    pub async fn stop(self) {
        tokio::time::timeout(Duration::from_secs(30), self.running.stop())
            .await
            .expect("the server stops")
            .unwrap();
    }
}

/// Polls `check` until it returns `Some`, failing the test after `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The value a worker would compute for an input; any deterministic function of the input will
/// do for the engine's tests.
pub fn fake_value(input: &ItemInput) -> u64 {
    input.seed.rotate_left(7) ^ u64::from(input.item)
}

/// A minimal worker for the engine's tests: takes up to `limit` messages, writes the output and
/// the completion event, deletes the message. Returns how many items it did.
pub async fn work(storage: &Storage, limit: usize) -> usize {
    let mut done = 0;
    while done < limit {
        let batch = (limit - done).min(32) as u8;
        let messages = storage
            .receive(names::WORK_QUEUE, batch, Duration::from_secs(30))
            .await
            .unwrap();
        if messages.is_empty() {
            break;
        }
        for message in messages {
            let item: WorkItem = serde_json::from_str(&message.text).unwrap();
            let input_bytes = storage
                .container(names::INPUT_CONTAINER)
                .blob_client(&item.input_blob)
                .download(None)
                .await
                .unwrap()
                .body
                .collect()
                .await
                .unwrap();
            let input: ItemInput = serde_json::from_slice(&input_bytes).unwrap();
            let value = fake_value(&input);
            let output = ItemOutput {
                run_id: item.run_id.clone(),
                item: item.item,
                value,
                digest: format!("{value:016x}"),
                cost: input.cost,
                worker: "test".into(),
                started_ms: 0,
                finished_ms: 1,
                compute_ms: 1,
            };
            storage
                .container(names::OUTPUT_CONTAINER)
                .blob_client(&item_blob(&item.run_id, item.item))
                .upload(
                    azure_core::http::RequestContent::from(serde_json::to_vec(&output).unwrap()),
                    None,
                )
                .await
                .unwrap();
            send_completion(storage, &item.run_id, item.item, Some(value)).await;
            storage.delete(names::WORK_QUEUE, &message).await.unwrap();
            done += 1;
        }
    }
    done
}

/// A BlobCreated event for an item's output, with the result extension when `value` is given
/// (as the worker sends it) or without (as Event Grid sends it).
pub fn completion_event(run_id: &str, item: u32, value: Option<u64>) -> EventGridEvent {
    let blob = protocol::events::OutputBlob {
        url: format!("http://127.0.0.1/output/{}", item_blob(run_id, item)),
        content_length: 100,
        etag: None,
    };
    let result = value.map(|value| ResultExtension {
        value,
        compute_ms: 1,
    });
    worker::event::blob_created(run_id, item, &blob, result)
}

pub async fn send_completion(storage: &Storage, run_id: &str, item: u32, value: Option<u64>) {
    let event = completion_event(run_id, item, value);
    storage
        .send(names::EVENTS_QUEUE, &serde_json::to_string(&event).unwrap())
        .await
        .unwrap();
}

/// Names of the blobs of a run in a container.
pub async fn blobs_of_run(storage: &Storage, container: &str, run_id: &str) -> Vec<String> {
    use futures_util::TryStreamExt;
    let options = azure_storage_blob::models::BlobContainerClientListBlobsOptions {
        prefix: Some(format!("{run_id}/")),
        ..Default::default()
    };
    let items: Vec<_> = storage
        .container(container)
        .list_blobs(Some(options))
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    items.into_iter().filter_map(|i| i.name).collect()
}

/// Starts a run of `items` at `cost` on a server binary listening on `port`, retrying until it
/// is up (within `limit`); returns the run's id.
#[allow(dead_code)]
pub async fn start_run_on(port: u16, items: u32, cost: u32, limit: Duration) -> String {
    let started = eventually(limit, "the server to start a run", || async {
        let response = reqwest::Client::new()
            .post(format!(
                "http://127.0.0.1:{port}{}",
                protocol::routes::start(items, Some(cost))
            ))
            .header("content-length", "0")
            .send()
            .await
            .ok()?;
        (response.status() == 202).then_some(response)
    })
    .await;
    started.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A client's end of the live socket.
pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next sample on the live socket (a snapshot counts as its newest sample), or `None` when
/// none came before `until`.
pub async fn next_sample(socket: &mut Socket, until: tokio::time::Instant) -> Option<Sample> {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        let message = tokio::time::timeout_at(until, socket.next()).await.ok()?;
        let message = message
            .expect("the socket stays open")
            .expect("a valid message");
        let Message::Text(text) = message else {
            continue;
        };
        match Frame::from_json(&text).expect("a frame the protocol knows") {
            Frame::Sample { sample } => return Some(sample),
            Frame::Snapshot { samples, .. } => {
                if let Some(last) = samples.into_iter().last() {
                    return Some(last);
                }
            }
            Frame::Runs { .. } | Frame::History { .. } => {}
        }
    }
}

/// Every record on `item-events-poison`, taken off the queue.
pub async fn take_event_poison(storage: &Storage) -> Vec<serde_json::Value> {
    let mut records = Vec::new();
    loop {
        let messages = storage
            .receive(names::EVENTS_POISON_QUEUE, 32, Duration::from_secs(30))
            .await
            .unwrap();
        if messages.is_empty() {
            return records;
        }
        for message in messages {
            records.push(serde_json::from_str(&message.text).unwrap());
            storage
                .delete(names::EVENTS_POISON_QUEUE, &message)
                .await
                .unwrap();
        }
    }
}
