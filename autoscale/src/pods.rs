//! Worker pods: their lifecycle and which one the ReplicaSet deletes when scaling down.
//!
//! Pending (no node has room) → ContainerCreating (bound to a node, starting) → Running (the
//! shell runs a worker) → Terminating (the worker was asked to stop) → gone. A pod that never
//! reached Running has no worker, so deleting it is immediate.

use std::{cmp::Reverse, fmt, time::Duration};

use serde::{Deserialize, Serialize};

use crate::{nodes::NodeId, policy::Resources, secs};

/// A pod's identity; shown as `pod-7`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PodId(pub u64);

impl fmt::Display for PodId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pod-{}", self.0)
    }
}

/// Where a pod is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum PodPhase {
    /// Created, but no node has room for its requests.
    Pending,
    /// Bound to a node; the container runs at `ready_at`.
    ContainerCreating {
        #[serde(with = "secs")]
        ready_at: Duration,
    },
    /// The worker runs.
    Running {
        #[serde(with = "secs")]
        since: Duration,
    },
    /// The worker was asked to stop; it is killed at `deadline` if it has not exited.
    Terminating {
        #[serde(with = "secs")]
        deadline: Duration,
    },
}

/// One worker pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pod {
    pub id: PodId,
    pub phase: PodPhase,
    /// The node it is bound to, once scheduled.
    pub node: Option<NodeId>,
    /// What it asks of its node (fixed at creation, like a real pod spec).
    pub requests: Resources,
    #[serde(with = "secs")]
    pub created_at: Duration,
}

impl Pod {
    /// Counted by the ReplicaSet: a pod being deleted is no longer one of its replicas.
    pub fn is_active(&self) -> bool {
        !matches!(self.phase, PodPhase::Terminating { .. })
    }
}

/// How early a pod goes when the ReplicaSet deletes some: lower first.
///
/// The ReplicaSet controller (`controller.ActivePods` ordering) deletes unscheduled pods before
/// scheduled ones, Pending before Running, not-ready before ready, and among equals the one
/// that became ready (or was created) most recently, so the longest-running workers survive.
fn deletion_rank(pod: &Pod) -> (u8, Reverse<Duration>, Reverse<PodId>) {
    let (class, since) = match pod.phase {
        PodPhase::Pending => (0, pod.created_at),
        PodPhase::ContainerCreating { .. } => (1, pod.created_at),
        PodPhase::Running { since } => (2, since),
        PodPhase::Terminating { .. } => (3, pod.created_at),
    };
    (class, Reverse(since), Reverse(pod.id))
}

/// The `count` active pods the ReplicaSet deletes first, in order.
pub fn victims(pods: &[Pod], count: usize) -> Vec<PodId> {
    let mut active: Vec<&Pod> = pods.iter().filter(|p| p.is_active()).collect();
    active.sort_by_key(|p| deletion_rank(p));
    active.into_iter().take(count).map(|p| p.id).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(id: u64, phase: PodPhase, created: u64) -> Pod {
        Pod {
            id: PodId(id),
            phase,
            node: None,
            requests: Resources::new(1000, 4096),
            created_at: Duration::from_secs(created),
        }
    }

    fn running(id: u64, since: u64) -> Pod {
        pod(
            id,
            PodPhase::Running {
                since: Duration::from_secs(since),
            },
            0,
        )
    }

    fn creating(id: u64, created: u64) -> Pod {
        pod(
            id,
            PodPhase::ContainerCreating {
                ready_at: Duration::from_secs(created + 5),
            },
            created,
        )
    }

    fn terminating(id: u64) -> Pod {
        pod(
            id,
            PodPhase::Terminating {
                deadline: Duration::from_secs(100),
            },
            0,
        )
    }

    #[test]
    fn victims_pending_then_creating_then_newest_running() {
        let ids = |v: Vec<PodId>| v.into_iter().map(|p| p.0).collect::<Vec<_>>();
        for (pods, count, expected) in [
            (
                vec![running(1, 10), running(2, 20), running(3, 15)],
                2,
                vec![2, 3],
            ),
            (
                vec![
                    running(1, 10),
                    creating(2, 30),
                    pod(3, PodPhase::Pending, 40),
                ],
                2,
                vec![3, 2],
            ),
            (
                vec![pod(1, PodPhase::Pending, 5), pod(2, PodPhase::Pending, 9)],
                1,
                vec![2],
            ),
            (
                vec![creating(1, 5), creating(2, 9), running(3, 1)],
                3,
                vec![2, 1, 3],
            ),
            (vec![terminating(1), running(2, 1)], 2, vec![2]),
            (vec![running(1, 10)], 0, vec![]),
        ] {
            assert_eq!(ids(victims(&pods, count)), expected, "{pods:?}");
        }
    }

    #[test]
    fn terminating_pods_are_not_replicas() {
        assert!(!terminating(1).is_active());
        assert!(running(1, 0).is_active());
        assert!(pod(1, PodPhase::Pending, 0).is_active());
    }

    #[test]
    fn pod_ids_read_like_names() {
        assert_eq!(PodId(7).to_string(), "pod-7");
    }
}
