//! The replay server's router: the live dashboard's pages and feed, with answers taken from the
//! recording where the live server would ask storage or the cluster.
//!
//! - `/ws/live`: the hub the player feeds, through the same client loop as the live server;
//! - `GET /api/cluster`: the recorded policy, so the top bar names the profile;
//! - `GET …/instances/{id}`: the recorded run's status document (404 for any other run);
//! - `GET /api/export/{file}`: the exports, drawn from the whole recording (so a recorded run's
//!   CSV is the live server's, row for row);
//! - `GET /api/runs/{id}/recording`: the recording itself, so the run page's download works;
//! - `POST /api/replay/control`: speed, pause, seek;
//! - `GET /api/share`: the viewer link and its QR code, as on the live server;
//! - `/api/session`, the probes, and the same role and host layers as the live server. Every
//!   other API path answers a JSON 404: a replay starts, stops and changes no run.

use std::collections::HashMap;
use std::sync::Arc;

use app::{shell, App};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRef, Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use leptos::config::LeptosOptions;
use leptos_axum::{generate_route_list, LeptosRoutes};
use protocol::cluster::ClusterInfo;
use protocol::durable::StatusDocument;
use protocol::recording::{Recording, ReplayControl, ReplayStatus};
use protocol::routes;
use tokio_util::sync::CancellationToken;

use super::Player;
use crate::durable::params::ApiQuery;
use crate::durable::ApiSettings;
use crate::error::ApiError;
use crate::guard::HostPolicy;
use crate::heavy::HeavyWork;
use crate::live::Hub;
use crate::{auth, error, probes};

/// A control is a few dozen bytes.
const MAX_BODY_BYTES: usize = 4 * 1024;

/// What the replay's handlers share. Cheap to clone.
#[derive(Clone, Debug)]
pub struct ReplayState {
    pub hub: Hub,
    pub player: Player,
    pub recording: Arc<Recording>,
    /// Chart exports are CPU work, bounded as on the live server.
    pub heavy: HeavyWork,
    pub api: ApiSettings,
    pub leptos: LeptosOptions,
    pub shutdown: CancellationToken,
}

impl FromRef<ReplayState> for LeptosOptions {
    fn from_ref(state: &ReplayState) -> Self {
        state.leptos.clone()
    }
}

impl FromRef<ReplayState> for ApiSettings {
    fn from_ref(state: &ReplayState) -> Self {
        state.api.clone()
    }
}

/// Every route of a replay, behind the same role and host layers as the live server's.
pub fn router(state: ReplayState, hosts: HostPolicy) -> Router {
    let pages = generate_route_list(App);
    let options = state.leptos.clone();
    // The share link, built as the live server builds it (the host policy is not in the state).
    let share = {
        let hosts = hosts.clone();
        move |State(api): State<ApiSettings>, headers: axum::http::HeaderMap| async move {
            crate::share::answer(&api, &hosts, &headers)
        }
    };
    let router = Router::new()
        .route(routes::HEALTHZ, get(probes::healthz))
        .route(routes::READYZ, get(probes::healthz))
        .route(routes::LIVE, get(live_socket))
        .route("/favicon.svg", get(probes::favicon))
        .route("/favicon.ico", get(probes::favicon))
        .route(routes::SESSION, get(auth::session))
        .route(routes::CLUSTER, get(cluster))
        .route(routes::patterns::INSTANCE, get(instance))
        .route(routes::patterns::EXPORT_FILE, get(export))
        .route(routes::patterns::RECORDING, get(recording_file))
        .route(routes::REPLAY_CONTROL, post(control))
        .route(routes::SHARE, get(share))
        .route("/api/{*rest}", any(error::no_such_route))
        .route("/runtime/{*rest}", any(error::no_such_route))
        .method_not_allowed_fallback(error::wrong_method)
        .leptos_routes(&state, pages, move || shell(options.clone()))
        .fallback(leptos_axum::file_and_error_handler::<ReplayState, _>(shell));
    let api = state.api.clone();
    crate::app::guarded(router, api, hosts, MAX_BODY_BYTES).with_state(state)
}

/// `POST /api/replay/control` with a JSON [`ReplayControl`] → the replay's new state.
async fn control(
    State(state): State<ReplayState>,
    body: Result<Json<ReplayControl>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<ReplayStatus>, ApiError> {
    let Json(control) = body
        .map_err(|e| ApiError::bad_json("not a replay control (speed, paused, positionMs)", e))?;
    state
        .player
        .control(&control)
        .map(Json)
        .map_err(ApiError::bad_request)
}

/// `GET /api/cluster`: the view and the policy the run was recorded with.
async fn cluster(State(state): State<ReplayState>) -> Json<ClusterInfo> {
    Json(ClusterInfo {
        source: state.recording.place.cluster,
        profile: state.recording.policy.clone(),
        profile_error: None,
        events: Vec::new(),
    })
}

/// `GET …/instances/{id}`: the recorded run's status document, as it was when recorded.
async fn instance(
    State(state): State<ReplayState>,
    Path(id): Path<String>,
) -> Result<Json<StatusDocument>, ApiError> {
    if id == state.recording.run_id() {
        Ok(Json(state.recording.run.clone()))
    } else {
        Err(ApiError::not_found(format!(
            "this server replays run {} only",
            state.recording.run_id()
        )))
    }
}

/// `GET /api/export/{file}`: the live server's exports, from the recording.
async fn export(
    State(state): State<ReplayState>,
    Path(file): Path<String>,
    ApiQuery(params): ApiQuery<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    crate::export::from_recording(&state.heavy, &state.recording, &file, &params).await
}

/// `GET /api/runs/{id}/recording`: the file being replayed (compressed afresh), under the name
/// the live server gives it.
async fn recording_file(
    State(state): State<ReplayState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    if id != state.recording.run_id() {
        return Err(ApiError::not_found(format!(
            "this server replays run {} only",
            state.recording.run_id()
        )));
    }
    let recording = state.recording.clone();
    let body = state
        .heavy
        .run("recording", move || recording.to_gzip())
        .await?;
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/gzip"),
    );
    if let Ok(value) = HeaderValue::from_str(&format!(
        "attachment; filename=\"{}\"",
        crate::recording::file_name(&id)
    )) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// `GET /ws/live`: the replay's feed, through the live server's client loop.
async fn live_socket(
    State(state): State<ReplayState>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    crate::live_socket::serve_hub(state.hub.clone(), state.shutdown.clone(), upgrade, ())
}
