//! The endpoints a load balancer, Kubernetes and a browser call without asking: liveness,
//! readiness, and the site icon.

use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use storage::names;

use crate::app::AppState;

/// How long readiness waits for storage.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// The process is up. Says nothing about storage, so Kubernetes does not restart a healthy
/// server because the storage account had a hiccup.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// Storage answers: 200, else 503. Anyone can call it, so it says only that; the endpoint and
/// the service's error go to the log.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let storage = &state.storage;
    let probe = storage
        .within(
            READY_TIMEOUT,
            "reading the work queue's length",
            storage.queue_length(names::WORK_QUEUE),
        )
        .await;
    match probe {
        Ok(_) => Json(json!({ "status": "ready" })).into_response(),
        Err(e) => {
            tracing::debug!("not ready: {e}");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable" })),
            )
                .into_response()
        }
    }
}

/// The site icon, built in so that it needs no file on disk.
pub async fn favicon() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "max-age=86400"),
        ],
        include_str!("../../public/favicon.svg"),
    )
}
