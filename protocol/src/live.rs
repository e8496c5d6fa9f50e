//! The live feed: one [`Sample`] a second, and the runs' progress as it changes, pushed to every
//! dashboard over `/ws/live`.
//!
//! A client that connects (or reconnects) first gets a [`Frame::Snapshot`] with the recent
//! history and the recent runs, then one [`Frame::Sample`] per sample and a [`Frame::Runs`]
//! whenever runs start, progress or finish. A client that falls behind is sent a fresh snapshot
//! instead of the frames it missed, so a chart never has a silent gap. A snapshot holds only
//! the newest samples; the older ones follow in [`Frame::History`] frames of bounded size.
//!
//! Runs travel apart from the samples so that a snapshot is bounded by the history window: one
//! copy of each recent run, not one per sample.

use serde::{Deserialize, Serialize};

use crate::durable::RuntimeStatus;

/// The path of the live WebSocket endpoint.
pub const LIVE_PATH: &str = crate::routes::LIVE;

/// One observation of the system at an instant.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Milliseconds since the Unix epoch, taken by the server when the sample was made.
    pub t_ms: u64,
    /// Sequence number, strictly increasing for the life of the server process; lets a client
    /// tell a duplicate or a gap from a real change.
    pub seq: u64,
    /// The work queue's approximate message count, `None` when storage could not be read.
    pub queue_length: Option<u64>,
    /// Whether storage answered this sample, and why not when it did not.
    pub storage: StorageHealth,
    /// Pods and nodes as the cluster view sees them.
    #[serde(default)]
    pub cluster: ClusterSample,
    /// Items completed across every run since the server started: the throughput over any
    /// span of samples is the difference of two of these.
    #[serde(default)]
    pub completed_total: u64,
    /// Event messages the server parked on `item-events-poison` since it started: events it
    /// could never apply (an unknown or purged run, an output blob that is not there).
    #[serde(default)]
    pub events_poisoned: u64,
    /// Scaling decisions made since the previous sample, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<ScaleEvent>,
}

/// Where the pod and node counts come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClusterSource {
    /// No cluster view (counts are zero).
    #[default]
    None,
    /// The in-process model of KEDA, the HPA and the cluster autoscaler.
    Local,
    /// A Kubernetes cluster watched through its API.
    Kube,
}

/// Worker pods by phase and nodes by readiness, at one instant.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterSample {
    pub source: ClusterSource,
    /// Pods that no node can take yet (unschedulable).
    pub pods_pending: u32,
    /// Pods scheduled and starting (ContainerCreating, not ready).
    pub pods_starting: u32,
    /// Pods running and ready: these are working the queue.
    pub pods_running: u32,
    /// Pods shutting down (deletion requested).
    pub pods_terminating: u32,
    /// Pods failed or crash-looping, shown apart.
    #[serde(default)]
    pub pods_failed: u32,
    pub nodes_ready: u32,
    /// Nodes being provisioned or not ready.
    pub nodes_provisioning: u32,
    /// Replicas the autoscaler wants, when known.
    #[serde(default)]
    pub desired_replicas: Option<u32>,
    /// The scaler's target queue length per replica, drawn as a reference line.
    #[serde(default)]
    pub target_queue_length: Option<u32>,
    /// When the view could not be refreshed, why; counts are then the last known ones.
    #[serde(default)]
    pub stale: Option<String>,
}

/// A run's progress as the dashboard shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunProgress {
    pub id: String,
    pub status: RuntimeStatus,
    pub total: u32,
    pub scheduled: u32,
    pub completed: u32,
    pub failed: u32,
    pub created_ms: u64,
    pub updated_ms: u64,
}

impl RunProgress {
    /// Sorts runs the way every list shows them: newest first, ties by id, so the order is the
    /// same on the server and in every page.
    pub fn sort_newest_first(runs: &mut [RunProgress]) {
        runs.sort_by(|a, b| {
            b.created_ms
                .cmp(&a.created_ms)
                .then_with(|| a.id.cmp(&b.id))
        });
    }
}

/// A scaling decision and its reason, e.g. `scale 3 → 8: queue 40 / target 5 = 8`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScaleEvent {
    pub t_ms: u64,
    /// A short kind such as `scale_up`, `scale_down`, `node_added`, `activated`.
    pub kind: String,
    pub reason: String,
}

/// Storage reachability as seen by the sampler.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum StorageHealth {
    /// The last call succeeded.
    #[default]
    Ok,
    /// The last call failed; `endpoint` names what was called so the page can say where.
    Unreachable { endpoint: String, error: String },
}

impl StorageHealth {
    pub fn is_ok(&self) -> bool {
        matches!(self, StorageHealth::Ok)
    }
}

/// A message from the server on the live socket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Frame {
    /// The newest samples, oldest first, and the recent runs, newest first; replaces whatever
    /// the client had. Older samples follow in [`Frame::History`] frames.
    Snapshot {
        interval_ms: u64,
        samples: Vec<Sample>,
        #[serde(default)]
        runs: Vec<RunProgress>,
        /// Present when the server replays a recording (`scaleboard replay`) rather than
        /// watching a live system: the page shows the banner and the replay's controls.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        replay: Option<crate::recording::ReplayStatus>,
    },
    /// The next sample.
    Sample { sample: Sample },
    /// Runs that started, progressed or finished since the last frame, as they are now.
    Runs { runs: Vec<RunProgress> },
    /// Samples older than those the client has, oldest first, to put before them. A snapshot's
    /// history arrives in several of these right after it, newest part first, so that the first
    /// frame is small (a chart can be drawn at once on a slow link) and no frame is large (the
    /// server's per-connection buffers stay small).
    History { samples: Vec<Sample> },
}

impl Frame {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a frame always serializes")
    }

    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(seq: u64) -> Sample {
        Sample {
            t_ms: 1_700_000_000_000 + seq * 1000,
            seq,
            queue_length: Some(seq * 3),
            storage: StorageHealth::Ok,
            cluster: ClusterSample::default(),
            completed_total: seq,
            events_poisoned: 0,
            events: Vec::new(),
        }
    }

    #[test]
    fn frames_round_trip_through_json() {
        let frames = [
            Frame::Snapshot {
                interval_ms: 1000,
                samples: vec![sample(1), sample(2)],
                runs: vec![RunProgress {
                    id: "abc".into(),
                    status: RuntimeStatus::Running,
                    total: 10,
                    scheduled: 10,
                    completed: 3,
                    failed: 1,
                    created_ms: 1,
                    updated_ms: 2,
                }],
                replay: None,
            },
            Frame::Runs { runs: Vec::new() },
            Frame::History {
                samples: vec![sample(0)],
            },
            Frame::Sample {
                sample: Sample {
                    queue_length: None,
                    storage: StorageHealth::Unreachable {
                        endpoint: "http://127.0.0.1:10001/devstoreaccount1".into(),
                        error: "connection refused".into(),
                    },
                    ..sample(3)
                },
            },
        ];
        for frame in frames {
            assert_eq!(Frame::from_json(&frame.to_json()).unwrap(), frame);
        }
    }

    #[test]
    fn samples_from_an_older_server_still_parse() {
        let json = r#"{"t_ms":1,"seq":1,"queue_length":2,"storage":{"state":"ok"}}"#;
        let sample: Sample = serde_json::from_str(json).unwrap();
        assert_eq!(sample.cluster, ClusterSample::default());
        assert_eq!(sample.completed_total, 0);
        assert_eq!(sample.events_poisoned, 0);
    }

    #[test]
    fn frame_json_is_tagged_for_javascript_readers() {
        let json: serde_json::Value =
            serde_json::from_str(&Frame::Sample { sample: sample(7) }.to_json()).unwrap();
        assert_eq!(json["type"], "sample");
        assert_eq!(json["sample"]["queue_length"], 21);
        assert_eq!(json["sample"]["storage"]["state"], "ok");
    }

    #[test]
    fn a_snapshot_carries_the_replay_state_only_during_a_replay() {
        let replay = crate::recording::ReplayStatus {
            run_id: "run1".into(),
            recorded_ms: 9_000,
            place: "the local model".into(),
            start_ms: 1_000,
            end_ms: 4_000,
            speed: 5,
            paused: true,
        };
        let frame = Frame::Snapshot {
            interval_ms: 1000,
            samples: Vec::new(),
            runs: Vec::new(),
            replay: Some(replay),
        };
        let json: serde_json::Value = serde_json::from_str(&frame.to_json()).unwrap();
        assert_eq!(json["replay"]["runId"], "run1");
        assert_eq!(json["replay"]["speed"], 5);
        assert_eq!(Frame::from_json(&frame.to_json()).unwrap(), frame);
        // A live server's snapshot has no replay field at all, and an older one parses.
        let live = Frame::Snapshot {
            interval_ms: 1000,
            samples: Vec::new(),
            runs: Vec::new(),
            replay: None,
        };
        assert!(!live.to_json().contains("replay"));
        let older = r#"{"type":"snapshot","interval_ms":1000,"samples":[]}"#;
        assert_eq!(Frame::from_json(older).unwrap(), live);
    }
}
