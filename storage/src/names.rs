//! The queues and containers Scaleboard uses, spelled once.
//!
//! The KEDA `ScaledObject` under `deploy/` and an Event Grid subscription name the same queues;
//! a test checks the manifests against these constants.

/// Work for the workers: one message per item of a run. KEDA scales on its length.
pub const WORK_QUEUE: &str = "work-items";
/// Completion and failure events for the server, in the Event Grid schema.
pub const EVENTS_QUEUE: &str = "item-events";
/// Messages that failed too often, with the reason.
pub const POISON_QUEUE: &str = "work-items-poison";
/// Event messages the server could not apply (an unknown or purged run, an output blob that
/// is not there after every attempt), with the reason: parked rather than retried forever.
pub const EVENTS_POISON_QUEUE: &str = "item-events-poison";

/// Input data of each item, written by the server before the item is enqueued.
pub const INPUT_CONTAINER: &str = "input";
/// Results, written by the workers.
pub const OUTPUT_CONTAINER: &str = "output";
/// One JSON document per run: the orchestration's durable state.
pub const ORCHESTRATIONS_CONTAINER: &str = "orchestrations";

/// Every queue, created at start-up when absent.
pub const QUEUES: [&str; 4] = [WORK_QUEUE, EVENTS_QUEUE, POISON_QUEUE, EVENTS_POISON_QUEUE];
/// Every container, created at start-up when absent.
pub const CONTAINERS: [&str; 3] = [INPUT_CONTAINER, OUTPUT_CONTAINER, ORCHESTRATIONS_CONTAINER];
