//! `GET /ws/live`: the WebSocket route in front of the live hub. The hub's client loop
//! ([`crate::live::serve_client`]) is generic over a sink and a stream so tests drive it with
//! channels; this is the axum glue: the upgrade, the limits, and the socket split into the two.

use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};

use crate::app::AppState;
use crate::error::ApiError;
use crate::live::{serve_client, Ended};

/// How long a client may leave a frame unread before it is disconnected.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Live viewers at once; past it a new viewer is told to come back.
pub const MAX_LIVE_CLIENTS: usize = 10_000;
/// The largest message a viewer may send. The server reads none (the page sends nothing), so
/// this only bounds what a hostile client can make it buffer.
const MAX_INCOMING_MESSAGE: usize = 1024;

/// `GET /ws/live`: upgrades to a WebSocket and streams frames until either side stops.
pub async fn live_socket(
    State(state): State<AppState>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    if state.hub.clients() >= MAX_LIVE_CLIENTS {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{MAX_LIVE_CLIENTS} viewers are connected already; try again shortly"),
        ));
    }
    Ok(upgrade
        .max_message_size(MAX_INCOMING_MESSAGE)
        .max_frame_size(MAX_INCOMING_MESSAGE)
        .on_upgrade(move |socket| client_session(state, socket)))
}

async fn client_session(state: AppState, socket: WebSocket) {
    let _viewer = state.metrics.viewer();
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
