//! Owning runs between servers, with the blob lease of each run's document.
//!
//! - A server leases a run's document when it starts the run, and renews every lease it holds
//!   every third of `run_lease`. A run whose owner finishes it is released at once.
//! - Every third of `run_lease` each server also lists the stored runs and asks for the lease
//!   of every unfinished run it does not own: held by a live owner, the answer is a refusal;
//!   free (its owner died, or was stopped), the lease is granted and this server takes the run
//!   over: it counts what the run's outputs show and fans out what is not scheduled. A standby
//!   therefore takes over at most a lease period and a third after the owner's last renewal.
//! - A server that stops gives its leases up, so that the next one need not wait for them to
//!   expire (a rolling update).
//! - Runs this server does not own are read again from storage every `status_max_age` while
//!   they are unfinished, so its status answers and its live feed follow the owner's within a
//!   sample interval; runs purged elsewhere are forgotten when the listing no longer has them.
//!   A status request reads any run again once its copy is that old (`Engine::get`), the
//!   owner's too: an operator's request on another server breaks the owner's lease, and the
//!   owner learns it from that read, from its next write, or at its next renewal.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use orchestration::RunId;
use storage::leases::Acquired;

use super::engine::{Engine, EngineError, STATUS_READ_DEADLINE};

impl Engine {
    /// Takes the lease of a run this server does not own: breaking the current owner's first
    /// when `force` (an operator's request made here), else only when it is free. Returns
    /// whether this server owns the run now; the run's document is read again either way it
    /// is granted. A finished run's lease is given back at once: there is nothing to own.
    ///
    /// Boxed: taking a run over resumes it, which applies events, which may claim a run; the
    /// box's type tells the compiler that this cycle is `Send`.
    pub(super) fn claim<'a>(
        &'a self,
        id: &'a RunId,
        force: bool,
    ) -> BoxFuture<'a, Result<bool, EngineError>> {
        Box::pin(self.claim_now(id, force))
    }

    async fn claim_now(&self, id: &RunId, force: bool) -> Result<bool, EngineError> {
        let store = &self.inner.store;
        if force {
            store.break_lease(id).await?;
        }
        let asked = Instant::now();
        match store
            .acquire(id, &self.inner.owner, self.inner.config.run_lease)
            .await?
        {
            Acquired::Yes => {}
            Acquired::Held => return Ok(false),
            Acquired::Missing => return Err(EngineError::NotFound(id.to_string())),
        }
        self.inner.owned.hold(id, asked);
        let entry = self.entry(id).await?;
        let mut entry = entry.lock().await;
        let deadline = self.inner.config.storage_deadline;
        if let Err(e) = self.refresh(id, &mut entry, deadline).await {
            drop(entry);
            self.release(id).await;
            return Err(e);
        }
        let finished = entry.doc.state.is_terminal();
        let progress = entry.doc.state.progress();
        drop(entry);
        if finished {
            self.release(id).await;
            return Ok(true);
        }
        self.inner.metrics.run_takeovers.inc();
        tracing::info!(
            run = %id,
            owner = %self.inner.owner,
            forced = force,
            scheduled = progress.scheduled,
            completed = progress.completed,
            total = progress.total,
            "took the run over"
        );
        if !force {
            self.inner.tracker.spawn(self.clone().resume(id.clone()));
        }
        Ok(true)
    }

    /// Goes on with a run taken over: counts the outputs written while nobody owned it, then
    /// fans out what is not scheduled.
    async fn resume(self, id: RunId) {
        if let Err(e) = self.reconcile(&id, None).await {
            tracing::warn!(run = %id, "cannot reconcile outputs: {e}");
        }
        self.spawn_fan_out(id);
    }

    /// Gives a run's lease up (a failure only delays another server by one lease period).
    pub(super) async fn release(&self, id: &RunId) {
        self.inner.owned.give_up(id);
        if let Err(e) = self.inner.store.release(id, &self.inner.owner).await {
            tracing::warn!(run = %id, "cannot release the run's lease: {e}; it expires by itself");
        }
    }

    /// Until shutdown, every third of the lease period: renews the leases held, and takes the
    /// unfinished runs whose lease is free. On shutdown, gives every lease up once the fan-outs
    /// have stopped.
    pub(super) async fn lease_loop(self) {
        let every = self.inner.owned.renew_every();
        loop {
            tokio::select! {
                _ = self.inner.shutdown.cancelled() => break,
                _ = tokio::time::sleep(every) => {}
            }
            self.renew_leases(every).await;
            self.take_free_runs().await;
            self.inner
                .metrics
                .runs_owned
                .set(i64::try_from(self.inner.owned.count()).unwrap_or(i64::MAX));
        }
        self.release_all(every).await;
    }

    async fn renew_leases(&self, deadline: Duration) {
        let owned = &self.inner.owned;
        for id in owned.ids() {
            let asked = Instant::now();
            match self
                .inner
                .store
                .renew(&id, &self.inner.owner, deadline)
                .await
            {
                Ok(true) => owned.hold(&id, asked),
                Ok(false) => {
                    if owned.give_up(&id) {
                        tracing::warn!(run = %id, "another server holds the run's lease now; this server stopped acting on it");
                    }
                }
                Err(e) => tracing::warn!(run = %id, "cannot renew the run's lease: {e}"),
            }
        }
        for id in owned.expire(Instant::now()) {
            tracing::warn!(run = %id, "the run's lease was not renewed in time; this server stopped acting on it");
        }
    }

    /// Lists the stored runs: forgets those gone (purged by another server), learns those
    /// started elsewhere, and takes over every unfinished one whose lease is free.
    pub(super) async fn take_free_runs(&self) {
        let listed_at = Instant::now();
        let ids = match self.inner.store.ids().await {
            Ok(ids) => ids,
            Err(e) => {
                tracing::warn!("cannot list stored runs: {e}");
                return;
            }
        };
        self.forget_missing(&ids.iter().cloned().collect(), listed_at)
            .await;
        for id in ids {
            if self.inner.shutdown.is_cancelled() {
                return;
            }
            if self.owns(&id) {
                continue;
            }
            let known = self
                .inner
                .progress
                .borrow()
                .get(&id)
                .map(|run| run.status.is_terminal());
            let finished = match known {
                Some(finished) => finished,
                // Started by another server: read once, so that the lists show it.
                None => match self.get(&id).await {
                    Ok(doc) => doc.state.is_terminal(),
                    Err(_) => continue,
                },
            };
            if finished {
                continue;
            }
            match self.claim(&id, false).await {
                Ok(_) | Err(EngineError::NotFound(_)) => {}
                Err(e) => tracing::warn!(run = %id, "cannot take the run over: {e}"),
            }
        }
    }

    /// Forgets the runs this server knows that the listing started at `listed_at` does not
    /// have; one that was read or written after it (a run just started) is kept.
    async fn forget_missing(&self, stored: &HashSet<RunId>, listed_at: Instant) {
        let known: Vec<_> = self
            .runs()
            .iter()
            .filter(|(id, _)| !stored.contains(*id))
            .map(|(id, entry)| (id.clone(), entry.clone()))
            .collect();
        for (id, entry) in known {
            let mut entry = entry.lock().await;
            if !entry.purged && entry.loaded < listed_at {
                tracing::info!(run = %id, "run purged by another server");
                self.forget(&id, &mut entry);
            }
        }
    }

    /// Gives every lease up, after waiting (a third of the lease period at most) for the
    /// fan-outs to record what they wrote: an item written but not recorded would be queued
    /// again by the next owner.
    async fn release_all(&self, patience: Duration) {
        let deadline = Instant::now() + patience;
        while Instant::now() < deadline && !self.fanning_out_none() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for id in self.inner.owned.ids() {
            self.release(&id).await;
        }
    }

    fn fanning_out_none(&self) -> bool {
        self.inner
            .fanning_out
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
    }

    /// Every `status_max_age` until shutdown, reads again each unfinished run this server does
    /// not own, so that its answers and its live feed follow the owner's.
    pub(super) async fn refresh_loop(self) {
        let every = self
            .inner
            .config
            .status_max_age
            .max(Duration::from_millis(100));
        loop {
            tokio::select! {
                _ = self.inner.shutdown.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
            let others: Vec<RunId> = self
                .inner
                .progress
                .borrow()
                .values()
                .filter(|run| !run.status.is_terminal())
                .filter_map(|run| RunId::parse(&run.id).ok())
                .filter(|id| !self.owns(id))
                .collect();
            for id in others {
                let Some(entry) = self.runs().get(&id).cloned() else {
                    continue;
                };
                let mut entry = entry.lock().await;
                if entry.purged || self.owns(&id) || entry.loaded.elapsed() < every {
                    continue;
                }
                if let Err(e) = self.refresh(&id, &mut entry, STATUS_READ_DEADLINE).await {
                    // Not before the next interval: a down storage is not asked once per run
                    // per second for the whole of its deadline.
                    entry.loaded = Instant::now();
                    tracing::debug!(run = %id, "cannot refresh a run: {e}");
                }
            }
        }
    }
}
