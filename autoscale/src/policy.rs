//! The tunable parameters of the model, grouped as the real objects group them, with the
//! published defaults.
//!
//! Every field is public and serde-serializable (durations as seconds) so the server can show
//! and edit them live. [`Profile::validate`] says what is wrong with an edited profile; the model
//! itself never panics on odd values (a zero target counts as one, a maximum below the minimum
//! counts as the minimum).

use std::{fmt, time::Duration};

use serde::{Deserialize, Serialize};

use crate::secs;

/// Which count of the queue the `azure-queue` scaler reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueLengthStrategy {
    /// The queue's approximate message count, which includes invisible (in-flight) messages.
    All,
    /// Only visible messages. The scaler peeks at most 32 messages, so when it sees 32 or more
    /// it falls back to the approximate count (KEDA docs, `queueLengthStrategy`).
    VisibleOnly,
}

/// Requested or allocatable compute, as the scheduler counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Resources {
    /// CPU in millicores (`1000` is one vCPU).
    pub cpu_millis: u32,
    /// Memory in MiB.
    pub memory_mib: u32,
}

impl Resources {
    pub const fn new(cpu_millis: u32, memory_mib: u32) -> Self {
        Self {
            cpu_millis,
            memory_mib,
        }
    }

    /// Whether `self` fits into `free`.
    pub fn fits_in(self, free: Resources) -> bool {
        self.cpu_millis <= free.cpu_millis && self.memory_mib <= free.memory_mib
    }

    pub fn saturating_sub(self, other: Resources) -> Resources {
        Resources::new(
            self.cpu_millis.saturating_sub(other.cpu_millis),
            self.memory_mib.saturating_sub(other.memory_mib),
        )
    }

    pub fn saturating_add(self, other: Resources) -> Resources {
        Resources::new(
            self.cpu_millis.saturating_add(other.cpu_millis),
            self.memory_mib.saturating_add(other.memory_mib),
        )
    }
}

/// The KEDA `ScaledObject` with one `azure-queue` trigger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScaledObject {
    /// How often KEDA's operator polls the trigger to decide activation and scale to zero
    /// (`pollingInterval`, default 30 s).
    #[serde(with = "secs")]
    pub polling_interval: Duration,
    /// How long after the trigger was last active KEDA waits before scaling to zero
    /// (`cooldownPeriod`, default 300 s). It applies only to the step from 1+ to 0.
    #[serde(with = "secs")]
    pub cooldown_period: Duration,
    /// `minReplicaCount` (default 0, which enables scale to zero).
    pub min_replicas: u32,
    /// `maxReplicaCount` (default 100).
    pub max_replicas: u32,
    /// The trigger's `queueLength`: the target number of messages per replica (default 5).
    pub queue_length: u64,
    /// The trigger's `activationQueueLength` (default 0): the scaler is active only when the
    /// metric is strictly greater than this.
    pub activation_queue_length: u64,
    /// The trigger's `queueLengthStrategy` (default `all`).
    pub queue_length_strategy: QueueLengthStrategy,
    /// `advanced.useCachedMetrics` (default false). When false, KEDA's metrics server reads the
    /// queue afresh for every HPA request, so the HPA sees the current queue at each sync; when
    /// true, it answers from the value read at the last polling interval.
    pub use_cached_metrics: bool,
    /// `initialCooldownPeriod` (default 0 s): while the trigger has never been active, KEDA does
    /// not scale to zero (or to `idleReplicaCount`) until this long after the ScaledObject was
    /// created (time 0 of the model).
    #[serde(default, with = "secs")]
    pub initial_cooldown_period: Duration,
    /// `idleReplicaCount` (default unset): the replicas KEDA keeps while the trigger is inactive,
    /// instead of `minReplicaCount`. KEDA requires it to be below `minReplicaCount` (and its docs
    /// say only 0 works reliably with the HPA).
    #[serde(default)]
    pub idle_replica_count: Option<u32>,
    /// `fallback` (default unset): the replicas the HPA is steered to once the metric has failed
    /// more than `failureThreshold` reads in a row.
    #[serde(default)]
    pub fallback: Option<Fallback>,
    /// `advanced`: today only `horizontalPodAutoscalerConfig.behavior`.
    #[serde(default)]
    pub advanced: Advanced,
}

/// KEDA's `fallback` (kedacore/keda pkg/fallback/fallback.go, `GetMetricsWithFallback`): each
/// failed read of the metric, by KEDA's poll or the HPA, adds one to the trigger's
/// `numberOfFailures` (a good read resets it); once it is *greater than* `failureThreshold` a
/// read answers `replicas × queueLength` instead of an error, so the HPA computes `replicas` and
/// the poll counts the trigger active (see [`crate::keda`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fallback {
    /// `failureThreshold`: failed reads tolerated before the fallback applies.
    pub failure_threshold: u32,
    /// `replicas`: what the HPA is steered to while the metric fails.
    pub replicas: u32,
}

/// The ScaledObject's `advanced` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Advanced {
    /// `advanced.horizontalPodAutoscalerConfig`.
    #[serde(default)]
    pub horizontal_pod_autoscaler_config: HorizontalPodAutoscalerConfig,
}

/// `advanced.horizontalPodAutoscalerConfig`: what KEDA copies into the HPA it creates.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HorizontalPodAutoscalerConfig {
    /// `behavior`. Unset (KEDA's default, `null` in JSON) means KEDA creates its HPA with
    /// `Behavior: nil` (kedacore/keda controllers/keda/hpa.go), and the HPA controller takes the
    /// legacy `normalizeDesiredReplicas` path: at most `max(2 × current, 4)` per sync and the
    /// highest recommendation of the last `hpa.scale_down_stabilization`. Set (even to `{}`), the
    /// controller takes `normalizeDesiredReplicasWithBehaviors` with the Kubernetes API defaults
    /// for every part left out.
    #[serde(default)]
    pub behavior: Option<Behavior>,
}

/// An HPA `spec.behavior` (autoscaling/v2 `HorizontalPodAutoscalerBehavior`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Behavior {
    /// `scaleUp`; unset means the API defaults (0 s window; 4 pods or 100 % per 15 s; `Max`),
    /// taken from the `hpa` block's `scale_up_*` fields, which hold those defaults.
    #[serde(default)]
    pub scale_up: Option<HpaScalingRules>,
    /// `scaleDown`; unset means the API defaults (the controller's downscale stabilization
    /// window, `hpa.scale_down_stabilization`; 100 % per 15 s; `Max`).
    #[serde(default)]
    pub scale_down: Option<HpaScalingRules>,
}

/// One direction of a behavior (autoscaling/v2 `HPAScalingRules`). Every field is optional, as
/// in the API: what is left out gets the default of its direction.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HpaScalingRules {
    /// `stabilizationWindowSeconds`.
    #[serde(default, with = "crate::secs::opt")]
    pub stabilization_window_seconds: Option<Duration>,
    /// `selectPolicy` (default `Max`).
    #[serde(default)]
    pub select_policy: Option<SelectPolicy>,
    /// `policies`; unset or empty means the direction's default policies.
    #[serde(default)]
    pub policies: Option<Vec<HpaScalingPolicy>>,
    /// `tolerance` (Kubernetes 1.33+, feature `HPAConfigurableTolerance`): this direction's
    /// tolerance; unset means the controller's `hpa.tolerance`.
    #[serde(default)]
    pub tolerance: Option<f64>,
}

/// `selectPolicy`: which policy's limit wins when several apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum SelectPolicy {
    /// The policy allowing the largest change.
    #[default]
    Max,
    /// The policy allowing the smallest change.
    Min,
    /// No scaling in this direction.
    Disabled,
}

/// The unit of an `HPAScalingPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PolicyType {
    /// `value` pods per period.
    Pods,
    /// `value` percent of the replicas at the start of the period.
    Percent,
}

/// One `HPAScalingPolicy`: at most `value` (pods or percent) per `period_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HpaScalingPolicy {
    #[serde(rename = "type")]
    pub kind: PolicyType,
    pub value: u32,
    #[serde(with = "secs")]
    pub period_seconds: Duration,
}

impl HpaScalingPolicy {
    pub fn pods(value: u32, period: Duration) -> Self {
        Self {
            kind: PolicyType::Pods,
            value,
            period_seconds: period,
        }
    }

    pub fn percent(value: u32, period: Duration) -> Self {
        Self {
            kind: PolicyType::Percent,
            value,
            period_seconds: period,
        }
    }
}

/// Which tolerance rule the HPA controller applies to the usage ratio.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ToleranceRule {
    /// Kubernetes 1.33 and later (`Tolerances.isWithin` in
    /// pkg/controller/podautoscaler/replica_calculator.go): the count stays when
    /// `1 − down ≤ ratio ≤ 1 + up`, so a ratio of exactly 1.1 keeps it.
    #[default]
    #[serde(rename = "1.33")]
    V1_33,
    /// Kubernetes 1.32 and earlier: the count stays when `|1 − ratio| ≤ tolerance`, computed in
    /// float64, so a ratio of 1.1 (`|1 − 1.1|` rounds just above 0.1) scales.
    #[serde(rename = "1.32")]
    V1_32,
}

/// The HPA controller's settings (kube-controller-manager flags), and the scale-up defaults a
/// `behavior` gets. Whether the HPA KEDA creates has a behavior at all is
/// [`ScaledObject::advanced`]`.horizontal_pod_autoscaler_config.behavior`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HpaBehavior {
    /// How often the HPA controller evaluates the metric
    /// (`--horizontal-pod-autoscaler-sync-period`, default 15 s).
    #[serde(with = "secs")]
    pub sync_period: Duration,
    /// No change while the usage ratio is within this fraction of 1
    /// (`--horizontal-pod-autoscaler-tolerance`, default 0.1), in both directions unless a
    /// behavior sets a direction's own `tolerance`.
    pub tolerance: f64,
    /// The default `scaleUp.stabilizationWindowSeconds` of a behavior (API default 0): scale up
    /// only to the lowest recommendation within the window. Used only on the behavior path.
    #[serde(with = "secs")]
    pub scale_up_stabilization: Duration,
    /// The default `Percent` scale-up policy of a behavior (API default 100: double per
    /// period). Used only on the behavior path.
    pub scale_up_percent: u32,
    /// The default `Pods` scale-up policy of a behavior (API default 4). Used only on the
    /// behavior path.
    pub scale_up_pods: u32,
    /// `periodSeconds` of both default scale-up policies (API default 15 s).
    #[serde(with = "secs")]
    pub scale_up_period: Duration,
    /// `--horizontal-pod-autoscaler-downscale-stabilization` (default 300 s): on the legacy path
    /// the HPA never goes below the highest recommendation of this window; on the behavior path
    /// it is `scaleDown.stabilizationWindowSeconds` when the behavior leaves that out.
    #[serde(with = "secs")]
    pub scale_down_stabilization: Duration,
    /// Which tolerance rule applies: `"1.33"` (the default, Kubernetes 1.33+) or `"1.32"` (older
    /// clusters).
    #[serde(default)]
    pub tolerance_rule: ToleranceRule,
}

/// What every worker pod asks for and how it starts and stops.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PodTemplate {
    /// The container's resource requests, which the scheduler packs onto nodes.
    pub requests: Resources,
    /// Time from being bound to a node until the container runs (image pull, start).
    #[serde(with = "secs")]
    pub startup_delay: Duration,
    /// `terminationGracePeriodSeconds` (Kubernetes default 30 s): how long a stopping worker may
    /// take before it is killed.
    #[serde(with = "secs")]
    pub termination_grace: Duration,
}

/// The AKS node pool the pods run on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodePool {
    /// The VM size, e.g. `Standard_D8s_v3`.
    pub vm_size: String,
    /// What a node offers to pods after the kubelet's and system reservations.
    pub allocatable: Resources,
    /// The pool's `minCount`; the pool starts with this many Ready nodes.
    pub min_nodes: u32,
    /// The pool's `maxCount`.
    pub max_nodes: u32,
    /// Time from the autoscaler's decision until the new node is Ready.
    #[serde(with = "secs")]
    pub provisioning_delay: Duration,
}

/// The cluster autoscaler's settings (the AKS cluster autoscaler profile).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterAutoscaler {
    /// `scan-interval` (default 10 s): how often pending pods and idle nodes are looked at.
    #[serde(with = "secs")]
    pub scan_interval: Duration,
    /// `scale-down-utilization-threshold` (default 0.5): requested / allocatable below which a
    /// node is unneeded.
    pub scale_down_utilization_threshold: f64,
    /// `scale-down-unneeded-time` (default 10 min): how long a node must stay unneeded.
    #[serde(with = "secs")]
    pub scale_down_unneeded_time: Duration,
    /// `scale-down-delay-after-add` (default 10 min): no scale-down this soon after a scale-up.
    #[serde(with = "secs")]
    pub scale_down_delay_after_add: Duration,
    /// `max-node-provision-time` (default 15 min): a node not Ready this long after it was asked
    /// for is given up (deleted), and the node group backs off scale-ups.
    #[serde(default = "default_max_node_provision_time", with = "secs")]
    pub max_node_provision_time: Duration,
    /// `initial-node-group-backoff-duration` (default 5 min): no scale-up of the node group this
    /// long after a node failed to come up within `max-node-provision-time`.
    #[serde(default = "default_node_group_backoff", with = "secs")]
    pub initial_node_group_backoff_duration: Duration,
    /// `max-nodes-total` (default 0, no limit): the most nodes in the cluster, on top of the
    /// pool's own `maxCount`.
    #[serde(default)]
    pub max_nodes_total: u32,
}

fn default_max_node_provision_time() -> Duration {
    Duration::from_secs(15 * 60)
}

fn default_node_group_backoff() -> Duration {
    Duration::from_secs(5 * 60)
}

/// Every parameter of the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// A short label shown with the settings.
    pub name: String,
    pub scaled_object: ScaledObject,
    pub hpa: HpaBehavior,
    pub pod: PodTemplate,
    pub node_pool: NodePool,
    pub cluster_autoscaler: ClusterAutoscaler,
}

const GIB: u32 = 1024;

impl Profile {
    /// The documented defaults of KEDA, the HPA and the AKS cluster autoscaler, on
    /// `Standard_D8s_v3` nodes (8 vCPU / 32 GiB; AKS reserves about 180m CPU and 5 GiB) with
    /// 1 vCPU / 4 GiB worker pods, so six pods fit on a node.
    pub fn aks() -> Self {
        Profile {
            name: "aks".to_owned(),
            scaled_object: ScaledObject {
                polling_interval: Duration::from_secs(30),
                cooldown_period: Duration::from_secs(300),
                min_replicas: 0,
                max_replicas: 100,
                queue_length: 5,
                activation_queue_length: 0,
                queue_length_strategy: QueueLengthStrategy::All,
                use_cached_metrics: false,
                initial_cooldown_period: Duration::ZERO,
                idle_replica_count: None,
                fallback: None,
                advanced: Advanced::default(),
            },
            hpa: HpaBehavior {
                sync_period: Duration::from_secs(15),
                tolerance: 0.1,
                scale_up_stabilization: Duration::ZERO,
                scale_up_percent: 100,
                scale_up_pods: 4,
                scale_up_period: Duration::from_secs(15),
                scale_down_stabilization: Duration::from_secs(300),
                tolerance_rule: ToleranceRule::V1_33,
            },
            pod: PodTemplate {
                requests: Resources::new(1000, 4 * GIB),
                startup_delay: Duration::from_secs(5),
                termination_grace: Duration::from_secs(30),
            },
            node_pool: NodePool {
                vm_size: "Standard_D8s_v3".to_owned(),
                allocatable: Resources::new(7820, 27 * GIB),
                min_nodes: 1,
                max_nodes: 10,
                provisioning_delay: Duration::from_secs(180),
            },
            cluster_autoscaler: ClusterAutoscaler {
                scan_interval: Duration::from_secs(10),
                scale_down_utilization_threshold: 0.5,
                scale_down_unneeded_time: Duration::from_secs(600),
                scale_down_delay_after_add: Duration::from_secs(600),
                max_node_provision_time: default_max_node_provision_time(),
                initial_node_group_backoff_duration: default_node_group_backoff(),
                max_nodes_total: 0,
            },
        }
    }

    /// [`Profile::aks`] with the original demo's `ScaledObject`: `pollingInterval: 5`,
    /// `cooldownPeriod: 30`, `minReplicaCount: 0`, `maxReplicaCount: 20`, `queueLength: 5`.
    pub fn seed_demo() -> Self {
        let mut profile = Profile::aks();
        profile.name = "seed-demo".to_owned();
        let so = &mut profile.scaled_object;
        so.polling_interval = Duration::from_secs(5);
        so.cooldown_period = Duration::from_secs(30);
        so.min_replicas = 0;
        so.max_replicas = 20;
        so.queue_length = 5;
        profile
    }

    /// The same rules with timings compressed so a 200-item run at about one item per second
    /// per pod rises and falls in about a minute: four pods per (small) node, one to five nodes,
    /// at most 12 replicas.
    pub fn demo() -> Self {
        let s = Duration::from_secs;
        Profile {
            name: "demo".to_owned(),
            scaled_object: ScaledObject {
                polling_interval: s(2),
                cooldown_period: s(10),
                min_replicas: 0,
                max_replicas: 12,
                queue_length: 5,
                activation_queue_length: 0,
                queue_length_strategy: QueueLengthStrategy::All,
                use_cached_metrics: false,
                initial_cooldown_period: Duration::ZERO,
                idle_replica_count: None,
                fallback: None,
                advanced: Advanced::default(),
            },
            hpa: HpaBehavior {
                sync_period: s(2),
                tolerance: 0.1,
                scale_up_stabilization: Duration::ZERO,
                scale_up_percent: 100,
                scale_up_pods: 4,
                scale_up_period: s(2),
                scale_down_stabilization: s(10),
                tolerance_rule: ToleranceRule::V1_33,
            },
            pod: PodTemplate {
                requests: Resources::new(900, 3 * GIB),
                startup_delay: s(1),
                termination_grace: s(5),
            },
            node_pool: NodePool {
                vm_size: "Standard_D4s_v3".to_owned(),
                allocatable: Resources::new(3860, 12800),
                min_nodes: 1,
                max_nodes: 5,
                provisioning_delay: s(5),
            },
            cluster_autoscaler: ClusterAutoscaler {
                scan_interval: s(2),
                scale_down_utilization_threshold: 0.5,
                scale_down_unneeded_time: s(10),
                scale_down_delay_after_add: s(10),
                max_node_provision_time: s(60),
                initial_node_group_backoff_duration: s(20),
                max_nodes_total: 0,
            },
        }
    }

    /// How many pods of the template fit on one empty node.
    pub fn pods_per_node(&self) -> u32 {
        let a = self.node_pool.allocatable;
        let r = self.pod.requests;
        let by = |have: u32, want: u32| have.checked_div(want).unwrap_or(u32::MAX);
        by(a.cpu_millis, r.cpu_millis).min(by(a.memory_mib, r.memory_mib))
    }

    /// Every problem with the profile, so an edit can be rejected with a clear message.
    ///
    /// Besides the rules KEDA and Kubernetes enforce, every number has an upper bound (see the
    /// `MAX_*` constants), so a hostile or mistyped profile cannot make the model create
    /// millions of pods or nodes, or wait for years.
    pub fn validate(&self) -> Result<(), ProfileError> {
        let mut problems = Vec::new();
        self.validate_scaled_object(&mut problems);
        self.validate_hpa(&mut problems);
        self.validate_nodes(&mut problems);
        let durations = [
            ("polling_interval", self.scaled_object.polling_interval),
            ("cooldown_period", self.scaled_object.cooldown_period),
            (
                "initial_cooldown_period",
                self.scaled_object.initial_cooldown_period,
            ),
            ("hpa sync_period", self.hpa.sync_period),
            (
                "hpa scale_up_stabilization",
                self.hpa.scale_up_stabilization,
            ),
            ("hpa scale_up_period", self.hpa.scale_up_period),
            (
                "hpa scale_down_stabilization",
                self.hpa.scale_down_stabilization,
            ),
            ("pod startup_delay", self.pod.startup_delay),
            ("pod termination_grace", self.pod.termination_grace),
            ("provisioning_delay", self.node_pool.provisioning_delay),
            ("scan_interval", self.cluster_autoscaler.scan_interval),
            (
                "scale_down_unneeded_time",
                self.cluster_autoscaler.scale_down_unneeded_time,
            ),
            (
                "scale_down_delay_after_add",
                self.cluster_autoscaler.scale_down_delay_after_add,
            ),
            (
                "max_node_provision_time",
                self.cluster_autoscaler.max_node_provision_time,
            ),
            (
                "initial_node_group_backoff_duration",
                self.cluster_autoscaler.initial_node_group_backoff_duration,
            ),
        ];
        for (name, value) in durations {
            at_most_a_day(name, value, &mut problems);
        }
        for (name, value) in [
            ("polling_interval", self.scaled_object.polling_interval),
            ("hpa sync_period", self.hpa.sync_period),
            ("scan_interval", self.cluster_autoscaler.scan_interval),
        ] {
            if value.is_zero() {
                problems.push(format!("{name} must be more than 0 s"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ProfileError { problems })
        }
    }

    fn validate_scaled_object(&self, problems: &mut Vec<String>) {
        let so = &self.scaled_object;
        if so.queue_length == 0 || so.queue_length > MAX_QUEUE_LENGTH {
            problems.push(format!(
                "queue_length ({}) must be in 1..={MAX_QUEUE_LENGTH}",
                so.queue_length
            ));
        }
        if so.activation_queue_length > MAX_QUEUE_LENGTH {
            problems.push(format!(
                "activation_queue_length ({}) must be at most {MAX_QUEUE_LENGTH}",
                so.activation_queue_length
            ));
        }
        if so.max_replicas == 0 || so.max_replicas < so.min_replicas {
            problems.push(format!(
                "max_replicas ({}) must be at least 1 and at least min_replicas ({})",
                so.max_replicas, so.min_replicas
            ));
        }
        if so.max_replicas > MAX_REPLICAS {
            problems.push(format!(
                "max_replicas ({}) must be at most {MAX_REPLICAS}",
                so.max_replicas
            ));
        }
        if let Some(idle) = so.idle_replica_count {
            if idle >= so.min_replicas {
                problems.push(format!(
                    "idle_replica_count ({idle}) must be less than min_replicas ({})",
                    so.min_replicas
                ));
            }
        }
        if let Some(fallback) = so.fallback {
            if fallback.replicas > MAX_REPLICAS {
                problems.push(format!(
                    "fallback replicas ({}) must be at most {MAX_REPLICAS}",
                    fallback.replicas
                ));
            }
            if fallback.failure_threshold > MAX_FAILURE_THRESHOLD {
                problems.push(format!(
                    "fallback failure_threshold ({}) must be at most {MAX_FAILURE_THRESHOLD}",
                    fallback.failure_threshold
                ));
            }
        }
        let behavior = &so.advanced.horizontal_pod_autoscaler_config.behavior;
        if let Some(behavior) = behavior {
            for (direction, rules) in [
                ("scale_up", &behavior.scale_up),
                ("scale_down", &behavior.scale_down),
            ] {
                if let Some(rules) = rules {
                    validate_rules(direction, rules, problems);
                }
            }
        }
    }

    fn validate_hpa(&self, problems: &mut Vec<String>) {
        tolerance_in_range("hpa tolerance", self.hpa.tolerance, problems);
        if self.hpa.scale_up_percent > MAX_POLICY_VALUE || self.hpa.scale_up_pods > MAX_POLICY_VALUE
        {
            problems.push(format!(
                "hpa scale_up_percent ({}) and scale_up_pods ({}) must be at most {MAX_POLICY_VALUE}",
                self.hpa.scale_up_percent, self.hpa.scale_up_pods
            ));
        }
    }

    fn validate_nodes(&self, problems: &mut Vec<String>) {
        let pool = &self.node_pool;
        if pool.max_nodes == 0 || pool.max_nodes < pool.min_nodes {
            problems.push(format!(
                "max_nodes ({}) must be at least 1 and at least min_nodes ({})",
                pool.max_nodes, pool.min_nodes
            ));
        }
        if pool.max_nodes > MAX_NODES {
            problems.push(format!(
                "max_nodes ({}) must be at most {MAX_NODES}",
                pool.max_nodes
            ));
        }
        let total = self.cluster_autoscaler.max_nodes_total;
        if total > MAX_NODES || (total != 0 && total < pool.min_nodes) {
            problems.push(format!(
                "max_nodes_total ({total}) must be 0 (no limit) or in min_nodes ({})..={MAX_NODES}",
                pool.min_nodes
            ));
        }
        for (name, value) in [("name", &self.name), ("vm_size", &pool.vm_size)] {
            if value.len() > MAX_NAME_LEN {
                problems.push(format!("{name} must be at most {MAX_NAME_LEN} bytes"));
            }
        }
        for (name, r) in [
            ("pod requests", self.pod.requests),
            ("node allocatable", pool.allocatable),
        ] {
            if r.cpu_millis > MAX_CPU_MILLIS || r.memory_mib > MAX_MEMORY_MIB {
                problems.push(format!(
                    "{name} ({}m CPU, {} MiB) must be at most {MAX_CPU_MILLIS}m CPU and {MAX_MEMORY_MIB} MiB",
                    r.cpu_millis, r.memory_mib
                ));
            }
        }
        if self.pods_per_node() == 0 {
            problems.push(format!(
                "a pod ({}m CPU, {} MiB) does not fit on an empty {} node ({}m CPU, {} MiB)",
                self.pod.requests.cpu_millis,
                self.pod.requests.memory_mib,
                pool.vm_size,
                pool.allocatable.cpu_millis,
                pool.allocatable.memory_mib
            ));
        }
        let threshold = self.cluster_autoscaler.scale_down_utilization_threshold;
        if !(0.0..=1.0).contains(&threshold) {
            problems.push(format!(
                "scale_down_utilization_threshold ({threshold}) must be in [0, 1]"
            ));
        }
    }
}

/// The most replicas a profile may ask for (`max_replicas`, `fallback.replicas`).
pub const MAX_REPLICAS: u32 = 1000;
/// The most nodes a pool (or `max_nodes_total`) may have.
pub const MAX_NODES: u32 = 100;
/// The longest interval, delay or window a profile may set: one day.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 60 * 60);
/// The largest `queueLength` or `activationQueueLength`.
pub const MAX_QUEUE_LENGTH: u64 = 1_000_000;
/// The largest CPU request or allocatable, in millicores (1024 cores).
pub const MAX_CPU_MILLIS: u32 = 1024 * 1000;
/// The largest memory request or allocatable, in MiB (16 TiB).
pub const MAX_MEMORY_MIB: u32 = 16 * 1024 * 1024;
/// The longest profile name or VM size.
pub const MAX_NAME_LEN: usize = 64;
/// The most policies per direction of a behavior.
pub const MAX_POLICIES: usize = 10;
/// The largest policy `value` (pods or percent).
pub const MAX_POLICY_VALUE: u32 = 10_000;
/// The longest policy `periodSeconds` (Kubernetes validation: 1800 s).
pub const MAX_POLICY_PERIOD: Duration = Duration::from_secs(1800);
/// The longest `stabilizationWindowSeconds` (Kubernetes validation: 3600 s).
pub const MAX_STABILIZATION_WINDOW: Duration = Duration::from_secs(3600);
/// The largest `fallback.failureThreshold`.
pub const MAX_FAILURE_THRESHOLD: u32 = 1000;

fn at_most_a_day(name: &str, value: Duration, problems: &mut Vec<String>) {
    if value > MAX_DURATION {
        problems.push(format!(
            "{name} ({}) must be at most {}",
            secs::show(value),
            secs::show(MAX_DURATION)
        ));
    }
}

fn tolerance_in_range(name: &str, value: f64, problems: &mut Vec<String>) {
    if !(0.0..1.0).contains(&value) {
        problems.push(format!("{name} ({value}) must be in [0, 1)"));
    }
}

/// The bounds Kubernetes' validation puts on `HPAScalingRules` (pkg/apis/autoscaling/validation:
/// a policy's value above 0 and its period in 1..=1800 s, a window of at most 3600 s), plus ours.
fn validate_rules(direction: &str, rules: &HpaScalingRules, problems: &mut Vec<String>) {
    if let Some(window) = rules.stabilization_window_seconds {
        if window > MAX_STABILIZATION_WINDOW {
            problems.push(format!(
                "{direction} stabilization_window_seconds ({}) must be at most {}",
                secs::show(window),
                secs::show(MAX_STABILIZATION_WINDOW)
            ));
        }
    }
    if let Some(tolerance) = rules.tolerance {
        tolerance_in_range(&format!("{direction} tolerance"), tolerance, problems);
    }
    let policies = rules.policies.as_deref().unwrap_or_default();
    if policies.len() > MAX_POLICIES {
        problems.push(format!(
            "{direction} has {} policies; at most {MAX_POLICIES}",
            policies.len()
        ));
    }
    for policy in policies {
        if policy.value == 0 || policy.value > MAX_POLICY_VALUE {
            problems.push(format!(
                "{direction} policy value ({}) must be in 1..={MAX_POLICY_VALUE}",
                policy.value
            ));
        }
        if policy.period_seconds.is_zero() || policy.period_seconds > MAX_POLICY_PERIOD {
            problems.push(format!(
                "{direction} policy period_seconds ({}) must be more than 0 s and at most {}",
                secs::show(policy.period_seconds),
                secs::show(MAX_POLICY_PERIOD)
            ));
        }
    }
}

impl Default for Profile {
    fn default() -> Self {
        Profile::demo()
    }
}

/// What [`Profile::validate`] found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileError {
    pub problems: Vec<String>,
}

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid profile: {}", self.problems.join("; "))
    }
}

impl std::error::Error for ProfileError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_profiles_are_valid() {
        for profile in [Profile::aks(), Profile::seed_demo(), Profile::demo()] {
            assert_eq!(profile.validate(), Ok(()), "{}", profile.name);
        }
    }

    #[test]
    fn pods_per_node_matches_the_node_sizes() {
        assert_eq!(Profile::aks().pods_per_node(), 6);
        assert_eq!(Profile::seed_demo().pods_per_node(), 6);
        assert_eq!(Profile::demo().pods_per_node(), 4);
    }

    /// The upper bounds are exactly one day and 16 TiB: the largest value passes, one more fails.
    #[test]
    fn the_longest_duration_is_a_day_and_the_most_memory_16_tib() {
        let mut profile = Profile::demo();
        profile.scaled_object.cooldown_period = Duration::from_secs(86_400);
        assert_eq!(profile.validate(), Ok(()));
        profile.scaled_object.cooldown_period = Duration::from_secs(86_401);
        let err = profile.validate().unwrap_err().to_string();
        assert!(err.contains("cooldown"), "{err}");

        let mut profile = Profile::demo();
        profile.node_pool.allocatable.memory_mib = 16 * 1024 * 1024;
        assert_eq!(profile.validate(), Ok(()));
        profile.node_pool.allocatable.memory_mib = 16 * 1024 * 1024 + 1;
        let err = profile.validate().unwrap_err().to_string();
        assert!(err.contains("16777217 MiB"), "{err}");
    }

    /// Pods per node by CPU and by memory: on AKS's D8s_v3 memory runs out first; the demo's
    /// small nodes are sized so both run out at four pods, so neither is a free dimension.
    #[test]
    fn node_sizes_bind_on_cpu_and_memory_as_documented() {
        let fit = |p: Profile| {
            let (a, r) = (p.node_pool.allocatable, p.pod.requests);
            (a.cpu_millis / r.cpu_millis, a.memory_mib / r.memory_mib)
        };
        assert_eq!(fit(Profile::aks()), (7, 6));
        assert_eq!(fit(Profile::seed_demo()), (7, 6));
        assert_eq!(fit(Profile::demo()), (4, 4));
    }

    #[test]
    fn seed_demo_has_the_original_scaled_object() {
        let so = Profile::seed_demo().scaled_object;
        assert_eq!(so.polling_interval, Duration::from_secs(5));
        assert_eq!(so.cooldown_period, Duration::from_secs(30));
        assert_eq!(
            (so.min_replicas, so.max_replicas, so.queue_length),
            (0, 20, 5)
        );
    }

    #[test]
    fn every_bound_accepts_its_limit_and_rejects_one_more() {
        type Edit = fn(&mut Profile, bool);
        let day = MAX_DURATION;
        let over = |d: Duration, past: bool| if past { d + Duration::from_secs(1) } else { d };
        let edits: Vec<(&str, Edit)> = vec![
            ("max_replicas", |p, past| {
                p.scaled_object.max_replicas = MAX_REPLICAS + u32::from(past)
            }),
            // KEDA's ScaledObject validation: maxReplicaCount ≥ minReplicaCount (equal is fine).
            ("max_replicas", |p, past| {
                p.scaled_object.min_replicas = 3;
                p.scaled_object.max_replicas = 3 - u32::from(past);
            }),
            ("max_replicas", |p, past| {
                p.scaled_object.max_replicas = u32::from(!past)
            }),
            ("queue_length", |p, past| {
                p.scaled_object.queue_length = MAX_QUEUE_LENGTH + u64::from(past)
            }),
            ("activation_queue_length", |p, past| {
                p.scaled_object.activation_queue_length = MAX_QUEUE_LENGTH + u64::from(past)
            }),
            ("fallback replicas", |p, past| {
                p.scaled_object.fallback = Some(Fallback {
                    failure_threshold: 3,
                    replicas: MAX_REPLICAS + u32::from(past),
                })
            }),
            ("fallback failure_threshold", |p, past| {
                p.scaled_object.fallback = Some(Fallback {
                    failure_threshold: MAX_FAILURE_THRESHOLD + u32::from(past),
                    replicas: 1,
                })
            }),
            ("idle_replica_count", |p, past| {
                p.scaled_object.min_replicas = 2;
                p.scaled_object.idle_replica_count = Some(1 + u32::from(past));
            }),
            ("max_nodes", |p, past| {
                p.node_pool.max_nodes = MAX_NODES + u32::from(past)
            }),
            ("max_nodes", |p, past| {
                p.node_pool.min_nodes = 3;
                p.node_pool.max_nodes = 3 - u32::from(past);
            }),
            ("max_nodes", |p, past| {
                p.node_pool.min_nodes = 0;
                p.node_pool.max_nodes = u32::from(!past);
            }),
            ("max_nodes_total", |p, past| {
                p.cluster_autoscaler.max_nodes_total = MAX_NODES + u32::from(past)
            }),
            ("max_nodes_total", |p, past| {
                p.node_pool.min_nodes = 3;
                p.cluster_autoscaler.max_nodes_total = 3 - u32::from(past);
            }),
            ("name", |p, past| {
                p.name = "n".repeat(MAX_NAME_LEN + usize::from(past))
            }),
            ("vm_size", |p, past| {
                p.node_pool.vm_size = "v".repeat(MAX_NAME_LEN + usize::from(past))
            }),
            ("pod requests", |p, past| {
                p.pod.requests.cpu_millis = MAX_CPU_MILLIS + u32::from(past);
                p.node_pool.allocatable.cpu_millis = MAX_CPU_MILLIS;
            }),
            ("node allocatable", |p, past| {
                p.node_pool.allocatable.memory_mib = MAX_MEMORY_MIB + u32::from(past)
            }),
            ("hpa tolerance", |p, past| {
                p.hpa.tolerance = if past { 1.0 } else { 0.99 }
            }),
            ("hpa tolerance", |p, past| {
                p.hpa.tolerance = if past { -0.01 } else { 0.0 }
            }),
            ("scale_up_percent", |p, past| {
                p.hpa.scale_up_percent = MAX_POLICY_VALUE + u32::from(past)
            }),
            ("scale_up_percent", |p, past| {
                p.hpa.scale_up_pods = MAX_POLICY_VALUE + u32::from(past)
            }),
            ("scale_down_utilization_threshold", |p, past| {
                p.cluster_autoscaler.scale_down_utilization_threshold =
                    if past { 1.01 } else { 1.0 }
            }),
            ("polling_interval", |p, past| {
                p.scaled_object.polling_interval = Duration::from_secs(u64::from(!past))
            }),
            ("hpa sync_period", |p, past| {
                p.hpa.sync_period = Duration::from_secs(u64::from(!past))
            }),
            ("scan_interval", |p, past| {
                p.cluster_autoscaler.scan_interval = Duration::from_secs(u64::from(!past))
            }),
            ("scale_up policy value", |p, past| {
                p.scaled_object
                    .advanced
                    .horizontal_pod_autoscaler_config
                    .behavior = Some(Behavior {
                    scale_up: Some(HpaScalingRules {
                        policies: Some(vec![HpaScalingPolicy::pods(
                            MAX_POLICY_VALUE + u32::from(past),
                            Duration::from_secs(15),
                        )]),
                        ..HpaScalingRules::default()
                    }),
                    ..Behavior::default()
                })
            }),
            ("scale_down policy value", |p, past| {
                p.scaled_object
                    .advanced
                    .horizontal_pod_autoscaler_config
                    .behavior = Some(Behavior {
                    scale_down: Some(HpaScalingRules {
                        policies: Some(vec![HpaScalingPolicy::percent(
                            u32::from(!past),
                            Duration::from_secs(15),
                        )]),
                        ..HpaScalingRules::default()
                    }),
                    ..Behavior::default()
                })
            }),
            ("policy period_seconds", |p, past| {
                let period = MAX_POLICY_PERIOD + Duration::from_secs(u64::from(past));
                p.scaled_object
                    .advanced
                    .horizontal_pod_autoscaler_config
                    .behavior = Some(Behavior {
                    scale_up: Some(HpaScalingRules {
                        policies: Some(vec![HpaScalingPolicy::pods(1, period)]),
                        ..HpaScalingRules::default()
                    }),
                    ..Behavior::default()
                })
            }),
            ("policy period_seconds", |p, past| {
                let period = Duration::from_secs(u64::from(!past));
                p.scaled_object
                    .advanced
                    .horizontal_pod_autoscaler_config
                    .behavior = Some(Behavior {
                    scale_up: Some(HpaScalingRules {
                        policies: Some(vec![HpaScalingPolicy::pods(1, period)]),
                        ..HpaScalingRules::default()
                    }),
                    ..Behavior::default()
                })
            }),
            ("policies", |p, past| {
                let one = HpaScalingPolicy::pods(1, Duration::from_secs(15));
                p.scaled_object
                    .advanced
                    .horizontal_pod_autoscaler_config
                    .behavior = Some(Behavior {
                    scale_up: Some(HpaScalingRules {
                        policies: Some(vec![one; MAX_POLICIES + usize::from(past)]),
                        ..HpaScalingRules::default()
                    }),
                    ..Behavior::default()
                })
            }),
            ("stabilization_window_seconds", |p, past| {
                let window = MAX_STABILIZATION_WINDOW + Duration::from_secs(u64::from(past));
                p.scaled_object
                    .advanced
                    .horizontal_pod_autoscaler_config
                    .behavior = Some(Behavior {
                    scale_down: Some(HpaScalingRules {
                        stabilization_window_seconds: Some(window),
                        ..HpaScalingRules::default()
                    }),
                    ..Behavior::default()
                })
            }),
            ("scale_up tolerance", |p, past| {
                p.scaled_object
                    .advanced
                    .horizontal_pod_autoscaler_config
                    .behavior = Some(Behavior {
                    scale_up: Some(HpaScalingRules {
                        tolerance: Some(if past { 1.0 } else { 0.5 }),
                        ..HpaScalingRules::default()
                    }),
                    ..Behavior::default()
                })
            }),
        ];
        for (name, edit) in edits {
            for past in [false, true] {
                let mut profile = Profile::aks();
                edit(&mut profile, past);
                let result = profile.validate();
                if past {
                    let error = result.expect_err(name);
                    assert!(error.to_string().contains(name), "{name}: {error}");
                } else {
                    assert_eq!(result, Ok(()), "{name} at its limit");
                }
            }
        }
        // Every duration is at most a day.
        type DurationEdit = fn(&mut Profile) -> &mut Duration;
        let durations: [(&str, DurationEdit); 15] = [
            ("polling_interval", |p| {
                &mut p.scaled_object.polling_interval
            }),
            ("cooldown_period", |p| &mut p.scaled_object.cooldown_period),
            ("initial_cooldown_period", |p| {
                &mut p.scaled_object.initial_cooldown_period
            }),
            ("hpa sync_period", |p| &mut p.hpa.sync_period),
            ("hpa scale_up_stabilization", |p| {
                &mut p.hpa.scale_up_stabilization
            }),
            ("hpa scale_up_period", |p| &mut p.hpa.scale_up_period),
            ("hpa scale_down_stabilization", |p| {
                &mut p.hpa.scale_down_stabilization
            }),
            ("pod startup_delay", |p| &mut p.pod.startup_delay),
            ("pod termination_grace", |p| &mut p.pod.termination_grace),
            ("provisioning_delay", |p| {
                &mut p.node_pool.provisioning_delay
            }),
            ("scan_interval", |p| &mut p.cluster_autoscaler.scan_interval),
            ("scale_down_unneeded_time", |p| {
                &mut p.cluster_autoscaler.scale_down_unneeded_time
            }),
            ("scale_down_delay_after_add", |p| {
                &mut p.cluster_autoscaler.scale_down_delay_after_add
            }),
            ("max_node_provision_time", |p| {
                &mut p.cluster_autoscaler.max_node_provision_time
            }),
            ("initial_node_group_backoff_duration", |p| {
                &mut p.cluster_autoscaler.initial_node_group_backoff_duration
            }),
        ];
        for (name, field) in durations {
            for past in [false, true] {
                let mut profile = Profile::aks();
                *field(&mut profile) = over(day, past);
                let result = profile.validate();
                if past {
                    let error = result.expect_err(name);
                    assert_eq!(error.problems.len(), 1, "{error}");
                    assert!(error.problems[0].starts_with(name), "{name}: {error}");
                } else {
                    assert_eq!(result, Ok(()), "{name} at a day");
                }
            }
        }
    }

    #[test]
    fn validate_lists_every_problem() {
        let mut profile = Profile::demo();
        profile.scaled_object.queue_length = 0;
        profile.node_pool.max_nodes = 0;
        profile.pod.requests.cpu_millis = 10_000;
        let error = profile.validate().unwrap_err();
        assert_eq!(error.problems.len(), 3, "{error}");
        assert!(error.to_string().contains("queue_length"));
    }
}
