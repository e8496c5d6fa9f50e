//! The live hub: one owner of the recent samples and the runs' progress, many WebSocket clients.
//!
//! Two kinds of news reach a client: a [`Sample`] once per interval (queue, pods, nodes), and the
//! runs that started, progressed or finished since the last news (`Frame::Runs`). Keeping runs
//! out of the samples keeps a new viewer's snapshot bounded by the history window alone — one
//! copy of each recent run, not one per sample.
//!
//! Every frame is serialised once, when it is published, and the same bytes go to every client
//! (shared, not copied per connection). A new viewer's snapshot is serialised once per change
//! too, however many viewers connect meanwhile, and in frames of bounded size: the newest
//! samples first ([`Frame::Snapshot`]), the older ones after ([`Frame::History`]). A WebSocket
//! connection keeps a buffer as large as the largest frame it ever sent, so bounded frames are
//! what keeps thousands of viewers in little memory. The history, the current runs and the broadcast channel are updated under one short
//! lock, so a client that subscribes gets a snapshot and then exactly the frames after it: no
//! gap, no duplicate. A client that cannot keep up never slows the others: the broadcast channel
//! is bounded, and a client that lagged is resynchronised with a fresh snapshot; one whose
//! socket stays blocked past the send timeout is disconnected.
//!
//! The hub also remembers, per sample, the runs as they were then (shared between samples while
//! unchanged): exports of a run's progress read them. That stays on the server.
//!
//! When the server replays a recording (`crate::playback`), the player feeds the hub instead of
//! the sampler: recorded samples as they were ([`Hub::publish_recorded`]), and after a seek or a
//! change of speed a whole new history ([`Hub::reset`]), which every client receives as a fresh
//! snapshot carrying the replay's state.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use futures_util::{FutureExt, Sink, SinkExt, Stream, StreamExt};
use protocol::live::{Frame, RunProgress, Sample};
use protocol::recording::ReplayStatus;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// Frames a client may fall behind by before it is resynchronised.
const CLIENT_BACKLOG: usize = 16;
/// Samples in each frame of a snapshot: one minute at the default interval, about 12 KB, so
/// the first frame draws a chart at once and no frame makes a connection's buffer large.
const SNAPSHOT_FRAME_SAMPLES: usize = 60;

/// A snapshot as it is sent: a [`Frame::Snapshot`] with the newest samples and the runs, then
/// [`Frame::History`] frames with older samples, newest part first. Serialised once and shared
/// by every client that subscribes before the next change.
pub type SnapshotFrames = Arc<[Utf8Bytes]>;

/// A sample as the hub keeps it: with the runs as they were when it was taken.
#[derive(Clone, Debug, PartialEq)]
pub struct Recorded {
    pub sample: Sample,
    /// Shared with the samples before and after while no run changed.
    pub runs: Arc<Vec<RunProgress>>,
}

/// Cheap to clone; all clones share the same history.
#[derive(Clone, Debug)]
pub struct Hub {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
    capacity: usize,
    interval_ms: u64,
    tx: broadcast::Sender<Utf8Bytes>,
}

#[derive(Debug, Default)]
struct State {
    history: VecDeque<Recorded>,
    /// The recent runs, newest first, as the engine last reported them.
    runs: Arc<Vec<RunProgress>>,
    /// Items completed across every run since the hub started: each run's increase is added
    /// once, so the total never goes back when a finished run ages out of the list.
    completed_total: u64,
    /// The snapshot as of the last change, built when the first client after it subscribes.
    snapshot: Option<SnapshotFrames>,
    /// What the replay is doing, when the hub is fed from a recording.
    replay: Option<ReplayStatus>,
}

impl Hub {
    /// A hub keeping the last `capacity` samples, taken every `interval`.
    pub fn new(capacity: usize, interval: Duration) -> Hub {
        let (tx, _) = broadcast::channel(CLIENT_BACKLOG);
        Hub {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    history: VecDeque::with_capacity(capacity.min(100_000)),
                    ..State::default()
                }),
                capacity: capacity.max(1),
                interval_ms: u64::try_from(interval.as_millis()).unwrap_or(u64::MAX),
                tx,
            }),
        }
    }

    /// Takes the engine's list of recent runs; those that started, progressed or finished since
    /// the last call go to every client as one `Frame::Runs`.
    pub fn publish_runs(&self, runs: Vec<RunProgress>) {
        let mut state = self.lock();
        let changes = changed_runs(&state.runs, &runs);
        if changes.is_empty() && state.runs.len() == runs.len() {
            return;
        }
        state.completed_total = state
            .completed_total
            .saturating_add(completed_since(&state.runs, &runs));
        state.runs = Arc::new(runs);
        state.snapshot = None;
        if !changes.is_empty() {
            // No receivers is fine: nobody is watching.
            let _ = self.inner.tx.send(encode(&Frame::Runs { runs: changes }));
        }
    }

    /// Records a sample and sends it to every client. The sample's `completed_total` is the
    /// hub's.
    pub fn publish(&self, mut sample: Sample) {
        let mut state = self.lock();
        sample.completed_total = state.completed_total;
        if state.history.len() == self.inner.capacity {
            state.history.pop_front();
        }
        let runs = state.runs.clone();
        let frame = encode(&Frame::Sample {
            sample: sample.clone(),
        });
        state.history.push_back(Recorded { sample, runs });
        state.snapshot = None;
        let _ = self.inner.tx.send(frame);
    }

    /// A snapshot (the history and the current runs) and a receiver for every frame after it.
    pub fn subscribe(&self) -> (SnapshotFrames, broadcast::Receiver<Utf8Bytes>) {
        let mut state = self.lock();
        let rx = self.inner.tx.subscribe();
        let frames = match &state.snapshot {
            Some(frames) => frames.clone(),
            None => {
                let frames = snapshot_frames(self.inner.interval_ms, &state);
                state.snapshot = Some(frames.clone());
                frames
            }
        };
        (frames, rx)
    }

    /// Milliseconds between two samples.
    pub fn interval_ms(&self) -> u64 {
        self.inner.interval_ms
    }

    /// Publishes a recorded sample with the runs as they were then, keeping its
    /// `completed_total` (a replay shows the recorded throughput, not this hub's count).
    pub fn publish_recorded(&self, sample: Sample, runs: Vec<RunProgress>) {
        let mut state = self.lock();
        let changes = changed_runs(&state.runs, &runs);
        if !changes.is_empty() || state.runs.len() != runs.len() {
            state.runs = Arc::new(runs);
        }
        if !changes.is_empty() {
            let _ = self.inner.tx.send(encode(&Frame::Runs { runs: changes }));
        }
        state.completed_total = sample.completed_total;
        if state.history.len() == self.inner.capacity {
            state.history.pop_front();
        }
        let frame = encode(&Frame::Sample {
            sample: sample.clone(),
        });
        let runs = state.runs.clone();
        state.history.push_back(Recorded { sample, runs });
        state.snapshot = None;
        let _ = self.inner.tx.send(frame);
    }

    /// Replaces the whole history (oldest first, each sample with its runs), the current runs
    /// (the last sample's) and the replay's state, and sends every client the new snapshot: a
    /// seek backwards or forwards, or a change of speed or pause.
    pub fn reset(&self, history: Vec<(Sample, Vec<RunProgress>)>, replay: Option<ReplayStatus>) {
        let mut state = self.lock();
        let skip = history.len().saturating_sub(self.inner.capacity);
        state.history.clear();
        let mut runs: Arc<Vec<RunProgress>> = Arc::new(Vec::new());
        for (sample, these) in history.into_iter().skip(skip) {
            if *runs != these {
                runs = Arc::new(these);
            }
            state.history.push_back(Recorded {
                sample,
                runs: runs.clone(),
            });
        }
        state.completed_total = state.history.back().map_or(0, |r| r.sample.completed_total);
        state.runs = runs;
        state.replay = replay;
        let frames = snapshot_frames(self.inner.interval_ms, &state);
        state.snapshot = Some(frames.clone());
        // A client that cannot take them all at once lags, and is resynchronised with the same
        // snapshot.
        for frame in frames.iter() {
            let _ = self.inner.tx.send(frame.clone());
        }
    }

    /// Every sample kept, oldest first, with its runs (for exports and replays).
    pub fn history(&self) -> Vec<Recorded> {
        self.lock().history.iter().cloned().collect()
    }

    /// The newest sample, if any.
    pub fn latest(&self) -> Option<Sample> {
        self.lock().history.back().map(|r| r.sample.clone())
    }

    /// The recent runs, newest first.
    pub fn runs(&self) -> Arc<Vec<RunProgress>> {
        self.lock().runs.clone()
    }

    /// The number of connected clients.
    pub fn clients(&self) -> usize {
        self.inner.tx.receiver_count()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Every operation under this lock leaves the state consistent, so a poisoned lock is
        // still safe to use.
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The runs in `new` that are not in `old` as they are now.
fn changed_runs(old: &[RunProgress], new: &[RunProgress]) -> Vec<RunProgress> {
    let before: HashMap<&str, &RunProgress> = old.iter().map(|r| (r.id.as_str(), r)).collect();
    new.iter()
        .filter(|run| before.get(run.id.as_str()) != Some(run))
        .cloned()
        .collect()
}

/// Items completed between `old` and `new`: each listed run's increase (a new run counts from
/// zero; a count that went down, as after a restart, counts nothing).
fn completed_since(old: &[RunProgress], new: &[RunProgress]) -> u64 {
    let before: HashMap<&str, u32> = old.iter().map(|r| (r.id.as_str(), r.completed)).collect();
    new.iter()
        .map(|run| {
            let was = before.get(run.id.as_str()).copied().unwrap_or(0);
            u64::from(run.completed.saturating_sub(was))
        })
        .sum()
}

fn encode(frame: &Frame) -> Utf8Bytes {
    Utf8Bytes::from(frame.to_json())
}

/// The frames of a snapshot of `state`: see [`SnapshotFrames`].
fn snapshot_frames(interval_ms: u64, state: &State) -> SnapshotFrames {
    let samples: Vec<&Sample> = state.history.iter().map(|r| &r.sample).collect();
    let mut parts = samples.rchunks(SNAPSHOT_FRAME_SAMPLES);
    let newest = parts.next().unwrap_or_default();
    let mut frames = vec![encode(&Frame::Snapshot {
        interval_ms,
        samples: newest.iter().map(|s| (*s).clone()).collect(),
        runs: state.runs.as_ref().clone(),
        replay: state.replay.clone(),
    })];
    frames.extend(parts.map(|older| {
        encode(&Frame::History {
            samples: older.iter().map(|s| (*s).clone()).collect(),
        })
    }));
    frames.into()
}

/// Why a client's session ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// The client closed the socket or it dropped.
    ClientGone,
    /// The client did not take a frame within the send timeout.
    TooSlow,
    /// The server is shutting down.
    Shutdown,
}

/// Serves one client: a snapshot, then each frame, resynchronising after a lag.
///
/// `connection` is one object that both takes frames (a sink) and yields `Some(())` for each
/// message the client sends, ending when the client closes (a stream). One object rather than
/// two split halves: a split socket puts a lock between its halves that every frame to every
/// viewer would take twice, and a session only ever waits on one thing at a time. Generic so
/// tests can drive it with channels.
pub async fn serve_client<C>(
    hub: Hub,
    mut connection: C,
    send_timeout: Duration,
    shutdown: CancellationToken,
) -> Ended
where
    C: Sink<Utf8Bytes> + Stream<Item = ()> + Unpin,
{
    let (snapshot, mut rx) = hub.subscribe();
    if let Err(ended) = send_all(&mut connection, &snapshot, send_timeout).await {
        return ended;
    }
    // Made once, not per frame: each waiter on the token sits in one list that every session
    // shares, and re-registering thousands of them at every broadcast contends on its lock.
    let cancelled = shutdown.cancelled();
    tokio::pin!(cancelled);
    loop {
        // Frames first: at a broadcast, thousands of sessions wake at once, and each should
        // write its frame before looking at a socket the client almost never writes to.
        let frame = tokio::select! {
            biased;
            received = rx.recv() => match received {
                Ok(frame) => frame,
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let (snapshot, fresh) = hub.subscribe();
                    rx = fresh;
                    if let Err(ended) = send_all(&mut connection, &snapshot, send_timeout).await {
                        return ended;
                    }
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => return Ended::Shutdown,
            },
            message = connection.next() => match message {
                Some(()) => continue,
                None => return Ended::ClientGone,
            },
            _ = &mut cancelled => return Ended::Shutdown,
        };
        if let Err(ended) = send(&mut connection, frame, send_timeout).await {
            return ended;
        }
    }
}

async fn send_all<C: Sink<Utf8Bytes> + Unpin>(
    outgoing: &mut C,
    frames: &[Utf8Bytes],
    limit: Duration,
) -> Result<(), Ended> {
    for frame in frames {
        send(outgoing, frame.clone(), limit).await?;
    }
    Ok(())
}

async fn send<C: Sink<Utf8Bytes> + Unpin>(
    outgoing: &mut C,
    frame: Utf8Bytes,
    limit: Duration,
) -> Result<(), Ended> {
    let send = outgoing.send(frame);
    tokio::pin!(send);
    // Nearly every send completes at once (the socket has room): try it before arming a timer,
    // which at every broadcast would otherwise be made and dropped once per viewer.
    let sent = match (&mut send).now_or_never() {
        Some(sent) => sent,
        None => match tokio::time::timeout(limit, send).await {
            Ok(sent) => sent,
            Err(_) => return Err(Ended::TooSlow),
        },
    };
    sent.map_err(|_| Ended::ClientGone)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_channel::mpsc;
    use protocol::durable::RuntimeStatus;
    use protocol::live::StorageHealth;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// A client made of two channels: the frames the server sends, and the messages the client
    /// sends (dropping that sender is the client closing).
    struct Duplex(mpsc::Sender<Utf8Bytes>, mpsc::Receiver<()>);

    impl Sink<Utf8Bytes> for Duplex {
        type Error = mpsc::SendError;
        fn poll_ready(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Result<(), Self::Error>> {
            Pin::new(&mut self.0).poll_ready(cx)
        }
        fn start_send(mut self: Pin<&mut Self>, frame: Utf8Bytes) -> Result<(), Self::Error> {
            Pin::new(&mut self.0).start_send(frame)
        }
        fn poll_flush(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Result<(), Self::Error>> {
            Pin::new(&mut self.0).poll_flush(cx)
        }
        fn poll_close(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Result<(), Self::Error>> {
            Pin::new(&mut self.0).poll_close(cx)
        }
    }

    impl Stream for Duplex {
        type Item = ();
        fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<()>> {
            Pin::new(&mut self.1).poll_next(cx)
        }
    }

    fn sample(seq: u64) -> Sample {
        Sample {
            t_ms: seq * 1000,
            seq,
            queue_length: Some(seq),
            storage: StorageHealth::Ok,
            ..Default::default()
        }
    }

    fn seqs(frame: &Frame) -> Vec<u64> {
        match frame {
            Frame::Snapshot { samples, .. } | Frame::History { samples } => {
                samples.iter().map(|s| s.seq).collect()
            }
            Frame::Sample { sample } => vec![sample.seq],
            Frame::Runs { .. } => Vec::new(),
        }
    }

    fn decode(frames: &[Utf8Bytes]) -> Vec<Frame> {
        frames
            .iter()
            .map(|f| Frame::from_json(f).unwrap())
            .collect()
    }

    /// The samples a client holds after a snapshot's frames, as the page merges them.
    fn snapshot_seqs(frames: &[Utf8Bytes]) -> Vec<u64> {
        let mut held: Vec<u64> = Vec::new();
        for frame in decode(frames) {
            match frame {
                Frame::Snapshot { .. } => held = seqs(&frame),
                Frame::History { .. } => {
                    let mut older = seqs(&frame);
                    older.extend(held);
                    held = older;
                }
                other => panic!("not part of a snapshot: {other:?}"),
            }
        }
        held
    }

    fn run(id: &str, completed: u32, status: RuntimeStatus) -> RunProgress {
        RunProgress {
            id: id.into(),
            status,
            total: 100,
            scheduled: 100,
            completed,
            failed: 0,
            created_ms: 1,
            updated_ms: 2,
        }
    }

    #[test]
    fn only_runs_that_changed_are_sent_and_completions_add_up_once() {
        let hub = Hub::new(10, Duration::from_secs(1));
        let (_, mut rx) = hub.subscribe();
        hub.publish_runs(vec![run("a", 10, RuntimeStatus::Running)]);
        hub.publish_runs(vec![
            run("b", 0, RuntimeStatus::Running),
            run("a", 10, RuntimeStatus::Running),
        ]);
        hub.publish_runs(vec![
            run("b", 5, RuntimeStatus::Running),
            run("a", 100, RuntimeStatus::Completed),
        ]);
        // Unchanged: nothing sent.
        hub.publish_runs(vec![
            run("b", 5, RuntimeStatus::Running),
            run("a", 100, RuntimeStatus::Completed),
        ]);
        // "a" ages out of the list: the total keeps its items.
        hub.publish_runs(vec![run("b", 6, RuntimeStatus::Running)]);
        hub.publish(sample(1));
        let mut frames = Vec::new();
        while let Ok(text) = rx.try_recv() {
            frames.push(Frame::from_json(&text).unwrap());
        }
        let runs: Vec<Vec<(String, u32)>> = frames
            .iter()
            .filter_map(|f| match f {
                Frame::Runs { runs } => {
                    Some(runs.iter().map(|r| (r.id.clone(), r.completed)).collect())
                }
                _ => None,
            })
            .collect();
        assert_eq!(
            runs,
            [
                vec![("a".to_string(), 10)],
                vec![("b".to_string(), 0)],
                vec![("b".to_string(), 5), ("a".to_string(), 100)],
                vec![("b".to_string(), 6)],
            ]
        );
        assert_eq!(hub.latest().unwrap().completed_total, 10 + 90 + 6);
        assert_eq!(hub.runs().len(), 1);
    }

    #[test]
    fn a_snapshot_holds_each_run_once_whatever_the_history() {
        let hub = Hub::new(3600, Duration::from_secs(1));
        let runs: Vec<RunProgress> = (0..50)
            .map(|i| run(&format!("run-{i:02}"), i, RuntimeStatus::Running))
            .collect();
        hub.publish_runs(runs.clone());
        for seq in 1..=3600 {
            hub.publish(sample(seq));
        }
        let (snapshot, _) = hub.subscribe();
        let frames = decode(&snapshot);
        let Frame::Snapshot { runs: sent, .. } = &frames[0] else {
            panic!("not a snapshot");
        };
        assert_eq!(sent, &runs);
        assert_eq!(snapshot_seqs(&snapshot), (1..=3600).collect::<Vec<_>>());
        // The runs travel once, in the first frame; the rest is history in bounded frames.
        assert!(frames[1..].iter().all(
            |f| matches!(f, Frame::History { samples } if samples.len() <= SNAPSHOT_FRAME_SAMPLES)
        ));
        // The exports still see, per sample, the runs as they were.
        let history = hub.history();
        assert_eq!(history.len(), 3600);
        assert!(history.iter().all(|r| r.runs.len() == 50));
        // One copy of the runs is shared by every sample taken while they did not change.
        assert!(Arc::ptr_eq(&history[0].runs, &history[3599].runs));
    }

    #[test]
    fn a_snapshot_starts_small_and_is_built_once_until_something_changes() {
        let hub = Hub::new(3600, Duration::from_secs(1));
        for seq in 1..=3600 {
            hub.publish(sample(seq));
        }
        let (first, _a) = hub.subscribe();
        let (second, _b) = hub.subscribe();
        // Two viewers share one serialisation.
        assert!(Arc::ptr_eq(&first, &second));
        let frames = decode(&first);
        assert_eq!(seqs(&frames[0]), (3541..=3600).collect::<Vec<_>>());
        assert_eq!(frames.len(), 3600 / SNAPSHOT_FRAME_SAMPLES);
        // Newest part first: each history frame ends where the frame before it began.
        assert_eq!(seqs(&frames[1]).last(), Some(&3540));
        let largest = first.iter().map(|f| f.len()).max().unwrap();
        let mean: usize = first.iter().map(|f| f.len()).sum::<usize>() / frames.len();
        assert!(largest < 2 * mean, "frames are of similar, bounded size");
        hub.publish(sample(3601));
        let (third, _c) = hub.subscribe();
        assert!(!Arc::ptr_eq(&first, &third));
        assert_eq!(seqs(&decode(&third)[0]).last(), Some(&3601));
    }

    #[test]
    fn a_reset_replaces_the_history_and_reaches_clients_as_a_snapshot() {
        let hub = Hub::new(3, Duration::from_secs(1));
        for seq in 1..=3 {
            hub.publish(sample(seq));
        }
        let (_, mut rx) = hub.subscribe();
        let replay = ReplayStatus {
            run_id: "a".into(),
            recorded_ms: 1,
            place: "the local model".into(),
            start_ms: 1000,
            end_ms: 9000,
            speed: 2,
            paused: false,
        };
        let running = vec![run("a", 10, RuntimeStatus::Running)];
        // Four samples into a hub of three: the newest three stay.
        hub.reset(
            (5..=8).map(|seq| (sample(seq), running.clone())).collect(),
            Some(replay.clone()),
        );
        let Frame::Snapshot {
            samples,
            runs,
            replay: sent,
            ..
        } = Frame::from_json(&rx.try_recv().unwrap()).unwrap()
        else {
            panic!("a reset sends a snapshot");
        };
        assert_eq!(samples.iter().map(|s| s.seq).collect::<Vec<_>>(), [6, 7, 8]);
        assert_eq!(runs, running);
        assert_eq!(sent, Some(replay.clone()));
        // A recorded sample keeps its own total; a changed run goes out before it.
        hub.publish_recorded(
            Sample {
                completed_total: 77,
                ..sample(9)
            },
            vec![run("a", 20, RuntimeStatus::Running)],
        );
        assert!(matches!(
            Frame::from_json(&rx.try_recv().unwrap()).unwrap(),
            Frame::Runs { .. }
        ));
        assert_eq!(hub.latest().unwrap().completed_total, 77);
        let (snapshot, _) = hub.subscribe();
        assert_eq!(snapshot_seqs(&snapshot), [7, 8, 9]);
        assert!(
            matches!(&decode(&snapshot)[0], Frame::Snapshot { replay: Some(r), .. } if *r == replay)
        );
    }

    #[test]
    fn history_keeps_the_newest_samples() {
        let hub = Hub::new(3, Duration::from_secs(1));
        for seq in 1..=5 {
            hub.publish(sample(seq));
        }
        let (snapshot, _rx) = hub.subscribe();
        assert_eq!(snapshot_seqs(&snapshot), [3, 4, 5]);
        assert_eq!(hub.latest().unwrap().seq, 5);
    }

    #[tokio::test]
    async fn a_client_gets_the_snapshot_then_each_new_sample_once() {
        let hub = Hub::new(10, Duration::from_secs(1));
        hub.publish(sample(1));
        let (out_tx, mut out_rx) = mpsc::channel::<Utf8Bytes>(64);
        let (_in_tx, in_rx) = mpsc::channel::<()>(1);
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(serve_client(
            hub.clone(),
            Duplex(out_tx, in_rx),
            Duration::from_secs(5),
            shutdown.clone(),
        ));
        let first = Frame::from_json(&out_rx.next().await.unwrap()).unwrap();
        assert_eq!(seqs(&first), [1]);
        hub.publish(sample(2));
        hub.publish(sample(3));
        for expected in [2, 3] {
            let frame = Frame::from_json(&out_rx.next().await.unwrap()).unwrap();
            assert_eq!(seqs(&frame), [expected]);
        }
        shutdown.cancel();
        assert_eq!(task.await.unwrap(), Ended::Shutdown);
    }

    #[tokio::test]
    async fn a_lagging_client_is_resynchronised_with_a_snapshot() {
        let hub = Hub::new(100, Duration::from_secs(1));
        let (out_tx, mut out_rx) = mpsc::channel::<Utf8Bytes>(0);
        let (_in_tx, in_rx) = mpsc::channel::<()>(1);
        let task = tokio::spawn(serve_client(
            hub.clone(),
            Duplex(out_tx, in_rx),
            Duration::from_secs(30),
            CancellationToken::new(),
        ));
        // Take the initial (empty) snapshot, then publish far more than the backlog while the
        // client reads nothing.
        let first = Frame::from_json(&out_rx.next().await.unwrap()).unwrap();
        assert!(seqs(&first).is_empty());
        for seq in 1..=(CLIENT_BACKLOG as u64 * 3) {
            hub.publish(sample(seq));
        }
        // Whatever arrives, the client ends up with every sample exactly once, in order.
        let mut seen: Vec<u64> = Vec::new();
        while seen.last() != Some(&(CLIENT_BACKLOG as u64 * 3)) {
            let frame = Frame::from_json(&out_rx.next().await.unwrap()).unwrap();
            match frame {
                Frame::Snapshot { samples, .. } => {
                    seen = samples.iter().map(|s| s.seq).collect();
                }
                Frame::History { samples } => {
                    let mut older: Vec<u64> = samples.iter().map(|s| s.seq).collect();
                    older.extend(seen);
                    seen = older;
                }
                Frame::Sample { sample } => seen.push(sample.seq),
                Frame::Runs { .. } => {}
            }
        }
        let expected: Vec<u64> = (1..=(CLIENT_BACKLOG as u64 * 3)).collect();
        assert_eq!(seen, expected);
        task.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_never_reads_is_dropped_and_others_keep_receiving() {
        let hub = Hub::new(10, Duration::from_secs(1));
        // The stuck client's channel has no room at all after the snapshot.
        let (stuck_tx, _stuck_rx_never_read) = mpsc::channel::<Utf8Bytes>(0);
        let (_in1, in_rx1) = mpsc::channel::<()>(1);
        let stuck = tokio::spawn(serve_client(
            hub.clone(),
            Duplex(stuck_tx, in_rx1),
            Duration::from_secs(10),
            CancellationToken::new(),
        ));
        let (good_tx, mut good_rx) = mpsc::channel::<Utf8Bytes>(64);
        let (_in2, in_rx2) = mpsc::channel::<()>(1);
        let good = tokio::spawn(serve_client(
            hub.clone(),
            Duplex(good_tx, in_rx2),
            Duration::from_secs(10),
            CancellationToken::new(),
        ));
        good_rx.next().await.unwrap();
        for seq in 1..=3 {
            hub.publish(sample(seq));
            let frame = Frame::from_json(&good_rx.next().await.unwrap()).unwrap();
            assert_eq!(seqs(&frame), [seq]);
        }
        // With time paused, the runtime advances the clock to the stuck send's deadline.
        assert_eq!(stuck.await.unwrap(), Ended::TooSlow);
        assert_eq!(hub.clients(), 1);
        good.abort();
    }

    #[tokio::test]
    async fn a_closed_client_ends_its_session() {
        let hub = Hub::new(10, Duration::from_secs(1));
        let (out_tx, _out_rx) = mpsc::channel::<Utf8Bytes>(64);
        let (in_tx, in_rx) = mpsc::channel::<()>(1);
        let task = tokio::spawn(serve_client(
            hub,
            Duplex(out_tx, in_rx),
            Duration::from_secs(5),
            CancellationToken::new(),
        ));
        drop(in_tx);
        assert_eq!(task.await.unwrap(), Ended::ClientGone);
    }
}
