//! The pure core of Scaleboard's durable fan-out/fan-in engine.
//!
//! A run of N items is fanned out (an input blob and a queue message per item), workers compute,
//! and the server learns of each item's outcome from an events queue. This crate decides what
//! each of those facts means for the run — a fold over [`Event`]s into a [`RunState`], returning
//! [`Command`]s — and nothing else: no I/O, no async, no clock (times arrive inside events as
//! milliseconds since the Unix epoch). The server's driver performs the commands (writes blobs
//! and messages, persists the state as one JSON document per run with ETag conditions) and feeds
//! back what happened.
//!
//! Everything the queues deliver may arrive twice, late, or out of order, so every transition is
//! idempotent and the outcome of a run does not depend on the order in which its items finish:
//! items are tracked in bitsets, and results are folded with commutative operations.
//!
//! ```
//! use orchestration::{apply, Command, Event, ItemResult, RunId, RunState, RuntimeStatus};
//!
//! let id = RunId::from_random(0x5ca1eb0a4d);
//! let mut run = RunState::new(id.clone(), "ComputeOrchestrator", 2, 1_000);
//! let request = Event::RunRequested { id, name: "ComputeOrchestrator".into(), input_count: 2, at: 1_000 };
//! assert_eq!(apply(&mut run, request)?, vec![Command::ScheduleItems(vec![0..2])]);
//!
//! for item in run.next_to_schedule(100) {
//!     // ... the driver writes input blob + queue message for `item`, then:
//!     apply(&mut run, Event::ItemScheduled { item, at: 1_001 })?;
//! }
//! let result = ItemResult { value: 42, compute_ms: 5_000 };
//! apply(&mut run, Event::ItemCompleted { item: 1, result, at: 6_000 })?;
//! apply(&mut run, Event::ItemCompleted { item: 1, result, at: 6_001 })?; // duplicate: ignored
//! let last = apply(&mut run, Event::ItemCompleted { item: 0, result, at: 6_002 })?;
//! assert_eq!(last, vec![Command::Finish(RuntimeStatus::Completed), Command::Persist]);
//! assert_eq!(run.output().sum, 84);
//! # Ok::<(), orchestration::ApplyError>(())
//! ```
//!
//! # Layout
//!
//! - [`run_id`]: [`RunId`], validated so it can be used verbatim in blob names and URLs.
//! - `bitset`: the item sets and their compact base64 form (private; seen through [`RunState`]).
//! - [`event`]: the inputs ([`Event`], [`ItemResult`]) and outputs ([`Command`]) of the machine.
//! - [`state`]: [`RunState`], its serde form and invariant checks, and the views the server shows
//!   ([`Progress`] as `customStatus`, [`Output`], [`Aggregate`]).
//! - [`machine`]: the transitions, [`apply`] and [`apply_all`], and the rules they follow.

mod bitset;
pub mod event;
pub mod machine;
pub mod run_id;
pub mod state;

pub use event::{Command, Event, ItemResult};
pub use machine::{apply, apply_all, ApplyError, Batch, Rejected};
pub use run_id::{RunId, RunIdError};
pub use state::{
    Aggregate, InvalidState, Output, Progress, RunState, RuntimeStatus, HISTORY_LIMIT,
    MAX_REASON_BYTES,
};
