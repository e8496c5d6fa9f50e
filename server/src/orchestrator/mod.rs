//! The durable fan-out/fan-in engine behind the Durable Functions-shaped API.
//!
//! The decisions are made by the pure state machine of the `orchestration` crate; this module
//! does the I/O around it:
//! - [`input`]: each item's input, deterministic from the run id and the item number (pure).
//! - [`store`]: one JSON document per run in container `orchestrations`, written with ETag
//!   conditions so two writers can never silently overwrite each other.
//! - [`engine`]: runs in memory, the fan-out of items (bounded concurrency, batched
//!   persistence), the fan-in of completion events (apply a batch, persist once, then delete the
//!   messages), and resuming every unfinished run at start-up.

pub mod engine;
pub mod input;
pub mod store;

use orchestration::RunState;
use serde::{Deserialize, Serialize};

pub use engine::{Engine, EngineConfig, EngineError};

/// The orchestrator's name, as in the original demo's `curl`.
pub const ORCHESTRATOR: &str = "ComputeOrchestrator";

/// What a run was started with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunInput {
    pub input_count: u32,
    /// Rounds of SHA-256 per item.
    pub cost: u32,
    /// Every `fail_every`-th item (1-based) fails on purpose, to show the poison path; 0 = none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub fail_every: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The persisted document of a run: its input and its state.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunDocument {
    pub input: RunInput,
    pub state: RunState,
}
