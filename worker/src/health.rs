//! `/healthz` for the kubelet's probes: 200 with the worker's counters while it runs, 503 once
//! it is shutting down so that no new traffic or attention goes its way. `/metrics` on the same
//! port: the same counters and the item durations for Prometheus, in the OpenMetrics text
//! format (the port is the pod's own, so the scraper needs no second one).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::stats::{Progress, Stats};

/// What `/healthz` answers.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    /// `ok` while running, `stopping` after shutdown was asked for.
    pub status: &'static str,
    pub worker_id: String,
    /// Messages being worked on now.
    pub busy: usize,
    pub stats: Stats,
}

#[derive(Clone)]
struct HealthState {
    worker_id: String,
    progress: Arc<Progress>,
    shutdown: CancellationToken,
}

/// The health routes for one worker; `shutdown` is the worker's own shutdown signal.
pub fn router(worker_id: String, progress: Arc<Progress>, shutdown: CancellationToken) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route(plumbing::metrics::PATH, get(metrics))
        .with_state(HealthState {
            worker_id,
            progress,
            shutdown,
        })
}

/// Serves `router` on `listener` until `until` is cancelled.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    until: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(until.cancelled_owned())
        .await
}

async fn healthz(State(state): State<HealthState>) -> (StatusCode, Json<Health>) {
    let stopping = state.shutdown.is_cancelled();
    let health = Health {
        status: if stopping { "stopping" } else { "ok" },
        worker_id: state.worker_id,
        busy: state.progress.busy(),
        stats: state.progress.stats(),
    };
    let status = if stopping {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (status, Json(health))
}

async fn metrics(State(state): State<HealthState>) -> Response {
    match plumbing::metrics::encode(state.progress.metrics().registry()) {
        Ok(text) => (
            [(header::CONTENT_TYPE, plumbing::metrics::CONTENT_TYPE)],
            text,
        )
            .into_response(),
        Err(e) => {
            tracing::error!("encoding the metrics: {e}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(serde_json::json!({ "error": "the metrics could not be encoded" })),
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get_health(addr: std::net::SocketAddr) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        response
    }

    #[tokio::test]
    async fn answers_ok_while_running_and_503_when_stopping() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let done = CancellationToken::new();
        let router = router("pod-1".into(), Arc::default(), shutdown.clone());
        let serving = tokio::spawn(serve(listener, router, done.clone()));

        let response = get_health(addr).await;
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.contains(r#""workerId":"pod-1""#), "{response}");
        assert!(response.contains(r#""status":"ok""#), "{response}");

        shutdown.cancel();
        let response = get_health(addr).await;
        assert!(response.starts_with("HTTP/1.1 503"), "{response}");

        done.cancel();
        serving.await.unwrap().unwrap();
    }
}
