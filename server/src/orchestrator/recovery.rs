//! Recovery at start-up: every stored run that is not finished and whose lease is free (its
//! owner stopped or died) is taken over — the outputs its workers wrote while no server was
//! listening are counted (see `reconcile`), then what is not scheduled is fanned out. A run
//! another server owns is left to it (see `lease`).

use std::time::Duration;

use super::engine::Engine;

impl Engine {
    /// Loads every stored run and resumes those not finished, retrying until storage answers.
    pub(super) async fn recover(self) {
        let mut delay = Duration::from_millis(500);
        let ids = loop {
            match self.inner.store.ids().await {
                Ok(ids) => break ids,
                Err(e) => {
                    tracing::warn!("cannot list stored runs yet: {e}; retrying in {delay:?}");
                    tokio::select! {
                        _ = self.inner.shutdown.cancelled() => return,
                        _ = tokio::time::sleep(delay) => {}
                    }
                    delay = (delay * 2).min(Duration::from_secs(30));
                }
            }
        };
        let mut resumed = 0;
        for id in ids {
            let doc = match self.get(&id).await {
                Ok(doc) => doc,
                Err(e) => {
                    tracing::warn!(run = %id, "cannot load stored run: {e}");
                    continue;
                }
            };
            if doc.state.is_terminal() {
                // A crash may have come between storing a termination and marking it.
                self.mark_if_terminated(&doc).await;
                continue;
            }
            match self.claim(&id, false).await {
                Ok(true) => resumed += 1,
                Ok(false) => tracing::info!(run = %id, "another server owns the run"),
                Err(e) => tracing::warn!(run = %id, "cannot take the run over yet: {e}"),
            }
        }
        if resumed > 0 {
            tracing::info!(resumed, "resumed unfinished runs");
        }
    }
}
