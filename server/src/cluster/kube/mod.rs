//! The Kubernetes view: the worker pods, the nodes, KEDA's HPA and the ScaledObject of a real
//! cluster, as the dashboard counts them.
//!
//! [`KubeView::start`] connects with the pod's service account (in a cluster) or the kubeconfig
//! (anywhere else) and starts one kube-rs watcher per resource in the background, each keeping a
//! reflector store current. [`ClusterView::tick`] only reads those stores and a small shared
//! record, so a slow or unreachable API server never holds up a sample: the counts are then the
//! last known ones and [`ClusterSample::stale`] says why, resource by resource.
//!
//! # Layout
//! - [`fold`]: pure rules from objects to counts: which bucket a pod is in, when a node is
//!   ready, the HPA's desired replicas, the ScaledObject's target and conditions.
//! - [`changes`]: pure differences between two observations, as timeline events (`scale 3 → 8`,
//!   `activated`, `node_ready`, the cluster autoscaler's own decisions).
//! - `watch`: the watcher tasks, their retry policy and health, and the error messages.
//! - this file: [`KubeView`], which wires them to a [`kube::Client`].

pub mod changes;
pub mod fold;
pub mod policy;
mod watch;

use std::fmt;
use std::sync::Arc;

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Event, Node, Pod, PodSpec};
use kube::api::DynamicObject;
use kube::core::ApiResource;
use kube::runtime::reflector::store::Writer;
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use protocol::live::{ClusterSample, ClusterSource};
use tokio_util::sync::{CancellationToken, DropGuard};

use self::changes::NodeReadiness;
use plumbing::clock::now_ms;

use self::watch::{lock, Reflect, SharedState, Watched};
use super::{ClusterArgs, ClusterView, Observation};

/// Why the kube view could not start.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// Neither an in-cluster service account nor a kubeconfig: the server was asked to watch a
    /// cluster it has no way to reach.
    #[error(
        "no Kubernetes cluster to watch (--cluster kube): not running in a pod with a service \
         account (KUBERNETES_SERVICE_HOST and /var/run/secrets/kubernetes.io/serviceaccount), \
         and no usable kubeconfig (KUBECONFIG or ~/.kube/config); {0}"
    )]
    NoCluster(#[source] kube::config::InferConfigError),
    /// A configuration was found but a client could not be built from it (TLS material,
    /// an exec credential plugin, a proxy).
    #[error("cannot build a Kubernetes client from the configuration found: {0}")]
    Client(#[source] kube::Error),
}

/// Everything the view reads, as RBAC names it: API group, resource, and whether it is
/// cluster-wide (nodes) rather than in the view's namespace. The server's Role and ClusterRole
/// under `deploy/` grant exactly these, with [`VERBS`], and nothing more.
pub const READS: [(&str, &str, bool); 5] = [
    ("", "pods", false),
    ("", "nodes", true),
    ("autoscaling", "horizontalpodautoscalers", false),
    ("keda.sh", "scaledobjects", false),
    ("", "events", false),
];

/// The verbs a reflector needs (`list`, `watch`), and `get` for a person checking by hand with
/// `kubectl auth can-i` or `kubectl get` as the server's service account.
pub const VERBS: [&str; 3] = ["get", "list", "watch"];

/// The ScaledObject's API, which k8s-openapi does not cover.
pub fn scaled_object_resource() -> ApiResource {
    ApiResource {
        group: "keda.sh".into(),
        version: "v1alpha1".into(),
        api_version: "keda.sh/v1alpha1".into(),
        kind: "ScaledObject".into(),
        plural: "scaledobjects".into(),
    }
}

/// Counts from watchers on a Kubernetes cluster. Dropping the view (or cancelling the token it
/// was started with) stops its watchers.
pub struct KubeView {
    namespace: String,
    pods: Store<Pod>,
    nodes: Store<Node>,
    hpa: Store<HorizontalPodAutoscaler>,
    scaled_object: Store<DynamicObject>,
    shared: SharedState,
    _stop: DropGuard,
}

impl fmt::Debug for KubeView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KubeView")
            .field("namespace", &self.namespace)
            .field("shared", &self.shared)
            .finish_non_exhaustive()
    }
}

impl KubeView {
    /// Connects (in-cluster service account, else kubeconfig) and starts the watchers.
    ///
    /// Succeeds as soon as a client exists: whether the API server answers, and whether RBAC
    /// allows each watch, shows in [`ClusterSample::stale`] rather than stopping the server.
    pub async fn start(
        args: &ClusterArgs,
        shutdown: CancellationToken,
    ) -> Result<KubeView, KubeError> {
        let client = Client::try_default().await.map_err(|error| match error {
            kube::Error::InferConfig(missing) => KubeError::NoCluster(missing),
            other => KubeError::Client(other),
        })?;
        let view = KubeView::with_client(client, args, shutdown);
        tracing::info!(
            namespace = %view.namespace,
            pods = %args.pod_selector,
            nodes = %args.node_selector,
            scaled_object = %args.scaled_object,
            "watching the cluster"
        );
        Ok(view)
    }

    /// Starts the watchers on a given client (any `tower` service, which is how the tests give
    /// it a stand-in API server). Must be called within a Tokio runtime.
    pub fn with_client(
        client: Client,
        args: &ClusterArgs,
        shutdown: CancellationToken,
    ) -> KubeView {
        let namespace = args
            .namespace
            .clone()
            .filter(|ns| !ns.is_empty())
            .unwrap_or_else(|| client.default_namespace().to_string());
        let stop = shutdown.child_token();
        let shared = SharedState::default();

        let labels = |selector: &str| {
            let config = watcher::Config::default();
            if selector.trim().is_empty() {
                config
            } else {
                config.labels(selector)
            }
        };

        let pods = Writer::<Pod>::default();
        let pods_store = pods.as_reader();
        tokio::spawn(watch::reflect(
            Reflect {
                watched: Watched::Pods,
                api: Api::namespaced(client.clone(), &namespace),
                config: labels(&args.pod_selector),
                writer: pods,
                scope: format!("pods in namespace {namespace}"),
                slim: slim_pod,
            },
            shared.clone(),
            |_| Vec::new(),
            stop.clone(),
        ));

        let nodes = Writer::<Node>::default();
        let nodes_store = nodes.as_reader();
        let mut known_nodes: Option<NodeReadiness> = None;
        tokio::spawn(watch::reflect(
            Reflect {
                watched: Watched::Nodes,
                api: Api::all(client.clone()),
                config: labels(&args.node_selector),
                writer: nodes,
                scope: if args.node_selector.trim().is_empty() {
                    "nodes".into()
                } else {
                    format!("nodes ({})", args.node_selector)
                },
                slim: slim_node,
            },
            shared.clone(),
            move |store| {
                let now: NodeReadiness = store
                    .state()
                    .iter()
                    .map(|node| (node.name_any(), fold::node_is_ready(node)))
                    .collect();
                let events = known_nodes
                    .as_ref()
                    .map(|before| changes::node_changes(now_ms(), before, &now))
                    .unwrap_or_default();
                known_nodes = Some(now);
                events
            },
            stop.clone(),
        ));

        let hpa_name = format!("keda-hpa-{}", args.scaled_object);
        let hpa = Writer::<HorizontalPodAutoscaler>::default();
        let hpa_store = hpa.as_reader();
        let mut known_desired: Option<Option<u32>> = None;
        let name = hpa_name.clone();
        tokio::spawn(watch::reflect(
            Reflect {
                watched: Watched::Hpa,
                api: Api::namespaced(client.clone(), &namespace),
                config: watcher::Config::default().fields(&format!("metadata.name={hpa_name}")),
                writer: hpa,
                scope: format!("horizontalpodautoscalers in namespace {namespace}"),
                slim: |_| {},
            },
            shared.clone(),
            move |store| {
                let now = store
                    .state()
                    .first()
                    .and_then(|hpa| fold::desired_replicas(hpa));
                let event = known_desired
                    .and_then(|before| changes::replica_change(now_ms(), &name, before, now));
                known_desired = Some(now);
                event.into_iter().collect()
            },
            stop.clone(),
        ));

        let resource = scaled_object_resource();
        let scaled_object = Writer::<DynamicObject>::new(resource.clone());
        let scaled_object_store = scaled_object.as_reader();
        let mut known_conditions: Option<fold::ScalerConditions> = None;
        let name = args.scaled_object.clone();
        tokio::spawn(watch::reflect(
            Reflect {
                watched: Watched::ScaledObject,
                api: Api::namespaced_with(client.clone(), &namespace, &resource),
                config: watcher::Config::default()
                    .fields(&format!("metadata.name={}", args.scaled_object)),
                writer: scaled_object,
                scope: format!("keda.sh/v1alpha1 scaledobjects in namespace {namespace}"),
                slim: |_| {},
            },
            shared.clone(),
            move |store| {
                let now = store
                    .state()
                    .first()
                    .map(|object| fold::scaler_conditions(object))
                    .unwrap_or_default();
                let events = known_conditions
                    .as_ref()
                    .map(|before| changes::scaler_changes(now_ms(), &name, before, &now))
                    .unwrap_or_default();
                known_conditions = Some(now);
                events
            },
            stop.clone(),
        ));

        tokio::spawn(watch::autoscaler_events(
            Api::<Event>::namespaced(client, &namespace),
            shared.clone(),
            stop.clone(),
        ));

        KubeView {
            namespace,
            pods: pods_store,
            nodes: nodes_store,
            hpa: hpa_store,
            scaled_object: scaled_object_store,
            shared,
            _stop: stop.drop_guard(),
        }
    }

    /// The namespace watched for pods, the HPA, the ScaledObject and Events.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }
}

impl ClusterView for KubeView {
    fn policy(&self) -> Option<Result<autoscale::policy::Profile, String>> {
        let objects = self.scaled_object.state();
        let Some(object) = objects.first() else {
            return Some(Err(format!(
                "no ScaledObject seen in namespace {} (yet)",
                self.namespace
            )));
        };
        let name = format!(
            "{}/{}",
            object.namespace().unwrap_or_default(),
            object.name_any()
        );
        let Some(parsed) = fold::ScaledObject::read(object) else {
            return Some(Err(format!(
                "ScaledObject {name} does not have the shape KEDA gives it"
            )));
        };
        Some(
            policy::model_profile(&parsed, &name)
                .map_err(|problems| format!("ScaledObject {name}: {}", problems.join("; "))),
        )
    }

    fn tick(&self, _queue_length: Option<u64>) -> Observation {
        let pods = fold::count_pods(self.pods.state().iter().map(Arc::as_ref));
        let nodes = fold::count_nodes(self.nodes.state().iter().map(Arc::as_ref));
        let desired_replicas = self
            .hpa
            .state()
            .first()
            .and_then(|hpa| fold::desired_replicas(hpa));
        let target_queue_length = self
            .scaled_object
            .state()
            .first()
            .and_then(|object| fold::target_queue_length(object));
        let (stale, events) = {
            let mut shared = lock(&self.shared);
            (shared.stale(), shared.take_events())
        };
        Observation {
            sample: ClusterSample {
                source: ClusterSource::Kube,
                pods_pending: pods.pending,
                pods_starting: pods.starting,
                pods_running: pods.running,
                pods_terminating: pods.terminating,
                pods_failed: pods.failed,
                nodes_ready: nodes.ready,
                nodes_provisioning: nodes.provisioning,
                desired_replicas,
                target_queue_length,
                stale,
            },
            events,
        }
    }
}

/// Keeps what [`fold::pod_bucket`] reads: metadata, the node name and the status.
fn slim_pod(pod: &mut Pod) {
    pod.metadata.annotations = None;
    if let Some(spec) = pod.spec.as_mut() {
        *spec = PodSpec {
            node_name: spec.node_name.take(),
            ..PodSpec::default()
        };
    }
}

/// A node's status lists every image it has pulled; the view needs its conditions only.
fn slim_node(node: &mut Node) {
    node.metadata.annotations = None;
    if let Some(status) = node.status.as_mut() {
        status.images = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::Resource;

    fn read<K: Resource>(cluster_wide: bool) -> (&'static str, &'static str, bool) {
        (K::GROUP, K::URL_PATH_SEGMENT, cluster_wide)
    }

    #[test]
    fn reads_are_the_resources_the_watchers_use() {
        let resource = scaled_object_resource();
        let scaled_object = (resource.group.as_str(), resource.plural.as_str(), false);
        let used = [
            read::<Pod>(false),
            read::<Node>(true),
            read::<HorizontalPodAutoscaler>(false),
            scaled_object,
            read::<Event>(false),
        ];
        assert_eq!(READS, used);
    }
}
