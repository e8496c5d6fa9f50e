//! Replaying a recorded queue trace through the model, one row per simulated second.

use std::{fmt::Write as _, time::Duration};

use serde::{Deserialize, Serialize};

use crate::{
    cluster::{Cluster, Command},
    events::ScaleEvent,
    keda::Observation,
    policy::Profile,
};

/// The model's state at the end of one simulated second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimRow {
    pub seconds: u64,
    /// The queue length replayed at this second.
    pub queue_length: u64,
    pub desired_replicas: u32,
    pub pods_running: u32,
    pub pods_pending: u32,
    pub pods_starting: u32,
    pub pods_terminating: u32,
    pub nodes_ready: u32,
    pub nodes_provisioning: u32,
}

impl SimRow {
    /// What the model decided at this second, comma-separated, in [`CSV_HEADER`]'s order after
    /// `seconds`: the columns every CSV of replays shares.
    pub fn model_columns(&self) -> String {
        format!(
            "{},{},{},{},{},{},{}",
            self.desired_replicas,
            self.pods_running,
            self.pods_pending,
            self.pods_starting,
            self.pods_terminating,
            self.nodes_ready,
            self.nodes_provisioning
        )
    }
}

/// The result of [`simulate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Simulation {
    pub rows: Vec<SimRow>,
    /// Every event of the run (not bounded like the live log).
    pub events: Vec<ScaleEvent>,
}

/// The CSV header of [`Simulation::to_csv`].
pub const CSV_HEADER: &str = "seconds,desired_replicas,pods_running,pods_pending,pods_starting,pods_terminating,nodes_ready,nodes_provisioning";

impl Simulation {
    /// The rows as CSV with [`CSV_HEADER`].
    pub fn to_csv(&self) -> String {
        let mut out = String::with_capacity(48 * (self.rows.len() + 1));
        out.push_str(CSV_HEADER);
        out.push('\n');
        for r in &self.rows {
            // Writing to a String cannot fail.
            let _ = writeln!(out, "{},{}", r.seconds, r.model_columns());
        }
        out
    }

    /// Node-hours the run would be billed: every row is one second, and a node counts from the
    /// moment it is requested (a provisioning VM is already paid for) until it is removed.
    pub fn node_hours(&self) -> f64 {
        let node_seconds: u64 = self
            .rows
            .iter()
            .map(|r| u64::from(r.nodes_ready) + u64::from(r.nodes_provisioning))
            .sum();
        node_seconds as f64 / 3600.0
    }
}

/// What a replay comes to, for comparing policies side by side.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Node-hours billed: [`Simulation::node_hours`].
    pub node_hours: f64,
    pub peak_desired_replicas: u32,
    pub peak_pods_running: u32,
    /// Nodes ready or provisioning at the busiest second.
    pub peak_nodes: u32,
    /// Seconds from the queue's first message to the first running pod; `None` when no pod
    /// ever ran (or the queue never had a message).
    pub first_pod_after_s: Option<u64>,
    /// Seconds from the queue's last message to the cluster at rest: no pod above the
    /// policy's idle count and no node above the pool's minimum, nothing starting, pending or
    /// terminating. `None` when it is not at rest by the end of the replay. With the recorded
    /// queue held as it was, this is what a policy changes of the time to drain: how long the
    /// cluster stays up (and billed) after the work is done.
    pub at_rest_after_s: Option<u64>,
}

impl Simulation {
    /// The figures that tell policies apart; `profile` is the one the rows were made with.
    pub fn summary(&self, profile: &Profile) -> Summary {
        let rows = &self.rows;
        let nodes = |r: &SimRow| r.nodes_ready.saturating_add(r.nodes_provisioning);
        let first_message = rows.iter().find(|r| r.queue_length > 0).map(|r| r.seconds);
        let last_message = rows
            .iter()
            .rev()
            .find(|r| r.queue_length > 0)
            .map(|r| r.seconds);
        let first_pod_after_s = first_message.and_then(|from| {
            rows.iter()
                .find(|r| r.seconds >= from && r.pods_running > 0)
                .map(|r| r.seconds - from)
        });
        let idle_replicas = profile
            .scaled_object
            .idle_replica_count
            .unwrap_or(profile.scaled_object.min_replicas);
        let at_rest = |r: &SimRow| {
            r.pods_running <= idle_replicas
                && r.pods_pending == 0
                && r.pods_starting == 0
                && r.pods_terminating == 0
                && nodes(r) <= profile.node_pool.min_nodes
        };
        let at_rest_after_s = last_message.and_then(|from| {
            // The first second after the last message from which the cluster stays at rest.
            let later: Vec<&SimRow> = rows.iter().filter(|r| r.seconds > from).collect();
            let settled = later.iter().rposition(|r| !at_rest(r)).map_or(0, |i| i + 1);
            later.get(settled).map(|r| r.seconds - from)
        });
        Summary {
            node_hours: self.node_hours(),
            peak_desired_replicas: rows.iter().map(|r| r.desired_replicas).max().unwrap_or(0),
            peak_pods_running: rows.iter().map(|r| r.pods_running).max().unwrap_or(0),
            peak_nodes: rows.iter().map(nodes).max().unwrap_or(0),
            first_pod_after_s,
            at_rest_after_s,
        }
    }
}

/// Replays `trace` (`(seconds, queue length)` rows in increasing seconds, as
/// [`crate::parse_trace_csv`] returns them) through a new [`Cluster`]: one step per second from
/// 0 to the last row's second. Each row's value holds until the next row; before the first row
/// the queue is empty. The replayed queue does not drain with the workers: it is what was
/// recorded. A stopped worker exits at once.
pub fn simulate(profile: Profile, trace: &[(u64, u64)]) -> Simulation {
    let Some(&(last, _)) = trace.last() else {
        return Simulation {
            rows: Vec::new(),
            events: Vec::new(),
        };
    };
    let mut cluster = Cluster::new(profile);
    let mut rows = Vec::new();
    let mut events = Vec::new();
    let mut next = 0;
    let mut queue = 0;
    for second in 0..=last {
        while let Some(&(at, value)) = trace.get(next) {
            if at > second {
                break;
            }
            queue = value;
            next += 1;
        }
        let now = Duration::from_secs(second);
        let step = cluster.step(now, &Observation::new(queue));
        for command in &step.commands {
            if let Command::StopWorker { pod, .. } = *command {
                cluster.worker_exited(now, pod);
            }
        }
        events.extend(step.events);
        let c = cluster.counts();
        rows.push(SimRow {
            seconds: second,
            queue_length: queue,
            desired_replicas: cluster.desired_replicas(),
            pods_running: c.pods_running,
            pods_pending: c.pods_pending,
            pods_starting: c.pods_starting,
            pods_terminating: c.pods_terminating,
            nodes_ready: c.nodes_ready,
            nodes_provisioning: c.nodes_provisioning,
        });
    }
    Simulation { rows, events }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::EventKind;

    #[test]
    fn one_row_per_second_with_values_held_until_the_next_row() {
        let sim = simulate(Profile::demo(), &[(3, 40), (6, 0), (10, 0)]);
        assert_eq!(sim.rows.len(), 11);
        let queue: Vec<u64> = sim.rows.iter().map(|r| r.queue_length).collect();
        assert_eq!(queue, [0, 0, 0, 40, 40, 40, 0, 0, 0, 0, 0]);
        assert_eq!(sim.rows[0].desired_replicas, 0);
        // Polling every 2 s: the poll at 4 s activates (none at 3 s).
        assert_eq!(sim.rows[3].desired_replicas, 0);
        assert!(sim.rows[4].desired_replicas >= 1);
    }

    #[test]
    fn empty_trace_gives_no_rows() {
        let sim = simulate(Profile::demo(), &[]);
        assert!(sim.rows.is_empty());
        assert_eq!(sim.node_hours(), 0.0);
    }

    #[test]
    fn csv_has_the_header_and_one_line_per_row() {
        let sim = simulate(Profile::demo(), &[(0, 10), (2, 10)]);
        let csv = sim.to_csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], CSV_HEADER);
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[1].split(',').count(), 8);
        assert!(lines[1].starts_with("0,"));
    }

    #[test]
    fn a_summary_says_how_fast_pods_came_and_how_long_the_cluster_stayed_up() {
        let trace = [(10, 40), (40, 0), (600, 0)];
        let sim = simulate(Profile::demo(), &trace);
        let summary = sim.summary(&Profile::demo());
        assert_eq!(summary.node_hours, sim.node_hours());
        let first_running = sim
            .rows
            .iter()
            .find(|r| r.pods_running > 0)
            .unwrap()
            .seconds;
        assert_eq!(summary.first_pod_after_s, Some(first_running - 10));
        assert!(summary.peak_pods_running >= 1);
        assert!(summary.peak_desired_replicas >= summary.peak_pods_running);
        // At rest from that second on, and not the second before.
        let min_nodes = Profile::demo().node_pool.min_nodes;
        let busy = |r: &SimRow| {
            r.pods_running + r.pods_pending + r.pods_starting + r.pods_terminating > 0
                || r.nodes_ready + r.nodes_provisioning > min_nodes
        };
        let rest = 39 + summary.at_rest_after_s.expect("at rest within ten minutes");
        let rest = usize::try_from(rest).unwrap();
        assert!(sim.rows[rest..].iter().all(|r| !busy(r)));
        assert!(busy(&sim.rows[rest - 1]), "{:?}", sim.rows[rest - 1]);
        // A policy that keeps more pods for longer is at rest later and costs more.
        let mut slow = Profile::demo();
        slow.scaled_object.cooldown_period = Duration::from_secs(120);
        let slower = simulate(slow.clone(), &trace).summary(&slow);
        assert!(slower.at_rest_after_s.unwrap() > summary.at_rest_after_s.unwrap());
        assert!(slower.node_hours >= summary.node_hours);
    }

    #[test]
    fn a_queue_below_activation_leaves_the_cluster_at_rest_from_the_next_second() {
        // Three messages under an activation threshold of 100: KEDA never activates, so the
        // cluster is at rest throughout, and the time to rest counts from the second after the
        // last message (the second that held it is not "after" it).
        let mut quiet = Profile::demo();
        quiet.scaled_object.activation_queue_length = 100;
        let sim = simulate(quiet.clone(), &[(5, 3), (6, 0), (30, 0)]);
        let summary = sim.summary(&quiet);
        assert_eq!(summary.peak_pods_running, 0);
        assert_eq!(summary.first_pod_after_s, None);
        assert_eq!(summary.at_rest_after_s, Some(1));
    }

    #[test]
    fn a_replay_that_never_rests_or_never_runs_says_none() {
        // The queue never empties: never at rest after it.
        let busy = simulate(Profile::demo(), &[(0, 50), (30, 50)]);
        assert_eq!(busy.summary(&Profile::demo()).at_rest_after_s, None);
        // An empty queue: no first pod, nothing to rest after.
        let idle = simulate(Profile::demo(), &[(0, 0), (30, 0)]).summary(&Profile::demo());
        assert_eq!((idle.first_pod_after_s, idle.at_rest_after_s), (None, None));
        assert_eq!(idle.peak_pods_running, 0);
    }

    #[test]
    fn node_hours_count_every_node_second() {
        // One node for an hour of nothing.
        let sim = simulate(Profile::demo(), &[(3599, 0)]);
        assert!(
            (sim.node_hours() - 1.0).abs() < 1e-9,
            "{}",
            sim.node_hours()
        );
    }

    #[test]
    fn the_aks_profile_replays_the_acceptance_numbers() {
        // What `scaleboard simulate --profile aks` computes (the CLI builds the profile and
        // calls this function): the legacy HPA path of kubernetes/kubernetes horizontal.go.
        let desired = |profile: Profile, trace: &[(u64, u64)]| -> Vec<u32> {
            let rows = simulate(profile, trace).rows;
            rows.iter().map(|r| r.desired_replicas).collect()
        };
        // 1 → 4 → 8 → 16: `max(2 × current, 4)` per 15 s sync.
        let burst = desired(Profile::aks(), &[(0, 200), (30, 200)]);
        assert_eq!((burst[0], burst[15], burst[30]), (4, 8, 16));
        // 3 → 6 (`--min-replicas 3`).
        let mut three = Profile::aks();
        three.scaled_object.min_replicas = 3;
        let three = desired(three, &[(0, 0), (15, 200)]);
        assert_eq!((three[14], three[15]), (3, 6));
        // 55 messages at 10 replicas × queueLength 5: ratio exactly 1.1 keeps 10.
        let mut ten = Profile::aks();
        ten.scaled_object.min_replicas = 10;
        let ten = desired(ten, &[(0, 0), (15, 55)]);
        assert_eq!(ten[15], 10);
        // Re-activation within the 300 s window (`--polling-interval 5 --cooldown-period 30
        // --max-replicas 20`): three messages, one replica's worth, yet back to the old 20.
        let mut climb = Profile::aks();
        climb.scaled_object.polling_interval = Duration::from_secs(5);
        climb.scaled_object.cooldown_period = Duration::from_secs(30);
        climb.scaled_object.max_replicas = 20;
        let climb = desired(climb, &[(0, 100), (61, 0), (150, 3), (300, 3)]);
        assert_eq!(climb[60], 20);
        let zero_at = climb.iter().position(|&d| d == 0).unwrap();
        assert!(
            (61..150).contains(&zero_at),
            "scaled to zero at {zero_at} s"
        );
        assert_eq!(climb[150], 4, "0 → 1 by KEDA, 1 → 4 by the HPA");
        assert_eq!(climb[150..].iter().max(), Some(&20));
    }

    #[test]
    fn a_burst_scales_out_and_back_in() {
        let sim = simulate(Profile::demo(), &[(0, 200), (30, 0), (180, 0)]);
        let peak = sim.rows.iter().map(|r| r.desired_replicas).max().unwrap();
        assert_eq!(peak, 12);
        assert!(sim.rows.iter().any(|r| r.nodes_ready > 1));
        assert!(sim.events.iter().any(|e| e.kind == EventKind::NodeRemoved));
        let last = sim.rows.last().unwrap();
        assert_eq!(
            (last.desired_replicas, last.pods_running, last.nodes_ready),
            (0, 0, 1)
        );
        assert_eq!(last.pods_terminating, 0, "stopped workers exit at once");
    }
}
