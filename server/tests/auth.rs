//! Who may call what, over real HTTP: every route of the router × {no key, wrong key, right key
//! (as a bearer token in either case, or `code=`)} with an operator key configured, and the same
//! routes without one.

mod support;

use azurite::{Azurite, Options};
use protocol::routes::{self, patterns};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use support::{Settings, TestServer};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const KEY: &str = "s3cret-operator-key";

/// How a request presents (or does not present) the key.
#[derive(Clone, Copy, Debug)]
enum Key {
    None,
    WrongBearer,
    WrongCode,
    RightBearer,
    RightLowerCaseBearer,
    RightCode,
}

impl Key {
    const ALL: [Key; 6] = [
        Key::None,
        Key::WrongBearer,
        Key::WrongCode,
        Key::RightBearer,
        Key::RightLowerCaseBearer,
        Key::RightCode,
    ];

    fn is_right(self) -> bool {
        matches!(
            self,
            Key::RightBearer | Key::RightLowerCaseBearer | Key::RightCode
        )
    }
}

async fn call(server: &TestServer, method: &Method, path: &str, key: Key) -> (StatusCode, String) {
    let mut url = server.url(path);
    let code = |url: &mut String, value: &str| {
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str("code=");
        url.push_str(value);
    };
    let mut request = reqwest::Client::new().request(method.clone(), "http://unused");
    match key {
        Key::None => {}
        Key::WrongBearer => request = request.header("Authorization", "Bearer nope"),
        Key::WrongCode => code(&mut url, "nope"),
        Key::RightBearer => request = request.header("Authorization", format!("Bearer {KEY}")),
        Key::RightLowerCaseBearer => {
            request = request.header("Authorization", format!("bearer {KEY}"))
        }
        Key::RightCode => code(&mut url, KEY),
    }
    let mut request = request.build().unwrap();
    *request.url_mut() = url.parse().unwrap();
    if *method == Method::PUT || *method == Method::POST {
        request
            .headers_mut()
            .insert("content-length", "0".parse().unwrap());
    }
    let response = reqwest::Client::new().execute(request).await.unwrap();
    let status = response.status();
    (status, response.text().await.unwrap())
}

/// Every mutating route, with its path filled in for run `id`.
fn mutating(id: &str) -> Vec<(Method, String)> {
    let fill = |pattern: &str| {
        pattern
            .replace("{id}", id)
            .replace("{name}", routes::ORCHESTRATOR)
            .replace("{event}", "ComputeComplete")
    };
    vec![
        (
            Method::POST,
            format!("{}?inputCount=1&cost=0", fill(patterns::ORCHESTRATOR_START)),
        ),
        (
            Method::POST,
            format!("{}?inputCount=1&cost=0", fill(patterns::RUNTIME_START)),
        ),
        (
            Method::POST,
            format!(
                "{}?inputCount=1&cost=0",
                fill(patterns::RUNTIME_START_WITH_ID).replace(id, "chosen-id")
            ),
        ),
        (Method::POST, fill(patterns::TERMINATE)),
        (Method::POST, fill(patterns::SUSPEND)),
        (Method::POST, fill(patterns::RESUME)),
        (Method::POST, fill(patterns::RESTART)),
        (Method::POST, fill(patterns::RAISE_EVENT)),
        (Method::DELETE, fill(patterns::INSTANCE)),
        (Method::PUT, routes::CLUSTER_PROFILE.to_string()),
        // Not routes at all: the layer answers before routing decides.
        (Method::POST, "/api/no-such-route".to_string()),
        (Method::PATCH, fill(patterns::INSTANCE)),
        (Method::POST, "/".to_string()),
    ]
}

/// Every read route, with its path filled in for run `id`.
fn reads(id: &str) -> Vec<(Method, String)> {
    let fill = |pattern: &str| pattern.replace("{id}", id);
    vec![
        (Method::GET, routes::HEALTHZ.to_string()),
        (Method::GET, routes::READYZ.to_string()),
        (Method::GET, fill(patterns::INSTANCE)),
        (
            Method::GET,
            format!("{}?showHistory=true", fill(patterns::INSTANCE)),
        ),
        (Method::GET, routes::INSTANCES.to_string()),
        (Method::GET, patterns::INSTANCES_SLASH.to_string()),
        (Method::GET, routes::CLUSTER.to_string()),
        (Method::GET, routes::SESSION.to_string()),
        (Method::GET, routes::SHARE.to_string()),
        (
            Method::GET,
            format!("{}/samples.csv?minutes=1", routes::EXPORT),
        ),
        (
            Method::GET,
            format!("{}/queue.svg?minutes=1", routes::EXPORT),
        ),
        (Method::GET, routes::replay(id)),
        (Method::GET, format!("{}?a=profile:aks", routes::whatif(id))),
        (Method::GET, routes::recording(id)),
        (Method::GET, "/".to_string()),
        (Method::GET, format!("/runs/{id}")),
        (Method::GET, "/favicon.svg".to_string()),
        (Method::HEAD, routes::HEALTHZ.to_string()),
        (Method::GET, "/api/no-such-route".to_string()),
    ]
}

async fn start_one(server: &TestServer) -> String {
    let (status, body) = call(
        server,
        &Method::POST,
        &routes::start(1, Some(0)),
        Key::RightBearer,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    serde_json::from_str::<Value>(&body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn with_an_operator_key_every_mutating_route_needs_it_and_reads_do_not() {
    let azurite = Azurite::start(&Options::for_tests()).unwrap();
    let settings = Settings {
        api_key: Some(KEY.into()),
        ..Settings::default()
    };
    let server = TestServer::with(azurite.ports().blob, azurite.ports().queue, settings).await;
    let id = start_one(&server).await;

    let mut checked = 0;
    for (method, path) in mutating(&id) {
        for key in Key::ALL {
            let (status, body) = call(&server, &method, &path, key).await;
            if key.is_right() {
                assert_ne!(status, StatusCode::UNAUTHORIZED, "{method} {path} {key:?}");
            } else {
                assert_eq!(
                    status,
                    StatusCode::UNAUTHORIZED,
                    "{method} {path} {key:?}: {body}"
                );
                let error: Value = serde_json::from_str(&body).unwrap();
                assert!(
                    error["error"].as_str().unwrap().contains("operator key"),
                    "{body}"
                );
                assert!(!body.contains(KEY));
            }
            checked += 1;
        }
    }
    for (method, path) in reads(&id) {
        let baseline = call(&server, &method, &path, Key::None).await.0;
        assert_ne!(baseline, StatusCode::UNAUTHORIZED, "{method} {path}");
        for key in Key::ALL {
            let (status, _) = call(&server, &method, &path, key).await;
            assert_eq!(status, baseline, "{method} {path} {key:?}");
            checked += 1;
        }
    }
    assert!(checked > 150, "{checked} cases");
    server.stop().await;
}

#[tokio::test]
async fn without_a_key_nothing_asks_for_one() {
    let azurite = Azurite::start(&Options::for_tests()).unwrap();
    let server = TestServer::start(azurite.ports().blob, azurite.ports().queue).await;
    let id = start_one(&server).await;
    for (method, path) in mutating(&id).into_iter().chain(reads(&id)) {
        let (status, body) = call(&server, &method, &path, Key::None).await;
        assert_ne!(status, StatusCode::UNAUTHORIZED, "{method} {path}: {body}");
        assert!(
            !status.is_server_error(),
            "{method} {path}: {status} {body}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn unknown_api_paths_and_methods_answer_json() {
    let azurite = Azurite::start(&Options::for_tests()).unwrap();
    let server = TestServer::start(azurite.ports().blob, azurite.ports().queue).await;
    for (method, path, expected) in [
        (Method::GET, "/api/nope", StatusCode::NOT_FOUND),
        (
            Method::GET,
            "/runtime/webhooks/durabletask/nope",
            StatusCode::NOT_FOUND,
        ),
        (Method::POST, "/api/nope/deeper", StatusCode::NOT_FOUND),
        (
            Method::GET,
            "/api/orchestrators/ComputeOrchestrator",
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            Method::PUT,
            routes::INSTANCES,
            StatusCode::METHOD_NOT_ALLOWED,
        ),
    ] {
        let (status, body) = call(&server, &method, path, Key::None).await;
        assert_eq!(status, expected, "{method} {path}: {body}");
        let error: Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {body}"));
        assert!(error["error"].is_string(), "{body}");
    }
    server.stop().await;
}

const VIEWER_KEY: &str = "v1ewer-key-for-the-audience";

/// With both keys configured: every read route × {no key, wrong key, viewer key, operator key,
/// viewer cookie} and every mutating route × the same.
#[tokio::test]
async fn a_private_dashboard_needs_the_viewer_key_to_read_and_the_operator_key_to_change() {
    let azurite = Azurite::start(&Options::for_tests()).unwrap();
    let settings = Settings {
        api_key: Some(KEY.into()),
        viewer_key: Some(VIEWER_KEY.into()),
        ..Settings::default()
    };
    let server = TestServer::with(azurite.ports().blob, azurite.ports().queue, settings).await;
    let id = start_one(&server).await;
    let client = reqwest::Client::new();
    let send = |method: Method, path: &str, auth: Option<(&str, String)>| {
        let mut request = client
            .request(method.clone(), server.url(path))
            .header("content-length", "0");
        if let Some((name, value)) = auth {
            request = request.header(name, value);
        }
        request.send()
    };
    let viewer = || Some(("authorization", format!("Bearer {VIEWER_KEY}")));
    let operator = || Some(("authorization", format!("bearer {KEY}")));
    let wrong = || Some(("authorization", "Bearer nope".to_string()));
    let cookie = || Some(("cookie", format!("scaleboard_viewer={VIEWER_KEY}")));

    let mut checked = 0;
    for (method, path) in reads(&id) {
        let probe = path == routes::HEALTHZ || path == routes::READYZ;
        for auth in [None, wrong()] {
            let status = send(method.clone(), &path, auth).await.unwrap().status();
            if probe {
                assert_ne!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
            } else {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
            }
            checked += 1;
        }
        for auth in [viewer(), operator(), cookie()] {
            let status = send(method.clone(), &path, auth).await.unwrap().status();
            assert_ne!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
            checked += 1;
        }
    }
    for (method, path) in mutating(&id) {
        for auth in [None, wrong(), viewer(), cookie()] {
            let status = send(method.clone(), &path, auth).await.unwrap().status();
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
            checked += 1;
        }
        let status = send(method.clone(), &path, operator())
            .await
            .unwrap()
            .status();
        assert_ne!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
        checked += 1;
    }
    assert!(checked > 100, "{checked} cases");

    // The link with the key sets the cookie the page's further requests carry…
    let page = send(Method::GET, &format!("/?code={VIEWER_KEY}"), None)
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let set_cookie = page.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(set_cookie.starts_with(&format!("scaleboard_viewer={VIEWER_KEY};")));
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"));
    // …the live socket opens with it and not without it.
    let mut request = server.live_url().into_client_request().unwrap();
    assert!(tokio_tungstenite::connect_async(request.clone())
        .await
        .is_err());
    request.headers_mut().insert(
        "cookie",
        format!("scaleboard_viewer={VIEWER_KEY}").parse().unwrap(),
    );
    assert!(tokio_tungstenite::connect_async(request).await.is_ok());
    // The session says what this request may do.
    let session: protocol::session::Session = send(Method::GET, routes::SESSION, viewer())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(session.operator_key_required && !session.operator);
    server.stop().await;
}
