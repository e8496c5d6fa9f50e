//! The background half of the view: one kube-rs watcher per resource, feeding a reflector store,
//! and the shared record of how each watcher is doing.
//!
//! Each watcher runs in its own task. After an error the watcher is rebuilt after a pause from
//! kube-rs' [`DefaultBackoff`] (the policy behind `WatchStreamExt::default_backoff`), and the
//! new watcher starts with a fresh list. Two reasons to drive the backoff here rather than
//! through `default_backoff()`: that adaptor resets the backoff on every `Ok` item, including
//! the `Init` marker emitted before each list attempt, so a persistent `403` would be retried
//! about once a second for ever; and a watch resumed silently gives no sign that it works again,
//! while a completed list (`InitDone`) does, which is what clears the "stale" note.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::fmt::Debug;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use kube::runtime::reflector::store::Writer;
use kube::runtime::utils::Backoff;
use kube::runtime::watcher::{self, DefaultBackoff};
use kube::{Api, Resource, ResourceExt};
use protocol::live::ScaleEvent;
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

/// The most events kept between two ticks; older ones are dropped first, so a view nobody ticks
/// does not grow.
const EVENT_BACKLOG: usize = 1000;

/// The same cluster autoscaler message within this window is shown once: it records one Event
/// per pending pod, and repeats `NotTriggerScaleUp` on every scan.
const REPEAT_WINDOW: Duration = Duration::from_secs(60);

/// A resource whose counts reach the dashboard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Watched {
    Pods,
    Nodes,
    Hpa,
    ScaledObject,
}

impl Watched {
    pub const ALL: [Watched; 4] = [
        Watched::Pods,
        Watched::Nodes,
        Watched::Hpa,
        Watched::ScaledObject,
    ];

    /// The word that starts this resource's part of the `stale` note.
    pub fn label(self) -> &'static str {
        match self {
            Watched::Pods => "pods",
            Watched::Nodes => "nodes",
            Watched::Hpa => "hpa",
            Watched::ScaledObject => "scaledobject",
        }
    }
}

/// How one watcher is doing.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Health {
    /// Started, no complete list yet: the counts are not known.
    Waiting,
    /// The store holds a complete, current list.
    Synced,
    /// The last attempt failed; the store keeps the last known objects.
    Failing(String),
}

/// What the watcher tasks share with `KubeView::tick`: health per resource and the
/// scaling events not yet handed out. Held behind a `std` mutex for a few instructions at a time.
#[derive(Debug)]
pub struct Shared {
    health: BTreeMap<Watched, Health>,
    events: VecDeque<ScaleEvent>,
}

impl Default for Shared {
    fn default() -> Self {
        Shared {
            health: Watched::ALL.map(|w| (w, Health::Waiting)).into(),
            events: VecDeque::new(),
        }
    }
}

impl Shared {
    /// Why the counts may not be current, one clause per resource, e.g.
    /// `pods: forbidden (RBAC): cannot watch pods in namespace scaleboard`.
    pub fn stale(&self) -> Option<String> {
        let notes: Vec<String> = self
            .health
            .iter()
            .filter_map(|(watched, health)| match health {
                Health::Synced => None,
                Health::Waiting => Some(format!("{}: waiting for the first list", watched.label())),
                Health::Failing(why) => Some(format!("{}: {why}", watched.label())),
            })
            .collect();
        (!notes.is_empty()).then(|| notes.join("; "))
    }

    pub fn take_events(&mut self) -> Vec<ScaleEvent> {
        self.events.drain(..).collect()
    }

    fn push_events(&mut self, events: impl IntoIterator<Item = ScaleEvent>) {
        for event in events {
            if self.events.len() == EVENT_BACKLOG {
                self.events.pop_front();
            }
            self.events.push_back(event);
        }
    }

    fn set_health(&mut self, watched: Watched, health: Health) -> Health {
        std::mem::replace(
            self.health.entry(watched).or_insert(Health::Waiting),
            health,
        )
    }
}

pub type SharedState = Arc<Mutex<Shared>>;

pub fn lock(shared: &SharedState) -> MutexGuard<'_, Shared> {
    // A panic elsewhere while holding the lock leaves plain data behind; keep serving it.
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs a watcher until `shutdown`, handing each event to `on_event` and each error to
/// `on_error`, rebuilding it after errors as the module documentation explains.
async fn drive<K>(
    api: Api<K>,
    config: watcher::Config,
    shutdown: &CancellationToken,
    mut on_event: impl FnMut(watcher::Event<K>),
    mut on_error: impl FnMut(&watcher::Error),
) where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let mut backoff = DefaultBackoff::default();
    loop {
        let mut stream = std::pin::pin!(kube::runtime::watcher(api.clone(), config.clone()));
        let error = loop {
            let item = tokio::select! {
                _ = shutdown.cancelled() => return,
                item = stream.next() => item,
            };
            match item {
                Some(Ok(event)) => {
                    if matches!(
                        event,
                        watcher::Event::InitDone
                            | watcher::Event::Apply(_)
                            | watcher::Event::Delete(_)
                    ) {
                        backoff.reset();
                    }
                    on_event(event);
                }
                Some(Err(error)) => break Some(error),
                None => break None,
            }
        };
        if let Some(error) = &error {
            on_error(error);
        }
        let pause = backoff.next().unwrap_or(Duration::from_secs(30));
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

/// One counted resource: where to watch it and how to report it.
pub struct Reflect<K: Resource + Clone + 'static>
where
    K::DynamicType: Eq + Hash + Clone,
{
    pub watched: Watched,
    pub api: Api<K>,
    pub config: watcher::Config,
    /// Fed by hand (not through `.reflect()`) so that one store outlives watcher rebuilds and
    /// keeps the last known objects while a new list is under way.
    pub writer: Writer<K>,
    /// What this watcher reads, for messages: `pods in namespace scaleboard`.
    pub scope: String,
    /// Drops what the counts never read, so the store stays small.
    pub slim: fn(&mut K),
}

/// Keeps a reflector store of `K` current until `shutdown`, recording the watcher's health in
/// `shared`. After each change of the store's contents, `observe` may turn the change into
/// scaling events (it is given the store and decides what changed since it last looked).
pub async fn reflect<K>(
    reflect: Reflect<K>,
    shared: SharedState,
    mut observe: impl FnMut(&kube::runtime::reflector::Store<K>) -> Vec<ScaleEvent> + Send,
    shutdown: CancellationToken,
) where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Eq + Hash + Clone + Send + Sync,
{
    let Reflect {
        watched,
        api,
        config,
        mut writer,
        scope,
        slim,
    } = reflect;
    let store = writer.as_reader();
    let on_event = |event: watcher::Event<K>| {
        let event = event.modify(|object| {
            object.managed_fields_mut().clear();
            slim(object);
        });
        writer.apply_watcher_event(&event);
        if matches!(event, watcher::Event::Init | watcher::Event::InitApply(_)) {
            // The store swaps in the new list at `InitDone`; nothing changed yet.
            return;
        }
        let events = observe(&store);
        let mut shared = lock(&shared);
        let before = shared.set_health(watched, Health::Synced);
        shared.push_events(events);
        drop(shared);
        if matches!(before, Health::Failing(_)) {
            tracing::info!(resource = watched.label(), "watching {scope} again");
        }
    };
    let on_error = |error: &watcher::Error| match describe(error, &scope, watched) {
        Some(why) => {
            let before = lock(&shared).set_health(watched, Health::Failing(why.clone()));
            if before != Health::Failing(why.clone()) {
                tracing::warn!(
                    resource = watched.label(),
                    error = %chain(error),
                    "{}: {why}; counts kept from the last list, retrying",
                    watched.label()
                );
            }
        }
        None => tracing::debug!(resource = watched.label(), "{error}; listing again"),
    };
    drive(api, config, &shutdown, on_event, on_error).await;
}

/// Follows the cluster autoscaler's Events in the namespace and adds the ones that tell a
/// scaling decision to the timeline. Optional: when RBAC or the API does not allow it, the
/// counts are unaffected and the failure is only logged.
pub async fn autoscaler_events(
    api: Api<k8s_openapi::api::core::v1::Event>,
    shared: SharedState,
    shutdown: CancellationToken,
) {
    let config = watcher::Config::default().fields("source=cluster-autoscaler");
    let mut recent: VecDeque<(Instant, String)> = VecDeque::new();
    let mut seen: HashSet<String> = HashSet::new();
    // Set by errors, cleared by events: the failure is logged once, not at every retry.
    let failing = AtomicBool::new(false);
    let on_event = |event: watcher::Event<k8s_openapi::api::core::v1::Event>| {
        failing.store(false, Ordering::Relaxed);
        // Only what happens from now on: the initial list replays the last hour.
        let watcher::Event::Apply(recorded) = event else {
            return;
        };
        // An Event object is updated in place each time it repeats; its resource version tells
        // a repeat from a redelivery.
        if let Some(version) = recorded.metadata.resource_version.clone() {
            if !seen.insert(version) {
                return;
            }
            if seen.len() > EVENT_BACKLOG {
                seen.clear();
            }
        }
        let Some(event) = super::changes::autoscaler_event(plumbing::clock::now_ms(), &recorded)
        else {
            return;
        };
        let now = Instant::now();
        while recent
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) > REPEAT_WINDOW)
        {
            recent.pop_front();
        }
        if recent.iter().any(|(_, reason)| *reason == event.reason) {
            return;
        }
        recent.push_back((now, event.reason.clone()));
        lock(&shared).push_events([event]);
    };
    let on_error = |error: &watcher::Error| {
        if !failing.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                error = %chain(error),
                "cluster autoscaler events unavailable; the timeline shows pod, node and HPA changes only"
            );
        }
    };
    drive(api, config, &shutdown, on_event, on_error).await;
}

/// The error as one line with its causes.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// What to tell the presenter about a watcher error; `None` for `410 Gone`, the routine signal
/// that the watch fell too far behind and must list again, which is not a fault.
pub fn describe(error: &watcher::Error, scope: &str, watched: Watched) -> Option<String> {
    let client_error = match error {
        watcher::Error::InitialListFailed(e)
        | watcher::Error::WatchStartFailed(e)
        | watcher::Error::WatchFailed(e) => e,
        watcher::Error::WatchError(status) => return describe_status(status, scope, watched),
        watcher::Error::NoResourceVersion => {
            return Some(format!(
                "the API server gave no resourceVersion for {scope}; cannot watch it"
            ))
        }
    };
    match client_error {
        kube::Error::Api(status) => describe_status(status, scope, watched),
        kube::Error::ReadEvents(_) => {
            Some(format!("watch interrupted: {}", root_cause(client_error)))
        }
        kube::Error::SerdeError(_) => {
            Some(format!("unreadable answer: {}", root_cause(client_error)))
        }
        _ => Some(format!(
            "cannot reach the API server: {}",
            root_cause(client_error)
        )),
    }
}

/// The innermost cause, which names the actual problem (`Connection refused`) without the
/// layers of wrapping around it; the log keeps the whole chain.
fn root_cause(error: &dyn std::error::Error) -> String {
    let mut cause = error;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    cause.to_string()
}

fn describe_status(status: &kube::core::Status, scope: &str, watched: Watched) -> Option<String> {
    match status.code {
        410 => None,
        403 => Some(format!("forbidden (RBAC): cannot watch {scope}")),
        401 => Some("unauthorized: the API server rejected the credentials".into()),
        404 => Some(match watched {
            Watched::ScaledObject => {
                format!("the API server does not serve {scope} (is KEDA installed?)")
            }
            _ => format!("the API server does not serve {scope}"),
        }),
        code => {
            let message = if status.message.is_empty() {
                &status.reason
            } else {
                &status.message
            };
            Some(format!("API error {code}: {message}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;

    fn api_error(code: u16, reason: &str, message: &str) -> watcher::Error {
        let mut status = Status::failure(message, reason);
        status.code = code;
        watcher::Error::InitialListFailed(kube::Error::Api(status.boxed()))
    }

    #[test]
    fn forbidden_names_the_resource_and_the_namespace() {
        let error = api_error(
            403,
            "Forbidden",
            r#"pods is forbidden: User "system:serviceaccount:scaleboard:scaleboard-server" cannot list resource "pods""#,
        );
        assert_eq!(
            describe(&error, "pods in namespace scaleboard", Watched::Pods).unwrap(),
            "forbidden (RBAC): cannot watch pods in namespace scaleboard"
        );
    }

    #[test]
    fn a_missing_keda_is_named() {
        let error = api_error(
            404,
            "NotFound",
            "the server could not find the requested resource",
        );
        let why = describe(
            &error,
            "keda.sh/v1alpha1 scaledobjects in namespace scaleboard",
            Watched::ScaledObject,
        )
        .unwrap();
        assert!(why.contains("is KEDA installed?"), "{why}");
    }

    #[test]
    fn gone_is_a_resync_not_a_fault() {
        let mut status = Status::failure("too old resource version: 1 (5)", "Expired");
        status.code = 410;
        let error = watcher::Error::WatchError(status.boxed());
        assert_eq!(describe(&error, "pods", Watched::Pods), None);
    }

    #[test]
    fn stale_lists_every_resource_that_is_not_current() {
        let mut shared = Shared::default();
        assert_eq!(
            shared.stale().unwrap(),
            "pods: waiting for the first list; nodes: waiting for the first list; \
             hpa: waiting for the first list; scaledobject: waiting for the first list"
        );
        for watched in Watched::ALL {
            shared.set_health(watched, Health::Synced);
        }
        assert_eq!(shared.stale(), None);
        shared.set_health(
            Watched::Pods,
            Health::Failing("forbidden (RBAC): cannot watch pods in namespace scaleboard".into()),
        );
        assert_eq!(
            shared.stale().unwrap(),
            "pods: forbidden (RBAC): cannot watch pods in namespace scaleboard"
        );
    }

    #[test]
    fn the_event_backlog_is_bounded() {
        let mut shared = Shared::default();
        shared.push_events((0..EVENT_BACKLOG as u64 + 5).map(|t_ms| ScaleEvent {
            t_ms,
            kind: "scale_up".into(),
            reason: String::new(),
        }));
        let events = shared.take_events();
        assert_eq!(events.len(), EVENT_BACKLOG);
        assert_eq!(events[0].t_ms, 5);
        assert!(shared.take_events().is_empty());
    }
}
