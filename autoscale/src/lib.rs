//! A pure model of event-driven autoscaling: a KEDA `ScaledObject` with an `azure-queue`
//! trigger, the HorizontalPodAutoscaler KEDA creates for it, the ReplicaSet's pods, and an AKS
//! node pool under the cluster autoscaler.
//!
//! The model does no I/O and reads no clock: the caller passes the time since the model started
//! and the queue it observed, and gets back the commands for its worker tasks and the scaling
//! decisions, each with a human reason. The server drives it once per second with real workers;
//! [`simulate()`] replays a recorded queue trace through it.
//!
//! ```
//! use std::time::Duration;
//! use autoscale::{Cluster, Observation, Profile};
//!
//! let mut cluster = Cluster::new(Profile::demo());
//! let step = cluster.step(Duration::ZERO, &Observation::new(3));
//! assert_eq!(step.events[0].reason, "activated: queue 3 > activation 0; scale 0 → 1");
//! assert_eq!(cluster.snapshot().desired_replicas, 1);
//! ```
//!
//! # Layout
//!
//! - [`policy`]: the tunable parameters ([`Profile`] and its parts) with the published defaults.
//! - [`keda`]: the scaler metric, activation and the cooldown to zero.
//! - [`hpa`]: the HPA replica formula, tolerance, stabilization window and scale-up rate limit.
//! - [`pods`]: pod lifecycle phases and the ReplicaSet's choice of which pod to delete.
//! - [`nodes`]: nodes, first-fit bin packing and the cluster autoscaler's rules.
//! - [`events`]: [`ScaleEvent`] and the bounded decision log.
//! - [`cluster`]: [`Cluster`], which composes the above into one step per observation.
//! - [`simulate`](mod@simulate): replaying a queue trace, one row per second.
//! - [`trace`]: reading a queue trace from CSV.

pub mod cluster;
pub mod events;
pub mod hpa;
pub mod keda;
pub mod nodes;
pub mod pods;
pub mod policy;
pub mod simulate;
pub mod trace;

mod secs;

pub use cluster::{Cluster, Command, Snapshot, Step};
pub use events::{EventKind, ScaleEvent};
pub use keda::Observation;
pub use nodes::{Node, NodeId, NodeState};
pub use pods::{Pod, PodId, PodPhase};
pub use policy::{
    Advanced, Behavior, ClusterAutoscaler, Fallback, HorizontalPodAutoscalerConfig, HpaBehavior,
    HpaScalingPolicy, HpaScalingRules, NodePool, PodTemplate, PolicyType, Profile, ProfileError,
    QueueLengthStrategy, Resources, ScaledObject, SelectPolicy, ToleranceRule,
};
pub use simulate::{simulate, SimRow, Simulation, Summary};
pub use trace::{parse_trace_csv, TraceError};
