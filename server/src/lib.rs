//! Scaleboard's server: the dashboard, its live feed, and the HTTP API.
//!
//! # Layout
//! - [`config`]: typed settings from flags and environment, read once in `main`.
//! - [`live`]: the hub that owns the recent samples and fans them out to WebSocket clients.
//! - [`cluster`]: where pod and node counts come from: the local model or a Kubernetes cluster.
//! - [`sampler`]: measures the system once per interval and publishes a sample.
//! - [`orchestrator`]: the durable fan-out/fan-in engine (driver and store around the pure
//!   `orchestration` state machine).
//! - [`durable`]: the Durable Functions-shaped HTTP API over the engine.
//! - [`export`]: the charts as SVG/PNG and the samples as CSV/JSON, for a time range or a run.
//! - [`api`]: health and readiness endpoints and the live socket route.
//! - [`error`]: errors as HTTP responses with a JSON body.
//! - [`replay`]: what-if replay of a finished run under another scaling policy.
//! - [`app`]: assembles the router (API + Leptos pages + static files) and serves it.

pub mod api;
pub mod app;
pub mod cluster;
pub mod config;
pub mod durable;
pub mod error;
pub mod export;
pub mod live;
pub mod orchestrator;
pub mod replay;
pub mod sampler;

pub use app::{router, serve, AppState};
