//! Which runs this server owns: those whose document's blob lease it holds, each with when the
//! lease was last granted or renewed.
//!
//! Pure bookkeeping, so that its rule is tested without storage. The rule: the service ends a
//! lease `period` after the request that granted or renewed it was sent, so a run counts as
//! owned only for two thirds of that — renewals go every third — leaving the last third for
//! the writes already under way to land or be refused. Past that, this server stops fanning the
//! run out by itself, before the service could hand the lease to another server; its writes of
//! the run's document name the lease, so a write after a loss is refused by storage anyway.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use orchestration::RunId;

/// The runs whose lease this server holds.
#[derive(Debug)]
pub(super) struct Owned {
    period: Duration,
    /// When each lease was last granted or renewed (the request's start).
    held: Mutex<HashMap<RunId, Instant>>,
}

impl Owned {
    pub(super) fn new(period: Duration) -> Owned {
        Owned {
            period,
            held: Mutex::new(HashMap::new()),
        }
    }

    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<RunId, Instant>> {
        // Every critical section is one map operation: a poisoned lock is still consistent.
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How often leases are renewed and free runs looked for: a third of the period.
    pub(super) fn renew_every(&self) -> Duration {
        self.period / 3
    }

    /// The lease of `id` was granted or renewed by a request sent at `at`.
    pub(super) fn hold(&self, id: &RunId, at: Instant) {
        self.held().insert(id.clone(), at);
    }

    /// The lease of `id` is gone (lost, released, or its run finished); whether it was held.
    pub(super) fn give_up(&self, id: &RunId) -> bool {
        self.held().remove(id).is_some()
    }

    /// Whether this server may act on `id` at `now`.
    pub(super) fn owns(&self, id: &RunId, now: Instant) -> bool {
        self.held()
            .get(id)
            .is_some_and(|at| now.saturating_duration_since(*at) < self.trusted())
    }

    /// Forgets the leases not renewed in time, returning their runs: from now on another
    /// server may hold them.
    pub(super) fn expire(&self, now: Instant) -> Vec<RunId> {
        let trusted = self.trusted();
        let mut expired = Vec::new();
        self.held().retain(|id, at| {
            let fresh = now.saturating_duration_since(*at) < trusted;
            if !fresh {
                expired.push(id.clone());
            }
            fresh
        });
        expired
    }

    /// The runs held now.
    pub(super) fn ids(&self) -> Vec<RunId> {
        self.held().keys().cloned().collect()
    }

    /// How many runs are held.
    pub(super) fn count(&self) -> usize {
        self.held().len()
    }

    /// How long after a grant the lease is trusted: two thirds of the period.
    fn trusted(&self) -> Duration {
        self.period.saturating_mul(2) / 3
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(name: &str) -> RunId {
        RunId::parse(name).unwrap()
    }

    #[test]
    fn a_lease_is_trusted_for_two_thirds_of_its_period() {
        let owned = Owned::new(Duration::from_secs(30));
        let t0 = Instant::now();
        let a = run("run-a");
        assert!(!owned.owns(&a, t0));
        owned.hold(&a, t0);
        assert!(owned.owns(&a, t0 + Duration::from_secs(19)));
        assert!(!owned.owns(&a, t0 + Duration::from_secs(20)));
        assert_eq!(owned.renew_every(), Duration::from_secs(10));
        // A renewal moves the window.
        owned.hold(&a, t0 + Duration::from_secs(10));
        assert!(owned.owns(&a, t0 + Duration::from_secs(29)));
    }

    #[test]
    fn leases_not_renewed_in_time_are_forgotten() {
        let owned = Owned::new(Duration::from_secs(15));
        let t0 = Instant::now();
        let (a, b) = (run("run-a"), run("run-b"));
        owned.hold(&a, t0);
        owned.hold(&b, t0 + Duration::from_secs(5));
        assert_eq!(owned.expire(t0 + Duration::from_secs(12)), vec![a]);
        assert_eq!(owned.ids(), vec![b.clone()]);
        assert_eq!(owned.count(), 1);
        assert!(owned.give_up(&b));
        assert!(!owned.give_up(&b));
        assert_eq!(owned.count(), 0);
    }
}
