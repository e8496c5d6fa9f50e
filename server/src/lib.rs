//! Scaleboard's server: the dashboard, its live feed, and the HTTP API.
//!
//! # Layout
//! - [`config`]: typed settings from flags and environment, read once in `main`.
//! - [`live`]: the hub that owns the recent samples and fans them out to WebSocket clients.
//! - [`live_socket`]: the `/ws/live` route: the WebSocket upgrade in front of the hub.
//! - [`cluster`]: where pod and node counts come from: the local model or a Kubernetes cluster;
//!   `cluster::api` serves the view in use and edits the local model's policy.
//! - [`sampler`]: measures the system once per interval and publishes a sample.
//! - [`orchestrator`]: the durable fan-out/fan-in engine (driver and store around the pure
//!   `orchestration` state machine).
//! - [`durable`]: the Durable Functions-shaped HTTP API over the engine.
//! - [`export`]: the charts as SVG/PNG and the samples as CSV/JSON, for a time range or a run
//!   (request parsing and rendering in their own modules, both pure).
//! - [`probes`]: liveness and readiness, and the site icon.
//! - [`metrics`]: Prometheus metrics, served on a listener of their own (`--metrics-addr`).
//! - [`error`]: errors as HTTP responses with a JSON body.
//! - [`auth`]: the operator key, checked by one layer on every mutating request.
//! - [`guard`]: the allowed hosts and origins, and the security headers of every answer.
//! - [`replay`]: what-if replay of a finished run under another scaling policy.
//! - [`recording`]: a finished run as a recording file (`GET /api/runs/{id}/recording`).
//! - [`playback`]: `scaleboard replay`: a recording served as a dashboard, with no storage and
//!   no cluster, at a chosen speed, with pause and seek.
//! - [`share`]: the viewer link and its QR code (`GET /api/share`), from `--public-url` or the
//!   request's validated host.
//! - [`heavy`]: CPU-bound answers (replays, chart rendering) on the blocking pool, a few at a time.
//! - [`app`]: assembles the router (API + Leptos pages + static files) and serves it.
//! - [`serve`]: the HTTP server loop: connection timeouts and a cap on open connections.
//! - [`startup`]: the one way to start a server ([`start`]) and to stop it, joining every task.

pub mod app;
pub mod auth;
pub mod cluster;
pub mod config;
pub mod durable;
pub mod error;
pub mod export;
pub mod guard;
pub mod heavy;
pub mod live;
pub mod live_socket;
pub mod metrics;
pub mod orchestrator;
pub mod playback;
pub mod probes;
pub mod recording;
pub mod replay;
pub mod sampler;
pub mod serve;
pub mod share;
pub mod startup;
pub mod whatif;

pub use app::{router, serve, AppState};
pub use startup::{start, Running, Settings};
