//! The live hub: one owner of the recent samples, many WebSocket clients.
//!
//! The history and the broadcast channel are updated under one short lock, so a client that
//! subscribes gets a snapshot and then exactly the samples after it: no gap, no duplicate. A
//! client that cannot keep up never slows the others: the broadcast channel is bounded, and a
//! client that lagged is resynchronised with a fresh snapshot; one whose socket stays blocked
//! past the send timeout is disconnected.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{Sink, SinkExt, Stream, StreamExt};
use protocol::live::{Frame, Sample};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// Samples a client may fall behind by before it is resynchronised.
const CLIENT_BACKLOG: usize = 16;

/// Cheap to clone; all clones share the same history.
#[derive(Clone, Debug)]
pub struct Hub {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    history: Mutex<VecDeque<Sample>>,
    capacity: usize,
    interval_ms: u64,
    tx: broadcast::Sender<Sample>,
}

impl Hub {
    /// A hub keeping the last `capacity` samples, taken every `interval`.
    pub fn new(capacity: usize, interval: Duration) -> Hub {
        let (tx, _) = broadcast::channel(CLIENT_BACKLOG);
        Hub {
            inner: Arc::new(Inner {
                history: Mutex::new(VecDeque::with_capacity(capacity)),
                capacity: capacity.max(1),
                interval_ms: u64::try_from(interval.as_millis()).unwrap_or(u64::MAX),
                tx,
            }),
        }
    }

    /// Records a sample and sends it to every client.
    pub fn publish(&self, sample: Sample) {
        let mut history = self.lock();
        if history.len() == self.inner.capacity {
            history.pop_front();
        }
        history.push_back(sample.clone());
        // No receivers is fine: nobody is watching.
        let _ = self.inner.tx.send(sample);
    }

    /// A snapshot of the history and a receiver for every sample after it.
    pub fn subscribe(&self) -> (Frame, broadcast::Receiver<Sample>) {
        let history = self.lock();
        let rx = self.inner.tx.subscribe();
        let frame = Frame::Snapshot {
            interval_ms: self.inner.interval_ms,
            samples: history.iter().cloned().collect(),
        };
        (frame, rx)
    }

    /// Every sample kept, oldest first (for exports).
    pub fn history(&self) -> Vec<Sample> {
        self.lock().iter().cloned().collect()
    }

    /// The newest sample, if any.
    pub fn latest(&self) -> Option<Sample> {
        self.lock().back().cloned()
    }

    /// The number of connected clients.
    pub fn clients(&self) -> usize {
        self.inner.tx.receiver_count()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Sample>> {
        // A panic while holding this lock cannot leave the deque inconsistent (every operation
        // on it is a single call), so a poisoned lock is still safe to use.
        self.inner
            .history
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
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

/// Serves one client: a snapshot, then each sample, resynchronising after a lag.
///
/// Generic over the socket halves so tests can drive it with channels. `incoming` yields
/// `Some(())` for each message the client sends and ends when the client closes.
pub async fn serve_client<O, I>(
    hub: Hub,
    mut outgoing: O,
    mut incoming: I,
    send_timeout: Duration,
    shutdown: CancellationToken,
) -> Ended
where
    O: Sink<String> + Unpin,
    I: Stream<Item = ()> + Unpin,
{
    let (snapshot, mut rx) = hub.subscribe();
    if let Err(ended) = send(&mut outgoing, snapshot, send_timeout).await {
        return ended;
    }
    loop {
        let frame = tokio::select! {
            _ = shutdown.cancelled() => return Ended::Shutdown,
            message = incoming.next() => match message {
                Some(()) => continue,
                None => return Ended::ClientGone,
            },
            received = rx.recv() => match received {
                Ok(sample) => Frame::Sample { sample },
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let (snapshot, fresh) = hub.subscribe();
                    rx = fresh;
                    snapshot
                }
                Err(broadcast::error::RecvError::Closed) => return Ended::Shutdown,
            },
        };
        if let Err(ended) = send(&mut outgoing, frame, send_timeout).await {
            return ended;
        }
    }
}

async fn send<O: Sink<String> + Unpin>(
    outgoing: &mut O,
    frame: Frame,
    limit: Duration,
) -> Result<(), Ended> {
    match tokio::time::timeout(limit, outgoing.send(frame.to_json())).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(Ended::ClientGone),
        Err(_) => Err(Ended::TooSlow),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_channel::mpsc;
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

    fn seqs(frame: &Frame) -> Vec<u64> {
        match frame {
            Frame::Snapshot { samples, .. } => samples.iter().map(|s| s.seq).collect(),
            Frame::Sample { sample } => vec![sample.seq],
        }
    }

    #[test]
    fn history_keeps_the_newest_samples() {
        let hub = Hub::new(3, Duration::from_secs(1));
        for seq in 1..=5 {
            hub.publish(sample(seq));
        }
        let (snapshot, _rx) = hub.subscribe();
        assert_eq!(seqs(&snapshot), [3, 4, 5]);
        assert_eq!(hub.latest().unwrap().seq, 5);
    }

    #[tokio::test]
    async fn a_client_gets_the_snapshot_then_each_new_sample_once() {
        let hub = Hub::new(10, Duration::from_secs(1));
        hub.publish(sample(1));
        let (out_tx, mut out_rx) = mpsc::channel::<String>(64);
        let (_in_tx, in_rx) = mpsc::channel::<()>(1);
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(serve_client(
            hub.clone(),
            out_tx,
            in_rx,
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
        let (out_tx, mut out_rx) = mpsc::channel::<String>(0);
        let (_in_tx, in_rx) = mpsc::channel::<()>(1);
        let task = tokio::spawn(serve_client(
            hub.clone(),
            out_tx,
            in_rx,
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
                Frame::Sample { sample } => seen.push(sample.seq),
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
        let (stuck_tx, _stuck_rx_never_read) = mpsc::channel::<String>(0);
        let (_in1, in_rx1) = mpsc::channel::<()>(1);
        let stuck = tokio::spawn(serve_client(
            hub.clone(),
            stuck_tx,
            in_rx1,
            Duration::from_secs(10),
            CancellationToken::new(),
        ));
        let (good_tx, mut good_rx) = mpsc::channel::<String>(64);
        let (_in2, in_rx2) = mpsc::channel::<()>(1);
        let good = tokio::spawn(serve_client(
            hub.clone(),
            good_tx,
            in_rx2,
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
        let (out_tx, _out_rx) = mpsc::channel::<String>(64);
        let (in_tx, in_rx) = mpsc::channel::<()>(1);
        let task = tokio::spawn(serve_client(
            hub,
            out_tx,
            in_rx,
            Duration::from_secs(5),
            CancellationToken::new(),
        ));
        drop(in_tx);
        assert_eq!(task.await.unwrap(), Ended::ClientGone);
    }
}
