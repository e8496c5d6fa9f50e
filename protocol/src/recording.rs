//! A recording of one finished run: everything the dashboard showed while it ran, in one
//! self-describing, versioned file, so the run can be replayed anywhere with no storage and no
//! cluster (`scaleboard replay FILE`).
//!
//! The file is JSON, gzip-compressed (`scaleboard-<id>.json.gz`): readable with `zcat | jq` by
//! anyone, and small (a few kilobytes a minute of samples). It holds
//! - `kind` and `schemaVersion`, checked on load before anything else is read, so another
//!   version gets a clear answer instead of a half-understood replay;
//! - the run's status document, as `GET …/instances/{id}` answered when it was recorded;
//! - the samples of the run's window (queue length, pods by phase, nodes, storage health),
//!   each with the run's progress at that instant; the scaling decisions travel inside the
//!   sample that first reported them, as on the live feed ([`Recording::decisions`] lists them);
//! - the policy in force (the local model's [`Profile`]) and where the run ran ([`Place`]).
//!
//! Building and checking are pure; compressing and decompressing need the `gzip` feature, which
//! the server turns on and the browser's build leaves off.

use serde::{Deserialize, Serialize};

use crate::cluster::Profile;
use crate::durable::StatusDocument;
use crate::live::{ClusterSource, RunProgress, Sample, ScaleEvent};

/// What `kind` says in every recording.
pub const KIND: &str = "scaleboard-recording";

/// The version of the layout below. Raise it for any change an older reader would misread.
pub const SCHEMA_VERSION: u32 = 1;

/// The largest recording accepted once decompressed: an hour at one sample a second is about
/// 2 MB, so this leaves room for long runs while bounding what a hostile file can make a
/// reader allocate.
pub const MAX_DECOMPRESSED_BYTES: u64 = 64 * 1024 * 1024;

/// One finished run, as the dashboard saw it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recording {
    /// Always [`KIND`]: says what the file is to someone who finds it.
    pub kind: String,
    /// Always [`SCHEMA_VERSION`] for recordings written by this build.
    pub schema_version: u32,
    /// When the recording was made, in milliseconds since the Unix epoch.
    pub recorded_ms: u64,
    /// Milliseconds between two samples on the server that recorded it.
    pub interval_ms: u64,
    /// The run's status document when it was recorded (a finished run's).
    pub run: StatusDocument,
    /// The local model's scaling policy, when the local model ran the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<Profile>,
    /// Where the run ran.
    pub place: Place,
    /// The samples of the run's window, oldest first.
    pub samples: Vec<RecordedSample>,
}

/// One sample with the recorded run's progress at that instant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordedSample {
    pub sample: Sample,
    /// The run as the live feed showed it then; `None` before the feed first listed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<RunProgress>,
}

/// Where a run ran: the local model (with its profile) or a Kubernetes cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Place {
    pub cluster: ClusterSource,
    /// The local model's profile name, e.g. `seed-demo`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// The Kubernetes cluster's name (or namespace), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keda_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_version: Option<String>,
}

impl Place {
    /// How a banner names it: `the local model (seed-demo profile)`, `cluster aks-demo`.
    pub fn describe(&self) -> String {
        let mut text = match (self.cluster, &self.profile, &self.cluster_name) {
            (ClusterSource::Local, Some(profile), _) => {
                format!("the local model ({profile} profile)")
            }
            (ClusterSource::Local, None, _) => "the local model".to_string(),
            (ClusterSource::Kube, _, Some(name)) => format!("cluster {name}"),
            (ClusterSource::Kube, _, None) => "a Kubernetes cluster".to_string(),
            (ClusterSource::None, _, _) => "a server with no cluster view".to_string(),
        };
        let versions: Vec<String> = [
            self.kubernetes_version
                .as_ref()
                .map(|v| format!("Kubernetes {v}")),
            self.keda_version.as_ref().map(|v| format!("KEDA {v}")),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !versions.is_empty() {
            text.push_str(&format!(" ({})", versions.join(", ")));
        }
        text
    }
}

/// Why a file is not a recording this build can replay.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecordingError {
    /// Not gzip, truncated, not JSON, or JSON of the wrong shape.
    #[error("the recording is damaged: {0}")]
    Damaged(String),
    /// Larger than [`MAX_DECOMPRESSED_BYTES`] once decompressed.
    #[error("the recording is larger than {MAX_DECOMPRESSED_BYTES} bytes once decompressed")]
    TooLarge,
    /// A recording, but of another layout.
    #[error(
        "the recording has schema version {found}; this build of Scaleboard reads version {SCHEMA_VERSION}"
    )]
    UnsupportedVersion { found: u64 },
    /// Well-formed, but its contents contradict each other.
    #[error("the recording is not consistent: {0}")]
    Inconsistent(String),
}

impl Recording {
    /// A recording of `run`, made at `recorded_ms`.
    pub fn new(
        run: StatusDocument,
        policy: Option<Profile>,
        place: Place,
        interval_ms: u64,
        samples: Vec<RecordedSample>,
        recorded_ms: u64,
    ) -> Recording {
        Recording {
            kind: KIND.to_string(),
            schema_version: SCHEMA_VERSION,
            recorded_ms,
            interval_ms,
            run,
            policy,
            place,
            samples,
        }
    }

    /// The run's id.
    pub fn run_id(&self) -> &str {
        &self.run.instance_id
    }

    /// Every scaling decision in the window, oldest first.
    pub fn decisions(&self) -> impl Iterator<Item = &ScaleEvent> {
        self.samples.iter().flat_map(|s| s.sample.events.iter())
    }

    /// Milliseconds from the first sample to the last (0 with fewer than two).
    pub fn duration_ms(&self) -> u64 {
        match (self.samples.first(), self.samples.last()) {
            (Some(first), Some(last)) => last.sample.t_ms.saturating_sub(first.sample.t_ms),
            _ => 0,
        }
    }

    /// The JSON text (uncompressed).
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a recording always serializes")
    }

    /// Reads the JSON text: the kind and version first, then the rest, then
    /// [`Recording::check`].
    pub fn from_json(bytes: &[u8]) -> Result<Recording, RecordingError> {
        let value: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| RecordingError::Damaged(format!("not JSON: {e}")))?;
        if value.get("kind").and_then(serde_json::Value::as_str) != Some(KIND) {
            return Err(RecordingError::Damaged(format!(
                "`kind` is not \"{KIND}\": this is not a Scaleboard recording"
            )));
        }
        let found = value
            .get("schemaVersion")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| {
                RecordingError::Damaged("`schemaVersion` is missing or not a number".into())
            })?;
        if found != u64::from(SCHEMA_VERSION) {
            return Err(RecordingError::UnsupportedVersion { found });
        }
        let recording: Recording =
            serde_json::from_value(value).map_err(|e| RecordingError::Damaged(e.to_string()))?;
        recording.check()?;
        Ok(recording)
    }

    /// What a replay relies on: samples in time order with strictly increasing sequence
    /// numbers, and progress only for the recorded run.
    pub fn check(&self) -> Result<(), RecordingError> {
        if self.run_id().is_empty() {
            return Err(RecordingError::Inconsistent("the run has no id".into()));
        }
        for pair in self.samples.windows(2) {
            let (a, b) = (&pair[0].sample, &pair[1].sample);
            if b.t_ms < a.t_ms || b.seq <= a.seq {
                return Err(RecordingError::Inconsistent(format!(
                    "sample {} (t_ms {}) comes after sample {} (t_ms {})",
                    b.seq, b.t_ms, a.seq, a.t_ms
                )));
            }
        }
        if let Some(other) = self
            .samples
            .iter()
            .filter_map(|s| s.progress.as_ref())
            .find(|p| p.id != self.run.instance_id)
        {
            return Err(RecordingError::Inconsistent(format!(
                "a sample carries the progress of run {}, not {}",
                other.id,
                self.run_id()
            )));
        }
        Ok(())
    }
}

/// The speeds a replay runs at: 1×, 2×, 5× and 10× the recorded pace.
pub const REPLAY_SPEEDS: [u32; 4] = [1, 2, 5, 10];

/// What a server replaying a recording is doing, sent to every viewer with each live snapshot
/// (`Frame::Snapshot::replay`); absent when the server watches a live system.
///
/// The position is not here: it is the newest sample's `t_ms` minus `start_ms`, so the feed
/// needs no extra frame per sample.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplayStatus {
    pub run_id: String,
    /// When the recording was made.
    pub recorded_ms: u64,
    /// Where the run ran, as a phrase ([`Place::describe`]).
    pub place: String,
    /// The first and last samples' `t_ms`: the range a seek may ask for.
    pub start_ms: u64,
    pub end_ms: u64,
    /// One of [`REPLAY_SPEEDS`].
    pub speed: u32,
    pub paused: bool,
}

/// `POST /api/replay/control`: any of the three, applied together.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReplayControl {
    /// One of [`REPLAY_SPEEDS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<bool>,
    /// Milliseconds from the first sample: the replay continues from the last sample at or
    /// before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position_ms: Option<u64>,
}

#[cfg(feature = "gzip")]
pub use gzip::compress;

#[cfg(feature = "gzip")]
mod gzip {
    use std::io::{Read, Write};

    use flate2::read::GzDecoder;
    use flate2::write::GzEncoder;
    use flate2::Compression;

    use super::{Recording, RecordingError, MAX_DECOMPRESSED_BYTES};

    /// `bytes`, gzip-compressed as a recording's file is.
    pub fn compress(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
        encoder
            .write_all(bytes)
            .and_then(|()| encoder.finish())
            .expect("writing to memory does not fail")
    }

    impl Recording {
        /// The file's bytes: the JSON, gzip-compressed.
        pub fn to_gzip(&self) -> Vec<u8> {
            compress(&self.to_json())
        }

        /// Reads a file made by [`Recording::to_gzip`], refusing one that decompresses to more
        /// than [`MAX_DECOMPRESSED_BYTES`].
        pub fn from_gzip(bytes: &[u8]) -> Result<Recording, RecordingError> {
            let mut json = Vec::new();
            GzDecoder::new(bytes)
                .take(MAX_DECOMPRESSED_BYTES + 1)
                .read_to_end(&mut json)
                .map_err(|e| RecordingError::Damaged(format!("not a gzip file: {e}")))?;
            if json.len() as u64 > MAX_DECOMPRESSED_BYTES {
                return Err(RecordingError::TooLarge);
            }
            Recording::from_json(&json)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::durable::{Output, Progress, RunInput, RuntimeStatus};
    use crate::live::{ClusterSample, StorageHealth};

    fn document(id: &str) -> StatusDocument {
        StatusDocument {
            name: "ComputeOrchestrator".into(),
            instance_id: id.into(),
            runtime_status: RuntimeStatus::Completed,
            input: RunInput {
                input_count: 3,
                cost: 10,
                fail_every: 0,
            },
            custom_status: Progress {
                scheduled: 3,
                completed: 3,
                failed: 0,
                total: 3,
            },
            output: Some(Output {
                completed: 3,
                ..Output::default()
            }),
            created_time: "2026-11-26T18:00:00.000Z".into(),
            last_updated_time: "2026-11-26T18:00:03.000Z".into(),
            terminate_reason: None,
            history_events: None,
        }
    }

    fn progress(id: &str, completed: u32) -> RunProgress {
        RunProgress {
            id: id.into(),
            status: RuntimeStatus::Running,
            total: 3,
            scheduled: 3,
            completed,
            failed: 0,
            created_ms: 1,
            updated_ms: 2,
        }
    }

    fn recording() -> Recording {
        let samples = (0..4u64)
            .map(|i| RecordedSample {
                sample: Sample {
                    t_ms: 1_000 + i * 1_000,
                    seq: 10 + i,
                    queue_length: Some(3 - i.min(3)),
                    storage: StorageHealth::Ok,
                    cluster: ClusterSample {
                        source: ClusterSource::Local,
                        pods_running: u32::try_from(i).unwrap(),
                        ..ClusterSample::default()
                    },
                    completed_total: i,
                    events_poisoned: 0,
                    events: if i == 1 {
                        vec![ScaleEvent {
                            t_ms: 1_900,
                            kind: "scale_up".into(),
                            reason: "queue 3 / target 1 = 3".into(),
                        }]
                    } else {
                        Vec::new()
                    },
                },
                progress: (i > 0).then(|| progress("run1", u32::try_from(i).unwrap())),
            })
            .collect();
        Recording::new(
            document("run1"),
            Some(Profile::seed_demo()),
            Place {
                cluster: ClusterSource::Local,
                profile: Some("seed-demo".into()),
                ..Place::default()
            },
            1000,
            samples,
            9_000,
        )
    }

    #[test]
    fn json_round_trips_with_its_kind_and_version_first_class() {
        let recording = recording();
        let json: serde_json::Value = serde_json::from_slice(&recording.to_json()).unwrap();
        assert_eq!(json["kind"], KIND);
        assert_eq!(json["schemaVersion"], SCHEMA_VERSION);
        assert_eq!(json["run"]["runtimeStatus"], "Completed");
        assert_eq!(json["policy"]["name"], "seed-demo");
        assert_eq!(json["samples"][1]["progress"]["completed"], 1);
        assert_eq!(
            Recording::from_json(&recording.to_json()).unwrap(),
            recording
        );
        assert_eq!(recording.decisions().count(), 1);
        assert_eq!(recording.duration_ms(), 3_000);
    }

    #[test]
    fn another_version_is_named_in_the_error() {
        let mut json: serde_json::Value = serde_json::from_slice(&recording().to_json()).unwrap();
        json["schemaVersion"] = 2.into();
        let err = Recording::from_json(json.to_string().as_bytes()).unwrap_err();
        assert_eq!(err, RecordingError::UnsupportedVersion { found: 2 });
        assert!(err.to_string().contains("schema version 2"), "{err}");
        assert!(err.to_string().contains("reads version 1"), "{err}");
    }

    #[test]
    fn damaged_files_are_refused_with_a_reason() {
        let whole = recording().to_json();
        let cases: [(&[u8], &str); 4] = [
            (&whole[..whole.len() / 2], "not JSON"),
            (br#"{"hello":"world"}"#, "not a Scaleboard recording"),
            (
                br#"{"kind":"scaleboard-recording"}"#,
                "`schemaVersion` is missing",
            ),
            (
                br#"{"kind":"scaleboard-recording","schemaVersion":1,"samples":[]}"#,
                "missing field",
            ),
        ];
        for (bytes, reason) in cases {
            let err = Recording::from_json(bytes).unwrap_err();
            assert!(matches!(err, RecordingError::Damaged(_)), "{err:?}");
            assert!(err.to_string().contains(reason), "{err} lacks {reason}");
        }
    }

    #[test]
    fn samples_out_of_order_or_of_another_run_are_inconsistent() {
        let mut backwards = recording();
        backwards.samples.swap(1, 2);
        assert!(matches!(
            Recording::from_json(&backwards.to_json()),
            Err(RecordingError::Inconsistent(_))
        ));
        let mut foreign = recording();
        foreign.samples[2].progress = Some(progress("other", 1));
        let err = Recording::from_json(&foreign.to_json()).unwrap_err();
        assert!(err.to_string().contains("run other"), "{err}");
    }

    #[test]
    fn the_place_reads_as_a_phrase() {
        assert_eq!(
            recording().place.describe(),
            "the local model (seed-demo profile)"
        );
        let kube = Place {
            cluster: ClusterSource::Kube,
            cluster_name: Some("aks-demo".into()),
            kubernetes_version: Some("1.33".into()),
            keda_version: Some("2.17".into()),
            ..Place::default()
        };
        assert_eq!(
            kube.describe(),
            "cluster aks-demo (Kubernetes 1.33, KEDA 2.17)"
        );
    }

    #[test]
    fn controls_are_strict() {
        let control: ReplayControl =
            serde_json::from_str(r#"{"speed":2,"positionMs":1500}"#).unwrap();
        assert_eq!(control.speed, Some(2));
        assert_eq!(control.position_ms, Some(1500));
        assert!(serde_json::from_str::<ReplayControl>(r#"{"sped":2}"#).is_err());
    }

    #[cfg(feature = "gzip")]
    #[test]
    fn gzip_round_trips_and_refuses_what_is_not_gzip() {
        let recording = recording();
        let bytes = recording.to_gzip();
        assert_eq!(&bytes[..2], [0x1f, 0x8b]);
        assert_eq!(Recording::from_gzip(&bytes).unwrap(), recording);
        let err = Recording::from_gzip(&recording.to_json()).unwrap_err();
        assert!(err.to_string().contains("not a gzip file"), "{err}");
        let err = Recording::from_gzip(&bytes[..bytes.len() - 9]).unwrap_err();
        assert!(matches!(err, RecordingError::Damaged(_)), "{err:?}");
    }

    #[cfg(feature = "gzip")]
    mod properties {
        use proptest::prelude::*;

        use super::*;

        fn sample_strategy() -> impl Strategy<Value = (u64, Option<u64>, [u32; 7], Vec<String>)> {
            (
                0u64..5_000,
                proptest::option::of(any::<u64>()),
                any::<[u32; 7]>(),
                proptest::collection::vec(any::<String>(), 0..3),
            )
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]

            /// Whatever the samples hold, a recording comes back from its file unchanged.
            #[test]
            fn any_recording_round_trips_through_its_file(
                rows in proptest::collection::vec(sample_strategy(), 0..40),
                start in 0u64..u64::MAX / 4,
                completed in proptest::option::of(any::<u32>()),
            ) {
                let mut t_ms = start;
                let samples = rows
                    .into_iter()
                    .enumerate()
                    .map(|(i, (step, queue, counts, reasons))| {
                        t_ms += step;
                        RecordedSample {
                            sample: Sample {
                                t_ms,
                                seq: i as u64 + 1,
                                queue_length: queue,
                                storage: StorageHealth::Ok,
                                cluster: ClusterSample {
                                    source: ClusterSource::Local,
                                    pods_pending: counts[0],
                                    pods_starting: counts[1],
                                    pods_running: counts[2],
                                    pods_terminating: counts[3],
                                    pods_failed: counts[4],
                                    nodes_ready: counts[5],
                                    nodes_provisioning: counts[6],
                                    ..ClusterSample::default()
                                },
                                completed_total: i as u64,
                                events_poisoned: 0,
                                events: reasons
                                    .into_iter()
                                    .map(|reason| ScaleEvent {
                                        t_ms,
                                        kind: "scale_up".into(),
                                        reason,
                                    })
                                    .collect(),
                            },
                            progress: completed.map(|c| progress("run1", c)),
                        }
                    })
                    .collect();
                let recording = Recording::new(
                    document("run1"),
                    Some(Profile::demo()),
                    Place::default(),
                    1000,
                    samples,
                    start,
                );
                prop_assert_eq!(Recording::from_gzip(&recording.to_gzip()).unwrap(), recording);
            }
        }
    }
}
