//! The server's Prometheus metrics, served at `/metrics` on a listener of their own
//! (`--metrics-addr`), never on the dashboard's: the scraper reaches that port, viewers do not.
//!
//! Everything is named by Prometheus' conventions (`scaleboard_…_total` counters, base units,
//! labels from small fixed sets: a run status, a queue, a storage operation, a pod phase). Run
//! ids and items are never labels: each label value would be a time series of its own.
//!
//! Who feeds what:
//! - the engine: items scheduled, completed and failed (from each stored change), messages the
//!   fan-out sent, events the fan-in applied, and the latency from an item's message to its
//!   completion ([`Enqueued`] keeps the send times);
//! - the sampler, once per sample: runs by status, the work queue's length, and the cluster
//!   view's desired replicas, pods by phase and nodes;
//! - the live socket: viewers connected now;
//! - storage, through [`storage::observe::Observer`]: calls and errors by operation.

mod enqueued;

use std::ops::Deref;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use orchestration::{Event, RunId, RunState};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use protocol::durable::{Progress, RuntimeStatus};
use protocol::live::Sample;
use storage::observe::{Observer, Operation};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use enqueued::Enqueued;

use crate::error::ApiError;

/// One label from a fixed set of values.
type Label = [(&'static str, &'static str); 1];

/// Upper bounds of the latency buckets, in seconds: from an idle system with cheap items
/// (a fraction of a second) to a long queue drained by a few pods (an hour).
const LATENCY_BUCKETS: [f64; 15] = [
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0,
];

/// Every run status, as label values.
const STATUSES: [RuntimeStatus; 6] = [
    RuntimeStatus::Pending,
    RuntimeStatus::Running,
    RuntimeStatus::Completed,
    RuntimeStatus::Failed,
    RuntimeStatus::Terminated,
    RuntimeStatus::Suspended,
];

/// The server's metrics. Cheap to clone; clones share the counts.
#[derive(Clone, Debug, Default)]
pub struct Metrics(Arc<ServerMetrics>);

impl Deref for Metrics {
    type Target = ServerMetrics;

    fn deref(&self) -> &ServerMetrics {
        &self.0
    }
}

/// The families, public so the places that count can do it in one call.
#[derive(Debug)]
pub struct ServerMetrics {
    registry: Registry,
    /// Runs this server knows, by `status`.
    pub runs: Family<Label, Gauge>,
    pub items_scheduled: Counter,
    pub items_completed: Counter,
    pub items_failed: Counter,
    /// Work messages the fan-out sent (a retried item counts again).
    pub fan_out_messages: Counter,
    /// Events from the events queue applied to stored runs (a duplicate counts again).
    pub fan_in_events: Counter,
    /// From an item's message being sent to its completion being applied.
    pub item_latency: Histogram,
    /// Messages in a queue, by `queue`, as last sampled.
    pub queue_messages: Family<Label, Gauge>,
    pub live_viewers: Gauge,
    /// Runs whose lease this server holds: the runs it fans out and in.
    pub runs_owned: Gauge,
    /// Runs this server took over from another (dead or stopped) server, or by an operator's
    /// request made here.
    pub run_takeovers: Counter,
    /// Event messages sent on for the server that owns their run.
    pub events_forwarded: Counter,
    /// Storage calls by `operation`, and those of them that failed.
    pub storage_calls: Family<Label, Counter>,
    pub storage_errors: Family<Label, Counter>,
    /// What the cluster view last showed.
    pub desired_replicas: Gauge,
    pub pods: Family<Label, Gauge>,
    pub nodes: Family<Label, Gauge>,
    enqueued: Mutex<Enqueued>,
}

impl Default for ServerMetrics {
    fn default() -> ServerMetrics {
        let mut registry = Registry::with_prefix("scaleboard");
        let runs = Family::<Label, Gauge>::default();
        registry.register(
            "runs",
            "Runs this server knows (not purged), by status.",
            runs.clone(),
        );
        let items_scheduled = Counter::default();
        registry.register(
            "items_scheduled",
            "Items recorded as scheduled (input blob and message written).",
            items_scheduled.clone(),
        );
        let items_completed = Counter::default();
        registry.register(
            "items_completed",
            "Items recorded as completed, each once.",
            items_completed.clone(),
        );
        let items_failed = Counter::default();
        registry.register(
            "items_failed",
            "Items recorded as failed for good (their message went to the poison queue).",
            items_failed.clone(),
        );
        let fan_out_messages = Counter::default();
        registry.register(
            "fan_out_messages",
            "Work messages sent by the fan-out; an item sent again counts again.",
            fan_out_messages.clone(),
        );
        let fan_in_events = Counter::default();
        registry.register(
            "fan_in_events",
            "Events from the events queue applied to stored runs; a duplicate counts again.",
            fan_in_events.clone(),
        );
        let item_latency = Histogram::new(LATENCY_BUCKETS);
        registry.register_with_unit(
            "item_latency",
            "Time from an item's message being sent to the work queue to its completion being applied.",
            Unit::Seconds,
            item_latency.clone(),
        );
        let queue_messages = Family::<Label, Gauge>::default();
        registry.register(
            "queue_messages",
            "Messages in a queue (visible and hidden), as last sampled.",
            queue_messages.clone(),
        );
        let live_viewers = Gauge::default();
        registry.register(
            "live_viewers",
            "Live feed clients connected now.",
            live_viewers.clone(),
        );
        let storage_calls = Family::<Label, Counter>::default();
        registry.register(
            "storage_calls",
            "Azure Storage calls, by operation.",
            storage_calls.clone(),
        );
        let storage_errors = Family::<Label, Counter>::default();
        registry.register(
            "storage_errors",
            "Azure Storage calls that failed or were abandoned, by operation.",
            storage_errors.clone(),
        );
        let desired_replicas = Gauge::default();
        registry.register(
            "cluster_desired_replicas",
            "Worker replicas the autoscaler wants, as last sampled.",
            desired_replicas.clone(),
        );
        let pods = Family::<Label, Gauge>::default();
        registry.register(
            "cluster_pods",
            "Worker pods by phase, as last sampled.",
            pods.clone(),
        );
        let nodes = Family::<Label, Gauge>::default();
        registry.register(
            "cluster_nodes",
            "Nodes by state, as last sampled.",
            nodes.clone(),
        );
        let runs_owned = Gauge::default();
        registry.register(
            "runs_owned",
            "Runs whose lease this server holds: those it fans out and in.",
            runs_owned.clone(),
        );
        let run_takeovers = Counter::default();
        registry.register(
            "run_takeovers",
            "Runs this server took over from another server (whose lease had expired or was broken).",
            run_takeovers.clone(),
        );
        let events_forwarded = Counter::default();
        registry.register(
            "events_forwarded",
            "Event messages sent on for the server that owns their run.",
            events_forwarded.clone(),
        );
        // Every series exists from the start, so rates and absences read right.
        for status in STATUSES {
            let _ = runs.get_or_create(&[("status", status_label(status))]);
        }
        for operation in Operation::ALL {
            let _ = storage_calls.get_or_create(&[("operation", operation.name())]);
            let _ = storage_errors.get_or_create(&[("operation", operation.name())]);
        }
        let _ = queue_messages.get_or_create(&[("queue", storage::names::WORK_QUEUE)]);
        for phase in POD_PHASES {
            let _ = pods.get_or_create(&[("phase", phase)]);
        }
        for state in NODE_STATES {
            let _ = nodes.get_or_create(&[("state", state)]);
        }
        ServerMetrics {
            registry,
            runs,
            items_scheduled,
            items_completed,
            items_failed,
            fan_out_messages,
            fan_in_events,
            item_latency,
            queue_messages,
            live_viewers,
            runs_owned,
            run_takeovers,
            events_forwarded,
            storage_calls,
            storage_errors,
            desired_replicas,
            pods,
            nodes,
            enqueued: Mutex::new(Enqueued::default()),
        }
    }
}

const POD_PHASES: [&str; 5] = ["pending", "starting", "running", "terminating", "failed"];
const NODE_STATES: [&str; 2] = ["ready", "provisioning"];

fn status_label(status: RuntimeStatus) -> &'static str {
    match status {
        RuntimeStatus::Pending => "pending",
        RuntimeStatus::Running => "running",
        RuntimeStatus::Completed => "completed",
        RuntimeStatus::Failed => "failed",
        RuntimeStatus::Terminated => "terminated",
        RuntimeStatus::Suspended => "suspended",
    }
}

fn gauge_value(n: impl TryInto<i64>) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}

impl ServerMetrics {
    /// The metrics in the OpenMetrics text format.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        plumbing::metrics::encode(&self.registry)
    }

    fn enqueued(&self) -> std::sync::MutexGuard<'_, Enqueued> {
        // Each operation leaves the map consistent: a poisoned lock is still usable.
        self.enqueued.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Item `item` of `run` is being sent to the work queue now (`at_ms`).
    pub fn enqueuing(&self, run: &RunId, item: u32, at_ms: u64) {
        self.enqueued().sent(run, item, at_ms);
    }

    /// A change to a run was stored: `before` is its progress before, `state` after, `events`
    /// what was applied. Counts what the change added and observes the latency of each item it
    /// completed.
    pub fn applied(&self, before: Progress, state: &RunState, events: &[Event]) {
        let after = state.progress();
        let added = |from: u32, to: u32| u64::from(to.saturating_sub(from));
        self.items_scheduled
            .inc_by(added(before.scheduled, after.scheduled));
        self.items_completed
            .inc_by(added(before.completed, after.completed));
        self.items_failed.inc_by(added(before.failed, after.failed));
        let mut enqueued = self.enqueued();
        for event in events {
            match event {
                Event::ItemCompleted { item, at, .. } if state.is_completed(*item) => {
                    if let Some(sent) = enqueued.take(state.id(), *item) {
                        let ms = at.saturating_sub(sent);
                        self.item_latency.observe(ms as f64 / 1000.0);
                    }
                }
                Event::ItemFailed { item, .. } => {
                    enqueued.take(state.id(), *item);
                }
                _ => {}
            }
        }
        if state.is_terminal() {
            enqueued.forget(state.id());
        }
    }

    /// The runs this server knows, by status.
    pub fn set_runs(&self, counts: &[(RuntimeStatus, u64)]) {
        for status in STATUSES {
            let n = counts
                .iter()
                .filter(|(s, _)| *s == status)
                .map(|(_, n)| *n)
                .sum::<u64>();
            self.runs
                .get_or_create(&[("status", status_label(status))])
                .set(gauge_value(n));
        }
    }

    /// What one sample measured: the work queue's length (when it could be read) and the
    /// cluster view's counts.
    pub fn sampled(&self, sample: &Sample) {
        if let Some(length) = sample.queue_length {
            self.queue_messages
                .get_or_create(&[("queue", storage::names::WORK_QUEUE)])
                .set(gauge_value(length));
        }
        let cluster = &sample.cluster;
        if let Some(desired) = cluster.desired_replicas {
            self.desired_replicas.set(i64::from(desired));
        }
        let pods = [
            cluster.pods_pending,
            cluster.pods_starting,
            cluster.pods_running,
            cluster.pods_terminating,
            cluster.pods_failed,
        ];
        for (phase, n) in POD_PHASES.into_iter().zip(pods) {
            self.pods
                .get_or_create(&[("phase", phase)])
                .set(i64::from(n));
        }
        let nodes = [cluster.nodes_ready, cluster.nodes_provisioning];
        for (state, n) in NODE_STATES.into_iter().zip(nodes) {
            self.nodes
                .get_or_create(&[("state", state)])
                .set(i64::from(n));
        }
    }
}

impl Metrics {
    /// Counts one live viewer until the guard is dropped, however the session ends.
    pub fn viewer(&self) -> Viewer {
        self.live_viewers.inc();
        Viewer(self.live_viewers.clone())
    }

    /// Counts storage calls and errors by operation.
    pub fn storage_observer(&self) -> Arc<dyn Observer> {
        Arc::new(self.clone())
    }
}

impl Observer for Metrics {
    fn observe(&self, operation: Operation, ok: bool) {
        let label = [("operation", operation.name())];
        self.storage_calls.get_or_create(&label).inc();
        if !ok {
            self.storage_errors.get_or_create(&label).inc();
        }
    }
}

/// One connected viewer, counted while it lives.
#[derive(Debug)]
pub struct Viewer(Gauge);

impl Drop for Viewer {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// `/metrics` and nothing else (a JSON 404 for any other path).
pub fn router(metrics: Metrics) -> Router {
    Router::new()
        .route(plumbing::metrics::PATH, get(scrape))
        .fallback(crate::error::no_such_route)
        .method_not_allowed_fallback(crate::error::wrong_method)
        .with_state(metrics)
}

/// Serves [`router`] on `listener` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    metrics: Metrics,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let limits = crate::serve::Limits {
        // A scraper or two, and someone with curl.
        max_connections: 64,
        ..crate::serve::Limits::default()
    };
    crate::serve::serve(listener, router(metrics), limits, shutdown).await
}

async fn scrape(State(metrics): State<Metrics>) -> Result<Response, ApiError> {
    let text = metrics.encode().map_err(|e| {
        tracing::error!("encoding the metrics: {e}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the metrics could not be encoded",
        )
    })?;
    Ok((
        [(header::CONTENT_TYPE, plumbing::metrics::CONTENT_TYPE)],
        text,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use orchestration::{apply_all, ItemResult};
    use plumbing::metrics::Scrape;

    use super::*;

    fn scrape(metrics: &Metrics) -> Scrape {
        Scrape::parse(&metrics.encode().unwrap()).unwrap()
    }

    #[test]
    fn stored_changes_count_items_once_and_observe_latency_once() {
        let metrics = Metrics::default();
        let id = RunId::from_random(7);
        let mut state = RunState::new(id.clone(), "ComputeOrchestrator", 2, 1_000);
        let mut apply = |events: Vec<Event>| {
            let before = state.progress();
            apply_all(&mut state, events.iter().cloned());
            metrics.applied(before, &state, &events);
        };
        metrics.enqueuing(&id, 0, 1_000);
        metrics.enqueuing(&id, 1, 1_100);
        apply(vec![
            Event::ItemScheduled { item: 0, at: 1_050 },
            Event::ItemScheduled { item: 1, at: 1_150 },
        ]);
        let done = |item, at| Event::ItemCompleted {
            item,
            result: ItemResult::default(),
            at,
        };
        // A duplicate in the same batch and in a later one counts once.
        apply(vec![done(0, 3_500), done(0, 3_600)]);
        apply(vec![done(0, 9_000), done(1, 2_100)]);

        let scrape = scrape(&metrics);
        let value = |name: &str| scrape.value(name, &[]).unwrap();
        assert_eq!(value("scaleboard_items_scheduled_total"), 2.0);
        assert_eq!(value("scaleboard_items_completed_total"), 2.0);
        assert_eq!(value("scaleboard_items_failed_total"), 0.0);
        assert_eq!(value("scaleboard_item_latency_seconds_count"), 2.0);
        assert_eq!(value("scaleboard_item_latency_seconds_sum"), 3.5);
        assert_eq!(
            scrape.value("scaleboard_item_latency_seconds_bucket", &[("le", "1.0")]),
            Some(1.0)
        );
        assert_eq!(metrics.enqueued().runs(), 0, "a finished run is forgotten");
    }

    #[test]
    fn samples_runs_and_storage_calls_are_exported_with_fixed_labels() {
        let metrics = Metrics::default();
        let mut sample = Sample {
            queue_length: Some(42),
            ..Sample::default()
        };
        sample.cluster.pods_running = 3;
        sample.cluster.pods_pending = 1;
        sample.cluster.nodes_ready = 2;
        sample.cluster.desired_replicas = Some(4);
        metrics.sampled(&sample);
        metrics.set_runs(&[(RuntimeStatus::Running, 2), (RuntimeStatus::Completed, 5)]);
        let observer = metrics.storage_observer();
        observer.observe(Operation::SendMessage, true);
        observer.observe(Operation::SendMessage, false);
        let viewer = metrics.viewer();

        let scrape = scrape(&metrics);
        let get = |name: &str, labels: &[(&str, &str)]| scrape.value(name, labels).unwrap();
        assert_eq!(
            get("scaleboard_queue_messages", &[("queue", "work-items")]),
            42.0
        );
        assert_eq!(get("scaleboard_cluster_pods", &[("phase", "running")]), 3.0);
        assert_eq!(get("scaleboard_cluster_pods", &[("phase", "pending")]), 1.0);
        assert_eq!(get("scaleboard_cluster_nodes", &[("state", "ready")]), 2.0);
        assert_eq!(get("scaleboard_cluster_desired_replicas", &[]), 4.0);
        assert_eq!(get("scaleboard_runs", &[("status", "running")]), 2.0);
        assert_eq!(get("scaleboard_runs", &[("status", "completed")]), 5.0);
        assert_eq!(get("scaleboard_runs", &[("status", "failed")]), 0.0);
        let send = [("operation", "send_message")];
        assert_eq!(get("scaleboard_storage_calls_total", &send), 2.0);
        assert_eq!(get("scaleboard_storage_errors_total", &send), 1.0);
        assert_eq!(
            get(
                "scaleboard_storage_calls_total",
                &[("operation", "list_blobs")]
            ),
            0.0
        );
        assert_eq!(get("scaleboard_live_viewers", &[]), 1.0);
        drop(viewer);
        assert_eq!(scrape_value(&metrics, "scaleboard_live_viewers"), 0.0);
    }

    fn scrape_value(metrics: &Metrics, name: &str) -> f64 {
        scrape(metrics).value(name, &[]).unwrap()
    }
}
