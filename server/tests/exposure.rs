//! Safe to expose: what the server refuses to start with, and what a browser on another site
//! (or a DNS-rebinding name) cannot make it do, over real HTTP and WebSocket.

mod support;

use std::process::Stdio;
use std::time::Duration;

use azurite::{Azurite, Options};
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::Value;
use support::TestServer;
use tokio::io::AsyncReadExt;
use tokio::process::Command;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const BIN: &str = env!("CARGO_BIN_EXE_scaleboard");

/// Runs the binary with `args` and no storage reachable; returns its exit status and stderr.
async fn refused(args: &[&str], env: &[(&str, &str)]) -> (std::process::ExitStatus, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .env("SCALEBOARD_CLUSTER", "none")
        // A free port: tests run side by side, and the default port may be taken.
        .env("SCALEBOARD_METRICS_ADDR", "127.0.0.1:0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("the server refuses at once instead of serving")
        .unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .await
        .unwrap();
    (status, stderr)
}

#[tokio::test]
async fn a_public_address_without_an_operator_key_refuses_to_start_and_says_how_to_set_one() {
    let (status, stderr) = refused(&["--addr", "0.0.0.0:0"], &[]).await;
    assert!(!status.success());
    assert!(stderr.contains("without an operator key"), "{stderr}");
    assert!(stderr.contains("SCALEBOARD_API_KEY"), "{stderr}");
    assert!(stderr.contains("--allow-anonymous-operators"), "{stderr}");

    // With a key, it still needs the names it is reached by.
    let (status, stderr) = refused(
        &["--addr", "0.0.0.0:0"],
        &[("SCALEBOARD_API_KEY", "k3y-for-the-test")],
    )
    .await;
    assert!(!status.success());
    assert!(stderr.contains("--allowed-host"), "{stderr}");
    assert!(!stderr.contains("k3y-for-the-test"), "{stderr}");
}

async fn server() -> (Azurite, TestServer) {
    let azurite = Azurite::start(&Options::for_tests()).unwrap();
    let server = TestServer::start(azurite.ports().blob, azurite.ports().queue).await;
    (azurite, server)
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn error_of(response: reqwest::Response) -> String {
    let body: Value = response.json().await.expect("a JSON error");
    body["error"]
        .as_str()
        .expect("an error message")
        .to_string()
}

#[tokio::test]
async fn dns_rebinding_and_cross_site_requests_are_refused() {
    let (_azurite, server) = server().await;
    let start = server.url(&protocol::routes::start(1, Some(0)));

    // A rebinding name: the page, the API and the socket all refuse it…
    for path in ["/", protocol::routes::INSTANCES, "/api/cluster"] {
        let response = client()
            .get(server.url(path))
            .header("host", "evil.example")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
        assert!(error_of(response).await.contains("evil.example"));
    }
    // …but the probes answer whatever the Host, as the kubelet calls them by pod IP.
    let probe = client()
        .get(server.url("/healthz"))
        .header("host", "10.244.1.7:3000")
        .send()
        .await
        .unwrap();
    assert_eq!(probe.status(), StatusCode::OK);

    // A form POST from another site carries its Origin: refused before anything starts.
    let cross_site = client()
        .post(&start)
        .header("origin", "https://evil.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
    assert!(error_of(cross_site).await.contains("cross-site"));
    let list: Vec<Value> = client()
        .get(server.url(protocol::routes::INSTANCES))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(list.is_empty(), "a cross-site POST started a run");

    // The page's own origin may.
    let same_site = client()
        .post(&start)
        .header("origin", format!("http://{}", server.addr))
        .header("content-length", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(same_site.status(), StatusCode::ACCEPTED);

    // The live socket from another site is refused; from the page's origin it opens.
    let mut request = server.live_url().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    let refused = tokio_tungstenite::connect_async(request).await;
    assert!(
        matches!(&refused, Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == 403),
        "{refused:?}"
    );
    let mut request = server.live_url().into_client_request().unwrap();
    request.headers_mut().insert(
        "origin",
        format!("http://localhost:{}", server.addr.port())
            .parse()
            .unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert!(socket.next().await.is_some());
    server.stop().await;
}

#[tokio::test]
async fn answers_carry_security_headers_and_pages_a_nonce_policy() {
    let (_azurite, server) = server().await;
    let nonce_of = |html: &str| {
        let start = html.find("'nonce-").expect("a nonce in the page's policy") + 7;
        html[start..start + html[start..].find('\'').unwrap()].to_string()
    };
    let mut nonces = Vec::new();
    for _ in 0..2 {
        let page = client().get(server.url("/")).send().await.unwrap();
        let headers = page.headers().clone();
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["referrer-policy"], "no-referrer");
        assert_eq!(headers["x-frame-options"], "DENY");
        assert!(headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'"));
        let html = page.text().await.unwrap();
        assert!(
            html.contains("http-equiv=\"Content-Security-Policy\""),
            "{html}"
        );
        assert!(html.contains("'wasm-unsafe-eval'"));
        let nonce = nonce_of(&html);
        assert!(nonce.len() >= 16, "{nonce}");
        // Every inline script carries it.
        assert_eq!(
            html.matches("<script").count(),
            html.matches(&format!("nonce=\"{nonce}\"")).count(),
            "{html}"
        );
        nonces.push(nonce);
    }
    assert_ne!(nonces[0], nonces[1], "a nonce is used once");
    let api = client()
        .get(server.url(protocol::routes::INSTANCES))
        .send()
        .await
        .unwrap();
    assert_eq!(api.headers()["x-content-type-options"], "nosniff");
    server.stop().await;
}

#[tokio::test]
async fn oversized_bodies_and_tokens_get_a_clear_error_and_the_server_stays_up() {
    let (_azurite, server) = server().await;
    let big = format!(
        "{{\"inputCount\": 1, \"pad\": \"{}\"}}",
        "x".repeat(100_000)
    );
    let response = client()
        .post(server.url(&format!(
            "{}/{}",
            protocol::routes::RUNTIME_ORCHESTRATORS,
            protocol::routes::ORCHESTRATOR
        )))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(error_of(response).await.contains("length limit"));

    for token in [
        "18446744073709551615",
        "99999999999999999999999",
        "-1",
        "abc",
    ] {
        let response = client()
            .get(server.url(&format!(
                "{}?top=5&continuationToken={token}",
                protocol::routes::INSTANCES
            )))
            .send()
            .await
            .unwrap();
        assert!(
            response.status() == StatusCode::OK || response.status() == StatusCode::BAD_REQUEST,
            "{token}: {}",
            response.status()
        );
    }
    let health = client().get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    server.stop().await;
}

#[tokio::test]
async fn a_half_sent_request_is_cut_off_instead_of_held_open() {
    let (_azurite, server) = server().await;
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    use tokio::io::AsyncWriteExt;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    // The head never ends; the server closes the connection after its header-read timeout.
    let mut buffer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut buffer))
        .await
        .expect("the server closed the connection");
    assert!(read.is_ok());
    server.stop().await;
}
