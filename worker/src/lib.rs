//! Scaleboard's worker: a queue consumer that is safe to scale, kill and restart.
//!
//! A worker takes one message at a time from `work-items`, reads the item's input blob, computes
//! (rounds of SHA-256: real CPU work with a checkable result), writes the output blob, posts a
//! `Microsoft.Storage.BlobCreated` event to `item-events`, deletes the message and then the input.
//! The same code runs as a tokio task per simulated pod inside the server (the local scaling
//! model calls [`run`]) and as the `scaleboard-worker` process in each pod on Kubernetes.
//!
//! What makes it safe to run many of, and to kill at any moment:
//! - **At-least-once in, exactly-once in effect.** The message is deleted only after the output
//!   and the event are written; the output's name is deterministic and its content a pure
//!   function of the input, so a redelivered message rewrites the same blob, and the server
//!   counts each item once however many events it gets.
//! - **Leases that last as long as the work.** A message's visibility is extended at half its
//!   timeout while the item is worked on, so slow items are not taken by a second worker.
//! - **Graceful shutdown.** On SIGTERM (KEDA scaling in) a worker stops receiving, finishes the
//!   item in hand if it can within the grace period, and otherwise makes its message visible
//!   again at once instead of leaving it hidden for the rest of its timeout.
//! - **Messages are checked, not trusted.** A message whose run id is not a run id, or whose
//!   input blob is not its item's own, goes to the poison queue untouched: whoever can write to
//!   the queue cannot make a worker read, write or delete another blob.
//! - **Poison, not loops.** A message that keeps failing (bad JSON, missing input, a failing
//!   computation) or keeps killing its workers goes to `work-items-poison` with the reason, and
//!   a `Scaleboard.ItemFailed` event lets the run finish.
//! - **Cancelled runs cost nothing.** A terminated or purged run's messages are deleted without
//!   computing, once a cached look at the run's cancellation marker finds it.
//! - **Storage hiccups are retried**, with exponential backoff and jitter, a bounded number of
//!   times; an idle worker polls less and less often, up to a ceiling.
//!
//! # Layout
//! - [`config`]: [`WorkerConfig`] and the flags and environment variables that fill it.
//! - [`consumer`]: [`run`], the receive loops and their idle backoff.
//! - `item`: one message from receipt to deletion, in the order that keeps it safe.
//! - `lease`: a message in hand: kept hidden while the work lasts, then deleted or released.
//! - [`check`]: what a message may ask for, checked before anything is done for it.
//! - `cancelled`: which runs are terminated or purged (their messages are dropped), cached.
//! - [`compute`](mod@compute): the pure computation and [`DEFAULT_COST`].
//! - [`poison`]: the poison queue's records and the failure path.
//! - [`event`]: the Event Grid events the worker posts.
//! - [`retry`]: which storage failures pass, and retrying them.
//! - [`stats`]: [`Stats`] and the live [`Progress`] counters.
//! - [`health`]: the `/healthz` endpoint for the kubelet's probes, and `/metrics` for
//!   Prometheus.
//! - [`metrics`]: the worker's Prometheus metrics (counts, and how long completed items took).

pub mod check;
pub mod compute;
pub mod config;
pub mod consumer;
pub mod event;
pub mod health;
pub mod metrics;
pub mod poison;
pub mod retry;
pub mod stats;

mod cancelled;
mod error;
mod item;
mod lease;

pub use compute::{compute, ComputeError, ComputeOutput, DEFAULT_COST};
pub use config::{WorkerArgs, WorkerConfig};
pub use consumer::{run, run_with};
pub use error::{Error, Result};
pub use stats::{Progress, Stats};
