//! How many runs this process knows, by status: what the metrics export, counted without
//! copying any run's document.

use orchestration::RuntimeStatus;

use super::engine::Engine;

impl Engine {
    /// The runs in memory that are not purged, counted by status.
    pub async fn runs_by_status(&self) -> Vec<(RuntimeStatus, u64)> {
        let entries: Vec<_> = self.runs().values().cloned().collect();
        let mut counts: Vec<(RuntimeStatus, u64)> = Vec::new();
        for entry in entries {
            let entry = entry.lock().await;
            if entry.purged {
                continue;
            }
            let status = entry.doc.state.runtime_status();
            match counts.iter_mut().find(|(s, _)| *s == status) {
                Some((_, n)) => *n += 1,
                None => counts.push((status, 1)),
            }
        }
        counts
    }
}
