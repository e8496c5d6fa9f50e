//! Objects to counts: what a pod, a node, the HPA and the ScaledObject mean for the dashboard.
//!
//! Pure functions over k8s-openapi objects, so every rule is tested with hand-built objects.

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::DynamicObject;
use serde::Deserialize;

/// Where a worker pod stands, as the dashboard draws it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PodBucket {
    /// No node can take it yet: the cluster autoscaler's cue to add one.
    Pending,
    /// On a node, not ready yet (image pull, container creation, readiness probe).
    Starting,
    /// Running and ready: working the queue.
    Running,
    /// Deletion requested; the worker is finishing or releasing its message.
    Terminating,
    /// Failed, crash-looping, or stuck on something only a person can fix.
    Failed,
}

/// Waiting reasons that mean the container will not start without someone changing something,
/// so the pod is shown with the failed ones rather than as "starting" forever.
const STUCK_REASONS: [&str; 7] = [
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
];

/// The bucket of one pod, `None` for a pod that finished its work (phase `Succeeded`).
///
/// The order of the checks matters: a pod being deleted is terminating whatever its phase (it
/// still holds its node and may still hold a message), and a failed pod is failed even when it
/// was never scheduled.
pub fn pod_bucket(pod: &Pod) -> Option<PodBucket> {
    if pod.metadata.deletion_timestamp.is_some() {
        return Some(PodBucket::Terminating);
    }
    let status = pod.status.as_ref();
    let phase = status.and_then(|s| s.phase.as_deref()).unwrap_or("Pending");
    match phase {
        "Succeeded" => return None,
        // `Unknown`: the pod's node stopped reporting; the pod does no work until it is replaced.
        "Failed" | "Unknown" => return Some(PodBucket::Failed),
        _ => {}
    }
    if is_stuck(pod) {
        return Some(PodBucket::Failed);
    }
    if !is_scheduled(pod) {
        return Some(PodBucket::Pending);
    }
    if phase == "Running" && pod_condition(pod, "Ready") == Some("True") {
        Some(PodBucket::Running)
    } else {
        Some(PodBucket::Starting)
    }
}

/// Scheduled means the scheduler bound the pod to a node. `PodScheduled=False` (reason
/// `Unschedulable`) is the usual "pending" a scale-up follows; a pod the scheduler has not
/// looked at yet has neither the condition nor a node, and is pending too.
fn is_scheduled(pod: &Pod) -> bool {
    match pod_condition(pod, "PodScheduled") {
        Some(status) => status == "True",
        None => pod
            .spec
            .as_ref()
            .and_then(|spec| spec.node_name.as_deref())
            .is_some_and(|node| !node.is_empty()),
    }
}

fn is_stuck(pod: &Pod) -> bool {
    let Some(status) = pod.status.as_ref() else {
        return false;
    };
    status
        .init_container_statuses
        .iter()
        .chain(status.container_statuses.iter())
        .flatten()
        .filter_map(|c| c.state.as_ref()?.waiting.as_ref()?.reason.as_deref())
        .any(|reason| STUCK_REASONS.contains(&reason))
}

fn pod_condition<'a>(pod: &'a Pod, kind: &str) -> Option<&'a str> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == kind)
        .map(|c| c.status.as_str())
}

/// Pods per bucket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PodCounts {
    pub pending: u32,
    pub starting: u32,
    pub running: u32,
    pub terminating: u32,
    pub failed: u32,
}

pub fn count_pods<'a>(pods: impl IntoIterator<Item = &'a Pod>) -> PodCounts {
    let mut counts = PodCounts::default();
    for pod in pods {
        let slot = match pod_bucket(pod) {
            Some(PodBucket::Pending) => &mut counts.pending,
            Some(PodBucket::Starting) => &mut counts.starting,
            Some(PodBucket::Running) => &mut counts.running,
            Some(PodBucket::Terminating) => &mut counts.terminating,
            Some(PodBucket::Failed) => &mut counts.failed,
            None => continue,
        };
        *slot += 1;
    }
    counts
}

/// A node takes work when its `Ready` condition is `True` and nobody is deleting it. Anything
/// else (booting, `NotReady`, `Unknown`, draining for removal) counts as "provisioning": not
/// capacity the workers can use.
pub fn node_is_ready(node: &Node) -> bool {
    node.metadata.deletion_timestamp.is_none()
        && node
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|conditions| conditions.iter().find(|c| c.type_ == "Ready"))
            .is_some_and(|c| c.status == "True")
}

/// Nodes by readiness.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeCounts {
    pub ready: u32,
    pub provisioning: u32,
}

pub fn count_nodes<'a>(nodes: impl IntoIterator<Item = &'a Node>) -> NodeCounts {
    let mut counts = NodeCounts::default();
    for node in nodes {
        if node_is_ready(node) {
            counts.ready += 1;
        } else {
            counts.provisioning += 1;
        }
    }
    counts
}

/// The replicas the HPA last decided on; `None` before its first decision.
pub fn desired_replicas(hpa: &HorizontalPodAutoscaler) -> Option<u32> {
    let desired = hpa.status.as_ref()?.desired_replicas;
    Some(u32::try_from(desired).unwrap_or(0))
}

/// The parts of a KEDA ScaledObject the view reads, and nothing else: any other field (and
/// any field a later KEDA adds) is ignored, and every one of these may be missing.
///
/// Read from the watched `DynamicObject`'s data with serde rather than by walking
/// `serde_json::Value`, so the shape is written down once. KEDA's CRD has no Rust types worth a
/// dependency, and `DynamicObject::try_parse` would need one (it wants a `Resource`) and a copy
/// of the whole object.
#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize)]
#[serde(default)]
pub struct ScaledObject {
    pub spec: ScaledObjectSpec,
    pub status: ScaledObjectStatus,
}

/// The spec's scaling settings, in KEDA's names; [`super::policy`] turns them into the model's
/// profile. Numbers are read wide and signed so that a value out of range is reported by name
/// rather than making the whole object unreadable.
#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ScaledObjectSpec {
    pub triggers: Vec<Trigger>,
    pub polling_interval: Option<i64>,
    pub cooldown_period: Option<i64>,
    pub initial_cooldown_period: Option<i64>,
    pub min_replica_count: Option<i64>,
    pub max_replica_count: Option<i64>,
    pub idle_replica_count: Option<i64>,
    pub fallback: Option<KedaFallback>,
    pub advanced: Option<KedaAdvanced>,
}

/// `spec.fallback`.
#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct KedaFallback {
    pub failure_threshold: Option<i64>,
    pub replicas: Option<i64>,
}

/// `spec.advanced`: the part the model follows.
#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct KedaAdvanced {
    pub horizontal_pod_autoscaler_config: Option<KedaHpaConfig>,
}

/// `spec.advanced.horizontalPodAutoscalerConfig`: its `behavior` is an autoscaling/v2 one.
#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize)]
#[serde(default)]
pub struct KedaHpaConfig {
    pub behavior: Option<k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerBehavior>,
}

#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Trigger {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub use_cached_metrics: Option<bool>,
    pub metadata: TriggerMetadata,
}

/// A trigger's metadata: strings in KEDA's API, though a hand-written manifest may give a number.
#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TriggerMetadata {
    pub queue_length: Option<Count>,
    pub activation_queue_length: Option<Count>,
    pub queue_length_strategy: Option<String>,
}

/// A count written as text (`"5"`, as KEDA's API has it) or as a number; anything else is kept
/// as unreadable rather than failing the whole object.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(untagged)]
pub enum Count {
    Text(String),
    Number(u64),
    Other(serde::de::IgnoredAny),
}

impl Count {
    /// The count, when it is a whole number that fits.
    pub fn value(&self) -> Option<u32> {
        match self {
            Count::Text(text) => text.trim().parse().ok(),
            Count::Number(number) => u32::try_from(*number).ok(),
            Count::Other(_) => None,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize)]
#[serde(default)]
pub struct ScaledObjectStatus {
    pub conditions: Vec<StatusCondition>,
}

/// One `status.conditions` entry as KEDA writes it.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(default)]
pub struct StatusCondition {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub status: Option<String>,
    pub reason: Option<String>,
    pub message: Option<String>,
}

impl ScaledObject {
    /// The typed view of a watched ScaledObject; `None` when its data does not have the shape
    /// above (a field of the wrong type), which the dashboard treats like an absent object.
    pub fn read(object: &DynamicObject) -> Option<ScaledObject> {
        match ScaledObject::deserialize(&object.data) {
            Ok(parsed) => Some(parsed),
            Err(e) => {
                tracing::debug!("unreadable ScaledObject: {e}");
                None
            }
        }
    }

    /// The queue length per replica KEDA aims at: `queueLength` of the first trigger that has
    /// a readable one.
    pub fn target_queue_length(&self) -> Option<u32> {
        self.spec
            .triggers
            .iter()
            .find_map(|trigger| trigger.metadata.queue_length.as_ref()?.value())
    }

    /// The conditions that say something about scaling, by type (the last of a type wins).
    pub fn conditions(&self) -> ScalerConditions {
        let mut found = ScalerConditions::default();
        for condition in &self.status.conditions {
            let text = |field: &Option<String>| field.clone().unwrap_or_default();
            let parsed = Condition {
                status: text(&condition.status),
                reason: text(&condition.reason),
                message: text(&condition.message),
            };
            match condition.kind.as_deref() {
                Some("Ready") => found.ready = Some(parsed),
                Some("Active") => found.active = Some(parsed),
                Some("Fallback") => found.fallback = Some(parsed),
                _ => {}
            }
        }
        found
    }
}

/// The queue length per replica KEDA aims at: `queueLength` of the first trigger that has one
/// (KEDA's `azure-queue` scaler; its default is 5 when the field is left out).
pub fn target_queue_length(scaled_object: &DynamicObject) -> Option<u32> {
    ScaledObject::read(scaled_object)?.target_queue_length()
}

/// One `status.conditions` entry of a ScaledObject.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Condition {
    /// `True`, `False` or `Unknown`.
    pub status: String,
    pub reason: String,
    pub message: String,
}

impl Condition {
    pub fn is_true(&self) -> bool {
        self.status == "True"
    }
}

/// The conditions KEDA keeps on a ScaledObject that say something about scaling.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScalerConditions {
    /// The scaler can read its source (the queue) and KEDA manages the target.
    pub ready: Option<Condition>,
    /// A trigger is above its activation threshold: the target runs at least one replica.
    pub active: Option<Condition>,
    /// The scaler keeps failing and KEDA holds the fallback replica count.
    pub fallback: Option<Condition>,
}

/// The conditions KEDA keeps on a ScaledObject; none when it cannot be read.
pub fn scaler_conditions(scaled_object: &DynamicObject) -> ScalerConditions {
    ScaledObject::read(scaled_object)
        .map(|object| object.conditions())
        .unwrap_or_default()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{
        ContainerState, ContainerStateWaiting, ContainerStatus, NodeCondition, NodeStatus,
        PodCondition, PodSpec, PodStatus,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
    use k8s_openapi::jiff::Timestamp;
    use kube::core::ApiResource;
    use serde_json::{json, Value};

    fn meta(name: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        }
    }

    fn condition(kind: &str, status: &str, reason: Option<&str>) -> PodCondition {
        PodCondition {
            type_: kind.into(),
            status: status.into(),
            reason: reason.map(Into::into),
            ..PodCondition::default()
        }
    }

    fn waiting(reason: &str) -> ContainerStatus {
        ContainerStatus {
            name: "worker".into(),
            state: Some(ContainerState {
                waiting: Some(ContainerStateWaiting {
                    reason: Some(reason.into()),
                    message: None,
                }),
                ..ContainerState::default()
            }),
            ..ContainerStatus::default()
        }
    }

    pub(crate) fn pod(
        name: &str,
        phase: &str,
        node: Option<&str>,
        conditions: Vec<PodCondition>,
    ) -> Pod {
        Pod {
            metadata: meta(name),
            spec: Some(PodSpec {
                node_name: node.map(Into::into),
                ..PodSpec::default()
            }),
            status: Some(PodStatus {
                phase: Some(phase.into()),
                conditions: Some(conditions),
                ..PodStatus::default()
            }),
        }
    }

    pub(crate) fn unschedulable(name: &str) -> Pod {
        pod(
            name,
            "Pending",
            None,
            vec![condition("PodScheduled", "False", Some("Unschedulable"))],
        )
    }

    pub(crate) fn creating(name: &str) -> Pod {
        let mut pod = pod(
            name,
            "Pending",
            Some("aks-compute-0"),
            vec![
                condition("PodScheduled", "True", None),
                condition("Ready", "False", Some("ContainersNotReady")),
            ],
        );
        pod.status.as_mut().unwrap().container_statuses = Some(vec![waiting("ContainerCreating")]);
        pod
    }

    pub(crate) fn running(name: &str) -> Pod {
        pod(
            name,
            "Running",
            Some("aks-compute-0"),
            vec![
                condition("PodScheduled", "True", None),
                condition("Ready", "True", None),
            ],
        )
    }

    fn deleting(mut pod: Pod) -> Pod {
        pod.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        pod
    }

    #[test]
    fn unschedulable_pods_are_pending() {
        assert_eq!(pod_bucket(&unschedulable("w-1")), Some(PodBucket::Pending));
        // Not yet seen by the scheduler: no condition, no node.
        assert_eq!(
            pod_bucket(&pod("w-2", "Pending", None, vec![])),
            Some(PodBucket::Pending)
        );
    }

    #[test]
    fn scheduled_pods_that_are_not_ready_are_starting() {
        assert_eq!(pod_bucket(&creating("w-1")), Some(PodBucket::Starting));
        // Running, but the readiness probe has not passed yet.
        let warming = pod(
            "w-2",
            "Running",
            Some("aks-compute-0"),
            vec![
                condition("PodScheduled", "True", None),
                condition("Ready", "False", None),
            ],
        );
        assert_eq!(pod_bucket(&warming), Some(PodBucket::Starting));
        // Bound to a node before the condition was written.
        assert_eq!(
            pod_bucket(&pod("w-3", "Pending", Some("aks-compute-0"), vec![])),
            Some(PodBucket::Starting)
        );
    }

    #[test]
    fn running_and_ready_pods_are_running() {
        assert_eq!(pod_bucket(&running("w-1")), Some(PodBucket::Running));
    }

    #[test]
    fn a_deletion_timestamp_means_terminating_whatever_the_phase() {
        for pod in [running("a"), creating("b"), unschedulable("c")] {
            assert_eq!(pod_bucket(&deleting(pod)), Some(PodBucket::Terminating));
        }
        let mut failed = running("d");
        failed.status.as_mut().unwrap().phase = Some("Failed".into());
        assert_eq!(pod_bucket(&deleting(failed)), Some(PodBucket::Terminating));
    }

    #[test]
    fn failed_and_crash_looping_pods_are_failed() {
        let mut failed = running("w-1");
        failed.status.as_mut().unwrap().phase = Some("Failed".into());
        assert_eq!(pod_bucket(&failed), Some(PodBucket::Failed));

        let mut looping = running("w-2");
        looping.status.as_mut().unwrap().phase = Some("Running".into());
        looping.status.as_mut().unwrap().conditions = Some(vec![
            condition("PodScheduled", "True", None),
            condition("Ready", "False", None),
        ]);
        looping.status.as_mut().unwrap().container_statuses =
            Some(vec![waiting("CrashLoopBackOff")]);
        assert_eq!(pod_bucket(&looping), Some(PodBucket::Failed));

        let mut bad_image = creating("w-3");
        bad_image.status.as_mut().unwrap().container_statuses =
            Some(vec![waiting("ImagePullBackOff")]);
        assert_eq!(pod_bucket(&bad_image), Some(PodBucket::Failed));
    }

    #[test]
    fn succeeded_pods_are_not_counted() {
        let mut done = running("w-1");
        done.status.as_mut().unwrap().phase = Some("Succeeded".into());
        assert_eq!(pod_bucket(&done), None);
        assert_eq!(count_pods([&done]), PodCounts::default());
    }

    #[test]
    fn pods_are_counted_per_bucket() {
        let pods = [
            unschedulable("a"),
            unschedulable("b"),
            creating("c"),
            running("d"),
            running("e"),
            running("f"),
            deleting(running("g")),
        ];
        assert_eq!(
            count_pods(&pods),
            PodCounts {
                pending: 2,
                starting: 1,
                running: 3,
                terminating: 1,
                failed: 0
            }
        );
    }

    pub(crate) fn node(name: &str, ready: Option<&str>) -> Node {
        Node {
            metadata: meta(name),
            status: Some(NodeStatus {
                conditions: ready.map(|status| {
                    vec![NodeCondition {
                        type_: "Ready".into(),
                        status: status.into(),
                        ..NodeCondition::default()
                    }]
                }),
                ..NodeStatus::default()
            }),
            ..Node::default()
        }
    }

    #[test]
    fn nodes_are_ready_only_when_ready_and_staying() {
        assert!(node_is_ready(&node("n", Some("True"))));
        assert!(!node_is_ready(&node("n", Some("False"))));
        assert!(!node_is_ready(&node("n", Some("Unknown"))));
        assert!(!node_is_ready(&node("n", None)));
        let mut leaving = node("n", Some("True"));
        leaving.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        assert!(!node_is_ready(&leaving));

        let nodes = [
            node("a", Some("True")),
            node("b", Some("True")),
            node("c", Some("False")),
            node("d", None),
        ];
        assert_eq!(
            count_nodes(&nodes),
            NodeCounts {
                ready: 2,
                provisioning: 2
            }
        );
    }

    #[test]
    fn desired_replicas_come_from_the_hpa_status() {
        let mut hpa = HorizontalPodAutoscaler {
            metadata: meta("keda-hpa-scaleboard-worker"),
            ..HorizontalPodAutoscaler::default()
        };
        assert_eq!(desired_replicas(&hpa), None);
        hpa.status = Some(
            k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerStatus {
                desired_replicas: 8,
                current_replicas: Some(3),
                ..Default::default()
            },
        );
        assert_eq!(desired_replicas(&hpa), Some(8));
    }

    pub(crate) fn scaled_object(data: Value) -> DynamicObject {
        let resource = ApiResource {
            group: "keda.sh".into(),
            version: "v1alpha1".into(),
            api_version: "keda.sh/v1alpha1".into(),
            kind: "ScaledObject".into(),
            plural: "scaledobjects".into(),
        };
        DynamicObject::new("scaleboard-worker", &resource).data(data)
    }

    #[test]
    fn the_target_is_the_triggers_queue_length() {
        let object = scaled_object(json!({
            "spec": {"triggers": [{"type": "azure-queue", "metadata": {"queueName": "work-items", "queueLength": "5"}}]}
        }));
        assert_eq!(target_queue_length(&object), Some(5));
        let numeric = scaled_object(json!({
            "spec": {"triggers": [{"type": "cpu", "metadata": {}}, {"type": "azure-queue", "metadata": {"queueLength": 12}}]}
        }));
        assert_eq!(target_queue_length(&numeric), Some(12));
        assert_eq!(
            target_queue_length(&scaled_object(json!({"spec": {}}))),
            None
        );
    }

    #[test]
    fn scaler_conditions_are_read_by_type() {
        let object = scaled_object(json!({
            "status": {"conditions": [
                {"type": "Ready", "status": "True", "reason": "ScaledObjectReady", "message": "ScaledObject is defined correctly and is ready for scaling"},
                {"type": "Active", "status": "False", "reason": "ScalerNotActive", "message": "Scaling is not performed because triggers are not active"},
                {"type": "Fallback", "status": "False"},
                {"type": "Paused", "status": "False"}
            ]}
        }));
        let conditions = scaler_conditions(&object);
        assert!(conditions.ready.unwrap().is_true());
        let active = conditions.active.unwrap();
        assert!(!active.is_true());
        assert_eq!(active.reason, "ScalerNotActive");
        assert_eq!(conditions.fallback.unwrap().status, "False");
        assert_eq!(
            scaler_conditions(&scaled_object(json!({}))),
            ScalerConditions::default()
        );
    }

    #[test]
    fn a_scaled_object_with_unknown_fields_or_missing_ones_still_reads() {
        // A full manifest as KEDA returns it, with fields the view does not know.
        let full = scaled_object(json!({
            "spec": {
                "scaleTargetRef": {"name": "worker", "kind": "Deployment"},
                "pollingInterval": 5,
                "cooldownPeriod": 30,
                "minReplicaCount": 0,
                "maxReplicaCount": 100,
                "advanced": {"horizontalPodAutoscalerConfig": {"behavior": {}}},
                "triggers": [{
                    "type": "azure-queue",
                    "authenticationRef": {"name": "storage"},
                    "metadata": {"queueName": "work-items", "queueLength": "7", "activationQueueLength": "0"}
                }]
            },
            "status": {
                "scaleTargetKind": "apps/v1.Deployment",
                "externalMetricNames": ["s0-azure-queue-work-items"],
                "conditions": [{"type": "Active", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}]
            },
            "someFutureField": {"x": 1}
        }));
        let read = ScaledObject::read(&full).unwrap();
        assert_eq!(read.target_queue_length(), Some(7));
        let active = read.conditions().active.unwrap();
        assert!(active.is_true());
        assert_eq!(active.reason, "");

        // Optional parts missing at every level.
        for data in [
            json!({}),
            json!({"spec": {}}),
            json!({"spec": {"triggers": [{}]}}),
            json!({"spec": {"triggers": [{"metadata": {}}]}, "status": {}}),
            json!({"status": {"conditions": [{}]}}),
        ] {
            let read = ScaledObject::read(&scaled_object(data.clone()))
                .unwrap_or_else(|| panic!("{data} should read"));
            assert_eq!(read.target_queue_length(), None, "{data}");
            assert_eq!(read.conditions(), ScalerConditions::default(), "{data}");
        }

        // A queue length that is not a count is skipped, not a reason to drop the object.
        let odd = scaled_object(json!({
            "spec": {"triggers": [
                {"metadata": {"queueLength": [1]}},
                {"metadata": {"queueLength": "abc"}},
                {"metadata": {"queueLength": -3}},
                {"metadata": {"queueLength": " 9 "}}
            ]}
        }));
        assert_eq!(target_queue_length(&odd), Some(9));
        // A part of the wrong shape reads as no object.
        assert_eq!(
            ScaledObject::read(&scaled_object(json!({"spec": {"triggers": "none"}}))),
            None
        );
    }
}
