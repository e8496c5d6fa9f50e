//! When each item's message went to the work queue, kept until the item completes, so that the
//! latency from message to completion can be measured. Pure; the engine feeds it.
//!
//! Kept in memory only (four bytes per item of the runs going on): an item sent before a restart
//! has no entry afterwards and its latency is not observed, which undercounts the histogram
//! rather than reporting a latency that includes the downtime as if it were queueing.

use std::collections::HashMap;

use orchestration::RunId;

/// Send times of the items of the runs going on.
#[derive(Debug, Default)]
pub struct Enqueued {
    runs: HashMap<RunId, Times>,
}

/// One run's send times, as offsets from its first send (plus one; zero means "none"), indexed
/// by item.
#[derive(Debug)]
struct Times {
    base_ms: u64,
    offsets: Vec<u32>,
}

impl Enqueued {
    /// Item `item` of `run` was sent at `at_ms`. A later send (a retry, a resumed fan-out)
    /// replaces an earlier one: the latency counts from the message that was worked.
    pub fn sent(&mut self, run: &RunId, item: u32, at_ms: u64) {
        let times = self.runs.entry(run.clone()).or_insert(Times {
            base_ms: at_ms,
            offsets: Vec::new(),
        });
        let Ok(index) = usize::try_from(item) else {
            return;
        };
        if times.offsets.len() <= index {
            times.offsets.resize(index + 1, 0);
        }
        let offset = at_ms.saturating_sub(times.base_ms).saturating_add(1);
        times.offsets[index] = u32::try_from(offset).unwrap_or(u32::MAX);
    }

    /// When item `item` of `run` was sent, forgetting it: each item is taken once, so a
    /// duplicate completion is not observed twice.
    pub fn take(&mut self, run: &RunId, item: u32) -> Option<u64> {
        let times = self.runs.get_mut(run)?;
        let slot = times.offsets.get_mut(usize::try_from(item).ok()?)?;
        let offset = std::mem::take(slot);
        (offset != 0).then(|| times.base_ms + u64::from(offset - 1))
    }

    /// Forgets a run that finished or was purged.
    pub fn forget(&mut self, run: &RunId) {
        self.runs.remove(run);
    }

    /// Runs with send times kept.
    pub fn runs(&self) -> usize {
        self.runs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(n: u128) -> RunId {
        RunId::from_random(n)
    }

    #[test]
    fn each_item_is_taken_once_with_its_latest_send() {
        let mut enqueued = Enqueued::default();
        let (a, b) = (run(1), run(2));
        enqueued.sent(&a, 3, 10_000);
        enqueued.sent(&a, 0, 10_005);
        enqueued.sent(&b, 0, 20_000);
        enqueued.sent(&a, 3, 10_500);
        assert_eq!(enqueued.take(&a, 3), Some(10_500));
        assert_eq!(enqueued.take(&a, 3), None);
        assert_eq!(enqueued.take(&a, 0), Some(10_005));
        assert_eq!(enqueued.take(&a, 1), None, "never sent");
        assert_eq!(enqueued.take(&a, 99), None, "beyond what was sent");
        assert_eq!(enqueued.take(&run(3), 0), None, "unknown run");
        assert_eq!(enqueued.take(&b, 0), Some(20_000));
    }

    #[test]
    fn a_clock_going_back_and_finished_runs_are_harmless() {
        let mut enqueued = Enqueued::default();
        let a = run(1);
        enqueued.sent(&a, 0, 5_000);
        enqueued.sent(&a, 1, 4_000);
        assert_eq!(enqueued.take(&a, 1), Some(5_000));
        enqueued.forget(&a);
        assert_eq!(enqueued.runs(), 0);
        assert_eq!(enqueued.take(&a, 0), None);
    }
}
