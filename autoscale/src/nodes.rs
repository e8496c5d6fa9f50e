//! Nodes of the pool and the cluster autoscaler's rules for adding and removing them.
//!
//! Scale-up: at each scan, pods that are Pending because no node has room are packed first onto
//! nodes still provisioning, then onto as many new empty nodes as they need, in one step (the
//! binpacking estimator of kubernetes/autoscaler cluster-autoscaler/estimator), bounded by the
//! pool's `maxCount` and `max-nodes-total`; a pod too big for an empty node asks for none. A new
//! node is Ready after the provisioning delay; one not Ready within `max-node-provision-time` is
//! given up and the node group backs off scale-ups for `initial-node-group-backoff-duration`
//! (cluster-autoscaler/clusterstate). (Cluster autoscaler FAQ: "How does scale-up work?")
//!
//! Scale-down: a Ready node whose requested utilization (the larger of CPU and memory
//! requested / allocatable) stays below `scale-down-utilization-threshold` for
//! `scale-down-unneeded-time`, outside `scale-down-delay-after-add` of the last scale-up, is
//! removed, never below the pool's minimum. (FAQ: "How does scale-down work?")
//!
//! Unlike the real autoscaler, which drains a low-utilization node by evicting pods that fit
//! elsewhere, this model removes only nodes with none of our pods on them: an eviction here
//! would kill a live worker mid-item, and the queue scaler already removes pods as the queue
//! drains. The unneeded timer still starts when utilization drops below the threshold, so a node
//! whose last pod leaves after it has been unneeded long enough goes at the next scan.

use std::{fmt, time::Duration};

use serde::{Deserialize, Serialize};

use crate::{
    events::{EventKind, ScaleEvent},
    pods::{Pod, PodPhase},
    policy::{ClusterAutoscaler, NodePool, Resources, MAX_NODES},
    secs,
};

/// A node's identity; shown as `node-3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NodeId(pub u64);

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node-{}", self.0)
    }
}

/// Whether a node can take pods yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum NodeState {
    Provisioning {
        #[serde(with = "secs")]
        ready_at: Duration,
    },
    Ready,
}

/// One VM of the pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub id: NodeId,
    pub vm_size: String,
    /// Fixed when the node is created, so editing the pool's VM size affects only new nodes.
    pub allocatable: Resources,
    pub state: NodeState,
    #[serde(with = "secs")]
    pub added_at: Duration,
    /// Since when the autoscaler has seen it below the utilization threshold.
    #[serde(default, with = "opt_secs")]
    pub unneeded_since: Option<Duration>,
}

mod opt_secs {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::time::Duration;

    pub(super) fn serialize<S: Serializer>(v: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        v.map(|d| d.as_secs_f64()).serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        use serde::de::Error as _;
        Option::<f64>::deserialize(d)?
            .map(|s| Duration::try_from_secs_f64(s).map_err(D::Error::custom))
            .transpose()
    }
}

impl Node {
    pub fn new(id: NodeId, pool: &NodePool, now: Duration, state: NodeState) -> Self {
        Node {
            id,
            vm_size: pool.vm_size.clone(),
            allocatable: pool.allocatable,
            state,
            added_at: now,
            unneeded_since: None,
        }
    }

    pub fn is_ready(&self) -> bool {
        self.state == NodeState::Ready
    }
}

/// What the pods bound to `node` request (Terminating pods hold their resources until gone).
pub fn requested_on(node: NodeId, pods: &[Pod]) -> Resources {
    pods.iter()
        .filter(|p| p.node == Some(node))
        .fold(Resources::default(), |sum, p| {
            sum.saturating_add(p.requests)
        })
}

/// Requested over allocatable, the larger of CPU and memory, as the autoscaler measures it.
/// A node with nothing allocatable counts as full, so it is never judged unneeded by accident.
pub fn utilization(requested: Resources, allocatable: Resources) -> f64 {
    let ratio = |used: u32, have: u32| {
        if have == 0 {
            1.0
        } else {
            f64::from(used) / f64::from(have)
        }
    };
    ratio(requested.cpu_millis, allocatable.cpu_millis)
        .max(ratio(requested.memory_mib, allocatable.memory_mib))
}

/// The first slot in `free` that `request` fits into, as the scheduler binds pods here.
pub fn first_fit(free: &[Resources], request: Resources) -> Option<usize> {
    free.iter().position(|&f| request.fits_in(f))
}

/// How many new empty nodes of `allocatable` the `pending` requests need once packed first-fit
/// onto `upcoming` free capacity (nodes already provisioning). Requests too big for an empty
/// node are left out: no new node would help them.
pub fn nodes_to_add(pending: &[Resources], upcoming: &[Resources], allocatable: Resources) -> u32 {
    let mut free = upcoming.to_vec();
    let mut added = 0;
    for &request in pending.iter().filter(|r| r.fits_in(allocatable)) {
        match first_fit(&free, request) {
            Some(i) => free[i] = free[i].saturating_sub(request),
            None => {
                free.push(allocatable.saturating_sub(request));
                added += 1;
            }
        }
    }
    added
}

/// Whether a node unneeded since `since` has been so for the unneeded time.
pub fn unneeded_long_enough(
    since: Option<Duration>,
    now: Duration,
    unneeded_time: Duration,
) -> bool {
    since.is_some_and(|at| now.saturating_sub(at) >= unneeded_time)
}

/// Whether scale-down is paused because a scale-up happened within `delay_after_add`.
pub fn in_delay_after_add(last_scale_up: Option<Duration>, now: Duration, delay: Duration) -> bool {
    last_scale_up.is_some_and(|at| at.saturating_add(delay) > now)
}

/// What the cluster autoscaler remembers between scans.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Autoscaler {
    pub last_scan: Option<Duration>,
    pub last_scale_up: Option<Duration>,
    /// Whether "pool at max" was already said for the current shortage.
    pub reported_full: bool,
    /// No scale-up before this time: a node failed to come up within
    /// `max-node-provision-time`.
    #[serde(default, with = "opt_secs")]
    pub backoff_until: Option<Duration>,
}

/// The most nodes the autoscaler may have: the pool's `maxCount`, and `max-nodes-total` when
/// set (0 means no limit).
/// Bounded by [`MAX_NODES`] even for a profile that was never validated.
pub fn node_limit(pool: &NodePool, rules: &ClusterAutoscaler) -> u32 {
    let limit = match rules.max_nodes_total {
        0 => pool.max_nodes,
        total => pool.max_nodes.min(total),
    };
    limit.min(MAX_NODES)
}

/// Whether a node asked for at `added_at` and still not Ready has exceeded
/// `max-node-provision-time` (strictly, as upstream compares `Before(now)`).
pub fn provision_timed_out(added_at: Duration, now: Duration, limit: Duration) -> bool {
    added_at.saturating_add(limit) < now
}

/// Whether scale-up is still backed off at `now`.
pub fn backed_off(until: Option<Duration>, now: Duration) -> bool {
    until.is_some_and(|at| now < at)
}

impl Autoscaler {
    /// Whether a scan is due at `now`.
    pub fn due(&self, now: Duration, interval: Duration) -> bool {
        self.last_scan
            .is_none_or(|at| now.saturating_sub(at) >= interval)
    }

    /// One scan: add nodes for pods that fit nowhere, then remove nodes unneeded long enough.
    /// `next_id` numbers new nodes.
    pub fn scan(
        &mut self,
        now: Duration,
        nodes: &mut Vec<Node>,
        pods: &[Pod],
        pool: &NodePool,
        rules: &ClusterAutoscaler,
        next_id: &mut u64,
    ) -> Vec<ScaleEvent> {
        self.last_scan = Some(now);
        let mut events = Vec::new();
        self.give_up_slow_nodes(now, nodes, rules, &mut events);
        if !backed_off(self.backoff_until, now) {
            self.scale_up(now, nodes, pods, pool, rules, next_id, &mut events);
        }
        self.scale_down(now, nodes, pods, pool, rules, &mut events);
        events
    }

    /// Removes nodes not Ready within `max-node-provision-time` and backs the group off.
    fn give_up_slow_nodes(
        &mut self,
        now: Duration,
        nodes: &mut Vec<Node>,
        rules: &ClusterAutoscaler,
        events: &mut Vec<ScaleEvent>,
    ) {
        let limit = rules.max_node_provision_time;
        let before = nodes.len();
        nodes.retain(|n| {
            let slow = !n.is_ready() && provision_timed_out(n.added_at, now, limit);
            if slow {
                events.push(ScaleEvent::new(
                    now,
                    EventKind::NodeRemoved,
                    format!(
                        "node removed: {} not ready within max-node-provision-time {}; scale-up backs off for initial-node-group-backoff-duration {}",
                        n.id,
                        secs::show(limit),
                        secs::show(rules.initial_node_group_backoff_duration)
                    ),
                ));
            }
            !slow
        });
        if nodes.len() < before {
            self.backoff_until =
                Some(now.saturating_add(rules.initial_node_group_backoff_duration));
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn scale_up(
        &mut self,
        now: Duration,
        nodes: &mut Vec<Node>,
        pods: &[Pod],
        pool: &NodePool,
        rules: &ClusterAutoscaler,
        next_id: &mut u64,
        events: &mut Vec<ScaleEvent>,
    ) {
        let pending: Vec<Resources> = pods
            .iter()
            .filter(|p| p.phase == PodPhase::Pending)
            .map(|p| p.requests)
            .collect();
        let upcoming: Vec<Resources> = nodes
            .iter()
            .filter(|n| !n.is_ready())
            .map(|n| n.allocatable.saturating_sub(requested_on(n.id, pods)))
            .collect();
        let need = nodes_to_add(&pending, &upcoming, pool.allocatable);
        let limit = node_limit(pool, rules);
        let room = limit.saturating_sub(u32::try_from(nodes.len()).unwrap_or(u32::MAX));
        let add = need.min(room);
        if add > 0 {
            for _ in 0..add {
                *next_id += 1;
                let ready_at = now.saturating_add(pool.provisioning_delay);
                let state = NodeState::Provisioning { ready_at };
                nodes.push(Node::new(NodeId(*next_id), pool, now, state));
            }
            self.last_scale_up = Some(now);
            let what = if add == 1 {
                "node added".to_owned()
            } else {
                format!("{add} nodes added")
            };
            events.push(ScaleEvent::new(
                now,
                EventKind::NodeAdded,
                format!(
                    "{what}: {} pods pending, no room (binpacking estimate {need} nodes)",
                    pending.len()
                ),
            ));
        }
        if need > add {
            if !self.reported_full {
                events.push(ScaleEvent::new(
                    now,
                    EventKind::NodePoolFull,
                    format!(
                        "node pool at max {limit} nodes ({}): {} pods pending, no room",
                        limit_name(pool, rules),
                        pending.len()
                    ),
                ));
            }
            self.reported_full = true;
        } else {
            self.reported_full = false;
        }
    }

    fn scale_down(
        &mut self,
        now: Duration,
        nodes: &mut Vec<Node>,
        pods: &[Pod],
        pool: &NodePool,
        rules: &ClusterAutoscaler,
        events: &mut Vec<ScaleEvent>,
    ) {
        let threshold = rules.scale_down_utilization_threshold;
        for node in nodes.iter_mut() {
            let low = node.is_ready()
                && utilization(requested_on(node.id, pods), node.allocatable) < threshold;
            node.unneeded_since = if low {
                Some(node.unneeded_since.unwrap_or(now))
            } else {
                None
            };
        }
        if in_delay_after_add(self.last_scale_up, now, rules.scale_down_delay_after_add) {
            return;
        }
        let mut candidates: Vec<NodeId> = nodes
            .iter()
            .filter(|n| {
                unneeded_long_enough(n.unneeded_since, now, rules.scale_down_unneeded_time)
                    && !pods.iter().any(|p| p.node == Some(n.id))
            })
            .map(|n| n.id)
            .collect();
        // Newest first, so the longest-lived nodes stay.
        candidates.sort_by(|a, b| b.cmp(a));
        for id in candidates {
            if nodes.len() <= pool.min_nodes as usize {
                break;
            }
            let Some(index) = nodes.iter().position(|n| n.id == id) else {
                continue;
            };
            let node = nodes.remove(index);
            let since = node.unneeded_since.unwrap_or(now);
            events.push(ScaleEvent::new(
                now,
                EventKind::NodeRemoved,
                format!(
                    "node removed: {id} utilization {:.2} < scale-down-utilization-threshold {threshold} for {} (scale-down-unneeded-time {})",
                    utilization(Resources::default(), node.allocatable),
                    secs::show(now.saturating_sub(since)),
                    secs::show(rules.scale_down_unneeded_time)
                ),
            ));
        }
    }
}

/// Which limit [`node_limit`] is, in upstream's words.
fn limit_name(pool: &NodePool, rules: &ClusterAutoscaler) -> &'static str {
    if rules.max_nodes_total != 0 && rules.max_nodes_total < pool.max_nodes {
        "max-nodes-total"
    } else {
        "the pool's maxCount"
    }
}

/// Marks provisioned nodes Ready.
pub fn finish_provisioning(now: Duration, nodes: &mut [Node]) -> Vec<ScaleEvent> {
    let mut events = Vec::new();
    for node in nodes.iter_mut() {
        if let NodeState::Provisioning { ready_at } = node.state {
            if ready_at <= now {
                node.state = NodeState::Ready;
                events.push(ScaleEvent::new(
                    now,
                    EventKind::NodeReady,
                    format!(
                        "{} ready after {}",
                        node.id,
                        secs::show(now.saturating_sub(node.added_at))
                    ),
                ));
            }
        }
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{pods::PodId, policy::Profile};

    const POD: Resources = Resources::new(1000, 4096);
    const VM: Resources = Resources::new(7820, 27 * 1024);

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    fn pod(id: u64, node: Option<u64>) -> Pod {
        let phase = if node.is_some() {
            PodPhase::Running { since: s(0) }
        } else {
            PodPhase::Pending
        };
        Pod {
            id: PodId(id),
            phase,
            node: node.map(NodeId),
            requests: POD,
            created_at: s(0),
        }
    }

    fn ready_nodes(pool: &NodePool, count: u64) -> Vec<Node> {
        (1..=count)
            .map(|i| Node::new(NodeId(i), pool, s(0), NodeState::Ready))
            .collect()
    }

    #[test]
    fn nodes_to_add_packs_pending_onto_upcoming_then_new_nodes() {
        let six_free = VM;
        for (pending, upcoming, expected) in [
            (0, vec![], 0),
            (1, vec![], 1),
            (6, vec![], 1),
            (7, vec![], 2),
            (13, vec![], 3),
            (6, vec![six_free], 0),
            (8, vec![six_free], 1),
            (2, vec![Resources::new(500, 100_000)], 1),
        ] {
            let requests = vec![POD; pending];
            assert_eq!(
                nodes_to_add(&requests, &upcoming, VM),
                expected,
                "{pending} pending, upcoming {upcoming:?}"
            );
        }
        let too_big = Resources::new(16_000, 1024);
        assert_eq!(nodes_to_add(&[too_big], &[], VM), 0);
    }

    #[test]
    fn utilization_is_the_larger_of_cpu_and_memory() {
        for (requested, expected) in [
            (Resources::new(0, 0), 0.0),
            (Resources::new(3910, 0), 0.5),
            (Resources::new(1000, 27 * 1024), 1.0),
        ] {
            assert!(
                (utilization(requested, VM) - expected).abs() < 1e-9,
                "{requested:?}"
            );
        }
        assert_eq!(utilization(POD, Resources::default()), 1.0);
    }

    #[test]
    fn first_fit_takes_the_first_node_with_room() {
        let free = [Resources::new(500, 8000), VM, VM];
        assert_eq!(first_fit(&free, POD), Some(1));
        assert_eq!(first_fit(&free[..1], POD), None);
    }

    #[test]
    fn scale_up_adds_enough_nodes_bounded_by_max() {
        let profile = Profile::aks();
        let mut pool = profile.node_pool.clone();
        pool.max_nodes = 3;
        let pods: Vec<Pod> = (1..=20).map(|i| pod(i, None)).collect();
        let mut nodes = ready_nodes(&pool, 1);
        let mut next = 1;
        let mut ca = Autoscaler::default();
        let events = ca.scan(
            s(10),
            &mut nodes,
            &pods,
            &pool,
            &profile.cluster_autoscaler,
            &mut next,
        );
        assert_eq!(
            nodes.len(),
            3,
            "20 pods need 4 nodes; the pool allows 2 more"
        );
        assert_eq!(
            nodes[2].state,
            NodeState::Provisioning {
                ready_at: s(10 + 180)
            }
        );
        assert_eq!(ca.last_scale_up, Some(s(10)));
        let kinds: Vec<EventKind> = events.iter().map(|e| e.kind).collect();
        assert_eq!(kinds, [EventKind::NodeAdded, EventKind::NodePoolFull]);
        assert_eq!(
            events[0].reason,
            "2 nodes added: 20 pods pending, no room (binpacking estimate 4 nodes)"
        );
        assert_eq!(
            events[1].reason,
            "node pool at max 3 nodes (the pool's maxCount): 20 pods pending, no room"
        );
        // The same shortage is not reported again.
        let events = ca.scan(
            s(20),
            &mut nodes,
            &pods,
            &pool,
            &profile.cluster_autoscaler,
            &mut next,
        );
        assert!(events.is_empty(), "{events:?}");
    }

    #[test]
    fn provisioning_nodes_absorb_pending_pods() {
        let profile = Profile::aks();
        let pool = &profile.node_pool;
        let pods: Vec<Pod> = (1..=4).map(|i| pod(i, None)).collect();
        let mut nodes = ready_nodes(pool, 1);
        nodes.push(Node::new(
            NodeId(2),
            pool,
            s(0),
            NodeState::Provisioning { ready_at: s(180) },
        ));
        let mut next = 2;
        let events = Autoscaler::default().scan(
            s(10),
            &mut nodes,
            &pods,
            pool,
            &profile.cluster_autoscaler,
            &mut next,
        );
        assert_eq!(nodes.len(), 2);
        assert!(events.is_empty());
    }

    #[test]
    fn finish_provisioning_at_the_ready_time() {
        let pool = Profile::aks().node_pool;
        let mut nodes = vec![Node::new(
            NodeId(2),
            &pool,
            s(10),
            NodeState::Provisioning { ready_at: s(190) },
        )];
        assert!(finish_provisioning(s(189), &mut nodes).is_empty());
        let events = finish_provisioning(s(190), &mut nodes);
        assert!(nodes[0].is_ready());
        assert_eq!(events[0].reason, "node-2 ready after 180 s");
    }

    #[test]
    fn scale_down_timing_rules() {
        // (unneeded since, last scale-up, now, has pods, nodes, min) → removed?
        let rules = ClusterAutoscaler {
            scan_interval: s(10),
            scale_down_utilization_threshold: 0.5,
            scale_down_unneeded_time: s(600),
            scale_down_delay_after_add: s(600),
            ..Profile::aks().cluster_autoscaler
        };
        for (since, last_up, now, occupied, count, min, removed) in [
            (Some(0), None, 600, false, 2, 1, true),
            (Some(0), None, 599, false, 2, 1, false),
            (None, None, 600, false, 2, 1, false),
            (Some(0), Some(100), 600, false, 2, 1, false),
            (Some(0), Some(0), 600, false, 2, 1, true),
            (Some(0), None, 600, true, 2, 1, false),
            (Some(0), None, 600, false, 2, 2, false),
            (Some(0), None, 600, false, 1, 0, true),
        ] {
            let mut pool = Profile::aks().node_pool;
            pool.min_nodes = min;
            let mut nodes = ready_nodes(&pool, count);
            nodes[count as usize - 1].unneeded_since = since.map(s);
            let pods = if occupied {
                vec![pod(1, Some(count))]
            } else {
                vec![]
            };
            let mut ca = Autoscaler {
                last_scale_up: last_up.map(s),
                ..Autoscaler::default()
            };
            let mut next = count;
            let events = ca.scan(s(now), &mut nodes, &pods, &pool, &rules, &mut next);
            let gone = !nodes.iter().any(|n| n.id == NodeId(count));
            assert_eq!(
                gone, removed,
                "since {since:?} last up {last_up:?} now {now} occupied {occupied} {count}/{min}"
            );
            if removed {
                assert_eq!(
                    events.last().unwrap().reason,
                    format!("node removed: node-{count} utilization 0.00 < scale-down-utilization-threshold 0.5 for {now} s (scale-down-unneeded-time 600 s)")
                );
            }
        }
    }

    #[test]
    fn unneeded_timer_starts_below_threshold_and_resets_above() {
        let profile = Profile::aks();
        let pool = &profile.node_pool;
        let rules = &profile.cluster_autoscaler;
        let mut nodes = ready_nodes(pool, 2);
        let mut next = 2;
        let mut ca = Autoscaler::default();
        // Node 1 holds 6 pods (77 %), node 2 holds 1 (13 %).
        let mut pods: Vec<Pod> = (1..=6).map(|i| pod(i, Some(1))).collect();
        pods.push(pod(7, Some(2)));
        ca.scan(s(0), &mut nodes, &pods, pool, rules, &mut next);
        assert_eq!(nodes[0].unneeded_since, None);
        assert_eq!(nodes[1].unneeded_since, Some(s(0)));
        // Its last pod leaves after ten minutes of low utilization: it goes at the next scan.
        pods.pop();
        let events = ca.scan(s(600), &mut nodes, &pods, pool, rules, &mut next);
        assert_eq!(nodes.len(), 1);
        assert_eq!(events[0].kind, EventKind::NodeRemoved);
        // Three pods on node 1 bring it to 38 %: its timer starts.
        pods.truncate(3);
        ca.scan(s(610), &mut nodes, &pods, pool, rules, &mut next);
        assert_eq!(nodes[0].unneeded_since, Some(s(610)));
    }

    #[test]
    fn a_node_is_unneeded_only_strictly_below_the_threshold() {
        // kubernetes/autoscaler cluster-autoscaler/core/scaledown/eligibility (1.32.0):
        // eligibility.go `isNodeBelowUtilizationThreshold` (`Utilization >= threshold` is not
        // underutilized), eligibility_test.go `TestFilterOutUnremovable` on a 1000m node with
        // the default threshold 0.5, and the boundary.
        for (name, cpu, unneeded) in [
            ("highly utilized node is filtered out", 600, false),
            ("underutilized node stays", 100, true),
            ("(boundary) exactly at the threshold", 500, false),
            ("(boundary) just below it", 499, true),
        ] {
            let mut profile = Profile::aks();
            profile.node_pool.allocatable = Resources::new(1000, 1024);
            let (pool, rules) = (&profile.node_pool, &profile.cluster_autoscaler);
            let mut nodes = ready_nodes(pool, 1);
            let pods = vec![Pod {
                requests: Resources::new(cpu, 0),
                ..pod(1, Some(1))
            }];
            let (mut ca, mut next) = (Autoscaler::default(), 1);
            ca.scan(s(0), &mut nodes, &pods, pool, rules, &mut next);
            assert_eq!(nodes[0].unneeded_since.is_some(), unneeded, "{name}");
        }
    }

    #[test]
    fn max_nodes_total_caps_the_pool() {
        let profile = Profile::aks();
        let pool = &profile.node_pool; // maxCount 10
        for (total, limit, name) in [
            (0, 10, "the pool's maxCount"),
            (4, 4, "max-nodes-total"),
            (10, 10, "the pool's maxCount"),
            (20, 10, "the pool's maxCount"),
        ] {
            let rules = ClusterAutoscaler {
                max_nodes_total: total,
                ..profile.cluster_autoscaler.clone()
            };
            assert_eq!(node_limit(pool, &rules), limit, "total {total}");
            assert_eq!(limit_name(pool, &rules), name, "total {total}");
        }
        let rules = ClusterAutoscaler {
            max_nodes_total: 2,
            ..profile.cluster_autoscaler.clone()
        };
        let pods: Vec<Pod> = (1..=20).map(|i| pod(i, None)).collect();
        let mut nodes = ready_nodes(pool, 1);
        let events = Autoscaler::default().scan(s(10), &mut nodes, &pods, pool, &rules, &mut 1);
        assert_eq!(nodes.len(), 2);
        assert_eq!(
            events[1].reason,
            "node pool at max 2 nodes (max-nodes-total): 20 pods pending, no room"
        );
    }

    #[test]
    fn a_node_not_ready_within_max_node_provision_time_is_given_up_and_backs_off() {
        // cluster-autoscaler clusterstate: a node unregistered for longer than
        // `max-node-provision-time` (strictly) is removed and the node group backs off.
        for (added, now, timed_out) in [(0, 900, false), (0, 901, true), (100, 1000, false)] {
            assert_eq!(
                provision_timed_out(s(added), s(now), s(900)),
                timed_out,
                "{added} {now}"
            );
        }
        for (until, now, off) in [
            (None, 0, false),
            (Some(300), 299, true),
            (Some(300), 300, false),
        ] {
            assert_eq!(backed_off(until.map(s), s(now)), off, "{until:?} {now}");
        }
        let profile = Profile::aks();
        let mut pool = profile.node_pool.clone();
        pool.provisioning_delay = s(3600); // never comes up in time
        let rules = &profile.cluster_autoscaler;
        pool.min_nodes = 0;
        let pods: Vec<Pod> = (1..=7).map(|i| pod(i, None)).collect();
        let mut nodes = Vec::new();
        let mut next = 0;
        let mut ca = Autoscaler::default();
        ca.scan(s(0), &mut nodes, &pods, &pool, rules, &mut next);
        assert_eq!(nodes.len(), 2, "7 pending pods need two nodes, in one step");
        let quiet = ca.scan(s(900), &mut nodes, &pods, &pool, rules, &mut next);
        assert!(quiet.is_empty(), "{quiet:?}");
        let events = ca.scan(s(910), &mut nodes, &pods, &pool, rules, &mut next);
        assert!(nodes.is_empty());
        assert_eq!(
            events[0].reason,
            "node removed: node-1 not ready within max-node-provision-time 900 s; scale-up backs off for initial-node-group-backoff-duration 300 s"
        );
        assert_eq!(
            events.len(),
            2,
            "both slow nodes, and no scale-up while backed off"
        );
        assert_eq!(ca.backoff_until, Some(s(1210)));
        ca.scan(s(1200), &mut nodes, &pods, &pool, rules, &mut next);
        assert!(nodes.is_empty(), "still backed off");
        ca.scan(s(1210), &mut nodes, &pods, &pool, rules, &mut next);
        assert_eq!(nodes.len(), 2, "backoff over: scale up again");
    }

    #[test]
    fn delay_after_add_is_strict() {
        for (last, now, paused) in [
            (None, 0, false),
            (Some(0), 599, true),
            (Some(0), 600, false),
        ] {
            assert_eq!(in_delay_after_add(last.map(s), s(now), s(600)), paused);
        }
    }

    #[test]
    fn optional_times_round_trip_as_seconds() {
        let pool = Profile::aks().node_pool;
        let mut node = Node::new(NodeId(3), &pool, s(5), NodeState::Ready);
        node.unneeded_since = Some(Duration::from_millis(12_500));
        let json = serde_json::to_value(&node).unwrap();
        assert_eq!(json["unneeded_since"], 12.5);
        assert_eq!(serde_json::from_value::<Node>(json).unwrap(), node);
        let ca = Autoscaler {
            backoff_until: Some(s(300)),
            ..Autoscaler::default()
        };
        let json = serde_json::to_string(&ca).unwrap();
        assert_eq!(serde_json::from_str::<Autoscaler>(&json).unwrap(), ca);
        node.unneeded_since = None;
        let json = serde_json::to_string(&node).unwrap();
        assert_eq!(serde_json::from_str::<Node>(&json).unwrap(), node);
    }

    #[test]
    fn a_scan_is_due_once_per_scan_interval() {
        // kubernetes/autoscaler cluster-autoscaler/main.go (1.32.0): `RunAutoscalerOnce`, then
        // `time.Sleep(*scanInterval)` (without `--frequent-loops-enabled`). The model's first
        // scan is at its start.
        let mut ca = Autoscaler::default();
        assert!(ca.due(s(0), s(10)));
        ca.last_scan = Some(s(20));
        for (now, due) in [(20, false), (29, false), (30, true), (31, true)] {
            assert_eq!(ca.due(s(now), s(10)), due, "at {now} s");
        }
        // Through a scan: a pod pending between scans waits for the next one.
        let profile = Profile::aks();
        let (pool, rules) = (&profile.node_pool, &profile.cluster_autoscaler);
        let mut nodes = ready_nodes(pool, 1);
        let mut next = 1;
        let full: Vec<Pod> = (1..=6).map(|i| pod(i, Some(1))).collect();
        ca.scan(s(30), &mut nodes, &full, pool, rules, &mut next);
        let mut pending = full.clone();
        pending.push(pod(7, None));
        assert!(!ca.due(s(35), rules.scan_interval));
        assert!(ca.due(s(40), rules.scan_interval));
        let events = ca.scan(s(40), &mut nodes, &pending, pool, rules, &mut next);
        assert_eq!(nodes.len(), 2, "{events:?}");
    }
}
