//! The kube view against a stand-in Kubernetes API.
//!
//! The stand-in answers kube-rs' requests through `tower_test::mock::pair()`, the way kube-rs
//! tests its own runtime: a list answers with the matching objects and a `resourceVersion`, a
//! watch answers with a stream of newline-delimited events that stays open, as the real API
//! server's does. Objects are recorded API responses under `tests/fixtures/kube/`; the tests
//! change them the way the cluster would (a pod gets scheduled, a node turns ready, the HPA
//! raises its desired replicas) and wait, with a deadline, for the view to show it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::{Body as ResponseBody, Bytes};
use axum::http::{Request, Response, StatusCode};
use clap::Parser;
use futures_channel::mpsc::{unbounded, UnboundedSender};
use protocol::live::{ClusterSample, ClusterSource, ScaleEvent};
use serde_json::{json, Value};
use server::cluster::kube::KubeView;
use server::cluster::{ClusterArgs, ClusterView};
use tokio_util::sync::CancellationToken;

const NAMESPACE: &str = "scaleboard";
const DEADLINE: Duration = Duration::from_secs(30);

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/kube/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn named(mut object: Value, name: &str) -> Value {
    object["metadata"]["name"] = json!(name);
    object
}

fn pod(state: &str, name: &str) -> Value {
    named(fixture(&format!("pod-{state}.json")), name)
}

fn node(name: &str, pool: &str, ready: bool) -> Value {
    let mut node = named(fixture("node.json"), name);
    node["metadata"]["labels"]["agentpool"] = json!(pool);
    for condition in node["status"]["conditions"].as_array_mut().unwrap() {
        if condition["type"] == "Ready" && !ready {
            condition["status"] = json!("False");
            condition["reason"] = json!("KubeletNotReady");
            condition["message"] = json!("container runtime network not ready: NetworkReady=false");
        }
    }
    node
}

fn hpa(desired: u32) -> Value {
    let mut hpa = fixture("hpa.json");
    hpa["status"]["desiredReplicas"] = json!(desired);
    hpa
}

fn scaled_object(active: bool) -> Value {
    let mut object = fixture("scaledobject.json");
    for condition in object["status"]["conditions"].as_array_mut().unwrap() {
        if condition["type"] == "Active" && active {
            condition["status"] = json!("True");
            condition["reason"] = json!("ScalerActive");
            condition["message"] = json!("Scaling is performed because triggers are active");
        }
    }
    object
}

/// Settings as the server would parse them, with the deploy/ values.
fn args() -> ClusterArgs {
    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        cluster: ClusterArgs,
    }
    Flags::parse_from([
        "scaleboard",
        "--cluster",
        "kube",
        "--namespace",
        NAMESPACE,
        "--selector",
        "app.kubernetes.io/name=scaleboard-worker",
        "--node-selector",
        "agentpool=compute",
        "--scaled-object",
        "scaleboard-worker",
    ])
    .cluster
}

// ---------------------------------------------------------------------------------------------
// The stand-in API server.

type Chunk = Result<Bytes, std::io::Error>;

#[derive(Clone, Default)]
struct StandIn(Arc<Mutex<ApiState>>);

#[derive(Default)]
struct ApiState {
    version: u64,
    collections: BTreeMap<String, Collection>,
    /// `list pods`, `watch nodes`, … in the order asked.
    requests: Vec<String>,
}

#[derive(Default)]
struct Collection {
    objects: BTreeMap<String, Value>,
    /// Every change, for watches that resume from an older version.
    history: Vec<(u64, &'static str, Value)>,
    /// Watches from before this version are told `410 Gone`, as after an etcd compaction.
    oldest: u64,
    watches: Vec<OpenWatch>,
    forbidden: bool,
    not_served: bool,
}

struct OpenWatch {
    sender: UnboundedSender<Chunk>,
    selector: Selector,
}

/// `labelSelector` and `fieldSelector` equality clauses, which is all the view sends.
#[derive(Clone, Debug, Default)]
struct Selector(Vec<(String, String)>);

impl Selector {
    fn from_query(query: &BTreeMap<String, String>) -> Selector {
        let clauses = ["labelSelector", "fieldSelector"]
            .iter()
            .filter_map(|key| query.get(*key))
            .flat_map(|text| text.split(','))
            .filter(|clause| !clause.is_empty())
            .map(|clause| {
                let (key, value) = clause.split_once('=').expect("equality selectors only");
                (key.to_string(), value.to_string())
            })
            .collect();
        Selector(clauses)
    }

    fn matches(&self, object: &Value) -> bool {
        self.0.iter().all(|(key, value)| {
            let actual = match key.as_str() {
                "metadata.name" => &object["metadata"]["name"],
                "source" => &object["source"]["component"],
                label => &object["metadata"]["labels"][label],
            };
            actual.as_str() == Some(value.as_str())
        })
    }
}

fn plural(kind: &str) -> &'static str {
    match kind {
        "Pod" => "pods",
        "Node" => "nodes",
        "HorizontalPodAutoscaler" => "horizontalpodautoscalers",
        "ScaledObject" => "scaledobjects",
        "Event" => "events",
        other => panic!("the stand-in does not serve {other}"),
    }
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 2;
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

fn json_response(status: StatusCode, body: &Value) -> Response<ResponseBody> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(ResponseBody::from(body.to_string()))
        .unwrap()
}

fn line(kind: &str, object: &Value) -> Chunk {
    Ok(Bytes::from(format!(
        "{}\n",
        json!({"type": kind, "object": object})
    )))
}

impl StandIn {
    fn state(&self) -> MutexGuard<'_, ApiState> {
        self.0.lock().unwrap()
    }

    /// Answers every request made through the view's client.
    fn serve(&self) -> kube::Client {
        let (service, mut handle) =
            tower_test::mock::pair::<Request<kube::client::Body>, Response<ResponseBody>>();
        let stand_in = self.clone();
        tokio::spawn(async move {
            while let Some((request, respond)) = handle.next_request().await {
                respond.send_response(stand_in.answer(&request));
            }
        });
        kube::Client::new(service, "default")
    }

    fn answer(&self, request: &Request<kube::client::Body>) -> Response<ResponseBody> {
        let path = request.uri().path();
        let query: BTreeMap<String, String> = request
            .uri()
            .query()
            .unwrap_or_default()
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (decode(k), decode(v)))
            .collect();
        let namespaced = |group: &str, plural: &str| {
            path == format!("{group}/namespaces/{NAMESPACE}/{plural}").as_str()
        };
        let plural = if path == "/api/v1/nodes" {
            "nodes"
        } else if namespaced("/api/v1", "pods") {
            "pods"
        } else if namespaced("/api/v1", "events") {
            "events"
        } else if namespaced("/apis/autoscaling/v2", "horizontalpodautoscalers") {
            "horizontalpodautoscalers"
        } else if namespaced("/apis/keda.sh/v1alpha1", "scaledobjects") {
            "scaledobjects"
        } else {
            return not_found(path);
        };
        let watch = query.get("watch").is_some_and(|w| w == "true");
        let selector = Selector::from_query(&query);
        let mut state = self.state();
        state
            .requests
            .push(format!("{} {plural}", if watch { "watch" } else { "list" }));
        let version = state.version;
        let collection = state.collections.entry(plural.to_string()).or_default();
        if collection.not_served {
            return not_found(path);
        }
        if collection.forbidden {
            let mut status = fixture("forbidden-pods.json");
            status["message"] = json!(format!(
                "{plural} is forbidden: User \"system:serviceaccount:scaleboard:scaleboard-server\" \
                 cannot {} resource \"{plural}\"",
                if watch { "watch" } else { "list" }
            ));
            status["details"]["kind"] = json!(plural);
            return json_response(StatusCode::FORBIDDEN, &status);
        }
        if !watch {
            let items: Vec<&Value> = collection
                .objects
                .values()
                .filter(|object| selector.matches(object))
                .collect();
            return json_response(
                StatusCode::OK,
                &json!({
                    "apiVersion": "v1",
                    "kind": "List",
                    "metadata": {"resourceVersion": version.to_string()},
                    "items": items,
                }),
            );
        }
        let from: u64 = query
            .get("resourceVersion")
            .and_then(|v| v.parse().ok())
            .unwrap_or(version);
        let (sender, receiver) = unbounded::<Chunk>();
        if from < collection.oldest {
            let gone = fixture("watch-expired.json");
            sender
                .unbounded_send(line("ERROR", &gone["object"]))
                .unwrap();
        } else {
            for (at, kind, object) in &collection.history {
                if *at > from && selector.matches(object) {
                    sender.unbounded_send(line(kind, object)).unwrap();
                }
            }
            collection.watches.push(OpenWatch { sender, selector });
        }
        Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/json")
            .body(ResponseBody::from_stream(receiver))
            .unwrap()
    }

    /// Creates or replaces an object, as `kubectl apply` or a controller would.
    fn apply(&self, mut object: Value) {
        let mut state = self.state();
        state.version += 1;
        let version = state.version;
        object["metadata"]["resourceVersion"] = json!(version.to_string());
        let plural = plural(object["kind"].as_str().unwrap());
        let name = object["metadata"]["name"].as_str().unwrap().to_string();
        let collection = state.collections.entry(plural.to_string()).or_default();
        let kind = if collection.objects.contains_key(&name) {
            "MODIFIED"
        } else {
            "ADDED"
        };
        collection.objects.insert(name, object.clone());
        collection.record(version, kind, object);
    }

    fn delete(&self, kind: &str, name: &str) {
        let mut state = self.state();
        state.version += 1;
        let version = state.version;
        let collection = state
            .collections
            .entry(plural(kind).to_string())
            .or_default();
        let mut object = collection
            .objects
            .remove(name)
            .expect("deleting a known object");
        object["metadata"]["resourceVersion"] = json!(version.to_string());
        collection.record(version, "DELETED", object);
    }

    /// Sets a deletion timestamp: what the API server does first when a pod or node is deleted.
    fn start_deleting(&self, kind: &str, name: &str) {
        let mut object = self.state().collections[plural(kind)].objects[name].clone();
        object["metadata"]["deletionTimestamp"] = json!("2025-06-02T09:20:00Z");
        self.apply(object);
    }

    fn collection(&self, plural: &str, change: impl FnOnce(&mut Collection)) {
        change(
            self.state()
                .collections
                .entry(plural.to_string())
                .or_default(),
        );
    }

    /// RBAC denies (or allows again) every request on `plural`.
    fn forbid(&self, plural: &str, forbidden: bool) {
        self.collection(plural, |c| c.forbidden = forbidden);
    }

    /// The open watches on `plural` break with a connection reset.
    fn reset_watches(&self, plural: &str) {
        self.collection(plural, |c| {
            for watch in c.watches.drain(..) {
                let reset = std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "connection reset by peer",
                );
                let _ = watch.sender.unbounded_send(Err(reset));
            }
        });
    }

    /// The open watches on `plural` end cleanly, as when the API server's watch timeout expires
    /// or it restarts; with `compact`, the history they would resume from is gone too.
    fn end_watches(&self, plural: &str, compact: bool) {
        let version = self.state().version;
        self.collection(plural, |c| {
            c.watches.clear();
            if compact {
                c.oldest = version + 1;
            }
        });
    }

    fn requests(&self, request: &str) -> usize {
        self.state()
            .requests
            .iter()
            .filter(|r| *r == request)
            .count()
    }
}

impl Collection {
    fn record(&mut self, version: u64, kind: &'static str, object: Value) {
        self.watches.retain(|watch| {
            !watch.selector.matches(&object)
                || watch.sender.unbounded_send(line(kind, &object)).is_ok()
        });
        self.history.push((version, kind, object));
    }
}

fn not_found(path: &str) -> Response<ResponseBody> {
    json_response(
        StatusCode::NOT_FOUND,
        &json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": format!("the server could not find the requested resource ({path})"),
            "reason": "NotFound", "details": {}, "code": 404
        }),
    )
}

/// The scene at the start of each test: a run under way on two compute nodes.
fn cluster_mid_run() -> StandIn {
    let api = StandIn::default();
    api.apply(node("aks-compute-38417295-vmss000000", "compute", true));
    api.apply(node("aks-compute-38417295-vmss000001", "compute", true));
    // The system pool is not where the workers run: the node selector leaves it out.
    api.apply(node("aks-system-11223344-vmss000000", "system", true));
    api.apply(pod("running", "worker-a"));
    api.apply(pod("unschedulable", "worker-b"));
    api.apply(pod("creating", "worker-c"));
    // The server's own pod: not a worker.
    let mut server = pod("running", "scaleboard-server-5f7d8c9b4-x2x7q");
    server["metadata"]["labels"]["app.kubernetes.io/name"] = json!("scaleboard-server");
    api.apply(server);
    api.apply(hpa(3));
    api.apply(scaled_object(false));
    api
}

// ---------------------------------------------------------------------------------------------
// Waiting for what the view shows.

/// Ticks the view like the sampler does until `check` holds, keeping every event seen.
async fn until(
    view: &KubeView,
    events: &mut Vec<ScaleEvent>,
    what: &str,
    check: impl Fn(&ClusterSample, &[ScaleEvent]) -> bool,
) -> ClusterSample {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let observation = view.tick(None);
        events.extend(observation.events);
        if check(&observation.sample, events) {
            return observation.sample;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; last sample {:#?}, events {events:#?}",
            observation.sample
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn pods(sample: &ClusterSample) -> [u32; 5] {
    [
        sample.pods_pending,
        sample.pods_starting,
        sample.pods_running,
        sample.pods_terminating,
        sample.pods_failed,
    ]
}

fn has(events: &[ScaleEvent], kind: &str, reason: &str) -> bool {
    events.iter().any(|e| e.kind == kind && e.reason == reason)
}

async fn synced_view(api: &StandIn) -> (KubeView, Vec<ScaleEvent>) {
    let view = KubeView::with_client(api.serve(), &args(), CancellationToken::new());
    let mut events = Vec::new();
    let sample = until(&view, &mut events, "the first lists", |s, _| {
        s.stale.is_none()
    })
    .await;
    assert_eq!(sample.source, ClusterSource::Kube);
    assert_eq!(
        pods(&sample),
        [1, 1, 1, 0, 0],
        "pending, starting, running, terminating, failed"
    );
    assert_eq!((sample.nodes_ready, sample.nodes_provisioning), (2, 0));
    assert_eq!(sample.desired_replicas, Some(3));
    assert_eq!(sample.target_queue_length, Some(5));
    assert!(
        events.is_empty(),
        "the first lists are a starting point, not changes: {events:?}"
    );
    (view, events)
}

// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn counts_and_events_follow_the_cluster() {
    let api = cluster_mid_run();
    let (view, mut events) = synced_view(&api).await;

    // A node arrives for the pending pod; the pod gets scheduled and starts; another pod waits.
    api.apply(node("aks-compute-38417295-vmss000002", "compute", false));
    let mut event = fixture("event-triggered-scale-up.json");
    event["message"] = json!("pod triggered scale-up: [{aks-compute-38417295-vmss 2->3 (max: 5)}]");
    api.apply(event);
    api.apply(pod("running", "worker-b"));
    api.apply(pod("unschedulable", "worker-d"));
    api.start_deleting("Pod", "worker-a");
    api.apply(hpa(8));
    api.apply(scaled_object(true));
    api.apply(node("aks-compute-38417295-vmss000002", "compute", true));

    let sample = until(&view, &mut events, "the scale-up", |s, events| {
        pods(s) == [1, 1, 1, 1, 0]
            && s.nodes_ready == 3
            && s.desired_replicas == Some(8)
            && has(
                events,
                "scale_up",
                "scale 3 → 8 (HPA keda-hpa-scaleboard-worker)",
            )
            && events.iter().any(|e| e.kind == "node_ready")
            && events.iter().any(|e| e.kind == "activated")
            && events.iter().any(|e| e.kind == "node_scale_up")
    })
    .await;
    assert_eq!(sample.stale, None);
    assert!(has(
        &events,
        "node_added",
        "node aks-compute-38417295-vmss000002 added, not ready yet"
    ));
    assert!(has(
        &events,
        "activated",
        "ScaledObject scaleboard-worker active: Scaling is performed because triggers are active"
    ));
    assert!(has(
        &events,
        "node_scale_up",
        "cluster autoscaler: pod triggered scale-up: [{aks-compute-38417295-vmss 2->3 (max: 5)}]"
    ));
    let before = events.len();

    // The run drains: the terminating pod goes, KEDA deactivates, a node leaves.
    api.delete("Pod", "worker-a");
    api.apply(hpa(1));
    api.apply(scaled_object(false));
    api.delete("Node", "aks-compute-38417295-vmss000000");
    let sample = until(&view, &mut events, "the scale-down", |s, events| {
        pods(s) == [1, 1, 1, 0, 0]
            && s.nodes_ready == 2
            && events.iter().any(|e| e.kind == "deactivated")
            && events.iter().any(|e| e.kind == "node_removed")
            && events.iter().any(|e| e.kind == "scale_down")
    })
    .await;
    assert_eq!(sample.desired_replicas, Some(1));
    assert!(has(
        &events,
        "scale_down",
        "scale 8 → 1 (HPA keda-hpa-scaleboard-worker)"
    ));
    assert!(has(
        &events,
        "node_removed",
        "node aks-compute-38417295-vmss000000 removed"
    ));
    // Each change is reported once.
    let kinds: Vec<&str> = events[before..].iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "deactivated").count(),
        1,
        "{kinds:?}"
    );
}

#[tokio::test]
async fn a_reset_watch_lists_again_and_says_so_meanwhile() {
    let api = cluster_mid_run();
    let (view, mut events) = synced_view(&api).await;
    assert_eq!(api.requests("list pods"), 1);

    api.reset_watches("pods");
    // What happens while the view is not watching must show once it is back.
    api.apply(pod("running", "worker-b"));
    until(&view, &mut events, "the interruption to show", |s, _| {
        s.stale.as_deref() == Some("pods: watch interrupted: connection reset by peer")
    })
    .await;
    let sample = until(&view, &mut events, "the pods to be listed again", |s, _| {
        s.stale.is_none() && pods(s) == [0, 1, 2, 0, 0]
    })
    .await;
    assert_eq!((sample.nodes_ready, sample.desired_replicas), (2, Some(3)));
    assert_eq!(api.requests("list pods"), 2);
}

#[tokio::test]
async fn an_ended_watch_resumes_and_an_expired_one_lists_again() {
    let api = cluster_mid_run();
    let (view, mut events) = synced_view(&api).await;

    // The watch ends cleanly (API server timeout or restart): it resumes where it was, and the
    // changes made in between arrive.
    api.end_watches("pods", false);
    api.apply(pod("running", "worker-b"));
    until(&view, &mut events, "the resumed watch", |s, _| {
        s.stale.is_none() && pods(s) == [0, 1, 2, 0, 0]
    })
    .await;
    assert_eq!(
        api.requests("list pods"),
        1,
        "a clean end needs no new list"
    );

    // Then the history is compacted while the watch is down: the API server answers the resumed
    // watch with 410 Gone, and the view lists again. That is routine, not a fault to show.
    api.end_watches("pods", true);
    api.apply(pod("creating", "worker-e"));
    api.apply(pod("running", "worker-c"));
    let deadline = Instant::now() + DEADLINE;
    loop {
        let sample = view.tick(None).sample;
        assert_eq!(sample.stale, None, "410 Gone is not shown as a fault");
        if pods(&sample) == [0, 1, 3, 0, 0] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "timed out; last sample {sample:#?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(api.requests("list pods"), 2);
}

#[tokio::test]
async fn forbidden_pods_are_named_while_nodes_still_count() {
    let api = cluster_mid_run();
    api.forbid("pods", true);
    let view = KubeView::with_client(api.serve(), &args(), CancellationToken::new());
    let mut events = Vec::new();
    let sample = until(&view, &mut events, "the RBAC failure", |s, _| {
        s.nodes_ready == 2
            && s.desired_replicas == Some(3)
            && s.stale.as_deref()
                == Some("pods: forbidden (RBAC): cannot watch pods in namespace scaleboard")
    })
    .await;
    assert_eq!(pods(&sample), [0; 5]);

    // Someone fixes the Role: the next retry lists the pods.
    api.forbid("pods", false);
    let sample = until(&view, &mut events, "the pods after the fix", |s, _| {
        s.stale.is_none() && pods(s) == [1, 1, 1, 0, 0]
    })
    .await;
    assert_eq!(sample.nodes_ready, 2);
}

#[tokio::test]
async fn last_known_counts_stay_while_a_watch_fails() {
    let api = cluster_mid_run();
    let (view, mut events) = synced_view(&api).await;
    api.forbid("pods", true);
    api.reset_watches("pods");
    let sample = until(&view, &mut events, "the failure", |s, _| {
        s.stale.as_deref()
            == Some("pods: forbidden (RBAC): cannot watch pods in namespace scaleboard")
    })
    .await;
    assert_eq!(pods(&sample), [1, 1, 1, 0, 0], "the last known counts");
}

#[tokio::test]
async fn a_cluster_without_keda_is_named() {
    let api = cluster_mid_run();
    api.collection("scaledobjects", |c| c.not_served = true);
    let view = KubeView::with_client(api.serve(), &args(), CancellationToken::new());
    let sample = until(&view, &mut Vec::new(), "the missing KEDA", |s, _| {
        s.nodes_ready == 2
            && s.stale
                .as_deref()
                .is_some_and(|why| why.starts_with("scaledobject:"))
    })
    .await;
    assert_eq!(
        sample.stale.as_deref(),
        Some(
            "scaledobject: the API server does not serve keda.sh/v1alpha1 scaledobjects in \
             namespace scaleboard (is KEDA installed?)"
        )
    );
    assert_eq!(sample.target_queue_length, None);
    assert_eq!(pods(&sample), [1, 1, 1, 0, 0]);
}

#[tokio::test]
async fn ticks_answer_at_once_while_the_api_server_is_silent() {
    // A client whose requests are never answered.
    let (service, _handle) =
        tower_test::mock::pair::<Request<kube::client::Body>, Response<ResponseBody>>();
    let view = KubeView::with_client(
        kube::Client::new(service, "default"),
        &args(),
        CancellationToken::new(),
    );
    // `tick` is synchronous and reads only what the watchers have gathered: it cannot wait on
    // the API server, so reaching the next line is the property.
    let observation = view.tick(Some(40));
    assert_eq!(
        observation.sample.stale.as_deref(),
        Some(
            "pods: waiting for the first list; nodes: waiting for the first list; \
             hpa: waiting for the first list; scaledobject: waiting for the first list"
        )
    );
    assert_eq!(observation.sample.source, ClusterSource::Kube);
    assert_eq!(pods(&observation.sample), [0; 5]);
}

#[tokio::test]
async fn cancelling_stops_the_watchers() {
    let api = cluster_mid_run();
    let shutdown = CancellationToken::new();
    let view = KubeView::with_client(api.serve(), &args(), shutdown.clone());
    until(&view, &mut Vec::new(), "the first lists", |s, _| {
        s.stale.is_none()
    })
    .await;
    shutdown.cancel();
    // Each watcher drops its stream when it stops, which closes its watch.
    let deadline = Instant::now() + DEADLINE;
    while api.state().collections.values_mut().any(|c| {
        c.watches.retain(|w| !w.sender.is_closed());
        !c.watches.is_empty()
    }) {
        assert!(
            Instant::now() < deadline,
            "watches still open after shutdown"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `KubeView::start` outside a cluster and without a kubeconfig says what it looked for. It
/// runs in a child process of this test binary, so the environment it needs (no kubeconfig,
/// no service account) does not touch the other tests.
#[tokio::test]
async fn start_without_a_cluster_names_what_is_missing() {
    const CHILD: &str = "SCALEBOARD_KUBE_VIEW_TEST_CHILD";
    if std::env::var_os(CHILD).is_some() {
        let error = KubeView::start(&args(), CancellationToken::new())
            .await
            .expect_err("no cluster to connect to");
        let message = error.to_string();
        for needle in [
            "no Kubernetes cluster to watch",
            "KUBERNETES_SERVICE_HOST",
            "KUBECONFIG",
        ] {
            assert!(
                message.contains(needle),
                "{needle:?} missing from: {message}"
            );
        }
        return;
    }
    let home = std::env::temp_dir().join(format!("scaleboard-kube-view-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "start_without_a_cluster_names_what_is_missing",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .env("HOME", &home)
        .env("KUBECONFIG", home.join("no-such-kubeconfig"))
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBERNETES_SERVICE_PORT")
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&home);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "child test failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The client `start` builds must pick its TLS provider on its own: with two rustls providers
/// compiled in and none chosen, building it fails on the first https cluster.
#[tokio::test]
async fn a_client_for_an_https_api_server_builds() {
    let config = kube::Config::new("https://127.0.0.1:6443".parse().unwrap());
    kube::Client::try_from(config).expect("a TLS client for an https API server");
}

/// The policy a what-if replay starts from on a real cluster: the ScaledObject as the model's
/// profile, following an edit of it (`kubectl apply`) as the watch brings it.
#[tokio::test]
async fn the_scaled_object_becomes_the_models_policy_and_follows_edits() {
    use server::cluster::ClusterView;
    use std::time::Duration as Seconds;

    let api = cluster_mid_run();
    let (view, _) = synced_view(&api).await;
    let policy = view
        .policy()
        .expect("a kube view has a policy")
        .expect("the fixture is a valid ScaledObject");
    assert_eq!(policy.name, "ScaledObject scaleboard/scaleboard-worker");
    let keda = &policy.scaled_object;
    assert_eq!(keda.polling_interval, Seconds::from_secs(5));
    assert_eq!(keda.cooldown_period, Seconds::from_secs(30));
    assert_eq!((keda.min_replicas, keda.max_replicas), (0, 20));
    assert_eq!((keda.queue_length, keda.activation_queue_length), (5, 0));
    assert_eq!(
        keda.advanced.horizontal_pod_autoscaler_config.behavior,
        None
    );

    // The operator gives the ScaledObject a behavior and a faster poll.
    let mut edited = scaled_object(false);
    edited["spec"]["pollingInterval"] = json!(15);
    edited["spec"]["advanced"] = json!({ "horizontalPodAutoscalerConfig": { "behavior": {
        "scaleDown": { "stabilizationWindowSeconds": 60 }
    } } });
    api.apply(edited);
    let deadline = Instant::now() + DEADLINE;
    let policy = loop {
        let policy = view.policy().unwrap().unwrap();
        if policy.scaled_object.polling_interval == Seconds::from_secs(15) {
            break policy;
        }
        assert!(
            Instant::now() < deadline,
            "the edit never reached the policy"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let behavior = policy
        .scaled_object
        .advanced
        .horizontal_pod_autoscaler_config
        .behavior
        .expect("the behavior now set");
    assert_eq!(
        behavior.scale_down.unwrap().stabilization_window_seconds,
        Some(Seconds::from_secs(60))
    );

    // An edit the model cannot follow is named, field by field, rather than guessed.
    let mut broken = scaled_object(false);
    broken["spec"]["maxReplicaCount"] = json!(-3);
    api.apply(broken);
    let deadline = Instant::now() + DEADLINE;
    let why = loop {
        if let Err(why) = view.policy().unwrap() {
            break why;
        }
        assert!(Instant::now() < deadline, "the broken edit never showed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(why.contains("spec.maxReplicaCount"), "{why}");
}
