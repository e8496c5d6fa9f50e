//! Scaleboard's server: the dashboard, its live feed, and the HTTP API.
//!
//! # Layout
//! - [`config`]: typed settings from flags and environment, read once in `main`.
//! - [`live`]: the hub that owns the recent samples and fans them out to WebSocket clients.
//! - [`sampler`]: measures the system once per interval and publishes a sample.
//! - [`api`]: health and readiness endpoints, the live socket route, errors as JSON.
//! - [`app`]: assembles the router (API + Leptos pages + static files) and serves it.

pub mod api;
pub mod app;
pub mod config;
pub mod live;
pub mod sampler;

pub use app::{router, serve, AppState};
