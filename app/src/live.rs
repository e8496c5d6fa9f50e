//! The live feed as the page sees it: recent samples and the state of the connection.
//!
//! [`LiveState`] is plain reactive state, the same on server and browser; in the browser,
//! [`connect`] opens `/ws/live` and keeps it open, reconnecting with backoff. A reconnect
//! receives a fresh snapshot of the server's history, so the charts have no gap.

use leptos::prelude::*;
use protocol::live::{Frame, RunProgress, Sample};
use protocol::recording::ReplayStatus;

/// Samples kept in the page: one hour at one sample a second.
pub const MAX_SAMPLES: usize = 3600;

/// What the connection badge shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connection {
    /// Before the first socket opened (and in the server-rendered HTML).
    Connecting,
    /// The socket is open and samples arrive.
    Live,
    /// The socket closed; a new one is being opened.
    Reconnecting,
    /// A recording opened in the page is shown instead of the feed (`crate::local_replay`).
    Replay,
}

impl Connection {
    pub fn as_str(self) -> &'static str {
        match self {
            Connection::Connecting => "connecting",
            Connection::Live => "live",
            Connection::Reconnecting => "reconnecting",
            Connection::Replay => "replay",
        }
    }
}

/// The page's copy of the live feed.
#[derive(Clone, Copy, Debug)]
pub struct LiveState {
    pub samples: RwSignal<Vec<Sample>>,
    /// The newest sample; changes once per sample, so views of the current values need not
    /// re-read the history.
    pub latest: Memo<Option<Sample>>,
    pub connection: RwSignal<Connection>,
    pub interval_ms: RwSignal<u64>,
    /// The recent runs as the feed last described them, newest first.
    pub runs: RwSignal<Vec<RunProgress>>,
    /// Runs started from this page, shown from the moment the server accepted them until the
    /// feed lists them.
    pub started: RwSignal<Vec<RunProgress>>,
    /// What the server's replay is doing, when it replays a recording instead of watching a
    /// live system.
    pub replay: RwSignal<Option<ReplayStatus>>,
    /// A recording opened in this page is shown (`crate::local_replay`): the server's frames
    /// are set aside until the page is reloaded, so they cannot mix with the recording's.
    pub from_file: RwSignal<bool>,
}

impl LiveState {
    pub fn new() -> Self {
        let samples = RwSignal::new(Vec::<Sample>::new());
        LiveState {
            samples,
            latest: Memo::new(move |_| samples.with(|s| s.last().cloned())),
            connection: RwSignal::new(Connection::Connecting),
            interval_ms: RwSignal::new(1000),
            runs: RwSignal::new(Vec::new()),
            started: RwSignal::new(Vec::new()),
            replay: RwSignal::new(None),
            from_file: RwSignal::new(false),
        }
    }

    /// Applies one frame from the server, unless a recording opened in the page is shown.
    pub fn apply(&self, frame: Frame) {
        if !self.from_file.get_untracked() {
            self.show(frame);
        }
    }

    /// Applies one frame, from the server or from a recording replayed in the page.
    pub fn show(&self, frame: Frame) {
        match frame {
            Frame::Snapshot {
                interval_ms,
                samples,
                runs,
                replay,
            } => {
                self.interval_ms.set(interval_ms);
                self.samples.set(samples);
                self.runs.set(runs);
                self.replay.set(replay);
            }
            Frame::Sample { sample } => self.samples.update(|samples| push(samples, sample)),
            Frame::Runs { runs } => self.runs.update(|known| merge_runs(known, runs)),
            Frame::History { samples: older } => {
                self.samples.update(|samples| prepend(samples, older))
            }
        }
    }

    /// Whether the numbers on screen are current: the socket is open, or a recording opened
    /// in the page is shown (its numbers are current for the replay, and the banner says so).
    pub fn is_live(&self) -> bool {
        matches!(self.connection.get(), Connection::Live | Connection::Replay)
    }
}

impl Default for LiveState {
    fn default() -> Self {
        Self::new()
    }
}

/// Appends a sample, ignoring one already seen (a resent sample after a resync) and keeping
/// at most [`MAX_SAMPLES`].
fn push(samples: &mut Vec<Sample>, sample: Sample) {
    if samples.last().is_some_and(|last| last.seq >= sample.seq) {
        return;
    }
    samples.push(sample);
    if samples.len() > MAX_SAMPLES {
        let excess = samples.len() - MAX_SAMPLES;
        samples.drain(..excess);
    }
}

/// Puts older samples (a snapshot's history, arriving after it) before those held, ignoring
/// any not older than the first held, and keeping at most [`MAX_SAMPLES`], the newest.
fn prepend(samples: &mut Vec<Sample>, older: Vec<Sample>) {
    let first = samples.first().map_or(u64::MAX, |s| s.seq);
    let room = MAX_SAMPLES.saturating_sub(samples.len());
    let mut older: Vec<Sample> = older.into_iter().filter(|s| s.seq < first).collect();
    let skip = older.len().saturating_sub(room);
    older.drain(..skip);
    older.append(samples);
    *samples = older;
}

/// Takes runs that changed: each replaces the run with its id, or joins the list; newest first.
fn merge_runs(known: &mut Vec<RunProgress>, changed: Vec<RunProgress>) {
    for run in changed {
        match known.iter_mut().find(|r| r.id == run.id) {
            Some(slot) => *slot = run,
            None => known.push(run),
        }
    }
    RunProgress::sort_newest_first(known);
}

/// Opens the live socket and keeps it open for the life of the page.
#[cfg(feature = "hydrate")]
pub fn connect(state: LiveState) {
    socket::open(state, 0);
}

#[cfg(feature = "hydrate")]
mod socket {
    use std::time::Duration;

    use leptos::prelude::{GetUntracked, Set};
    use protocol::live::{Frame, LIVE_PATH};
    use wasm_bindgen::prelude::*;
    use wasm_bindgen::JsCast;
    use web_sys::{CloseEvent, MessageEvent, WebSocket};

    use super::{Connection, LiveState};

    /// Backoff after a failed or dropped connection: 0.5 s doubling to 5 s, so a restarted
    /// server is found again within seconds without hammering it.
    fn backoff(attempt: u32) -> Duration {
        Duration::from_millis((500u64 << attempt.min(4)).min(5000))
    }

    fn url() -> Option<String> {
        let location = web_sys::window()?.location();
        let scheme = if location.protocol().ok()? == "https:" {
            "wss"
        } else {
            "ws"
        };
        Some(format!("{scheme}://{}{LIVE_PATH}", location.host().ok()?))
    }

    pub(super) fn open(state: LiveState, attempt: u32) {
        let Some(socket) = url().and_then(|url| WebSocket::new(&url).ok()) else {
            retry(state, attempt);
            return;
        };

        // While a recording opened in the page is shown, the badge keeps saying so.
        let on_open = Closure::<dyn FnMut()>::new(move || {
            if !state.from_file.get_untracked() {
                state.connection.set(Connection::Live);
            }
        });
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            if let Some(text) = event.data().as_string() {
                match Frame::from_json(&text) {
                    Ok(frame) => state.apply(frame),
                    Err(e) => leptos::logging::warn!("ignoring a malformed frame: {e}"),
                }
            }
        });
        let opened_at = attempt;
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |_event: CloseEvent| {
            // A socket that had opened starts the backoff afresh; one that never opened backs
            // off further.
            let was_live = state.connection.get_untracked() == Connection::Live;
            if !state.from_file.get_untracked() {
                state.connection.set(Connection::Reconnecting);
            }
            retry(state, if was_live { 0 } else { opened_at + 1 });
        });
        socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        // The callbacks live as long as their socket, which is closed only by the network; the
        // few bytes per reconnect are not worth a registry.
        on_open.forget();
        on_message.forget();
        on_close.forget();
    }

    fn retry(state: LiveState, attempt: u32) {
        leptos::prelude::set_timeout(move || open(state, attempt), backoff(attempt));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::live::StorageHealth;

    fn sample(seq: u64) -> Sample {
        Sample {
            t_ms: seq * 1000,
            seq,
            queue_length: Some(seq),
            storage: StorageHealth::Ok,
            ..Default::default()
        }
    }

    #[test]
    fn duplicates_and_old_samples_are_ignored() {
        let mut samples = vec![sample(1), sample(2)];
        push(&mut samples, sample(2));
        push(&mut samples, sample(1));
        push(&mut samples, sample(3));
        assert_eq!(samples.iter().map(|s| s.seq).collect::<Vec<_>>(), [1, 2, 3]);
    }

    #[test]
    fn history_frames_go_before_the_snapshot_and_stay_bounded() {
        let mut samples: Vec<Sample> = (100..=160).map(sample).collect();
        // A sample that arrived meanwhile, then history: the overlap is ignored.
        push(&mut samples, sample(161));
        prepend(&mut samples, (40..=100).map(sample).collect());
        let seqs: Vec<u64> = samples.iter().map(|s| s.seq).collect();
        assert_eq!(seqs, (40..=161).collect::<Vec<_>>());
        // Past the page's limit, the oldest are the ones left out.
        let full = MAX_SAMPLES as u64;
        let mut samples: Vec<Sample> = (full..full + 60).map(sample).collect();
        prepend(&mut samples, (1..full).map(sample).collect());
        assert_eq!(samples.len(), MAX_SAMPLES);
        assert_eq!(samples[0].seq, 60);
        assert_eq!(samples.last().unwrap().seq, full + 59);
    }

    #[test]
    fn history_is_bounded() {
        let mut samples = Vec::new();
        for seq in 1..=(MAX_SAMPLES as u64 + 10) {
            push(&mut samples, sample(seq));
        }
        assert_eq!(samples.len(), MAX_SAMPLES);
        assert_eq!(samples[0].seq, 11);
    }
}
