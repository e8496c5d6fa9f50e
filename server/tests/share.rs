//! `GET /api/share` over real HTTP: the configured public URL wins, a loopback server falls
//! back to the host it was reached by, and a host it does not answer to gets a JSON 4xx, never
//! a link.

mod support;

use azurite::{Azurite, Options};
use protocol::routes;
use protocol::share::Share;
use reqwest::StatusCode;
use serde_json::Value;
use support::{Settings, TestServer};

async fn get(server: &TestServer, host: Option<&str>, key: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(server.url(routes::SHARE));
    if let Some(host) = host {
        request = request.header("host", host);
    }
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    request.send().await.unwrap()
}

async fn share(response: reqwest::Response) -> Share {
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.unwrap()
}

#[tokio::test]
async fn the_link_comes_from_the_public_url_else_from_a_validated_host() {
    let azurite = Azurite::start(&Options::for_tests()).unwrap();
    let ports = azurite.ports();

    // No public URL: the host the request came to, which the loopback server answers to.
    let server = TestServer::start(ports.blob, ports.queue).await;
    let port = server.addr.port();
    let answer = share(get(&server, None, None).await).await;
    assert_eq!(answer.url, format!("http://127.0.0.1:{port}/"));
    assert!(answer.svg.starts_with("<svg") && answer.svg.contains("viewBox"));
    let answer = share(get(&server, Some(&format!("localhost:{port}")), None).await).await;
    assert_eq!(answer.url, format!("http://localhost:{port}/"));

    // A hostile name (DNS rebinding, or a forged header) is refused with a JSON body.
    for hostile in ["evil.example", "evil.example:80", "127.0.0.1@evil.example"] {
        let response = get(&server, Some(hostile), None).await;
        let status = response.status();
        assert!(status.is_client_error(), "{hostile}: {status}");
        let body: Value = response.json().await.unwrap();
        let error = body["error"].as_str().unwrap();
        assert!(error.contains("host"), "{hostile}: {error}");
        assert!(!error.contains("http://evil"), "{hostile}: {error}");
    }
    server.stop().await;

    // A public URL and a private dashboard: the link names the public address with the viewer
    // key, whatever the host of the request, and never the operator key.
    let server = TestServer::with(
        ports.blob,
        ports.queue,
        Settings {
            api_key: Some("operator-key".into()),
            viewer_key: Some("viewer-key".into()),
            public_url: Some("https://demo.example.com/board".parse().unwrap()),
            ..Settings::default()
        },
    )
    .await;
    let answer = share(get(&server, None, Some("viewer-key")).await).await;
    assert_eq!(
        answer.url,
        "https://demo.example.com/board/?code=viewer-key"
    );
    let answer = share(get(&server, None, Some("operator-key")).await).await;
    assert!(!answer.url.contains("operator-key"));
    // Viewing needs the key here, and so does the link.
    let response = get(&server, None, None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.json::<Value>().await.unwrap()["error"].is_string());
    // The host check still stands in front of the route.
    let response = get(&server, Some("evil.example"), Some("viewer-key")).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    server.stop().await;
}

#[tokio::test]
async fn a_bad_public_url_stops_the_server_at_start_with_the_flag_named() {
    for bad in [
        "ftp://demo.example.com/",
        "https://user:pass@demo.example.com/",
        "https://demo.example.com/?x=1",
    ] {
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_scaleboard"))
            .args(["--public-url", bad])
            .env_clear()
            .output()
            .await
            .unwrap();
        assert!(!output.status.success(), "{bad} was accepted");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("--public-url"), "{bad}: {stderr}");
    }
}
