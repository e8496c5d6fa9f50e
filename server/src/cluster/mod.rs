//! Cluster views: where the dashboard's pod and node counts come from.
//!
//! One small trait, two implementations: [`local`], the in-process model of KEDA, the HPA and
//! the cluster autoscaler running real worker loops (the default, no cloud needed), and
//! [`kube`], watchers on a real cluster's Pods, Nodes, HPA and ScaledObject. The sampler calls
//! [`ClusterView::tick`] once per sample and publishes what it returns. [`api`] serves the view
//! in use over HTTP and replaces the local model's policy.

pub mod api;
pub mod kube;
pub mod local;
pub mod policy;

use clap::{Args, ValueEnum};
use protocol::live::{ClusterSample, ScaleEvent};

/// What a view saw at one tick.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observation {
    pub sample: ClusterSample,
    /// Scaling decisions since the previous tick, oldest first.
    pub events: Vec<ScaleEvent>,
}

/// A source of pod and node counts.
pub trait ClusterView: std::fmt::Debug + Send + Sync + 'static {
    /// Called once per sample with the work queue's length just measured (`None` when storage
    /// could not be read). The local model steps its clock here; the kube view reads what its
    /// watchers have gathered.
    fn tick(&self, queue_length: Option<u64>) -> Observation;

    /// The scaling policy this cluster runs with, as the model's profile: what-if replays
    /// start from it. `None` when there is no cluster to ask; an error says why the cluster's
    /// own settings cannot be used.
    fn policy(&self) -> Option<Result<autoscale::policy::Profile, String>> {
        None
    }
}

/// No cluster: counts stay at zero. Used when the server only serves the API.
#[derive(Debug, Default)]
pub struct NoCluster;

impl ClusterView for NoCluster {
    fn tick(&self, _queue_length: Option<u64>) -> Observation {
        Observation::default()
    }
}

/// A view that could not be set up: counts stay at zero and every sample says why, so the
/// rest of the dashboard keeps working and nothing looks current that is not.
#[derive(Debug)]
pub struct Unavailable {
    pub source: protocol::live::ClusterSource,
    pub reason: String,
}

impl ClusterView for Unavailable {
    fn tick(&self, _queue_length: Option<u64>) -> Observation {
        Observation {
            sample: ClusterSample {
                source: self.source,
                stale: Some(self.reason.clone()),
                ..ClusterSample::default()
            },
            events: Vec::new(),
        }
    }
}

/// Which cluster view to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ClusterKind {
    /// The in-process model of KEDA + HPA + cluster autoscaler with real worker loops.
    Local,
    /// A Kubernetes cluster (in-cluster service account, else the kubeconfig).
    Kube,
    /// None: pods and nodes are not shown.
    None,
}

/// Settings of the cluster view.
#[derive(Clone, Debug, Args)]
pub struct ClusterArgs {
    /// Where pods and nodes come from.
    #[arg(long = "cluster", env = "SCALEBOARD_CLUSTER", value_enum, default_value_t = ClusterKind::Local)]
    pub kind: ClusterKind,

    /// Namespace of the worker pods, the HPA and the ScaledObject (kube view). Defaults to the
    /// kubeconfig's (or the service account's) namespace.
    #[arg(long, env = "SCALEBOARD_NAMESPACE")]
    pub namespace: Option<String>,

    /// Label selector of the worker pods (kube view).
    #[arg(
        long = "selector",
        env = "SCALEBOARD_POD_SELECTOR",
        default_value = "app.kubernetes.io/name=scaleboard-worker"
    )]
    pub pod_selector: String,

    /// Label selector of the nodes to count, e.g. `agentpool=compute` (kube view); all nodes
    /// when empty.
    #[arg(long, env = "SCALEBOARD_NODE_SELECTOR", default_value = "")]
    pub node_selector: String,

    /// Name of the KEDA ScaledObject (kube view); its HPA is `keda-hpa-<name>`.
    #[arg(
        long,
        env = "SCALEBOARD_SCALED_OBJECT",
        default_value = "scaleboard-worker"
    )]
    pub scaled_object: String,
}
