//! HTTP endpoints other than the pages: health, readiness, the live socket.

use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use storage::names;

use crate::app::AppState;
use crate::error::ApiError;
use crate::live::{serve_client, Ended};

/// How long a client may leave a frame unread before it is disconnected.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long readiness waits for storage.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// The process is up. Says nothing about storage, so Kubernetes does not restart a healthy
/// server because the storage account had a hiccup.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// Storage answers: 200, else 503 naming the endpoint and the error.
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
        Ok(length) => Json(json!({
            "status": "ready",
            "storage": { "endpoint": storage.queue_endpoint(), "workQueueLength": length },
        }))
        .into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({
                "status": "unavailable",
                "storage": { "endpoint": storage.queue_endpoint(), "error": e.to_string() },
            })),
        )
            .into_response(),
    }
}

/// `GET /ws/live`: upgrades to a WebSocket and streams frames until either side stops.
pub async fn live_socket(State(state): State<AppState>, upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(move |socket| client_session(state, socket))
}

async fn client_session(state: AppState, socket: WebSocket) {
    let (sink, stream) = socket.split();
    let outgoing =
        sink.with(|text: String| async move { Ok::<_, axum::Error>(Message::Text(text.into())) });
    // Anything the client sends is ignored; a close or an error ends the session.
    let incoming = stream
        .take_while(|message| {
            std::future::ready(matches!(message, Ok(m) if !matches!(m, Message::Close(_))))
        })
        .map(|_| ());
    let ended = serve_client(
        state.hub.clone(),
        Box::pin(outgoing),
        Box::pin(incoming),
        SEND_TIMEOUT,
        state.shutdown.clone(),
    )
    .await;
    if ended == Ended::TooSlow {
        tracing::info!("dropped a live client that stopped reading");
    }
}

/// `GET /api/cluster`: the cluster view in use, and for the local model its policy and its
/// recent decisions.
pub async fn cluster(State(state): State<AppState>) -> Json<serde_json::Value> {
    match &state.local {
        Some(local) => Json(json!({
            "source": "local",
            "profile": local.profile(),
            "events": local.events(),
        })),
        None => Json(
            json!({ "source": if state.hub.latest().is_some_and(|s| s.cluster.source == protocol::live::ClusterSource::Kube) { "kube" } else { "none" } }),
        ),
    }
}

/// `PUT /api/cluster/profile`: replaces the local model's policy, applied from its next step.
pub async fn set_profile(
    State(state): State<AppState>,
    body: Result<Json<autoscale::Profile>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Some(local) = &state.local else {
        return Err(ApiError {
            status: StatusCode::CONFLICT,
            message: "the policy can be edited only with the local cluster model (--cluster local); on Kubernetes, edit the ScaledObject".into(),
        });
    };
    let Json(profile) =
        body.map_err(|e| ApiError::bad_request(format!("not a policy: {}", e.body_text())))?;
    local
        .set_profile(profile)
        .map_err(|e| ApiError::bad_request(format!("the policy is not valid: {e}")))?;
    Ok(Json(json!({ "profile": local.profile() })))
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
