//! Process plumbing that the server and the worker share, so neither binary imports the other's
//! library for it.
//!
//! # Layout
//! - [`clock`]: the one wall clock (Unix milliseconds) and the one RFC 3339 form, as the wire
//!   formats want them.
//! - [`logging`]: the global `tracing` subscriber, text for a terminal or JSON for a collector.
//! - [`telemetry`]: the same subscriber with OpenTelemetry span export when a collector is
//!   configured, and the W3C trace context that messages carry.
//! - [`signals`]: Ctrl-C and SIGTERM as a cancellation.
//! - [`metrics`]: Prometheus metrics in the OpenMetrics text format, and a reader of it.

pub mod clock;
pub mod logging;
pub mod metrics;
pub mod signals;
pub mod telemetry;

pub use logging::{init_logging, LogFormat};
pub use signals::cancel_on_signal;
