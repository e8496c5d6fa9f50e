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
}

/// The `behavior` of the HPA that KEDA creates (the Kubernetes defaults unless the
/// `ScaledObject` overrides them under `advanced.horizontalPodAutoscalerConfig`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HpaBehavior {
    /// How often the HPA controller evaluates the metric
    /// (`--horizontal-pod-autoscaler-sync-period`, default 15 s).
    #[serde(with = "secs")]
    pub sync_period: Duration,
    /// No change while the usage ratio is within this fraction of 1
    /// (`--horizontal-pod-autoscaler-tolerance`, default 0.1).
    pub tolerance: f64,
    /// `scaleUp.stabilizationWindowSeconds` (default 0): scale up to the lowest recommendation
    /// within the window.
    #[serde(with = "secs")]
    pub scale_up_stabilization: Duration,
    /// The `Percent` scale-up policy (default 100: at most double per period).
    pub scale_up_percent: u32,
    /// The `Pods` scale-up policy (default 4: at most 4 more pods per period).
    pub scale_up_pods: u32,
    /// `periodSeconds` of both scale-up policies (default 15 s). The policies combine with
    /// `selectPolicy: Max`.
    #[serde(with = "secs")]
    pub scale_up_period: Duration,
    /// `scaleDown.stabilizationWindowSeconds` (default 300 s): scale down only to the highest
    /// recommendation within the window. The default scale-down policy (100 % per 15 s) allows
    /// any decrease, so it is not modelled separately.
    #[serde(with = "secs")]
    pub scale_down_stabilization: Duration,
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
            },
            hpa: HpaBehavior {
                sync_period: Duration::from_secs(15),
                tolerance: 0.1,
                scale_up_stabilization: Duration::ZERO,
                scale_up_percent: 100,
                scale_up_pods: 4,
                scale_up_period: Duration::from_secs(15),
                scale_down_stabilization: Duration::from_secs(300),
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
            },
            hpa: HpaBehavior {
                sync_period: s(2),
                tolerance: 0.1,
                scale_up_stabilization: Duration::ZERO,
                scale_up_percent: 100,
                scale_up_pods: 4,
                scale_up_period: s(2),
                scale_down_stabilization: s(10),
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
    pub fn validate(&self) -> Result<(), ProfileError> {
        let mut problems = Vec::new();
        let so = &self.scaled_object;
        if so.queue_length == 0 {
            problems.push("queue_length must be at least 1".to_owned());
        }
        if so.max_replicas == 0 || so.max_replicas < so.min_replicas {
            problems.push(format!(
                "max_replicas ({}) must be at least 1 and at least min_replicas ({})",
                so.max_replicas, so.min_replicas
            ));
        }
        if so.polling_interval.is_zero() {
            problems.push("polling_interval must be more than 0 s".to_owned());
        }
        if self.hpa.sync_period.is_zero() {
            problems.push("hpa sync_period must be more than 0 s".to_owned());
        }
        if !(0.0..1.0).contains(&self.hpa.tolerance) {
            problems.push(format!(
                "hpa tolerance ({}) must be in [0, 1)",
                self.hpa.tolerance
            ));
        }
        let pool = &self.node_pool;
        if pool.max_nodes == 0 || pool.max_nodes < pool.min_nodes {
            problems.push(format!(
                "max_nodes ({}) must be at least 1 and at least min_nodes ({})",
                pool.max_nodes, pool.min_nodes
            ));
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
        if self.cluster_autoscaler.scan_interval.is_zero() {
            problems.push("scan_interval must be more than 0 s".to_owned());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ProfileError { problems })
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
