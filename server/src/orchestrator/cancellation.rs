//! Telling the workers a run is over: a terminated or purged run leaves a small marker blob,
//! [`protocol::work::Cancellation`] at `orchestrations/cancelled/{runId}`, and workers drop
//! the run's messages when they find it (one cached read per run, not one per message).
//!
//! The marker is written after the termination is stored (a marker for a run still going
//! would make workers drop items it waits for), again by a purge before it deletes anything,
//! and again at start-up for every terminated run, so a crash between storing a termination
//! and writing its marker only delays it. A purge leaves the marker: messages still in the
//! queue afterwards are dropped instead of failing on their missing inputs.

use orchestration::RuntimeStatus;
use plumbing::clock::now_ms;
use protocol::work::{cancellation_blob, Cancellation};
use storage::names;

use super::engine::{Engine, EngineError};
use super::RunDocument;

impl Engine {
    /// Writes the run's cancellation marker (overwriting an earlier one: same run, same
    /// creation time).
    pub(super) async fn mark_cancelled(&self, doc: &RunDocument) -> Result<(), EngineError> {
        let id = doc.state.id();
        let marker = Cancellation {
            run_id: id.to_string(),
            run_created_ms: doc.state.created_ms(),
            at_ms: now_ms(),
        };
        let body = serde_json::to_vec(&marker).expect("a cancellation always serializes");
        self.inner
            .storage
            .upload_blob(
                names::ORCHESTRATIONS_CONTAINER,
                &cancellation_blob(id.as_str()),
                body,
                "application/json",
            )
            .await?;
        tracing::info!(run = %id, "cancellation marked for the workers");
        Ok(())
    }

    /// After a change is stored: marks a run that it terminated. A failure is logged, not
    /// returned, since the termination itself is stored; start-up and purge write it again.
    pub(super) async fn mark_if_terminated(&self, doc: &RunDocument) {
        if doc.state.runtime_status() != RuntimeStatus::Terminated {
            return;
        }
        if let Err(e) = self.mark_cancelled(doc).await {
            tracing::warn!(
                run = %doc.state.id(),
                "terminated, but the workers' marker could not be written (written again at start-up or purge): {e}"
            );
        }
    }
}
