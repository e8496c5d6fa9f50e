//! The live feed: one [`Sample`] a second, pushed to every dashboard over `/ws/live`.
//!
//! A client that connects (or reconnects) first gets a [`Frame::Snapshot`] with the recent
//! history, then one [`Frame::Sample`] per sample. A client that falls behind is sent a fresh
//! snapshot instead of the samples it missed, so a chart never has a silent gap.

use serde::{Deserialize, Serialize};

/// The path of the live WebSocket endpoint.
pub const LIVE_PATH: &str = "/ws/live";

/// One observation of the system at an instant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
}

/// Storage reachability as seen by the sampler.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum StorageHealth {
    /// The last call succeeded.
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
    /// The recent past, oldest first; replaces whatever the client had.
    Snapshot {
        interval_ms: u64,
        samples: Vec<Sample>,
    },
    /// The next sample.
    Sample { sample: Sample },
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
        }
    }

    #[test]
    fn frames_round_trip_through_json() {
        let frames = [
            Frame::Snapshot {
                interval_ms: 1000,
                samples: vec![sample(1), sample(2)],
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
    fn frame_json_is_tagged_for_javascript_readers() {
        let json: serde_json::Value =
            serde_json::from_str(&Frame::Sample { sample: sample(7) }.to_json()).unwrap();
        assert_eq!(json["type"], "sample");
        assert_eq!(json["sample"]["queue_length"], 21);
        assert_eq!(json["sample"]["storage"]["state"], "ok");
    }
}
