//! The receive loop: one per unit of concurrency, all sharing one shutdown.
//!
//! Each loop takes one message at a time. Taking a batch would hide messages that this worker
//! is not yet working on from workers that are idle, and would make KEDA's arithmetic (one
//! message per pod) wrong; one message per receive is the price of scaling fairly.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use storage::names::WORK_QUEUE;
use storage::Storage;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::cancelled::CancelledRuns;
use crate::config::WorkerConfig;
use crate::item::{self, Outcome};
use crate::retry::{self, is_transient};
use crate::stats::{Counter, Progress, Stats};
use crate::{Error, Result};

/// What every step of an item needs.
pub(crate) struct Context {
    pub(crate) storage: Storage,
    pub(crate) config: WorkerConfig,
    pub(crate) progress: Arc<Progress>,
    /// Cancelled when shutdown's grace is over: unfinished items are released.
    pub(crate) stop: CancellationToken,
    /// The runs whose messages are dropped, looked up once per run per period.
    pub(crate) cancelled: CancelledRuns,
}

impl Context {
    /// A storage call with a deadline, retried while it fails transiently.
    pub(crate) async fn call<T, F, Fut>(
        &self,
        what: &str,
        item: &str,
        mut call: F,
    ) -> storage::Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = storage::Result<T>>,
    {
        retry::retry(
            &self.config.retry,
            what,
            item,
            || self.progress.add(Counter::StorageRetries),
            || self.storage.within(self.config.call_timeout, what, call()),
        )
        .await
    }
}

/// Works the queue until `shutdown` is cancelled, then finishes or releases the messages in
/// hand within the configured grace, and returns what was done.
pub async fn run(
    storage: Storage,
    config: WorkerConfig,
    shutdown: CancellationToken,
) -> Result<Stats> {
    run_with(storage, config, Arc::new(Progress::default()), shutdown).await
}

/// [`run`], counting into `progress`, which the caller can read while the worker runs (for a
/// health endpoint, or to show which simulated pods are busy). The returned stats are
/// `progress`'s counters at the end.
pub async fn run_with(
    storage: Storage,
    config: WorkerConfig,
    progress: Arc<Progress>,
    shutdown: CancellationToken,
) -> Result<Stats> {
    config.validate()?;
    // Fails now on a queue name the client cannot use, rather than in every loop.
    storage.queue(WORK_QUEUE)?;
    let worker = config.worker_id.clone();
    let grace = config.grace;
    let concurrency = config.concurrency;
    let stop = CancellationToken::new();
    let ctx = Arc::new(Context {
        cancelled: CancelledRuns::new(config.cancel_check_ttl),
        storage,
        config,
        progress: progress.clone(),
        stop: stop.clone(),
    });
    tracing::info!(%worker, concurrency, "worker started");

    let mut loops = JoinSet::new();
    for slot in 0..concurrency {
        loops.spawn(consume(ctx.clone(), slot, shutdown.clone()));
    }
    // Grace starts when shutdown is asked for; the timer lives only as long as the loops.
    let grace_timer = async {
        shutdown.cancelled().await;
        tokio::time::sleep(grace).await;
        stop.cancel();
        std::future::pending::<Infallible>().await
    };
    let mut failure = None;
    let drain = async {
        while let Some(joined) = loops.join_next().await {
            if let Err(error) = joined {
                failure.get_or_insert(Error::Loop {
                    worker: worker.clone(),
                    message: error.to_string(),
                });
            }
        }
    };
    tokio::select! {
        () = drain => {}
        never = grace_timer => match never {},
    }
    let stats = progress.stats();
    tracing::info!(%worker, ?stats, "worker stopped");
    match failure {
        Some(error) => Err(error),
        None => Ok(stats),
    }
}

/// One loop: receive, handle, repeat; pause longer and longer while the queue is empty.
async fn consume(ctx: Arc<Context>, slot: usize, shutdown: CancellationToken) {
    let config = &ctx.config;
    let mut idle = config.min_idle;
    let mut missing_queue_reported = false;
    while !shutdown.is_cancelled() {
        // The receive itself is not cut short by shutdown: a message received but dropped here
        // would stay hidden, unworked, for a whole visibility timeout.
        let received = ctx
            .storage
            .within(
                config.call_timeout,
                "receiving from the work queue",
                ctx.storage
                    .receive(WORK_QUEUE, 1, config.visibility_timeout),
            )
            .await;
        match received {
            Ok(messages) if !messages.is_empty() => {
                idle = config.min_idle;
                missing_queue_reported = false;
                for message in messages {
                    let outcome = item::process(&ctx, message).await;
                    if outcome == Outcome::Released {
                        break;
                    }
                }
                continue;
            }
            Ok(_) => {}
            Err(error) if error.is_not_found() => {
                if !missing_queue_reported {
                    tracing::warn!(slot, "queue `{WORK_QUEUE}` does not exist yet; waiting for the server to create it");
                    missing_queue_reported = true;
                }
            }
            Err(error) => {
                if is_transient(&error) {
                    ctx.progress.add(Counter::StorageRetries);
                }
                tracing::warn!(
                    slot,
                    "receiving from `{WORK_QUEUE}` failed, trying again in {} ms: {error}",
                    idle.as_millis()
                );
            }
        }
        tokio::select! {
            () = tokio::time::sleep(jittered(idle)) => {}
            () = shutdown.cancelled() => break,
        }
        idle = (idle * 2).min(config.max_idle);
    }
}

/// `pause` give or take a tenth, so that idle replicas started together do not poll in step.
fn jittered(pause: Duration) -> Duration {
    let tenth = u64::try_from(pause.as_millis() / 10).unwrap_or(0);
    let offset = rand::rng().random_range(0..=2 * tenth);
    pause - Duration::from_millis(tenth) + Duration::from_millis(offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_pauses_vary_by_a_tenth() {
        for _ in 0..100 {
            let pause = jittered(Duration::from_millis(1000));
            assert!(pause >= Duration::from_millis(900) && pause <= Duration::from_millis(1100));
        }
        assert_eq!(jittered(Duration::from_millis(5)), Duration::from_millis(5));
    }
}
