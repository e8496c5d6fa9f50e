//! The router and the server loop.

use std::time::Duration;

use app::{shell, App};
use axum::extract::DefaultBodyLimit;
use axum::extract::FromRef;
use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{any, get, put};
use axum::Router;
use leptos::config::LeptosOptions;
use leptos_axum::{generate_route_list, LeptosRoutes};
use protocol::routes;
use storage::Storage;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::cluster::api as cluster_api;
use crate::durable::ApiSettings;
use crate::guard::HostPolicy;
use crate::live::Hub;
use crate::orchestrator::Engine;
use crate::{auth, durable, error, export, guard, live_socket, probes};

/// What every handler can reach. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    pub storage: Storage,
    pub hub: Hub,
    pub engine: Engine,
    pub api: ApiSettings,
    /// The local model, when it is the cluster view (its policy can be read and edited).
    pub local: Option<crate::cluster::local::LocalCluster>,
    /// The cluster view in use (the local model, a Kubernetes cluster, or none): what-if
    /// replays start from its policy.
    pub cluster: std::sync::Arc<dyn crate::cluster::ClusterView>,
    pub leptos: LeptosOptions,
    /// Replays and chart rendering, a few at a time.
    pub heavy: crate::heavy::HeavyWork,
    /// The hosts and origins the server answers to.
    pub hosts: crate::guard::HostPolicy,
    /// Cancelled when the server shuts down, so long-lived sockets close and graceful shutdown
    /// does not wait for them forever.
    pub shutdown: CancellationToken,
    /// The Prometheus metrics (served on their own listener, not by [`router`]).
    pub metrics: crate::metrics::Metrics,
}

/// The roles' keys, for the layers and `/api/session` (which need nothing else).
impl FromRef<AppState> for ApiSettings {
    fn from_ref(state: &AppState) -> Self {
        state.api.clone()
    }
}

/// The host names, for the share link (built from a validated host only).
impl FromRef<AppState> for HostPolicy {
    fn from_ref(state: &AppState) -> Self {
        state.hosts.clone()
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}

/// Leptos settings built in code, so the binary needs no `Cargo.toml` at run time.
pub fn leptos_options(site_root: &std::path::Path, addr: std::net::SocketAddr) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("scaleboard")
        .site_root(site_root.to_string_lossy().as_ref())
        .site_pkg_dir("pkg")
        .site_addr(addr)
        .build()
}

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// The longest a request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Every route: API, live socket, pages, and the static files of the site.
///
/// The operator check is one layer over all of it (`auth::require_operator`): every mutating
/// request needs the key, whichever route it is for. Unknown paths under `/api` and `/runtime`
/// answer a JSON 404, and a known path called with the wrong method a JSON 405.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let options = state.leptos.clone();
    let router = Router::new()
        .route(routes::HEALTHZ, get(probes::healthz))
        .route(routes::READYZ, get(probes::readyz))
        .route(routes::LIVE, get(live_socket::live_socket))
        .route("/favicon.svg", get(probes::favicon))
        .route("/favicon.ico", get(probes::favicon))
        .route(routes::SESSION, get(auth::session))
        .route(routes::CLUSTER, get(cluster_api::cluster))
        .route(routes::SHARE, get(crate::share::share))
        .route(routes::CLUSTER_PROFILE, put(cluster_api::set_profile))
        .route(routes::patterns::REPLAY, get(crate::replay::replay))
        .route(routes::patterns::WHATIF, get(crate::whatif::whatif))
        .route(
            routes::patterns::RECORDING,
            get(crate::recording::recording),
        )
        .merge(durable::routes())
        .merge(export::routes())
        .route("/api/{*rest}", any(error::no_such_route))
        .route("/runtime/{*rest}", any(error::no_such_route))
        // The metrics have a listener of their own, which viewers cannot reach.
        .route(plumbing::metrics::PATH, any(error::no_such_route))
        .method_not_allowed_fallback(error::wrong_method)
        .leptos_routes(&state, routes, move || shell(options.clone()))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell));
    // Bodies are small JSON documents (a policy is about 2 KiB); the PNG exports are the
    // slowest answers, well within the time limit.
    let (api, hosts) = (state.api.clone(), state.hosts.clone());
    guarded(router, api, hosts, MAX_BODY_BYTES).with_state(state)
}

/// The layers every route of a Scaleboard server sits behind, the live server's and the
/// replay server's alike: the operator and viewer roles, the host and origin check, a body
/// limit of `max_body` bytes, the request time limit, the security headers and the trace.
pub fn guarded<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    api: ApiSettings,
    hosts: HostPolicy,
    max_body: usize,
) -> Router<S> {
    let [nosniff, referrer, frame_options, frame_ancestors] = guard::security_headers();
    router
        .layer(middleware::from_fn_with_state(
            api.clone(),
            auth::require_operator,
        ))
        .layer(middleware::from_fn_with_state(api, auth::require_viewer))
        .layer(middleware::from_fn_with_state(
            hosts,
            guard::check_host_and_origin,
        ))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(nosniff)
        .layer(referrer)
        .layer(frame_options)
        .layer(frame_ancestors)
        .layer(TraceLayer::new_for_http())
}

/// One bounded attempt at creating the queues and containers.
pub async fn prepare_storage_once(storage: &Storage, attempt: Duration) -> Result<(), ()> {
    let outcome = storage
        .within(
            attempt,
            "creating queues and containers",
            storage.ensure_resources(),
        )
        .await;
    match outcome {
        Ok(()) => {
            tracing::info!(endpoint = storage.queue_endpoint(), "storage ready");
            Ok(())
        }
        Err(e) => {
            tracing::warn!("storage not ready: {e}");
            Err(())
        }
    }
}

/// Creates the queues and containers, retrying with backoff until storage answers; `Err` when
/// shutdown came first.
pub async fn prepare_storage(
    storage: &Storage,
    shutdown: &CancellationToken,
    attempt: Duration,
) -> Result<(), ()> {
    let mut delay = Duration::from_millis(500);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return Err(()),
            _ = tokio::time::sleep(delay) => {}
        }
        if prepare_storage_once(storage, attempt).await.is_ok() {
            return Ok(());
        }
        tracing::info!("retrying storage set-up in {delay:?}");
        delay = (delay * 2).min(Duration::from_secs(30));
    }
}

/// Serves until `shutdown` is cancelled, then lets requests in flight finish.
pub async fn serve(listener: TcpListener, state: AppState) -> std::io::Result<()> {
    let shutdown = state.shutdown.clone();
    crate::serve::serve(
        listener,
        router(state),
        crate::serve::Limits::default(),
        shutdown,
    )
    .await
}
