//! [`Cluster`]: KEDA, the HPA, the ReplicaSet, the scheduler, the kubelet and the cluster
//! autoscaler composed into one step per observation.
//!
//! Each [`Cluster::step`] runs the controllers in a fixed order, each only when its own interval
//! has passed: the kubelet kills workers past their grace, provisioned nodes turn Ready, KEDA
//! polls the trigger, the HPA syncs, the ReplicaSet creates or deletes pods to match the desired
//! replicas, the scheduler binds Pending pods first-fit to Ready nodes, containers whose start-up
//! delay has passed run (the shell starts their workers), and the cluster autoscaler scans.

use std::{mem, time::Duration};

use serde::{Deserialize, Serialize};

use crate::{
    events::{EventKind, EventLog, ScaleEvent},
    hpa::{Hpa, Reading, SyncRules, Target},
    keda::{HealthChange, Keda, MetricRead, Observation},
    nodes::{self, Autoscaler, Node, NodeId, NodeState},
    pods::{self, Pod, PodId, PodPhase},
    policy::{Profile, ScaledObject, MAX_NODES, MAX_REPLICAS},
    secs,
};

/// The reason of KEDA's scale to zero (or idle) after the cooldown.
fn scale_in_reason(
    from: u32,
    to: u32,
    spec: &ScaledObject,
    last_active: Option<Duration>,
) -> String {
    let what = if spec.idle_replica_count.is_some() {
        " (idle replica count)"
    } else {
        ""
    };
    match last_active {
        Some(_) => format!(
            "scale {from} → {to}{what} after cooldown {}",
            secs::show(spec.cooldown_period)
        ),
        None => format!(
            "scale {from} → {to}{what} after initial cooldown {}",
            secs::show(spec.initial_cooldown_period)
        ),
    }
}

/// The timeline's entry for a change of the trigger's health; `failures` is the count after
/// the read that made it.
fn health_event(
    now: Duration,
    change: HealthChange,
    spec: &ScaledObject,
    failures: u32,
) -> ScaleEvent {
    match change {
        HealthChange::Failing => {
            let what = match spec.fallback {
                Some(f) => format!(
                    "failure {failures}; fallback to {} replicas after more than failureThreshold {}",
                    f.replicas, f.failure_threshold
                ),
                None => "replicas held, no scale to zero while in error; no fallback".to_owned(),
            };
            ScaleEvent::new(
                now,
                EventKind::MetricFailed,
                format!("metric failed: queue unreadable ({what})"),
            )
        }
        HealthChange::FallbackActivated {
            replicas,
            failure_threshold,
            value,
        } => ScaleEvent::new(
            now,
            EventKind::FallbackActivated,
            format!(
                "fallback active: metric failed {failures} times in a row > failureThreshold {failure_threshold}; reads answer {replicas} replicas × target {} = {value}",
                spec.queue_length
            ),
        ),
        HealthChange::Recovered { since, fallback } => ScaleEvent::new(
            now,
            EventKind::MetricRecovered,
            format!(
                "metric read again after {} of failures{}",
                secs::show(now.saturating_sub(since)),
                if fallback {
                    "; fallback no longer active"
                } else {
                    ""
                }
            ),
        ),
    }
}

/// What the shell must do to its worker tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// The pod's container runs: start a worker for it.
    StartWorker { pod: PodId },
    /// The pod is being deleted: ask its worker to stop within `grace`, then report the exit
    /// with [`Cluster::worker_exited`].
    StopWorker {
        pod: PodId,
        #[serde(with = "secs")]
        grace: Duration,
    },
}

/// What one step decided.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Step {
    pub commands: Vec<Command>,
    /// New events since the previous step, including those from [`Cluster::worker_exited`] and
    /// [`Cluster::set_profile`] in between.
    pub events: Vec<ScaleEvent>,
}

/// The model's state for display.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The time of the last step.
    #[serde(with = "secs")]
    pub at: Duration,
    /// The Deployment's `spec.replicas`, as KEDA and the HPA set it.
    pub desired_replicas: u32,
    /// Whether the scaler was active at KEDA's last poll.
    pub active: bool,
    /// The metric KEDA read at its last poll.
    pub metric: Option<u64>,
    pub pods_pending: u32,
    pub pods_starting: u32,
    pub pods_running: u32,
    pub pods_terminating: u32,
    pub nodes_ready: u32,
    pub nodes_provisioning: u32,
    pub pods: Vec<Pod>,
    pub nodes: Vec<Node>,
}

/// Pod and node counts by phase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub pods_pending: u32,
    pub pods_starting: u32,
    pub pods_running: u32,
    pub pods_terminating: u32,
    pub nodes_ready: u32,
    pub nodes_provisioning: u32,
}

/// The whole model: one ScaledObject, its HPA, its pods and the node pool they run on.
#[derive(Debug, Clone)]
pub struct Cluster {
    profile: Profile,
    now: Duration,
    desired: u32,
    keda: Keda,
    hpa: Hpa,
    autoscaler: Autoscaler,
    pods: Vec<Pod>,
    nodes: Vec<Node>,
    next_pod: u64,
    next_node: u64,
    log: EventLog,
    /// Events made between steps, handed out with the next step.
    unreported: Vec<ScaleEvent>,
}

impl Cluster {
    /// A cluster at time 0 with the pool's minimum nodes Ready and the minimum replicas desired
    /// (their pods are created by the first step).
    pub fn new(profile: Profile) -> Self {
        let mut cluster = Cluster {
            desired: profile.scaled_object.min_replicas,
            profile,
            now: Duration::ZERO,
            keda: Keda::default(),
            hpa: Hpa::default(),
            autoscaler: Autoscaler::default(),
            pods: Vec::new(),
            nodes: Vec::new(),
            next_pod: 0,
            next_node: 0,
            log: EventLog::default(),
            unreported: Vec::new(),
        };
        // Bounded even for a profile that was never validated.
        for _ in 0..cluster.profile.node_pool.min_nodes.min(MAX_NODES) {
            cluster.add_node(NodeState::Ready);
        }
        cluster
    }

    /// Advances the model to `now` (time since start; a time earlier than the last step counts
    /// as the last step's) with the queue as observed now.
    pub fn step(&mut self, now: Duration, observation: &Observation) -> Step {
        let now = now.max(self.now);
        self.now = now;
        let mut events = Vec::new();
        let mut commands = Vec::new();
        self.kill_overdue(now, &mut events);
        events.extend(nodes::finish_provisioning(now, &mut self.nodes));
        self.poll_keda(now, observation, &mut events);
        self.sync_hpa(now, observation, &mut events);
        self.reconcile(now, &mut commands);
        self.schedule(now);
        self.start_containers(now, &mut commands);
        let ca = &self.profile.cluster_autoscaler;
        if self.autoscaler.due(now, ca.scan_interval) {
            events.extend(self.autoscaler.scan(
                now,
                &mut self.nodes,
                &self.pods,
                &self.profile.node_pool,
                ca,
                &mut self.next_node,
            ));
        }
        for event in &events {
            self.log.push(event.clone());
        }
        let mut all = mem::take(&mut self.unreported);
        all.extend(events);
        Step {
            commands,
            events: all,
        }
    }

    /// The shell reports that a pod's worker exited. A stopping pod is then gone; a running
    /// pod's container is restarted by the kubelet (`restartPolicy: Always`), so its worker
    /// starts again after the start-up delay. Unknown pods are ignored.
    pub fn worker_exited(&mut self, now: Duration, pod: PodId) {
        let now = now.max(self.now);
        let Some(index) = self.pods.iter().position(|p| p.id == pod) else {
            return;
        };
        match self.pods[index].phase {
            PodPhase::Terminating { .. } => {
                self.pods.remove(index);
            }
            PodPhase::Running { .. } => {
                let ready_at = now.saturating_add(self.profile.pod.startup_delay);
                self.pods[index].phase = PodPhase::ContainerCreating { ready_at };
                self.note(ScaleEvent::new(
                    now,
                    EventKind::PodRestarted,
                    format!("{pod} worker exited while running; container restarts"),
                ));
            }
            PodPhase::Pending | PodPhase::ContainerCreating { .. } => {}
        }
    }

    /// Replaces the settings; the state carries over. Existing pods and nodes keep the requests
    /// and size they were created with. If the pool's minimum rose above its node count, nodes
    /// are added, as AKS does when a pool's minimum count is raised.
    pub fn set_profile(&mut self, profile: Profile) {
        self.profile = profile;
        self.autoscaler.reported_full = false;
        let have = u32::try_from(self.nodes.len()).unwrap_or(u32::MAX);
        let min = self.profile.node_pool.min_nodes.min(MAX_NODES);
        if have < min {
            let ready_at = self
                .now
                .saturating_add(self.profile.node_pool.provisioning_delay);
            for _ in have..min {
                self.add_node(NodeState::Provisioning { ready_at });
            }
            self.autoscaler.last_scale_up = Some(self.now);
            self.note(ScaleEvent::new(
                self.now,
                EventKind::NodeAdded,
                format!("{} nodes added: min nodes raised to {min}", min - have),
            ));
        }
    }

    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The latest events (at most [`crate::events::EVENT_LOG_CAPACITY`]), oldest first.
    pub fn events(&self) -> impl Iterator<Item = &ScaleEvent> {
        self.log.iter()
    }

    pub fn snapshot(&self) -> Snapshot {
        let c = self.counts();
        Snapshot {
            at: self.now,
            desired_replicas: self.desired,
            active: self.keda.active,
            metric: self.keda.metric,
            pods_pending: c.pods_pending,
            pods_starting: c.pods_starting,
            pods_running: c.pods_running,
            pods_terminating: c.pods_terminating,
            nodes_ready: c.nodes_ready,
            nodes_provisioning: c.nodes_provisioning,
            pods: self.pods.clone(),
            nodes: self.nodes.clone(),
        }
    }

    pub(crate) fn desired_replicas(&self) -> u32 {
        self.desired
    }

    pub(crate) fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for pod in &self.pods {
            match pod.phase {
                PodPhase::Pending => c.pods_pending += 1,
                PodPhase::ContainerCreating { .. } => c.pods_starting += 1,
                PodPhase::Running { .. } => c.pods_running += 1,
                PodPhase::Terminating { .. } => c.pods_terminating += 1,
            }
        }
        for node in &self.nodes {
            match node.state {
                NodeState::Ready => c.nodes_ready += 1,
                NodeState::Provisioning { .. } => c.nodes_provisioning += 1,
            }
        }
        c
    }

    /// Logs an event made between steps and keeps it for the next step's result.
    fn note(&mut self, event: ScaleEvent) {
        self.log.push(event.clone());
        self.unreported.push(event);
    }

    fn add_node(&mut self, state: NodeState) {
        self.next_node += 1;
        let node = Node::new(
            NodeId(self.next_node),
            &self.profile.node_pool,
            self.now,
            state,
        );
        self.nodes.push(node);
    }

    /// The kubelet kills a worker that outlived its termination grace.
    fn kill_overdue(&mut self, now: Duration, events: &mut Vec<ScaleEvent>) {
        let grace = self.profile.pod.termination_grace;
        self.pods.retain(|pod| match pod.phase {
            PodPhase::Terminating { deadline } if deadline <= now => {
                events.push(ScaleEvent::new(
                    now,
                    EventKind::PodKilled,
                    format!(
                        "{} killed: worker still running after grace {}",
                        pod.id,
                        secs::show(grace)
                    ),
                ));
                false
            }
            _ => true,
        });
    }

    fn poll_keda(
        &mut self,
        now: Duration,
        observation: &Observation,
        events: &mut Vec<ScaleEvent>,
    ) {
        let spec = &self.profile.scaled_object;
        if !self.keda.due(now, spec.polling_interval) {
            return;
        }
        let from = self.desired;
        let poll = self.keda.poll(now, observation, spec, from);
        if let Some(change) = poll.health {
            events.push(health_event(now, change, spec, self.keda.failures));
        }
        let activation = spec.activation_queue_length;
        let cooldown = secs::show(spec.cooldown_period);
        let floor = spec.idle_replica_count.unwrap_or(spec.min_replicas);
        if poll.changed && !poll.active {
            let mut reason = match poll.metric {
                Some(m) => format!("deactivated: queue {m} ≤ activation {activation}"),
                None => "deactivated: metric failed".to_owned(),
            };
            if poll.metric.is_some()
                && from > floor
                && (spec.min_replicas == 0 || spec.idle_replica_count.is_some())
            {
                reason += &format!("; scale to {floor} after cooldown {cooldown}");
            }
            events.push(ScaleEvent::new(now, EventKind::Deactivated, reason));
        }
        // Why the trigger is active: its metric, or the fallback answering for it.
        let why_active = match poll.read {
            MetricRead::Metric(m) => format!("queue {m} > activation {activation}"),
            MetricRead::Fallback(_) => "fallback active".to_owned(),
            MetricRead::Failed => "metric failed".to_owned(),
        };
        match poll.scale_to {
            Some(to) if poll.active => events.push(ScaleEvent::new(
                now,
                EventKind::Activated,
                format!("activated: {why_active}; scale {from} → {to}"),
            )),
            Some(to) if to < from => events.push(ScaleEvent::new(
                now,
                EventKind::ScaleToZero,
                scale_in_reason(from, to, spec, self.keda.last_active),
            )),
            Some(to) if to > from => events.push(ScaleEvent::new(
                now,
                EventKind::ScaleUp,
                format!("scale {from} → {to}: min replicas {}", spec.min_replicas),
            )),
            // Setting the count it found changes nothing (only an invalid profile gets here).
            Some(_) => {}
            None if poll.changed && poll.active => events.push(ScaleEvent::new(
                now,
                EventKind::Activated,
                format!("activated: {why_active}"),
            )),
            None => {}
        }
        if let Some(to) = poll.scale_to {
            self.desired = to;
        }
    }

    fn sync_hpa(&mut self, now: Duration, observation: &Observation, events: &mut Vec<ScaleEvent>) {
        let spec = &self.profile.scaled_object;
        if !self.hpa.due(now, self.profile.hpa.sync_period) {
            return;
        }
        // The HPA reads the metric through KEDA's metrics server on its own sync: afresh, with
        // the fallback rules and the same failure count as the poll, or (useCachedMetrics) the
        // answer of KEDA's last poll.
        let answer = if spec.use_cached_metrics {
            self.keda.cached_read(spec)
        } else {
            let metric = observation.metric(spec.queue_length_strategy);
            let (answer, health) = self.keda.read(now, metric, spec);
            if let Some(change) = health {
                events.push(health_event(now, change, spec, self.keda.failures));
            }
            answer
        };
        let target = Target {
            per_pod: spec.queue_length,
            min_replicas: spec.min_replicas,
            max_replicas: spec.max_replicas,
        };
        let reading = Reading {
            metric: answer.value(),
            status_replicas: self.status_replicas(),
        };
        let rules = SyncRules::from_profile(&self.profile);
        if let Some(mut decision) = self.hpa.sync(now, self.desired, reading, target, &rules) {
            let kind = if decision.to > decision.from {
                EventKind::ScaleUp
            } else {
                EventKind::ScaleDown
            };
            if let MetricRead::Fallback(_) = answer {
                decision.reason += &format!(
                    " (fallback: metric failed {} times in a row)",
                    self.keda.failures
                );
            }
            self.desired = decision.to;
            events.push(ScaleEvent::new(now, kind, decision.reason));
        }
    }

    /// The Deployment's `status.replicas`: its pods that are not being deleted.
    fn status_replicas(&self) -> u32 {
        let active = self.pods.iter().filter(|p| p.is_active()).count();
        u32::try_from(active).unwrap_or(u32::MAX)
    }

    /// The ReplicaSet: create Pending pods up to the desired count, or delete the surplus in
    /// the controller's order. Pods without a running worker go at once; a running one is
    /// asked to stop.
    fn reconcile(&mut self, now: Duration, commands: &mut Vec<Command>) {
        let active = self.pods.iter().filter(|p| p.is_active()).count();
        // Bounded even for a profile that was never validated.
        let desired = self.desired.min(MAX_REPLICAS) as usize;
        // Too few (or just enough): create the missing ones; too many: delete the surplus.
        if let Some(missing) = desired.checked_sub(active) {
            for _ in 0..missing {
                self.next_pod += 1;
                self.pods.push(Pod {
                    id: PodId(self.next_pod),
                    phase: PodPhase::Pending,
                    node: None,
                    requests: self.profile.pod.requests,
                    created_at: now,
                });
            }
            return;
        }
        let grace = self.profile.pod.termination_grace;
        for id in pods::victims(&self.pods, active - desired) {
            let Some(index) = self.pods.iter().position(|p| p.id == id) else {
                continue;
            };
            if let PodPhase::Running { .. } = self.pods[index].phase {
                let deadline = now.saturating_add(grace);
                self.pods[index].phase = PodPhase::Terminating { deadline };
                commands.push(Command::StopWorker { pod: id, grace });
            } else {
                self.pods.remove(index);
            }
        }
    }

    /// The scheduler: each Pending pod, oldest first, to the first Ready node with room.
    fn schedule(&mut self, now: Duration) {
        let mut free: Vec<_> = self
            .nodes
            .iter()
            .filter(|n| n.is_ready())
            .map(|n| {
                (
                    n.id,
                    n.allocatable
                        .saturating_sub(nodes::requested_on(n.id, &self.pods)),
                )
            })
            .collect();
        let startup = self.profile.pod.startup_delay;
        for pod in self
            .pods
            .iter_mut()
            .filter(|p| p.phase == PodPhase::Pending)
        {
            let room: Vec<_> = free.iter().map(|(_, r)| *r).collect();
            if let Some(i) = nodes::first_fit(&room, pod.requests) {
                free[i].1 = free[i].1.saturating_sub(pod.requests);
                pod.node = Some(free[i].0);
                pod.phase = PodPhase::ContainerCreating {
                    ready_at: now.saturating_add(startup),
                };
            }
        }
    }

    /// The kubelet: containers whose start-up delay has passed run, and the shell starts their
    /// workers.
    fn start_containers(&mut self, now: Duration, commands: &mut Vec<Command>) {
        for pod in &mut self.pods {
            if let PodPhase::ContainerCreating { ready_at } = pod.phase {
                if ready_at <= now {
                    pod.phase = PodPhase::Running { since: now };
                    commands.push(Command::StartWorker { pod: pod.id });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    /// Drives the cluster once per second with a queue that `drain` updates from the running
    /// pods; stopped workers exit at once. Returns one snapshot per second.
    fn run(
        cluster: &mut Cluster,
        seconds: u64,
        mut queue: u64,
        arrivals: impl Fn(u64) -> u64,
    ) -> Vec<Snapshot> {
        let mut out = Vec::new();
        for t in 0..seconds {
            queue += arrivals(t);
            let step = cluster.step(s(t), &Observation::new(queue));
            for command in step.commands {
                if let Command::StopWorker { pod, .. } = command {
                    cluster.worker_exited(s(t), pod);
                }
            }
            let snapshot = cluster.snapshot();
            queue = queue.saturating_sub(u64::from(snapshot.pods_running));
            out.push(snapshot);
        }
        out
    }

    fn assert_full_rise_and_fall(profile: Profile, seconds: u64) -> Vec<Snapshot> {
        let min_nodes = profile.node_pool.min_nodes;
        let mut cluster = Cluster::new(profile);
        // The queue rises to 200 over four seconds, then drains one item per running pod per second.
        let series = run(&mut cluster, seconds, 0, |t| if t < 4 { 50 } else { 0 });
        let peak = series.iter().map(|s| s.desired_replicas).max().unwrap();
        assert!(peak > 1, "replicas peaked at {peak}");
        let peak_nodes = series.iter().map(|s| s.nodes_ready).max().unwrap();
        assert!(peak_nodes > min_nodes, "nodes peaked at {peak_nodes}");
        assert!(cluster.events().any(|e| e.kind == EventKind::NodeAdded));
        assert!(cluster.events().any(|e| e.kind == EventKind::ScaleToZero));
        assert!(cluster.events().any(|e| e.kind == EventKind::NodeRemoved));
        let last = series.last().unwrap();
        assert_eq!(last.metric, Some(0));
        assert_eq!(last.desired_replicas, 0);
        assert!(last.pods.is_empty(), "{:?}", last.pods);
        assert_eq!((last.nodes_ready, last.nodes_provisioning), (min_nodes, 0));
        series
    }

    #[test]
    fn demo_run_rises_and_falls_within_two_minutes() {
        let series = assert_full_rise_and_fall(Profile::demo(), 120);
        let first_running = series.iter().position(|s| s.pods_running > 0).unwrap();
        assert!(first_running <= 2, "first worker at {first_running} s");
        assert_eq!(series.iter().map(|s| s.desired_replicas).max(), Some(12));
    }

    #[test]
    fn aks_run_rises_and_falls_with_the_documented_defaults() {
        let series = assert_full_rise_and_fall(Profile::aks(), 2400);
        // The first extra node is asked for at a scan and is Ready 180 s later.
        let added = series
            .iter()
            .position(|s| s.nodes_provisioning > 0)
            .unwrap();
        assert_eq!(
            series[added + 180].nodes_ready,
            series[added].nodes_ready + series[added].nodes_provisioning
        );
        assert_eq!(series[added + 179].nodes_ready, series[added].nodes_ready);
    }

    #[test]
    fn activation_scales_zero_to_one_at_the_first_poll() {
        let mut cluster = Cluster::new(Profile::seed_demo()); // polling 5 s
        let step = cluster.step(s(0), &Observation::new(0));
        assert!(step.events.is_empty());
        assert_eq!(cluster.snapshot().desired_replicas, 0);
        // Between polls nothing is read.
        cluster.step(s(3), &Observation::new(3));
        assert_eq!(cluster.snapshot().desired_replicas, 0);
        let step = cluster.step(s(5), &Observation::new(3));
        assert_eq!(
            step.events[0].reason,
            "activated: queue 3 > activation 0; scale 0 → 1"
        );
        assert_eq!(cluster.snapshot().desired_replicas, 1);
        assert_eq!(cluster.snapshot().pods_starting, 1);
        let step = cluster.step(s(10), &Observation::new(3));
        assert_eq!(step.commands, [Command::StartWorker { pod: PodId(1) }]);
    }

    #[test]
    fn cooldown_holds_replicas_then_scales_to_zero() {
        let mut profile = Profile::seed_demo(); // polling 5 s, cooldown 30 s
        profile.hpa.scale_down_stabilization = Duration::ZERO;
        let mut cluster = Cluster::new(profile);
        cluster.step(s(0), &Observation::new(40));
        cluster.step(s(15), &Observation::new(40));
        assert_eq!(cluster.snapshot().desired_replicas, 8);
        let mut zero_at = None;
        for t in 16..120 {
            let step = cluster.step(s(t), &Observation::new(0));
            if let Some(e) = step
                .events
                .iter()
                .find(|e| e.kind == EventKind::ScaleToZero)
            {
                assert_eq!(e.reason, "scale 1 → 0 after cooldown 30 s");
                zero_at = Some(t);
                break;
            }
            assert!(cluster.snapshot().desired_replicas >= 1, "at {t} s");
        }
        // Last active at the 15 s poll; 45 s is not strictly after; the next poll is 50 s.
        assert_eq!(zero_at, Some(50));
    }

    #[test]
    fn min_replicas_above_zero_never_cool_down_to_zero() {
        let mut profile = Profile::demo();
        profile.scaled_object.min_replicas = 2;
        let mut cluster = Cluster::new(profile);
        let series = run(&mut cluster, 120, 30, |_| 0);
        assert!(series.iter().skip(1).all(|s| s.desired_replicas >= 2));
        assert_eq!(series.last().unwrap().pods_running, 2);
    }

    #[test]
    fn scale_down_stops_the_newest_running_workers() {
        let mut profile = Profile::demo();
        profile.pod.startup_delay = Duration::ZERO;
        profile.hpa.scale_down_stabilization = Duration::ZERO;
        let mut cluster = Cluster::new(profile);
        cluster.step(s(0), &Observation::new(10)); // 0 → 1 → 2, pods 1 and 2
        cluster.step(s(2), &Observation::new(20)); // 2 → 4, pods 3 and 4
        assert_eq!(cluster.snapshot().pods_running, 4);
        let step = cluster.step(s(4), &Observation::new(10)); // 4 → 2
        let grace = s(5);
        assert_eq!(
            step.commands,
            [
                Command::StopWorker {
                    pod: PodId(4),
                    grace
                },
                Command::StopWorker {
                    pod: PodId(3),
                    grace
                }
            ]
        );
        assert_eq!(cluster.snapshot().pods_terminating, 2);
        cluster.worker_exited(s(4), PodId(4));
        assert_eq!(cluster.snapshot().pods_terminating, 1);
        // Pod 3's worker never reports; the grace runs out.
        cluster.step(s(8), &Observation::new(10));
        assert_eq!(cluster.snapshot().pods_terminating, 1);
        let step = cluster.step(s(9), &Observation::new(10));
        assert_eq!(
            step.events[0].reason,
            "pod-3 killed: worker still running after grace 5 s"
        );
        assert_eq!(cluster.snapshot().pods_terminating, 0);
    }

    #[test]
    fn node_scale_up_waits_for_scan_and_provisioning() {
        let mut profile = Profile::aks();
        profile.scaled_object.min_replicas = 7; // six fit a node
        let mut cluster = Cluster::new(profile);
        cluster.step(s(0), &Observation::new(0));
        let snap = cluster.snapshot();
        assert_eq!((snap.pods_pending, snap.nodes_provisioning), (1, 1));
        assert!(cluster.events().any(
            |e| e.reason == "node added: 1 pods pending, no room (binpacking estimate 1 nodes)"
        ));
        for t in 1..180 {
            cluster.step(s(t), &Observation::new(0));
        }
        assert_eq!(cluster.snapshot().pods_pending, 1);
        let step = cluster.step(s(180), &Observation::new(0));
        assert_eq!(step.events[0].reason, "node-2 ready after 180 s");
        assert_eq!(cluster.snapshot().pods_starting, 1);
        let step = cluster.step(s(185), &Observation::new(0));
        assert_eq!(step.commands, [Command::StartWorker { pod: PodId(7) }]);
    }

    #[test]
    fn pods_pending_between_scans_wait_for_the_next_scan() {
        let mut profile = Profile::aks();
        profile.scaled_object.min_replicas = 6;
        let mut cluster = Cluster::new(profile);
        cluster.step(s(0), &Observation::new(0));
        assert_eq!(cluster.snapshot().nodes_provisioning, 0);
        let mut raised = cluster.profile().clone();
        raised.scaled_object.min_replicas = 7;
        cluster.set_profile(raised);
        cluster.step(s(3), &Observation::new(0)); // the poll at 0 s was the last; none at 3 s
        cluster.step(s(30), &Observation::new(0)); // KEDA raises to min at its next poll
        assert_eq!(cluster.snapshot().pods_pending, 1);
        assert_eq!(cluster.snapshot().nodes_provisioning, 1, "scan at 30 s");
    }

    #[test]
    fn raising_min_nodes_adds_nodes_and_events_reach_the_next_step() {
        let mut cluster = Cluster::new(Profile::demo());
        cluster.step(s(0), &Observation::new(0));
        let mut profile = Profile::demo();
        profile.node_pool.min_nodes = 3;
        cluster.set_profile(profile);
        assert_eq!(cluster.snapshot().nodes_provisioning, 2);
        let step = cluster.step(s(1), &Observation::new(0));
        assert_eq!(
            step.events[0].reason,
            "2 nodes added: min nodes raised to 3"
        );
    }

    #[test]
    fn setting_a_profile_with_the_same_min_nodes_adds_nothing() {
        let mut cluster = Cluster::new(Profile::demo());
        cluster.step(s(0), &Observation::new(0));
        cluster.set_profile(Profile::demo());
        let step = cluster.step(s(1), &Observation::new(0));
        assert!(step.events.is_empty(), "{:?}", step.events);
        assert_eq!(cluster.snapshot().nodes.len(), 1);
    }

    #[test]
    fn a_crashed_worker_restarts_in_the_same_pod() {
        let mut cluster = Cluster::new(Profile::demo());
        cluster.step(s(0), &Observation::new(3));
        cluster.step(s(1), &Observation::new(3));
        assert_eq!(cluster.snapshot().pods_running, 1);
        cluster.worker_exited(s(1), PodId(1));
        assert_eq!(cluster.snapshot().pods_starting, 1);
        let step = cluster.step(s(2), &Observation::new(3));
        assert_eq!(step.events[0].kind, EventKind::PodRestarted);
        assert!(step
            .commands
            .contains(&Command::StartWorker { pod: PodId(1) }));
    }

    #[test]
    fn cached_metrics_hold_the_polled_value_between_polls() {
        // Polling 30 s, HPA sync 15 s: at 15 s only a live read sees the queue grow (100 / 5 = 20,
        // capped at max(2 × 2, 4) = 4 on the legacy path).
        for (cached, expected) in [(false, 4), (true, 2)] {
            let mut profile = Profile::aks();
            profile.scaled_object.use_cached_metrics = cached;
            let mut cluster = Cluster::new(profile);
            cluster.step(s(0), &Observation::new(10));
            assert_eq!(cluster.snapshot().desired_replicas, 2);
            cluster.step(s(15), &Observation::new(100));
            assert_eq!(
                cluster.snapshot().desired_replicas,
                expected,
                "cached {cached}"
            );
        }
    }

    #[test]
    fn visible_only_uses_the_visible_count() {
        let mut profile = Profile::demo();
        profile.scaled_object.queue_length_strategy = crate::QueueLengthStrategy::VisibleOnly;
        let mut cluster = Cluster::new(profile);
        let obs = Observation {
            queue_length: 40,
            visible_length: Some(0),
            failed: false,
        };
        cluster.step(s(0), &obs);
        assert_eq!(
            cluster.snapshot().desired_replicas,
            0,
            "0 visible is inactive"
        );
        assert_eq!(cluster.snapshot().metric, Some(0));
    }

    #[test]
    fn event_log_and_step_results_agree() {
        let mut cluster = Cluster::new(Profile::demo());
        let mut returned = Vec::new();
        for t in 0..60 {
            let queue = if t < 20 { 60 } else { 0 };
            returned.extend(cluster.step(s(t), &Observation::new(queue)).events);
        }
        let logged: Vec<_> = cluster.events().cloned().collect();
        assert!(!logged.is_empty());
        assert_eq!(logged, returned);
    }

    #[test]
    fn aks_default_gives_the_upstream_numbers() {
        // Issue 14's acceptance numbers with `--profile aks` (no behavior: the legacy path).
        let mut cluster = Cluster::new(Profile::aks());
        // KEDA activates 0 → 1; the HPA, syncing in the same second, caps 1 → 4.
        let step = cluster.step(s(0), &Observation::new(200));
        let reasons: Vec<&str> = step.events.iter().map(|e| e.reason.as_str()).collect();
        assert_eq!(
            reasons,
            [
                "activated: queue 200 > activation 0; scale 0 → 1",
                "scale 1 → 4: queue 200 / target 5 = 40, limited to 4 (max(2 × 1, 4) per sync)"
            ]
        );
        let mut three = Profile::aks();
        three.scaled_object.min_replicas = 3;
        let mut cluster = Cluster::new(three);
        cluster.step(s(0), &Observation::new(0));
        cluster.step(s(15), &Observation::new(200));
        assert_eq!(cluster.snapshot().desired_replicas, 6, "3 → 6");
        // 55 messages at 10 replicas × queueLength 5: ratio exactly 1.1 keeps 10 (1.33 rule).
        let mut ten = Profile::aks();
        ten.scaled_object.min_replicas = 10;
        let mut cluster = Cluster::new(ten.clone());
        cluster.step(s(0), &Observation::new(0));
        cluster.step(s(15), &Observation::new(55));
        assert_eq!(cluster.snapshot().desired_replicas, 10);
        // No readiness in the model: the ratio divides by all 10 pods, 4 of them still Pending
        // (six fit on the one node).
        assert_eq!(cluster.snapshot().pods_pending, 4);
        ten.hpa.tolerance_rule = crate::policy::ToleranceRule::V1_32;
        let mut cluster = Cluster::new(ten);
        cluster.step(s(0), &Observation::new(0));
        cluster.step(s(15), &Observation::new(55));
        assert_eq!(cluster.snapshot().desired_replicas, 11, "1.32 rule scales");
    }

    #[test]
    fn reactivation_within_the_window_climbs_back_to_the_old_count() {
        let mut profile = Profile::seed_demo(); // polling 5 s, cooldown 30 s, window 300 s
        profile.scaled_object.max_replicas = 20;
        let mut cluster = Cluster::new(profile);
        for t in 0..=60 {
            cluster.step(s(t), &Observation::new(100));
        }
        assert_eq!(cluster.snapshot().desired_replicas, 20);
        let mut zero_at = None;
        for t in 61..200 {
            cluster.step(s(t), &Observation::new(0));
            if cluster.snapshot().desired_replicas == 0 {
                zero_at = Some(t);
                break;
            }
        }
        let zero_at = zero_at.expect("scaled to zero after the cooldown");
        // Three messages: one replica's worth, yet the HPA climbs to the window's 20.
        let mut peak = 0;
        for t in zero_at + 1..zero_at + 120 {
            cluster.step(s(t), &Observation::new(3));
            peak = peak.max(cluster.snapshot().desired_replicas);
        }
        assert_eq!(peak, 20);
    }

    #[test]
    fn a_behavior_switches_to_the_behavior_path() {
        let mut profile = Profile::aks();
        profile
            .scaled_object
            .advanced
            .horizontal_pod_autoscaler_config
            .behavior = Some(crate::policy::Behavior::default());
        let mut cluster = Cluster::new(profile);
        cluster.step(s(0), &Observation::new(200));
        assert_eq!(cluster.snapshot().desired_replicas, 5, "max(2 × 1, 1 + 4)");
    }

    /// Steps once per second from `from` to `to` (inclusive), the queue unreadable while
    /// `failing(t)`, else `queue`; returns `(second, reason)` of every event.
    fn outage(
        cluster: &mut Cluster,
        seconds: std::ops::RangeInclusive<u64>,
        failing: impl Fn(u64) -> bool,
        queue: u64,
    ) -> Vec<(u64, EventKind, String)> {
        let mut events = Vec::new();
        for t in seconds {
            let observation = if failing(t) {
                Observation::failed()
            } else {
                Observation::new(queue)
            };
            for e in cluster.step(s(t), &observation).events {
                events.push((t, e.kind, e.reason));
            }
        }
        events
    }

    #[test]
    fn storage_down_counts_failures_on_polls_and_hpa_reads_then_falls_back_and_recovers() {
        // kedacore/keda v2.20.1: the poll (scale_handler.go `getScalerState`) and the HPA's read
        // (`GetScaledObjectMetrics`) both go through fallback.go `GetMetricsWithFallback`, one
        // `numberOfFailures` for both.
        let mut profile = Profile::aks(); // polling 30 s, sync 15 s, window 300 s, cooldown 300 s
        profile.scaled_object.fallback = Some(crate::policy::Fallback {
            failure_threshold: 2,
            replicas: 6,
        });
        let mut cluster = Cluster::new(profile);
        let mut events = outage(&mut cluster, 0..=60, |t| t >= 15, 10);
        assert_eq!(cluster.snapshot().desired_replicas, 6, "fallback.replicas");
        assert!(
            cluster.snapshot().active,
            "the fallback keeps the trigger active"
        );
        // Storage is back with an empty queue: the cooldown runs from the last poll the
        // fallback answered (60 s), and KEDA scales to zero at the first poll strictly after it.
        events.extend(outage(&mut cluster, 61..=400, |_| false, 0));
        use EventKind::*;
        let expected: Vec<(u64, EventKind, &str)> = vec![
            (0, Activated, "activated: queue 10 > activation 0; scale 0 → 1"),
            (0, ScaleUp, "scale 1 → 2: queue 10 / target 5 = 2"),
            (15, MetricFailed, "metric failed: queue unreadable (failure 1; fallback to 6 replicas after more than failureThreshold 2)"),
            (30, Deactivated, "deactivated: metric failed"),
            (30, FallbackActivated, "fallback active: metric failed 3 times in a row > failureThreshold 2; reads answer 6 replicas × target 5 = 30"),
            (30, ScaleUp, "scale 2 → 4: queue 30 / target 5 = 6, limited to 4 (max(2 × 2, 4) per sync) (fallback: metric failed 3 times in a row)"),
            (45, ScaleUp, "scale 4 → 6: queue 30 / target 5 = 6 (fallback: metric failed 4 times in a row)"),
            (60, Activated, "activated: fallback active"),
            (75, MetricRecovered, "metric read again after 60 s of failures; fallback no longer active"),
            (90, Deactivated, "deactivated: queue 0 ≤ activation 0; scale to 0 after cooldown 300 s"),
            // The last recommendation of 6 (the sync at 60 s) leaves the 300 s window.
            (375, ScaleDown, "scale 6 → 1: queue 0 / target 5 = 0, min 1"),
            (390, ScaleToZero, "scale 1 → 0 after cooldown 300 s"),
        ];
        let got: Vec<(u64, EventKind, &str)> = events
            .iter()
            .map(|(t, k, r)| (*t, *k, r.as_str()))
            .collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn without_fallback_a_failing_metric_keeps_the_count_and_recovers() {
        // kedacore/keda v2.20.1 `RequestScale`: in error without a fallback, KEDA only marks
        // the ScaledObject not Ready, and the HPA keeps its count (`FailedGetExternalMetric`).
        let mut cluster = Cluster::new(Profile::seed_demo()); // polling 5 s, sync 15 s
        let mut events = outage(&mut cluster, 0..=399, |t| t > 15, 10);
        assert_eq!(
            cluster.snapshot().desired_replicas,
            2,
            "held through the outage"
        );
        assert_eq!(cluster.snapshot().metric, None);
        events.extend(outage(&mut cluster, 400..=400, |_| false, 10));
        use EventKind::*;
        let got: Vec<(u64, EventKind, &str)> = events
            .iter()
            .map(|(t, k, r)| (*t, *k, r.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (0, Activated, "activated: queue 10 > activation 0; scale 0 → 1"),
                (0, ScaleUp, "scale 1 → 2: queue 10 / target 5 = 2"),
                (20, MetricFailed, "metric failed: queue unreadable (replicas held, no scale to zero while in error; no fallback)"),
                (20, Deactivated, "deactivated: metric failed"),
                (400, MetricRecovered, "metric read again after 380 s of failures"),
                (400, Activated, "activated: queue 10 > activation 0"),
            ]
        );
        assert_eq!(
            cluster.keda.failures, 0,
            "nothing is counted without a fallback"
        );
    }

    #[test]
    fn cached_metrics_take_the_polls_answer_without_counting_again() {
        // useCachedMetrics: the HPA reads what KEDA's last poll answered. (Upstream passes the
        // cached record through `GetMetricsWithFallback` once more; see docs/model.md.)
        let mut profile = Profile::aks(); // polling 30 s, sync 15 s
        profile.scaled_object.use_cached_metrics = true;
        profile.scaled_object.fallback = Some(crate::policy::Fallback {
            failure_threshold: 1,
            replicas: 6,
        });
        let mut cluster = Cluster::new(profile);
        let events = outage(&mut cluster, 0..=75, |t| t >= 15, 10);
        // Polls at 30 s (failure 1) and 60 s (failure 2 > 1): only polls count.
        assert_eq!(cluster.keda.failures, 2);
        let fallback_at: Vec<u64> = events
            .iter()
            .filter(|(_, k, _)| *k == EventKind::FallbackActivated)
            .map(|(t, _, _)| *t)
            .collect();
        assert_eq!(fallback_at, [60]);
        assert_eq!(cluster.snapshot().desired_replicas, 6);
    }

    #[test]
    fn keda_raises_an_inactive_target_to_a_raised_min() {
        // `RequestScale`: inactive, below minReplicaCount, no idleReplicaCount → min. The policy
        // can change live (`set_profile`), so a target can find itself below a new minimum.
        let mut cluster = Cluster::new(Profile::demo()); // polling 2 s
        cluster.step(s(0), &Observation::new(0));
        let mut raised = Profile::demo();
        raised.scaled_object.min_replicas = 2;
        cluster.set_profile(raised);
        let step = cluster.step(s(2), &Observation::new(0));
        let first = &step.events[0];
        assert_eq!(
            (first.kind, first.reason.as_str()),
            (EventKind::ScaleUp, "scale 0 → 2: min replicas 2")
        );
        assert_eq!(cluster.snapshot().desired_replicas, 2);
    }

    #[test]
    fn keda_setting_the_count_it_finds_logs_nothing() {
        // An unvalidated profile (idleReplicaCount 2 ≥ minReplicaCount 0, which validation
        // rejects) makes `RequestScale` "scale" 2 replicas to idle 2 after the cooldown: the same
        // count, no decision to show.
        let mut profile = Profile::demo(); // polling 2 s, cooldown 10 s, HPA window 10 s
        profile.scaled_object.idle_replica_count = Some(2);
        assert!(profile.validate().is_err());
        let mut cluster = Cluster::new(profile);
        let mut events = Vec::new();
        for (t, queue) in [
            (0, 3),
            (2, 10),
            (4, 0),
            (6, 0),
            (8, 0),
            (10, 0),
            (12, 0),
            (14, 0),
        ] {
            events.extend(cluster.step(s(t), &Observation::new(queue)).events);
        }
        let reasons: Vec<&str> = events.iter().map(|e| e.reason.as_str()).collect();
        assert_eq!(
            reasons,
            [
                "activated: queue 3 > activation 0; scale 0 → 1",
                "scale 1 → 2: queue 10 / target 5 = 2",
                "deactivated: queue 0 ≤ activation 0",
                "scale 2 → 1: queue 0 / target 5 = 0, min 1",
            ]
        );
    }

    #[test]
    fn a_deactivation_already_at_the_floor_promises_no_scale_in() {
        // Active at 1 replica under minReplicaCount 0; the policy then sets
        // idleReplicaCount 1 (min 3). Going inactive at 1, there is nothing to scale in to.
        let mut cluster = Cluster::new(Profile::demo()); // polling 2 s
        cluster.step(s(0), &Observation::new(3));
        assert_eq!(cluster.snapshot().desired_replicas, 1);
        let mut idle = Profile::demo();
        idle.scaled_object.min_replicas = 3;
        idle.scaled_object.idle_replica_count = Some(1);
        cluster.set_profile(idle);
        let step = cluster.step(s(2), &Observation::new(0));
        assert_eq!(step.events[0].reason, "deactivated: queue 0 ≤ activation 0");
        // Above the floor the deactivation says where the cooldown leads.
        let mut cluster = Cluster::new(Profile::demo());
        cluster.step(s(0), &Observation::new(3));
        let step = cluster.step(s(2), &Observation::new(0));
        assert_eq!(
            step.events[0].reason,
            "deactivated: queue 0 ≤ activation 0; scale to 0 after cooldown 10 s"
        );
    }

    #[test]
    fn idle_replica_count_and_initial_cooldown() {
        let mut profile = Profile::seed_demo(); // polling 5 s
        profile.scaled_object.min_replicas = 2;
        profile.scaled_object.idle_replica_count = Some(0);
        profile.scaled_object.initial_cooldown_period = s(60);
        let mut cluster = Cluster::new(profile);
        let mut events = Vec::new();
        let mut idle_at = None;
        for t in 0..120 {
            events.extend(cluster.step(s(t), &Observation::new(0)).events);
            if idle_at.is_none() && cluster.snapshot().desired_replicas == 0 {
                idle_at = Some(t);
            }
        }
        // Never active: the initial cooldown (60 s, strictly) ends at the poll at 65 s.
        assert_eq!(idle_at, Some(65));
        assert!(events
            .iter()
            .any(|e| e.reason == "scale 2 → 0 (idle replica count) after initial cooldown 60 s"));
        cluster.step(s(120), &Observation::new(1));
        assert_eq!(
            cluster.snapshot().desired_replicas,
            2,
            "active: back to min"
        );
    }

    #[test]
    fn hostile_counts_are_bounded_even_without_validation() {
        let mut profile = Profile::demo();
        profile.scaled_object.min_replicas = u32::MAX;
        profile.scaled_object.max_replicas = u32::MAX;
        profile.node_pool.min_nodes = u32::MAX;
        profile.node_pool.max_nodes = u32::MAX;
        assert!(profile.validate().is_err());
        let mut cluster = Cluster::new(profile.clone());
        cluster.step(s(0), &Observation::new(0));
        let snap = cluster.snapshot();
        assert_eq!(snap.pods.len(), MAX_REPLICAS as usize);
        assert_eq!(snap.nodes.len(), MAX_NODES as usize);
        let mut small = Cluster::new(Profile::demo());
        small.set_profile(profile);
        assert_eq!(small.snapshot().nodes.len(), MAX_NODES as usize);
    }

    fn arb_profile() -> impl Strategy<Value = Profile> {
        (
            prop_oneof![
                Just(Profile::demo()),
                Just(Profile::seed_demo()),
                Just(Profile::aks())
            ],
            0u32..3,
            1u32..30,
            1u32..4,
            0u64..10,
        )
            .prop_map(|(mut p, min_nodes, max_replicas, extra_nodes, grace)| {
                p.node_pool.min_nodes = min_nodes;
                p.node_pool.max_nodes = min_nodes + extra_nodes;
                p.scaled_object.max_replicas = max_replicas;
                p.pod.termination_grace = s(grace);
                p
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn invariants_hold_on_any_trace(
            profile in arb_profile(),
            trace in prop::collection::vec((0u64..400, 1u64..20, any::<bool>(), 0u8..8), 1..40),
            fallback in prop::option::of((0u32..4, 0u32..30)),
        ) {
            let mut profile = profile;
            profile.scaled_object.fallback = fallback.map(|(failure_threshold, replicas)| {
                crate::policy::Fallback { failure_threshold, replicas }
            });
            let max_replicas = profile.scaled_object.max_replicas;
            let (min_nodes, max_nodes) = (profile.node_pool.min_nodes, profile.node_pool.max_nodes);
            let mut cluster = Cluster::new(profile);
            let mut now = Duration::ZERO;
            let mut started = std::collections::HashSet::new();
            for (queue, gap, report_exits, outage) in trace {
                // About one stretch in eight with storage unreachable.
                let observation = if outage == 0 {
                    Observation::failed()
                } else {
                    Observation::new(queue)
                };
                for _ in 0..gap {
                    let step = cluster.step(now, &observation);
                    let snap = cluster.snapshot();
                    prop_assert!(snap.desired_replicas <= max_replicas);
                    let nodes = snap.nodes_ready + snap.nodes_provisioning;
                    prop_assert!((min_nodes..=max_nodes).contains(&nodes), "{} nodes", nodes);
                    let active = snap.pods.iter().filter(|p| p.is_active()).count();
                    prop_assert_eq!(active, snap.desired_replicas as usize);
                    for node in &snap.nodes {
                        let used = nodes::requested_on(node.id, &snap.pods);
                        prop_assert!(used.fits_in(node.allocatable), "{:?} over {:?}", used, node);
                        if !node.is_ready() {
                            prop_assert!(snap.pods.iter().all(|p| p.node != Some(node.id)));
                        }
                    }
                    for pod in &snap.pods {
                        let bound = pod.node.is_some();
                        prop_assert_eq!(bound, pod.phase != PodPhase::Pending);
                    }
                    for command in &step.commands {
                        let phase = |id| snap.pods.iter().find(|p| p.id == id).map(|p| p.phase);
                        match *command {
                            Command::StartWorker { pod } => {
                                prop_assert!(
                                    matches!(phase(pod), Some(PodPhase::Running { .. })),
                                    "{} started but not running",
                                    pod
                                );
                                prop_assert!(started.insert(pod), "{} started twice", pod);
                            }
                            Command::StopWorker { pod, .. } => {
                                prop_assert!(
                                    matches!(phase(pod), Some(PodPhase::Terminating { .. })),
                                    "{} stopped but not terminating",
                                    pod
                                );
                                if report_exits {
                                    cluster.worker_exited(now, pod);
                                }
                            }
                        }
                    }
                    now += s(1);
                }
            }
        }
    }
}
