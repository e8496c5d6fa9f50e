//! Recovery at start-up: every stored run that is not finished is resumed, after counting the
//! outputs its workers wrote while no server was listening (see `reconcile`).

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
            // Every output not counted: none of their events will be applied before this.
            if let Err(e) = self.reconcile(&id, None).await {
                tracing::warn!(run = %id, "cannot reconcile outputs: {e}");
            }
            self.spawn_fan_out(id);
            resumed += 1;
        }
        if resumed > 0 {
            tracing::info!(resumed, "resumed unfinished runs");
        }
    }
}
