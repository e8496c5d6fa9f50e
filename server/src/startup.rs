//! The one way to start and stop a server, used by `main`, the integration tests and the
//! benchmarks alike.
//!
//! [`start`] wires every part from [`Settings`] and returns a [`Running`] handle; every task it
//! starts is spawned on one [`TaskTracker`], so [`Running::stop`] (or a signal, through
//! [`Running::shutdown_token`]) ends them all and waits for them: the engine loops finish the
//! write in hand, the local worker pods finish or release their messages, the sampler stops.
//!
//! Start-up order matters for what the log says on a fresh start: the queues and containers are
//! created before the engine, the local model or the sampler touch them, so a first start logs
//! no `QueueNotFound`. If storage is down, the server still serves (the page shows "storage
//! unreachable"), and the loops start once storage answers.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use storage::Storage;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::cluster::local::LocalCluster;
use crate::cluster::{ClusterKind, ClusterView, NoCluster};
use crate::config::Config;
use crate::durable::ApiSettings;
use crate::guard::HostPolicy;
use crate::live::Hub;
use crate::metrics::Metrics;
use crate::orchestrator::{Engine, EngineConfig};
use crate::{app, sampler, AppState};

/// Replays and chart renderings at once: one per core on the machines this runs on.
const HEAVY_CONCURRENCY: usize = 2;

/// How long one attempt at creating the queues and containers may take.
const PREPARE_ATTEMPT: Duration = Duration::from_secs(10);

/// Where the pod and node counts come from.
pub enum ClusterChoice {
    /// No cluster view (counts stay at zero).
    None,
    /// The local model with real worker loops.
    Local {
        profile: Box<autoscale::Profile>,
        worker: worker::WorkerConfig,
    },
    /// Watchers on a Kubernetes cluster.
    Kube(crate::cluster::ClusterArgs),
    /// A view built by the caller.
    View(Arc<dyn ClusterView>),
}

impl std::fmt::Debug for ClusterChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClusterChoice::None => f.write_str("None"),
            ClusterChoice::Local { profile, .. } => write!(f, "Local({})", profile.name),
            ClusterChoice::Kube(args) => write!(f, "Kube({args:?})"),
            ClusterChoice::View(_) => f.write_str("View"),
        }
    }
}

/// Everything a server needs, already parsed and validated.
#[derive(Debug)]
pub struct Settings {
    pub storage: Storage,
    pub engine: EngineConfig,
    pub api: ApiSettings,
    pub cluster: ClusterChoice,
    pub sample_interval: Duration,
    /// Samples kept for clients that connect or reconnect.
    pub history: usize,
    /// Folder with the built site (`pkg/`).
    pub site_root: PathBuf,
    /// The hosts the server answers to.
    pub hosts: HostPolicy,
}

/// A server that is serving. Dropping it does not stop it: call [`Running::stop`], or cancel
/// [`Running::shutdown_token`] and then [`Running::stopped`].
#[derive(Debug)]
pub struct Running {
    addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    state: AppState,
    tracker: TaskTracker,
    serving: JoinHandle<std::io::Result<()>>,
}

/// Starts a server on `listener`, without a metrics listener.
pub async fn start(settings: Settings, listener: TcpListener) -> anyhow::Result<Running> {
    start_with(settings, listener, None).await
}

/// Starts a server on `listener`, serving `/metrics` on `metrics_listener` when there is one
/// (a listener of its own, so that the port viewers reach does not expose it).
pub async fn start_with(
    settings: Settings,
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
) -> anyhow::Result<Running> {
    let addr = listener.local_addr().context("reading the bound address")?;
    let metrics_addr = metrics_listener
        .as_ref()
        .map(TcpListener::local_addr)
        .transpose()
        .context("reading the metrics listener's address")?;
    let shutdown = CancellationToken::new();
    let tracker = TaskTracker::new();
    let metrics = Metrics::default();
    let storage = settings.storage.observed_by(metrics.storage_observer());
    let hub = Hub::new(settings.history, settings.sample_interval);
    // A run another server owns is shown as stored, at most one sample old.
    let engine_config = EngineConfig {
        status_max_age: settings.engine.status_max_age.min(settings.sample_interval),
        ..settings.engine
    };
    let engine = Engine::new(
        storage.clone(),
        engine_config,
        shutdown.clone(),
        tracker.clone(),
        metrics.clone(),
    );
    let (cluster, local): (Arc<dyn ClusterView>, Option<LocalCluster>) = match settings.cluster {
        ClusterChoice::None => (Arc::new(NoCluster), None),
        ClusterChoice::Local { profile, worker } => {
            // Its workers are the worker component run in process: they get a worker's SAS.
            let worker_storage = storage
                .with_role(storage::Role::Worker)
                .context("cannot set up the local workers' storage clients")?;
            let local = LocalCluster::new(
                worker_storage,
                *profile,
                worker,
                shutdown.clone(),
                tracker.clone(),
            );
            (Arc::new(local.clone()), Some(local))
        }
        ClusterChoice::Kube(args) => (kube_view(&args, &shutdown).await, None),
        ClusterChoice::View(view) => (view, None),
    };
    let state = AppState {
        storage: storage.clone(),
        hub: hub.clone(),
        engine: engine.clone(),
        local,
        cluster: cluster.clone(),
        api: settings.api,
        leptos: app::leptos_options(&settings.site_root, addr),
        hosts: settings.hosts,
        heavy: crate::heavy::HeavyWork::new(HEAVY_CONCURRENCY),
        shutdown: shutdown.clone(),
        metrics: metrics.clone(),
    };
    if let Some(listener) = metrics_listener {
        let metrics = metrics.clone();
        let shutdown = shutdown.clone();
        tracker.spawn(async move {
            if let Err(e) = crate::metrics::serve(listener, metrics, shutdown).await {
                tracing::error!("serving the metrics: {e}");
            }
        });
    }
    if !settings.site_root.join("pkg").is_dir() {
        tracing::warn!(
            site_root = %settings.site_root.display(),
            "no built site here: pages render but will not hydrate; run `cargo xtask build`"
        );
    }

    let sampler = sampler::run(
        storage.clone(),
        sampler::Sources {
            engine: engine.clone(),
            cluster,
            metrics,
        },
        hub,
        settings.sample_interval,
        shutdown.clone(),
    );
    // One bounded attempt before anything runs: on a fresh start every queue and container
    // exists before the first request, loop or sample touches it. When storage is down, the
    // server serves anyway (the page says "storage unreachable") and the loops start once it
    // answers.
    let prepared = app::prepare_storage_once(&storage, PREPARE_ATTEMPT).await;
    tracker.spawn(sampler);
    if prepared.is_ok() {
        engine.start_loops();
    } else {
        tracker.spawn(async move {
            if app::prepare_storage(&storage, &shutdown, PREPARE_ATTEMPT)
                .await
                .is_ok()
            {
                engine.start_loops();
            }
        });
    }

    let serving = tokio::spawn(app::serve(listener, state.clone()));
    Ok(Running {
        addr,
        metrics_addr,
        state,
        tracker,
        serving,
    })
}

/// The Kubernetes view, or, when it cannot be set up, a view that says why on every sample so
/// the rest of the dashboard keeps working.
async fn kube_view(
    args: &crate::cluster::ClusterArgs,
    shutdown: &CancellationToken,
) -> Arc<dyn ClusterView> {
    match crate::cluster::kube::KubeView::start(args, shutdown.clone()).await {
        Ok(view) => {
            tracing::info!(
                namespace = view.namespace(),
                "watching the Kubernetes cluster"
            );
            Arc::new(view)
        }
        Err(e) => {
            let reason = e.to_string();
            tracing::error!("{reason}");
            Arc::new(crate::cluster::Unavailable {
                source: protocol::live::ClusterSource::Kube,
                reason,
            })
        }
    }
}

/// The hosts to answer to, once the address, the keys and the host names are safe to serve
/// with: a server reachable from other machines needs an operator key (unless anonymous
/// operators are asked for) and host names. The live server and a replay both check this.
pub fn exposure(config: &Config) -> anyhow::Result<HostPolicy> {
    if !config.addr.ip().is_loopback()
        && config.api_key.is_none()
        && !config.allow_anonymous_operators
    {
        anyhow::bail!(
            "refusing to listen on {} without an operator key: anyone who reaches it could start, stop and purge runs. \
             Set one with --api-key or SCALEBOARD_API_KEY (e.g. SCALEBOARD_API_KEY=$(openssl rand -hex 32)), \
             or pass --allow-anonymous-operators if that is really wanted",
            config.addr
        );
    }
    HostPolicy::for_bind(
        config.addr,
        &config.allowed_hosts,
        config.trust_forwarded_headers,
    )
    .map_err(anyhow::Error::msg)
}

impl Settings {
    /// The settings `scaleboard` serves with, from its flags and environment. Refuses what
    /// would be unsafe to expose: a server reachable from other machines with no operator key
    /// (unless anonymous operators are asked for) or with no host names to answer to.
    pub fn from_config(config: &Config) -> anyhow::Result<Settings> {
        let hosts = exposure(config)?;
        let account = config
            .storage
            .account()
            .context("storage settings are not usable")?;
        let storage = Storage::connect(&account, storage::Role::Server)
            .context("cannot set up storage clients")?;
        let cluster = match config.cluster.kind {
            ClusterKind::Local => {
                let profile = config
                    .policy
                    .profile()
                    .map_err(|e| anyhow::anyhow!("scaling policy: {e}"))?;
                tracing::info!(profile = %profile.name, "local cluster model");
                ClusterChoice::Local {
                    profile: Box::new(profile),
                    worker: worker::WorkerConfig::default(),
                }
            }
            ClusterKind::Kube => ClusterChoice::Kube(config.cluster.clone()),
            ClusterKind::None => ClusterChoice::None,
        };
        Ok(Settings {
            storage,
            engine: EngineConfig {
                fan_out_concurrency: config.fan_out_concurrency as usize,
                fan_out_window: config.fan_out_window,
                max_input_count: config.max_input_count,
                max_queued_items: config.max_queued_items,
                reconcile_interval: config.reconcile_interval(),
                event_visibility: config.event_visibility(),
                event_max_dequeue: config.event_max_dequeue,
                run_lease: config.run_lease(),
                ..EngineConfig::default()
            },
            api: ApiSettings {
                operator_key: config.api_key.clone(),
                viewer_key: config.viewer_key.clone(),
                trust_forwarded: config.trust_forwarded_headers,
                public_url: config.public_url.clone(),
                max_input_count: config.max_input_count,
                max_cost: config.max_cost,
                default_cost: config.default_cost(),
            },
            cluster,
            sample_interval: config.sample_interval(),
            history: usize::try_from(config.history).unwrap_or(usize::MAX),
            site_root: config.site_root.clone(),
            hosts,
        })
    }
}

impl Running {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address `/metrics` is served on, when it is.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// What the handlers share: storage, the engine, the hub.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Cancel this to begin a graceful shutdown (what Ctrl-C and SIGTERM do).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.state.shutdown.clone()
    }

    /// Begins shutdown and waits until every task has finished.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.state.shutdown.cancel();
        self.stopped().await
    }

    /// Waits until shutdown was asked for and every task has finished: the HTTP server (requests
    /// in flight are answered), the engine loops, the local worker pods and the sampler.
    pub async fn stopped(self) -> anyhow::Result<()> {
        let served = self.serving.await.context("the HTTP server task failed")?;
        self.state.shutdown.cancelled().await;
        self.tracker.close();
        self.tracker.wait().await;
        served.context("serving HTTP")
    }
}
