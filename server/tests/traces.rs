//! One item's trace across both real processes: the `scaleboard` server and the
//! `scaleboard-worker` binary, against one Azurite, export their spans over OTLP/HTTP to a
//! receiver in this test, and the item's spans from both services share one trace id, in the
//! order fan-out → queue → worker → event → fan-in.
//!
//! The worker binary is found next to the server's: `cargo test --workspace` builds both
//! (`cargo build -p worker --bin scaleboard-worker` first when running this test alone).

mod support;

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::routing::post;
use axum::Router;
use azurite::{Azurite, Options};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use prost::Message;
use support::{eventually, start_run_on};
use tokio::process::{Child, Command};

const SERVER: &str = env!("CARGO_BIN_EXE_scaleboard");

/// The OTLP/HTTP bodies received so far.
type Bodies = Arc<Mutex<Vec<Bytes>>>;

/// A span as exported, with the service that exported it.
#[derive(Clone, Debug)]
struct Exported {
    service: String,
    name: String,
    trace_id: Vec<u8>,
    span_id: Vec<u8>,
    parent_span_id: Vec<u8>,
    start_ns: u64,
    end_ns: u64,
    attributes: HashMap<String, String>,
}

/// A collector's trace endpoint: `POST /v1/traces`, answered with an empty export response.
async fn receiver() -> (u16, Bodies) {
    let bodies = Bodies::default();
    let app = Router::new()
        .route(
            "/v1/traces",
            post(|State(bodies): State<Bodies>, body: Bytes| async move {
                bodies.lock().unwrap().push(body);
                ([(CONTENT_TYPE, "application/x-protobuf")], Vec::<u8>::new())
            }),
        )
        .with_state(bodies.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (port, bodies)
}

fn text_of(attributes: &[KeyValue], key: &str) -> Option<String> {
    let value = attributes.iter().find(|kv| kv.key == key)?.value.as_ref()?;
    match value.value.as_ref()? {
        Value::StringValue(s) => Some(s.clone()),
        Value::IntValue(i) => Some(i.to_string()),
        Value::BoolValue(b) => Some(b.to_string()),
        other => Some(format!("{other:?}")),
    }
}

fn spans(bodies: &Bodies) -> Vec<Exported> {
    let bodies = bodies.lock().unwrap().clone();
    let mut spans = Vec::new();
    for body in bodies {
        let request = ExportTraceServiceRequest::decode(body).expect("an OTLP protobuf body");
        for resource_spans in request.resource_spans {
            let service = resource_spans
                .resource
                .as_ref()
                .and_then(|r| text_of(&r.attributes, "service.name"))
                .unwrap_or_default();
            for scope in resource_spans.scope_spans {
                for span in scope.spans {
                    spans.push(Exported {
                        service: service.clone(),
                        name: span.name.clone(),
                        trace_id: span.trace_id.clone(),
                        span_id: span.span_id.clone(),
                        parent_span_id: span.parent_span_id.clone(),
                        start_ns: span.start_time_unix_nano,
                        end_ns: span.end_time_unix_nano,
                        attributes: span
                            .attributes
                            .iter()
                            .filter_map(|kv| {
                                Some((kv.key.clone(), text_of(&span.attributes, &kv.key)?))
                            })
                            .collect(),
                    });
                }
            }
        }
    }
    spans
}

fn worker_binary() -> PathBuf {
    let path = PathBuf::from(SERVER).with_file_name("scaleboard-worker");
    assert!(
        path.exists(),
        "{} is missing: build it with `cargo build -p worker --bin scaleboard-worker`",
        path.display()
    );
    path
}

/// What both processes are given to export their spans to the receiver, quickly.
fn with_export(command: &mut Command, receiver_port: u16) -> &mut Command {
    command
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{receiver_port}"),
        )
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
}

fn spawn_server(azurite: &Azurite, port: u16, receiver_port: u16) -> Child {
    with_export(
        Command::new(SERVER)
            .env_clear()
            .env("SCALEBOARD_ADDR", format!("127.0.0.1:{port}"))
            .env(
                "SCALEBOARD_AZURITE_BLOB",
                format!("127.0.0.1:{}", azurite.ports().blob),
            )
            .env(
                "SCALEBOARD_AZURITE_QUEUE",
                format!("127.0.0.1:{}", azurite.ports().queue),
            )
            .env("SCALEBOARD_CLUSTER", "none")
            .env("LEPTOS_SITE_ROOT", "target/site")
            .env("RUST_LOG", "warn,server=info"),
        receiver_port,
    )
    .spawn()
    .unwrap()
}

fn spawn_worker(azurite: &Azurite, receiver_port: u16) -> Child {
    with_export(
        Command::new(worker_binary())
            .env_clear()
            .env(
                "AZURE_STORAGE_CONNECTION_STRING",
                azurite.connection_string(),
            )
            .env("HOSTNAME", "pod-traced")
            .env("SCALEBOARD_WORKER_MAX_IDLE_MS", "200")
            .env("RUST_LOG", "warn,worker=info"),
        receiver_port,
    )
    .spawn()
    .unwrap()
}

async fn stop(mut child: Child) {
    let pid = child.id().unwrap().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status().await;
    let exit = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("the process exits after SIGTERM")
        .unwrap();
    assert!(exit.success(), "{exit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_item_is_one_trace_across_the_server_and_the_worker() {
    let azurite = Azurite::start(&Options::for_tests()).unwrap();
    let (receiver_port, bodies) = receiver().await;
    let port = free_port();
    let server = spawn_server(&azurite, port, receiver_port);
    let worker = spawn_worker(&azurite, receiver_port);

    let run = start_run_on(port, 1, 1_000, Duration::from_secs(60)).await;

    // The fan-in's span is the item's last: once it is exported, so is the rest.
    let fan_in = eventually(
        Duration::from_secs(120),
        "the item's fan-in span",
        || async {
            spans(&bodies)
                .into_iter()
                .find(|s| s.name == "item.fan_in" && s.attributes.get("run") == Some(&run))
        },
    )
    .await;
    let trace: Vec<Exported> = eventually(
        Duration::from_secs(30),
        "the worker's spans of the item",
        || async {
            let mut trace: Vec<Exported> = spans(&bodies)
                .into_iter()
                .filter(|s| s.trace_id == fan_in.trace_id)
                .collect();
            trace.sort_by_key(|s| s.start_ns);
            trace
                .iter()
                .any(|s| s.name == "item.process")
                .then_some(trace)
        },
    )
    .await;

    println!("one item's trace ({} spans):", trace.len());
    let origin = trace.first().map_or(0, |s| s.start_ns);
    for span in &trace {
        println!(
            "  {:>9.3} ms +{:>9.3} ms  {:<18} {:<16} {:?}",
            span.start_ns.saturating_sub(origin) as f64 / 1e6,
            span.end_ns.saturating_sub(span.start_ns) as f64 / 1e6,
            span.service,
            span.name,
            span.attributes
        );
    }

    let services: BTreeSet<&str> = trace.iter().map(|s| s.service.as_str()).collect();
    assert_eq!(
        services,
        BTreeSet::from(["scaleboard", "scaleboard-worker"]),
        "{trace:#?}"
    );
    let one = |name: &str, service: &str| {
        let found: Vec<&Exported> = trace.iter().filter(|s| s.name == name).collect();
        assert_eq!(found.len(), 1, "{name} once in {trace:#?}");
        assert_eq!(found[0].service, service, "{name}");
        found[0].clone()
    };
    let fan_out = one("item.fan_out", "scaleboard");
    let queue_wait = one("item.queue_wait", "scaleboard-worker");
    let process = one("item.process", "scaleboard-worker");
    let compute = one("item.compute", "scaleboard-worker");
    let write = one("item.write_output", "scaleboard-worker");
    let event = one("item.event", "scaleboard-worker");
    let fan_in = one("item.fan_in", "scaleboard");

    // The shape: the server's fan-out is the root; the worker continues it; the fan-in
    // continues the worker's event.
    assert!(fan_out.parent_span_id.is_empty(), "{fan_out:?}");
    assert_eq!(fan_out.attributes.get("run"), Some(&run));
    for child in [&queue_wait, &process] {
        assert_eq!(child.parent_span_id, fan_out.span_id, "{}", child.name);
    }
    for child in [&compute, &write, &event] {
        assert_eq!(child.parent_span_id, process.span_id, "{}", child.name);
    }
    assert_eq!(fan_in.parent_span_id, event.span_id);
    assert_eq!(
        fan_in.attributes.get("applied").map(String::as_str),
        Some("Stored")
    );
    // And the order in time: written, waited, worked, reported, applied.
    assert!(
        queue_wait.end_ns <= process.start_ns + 1_000_000,
        "{queue_wait:?} {process:?}"
    );
    assert!(compute.end_ns <= write.start_ns);
    assert!(write.end_ns <= event.start_ns);
    assert!(event.end_ns <= fan_in.end_ns);

    stop(worker).await;
    stop(server).await;
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
