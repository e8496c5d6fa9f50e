//! A recording opened in the page ("Open recording…", or a file dropped on the dashboard),
//! replayed in the browser.
//!
//! Why in the browser rather than uploaded: the file is the viewer's, and replaying it changes
//! nothing on the server, so it needs no role, no upload limit on the server and no state there
//! that other viewers would see. The browser's own `DecompressionStream('gzip')` inflates it
//! (no gzip code in the wasm), [`protocol::recording`] checks it exactly as `scaleboard replay`
//! does, and the same [`Cursor`] moves through it. While it is shown, the live feed's frames are
//! set aside ([`LiveState::from_file`]); reloading the page returns to the live dashboard.

use std::sync::Arc;

use leptos::prelude::*;
use protocol::live::Frame;
use protocol::recording::{Recording, ReplayControl};

use crate::cluster::ClusterInfo;
use crate::live::{Connection, LiveState};
use crate::model::cursor::{Changed, Cursor};

/// The largest file accepted before inflating it. Recordings compress about tenfold and the
/// format caps them at [`protocol::recording::MAX_DECOMPRESSED_BYTES`] inflated, so a genuine
/// recording is well under this; a larger file is refused before any of it is read.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// The page's replay of a recording opened from a file. Cheap to copy.
#[derive(Clone, Copy, Debug)]
pub struct LocalReplay {
    live: LiveState,
    cluster: ClusterInfo,
    cursor: StoredValue<Option<Cursor>>,
    /// Raised by every control and every new file, so a timer set before it does nothing.
    generation: StoredValue<u64>,
    /// The file's name, for the banner.
    pub file_name: RwSignal<Option<String>>,
    /// Why the last file could not be opened.
    pub error: RwSignal<Option<String>>,
    /// A file is being read.
    pub reading: RwSignal<bool>,
}

impl LocalReplay {
    pub fn new(live: LiveState, cluster: ClusterInfo) -> LocalReplay {
        LocalReplay {
            live,
            cluster,
            cursor: StoredValue::new(None),
            generation: StoredValue::new(0),
            file_name: RwSignal::new(None),
            error: RwSignal::new(None),
            reading: RwSignal::new(false),
        }
    }

    /// Whether the page shows a recording opened from a file.
    pub fn active(&self) -> bool {
        self.live.from_file.get()
    }

    /// Replays `recording` from its first sample at 1×, in place of the live feed; the top bar
    /// names the recorded policy and the badge says "replay".
    pub fn start(&self, recording: Recording, file_name: String) {
        self.cluster.source.set(Some(recording.place.cluster));
        self.cluster.profile.set(recording.policy.clone());
        let cursor = match Cursor::new(Arc::new(recording), 1) {
            Ok(cursor) => cursor,
            Err(message) => {
                self.error.set(Some(message));
                return;
            }
        };
        self.cursor.set_value(Some(cursor));
        self.error.set(None);
        self.file_name.set(Some(file_name));
        self.live.from_file.set(true);
        self.live.connection.set(Connection::Replay);
        self.show_position();
        self.schedule();
    }

    /// Applies a control from the replay bar; a bad one changes nothing and says why.
    pub fn control(&self, control: &ReplayControl) -> Result<(), String> {
        let changed = self
            .cursor
            .try_update_value(|cursor| match cursor {
                Some(cursor) => cursor.apply(control),
                None => Err("no recording is open".to_string()),
            })
            .unwrap_or_else(|| Err("the page is closing".to_string()))?;
        if changed != Changed::Nothing {
            self.show_position();
            self.schedule();
        }
        Ok(())
    }

    /// The samples up to the cursor, as the server's replay sends them after a seek: one
    /// snapshot with the replay's state.
    fn show_position(&self) {
        let frame = self.cursor.with_value(|cursor| {
            cursor.as_ref().map(|cursor| {
                let history = cursor.history();
                let runs = history.last().map(|(_, runs)| runs.clone());
                Frame::Snapshot {
                    interval_ms: cursor.recording().interval_ms,
                    samples: history.into_iter().map(|(sample, _)| sample).collect(),
                    runs: runs.unwrap_or_default(),
                    replay: Some(cursor.status()),
                }
            })
        });
        if let Some(frame) = frame {
            self.live.show(frame);
        }
    }

    /// Sets a timer for the next sample, cancelling any earlier one.
    fn schedule(&self) {
        self.generation.update_value(|n| *n += 1);
        let Some(wait) = self
            .cursor
            .with_value(|cursor| cursor.as_ref().and_then(Cursor::next_wait))
        else {
            return;
        };
        #[cfg(feature = "hydrate")]
        {
            let this = *self;
            let mine = self.generation.get_value();
            set_timeout(
                move || {
                    if this.generation.try_get_value() == Some(mine) {
                        this.advance();
                    }
                },
                wait,
            );
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = wait;
    }

    /// Shows the next sample, then waits for the one after.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn advance(&self) {
        let next = self
            .cursor
            .try_update_value(|cursor| cursor.as_mut().and_then(Cursor::advance))
            .flatten();
        if let Some((sample, runs)) = next {
            self.live.show(Frame::Sample { sample });
            if !runs.is_empty() {
                self.live.show(Frame::Runs { runs });
            }
        }
        self.schedule();
    }
}

/// Reading a file in the browser: inflating it, bounded, with `DecompressionStream`.
#[cfg(feature = "hydrate")]
pub mod browser {
    use js_sys::{Array, Function, Reflect, Uint8Array};
    use protocol::recording::{Recording, RecordingError, MAX_DECOMPRESSED_BYTES};
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;
    use web_sys::{File, ReadableStreamDefaultReader, ReadableWritablePair};

    use super::MAX_FILE_BYTES;

    /// Reads `file` as a recording, or says why it is not one this page can replay.
    pub async fn read(file: &File) -> Result<Recording, String> {
        let size = file.size() as u64;
        if size > MAX_FILE_BYTES {
            return Err(format!(
                "{} is {} MB; a recording is at most {} MB",
                file.name(),
                size / (1024 * 1024),
                MAX_FILE_BYTES / (1024 * 1024)
            ));
        }
        let json = inflate(file).await.map_err(|e| e.to_string())?;
        Recording::from_json(&json).map_err(|e| e.to_string())
    }

    /// The file gunzipped by the browser, refusing more than the format's limit.
    async fn inflate(file: &File) -> Result<Vec<u8>, RecordingError> {
        let damaged = |what: &str, e: JsValue| {
            let detail = e
                .dyn_ref::<js_sys::Error>()
                .map(|e| String::from(e.message()))
                .or_else(|| e.as_string())
                .unwrap_or_default();
            RecordingError::Damaged(format!("{what}: {detail}"))
        };
        // `DecompressionStream` is standard in every current browser but still behind an
        // unstable flag in web-sys: reached through `Reflect` instead.
        let global = js_sys::global();
        let constructor: Function = Reflect::get(&global, &"DecompressionStream".into())
            .ok()
            .and_then(|c| c.dyn_into().ok())
            .ok_or_else(|| {
                RecordingError::Damaged("this browser cannot decompress gzip".to_string())
            })?;
        let inflater = Reflect::construct(&constructor, &Array::of1(&"gzip".into()))
            .map_err(|e| damaged("this browser cannot decompress gzip", e))?;
        let pair: ReadableWritablePair = inflater.unchecked_into();
        let reader: ReadableStreamDefaultReader = file
            .stream()
            .pipe_through(&pair)
            .get_reader()
            .unchecked_into();
        let mut json = Vec::new();
        loop {
            let chunk = JsFuture::from(reader.read())
                .await
                .map_err(|e| damaged("not a gzip file", e))?;
            let done = Reflect::get(&chunk, &"done".into())
                .ok()
                .and_then(|d| d.as_bool())
                .unwrap_or(true);
            if done {
                return Ok(json);
            }
            let bytes = Reflect::get(&chunk, &"value".into())
                .ok()
                .and_then(|v| v.dyn_into::<Uint8Array>().ok())
                .ok_or_else(|| RecordingError::Damaged("unreadable data".to_string()))?;
            let start = json.len();
            if (start as u64).saturating_add(u64::from(bytes.length())) > MAX_DECOMPRESSED_BYTES {
                // Stops the inflating: nothing more of the file is read.
                let _ = reader.cancel();
                return Err(RecordingError::TooLarge);
            }
            json.resize(start + bytes.length() as usize, 0);
            bytes.copy_to(&mut json[start..]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::durable::{Progress, RunInput, RuntimeStatus, StatusDocument};
    use protocol::live::{ClusterSource, RunProgress, Sample};
    use protocol::recording::{Place, RecordedSample};

    fn recording(n: u64) -> Recording {
        let samples = (0..n)
            .map(|i| RecordedSample {
                sample: Sample {
                    t_ms: 10_000 + i * 1000,
                    seq: i + 1,
                    queue_length: Some(n - i),
                    ..Sample::default()
                },
                progress: Some(RunProgress {
                    id: "run1".into(),
                    status: RuntimeStatus::Running,
                    total: 3,
                    scheduled: 3,
                    completed: u32::try_from(i).unwrap(),
                    failed: 0,
                    created_ms: 10_000,
                    updated_ms: 10_000 + i * 1000,
                }),
            })
            .collect();
        Recording::new(
            StatusDocument {
                name: "ComputeOrchestrator".into(),
                instance_id: "run1".into(),
                runtime_status: RuntimeStatus::Completed,
                input: RunInput {
                    input_count: 3,
                    cost: 0,
                    fail_every: 0,
                },
                custom_status: Progress::default(),
                output: None,
                created_time: "2026-11-26T18:00:00.000Z".into(),
                last_updated_time: "2026-11-26T18:00:10.000Z".into(),
                terminate_reason: None,
                history_events: None,
            },
            None,
            Place {
                cluster: ClusterSource::Local,
                ..Place::default()
            },
            500,
            samples,
            99,
        )
    }

    fn seqs(live: &LiveState) -> Vec<u64> {
        live.samples
            .with_untracked(|s| s.iter().map(|s| s.seq).collect())
    }

    #[test]
    fn an_opened_recording_replaces_the_feed_and_obeys_the_controls() {
        // Signals live in an owner's arena (a server build turns on leptos' sandboxed
        // arenas, which then requires one).
        let owner = leptos::prelude::Owner::new();
        owner.with(|| {
            let live = LiveState::new();
            let cluster = ClusterInfo::new();
            let local = LocalReplay::new(live, cluster);
            live.apply(Frame::Sample {
                sample: Sample {
                    seq: 500,
                    ..Sample::default()
                },
            });
            local.start(recording(10), "run.json.gz".into());
            assert!(live.from_file.get_untracked());
            assert_eq!(live.connection.get_untracked(), Connection::Replay);
            assert_eq!(cluster.source.get_untracked(), Some(ClusterSource::Local));
            assert_eq!(seqs(&live), [1]);
            assert_eq!(live.interval_ms.get_untracked(), 500);
            let status = live.replay.get_untracked().unwrap();
            assert_eq!((status.run_id.as_str(), status.speed), ("run1", 1));
            // The server's frames no longer reach the charts.
            live.apply(Frame::Sample {
                sample: Sample {
                    seq: 501,
                    ..Sample::default()
                },
            });
            assert_eq!(seqs(&live), [1]);

            let seek = ReplayControl {
                position_ms: Some(3_500),
                paused: Some(true),
                speed: Some(5),
            };
            local.control(&seek).unwrap();
            assert_eq!(seqs(&live), [1, 2, 3, 4]);
            let status = live.replay.get_untracked().unwrap();
            assert_eq!((status.speed, status.paused), (5, true));
            assert_eq!(live.runs.get_untracked()[0].completed, 3);
            // The next sample, as its timer would show it.
            local.advance();
            assert_eq!(seqs(&live), [1, 2, 3, 4, 5]);

            let past = ReplayControl {
                position_ms: Some(60_000),
                ..ReplayControl::default()
            };
            assert!(local
                .control(&past)
                .unwrap_err()
                .contains("between 0 and 9000"));
            assert_eq!(seqs(&live), [1, 2, 3, 4, 5]);
        });
    }
}
