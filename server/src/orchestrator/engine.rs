//! The engine: runs in memory, their fan-out, the fan-in of their events, and recovery.
//!
//! Each run sits behind its own async lock; every change is applied to the pure state machine
//! and persisted (ETag-conditioned) before anything that depends on it happens: an event
//! message is deleted only after the state that includes it is stored, an item counts as
//! scheduled only after its input blob and its message are written. A crash between those steps
//! repeats work (idempotent: same blob names, same content, items tracked in bitsets) and never
//! loses it.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as SyncMutex};
use std::time::Duration;

use azure_core::http::{Etag, RequestContent};
use futures_util::stream::{self, FuturesUnordered};
use futures_util::StreamExt;
use orchestration::{apply_all, Command, Event, ItemResult, RunId, RunState, RuntimeStatus};
use protocol::events::{parse_events, ItemEvent};
use protocol::work::{item_blob, parse_item_blob, ItemOutput};
use storage::messages::Received;
use storage::{names, Storage};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use super::input::{item_input, work_item};
use super::store::{self, RunStore, StoreError};
use super::{RunDocument, RunInput};
use crate::sampler::now_ms;

/// Tuning of the engine.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Items written (input blob + message) at the same time.
    pub fan_out_concurrency: usize,
    /// Items scheduled between two writes of the run document.
    pub fan_out_batch: usize,
    /// Largest `inputCount` accepted.
    pub max_input_count: u32,
    /// How long a received event message stays hidden while its batch is applied.
    pub event_visibility: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            fan_out_concurrency: 32,
            fan_out_batch: 500,
            max_input_count: 100_000,
            event_visibility: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("no run with id {0}")]
    NotFound(String),
    #[error("run {id} is {status:?}; only a finished run (Completed, Failed or Terminated) can be purged")]
    NotTerminal { id: String, status: RuntimeStatus },
    #[error("run {id} is {status:?} and takes no more events")]
    Finished { id: String, status: RuntimeStatus },
    #[error("run {id}: {message}")]
    Rejected { id: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{operation}: {source}")]
    Storage {
        operation: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl EngineError {
    fn storage(
        operation: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        EngineError::Storage {
            operation: operation.into(),
            source: Box::new(source),
        }
    }
}

#[derive(Debug)]
struct Entry {
    doc: RunDocument,
    etag: Etag,
    purged: bool,
}

/// The engine. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Engine {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    storage: Storage,
    store: RunStore,
    config: EngineConfig,
    shutdown: CancellationToken,
    runs: SyncMutex<HashMap<RunId, Arc<Mutex<Entry>>>>,
    fanning_out: SyncMutex<HashSet<RunId>>,
}

impl Engine {
    /// Creates the engine and starts its background work: recovering stored runs (retrying
    /// until storage answers) and reading the events queue.
    pub fn start(storage: Storage, config: EngineConfig, shutdown: CancellationToken) -> Engine {
        let engine = Engine {
            inner: Arc::new(Inner {
                store: RunStore::new(storage.clone()),
                storage,
                config,
                shutdown,
                runs: SyncMutex::new(HashMap::new()),
                fanning_out: SyncMutex::new(HashSet::new()),
            }),
        };
        tokio::spawn(engine.clone().recover());
        tokio::spawn(engine.clone().fan_in());
        engine
    }

    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// Starts a run: persists it, then fans its items out in the background.
    pub async fn start_run(&self, name: &str, input: RunInput) -> Result<RunDocument, EngineError> {
        let id = RunId::from_random(rand::random::<u128>());
        let state = RunState::new(id.clone(), name, input.input_count, now_ms());
        let doc = RunDocument { input, state };
        let etag = self.inner.store.create(&doc).await?;
        let entry = Arc::new(Mutex::new(Entry {
            doc: doc.clone(),
            etag,
            purged: false,
        }));
        self.runs().insert(id.clone(), entry);
        tracing::info!(run = %id, items = doc.input.input_count, cost = doc.input.cost, "run started");
        self.spawn_fan_out(id);
        Ok(doc)
    }

    /// A run's document, from memory or, for a run this process has not seen, from storage.
    pub async fn get(&self, id: &RunId) -> Result<RunDocument, EngineError> {
        let entry = self.entry(id).await?;
        let entry = entry.lock().await;
        if entry.purged {
            return Err(EngineError::NotFound(id.to_string()));
        }
        Ok(entry.doc.clone())
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
    /// for the live feed.
    pub async fn progress(&self) -> Vec<protocol::live::RunProgress> {
        const RECENT_MS: u64 = 10 * 60 * 1000;
        let now = now_ms();
        let entries: Vec<_> = self.runs().values().cloned().collect();
        let mut runs = Vec::new();
        for entry in entries {
            let entry = entry.lock().await;
            let state = &entry.doc.state;
            if entry.purged
                || (state.is_terminal() && now.saturating_sub(state.last_updated_ms()) > RECENT_MS)
            {
                continue;
            }
            let progress = state.progress();
            runs.push(protocol::live::RunProgress {
                id: state.id().to_string(),
                status: format!("{:?}", state.runtime_status()),
                total: progress.total,
                scheduled: progress.scheduled,
                completed: progress.completed,
                failed: progress.failed,
                created_ms: state.created_ms(),
                updated_ms: state.last_updated_ms(),
            });
        }
        runs.sort_by(|a, b| {
            b.created_ms
                .cmp(&a.created_ms)
                .then_with(|| a.id.cmp(&b.id))
        });
        runs
    }

    /// Applies an event from the API (terminate, suspend, resume, an external completion).
    pub async fn raise(&self, id: &RunId, event: Event) -> Result<RunDocument, EngineError> {
        let resumes = matches!(event, Event::ResumeRequested { .. });
        let doc = self.apply(id, vec![event]).await?;
        if resumes {
            self.spawn_fan_out(id.clone());
        }
        Ok(doc)
    }

    /// Deletes a finished run: its document and its input and output blobs.
    pub async fn purge(&self, id: &RunId) -> Result<(), EngineError> {
        let entry = self.entry(id).await?;
        let mut entry = entry.lock().await;
        if entry.purged {
            return Err(EngineError::NotFound(id.to_string()));
        }
        let status = entry.doc.state.runtime_status();
        if !status.is_terminal() {
            return Err(EngineError::NotTerminal {
                id: id.to_string(),
                status,
            });
        }
        let prefix = format!("{id}/");
        for container in [names::INPUT_CONTAINER, names::OUTPUT_CONTAINER] {
            let client = self.inner.storage.container(container);
            let blobs = store::list_names(&client, &prefix)
                .await
                .map_err(|e| EngineError::storage(format!("listing {container}/{prefix}"), e))?;
            let client = &client;
            let deleted: Vec<_> = stream::iter(blobs)
                .map(|name| async move { store::delete_blob(client, &name).await })
                .buffer_unordered(16)
                .collect()
                .await;
            if let Some(Err(e)) = deleted.into_iter().find(Result::is_err) {
                return Err(EngineError::storage(
                    format!("deleting {container}/{prefix}*"),
                    e,
                ));
            }
        }
        self.inner.store.delete(id).await?;
        entry.purged = true;
        drop(entry);
        self.runs().remove(id);
        tracing::info!(run = %id, "run purged");
        Ok(())
    }

    fn runs(&self) -> std::sync::MutexGuard<'_, HashMap<RunId, Arc<Mutex<Entry>>>> {
        // Every critical section is a single map operation: a poisoned lock is still consistent.
        self.inner
            .runs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A run's stored document and its ETag; `NotFound` when there is none.
    async fn load(&self, id: &RunId) -> Result<(RunDocument, Etag), EngineError> {
        self.inner
            .store
            .load(id)
            .await?
            .ok_or_else(|| EngineError::NotFound(id.to_string()))
    }

    /// The entry of a run, loading it from storage when this process has not seen it.
    async fn entry(&self, id: &RunId) -> Result<Arc<Mutex<Entry>>, EngineError> {
        if let Some(entry) = self.runs().get(id) {
            return Ok(entry.clone());
        }
        let (doc, etag) = self.load(id).await?;
        let entry = Arc::new(Mutex::new(Entry {
            doc,
            etag,
            purged: false,
        }));
        Ok(self
            .runs()
            .entry(id.clone())
            .or_insert_with(|| entry)
            .clone())
    }

    /// Applies events to a run and persists the result once. On a lost race (the document
    /// changed in storage) the stored document is reloaded and the events, which are
    /// idempotent, are applied again. If persisting fails, memory is left as it was, so memory
    /// never gets ahead of storage.
    async fn apply(&self, id: &RunId, events: Vec<Event>) -> Result<RunDocument, EngineError> {
        let entry = self.entry(id).await?;
        let mut entry = entry.lock().await;
        if entry.purged {
            return Err(EngineError::NotFound(id.to_string()));
        }
        for attempt in 0..3 {
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
            match self.inner.store.replace(&doc, &entry.etag).await {
                Ok(etag) => {
                    for command in &batch.commands {
                        if let Command::Finish(status) = command {
                            let progress = doc.state.progress();
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
                    return Ok(doc);
                }
                Err(StoreError::Conflict(_)) if attempt < 2 => {
                    tracing::warn!(run = %id, "run document changed in storage; reloading");
                    let (stored, etag) = self.load(id).await?;
                    entry.doc = stored;
                    entry.etag = etag;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Conflict(id.to_string()).into())
    }

    fn spawn_fan_out(&self, id: RunId) {
        let fresh = self
            .inner
            .fanning_out
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.clone());
        if fresh {
            tokio::spawn(self.clone().fan_out(id));
        }
    }

    /// Fans out every unscheduled item of a run until none is left or the run stops taking
    /// them (suspended, finished, purged), retrying after a pause when storage fails.
    async fn fan_out(self, id: RunId) {
        let mut delay = Duration::from_millis(200);
        loop {
            if self.inner.shutdown.is_cancelled() {
                break;
            }
            let Ok(entry) = self.entry(&id).await else {
                break;
            };
            let (items, input) = {
                let entry = entry.lock().await;
                let state = &entry.doc.state;
                if entry.purged {
                    break;
                }
                (
                    state.next_to_schedule(state.input_count() as usize),
                    entry.doc.input.clone(),
                )
            };
            if items.is_empty() {
                break;
            }
            match self.schedule_items(&id, items, &input).await {
                Ok(()) => delay = Duration::from_millis(200),
                Err(e) => {
                    tracing::warn!(run = %id, "fan-out: {e}; retrying in {delay:?}");
                    tokio::select! {
                        _ = self.inner.shutdown.cancelled() => break,
                        _ = tokio::time::sleep(delay) => {}
                    }
                    delay = (delay * 2).min(Duration::from_secs(10));
                }
            }
        }
        self.inner
            .fanning_out
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }

    /// Writes the items' input blobs and messages, `fan_out_concurrency` at a time, and records
    /// them as scheduled every `fan_out_batch` items.
    ///
    /// Items flow without a pause at batch boundaries: a batch is recorded while the next
    /// items are being written (one recording at a time, so the document is written in order).
    /// After a failed write, a failed recording, a suspension or a termination no new item is
    /// started; the ones in flight finish and are recorded, so a message that went out is not
    /// sent again by the next pass.
    async fn schedule_items(
        &self,
        id: &RunId,
        items: Vec<u32>,
        input: &RunInput,
    ) -> Result<(), EngineError> {
        let config = &self.inner.config;
        let batch = config.fan_out_batch.max(1);
        let stop = AtomicBool::new(false);
        let mut written = stream::iter(items)
            .take_while(|_| {
                let go = !stop.load(Ordering::Relaxed) && !self.inner.shutdown.is_cancelled();
                std::future::ready(go)
            })
            .map(|item| async move { (item, self.schedule_item(id, item, input).await) })
            .buffer_unordered(config.fan_out_concurrency.max(1));
        let mut recording = FuturesUnordered::new();
        let mut pending = Vec::with_capacity(batch);
        let mut failure = None;
        let mut exhausted = false;
        loop {
            if recording.is_empty()
                && (pending.len() >= batch || (exhausted && !pending.is_empty()))
            {
                recording.push(self.apply(id, std::mem::take(&mut pending)));
            }
            tokio::select! {
                Some(recorded) = recording.next() => match recorded {
                    Ok(doc) if doc.state.may_schedule() => {}
                    Ok(_) => stop.store(true, Ordering::Relaxed),
                    Err(e) => {
                        // Its items were written but are not recorded: the next pass sends
                        // them again (same blobs, and completions count once).
                        stop.store(true, Ordering::Relaxed);
                        failure.get_or_insert(e);
                    }
                },
                next = written.next(), if !exhausted => match next {
                    Some((item, Ok(()))) => pending.push(Event::ItemScheduled { item, at: now_ms() }),
                    Some((_, Err(e))) => {
                        stop.store(true, Ordering::Relaxed);
                        failure.get_or_insert(e);
                    }
                    None => exhausted = true,
                },
                else => break,
            }
        }
        failure.map_or(Ok(()), Err)
    }

    /// The input blob first, then the message: a worker never finds a message without input.
    async fn schedule_item(
        &self,
        id: &RunId,
        item: u32,
        input: &RunInput,
    ) -> Result<(), EngineError> {
        let blob = item_blob(id.as_str(), item);
        let body = serde_json::to_vec(&item_input(id.as_str(), item, input))
            .expect("an item input always serializes");
        self.inner
            .storage
            .container(names::INPUT_CONTAINER)
            .blob_client(&blob)
            .upload(RequestContent::from(body), None)
            .await
            .map_err(|e| EngineError::storage(format!("writing input blob {blob}"), e))?;
        let message = serde_json::to_string(&work_item(id.as_str(), item))
            .expect("a work item always serializes");
        self.inner
            .storage
            .send(names::WORK_QUEUE, &message)
            .await
            .map_err(|e| EngineError::storage(format!("enqueueing item {item}"), e))
    }

    /// Loads every stored run and resumes those not finished, retrying until storage answers.
    async fn recover(self) {
        let mut delay = Duration::from_millis(500);
        let ids = loop {
            match self.inner.store.ids().await {
                Ok(ids) => break ids,
                Err(e) => {
                    tracing::warn!("cannot list stored runs yet: {e}; retrying in {delay:?}");
                    tokio::select! {
                        _ = self.inner.shutdown.cancelled() => return,
                        _ = tokio::time::sleep(delay) => {}
                    }
                    delay = (delay * 2).min(Duration::from_secs(30));
                }
            }
        };
        let mut resumed = 0;
        for id in ids {
            let doc = match self.get(&id).await {
                Ok(doc) => doc,
                Err(e) => {
                    tracing::warn!(run = %id, "cannot load stored run: {e}");
                    continue;
                }
            };
            if doc.state.is_terminal() {
                continue;
            }
            if let Err(e) = self.reconcile(&id).await {
                tracing::warn!(run = %id, "cannot reconcile outputs: {e}");
            }
            self.spawn_fan_out(id);
            resumed += 1;
        }
        if resumed > 0 {
            tracing::info!(resumed, "resumed unfinished runs");
        }
    }

    /// Counts outputs written while no server was listening (or whose events were lost).
    async fn reconcile(&self, id: &RunId) -> Result<(), EngineError> {
        let output = self.inner.storage.container(names::OUTPUT_CONTAINER);
        let names = store::list_names(&output, &format!("{id}/"))
            .await
            .map_err(|e| EngineError::storage("listing outputs", e))?;
        let known = {
            let entry = self.entry(id).await?;
            let entry = entry.lock().await;
            entry.doc.state.clone()
        };
        let missing: Vec<u32> = names
            .iter()
            .filter_map(|name| parse_item_blob(name).map(|(_, item)| item))
            .filter(|item| {
                *item < known.input_count() && !known.is_completed(*item) && !known.is_failed(*item)
            })
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let mut events = Vec::with_capacity(missing.len());
        for item in missing {
            let result = self.read_result(id.as_str(), item).await?;
            events.push(Event::ItemCompleted {
                item,
                result,
                at: now_ms(),
            });
        }
        tracing::info!(run = %id, items = events.len(), "reconciled outputs");
        self.apply(id, events).await.map(|_| ())
    }

    /// An item's result from its output blob (for events that do not carry it).
    async fn read_result(&self, run_id: &str, item: u32) -> Result<ItemResult, EngineError> {
        let output = self.inner.storage.container(names::OUTPUT_CONTAINER);
        let name = item_blob(run_id, item);
        let bytes = store::download(&output, &name)
            .await
            .map_err(|e| EngineError::storage(format!("reading output {name}"), e))?
            .ok_or_else(|| EngineError::Rejected {
                id: run_id.to_string(),
                message: format!("output {name} does not exist"),
            })?;
        let output: ItemOutput =
            serde_json::from_slice(&bytes).map_err(|e| EngineError::Rejected {
                id: run_id.to_string(),
                message: format!("output {name} is not valid: {e}"),
            })?;
        Ok(ItemResult {
            value: output.value,
            compute_ms: output.compute_ms,
        })
    }

    /// Reads the events queue until shutdown: a batch at a time, applied and persisted per run,
    /// then deleted.
    ///
    /// The deletes of one batch run while the next batch is received and persisted: the queue
    /// service is kept busy instead of waiting on the run document's write. They are still
    /// started only after the state that includes their events is stored.
    async fn fan_in(self) {
        let mut idle = Duration::from_millis(50);
        let mut failing = false;
        let mut deleting: Option<tokio::task::JoinHandle<()>> = None;
        loop {
            let received = tokio::select! {
                _ = self.inner.shutdown.cancelled() => break,
                received = self.inner.storage.receive(names::EVENTS_QUEUE, 32, self.inner.config.event_visibility) => received,
            };
            let pause = match received {
                Ok(messages) if messages.is_empty() => {
                    failing = false;
                    let pause = idle;
                    idle = (idle * 2).min(Duration::from_millis(500));
                    pause
                }
                Ok(messages) => {
                    failing = false;
                    idle = Duration::from_millis(50);
                    let applied = self.apply_events(messages).await;
                    if let Some(previous) = deleting.take() {
                        let _ = previous.await;
                    }
                    deleting = Some(tokio::spawn(self.clone().delete_events(applied)));
                    continue;
                }
                Err(e) => {
                    if !failing {
                        tracing::warn!("reading events: {e}; retrying");
                        failing = true;
                    }
                    Duration::from_secs(1)
                }
            };
            tokio::select! {
                _ = self.inner.shutdown.cancelled() => break,
                _ = tokio::time::sleep(pause) => {}
            }
        }
        // Events already applied are deleted before stopping; had they stayed, they would
        // only be applied again (idempotently) by the next server.
        if let Some(previous) = deleting {
            let _ = previous.await;
        }
    }

    /// Applies a batch of event messages, one persist per run, and returns the messages that
    /// may now be deleted: those whose runs were all persisted. A message that cannot be
    /// understood is logged and returned too, so it cannot block the queue.
    async fn apply_events(&self, messages: Vec<Received>) -> Vec<Received> {
        let mut by_run: HashMap<RunId, Vec<Event>> = HashMap::new();
        // Each message with the runs it touches, and whether it must be kept for a retry.
        let mut touched: Vec<(Received, Vec<RunId>, bool)> = Vec::with_capacity(messages.len());
        for message in messages {
            let mut runs = Vec::new();
            let mut keep = false;
            match parse_events(&message.text) {
                Err(e) => {
                    tracing::warn!(message = %message.id, "dropping an event that is not Event Grid JSON: {e}")
                }
                Ok(events) => {
                    for event in events {
                        match self.to_run_event(&event).await {
                            Ok(Some((run, ev))) => {
                                by_run.entry(run.clone()).or_default().push(ev);
                                runs.push(run);
                            }
                            Ok(None) => {}
                            Err(e) => {
                                tracing::warn!(event = %event.id, "cannot use event: {e}");
                                // Keep the message: reading the output may work next time.
                                keep = true;
                            }
                        }
                    }
                }
            }
            touched.push((message, runs, keep));
        }
        let mut failed: HashSet<RunId> = HashSet::new();
        for (run, events) in by_run {
            match self.apply(&run, events).await {
                Ok(_) => {}
                Err(EngineError::NotFound(_)) => {
                    tracing::debug!(run = %run, "events for an unknown or purged run dropped");
                }
                Err(EngineError::Rejected { message, .. }) => {
                    tracing::warn!(run = %run, "events rejected: {message}");
                }
                Err(e) => {
                    tracing::warn!(run = %run, "cannot apply events: {e}; they will be retried");
                    failed.insert(run);
                }
            }
        }
        touched
            .into_iter()
            .filter(|(_, runs, keep)| !keep && runs.iter().all(|run| !failed.contains(run)))
            .map(|(message, _, _)| message)
            .collect()
    }

    /// Deletes applied event messages, 16 at a time.
    async fn delete_events(self, applied: Vec<Received>) {
        let storage = &self.inner.storage;
        stream::iter(applied)
            .for_each_concurrent(16, |message| async move {
                if let Err(e) = storage.delete(names::EVENTS_QUEUE, &message).await {
                    tracing::warn!("deleting an applied event: {e}");
                }
            })
            .await;
    }

    /// What an Event Grid event means for a run: `None` for events that are not about an item.
    async fn to_run_event(
        &self,
        event: &protocol::events::EventGridEvent,
    ) -> Result<Option<(RunId, Event)>, EngineError> {
        let Ok(item_event) = event.item_event() else {
            return Ok(None);
        };
        let at = now_ms();
        match item_event {
            ItemEvent::Completed {
                run_id,
                item,
                result,
            } => {
                let Ok(run) = RunId::parse(&run_id) else {
                    return Ok(None);
                };
                let result = match result {
                    Some(r) => ItemResult {
                        value: r.value,
                        compute_ms: r.compute_ms,
                    },
                    None => self.read_result(&run_id, item).await?,
                };
                Ok(Some((run, Event::ItemCompleted { item, result, at })))
            }
            ItemEvent::Failed {
                run_id,
                item,
                reason,
            } => Ok(RunId::parse(&run_id)
                .ok()
                .map(|run| (run, Event::ItemFailed { item, reason, at }))),
        }
    }
}
