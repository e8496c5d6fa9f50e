//! Scaleboard's dashboard, written with Leptos.
//!
//! The same components render on the server (feature `ssr`) and hydrate in the browser
//! (feature `hydrate`, compiled to wasm). Everything that touches the browser — the WebSocket,
//! the canvas, `fetch`, `localStorage` — sits behind `#[cfg(feature = "hydrate")]`, so the
//! server build carries none of it and the first paint comes from plain HTML.
//!
//! # Layout
//! - [`shell`]: the HTML document and the app's routes.
//! - [`pages`]: the dashboard (`/`) and a run's page (`/runs/{id}`).
//! - [`components`]: tiles, charts, the start form, runs table, timeline, settings, exports,
//!   the top bar.
//! - [`model`]: pure logic apart from rendering — samples → charts (shared with the server's
//!   exports), throughput, runs, timeline, input checks, formatting.
//! - [`live`]: the live feed's client state and, in the browser, the socket that fills it.
//! - [`local_replay`]: a recording opened from a file, replayed in the page instead of the feed.
//! - [`prefs`], [`cluster`]: the presenter's choices; what `/api/cluster` says.
//! - [`operator`]: the operator role: read-only until signed in when the server has a key.
//! - [`http`]: calls to the server's API.

pub mod cluster;
pub mod components;
pub mod http;
pub mod live;
pub mod local_replay;
pub mod model;
pub mod operator;
pub mod pages;
pub mod prefs;
pub mod shell;

/// The chart drawing crate, for the server's exports.
pub use charts;
pub use shell::{shell, App};

/// Browser entry point, called by the generated JavaScript once the wasm module is loaded.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
