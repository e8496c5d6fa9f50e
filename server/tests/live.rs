//! The server end to end over real HTTP and WebSocket clients, against a real Azurite.

mod support;

use std::time::Duration;

use azure_storage_queue::models::QueueMessage;
use azurite::{Azurite, Options, Ports};
use futures_util::StreamExt;
use protocol::live::{Frame, Sample, StorageHealth};
use storage::names;
use support::TestServer;
use tokio_tungstenite::tungstenite::Message;

async fn live(
    server: &TestServer,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let (socket, _) = tokio_tungstenite::connect_async(server.live_url())
        .await
        .expect("connect to the live socket");
    socket
}

async fn next_frame<S>(socket: &mut S) -> Frame
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let message = tokio::time::timeout(Duration::from_secs(20), socket.next())
            .await
            .expect("a frame within 20 s")
            .expect("the socket stays open")
            .expect("a valid message");
        if let Message::Text(text) = message {
            return Frame::from_json(&text).expect("a frame the protocol knows");
        }
    }
}

/// Reads frames until a sample satisfies `wanted`, for at most a minute.
async fn sample_where<S>(socket: &mut S, wanted: impl Fn(&Sample) -> bool) -> Sample
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no wanted sample within a minute"
        );
        let samples = match next_frame(socket).await {
            Frame::Snapshot { samples, .. } | Frame::History { samples } => samples,
            Frame::Sample { sample } => vec![sample],
            Frame::Runs { .. } => Vec::new(),
        };
        if let Some(found) = samples.into_iter().find(|s| wanted(s)) {
            return found;
        }
    }
}

#[tokio::test]
async fn live_socket_streams_the_real_queue_length() {
    let azurite = Azurite::start(&Options::for_tests()).unwrap();
    let server = TestServer::start(azurite.ports().blob, azurite.ports().queue).await;
    let mut socket = live(&server).await;

    // First a snapshot, then samples with increasing sequence numbers.
    assert!(matches!(
        next_frame(&mut socket).await,
        Frame::Snapshot {
            interval_ms: 200,
            ..
        }
    ));
    let first = sample_where(&mut socket, |s| s.queue_length == Some(0)).await;

    let queue = server.storage.queue(names::WORK_QUEUE).unwrap();
    for i in 0..3 {
        let message = QueueMessage {
            message_text: Some(format!("{i}")),
        };
        queue
            .send_message(message.try_into().unwrap(), None)
            .await
            .unwrap();
    }
    let later = sample_where(&mut socket, |s| s.queue_length == Some(3)).await;
    assert!(later.seq > first.seq);
    assert!(later.t_ms >= first.t_ms);

    let client = reqwest::Client::new();
    let ready = client.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    // Ready or not, and nothing more: the endpoint and errors are for the log.
    assert_eq!(body, serde_json::json!({ "status": "ready" }));
    let health = client.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn unreachable_storage_is_reported_and_recovers_without_a_restart() {
    // Reserve ports for an Azurite that is not running yet.
    let ports = {
        let a = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let b = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        Ports {
            blob: a.local_addr().unwrap().port(),
            queue: b.local_addr().unwrap().port(),
        }
    };
    let server = TestServer::start(ports.blob, ports.queue).await;
    let client = reqwest::Client::new();

    let ready = client.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body, serde_json::json!({ "status": "unavailable" }));
    let endpoint = format!("http://127.0.0.1:{}/devstoreaccount1", ports.queue);
    // The process itself is healthy: only readiness fails.
    assert_eq!(
        client
            .get(server.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let mut socket = live(&server).await;
    let down = sample_where(&mut socket, |s| !s.storage.is_ok()).await;
    assert_eq!(down.queue_length, None);
    assert!(
        matches!(&down.storage, StorageHealth::Unreachable { endpoint: e, .. } if *e == endpoint)
    );

    // Storage comes up: the same server finds it, creates its queues, and reports ready.
    let _azurite = Azurite::start(&Options {
        ports,
        ..Options::for_tests()
    })
    .unwrap();
    let up = sample_where(&mut socket, |s| s.storage.is_ok()).await;
    assert_eq!(up.queue_length, Some(0));
    assert!(up.seq > down.seq);
    let ready = client.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}

#[tokio::test]
async fn shutdown_closes_live_sockets_and_stops_serving() {
    let azurite = Azurite::start(&Options::for_tests()).unwrap();
    let server = TestServer::start(azurite.ports().blob, azurite.ports().queue).await;
    let mut socket = live(&server).await;
    next_frame(&mut socket).await;

    // The server and every task it started finish even though a client is still connected…
    tokio::time::timeout(Duration::from_secs(10), server.running.stop())
        .await
        .expect("graceful shutdown does not wait for live clients")
        .unwrap();
    // …and the client sees its socket end.
    let end = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match socket.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await;
    assert!(end.is_ok(), "the socket was not closed");
}
