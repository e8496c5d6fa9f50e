//! The engine: runs in memory, and the one way a run's state changes (`Engine::apply`:
//! apply events, persist once). Its background work lives beside it, each in an `impl Engine`
//! of its own module: `fan_out`, `fan_in`, `recovery` and `reconcile`.
//!
//! Between servers, a run's fan-out and fan-in belong to the one that holds its document's
//! blob lease (`lease`, `ownership`): only the owner writes the document, naming the lease, so
//! a server that lost it is refused by storage and stops acting on the run. Any server answers
//! for any run; for one it does not own it reads the document from storage when its copy is
//! older than `status_max_age`.
//!
//! Each run sits behind its own async lock; every change is applied to the pure state machine
//! and persisted (ETag-conditioned) before anything that depends on it happens: an event
//! message is deleted only after the state that includes it is stored, an item counts as
//! scheduled only after its input blob and its message are written. A crash between those steps
//! repeats work (idempotent: same blob names, same content, items tracked in bitsets) and never
//! loses it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex as SyncMutex};
use std::time::{Duration, Instant};

use futures_util::stream;
use futures_util::StreamExt;
use orchestration::{apply_all, Command, Event, RunId, RunState, RuntimeStatus};
use protocol::live::RunProgress;
use storage::{names, Storage};
use tokio::sync::{watch, Mutex};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::ownership::Owned;
use super::store::{Etag, RunStore, StoreError};
use super::{RunDocument, RunInput};
use plumbing::clock::now_ms;
use storage::leases::Acquired;

/// The longest a status answer waits to read a run again; past it, the copy in memory is shown
/// (storage is down, and the dashboard's badge says so).
pub(super) const STATUS_READ_DEADLINE: Duration = Duration::from_secs(2);

/// Tuning of the engine.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Items written (input blob + message) at the same time.
    pub fan_out_concurrency: usize,
    /// Items scheduled between two writes of the run document.
    pub fan_out_batch: usize,
    /// At most this many of a run's items are scheduled and not yet finished: the fan-out
    /// waits for items to finish before it queues more. It bounds what a run keeps in the
    /// queue (Azurite's queue costs grow with its length) and what a termination leaves for
    /// the workers to drop; KEDA scales on the queue, so it is best kept at or above
    /// `maxReplicaCount × queueLength`.
    pub fan_out_window: u32,
    /// Largest `inputCount` accepted.
    pub max_input_count: u32,
    /// Items not yet accounted for (completed or failed) across the runs still going, past
    /// which a new run is refused: what one server lets the queue and the workers owe.
    pub max_queued_items: u64,
    /// How long a received event message stays hidden while its batch is applied.
    pub event_visibility: Duration,
    /// The delivery on which an event message that still cannot be applied is parked on
    /// `item-events-poison` (as the worker's `max_dequeue` for `work-items-poison`).
    pub event_max_dequeue: u32,
    /// How often each unfinished run's outputs are listed to count those whose events were
    /// missed.
    pub reconcile_interval: Duration,
    /// The longest any one storage call of the engine may take (a run document's write, a
    /// blob read, a deletion), so that nothing waits on a hung endpoint for as long as the
    /// SDK would keep retrying.
    pub storage_deadline: Duration,
    /// How long a run's lease lasts (15–60 s): how long a standby waits before it takes over
    /// the run of a server that died. Renewed every third of it.
    pub run_lease: Duration,
    /// The oldest a copy of a run this server does not own may be when it is shown: the
    /// sample interval, so two servers never disagree for longer than one sample.
    pub status_max_age: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            fan_out_concurrency: 32,
            fan_out_batch: 500,
            fan_out_window: 1_000,
            max_input_count: 100_000,
            max_queued_items: 200_000,
            event_visibility: Duration::from_secs(60),
            event_max_dequeue: 5,
            reconcile_interval: Duration::from_secs(30),
            storage_deadline: Duration::from_secs(30),
            run_lease: Duration::from_secs(30),
            status_max_age: Duration::from_secs(1),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("no run with id {0}")]
    NotFound(String),
    #[error("a run with id {0} already exists; choose another id, or purge that run first")]
    AlreadyExists(String),
    #[error("{queued} items are still owed by the runs going on; a run of {asked} more would pass the limit of {limit}: wait for them to finish, or terminate one")]
    Busy { queued: u64, asked: u32, limit: u64 },
    #[error("run {id} is {status:?}; only a finished run (Completed, Failed or Terminated) can be purged")]
    NotTerminal { id: String, status: RuntimeStatus },
    #[error("run {id} is {status:?} and takes no more events")]
    Finished { id: String, status: RuntimeStatus },
    #[error("run {id}: {message}")]
    Rejected { id: String, message: String },
    #[error("run {0} is owned by another server now; try again")]
    NotOwner(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Storage(#[from] storage::Error),
}

/// Which runs an event may be applied to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Accept {
    /// Any run: the machine itself ignores what comes after the end (events from queues).
    Any,
    /// Only runs that are not finished (requests from the API, answered 410 otherwise).
    ActiveOnly,
}

/// A run as this process knows it, behind its own lock.
#[derive(Debug)]
pub(super) struct Entry {
    pub(super) doc: RunDocument,
    pub(super) etag: Etag,
    /// Set under the lock when the run is purged, so a task holding the entry sees it is gone.
    pub(super) purged: bool,
    /// When `doc` was last read from or written to storage.
    pub(super) loaded: Instant,
}

/// The engine. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Engine {
    pub(super) inner: Arc<Inner>,
}

/// What the engine's modules share (fan-out, fan-in and recovery reach it as `self.inner`).
#[derive(Debug)]
pub(super) struct Inner {
    pub(super) storage: Storage,
    pub(super) store: RunStore,
    pub(super) config: EngineConfig,
    pub(super) shutdown: CancellationToken,
    /// Every task the engine spawns, so that shutdown can wait for them.
    pub(super) tracker: TaskTracker,
    /// Counts what the engine does (see `crate::metrics`).
    pub(super) metrics: crate::metrics::Metrics,
    pub(super) runs: SyncMutex<HashMap<RunId, Arc<Mutex<Entry>>>>,
    /// The runs whose fan-out task is going on: at most one per run.
    pub(super) fanning_out: SyncMutex<HashSet<RunId>>,
    /// Event messages parked on `item-events-poison` since the engine started.
    pub(super) events_poisoned: AtomicU64,
    /// Every run's progress as last stored, updated under the run's lock after each change, so
    /// that the live feed reads it without taking a run's lock (which a write to storage may
    /// hold) and without touching storage.
    pub(super) progress: watch::Sender<BTreeMap<RunId, RunProgress>>,
    /// This server's lease id, the same for every run it owns: who owns a run, in the logs.
    pub(super) owner: String,
    /// The runs whose lease this server holds.
    pub(super) owned: Owned,
}

impl Engine {
    /// Creates the engine; its background work waits for [`Engine::start_loops`]. Every task
    /// it spawns goes on `tracker`; what it does is counted in `metrics`.
    pub fn new(
        storage: Storage,
        config: EngineConfig,
        shutdown: CancellationToken,
        tracker: TaskTracker,
        metrics: crate::metrics::Metrics,
    ) -> Engine {
        Engine {
            inner: Arc::new(Inner {
                store: RunStore::new(storage.clone(), config.storage_deadline),
                storage,
                owned: Owned::new(config.run_lease),
                config,
                shutdown,
                tracker,
                metrics,
                runs: SyncMutex::new(HashMap::new()),
                fanning_out: SyncMutex::new(HashSet::new()),
                events_poisoned: AtomicU64::new(0),
                progress: watch::Sender::new(BTreeMap::new()),
                owner: storage::leases::new_lease_id(),
            }),
        }
    }

    /// Starts the background work, once the queues and containers exist: recovering stored
    /// runs (retrying until storage answers), reading the events queue and reconciling the
    /// unfinished runs' outputs.
    pub fn start_loops(&self) {
        self.inner.tracker.spawn(self.clone().recover());
        self.inner.tracker.spawn(self.clone().fan_in());
        let interval = self
            .inner
            .config
            .reconcile_interval
            .max(Duration::from_millis(100));
        self.inner
            .tracker
            .spawn(self.clone().reconcile_loop(interval));
        self.inner.tracker.spawn(self.clone().lease_loop());
        self.inner.tracker.spawn(self.clone().refresh_loop());
    }

    /// This server's lease id: who it is when it owns a run.
    pub fn owner(&self) -> &str {
        &self.inner.owner
    }

    /// Whether this server owns the run now (holds its lease, renewed in time).
    pub(super) fn owns(&self, id: &RunId) -> bool {
        self.inner.owned.owns(id, Instant::now())
    }

    /// Starts a run under a new random id: persists it, then fans its items out in the
    /// background.
    pub async fn start_run(&self, name: &str, input: RunInput) -> Result<RunDocument, EngineError> {
        let id = RunId::from_random(rand::random::<u128>());
        self.start_run_as(name, input, id).await
    }

    /// Starts a run under an id the caller chose (Durable Functions'
    /// `…/orchestrators/{name}/{instanceId}`); `AlreadyExists` when a run has that id.
    #[tracing::instrument(name = "run.start", skip_all, fields(run = %id, items = input.input_count))]
    pub async fn start_run_as(
        &self,
        name: &str,
        input: RunInput,
        id: RunId,
    ) -> Result<RunDocument, EngineError> {
        if self.runs().contains_key(&id) {
            return Err(EngineError::AlreadyExists(id.to_string()));
        }
        let queued = self.queued_items().await;
        let limit = self.inner.config.max_queued_items;
        if queued.saturating_add(u64::from(input.input_count)) > limit {
            return Err(EngineError::Busy {
                queued,
                asked: input.input_count,
                limit,
            });
        }
        let state = RunState::new(id.clone(), name, input.input_count, now_ms());
        let doc = RunDocument { input, state };
        let etag = match self.inner.store.create(&doc).await {
            Err(StoreError::Conflict(_)) => return Err(EngineError::AlreadyExists(id.to_string())),
            other => other?,
        };
        let entry = Arc::new(Mutex::new(Entry {
            doc: doc.clone(),
            etag,
            purged: false,
            loaded: Instant::now(),
        }));
        self.runs().insert(id.clone(), entry);
        self.publish(&doc);
        tracing::info!(run = %id, items = doc.input.input_count, cost = doc.input.cost, owner = %self.inner.owner, "run started");
        // The lease first: the run is fanned out by whoever holds it. Another server's look for
        // free runs may get it between the two calls; then that server fans it out.
        let asked = Instant::now();
        match self
            .inner
            .store
            .acquire(&id, &self.inner.owner, self.inner.config.run_lease)
            .await
        {
            Ok(Acquired::Yes) => {
                self.inner.owned.hold(&id, asked);
                self.spawn_fan_out(id);
            }
            Ok(_) => {
                tracing::info!(run = %id, "another server took the new run's lease first; it fans the run out")
            }
            Err(e) => {
                tracing::warn!(run = %id, "cannot lease the new run yet: {e}; it is taken over once storage answers")
            }
        }
        Ok(doc)
    }

    /// A run's document, read again from storage when the copy in memory is older than
    /// `status_max_age`: even the owner's copy, since an operator's request made on another
    /// server breaks the owner's lease and writes the run without telling it. A document
    /// written by someone else while this server believed it owned the run means exactly that:
    /// it stops acting on the run at once rather than at its next renewal.
    pub async fn get(&self, id: &RunId) -> Result<RunDocument, EngineError> {
        let entry = self.entry(id).await?;
        let mut entry = entry.lock().await;
        if entry.purged {
            return Err(EngineError::NotFound(id.to_string()));
        }
        if entry.loaded.elapsed() >= self.inner.config.status_max_age {
            let ours = entry.etag.clone();
            match self.refresh(id, &mut entry, STATUS_READ_DEADLINE).await {
                Ok(()) if entry.etag != ours && self.inner.owned.give_up(id) => {
                    tracing::warn!(run = %id, "another server wrote the run; this server stopped acting on it");
                }
                Ok(()) => {}
                Err(e @ EngineError::NotFound(_)) => return Err(e),
                // Storage is down: the last copy, as the dashboard's badge says, and not read
                // again before `status_max_age`, so that answers do not each wait the deadline.
                Err(e) => {
                    entry.loaded = Instant::now();
                    tracing::debug!(run = %id, "cannot refresh a run's status: {e}");
                }
            }
        }
        Ok(entry.doc.clone())
    }

    /// Reads a run's document again into its entry (held locked by the caller); a run gone
    /// from storage (purged by another server) is forgotten and `NotFound`.
    pub(super) async fn refresh(
        &self,
        id: &RunId,
        entry: &mut Entry,
        deadline: Duration,
    ) -> Result<(), EngineError> {
        match self.inner.store.load_within(id, deadline).await? {
            Some((doc, etag)) => {
                entry.doc = doc;
                entry.etag = etag;
                entry.loaded = Instant::now();
                self.publish(&entry.doc);
                Ok(())
            }
            None => {
                self.forget(id, entry);
                Err(EngineError::NotFound(id.to_string()))
            }
        }
    }

    /// Forgets a run that no longer exists (its entry held locked by the caller).
    pub(super) fn forget(&self, id: &RunId, entry: &mut Entry) {
        entry.purged = true;
        self.inner.owned.give_up(id);
        self.inner.progress.send_modify(|runs| {
            runs.remove(id);
        });
        self.runs().remove(id);
    }

    /// Items of the runs still going that are neither completed nor failed.
    async fn queued_items(&self) -> u64 {
        let entries: Vec<_> = self.runs().values().cloned().collect();
        let mut queued = 0u64;
        for entry in entries {
            let entry = entry.lock().await;
            if entry.purged || entry.doc.state.is_terminal() {
                continue;
            }
            let p = entry.doc.state.progress();
            queued = queued.saturating_add(u64::from(
                p.total.saturating_sub(p.completed.saturating_add(p.failed)),
            ));
        }
        queued
    }

    /// Every run in memory, newest first.
    pub async fn list(&self) -> Vec<RunDocument> {
        let entries: Vec<_> = self.runs().values().cloned().collect();
        let mut docs = Vec::with_capacity(entries.len());
        for entry in entries {
            let entry = entry.lock().await;
            if !entry.purged {
                docs.push(entry.doc.clone());
            }
        }
        docs.sort_by(|a, b| {
            b.state
                .created_ms()
                .cmp(&a.state.created_ms())
                .then_with(|| a.state.id().as_str().cmp(b.state.id().as_str()))
        });
        docs
    }

    /// Progress of the runs not finished, and of those that finished in the last ten minutes,
    /// for the live feed. Read from the published snapshot: it takes no run's lock and waits
    /// on no storage call, so the feed keeps its cadence while storage hangs.
    pub fn progress(&self) -> Vec<RunProgress> {
        const RECENT_MS: u64 = 10 * 60 * 1000;
        let now = now_ms();
        let mut runs: Vec<RunProgress> = self
            .inner
            .progress
            .borrow()
            .values()
            .filter(|run| {
                !run.status.is_terminal() || now.saturating_sub(run.updated_ms) <= RECENT_MS
            })
            .cloned()
            .collect();
        RunProgress::sort_newest_first(&mut runs);
        runs
    }

    /// Every change to the runs' progress, as [`Engine::progress`] reads it.
    pub fn watch_progress(&self) -> watch::Receiver<BTreeMap<RunId, RunProgress>> {
        self.inner.progress.subscribe()
    }

    /// Publishes a run's progress as `doc` has it; called under the run's lock after each
    /// change, so the snapshot follows the changes in order.
    fn publish(&self, doc: &RunDocument) {
        let state = &doc.state;
        let progress = state.progress();
        let run = RunProgress {
            id: state.id().to_string(),
            status: state.runtime_status(),
            total: progress.total,
            scheduled: progress.scheduled,
            completed: progress.completed,
            failed: progress.failed,
            created_ms: state.created_ms(),
            updated_ms: state.last_updated_ms(),
        };
        self.inner.progress.send_if_modified(|runs| {
            let changed = runs.get(state.id()) != Some(&run);
            if changed {
                runs.insert(state.id().clone(), run);
            }
            changed
        });
    }

    /// Applies an event from the API (terminate, suspend, resume, an external completion);
    /// `Finished` when the run is already over, decided under the run's lock so that a run
    /// finishing at the same moment cannot slip between a check and the write.
    pub async fn raise(&self, id: &RunId, event: Event) -> Result<RunDocument, EngineError> {
        let resumes = matches!(event, Event::ResumeRequested { .. });
        let doc = self.apply_to(id, vec![event], Accept::ActiveOnly).await?;
        // A resumed run, or one this request took from another server, goes on here.
        if resumes || doc.state.may_schedule() {
            self.spawn_fan_out(id.clone());
        }
        Ok(doc)
    }

    /// Deletes a finished run: its document and its input and output blobs. Its cancellation
    /// marker is written first and stays, for the workers.
    pub async fn purge(&self, id: &RunId) -> Result<(), EngineError> {
        let entry = self.entry(id).await?;
        let mut entry = entry.lock().await;
        if entry.purged {
            return Err(EngineError::NotFound(id.to_string()));
        }
        if !self.owns(id) {
            // Another server may have finished (or purged) it since this copy was read.
            let deadline = self.inner.config.storage_deadline;
            self.refresh(id, &mut entry, deadline).await?;
        }
        let status = entry.doc.state.runtime_status();
        if !status.is_terminal() {
            return Err(EngineError::NotTerminal {
                id: id.to_string(),
                status,
            });
        }
        // First, and kept: messages of the run still queued are dropped by the workers
        // rather than failed five times each on their deleted inputs.
        self.mark_cancelled(&entry.doc).await?;
        let prefix = format!("{id}/");
        let storage = &self.inner.storage;
        let deadline = self.inner.config.storage_deadline;
        for container in [names::INPUT_CONTAINER, names::OUTPUT_CONTAINER] {
            let blobs = storage
                .within(
                    deadline,
                    "listing a purged run's blobs",
                    storage.list_blob_names(container, &prefix),
                )
                .await?;
            let deleted: Vec<_> = stream::iter(blobs)
                .map(|name| async move {
                    storage
                        .within(
                            deadline,
                            "deleting a purged run's blob",
                            storage.delete_blob(container, &name),
                        )
                        .await
                })
                .buffer_unordered(16)
                .collect()
                .await;
            if let Some(Err(e)) = deleted.into_iter().find(Result::is_err) {
                return Err(e.into());
            }
        }
        self.inner.store.delete(id).await?;
        self.forget(id, &mut entry);
        drop(entry);
        tracing::info!(run = %id, "run purged");
        Ok(())
    }

    pub(super) fn runs(&self) -> std::sync::MutexGuard<'_, HashMap<RunId, Arc<Mutex<Entry>>>> {
        // Every critical section is a single map operation: a poisoned lock is still consistent.
        self.inner
            .runs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A run's stored document and its ETag; `NotFound` when there is none.
    pub(super) async fn load(&self, id: &RunId) -> Result<(RunDocument, Etag), EngineError> {
        self.inner
            .store
            .load(id)
            .await?
            .ok_or_else(|| EngineError::NotFound(id.to_string()))
    }

    /// The entry of a run, loading it from storage when this process has not seen it.
    pub(super) async fn entry(&self, id: &RunId) -> Result<Arc<Mutex<Entry>>, EngineError> {
        if let Some(entry) = self.runs().get(id) {
            return Ok(entry.clone());
        }
        let (doc, etag) = self.load(id).await?;
        let entry = Arc::new(Mutex::new(Entry {
            doc,
            etag,
            purged: false,
            loaded: Instant::now(),
        }));
        let entry = self
            .runs()
            .entry(id.clone())
            .or_insert_with(|| entry)
            .clone();
        // Under its lock, so that a change made meanwhile is not overwritten by an older copy.
        let held = entry.lock().await;
        if !held.purged {
            self.publish(&held.doc);
        }
        drop(held);
        Ok(entry)
    }

    /// Applies events to a run and persists the result once. On a lost race (the document
    /// changed in storage) the stored document is reloaded and the events, which are
    /// idempotent, are applied again. If persisting fails, memory is left as it was, so memory
    /// never gets ahead of storage.
    pub(super) async fn apply(
        &self,
        id: &RunId,
        events: Vec<Event>,
    ) -> Result<RunDocument, EngineError> {
        self.apply_to(id, events, Accept::Any).await
    }

    /// Applies events as the run's owner. A server that does not own the run takes it when
    /// its lease is free (its owner died) and, for an operator's request, breaks the owner's
    /// lease first; an event from the queue for a run another server owns is left to that
    /// server (`NotOwner`).
    async fn apply_to(
        &self,
        id: &RunId,
        events: Vec<Event>,
        accept: Accept,
    ) -> Result<RunDocument, EngineError> {
        match self.apply_owned(id, &events, accept).await {
            Err(EngineError::NotOwner(_)) => {
                if self.claim(id, accept == Accept::ActiveOnly).await? {
                    self.apply_owned(id, &events, accept).await
                } else {
                    Err(EngineError::NotOwner(id.to_string()))
                }
            }
            other => other,
        }
    }

    /// Applies events and, when they change the run, writes it under this server's lease;
    /// `NotOwner` when a write is needed and the lease is not (or no longer) this server's.
    async fn apply_owned(
        &self,
        id: &RunId,
        events: &[Event],
        accept: Accept,
    ) -> Result<RunDocument, EngineError> {
        let entry = self.entry(id).await?;
        let mut entry = entry.lock().await;
        if entry.purged {
            return Err(EngineError::NotFound(id.to_string()));
        }
        let status = entry.doc.state.runtime_status();
        if accept == Accept::ActiveOnly && status.is_terminal() {
            return Err(EngineError::Finished {
                id: id.to_string(),
                status,
            });
        }
        for attempt in 0..3 {
            let before = entry.doc.state.progress();
            let mut doc = entry.doc.clone();
            let batch = apply_all(&mut doc.state, events.iter().cloned());
            if let Some(rejected) = batch.rejected.first() {
                if batch.rejected.len() == events.len() {
                    return Err(EngineError::Rejected {
                        id: id.to_string(),
                        message: rejected.error.to_string(),
                    });
                }
                tracing::warn!(run = %id, "{} event(s) rejected: {}", batch.rejected.len(), rejected.error);
            }
            if !batch.commands.contains(&Command::Persist) {
                return Ok(doc);
            }
            if !self.owns(id) {
                return Err(EngineError::NotOwner(id.to_string()));
            }
            let lease = Some(self.inner.owner.as_str());
            match self.inner.store.replace(&doc, &entry.etag, lease).await {
                Ok(etag) => {
                    self.inner.metrics.applied(before, &doc.state, events);
                    let mut terminated = false;
                    for command in &batch.commands {
                        if let Command::Finish(status) = command {
                            terminated |= *status == RuntimeStatus::Terminated;
                            let progress = doc.state.progress();
                            let _finish =
                                tracing::info_span!("run.finish", run = %id, status = ?status)
                                    .entered();
                            tracing::info!(
                                run = %id,
                                completed = progress.completed,
                                failed = progress.failed,
                                "run finished: {status:?}"
                            );
                        }
                    }
                    entry.doc = doc.clone();
                    entry.etag = etag;
                    entry.loaded = Instant::now();
                    self.publish(&doc);
                    if terminated {
                        self.mark_if_terminated(&doc).await;
                    }
                    if doc.state.is_terminal() {
                        // Nothing more to fan out or in: another server need not wait.
                        self.release(id).await;
                    }
                    return Ok(doc);
                }
                Err(StoreError::NotOwner(_)) => {
                    self.inner.owned.give_up(id);
                    tracing::warn!(run = %id, "another server holds the run's lease now; this server stopped acting on it");
                    if let Ok(Some((stored, etag))) = self.inner.store.load(id).await {
                        entry.doc = stored;
                        entry.etag = etag;
                        entry.loaded = Instant::now();
                        self.publish(&entry.doc);
                    }
                    return Err(EngineError::NotOwner(id.to_string()));
                }
                Err(StoreError::Conflict(_)) if attempt < 2 => {
                    tracing::warn!(run = %id, "run document changed in storage; reloading");
                    let (stored, etag) = self.load(id).await?;
                    entry.doc = stored;
                    entry.etag = etag;
                    entry.loaded = Instant::now();
                    self.publish(&entry.doc);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Conflict(id.to_string()).into())
    }
}
