//! `scaleboard replay FILE`: a recording ([`protocol::recording::Recording`]) served as the
//! dashboard, with no storage and no cluster.
//!
//! A [`Player`] takes the live hub's place of the sampler: it publishes the recorded samples at
//! their recorded pace divided by the speed, and after a seek, a pause or a change of speed it
//! gives the hub a new history, which every viewer receives as a fresh snapshot carrying the
//! replay's state (the page shows the banner and the controls from it). The page, its charts,
//! tiles, runs table and timeline are the live dashboard's own: they read the same feed.
//!
//! - [`app::model::cursor`]: position, speed, pause and seek (pure; shared with the page, which
//!   replays a recording opened from a file the same way);
//! - [`routes`]: the replay's router — the pages, the feed, the recorded run's status document,
//!   the recorded policy, and `POST /api/replay/control` (operator role, as every change);
//! - this module: the player task, and [`serve`], which wires them and returns a handle.

pub mod routes;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use protocol::recording::{Recording, ReplayControl, ReplayStatus};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::durable::ApiSettings;
use crate::guard::HostPolicy;
use crate::live::Hub;
use app::model::cursor::{Changed, Cursor};

/// Feeds the hub from a recording. Cheap to clone; clones control the same replay.
#[derive(Clone, Debug)]
pub struct Player {
    cursor: Arc<Mutex<Cursor>>,
    changed: Arc<Notify>,
    hub: Hub,
}

impl Player {
    /// A player at the recording's first sample, playing at `speed`; the hub gets that first
    /// sample and the replay's state at once. Call [`Player::play`] to move on.
    pub fn new(recording: Arc<Recording>, speed: u32, hub: Hub) -> Result<Player, String> {
        let cursor = Cursor::new(recording, speed)?;
        hub.reset(cursor.history(), Some(cursor.status()));
        Ok(Player {
            cursor: Arc::new(Mutex::new(cursor)),
            changed: Arc::new(Notify::new()),
            hub,
        })
    }

    /// What the replay is doing now.
    pub fn status(&self) -> ReplayStatus {
        self.lock().status()
    }

    /// Applies a control; viewers see its effect through the feed. A bad control changes
    /// nothing and says why.
    pub fn control(&self, control: &ReplayControl) -> Result<ReplayStatus, String> {
        let mut cursor = self.lock();
        let changed = cursor.apply(control)?;
        let status = cursor.status();
        if changed != Changed::Nothing {
            // Under the cursor's lock, so a sample the player publishes cannot slip in between.
            self.hub.reset(cursor.history(), Some(status.clone()));
            self.changed.notify_one();
        }
        Ok(status)
    }

    /// Publishes samples as they fall due until `shutdown`; waits for a control while paused
    /// or at the end.
    pub async fn play(self, shutdown: CancellationToken) {
        loop {
            let wait = self.lock().next_wait();
            let Some(wait) = wait else {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = self.changed.notified() => continue,
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                // A control restarts the wait at the new speed or position.
                _ = self.changed.notified() => continue,
                _ = tokio::time::sleep(wait) => {
                    let mut cursor = self.lock();
                    if let Some((sample, runs)) = cursor.advance() {
                        self.hub.publish_recorded(sample, runs);
                    }
                }
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cursor> {
        // Every cursor operation leaves it consistent, so a poisoned lock is still safe.
        self.cursor
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Everything a replay server needs.
#[derive(Debug)]
pub struct ReplaySettings {
    pub recording: Arc<Recording>,
    pub speed: u32,
    /// The roles' keys (limits on runs do not apply: a replay starts none).
    pub api: ApiSettings,
    pub hosts: HostPolicy,
    pub site_root: PathBuf,
}

impl ReplaySettings {
    /// The settings `scaleboard replay` serves with: the recording and speed given, and the
    /// serving flags checked as the live server checks them.
    pub fn from_config(
        config: &crate::config::Config,
        recording: Recording,
        speed: u32,
    ) -> anyhow::Result<ReplaySettings> {
        let hosts = crate::startup::exposure(config)?;
        Ok(ReplaySettings {
            recording: Arc::new(recording),
            speed,
            api: ApiSettings {
                operator_key: config.api_key.clone(),
                viewer_key: config.viewer_key.clone(),
                trust_forwarded: config.trust_forwarded_headers,
                public_url: config.public_url.clone(),
                max_input_count: config.max_input_count,
                max_cost: config.max_cost,
                default_cost: config.default_cost(),
            },
            hosts,
            site_root: config.site_root.clone(),
        })
    }
}

/// A replay being served.
#[derive(Debug)]
pub struct Replaying {
    addr: SocketAddr,
    player: Player,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    serving: JoinHandle<std::io::Result<()>>,
}

/// Reads a recording file, saying which file and why when it cannot be replayed.
pub fn load(path: &std::path::Path) -> anyhow::Result<Recording> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Recording::from_gzip(&bytes).with_context(|| format!("{} cannot be replayed", path.display()))
}

/// Starts serving the replay on `listener`.
pub async fn serve(settings: ReplaySettings, listener: TcpListener) -> anyhow::Result<Replaying> {
    let addr = listener.local_addr().context("reading the bound address")?;
    let shutdown = CancellationToken::new();
    let tracker = TaskTracker::new();
    let interval = Duration::from_millis(settings.recording.interval_ms.max(1));
    // The whole recording fits in the history, so a seek to its end shows all of it.
    let hub = Hub::new(settings.recording.samples.len().max(1), interval);
    let player = Player::new(settings.recording.clone(), settings.speed, hub.clone())
        .map_err(anyhow::Error::msg)?;
    tracker.spawn(player.clone().play(shutdown.clone()));
    let state = routes::ReplayState {
        hub,
        player: player.clone(),
        recording: settings.recording,
        heavy: crate::heavy::HeavyWork::new(2),
        api: settings.api,
        leptos: crate::app::leptos_options(&settings.site_root, addr),
        shutdown: shutdown.clone(),
    };
    let router = routes::router(state, settings.hosts);
    let serving = tokio::spawn(crate::serve::serve(
        listener,
        router,
        crate::serve::Limits::default(),
        shutdown.clone(),
    ));
    Ok(Replaying {
        addr,
        player,
        shutdown,
        tracker,
        serving,
    })
}

impl Replaying {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The replay's controls, as `POST /api/replay/control` reaches them.
    pub fn player(&self) -> &Player {
        &self.player
    }

    /// Cancel this to begin a graceful shutdown (what Ctrl-C and SIGTERM do).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Begins shutdown and waits until the server and the player have stopped.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.stopped().await
    }

    /// Waits until shutdown was asked for and everything has stopped.
    pub async fn stopped(self) -> anyhow::Result<()> {
        let served = self.serving.await.context("the HTTP server task failed")?;
        self.shutdown.cancelled().await;
        self.tracker.close();
        self.tracker.wait().await;
        served.context("serving HTTP")
    }
}

#[cfg(test)]
mod tests {
    use protocol::durable::{Progress, RunInput, RuntimeStatus, StatusDocument};
    use protocol::live::{ClusterSource, Frame, RunProgress, Sample};
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

    fn frames(
        rx: &mut tokio::sync::broadcast::Receiver<axum::extract::ws::Utf8Bytes>,
    ) -> Vec<Frame> {
        let mut frames = Vec::new();
        while let Ok(text) = rx.try_recv() {
            frames.push(Frame::from_json(&text).unwrap());
        }
        frames
    }

    fn last_seq(hub: &Hub) -> u64 {
        hub.latest().map_or(0, |s| s.seq)
    }

    #[tokio::test(start_paused = true)]
    async fn the_player_keeps_the_recorded_pace_at_the_chosen_speed() {
        let hub = Hub::new(100, Duration::from_secs(1));
        let player = Player::new(recording(10), 10, hub.clone()).unwrap();
        assert_eq!(last_seq(&hub), 1);
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(player.clone().play(shutdown.clone()));
        // Samples a second apart at 10×: one every 100 ms of (paused, simulated) time.
        tokio::time::sleep(Duration::from_millis(450)).await;
        assert_eq!(last_seq(&hub), 5);
        let (_, mut rx) = hub.subscribe();
        // Pause: the feed gets the new state at once, and nothing more arrives.
        let status = player
            .control(&ReplayControl {
                paused: Some(true),
                ..ReplayControl::default()
            })
            .unwrap();
        assert!(status.paused);
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(last_seq(&hub), 5);
        let sent = frames(&mut rx);
        assert!(matches!(
            sent.as_slice(),
            [Frame::Snapshot { replay: Some(r), .. }] if r.paused
        ));
        // Seek back to the start while paused, then resume at 2×.
        player
            .control(&ReplayControl {
                position_ms: Some(0),
                paused: Some(false),
                speed: Some(2),
            })
            .unwrap();
        assert_eq!(hub.history().len(), 1);
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        assert_eq!(last_seq(&hub), 3);
        // To the end: the player waits for a control.
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(last_seq(&hub), 10);
        shutdown.cancel();
        task.await.unwrap();
    }
}
