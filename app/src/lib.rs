//! Scaleboard's dashboard, written with Leptos.
//!
//! The same components render on the server (feature `ssr`) and hydrate in the browser
//! (feature `hydrate`, compiled to wasm). Everything that touches the browser — the WebSocket,
//! the canvas — sits behind `#[cfg(feature = "hydrate")]`, so the server build carries none of
//! it and the first paint comes from plain HTML.
//!
//! # Layout
//! - [`shell`]: the HTML document around the app.
//! - [`dashboard`]: the page: value tiles, the connection badge, the queue chart.
//! - [`live`]: the live feed's client state and, in the browser, the socket that fills it.

pub mod dashboard;
pub mod live;
pub mod shell;

pub use shell::{shell, App};

/// Browser entry point, called by the generated JavaScript once the wasm module is loaded.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
