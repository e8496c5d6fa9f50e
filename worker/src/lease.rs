//! A received message while a worker holds it: kept hidden while the work lasts, then deleted or
//! handed back.
//!
//! The pop receipt changes with every visibility update, and the delete or release at the end
//! needs the latest one. The extension task and the item's own steps therefore share the message
//! behind one lock: an extension in flight finishes before the item deletes or releases it, and
//! once the message is settled no extension touches it again.

use std::convert::Infallible;
use std::time::Duration;

use storage::messages::Received;
use storage::names::WORK_QUEUE;
use tokio::sync::Mutex;

use crate::consumer::Context;
use crate::retry::is_transient;
use crate::stats::Counter;

/// Shortest pause before another try at a failed extension.
const MIN_EXTENSION_RETRY: Duration = Duration::from_millis(250);

pub(crate) struct Lease {
    state: Mutex<State>,
    id: String,
    dequeue_count: u32,
    text: String,
}

struct State {
    message: Received,
    /// Deleted or released: nothing more to extend.
    settled: bool,
    /// The queue refused an extension: another worker may hold the message now, and our pop
    /// receipt no longer works. The item's output is deterministic, so finishing the work is
    /// still harmless.
    lost: bool,
}

impl Lease {
    pub(crate) fn new(message: Received) -> Lease {
        Lease {
            id: message.id.clone(),
            dequeue_count: message.dequeue_count,
            text: message.text.clone(),
            state: Mutex::new(State {
                message,
                settled: false,
                lost: false,
            }),
        }
    }

    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// How many times the message has been received, this time included.
    pub(crate) fn dequeue_count(&self) -> u32 {
        self.dequeue_count
    }

    /// The message's decoded text.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// Extends the message's visibility every half timeout until it is settled. Never returns:
    /// run it beside the item's work and drop it when the work ends.
    pub(crate) async fn keep_alive(&self, ctx: &Context, item: &str) -> Infallible {
        let every = ctx.config.extend_every();
        let mut wait = every;
        loop {
            tokio::time::sleep(wait).await;
            let mut state = self.state.lock().await;
            if state.settled || state.lost {
                drop(state);
                return std::future::pending().await;
            }
            let visibility = ctx.config.visibility_timeout;
            let update = ctx
                .storage
                .set_visibility(WORK_QUEUE, &mut state.message, visibility);
            match ctx
                .storage
                .within(every, "extending a message's visibility", update)
                .await
            {
                Ok(()) => {
                    ctx.progress.add(Counter::Extensions);
                    tracing::debug!(%item, "kept the message hidden for another {visibility:?}");
                    wait = every;
                }
                Err(error) if is_transient(&error) => {
                    ctx.progress.add(Counter::StorageRetries);
                    wait = (every / 4).max(MIN_EXTENSION_RETRY);
                    tracing::warn!(
                        %item,
                        "extending the message's visibility failed, trying again in {} ms: {error}",
                        wait.as_millis()
                    );
                }
                Err(error) => {
                    state.lost = true;
                    tracing::warn!(
                        %item,
                        "lost the message's lease, another worker may take it (the result will be the same): {error}"
                    );
                }
            }
        }
    }

    /// Deletes the message: the item is finished (completed or poisoned).
    pub(crate) async fn delete(&self, ctx: &Context, item: &str) -> Result<(), storage::Error> {
        let mut state = self.state.lock().await;
        if !state.lost && !state.settled {
            let message = &state.message;
            ctx.call("deleting the message", item, || {
                ctx.storage.delete(WORK_QUEUE, message)
            })
            .await?;
        }
        state.settled = true;
        Ok(())
    }

    /// Makes the message visible again after `after` (zero: at once), for this or another
    /// worker to try again.
    pub(crate) async fn release(
        &self,
        ctx: &Context,
        item: &str,
        after: Duration,
    ) -> Result<(), storage::Error> {
        let mut state = self.state.lock().await;
        if !state.lost && !state.settled {
            let message = &state.message;
            let updated = ctx
                .call("releasing the message", item, || {
                    let mut message = message.clone();
                    async move {
                        ctx.storage
                            .set_visibility(WORK_QUEUE, &mut message, after)
                            .await
                            .map(|()| message)
                    }
                })
                .await?;
            state.message = updated;
        }
        state.settled = true;
        Ok(())
    }
}
