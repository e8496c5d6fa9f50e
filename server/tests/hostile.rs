//! Hostile input, as an attacker would send it, over real HTTP and WebSocket against a real
//! server on a real Azurite: every route, query, body and header with values chosen to break
//! parsers, overflow arithmetic or cost a lot. Each case must get a 4xx with a JSON error (or a
//! correct answer) — never a 5xx, a panic or a hang — and the server must be healthy after it.
//!
//! The cases are named and counted; the totals by group are printed at the end.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use azurite::{Azurite, Options};
use futures_util::{SinkExt, StreamExt};
use protocol::durable::{RuntimeStatus, StatusDocument};
use protocol::routes::{self, patterns};
use reqwest::{Method, StatusCode};
use support::{eventually, Settings, TestServer};
use tokio_tungstenite::tungstenite::Message;

/// Longer than any honest answer takes; a case that needs it is a hang.
const HANG: Duration = Duration::from_secs(15);

struct Case {
    group: &'static str,
    name: String,
    method: Method,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Option<String>,
}

fn case(group: &'static str, name: impl Into<String>, method: Method, path: String) -> Case {
    Case {
        group,
        name: name.into(),
        method,
        path,
        headers: Vec::new(),
        body: None,
    }
}

impl Case {
    fn json(mut self, body: impl Into<String>) -> Case {
        self.headers
            .push(("content-type", "application/json".to_string()));
        self.body = Some(body.into());
        self
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Case {
        self.headers.push((name, value.into()));
        self
    }
}

/// Values that break naive number parsing and arithmetic.
const NUMBERS: [&str; 16] = [
    "",
    "-1",
    "0",
    "4294967295",
    "4294967296",
    "18446744073709551615",
    "18446744073709551616",
    "1e9",
    "NaN",
    "inf",
    "0x10",
    "%2B5",
    "%EF%BC%91",
    "99999999999999999999999999999999999999999",
    "1.5",
    "%00",
];

/// Ids that are not run ids, as path segments.
const IDS: [&str; 8] = [
    "..",
    "%2e%2e",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "a%2Fb",
    "%00",
    "%C3%BC",
    "a%20b",
    "%3Cscript%3E",
];

fn cases(running: &str, finished: &str) -> Vec<Case> {
    let mut all = Vec::new();
    let start_path = format!("{}/{}", routes::ORCHESTRATORS, routes::ORCHESTRATOR);
    let runtime_start = format!("{}/{}", routes::RUNTIME_ORCHESTRATORS, routes::ORCHESTRATOR);

    for param in ["inputCount", "cost", "failEvery"] {
        for value in NUMBERS {
            let query = if param == "inputCount" {
                format!("inputCount={value}")
            } else {
                format!("inputCount=1&{param}={value}")
            };
            all.push(
                case(
                    "start query",
                    format!("{param}={value}"),
                    Method::POST,
                    format!("{start_path}?{query}"),
                )
                .header("content-length", "0"),
            );
        }
    }
    for value in NUMBERS {
        all.push(case(
            "list query",
            format!("top={value}"),
            Method::GET,
            format!("{}?top={value}", routes::INSTANCES),
        ));
    }
    for value in [
        "",
        ",",
        "running",
        "Running,,",
        "Running,Done",
        "%FF",
        "Pending%00",
    ] {
        all.push(case(
            "list query",
            format!("runtimeStatus={value}"),
            Method::GET,
            format!("{}?runtimeStatus={value}", routes::INSTANCES),
        ));
    }
    for name in ["createdTimeFrom", "createdTimeTo"] {
        for value in [
            "yesterday",
            "2026-13-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "0000-01-01T00:00:00Z",
            "-1",
            "",
            "2026-01-01T00:00:00%2B25:00",
        ] {
            all.push(case(
                "list query",
                format!("{name}={value}"),
                Method::GET,
                format!("{}?{name}={value}", routes::INSTANCES),
            ));
        }
    }
    for token in [
        "-1",
        "18446744073709551615",
        "abc",
        "",
        "99999999999999999999999999",
    ] {
        all.push(case(
            "list query",
            format!("continuationToken={token}"),
            Method::GET,
            format!("{}?top=1&continuationToken={token}", routes::INSTANCES),
        ));
        all.push(
            case(
                "headers",
                format!("x-ms-continuation-token: {token}"),
                Method::GET,
                format!("{}?top=1", routes::INSTANCES),
            )
            .header("x-ms-continuation-token", token),
        );
    }

    for id in IDS {
        for (method, pattern) in [
            (Method::GET, patterns::INSTANCE),
            (Method::DELETE, patterns::INSTANCE),
            (Method::POST, patterns::TERMINATE),
            (Method::POST, patterns::SUSPEND),
            (Method::POST, patterns::RESUME),
            (Method::POST, patterns::RESTART),
            (Method::POST, patterns::RAISE_EVENT),
            (Method::GET, patterns::REPLAY),
            (Method::GET, patterns::RECORDING),
            (Method::POST, patterns::RUNTIME_START_WITH_ID),
        ] {
            let path = pattern
                .replace("{id}", id)
                .replace("{event}", "ComputeComplete")
                .replace("{name}", routes::ORCHESTRATOR);
            all.push(
                case("ids", format!("{method} {pattern} id={id}"), method, path)
                    .header("content-length", "0"),
            );
        }
        all.push(case(
            "ids",
            format!("GET /runs/{id}"),
            Method::GET,
            format!("/runs/{id}"),
        ));
        all.push(case(
            "ids",
            format!("GET export run={id}"),
            Method::GET,
            format!("{}/samples.csv?run={id}", routes::EXPORT),
        ));
    }

    // A recording of a run still going, of an unknown run, and with a query it ignores.
    for (name, path) in [
        ("run still going", routes::recording(running)),
        ("unknown run", routes::recording("no-such-run")),
        (
            "ignored query",
            format!("{}?speed=1e308&x=%00", routes::recording(finished)),
        ),
    ] {
        all.push(case("recording", name, Method::GET, path));
    }

    let raise = routes::instance_action(running, "raiseEvent/ComputeComplete");
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let long = format!("{{\"item\":0,\"reason\":\"{}\"}}", "x".repeat(60_000));
    for (name, body) in [
        ("empty", ""),
        ("null", "null"),
        ("array", "[]"),
        ("object without item", "{}"),
        ("string holding an object", "\"{}\""),
        ("string holding no JSON", "\"not json\""),
        ("negative item", "{\"item\":-1,\"value\":1}"),
        ("item past u32", "{\"item\":4294967296,\"value\":1}"),
        ("item past the run", "{\"item\":4000000,\"value\":1}"),
        ("negative value", "{\"item\":0,\"value\":-5}"),
        ("fractional value", "{\"item\":0,\"value\":1.5}"),
        ("huge value", "{\"item\":0,\"value\":1e30}"),
        ("unknown field", "{\"item\":0,\"value\":1,\"extra\":1}"),
        ("no value", "{\"item\":0}"),
        (
            "computeMs past u32",
            "{\"item\":0,\"value\":1,\"computeMs\":4294967296}",
        ),
        ("not JSON", "{item: 0}"),
        ("deeply nested", deep.as_str()),
        ("long reason", long.as_str()),
    ] {
        all.push(case("raiseEvent body", name, Method::POST, raise.clone()).json(body));
    }
    for event in ["Other", "computecomplete", "%00", "ComputeComplete%2F..%2F"] {
        all.push(
            case(
                "raiseEvent body",
                format!("event {event}"),
                Method::POST,
                routes::instance_action(running, &format!("raiseEvent/{event}")),
            )
            .json("{\"item\":0,\"value\":1}"),
        );
    }
    all.push(
        case("raiseEvent body", "text/plain", Method::POST, raise.clone())
            .header("content-type", "text/plain")
            .header("content-length", "2")
            .json("{}")
            .header("content-type", "text/plain"),
    );

    for (name, body) in [
        ("inputCount zero", "{\"inputCount\":0}"),
        ("inputCount negative", "{\"inputCount\":-3}"),
        (
            "inputCount past u64",
            "{\"inputCount\":18446744073709551616}",
        ),
        ("inputCount as text", "{\"inputCount\":\"10\"}"),
        (
            "cost past the limit",
            "{\"inputCount\":1,\"cost\":4294967295}",
        ),
        (
            "failEvery past inputCount",
            "{\"inputCount\":2,\"failEvery\":3}",
        ),
        ("unknown field", "{\"inputCount\":1,\"orchestrator\":\"x\"}"),
        (
            "string holding a bad object",
            "\"{\\\"inputCount\\\": -1}\"",
        ),
        ("array", "[1,2]"),
        ("not JSON", "inputCount=1"),
        ("too many items", "{\"inputCount\":100000000}"),
    ] {
        all.push(case("start body", name, Method::POST, runtime_start.clone()).json(body));
    }

    let demo = serde_json::to_value(autoscale::Profile::demo()).unwrap();
    let with = |path: [&str; 2], value: serde_json::Value| {
        let mut profile = demo.clone();
        profile[path[0]][path[1]] = value;
        profile.to_string()
    };
    for (name, body) in [
        (
            "max_replicas u32::MAX",
            with(["scaled_object", "max_replicas"], 4294967295u64.into()),
        ),
        (
            "min_replicas above max",
            with(["scaled_object", "min_replicas"], 100_000.into()),
        ),
        (
            "max_nodes u32::MAX",
            with(["node_pool", "max_nodes"], 4294967295u64.into()),
        ),
        (
            "min_nodes u32::MAX",
            with(["node_pool", "min_nodes"], 4294967295u64.into()),
        ),
        (
            "negative nodes",
            with(["node_pool", "max_nodes"], (-1).into()),
        ),
        (
            "queue length zero",
            with(["scaled_object", "queue_length"], 0.into()),
        ),
        (
            "queue length u64::MAX",
            with(["scaled_object", "queue_length"], u64::MAX.into()),
        ),
        (
            "polling 1e300 s",
            with(["scaled_object", "polling_interval"], 1e300.into()),
        ),
        (
            "polling negative",
            with(["scaled_object", "polling_interval"], (-1.0).into()),
        ),
        (
            "polling zero",
            with(["scaled_object", "polling_interval"], 0.into()),
        ),
        (
            "scan interval a year",
            with(["cluster_autoscaler", "scan_interval"], 31_536_000.into()),
        ),
        ("pod cpu u32::MAX", {
            let mut profile = demo.clone();
            profile["pod"]["requests"]["cpu_millis"] = 4294967295u64.into();
            profile.to_string()
        }),
        (
            "wrong type",
            with(["scaled_object", "max_replicas"], "many".into()),
        ),
        ("empty object", "{}".to_string()),
        ("not JSON", "max_replicas=5".to_string()),
    ] {
        all.push(
            case(
                "policy body",
                name,
                Method::PUT,
                routes::CLUSTER_PROFILE.into(),
            )
            .json(body),
        );
    }

    for (name, query) in [
        ("maxReplicaCount u32::MAX", "maxReplicaCount=4294967295"),
        ("maxNodes u32::MAX", "maxNodes=4294967295"),
        (
            "both at u32::MAX",
            "maxReplicaCount=4294967295&maxNodes=4294967295",
        ),
        ("minReplicaCount above max", "minReplicaCount=100000"),
        ("pollingInterval negative", "pollingInterval=-1"),
        ("pollingInterval NaN", "pollingInterval=NaN"),
        ("pollingInterval inf", "pollingInterval=inf"),
        ("pollingInterval 1e308", "pollingInterval=1e308"),
        ("queueLength zero", "queueLength=0"),
        ("unknown profile", "profile=huge"),
        ("profile ../", "profile=..%2F..%2Fetc"),
        ("cooldownPeriod 1e20", "cooldownPeriod=1e20"),
    ] {
        all.push(case(
            "replay query",
            name,
            Method::GET,
            format!("{}?{query}", routes::replay(finished)),
        ));
    }

    let long_policy = format!("a=pollingInterval:{}", "9".repeat(400));
    for (name, query) in [
        (
            "whatif maxReplicaCount u32::MAX",
            "a=maxReplicaCount:4294967295".to_string(),
        ),
        (
            "whatif queueLength past u64",
            "a=queueLength:99999999999999999999999".to_string(),
        ),
        (
            "whatif pollingInterval u64::MAX",
            "a=pollingInterval:18446744073709551615".to_string(),
        ),
        (
            "whatif cooldownPeriod u64::MAX",
            "a=cooldownPeriod:18446744073709551615".to_string(),
        ),
        (
            "whatif maxNodes u32::MAX",
            "a=maxNodes:4294967295".to_string(),
        ),
        (
            "whatif a fourth policy",
            "a=profile:aks&d=profile:aks".to_string(),
        ),
        ("whatif no policy", "format=json".to_string()),
        ("whatif value too long", long_policy.clone()),
        ("whatif key repeated", "a=maxNodes:2,maxNodes:3".to_string()),
        ("whatif unknown key", "a=replicas:3".to_string()),
        ("whatif unicode", "a=profile:%C3%A9%F0%9F%92%A5".to_string()),
        ("whatif profile ../", "a=profile:..%2F..%2Fetc".to_string()),
        (
            "whatif format ../",
            "a=profile:aks&format=..%2Fpng".to_string(),
        ),
        ("whatif behavior unknown", "a=behavior:eager".to_string()),
    ] {
        all.push(case(
            "whatif query",
            name,
            Method::GET,
            format!("{}?{query}", routes::whatif(finished)),
        ));
    }
    all.push(case(
        "whatif query",
        "whatif a running run",
        Method::GET,
        format!("{}?a=profile:aks", routes::whatif(running)),
    ));
    all.push(case(
        "whatif query",
        "whatif a run id with a slash",
        Method::GET,
        format!("{}?a=profile:aks", routes::whatif("..%2Fetc")),
    ));

    for (name, path) in [
        ("minutes negative", "samples.csv?minutes=-1"),
        ("minutes zero", "samples.csv?minutes=0"),
        ("minutes huge", "samples.csv?minutes=18446744073709551615"),
        ("from after to", "samples.json?from=2000&to=1000"),
        (
            "from huge",
            "samples.json?from=18446744073709551615&to=18446744073709551615",
        ),
        (
            "width huge",
            "queue.png?minutes=1&width=100000&height=100000",
        ),
        ("width zero", "queue.png?minutes=1&width=0"),
        (
            "largest png",
            "charts.png?minutes=60&width=4000&height=4000",
        ),
        ("unknown chart", "bogus.svg?minutes=1"),
        ("unknown format", "queue.bmp?minutes=1"),
        ("no extension", "queue?minutes=1"),
        ("path traversal", "..%2F..%2Fetc%2Fpasswd"),
        ("theme injection", "queue.svg?minutes=1&theme=%3Cscript%3E"),
        ("both range and run", "samples.csv?minutes=5&run=abc"),
        ("nothing", "samples.csv"),
    ] {
        all.push(case(
            "export query",
            name,
            Method::GET,
            format!("{}/{path}", routes::EXPORT),
        ));
    }

    for (name, value) in [
        ("Bearer nothing", "Bearer"),
        (
            "Bearer huge",
            format!("Bearer {}", "k".repeat(8_000)).leak() as &str,
        ),
        ("Basic", "Basic dXNlcjpwYXNz"),
        ("bearer with NUL", "Bearer a%00b"),
    ] {
        all.push(
            case(
                "headers",
                format!("Authorization: {name}"),
                Method::POST,
                format!("{start_path}?inputCount=1"),
            )
            .header("authorization", value)
            .header("content-length", "0"),
        );
    }
    for (name, header, value) in [
        ("session, Authorization garbage", "authorization", "Bearer x y\tz %00"),
        ("session, Authorization without token", "authorization", "Bearer "),
        ("session, cookie garbage", "cookie", "scaleboard_viewer"),
        ("session, cookie huge", "cookie", "scaleboard_viewer=kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"),
        ("session, many cookies", "cookie", "a=1; ;;=; scaleboard_viewer=; b"),
    ] {
        all.push(case("headers", name, Method::GET, routes::SESSION.to_string()).header(header, value));
    }
    for query in ["code=", "code=%00", "code=%FF%FE", "code=a&code=b"] {
        all.push(case(
            "headers",
            format!("session ?{query}"),
            Method::GET,
            format!("{}?{query}", routes::SESSION),
        ));
    }
    for (name, content_type) in [
        ("JSON route, form body", "application/x-www-form-urlencoded"),
        ("JSON route, multipart", "multipart/form-data; boundary=x"),
        ("JSON route, no type", ""),
    ] {
        let mut c = case(
            "headers",
            format!("Content-Type: {name}"),
            Method::POST,
            runtime_start.clone(),
        );
        c.body = Some("inputCount=1".into());
        if !content_type.is_empty() {
            c.headers.push(("content-type", content_type.to_string()));
        }
        all.push(c);
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_get_clear_4xx_answers_and_the_server_stays_healthy() {
    let azurite = Azurite::start(&Options::for_tests()).unwrap();
    let settings = Settings {
        cluster: Some(autoscale::Profile::demo()),
        ..Settings::default()
    };
    let server = TestServer::with(azurite.ports().blob, azurite.ports().queue, settings).await;
    let client = reqwest::Client::new();
    let start = |n: u32| {
        client
            .post(server.url(&routes::start(n, Some(0))))
            .header("content-length", "0")
            .send()
    };
    let id_of = |body: serde_json::Value| body["id"].as_str().unwrap().to_string();
    // One run left running (the suspended one), one finished (for the replays).
    let finished = id_of(start(1).await.unwrap().json().await.unwrap());
    eventually(Duration::from_secs(120), "a run to finish", || async {
        let doc: StatusDocument = client
            .get(server.url(&routes::instance(&finished)))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (doc.runtime_status == RuntimeStatus::Completed).then_some(())
    })
    .await;
    let running = id_of(start(3).await.unwrap().json().await.unwrap());
    client
        .post(server.url(&routes::instance_action(&running, "suspend")))
        .header("content-length", "0")
        .send()
        .await
        .unwrap();

    let all = cases(&running, &finished);
    let mut by_group: BTreeMap<&str, BTreeMap<String, usize>> = BTreeMap::new();
    let mut slowest = (Duration::ZERO, String::new());
    for c in &all {
        let mut request = client.request(c.method.clone(), server.url(&c.path));
        for (name, value) in &c.headers {
            request = request.header(*name, value.as_str());
        }
        if let Some(body) = &c.body {
            request = request.body(body.clone());
        }
        let started = Instant::now();
        let response = tokio::time::timeout(HANG, request.send())
            .await
            .unwrap_or_else(|_| panic!("{} / {}: no answer within {HANG:?}", c.group, c.name))
            .unwrap_or_else(|e| panic!("{} / {}: the connection failed: {e}", c.group, c.name));
        let status = response.status();
        let api = c.path.starts_with("/api") || c.path.starts_with("/runtime");
        let body = response.text().await.unwrap();
        let took = started.elapsed();
        if took > slowest.0 {
            slowest = (took, format!("{} / {}", c.group, c.name));
        }
        assert!(
            !status.is_server_error(),
            "{} / {}: {status} {body}",
            c.group,
            c.name
        );
        if api && status.is_client_error() {
            let error: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|e| {
                panic!("{} / {}: {status} not JSON ({e}): {body}", c.group, c.name)
            });
            assert!(
                error["error"].is_string(),
                "{} / {}: {body}",
                c.group,
                c.name
            );
            assert!(
                body.len() < 2_000,
                "{} / {}: the error echoes too much",
                c.group,
                c.name
            );
        }
        let class = format!("{}xx", status.as_u16() / 100);
        *by_group
            .entry(c.group)
            .or_default()
            .entry(class)
            .or_default() += 1;
        let health = client.get(server.url("/healthz")).send().await.unwrap();
        assert_eq!(
            health.status(),
            StatusCode::OK,
            "unhealthy after {}",
            c.name
        );
    }

    let frames = websocket_cases(&server).await;
    by_group.insert("websocket", frames);

    let total: usize = by_group.values().flat_map(|g| g.values()).sum();
    println!("hostile input: {total} cases");
    for (group, classes) in &by_group {
        println!("  {group:<16} {classes:?}");
    }
    println!("  slowest: {:?} ({})", slowest.0, slowest.1);
    assert!(total >= 200, "{total} cases");
    server.stop().await;
}

/// Frames a hostile live client sends: each leaves the server serving the others.
async fn websocket_cases(server: &TestServer) -> BTreeMap<String, usize> {
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    let huge = "x".repeat(2 * 1024 * 1024);
    let messages = [
        ("2 MiB text", Message::Text(huge.clone().into())),
        ("2 MiB binary", Message::Binary(huge.into_bytes().into())),
        ("small text", Message::Text("hello".into())),
        (
            "garbage binary",
            Message::Binary(vec![0xff, 0x00, 0xfe].into()),
        ),
        ("ping", Message::Ping(vec![1, 2, 3].into())),
    ];
    for (name, message) in messages {
        let (mut socket, _) = tokio_tungstenite::connect_async(server.live_url())
            .await
            .unwrap_or_else(|e| panic!("websocket {name}: {e}"));
        // The snapshot first.
        assert!(
            socket.next().await.is_some(),
            "websocket {name}: no snapshot"
        );
        let _ = socket.send(message).await;
        // Whatever happens to this socket, a new viewer still gets a snapshot.
        let (mut other, _) = tokio_tungstenite::connect_async(server.live_url())
            .await
            .unwrap();
        let first = tokio::time::timeout(HANG, other.next())
            .await
            .unwrap_or_else(|_| panic!("websocket {name}: the server stopped serving"));
        assert!(
            matches!(first, Some(Ok(Message::Text(_)))),
            "websocket {name}: {first:?}"
        );
        *outcomes.entry("served".to_string()).or_default() += 1;
    }
    outcomes
}
