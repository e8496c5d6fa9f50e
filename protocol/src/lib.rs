//! What crosses a wire between Scaleboard's parts.
//!
//! Plain serde types with no I/O, shared by the server, the worker and the browser (this crate
//! compiles to wasm). Keeping them in one place means a field renamed on one side fails to
//! compile on the other instead of failing at run time.
//!
//! # Layout
//! - [`live`]: the WebSocket feed of samples that drives the dashboard's charts.
//! - [`work`]: the work queue's message and the input and output blobs of an item.
//! - [`events`]: completion and failure events, in the Event Grid schema.

pub mod events;
pub mod live;
pub mod work;
