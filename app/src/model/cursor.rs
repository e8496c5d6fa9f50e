//! Where a replay is in its recording, and what speed, pause and seek do to that. Pure, so the
//! same rules drive `scaleboard replay`'s player on the server and a recording opened in the
//! page (`crate::components::open_recording`): the player asks how long to wait and when to
//! move on; tests need no clock.

use std::sync::Arc;
use std::time::Duration;

use protocol::live::{RunProgress, Sample};
use protocol::recording::{Recording, ReplayControl, ReplayStatus, REPLAY_SPEEDS};

/// A replay's position, speed and pause.
#[derive(Clone, Debug)]
pub struct Cursor {
    recording: Arc<Recording>,
    /// Samples shown so far: `recording.samples[..shown]`; at least one when there is one.
    shown: usize,
    speed: u32,
    paused: bool,
}

/// What a control changed, so the player knows whether the viewers need a new history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Changed {
    Nothing,
    /// Speed or pause: the same history, a new state.
    State,
    /// A seek: a new history.
    Position,
}

impl Cursor {
    /// At the first sample, playing at `speed` (one of [`REPLAY_SPEEDS`]).
    pub fn new(recording: Arc<Recording>, speed: u32) -> Result<Cursor, String> {
        check_speed(speed)?;
        let shown = recording.samples.len().min(1);
        Ok(Cursor {
            recording,
            shown,
            speed,
            paused: false,
        })
    }

    /// The recording being replayed.
    pub fn recording(&self) -> &Recording {
        &self.recording
    }

    pub fn status(&self) -> ReplayStatus {
        let samples = &self.recording.samples;
        ReplayStatus {
            run_id: self.recording.run_id().to_string(),
            recorded_ms: self.recording.recorded_ms,
            place: self.recording.place.describe(),
            start_ms: samples.first().map_or(0, |s| s.sample.t_ms),
            end_ms: samples.last().map_or(0, |s| s.sample.t_ms),
            speed: self.speed,
            paused: self.paused,
        }
    }

    /// How long until the next sample is due at this speed; `None` while paused or at the end.
    pub fn next_wait(&self) -> Option<Duration> {
        if self.paused {
            return None;
        }
        let samples = &self.recording.samples;
        let next = samples.get(self.shown)?;
        let previous = samples.get(self.shown.checked_sub(1)?)?;
        let gap = next.sample.t_ms.saturating_sub(previous.sample.t_ms);
        Some(Duration::from_millis(gap / u64::from(self.speed)))
    }

    /// Moves on one sample and returns it with the runs as they were then; `None` at the end.
    pub fn advance(&mut self) -> Option<(Sample, Vec<RunProgress>)> {
        let next = self.recording.samples.get(self.shown)?;
        self.shown += 1;
        Some((next.sample.clone(), next.progress.iter().cloned().collect()))
    }

    /// The samples shown so far, each with the runs as they were then.
    pub fn history(&self) -> Vec<(Sample, Vec<RunProgress>)> {
        self.recording.samples[..self.shown]
            .iter()
            .map(|s| (s.sample.clone(), s.progress.iter().cloned().collect()))
            .collect()
    }

    /// Applies a control, all or nothing: a bad speed or position changes nothing and says why.
    /// Resuming at the end starts again from the beginning.
    pub fn apply(&mut self, control: &ReplayControl) -> Result<Changed, String> {
        if let Some(speed) = control.speed {
            check_speed(speed)?;
        }
        let seek_to = match control.position_ms {
            Some(position) => Some(self.shown_at(position)?),
            None => None,
        };
        let mut changed = Changed::Nothing;
        if let Some(speed) = control.speed.filter(|s| *s != self.speed) {
            self.speed = speed;
            changed = Changed::State;
        }
        if let Some(paused) = control.paused.filter(|p| *p != self.paused) {
            self.paused = paused;
            changed = Changed::State;
            if !paused && seek_to.is_none() && self.shown == self.recording.samples.len() {
                self.shown = self.recording.samples.len().min(1);
                changed = Changed::Position;
            }
        }
        if let Some(shown) = seek_to {
            self.shown = shown;
            changed = Changed::Position;
        }
        Ok(changed)
    }

    /// Samples shown once the replay is at `position_ms` from the first sample: those at or
    /// before it (the first at least).
    fn shown_at(&self, position_ms: u64) -> Result<usize, String> {
        let status = self.status();
        let duration = status.end_ms.saturating_sub(status.start_ms);
        if position_ms > duration {
            return Err(format!(
                "positionMs must be between 0 and {duration} (the recording's length), not {position_ms}"
            ));
        }
        let at = status.start_ms.saturating_add(position_ms);
        let shown = self
            .recording
            .samples
            .partition_point(|s| s.sample.t_ms <= at);
        Ok(shown.max(self.recording.samples.len().min(1)))
    }
}

fn check_speed(speed: u32) -> Result<(), String> {
    if REPLAY_SPEEDS.contains(&speed) {
        Ok(())
    } else {
        Err(format!(
            "speed must be one of {}, not {speed}",
            REPLAY_SPEEDS.map(|s| s.to_string()).join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use protocol::durable::{Progress, RunInput, RuntimeStatus, StatusDocument};
    use protocol::live::ClusterSource;
    use protocol::recording::{Place, RecordedSample};

    use super::*;

    /// A finished run of `n` samples a second apart, starting at t = 10 s.
    fn recording(n: u64) -> Arc<Recording> {
        let samples = (0..n)
            .map(|i| RecordedSample {
                sample: Sample {
                    t_ms: 10_000 + i * 1000,
                    seq: i + 1,
                    queue_length: Some(n - i),
                    completed_total: i,
                    ..Sample::default()
                },
                progress: Some(RunProgress {
                    id: "run1".into(),
                    status: RuntimeStatus::Running,
                    total: u32::try_from(n).unwrap(),
                    scheduled: u32::try_from(n).unwrap(),
                    completed: u32::try_from(i).unwrap(),
                    failed: 0,
                    created_ms: 10_000,
                    updated_ms: 10_000 + i * 1000,
                }),
            })
            .collect();
        Arc::new(Recording::new(
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
                profile: Some("seed-demo".into()),
                ..Place::default()
            },
            1000,
            samples,
            99,
        ))
    }

    fn shown(cursor: &Cursor) -> Vec<u64> {
        cursor.history().iter().map(|(s, _)| s.seq).collect()
    }

    #[test]
    fn samples_come_at_their_recorded_pace_divided_by_the_speed() {
        let mut cursor = Cursor::new(recording(3), 5).unwrap();
        assert_eq!(shown(&cursor), [1]);
        assert_eq!(cursor.next_wait(), Some(Duration::from_millis(200)));
        assert_eq!(cursor.advance().unwrap().0.seq, 2);
        assert_eq!(cursor.advance().unwrap().1[0].completed, 2);
        assert_eq!(cursor.next_wait(), None);
        assert_eq!(cursor.advance(), None);
        let status = cursor.status();
        assert_eq!((status.start_ms, status.end_ms), (10_000, 12_000));
        assert_eq!(status.place, "the local model (seed-demo profile)");
    }

    #[test]
    fn pause_stops_the_clock_and_resuming_at_the_end_starts_again() {
        let mut cursor = Cursor::new(recording(2), 1).unwrap();
        let pause = ReplayControl {
            paused: Some(true),
            ..ReplayControl::default()
        };
        assert_eq!(cursor.apply(&pause), Ok(Changed::State));
        assert_eq!(cursor.next_wait(), None);
        assert_eq!(cursor.apply(&pause), Ok(Changed::Nothing));
        cursor.advance();
        let resume = ReplayControl {
            paused: Some(false),
            ..ReplayControl::default()
        };
        assert_eq!(cursor.apply(&resume), Ok(Changed::Position));
        assert_eq!(shown(&cursor), [1]);
    }

    #[test]
    fn a_seek_shows_the_samples_up_to_the_position() {
        let mut cursor = Cursor::new(recording(10), 1).unwrap();
        let seek = |ms| ReplayControl {
            position_ms: Some(ms),
            ..ReplayControl::default()
        };
        assert_eq!(cursor.apply(&seek(4_500)), Ok(Changed::Position));
        assert_eq!(shown(&cursor), [1, 2, 3, 4, 5]);
        assert_eq!(cursor.apply(&seek(0)), Ok(Changed::Position));
        assert_eq!(shown(&cursor), [1]);
        cursor.apply(&seek(9_000)).unwrap();
        assert_eq!(shown(&cursor).len(), 10);
        assert_eq!(cursor.next_wait(), None);
    }

    #[test]
    fn bad_controls_change_nothing_and_say_why() {
        let mut cursor = Cursor::new(recording(3), 2).unwrap();
        let bad = ReplayControl {
            speed: Some(3),
            paused: Some(true),
            position_ms: None,
        };
        let err = cursor.apply(&bad).unwrap_err();
        assert!(err.contains("1, 2, 5, 10"), "{err}");
        let past = ReplayControl {
            speed: Some(10),
            position_ms: Some(2_001),
            ..ReplayControl::default()
        };
        let err = cursor.apply(&past).unwrap_err();
        assert!(err.contains("between 0 and 2000"), "{err}");
        let status = cursor.status();
        assert_eq!((status.speed, status.paused), (2, false));
        assert!(Cursor::new(recording(3), 0).is_err());
    }

    #[test]
    fn an_empty_recording_is_a_replay_that_is_over() {
        let mut cursor = Cursor::new(recording(0), 1).unwrap();
        assert_eq!(cursor.next_wait(), None);
        assert_eq!(cursor.advance(), None);
        assert!(cursor.history().is_empty());
        assert!(cursor
            .apply(&ReplayControl {
                position_ms: Some(0),
                ..ReplayControl::default()
            })
            .is_ok());
    }
}
