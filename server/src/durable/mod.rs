//! The Durable Functions-shaped HTTP API, so `curl` habits and the official Durable Functions
//! clients keep working.
//!
//! Same routes, field names, status codes and headers as the Durable Functions HTTP API:
//! `POST /api/orchestrators/ComputeOrchestrator?inputCount=N` (the original demo's starter) and
//! `POST /runtime/webhooks/durabletask/orchestrators/{name}[/{instanceId}]` (the built-in start
//! route the clients call) answer 202 with a `Location` header and the management URIs; the
//! status query answers 202 while the run is not finished and 200 once it is.
//!
//! - [`params`]: what a caller may send, parsed with errors that say what to fix.
//! - [`documents`]: the status document and the management URIs.
//! - `handlers`: one function per route.
//!
//! Who may call what is not decided here: the operator check is a layer over the whole router
//! (`crate::auth`), so a new mutating route cannot forget it.

pub mod documents;
mod handlers;
pub mod params;

use axum::routing::{get, post};
use axum::Router;
use protocol::routes::patterns;

use crate::app::AppState;

/// Limits of the API.
#[derive(Clone, Debug)]
pub struct ApiSettings {
    /// When set, every mutating call needs it (`Authorization: Bearer` or `code=`); checked by
    /// `crate::auth`'s layer.
    pub operator_key: Option<crate::auth::Secret>,
    /// When set, viewing needs it too (or the operator key): a private dashboard.
    pub viewer_key: Option<crate::auth::Secret>,
    pub max_input_count: u32,
    pub max_cost: u32,
    /// Cost per item when a start request names none.
    pub default_cost: u32,
    /// Whether a proxy in front sets `X-Forwarded-Proto` and `X-Forwarded-Host`; without one,
    /// those headers are ignored when building links.
    pub trust_forwarded: bool,
    /// The address the audience reaches the dashboard by (`--public-url`), for the share link;
    /// without it the link is built from the request's validated host.
    pub public_url: Option<crate::share::PublicUrl>,
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            patterns::ORCHESTRATOR_START,
            post(handlers::start_from_query),
        )
        .route(patterns::RUNTIME_START, post(handlers::start_from_body))
        .route(
            patterns::RUNTIME_START_WITH_ID,
            post(handlers::start_with_id),
        )
        .route(protocol::routes::INSTANCES, get(handlers::list))
        .route(patterns::INSTANCES_SLASH, get(handlers::list))
        .route(
            patterns::INSTANCE,
            get(handlers::status).delete(handlers::purge),
        )
        .route(patterns::TERMINATE, post(handlers::terminate))
        .route(patterns::SUSPEND, post(handlers::suspend))
        .route(patterns::RESUME, post(handlers::resume))
        .route(patterns::RESTART, post(handlers::restart))
        .route(patterns::RAISE_EVENT, post(handlers::raise_event))
}
