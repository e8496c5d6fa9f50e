//! The router and the server loop.

use std::time::Duration;

use app::{shell, App};
use axum::extract::FromRef;
use axum::routing::get;
use axum::Router;
use leptos::config::LeptosOptions;
use leptos_axum::{generate_route_list, LeptosRoutes};
use protocol::live::LIVE_PATH;
use storage::Storage;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::trace::TraceLayer;

use crate::durable::ApiSettings;
use crate::live::Hub;
use crate::orchestrator::Engine;
use crate::{api, durable, export};

/// What every handler can reach. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    pub storage: Storage,
    pub hub: Hub,
    pub engine: Engine,
    pub api: ApiSettings,
    /// The local model, when it is the cluster view (its policy can be read and edited).
    pub local: Option<crate::cluster::local::LocalCluster>,
    pub leptos: LeptosOptions,
    /// Cancelled when the server shuts down, so long-lived sockets close and graceful shutdown
    /// does not wait for them forever.
    pub shutdown: CancellationToken,
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

/// Every route: API, live socket, pages, and the static files of the site.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let options = state.leptos.clone();
    Router::new()
        .route("/healthz", get(api::healthz))
        .route("/readyz", get(api::readyz))
        .route(LIVE_PATH, get(api::live_socket))
        .route("/favicon.svg", get(api::favicon))
        .route("/favicon.ico", get(api::favicon))
        .route("/api/cluster", get(api::cluster))
        .route("/api/cluster/profile", axum::routing::put(api::set_profile))
        .route("/api/runs/{id}/replay", get(crate::replay::replay))
        .merge(durable::routes())
        .merge(export::routes())
        .leptos_routes(&state, routes, move || shell(options.clone()))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Creates the queues and containers, retrying with backoff until storage answers.
pub async fn prepare_storage(storage: Storage, shutdown: CancellationToken) {
    let mut delay = Duration::from_millis(500);
    loop {
        let attempt = storage
            .within(
                Duration::from_secs(10),
                "creating queues and containers",
                storage.ensure_resources(),
            )
            .await;
        match attempt {
            Ok(()) => {
                tracing::info!(endpoint = storage.queue_endpoint(), "storage ready");
                return;
            }
            Err(e) => tracing::warn!("storage not ready: {e}; retrying in {delay:?}"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(Duration::from_secs(30));
    }
}

/// Serves until `shutdown` is cancelled, then lets requests in flight finish.
pub async fn serve(listener: TcpListener, state: AppState) -> std::io::Result<()> {
    let shutdown = state.shutdown.clone();
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}
