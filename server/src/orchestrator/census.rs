//! How many runs this process knows, by status: what the metrics export, counted from the
//! progress the engine publishes — no run's lock is taken, so a run whose document write waits
//! on slow storage never holds up the sampler that calls this.

use orchestration::RuntimeStatus;

use super::engine::Engine;

impl Engine {
    /// The runs known and not purged, counted by status.
    pub fn runs_by_status(&self) -> Vec<(RuntimeStatus, u64)> {
        let runs = self.watch_progress();
        let mut counts: Vec<(RuntimeStatus, u64)> = Vec::new();
        for run in runs.borrow().values() {
            match counts.iter_mut().find(|(s, _)| *s == run.status) {
                Some((_, n)) => *n += 1,
                None => counts.push((run.status, 1)),
            }
        }
        counts
    }
}
