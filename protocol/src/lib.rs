//! What crosses a wire between Scaleboard's parts.
//!
//! Plain serde types with no I/O, shared by the server, the worker and the browser (this crate
//! compiles to wasm). Keeping them in one place means a field renamed on one side fails to
//! compile on the other instead of failing at run time.
//!
//! # Layout
//! - [`durable`]: the Durable Functions HTTP API's documents and [`durable::RuntimeStatus`].
//! - [`cluster`]: the cluster view's description and the local model's policy.
//! - [`session`]: whether the page may offer the controls (the operator role).
//! - [`share`]: the viewer link and its QR code, for the audience's phones.
//! - [`routes`]: every path the server routes and the page calls.
//! - [`live`]: the WebSocket feed of samples that drives the dashboard's charts.
//! - [`work`]: the work queue's message and the input and output blobs of an item.
//! - [`events`]: completion and failure events, in the Event Grid schema, built and parsed.
//! - [`recording`]: one finished run in a versioned file, for replaying it anywhere.
//! - [`timestamp`]: the one RFC 3339 form of an instant.
//! - [`trace`]: the W3C trace context a work item and its event carry across the queues.

pub mod cluster;
pub mod durable;
pub mod events;
pub mod live;
pub mod recording;
pub mod routes;
pub mod session;
pub mod share;
pub mod timestamp;
pub mod trace;
pub mod whatif;
pub mod work;
