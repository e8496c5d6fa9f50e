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
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{},{}",
                r.seconds,
                r.desired_replicas,
                r.pods_running,
                r.pods_pending,
                r.pods_starting,
                r.pods_terminating,
                r.nodes_ready,
                r.nodes_provisioning
            );
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
