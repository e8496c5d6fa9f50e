//! The durable fan-out/fan-in engine behind the Durable Functions-shaped API.
//!
//! The decisions are made by the pure state machine of the `orchestration` crate; this module
//! does the I/O around it:
//! - [`input`]: each item's input, deterministic from the run id and the item number (pure).
//! - [`store`]: one JSON document per run in container `orchestrations`, written with ETag
//!   conditions so two writers can never silently overwrite each other.
//! - [`engine`]: runs in memory and the one way their state changes (apply events, persist
//!   once, ETag-conditioned); the public API the HTTP handlers call.
//! - `fan_out`: each item's input blob and work message (bounded concurrency, batched
//!   persistence).
//! - `fan_in`: completion and failure events from the queue (apply a batch, persist once per
//!   run, then delete the messages).
//! - `item_spans`: the fan-in's span of each traced item event.
//! - `triage`: which event messages are applied, kept for a retry or parked (pure).
//! - [`dead_letter`]: parking the event messages that can never be applied on
//!   `item-events-poison`, with the reason.
//! - `recovery`: taking over every unfinished run nobody owns, at start-up.
//! - `ownership`: which runs this server owns (holds the lease of), and for how long it may
//!   trust a lease it could not renew (pure).
//! - `lease`: taking, renewing and giving up runs' leases, taking over the runs of a server that
//!   died, and reading the runs other servers own again, so that every server's status is
//!   fresh.
//! - `reconcile`: counting outputs whose events were missed, from a listing of each unfinished
//!   run's outputs, at start-up and every `reconcile_interval`.
//! - `census`: the runs known, by status (for the metrics).
//! - `cancellation`: the marker a terminated or purged run leaves for the workers.

mod cancellation;
mod census;
pub mod dead_letter;
pub mod engine;
mod fan_in;
mod fan_out;
pub mod input;
mod item_spans;
mod lease;
mod ownership;
mod reconcile;
mod recovery;
pub mod store;
mod triage;

use orchestration::RunState;
use serde::{Deserialize, Serialize};

pub use engine::{Engine, EngineConfig, EngineError};

/// The orchestrator's name, as in the original demo's `curl`.
pub use protocol::routes::ORCHESTRATOR;

/// What a run was started with; also the status document's `input`.
pub use protocol::durable::RunInput;

/// The persisted document of a run: its input and its state.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunDocument {
    pub input: RunInput,
    pub state: RunState,
}
