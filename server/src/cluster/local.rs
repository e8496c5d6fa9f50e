//! The local cluster: the `autoscale` model of KEDA, the HPA and the cluster autoscaler,
//! whose Running pods are real worker loops on the real queue.
//!
//! The model is pure; this shell gives it a clock and the queue length once per sample (or
//! tells it the length could not be read, which KEDA's poll and the HPA count as a failed
//! metric, with the `fallback` rules) and carries out its commands: `StartWorker` spawns a task running the worker library (the same
//! code as the container), `StopWorker` cancels that task with the pod's grace period, the way
//! Kubernetes sends SIGTERM. When a task ends, the model is told, as a kubelet would report.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use autoscale::{Cluster, Command, EventKind, Observation as ModelObservation, PodId, Profile};
use protocol::live::{ClusterSample, ClusterSource, ScaleEvent};
use storage::Storage;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use worker::WorkerConfig;

use super::{ClusterView, Observation};
use plumbing::clock::now_ms;

/// The local cluster. Cheap to clone.
#[derive(Clone, Debug)]
pub struct LocalCluster {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    storage: Storage,
    worker: WorkerConfig,
    started: Instant,
    shutdown: CancellationToken,
    /// The worker tasks, so that shutdown waits until each has finished or released its item.
    tracker: TaskTracker,
    state: Mutex<State>,
    /// Pods whose worker task ended since the last tick.
    exited: Arc<Mutex<Vec<PodId>>>,
}

#[derive(Debug)]
struct State {
    model: Cluster,
    workers: HashMap<PodId, CancellationToken>,
}

impl LocalCluster {
    /// A cluster following `profile`; `worker` is the template of every pod's worker (its id is
    /// replaced by the pod's name).
    pub fn new(
        storage: Storage,
        profile: Profile,
        worker: WorkerConfig,
        shutdown: CancellationToken,
        tracker: TaskTracker,
    ) -> LocalCluster {
        LocalCluster {
            inner: Arc::new(Inner {
                storage,
                worker,
                started: Instant::now(),
                shutdown,
                tracker,
                state: Mutex::new(State {
                    model: Cluster::new(profile),
                    workers: HashMap::new(),
                }),
                exited: Arc::new(Mutex::new(Vec::new())),
            }),
        }
    }

    /// The profile in force.
    pub fn profile(&self) -> Profile {
        self.lock().model.profile().clone()
    }

    /// Replaces the profile; the model applies it from its next step.
    pub fn set_profile(&self, profile: Profile) -> Result<(), autoscale::policy::ProfileError> {
        profile.validate()?;
        self.lock().model.set_profile(profile);
        Ok(())
    }

    /// The model's recent decisions, oldest first, with wall-clock times.
    pub fn events(&self) -> Vec<ScaleEvent> {
        let state = self.lock();
        let now = self.inner.started.elapsed();
        state
            .model
            .events()
            .map(|e| to_scale_event(e, now))
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Each critical section leaves the state consistent; a poisoned lock is still usable.
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn start_worker(&self, state: &mut State, pod: PodId, grace: Duration) {
        let token = self.inner.shutdown.child_token();
        let mut config = self.inner.worker.clone();
        config.worker_id = format!("local-worker-{pod}");
        config.grace = grace;
        let storage = self.inner.storage.clone();
        let exited = self.inner.exited.clone();
        let cancel = token.clone();
        self.inner.tracker.spawn(async move {
            if let Err(e) = worker::run(storage, config, cancel).await {
                tracing::warn!(pod = %pod, "worker stopped with an error: {e}");
            }
            exited
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push(pod);
        });
        state.workers.insert(pod, token);
    }
}

impl ClusterView for LocalCluster {
    fn policy(&self) -> Option<Result<Profile, String>> {
        Some(Ok(self.profile()))
    }

    fn tick(&self, queue_length: Option<u64>) -> Observation {
        let now = self.inner.started.elapsed();
        let exited: Vec<PodId> = std::mem::take(
            &mut *self
                .inner
                .exited
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        let mut state = self.lock();
        for pod in exited {
            state.workers.remove(&pod);
            state.model.worker_exited(now, pod);
        }
        let observation = model_observation(queue_length);
        let step = state.model.step(now, &observation);
        let grace = state.model.profile().pod.termination_grace;
        for command in step.commands {
            match command {
                Command::StartWorker { pod } => self.start_worker(&mut state, pod, grace),
                Command::StopWorker { pod, .. } => {
                    if let Some(token) = state.workers.get(&pod) {
                        token.cancel();
                    }
                }
            }
        }
        let snapshot = state.model.snapshot();
        let profile = state.model.profile();
        Observation {
            sample: ClusterSample {
                source: ClusterSource::Local,
                pods_pending: snapshot.pods_pending,
                pods_starting: snapshot.pods_starting,
                pods_running: snapshot.pods_running,
                pods_terminating: snapshot.pods_terminating,
                pods_failed: 0,
                nodes_ready: snapshot.nodes_ready,
                nodes_provisioning: snapshot.nodes_provisioning,
                desired_replicas: Some(snapshot.desired_replicas),
                target_queue_length: u32::try_from(profile.scaled_object.queue_length).ok(),
                stale: None,
            },
            events: step.events.iter().map(|e| to_scale_event(e, now)).collect(),
        }
    }
}

/// What the model is told of the queue: its length, or a failed read when storage could not
/// be reached, as the `azure-queue` scaler's metric fails then (not the last length seen: KEDA
/// keeps no stale value, and its fallback counts the failures).
fn model_observation(queue_length: Option<u64>) -> ModelObservation {
    match queue_length {
        Some(length) => ModelObservation::new(length),
        None => ModelObservation::failed(),
    }
}

/// A model event with its time turned from model time into wall-clock milliseconds.
fn to_scale_event(event: &autoscale::ScaleEvent, now: Duration) -> ScaleEvent {
    let age = u64::try_from(now.saturating_sub(event.at).as_millis()).unwrap_or(0);
    ScaleEvent {
        t_ms: now_ms().saturating_sub(age),
        kind: kind_name(event.kind).to_string(),
        reason: event.reason.clone(),
    }
}

fn kind_name(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Activated => "activated",
        EventKind::Deactivated => "deactivated",
        EventKind::ScaleUp => "scale_up",
        EventKind::ScaleDown => "scale_down",
        EventKind::ScaleToZero => "scale_to_zero",
        EventKind::NodeAdded => "node_added",
        EventKind::NodeReady => "node_ready",
        EventKind::NodeRemoved => "node_removed",
        EventKind::NodePoolFull => "node_pool_full",
        EventKind::PodKilled => "pod_killed",
        EventKind::PodRestarted => "pod_restarted",
        EventKind::MetricFailed => "metric_failed",
        EventKind::FallbackActivated => "fallback_activated",
        EventKind::MetricRecovered => "metric_recovered",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(profile: Profile) -> LocalCluster {
        // Nothing listens there; no test here reaches storage (no worker starts).
        let account = storage::Account::development("127.0.0.1:9", "127.0.0.1:9").unwrap();
        let storage = Storage::connect(&account, storage::Role::Server).unwrap();
        LocalCluster::new(
            storage,
            profile,
            WorkerConfig::default(),
            CancellationToken::new(),
            TaskTracker::new(),
        )
    }

    #[test]
    fn an_unreadable_queue_is_a_failed_read_not_the_last_length() {
        assert_eq!(model_observation(Some(7)), ModelObservation::new(7));
        assert_eq!(model_observation(None), ModelObservation::failed());
    }

    #[test]
    fn the_first_tick_without_storage_puts_the_failed_metric_on_the_timeline() {
        // KEDA's first poll is due at once, so the first tick reads the metric.
        let mut profile = Profile::demo();
        profile.scaled_object.fallback = Some(autoscale::Fallback {
            failure_threshold: 3,
            replicas: 2,
        });
        let local = cluster(profile);
        let observed = local.tick(None);
        let kinds: Vec<&str> = observed.events.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["metric_failed"]);
        assert_eq!(
            observed.events[0].reason,
            "metric failed: queue unreadable (failure 1; fallback to 2 replicas after more than failureThreshold 3)"
        );
        assert_eq!(observed.sample.desired_replicas, Some(0));
        assert_eq!(local.events().len(), 1, "kept in the model's log as well");
    }
}
