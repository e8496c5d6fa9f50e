//! `GET /ws/live`: the WebSocket route in front of the live hub. The hub's client loop
//! ([`crate::live::serve_client`]) is generic over a connection so tests drive it with
//! channels; this is the axum glue: the upgrade, the limits, and the socket as that connection.

use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use futures_util::{Sink, Stream};
use tokio_util::sync::CancellationToken;

use crate::app::AppState;
use crate::error::ApiError;
use crate::live::{serve_client, Ended, Hub};

/// How long a client may leave a frame unread before it is disconnected.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Live viewers at once; past it a new viewer is told to come back.
pub const MAX_LIVE_CLIENTS: usize = 10_000;
/// The largest message a viewer may send. The server reads none (the page sends nothing), so
/// this only bounds what a hostile client can make it buffer.
const MAX_INCOMING_MESSAGE: usize = 1024;
/// The buffer each connection reads into. The page sends nothing but a close (at most 131
/// bytes), and tungstenite zero-fills this whole buffer before every read it tries, which the
/// session does after each frame it sends: the default (128 KiB) would cost 640 MiB at 5,000
/// viewers and a 128 KiB memset per viewer per frame. A larger message is still read, in parts.
const READ_BUFFER: usize = 256;
/// Frames are written as they come (no batching in a 128 KiB buffer): the hub's frames are
/// small and each send waits for the previous one anyway.
const WRITE_BUFFER: usize = 0;
/// What one connection may hold unwritten: a few of the largest frames the hub sends (a
/// snapshot's part, about 12 KB); past it the client is too slow and is dropped.
const MAX_WRITE_BUFFER: usize = 256 * 1024;

/// `GET /ws/live`: upgrades to a WebSocket and streams frames until either side stops.
pub async fn live_socket(
    State(state): State<AppState>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let viewer = state.metrics.viewer();
    serve_hub(state.hub.clone(), state.shutdown.clone(), upgrade, viewer)
}

/// Upgrades to a WebSocket fed by `hub`, within the viewer limit and the buffer bounds above:
/// the live server's route and the replay server's share it. `guard` is kept for the life of
/// the session (the viewer count of the metrics).
pub fn serve_hub<G: Send + 'static>(
    hub: Hub,
    shutdown: CancellationToken,
    upgrade: WebSocketUpgrade,
    guard: G,
) -> Result<Response, ApiError> {
    if hub.clients() >= MAX_LIVE_CLIENTS {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{MAX_LIVE_CLIENTS} viewers are connected already; try again shortly"),
        ));
    }
    Ok(upgrade
        .max_message_size(MAX_INCOMING_MESSAGE)
        .max_frame_size(MAX_INCOMING_MESSAGE)
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
        .on_upgrade(move |socket| client_session(hub, shutdown, socket, guard)))
}

async fn client_session<G>(hub: Hub, shutdown: CancellationToken, socket: WebSocket, _guard: G) {
    let ended = serve_client(hub, Viewer(socket), SEND_TIMEOUT, shutdown).await;
    if ended == Ended::TooSlow {
        tracing::info!("dropped a live client that stopped reading");
    }
}

/// A viewer's socket as the hub's client loop sees it: frames go out as text messages, and
/// whatever the viewer sends is ignored until a close or an error ends the stream.
struct Viewer(WebSocket);

impl Sink<Utf8Bytes> for Viewer {
    type Error = axum::Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.0).poll_ready(cx)
    }

    fn start_send(mut self: Pin<&mut Self>, frame: Utf8Bytes) -> Result<(), Self::Error> {
        Pin::new(&mut self.0).start_send(Message::Text(frame))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.0).poll_close(cx)
    }
}

impl Stream for Viewer {
    type Item = ();

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<()>> {
        match ready!(Pin::new(&mut self.0).poll_next(cx)) {
            Some(Ok(Message::Close(_)) | Err(_)) | None => Poll::Ready(None),
            Some(Ok(_)) => Poll::Ready(Some(())),
        }
    }
}
