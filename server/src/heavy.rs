//! CPU-bound answers — what-if replays and chart rendering — on the blocking pool, a few at a
//! time.
//!
//! Each costs tens of milliseconds to seconds of a core and, for a large PNG, tens of megabytes.
//! Run on the async workers, a handful would stall every other request and the live feed; run
//! without a bound, a hundred at once would exhaust memory. So they take a permit first (waiting
//! a little when all are taken, then answering 503 with `Retry-After`) and run with
//! `spawn_blocking`.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use tokio::sync::Semaphore;

use crate::error::ApiError;

/// How long a request waits for a permit before it is told to come back: short, so that every
/// one of these requests is answered within a second (measured in the `expensive_requests`
/// bench), by a render or by a 503 with `Retry-After`.
const WAIT: Duration = Duration::from_millis(500);

/// The permits. Cheap to clone.
#[derive(Clone, Debug)]
pub struct HeavyWork {
    permits: Arc<Semaphore>,
    wait: Duration,
}

impl HeavyWork {
    /// At most `concurrency` pieces of work at once.
    pub fn new(concurrency: usize) -> HeavyWork {
        HeavyWork::waiting(concurrency, WAIT)
    }

    /// As [`HeavyWork::new`], with another wait for a permit.
    pub fn waiting(concurrency: usize, wait: Duration) -> HeavyWork {
        HeavyWork {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            wait,
        }
    }

    /// Runs `work` on the blocking pool once a permit is free.
    pub async fn run<T: Send + 'static>(
        &self,
        what: &str,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let permit = tokio::time::timeout(self.wait, self.permits.clone().acquire_owned())
            .await
            .ok()
            .and_then(Result::ok)
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("busy with other {what}s; try again in a few seconds"),
                )
                .retry_after(2)
            })?;
        tokio::task::spawn_blocking(move || {
            let result = work();
            drop(permit);
            result
        })
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the {what} failed: {e}"),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_beyond_the_permits_waits_then_is_refused_with_retry_after() {
        // The wait is short so the test is; the outcome does not depend on it.
        let heavy = HeavyWork::waiting(1, Duration::from_millis(20));
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let busy = tokio::spawn({
            let heavy = heavy.clone();
            async move {
                heavy
                    .run("replay", move || {
                        started_tx.send(()).unwrap();
                        release_rx.recv().unwrap();
                        1
                    })
                    .await
            }
        });
        tokio::task::spawn_blocking(move || started_rx.recv().unwrap())
            .await
            .unwrap();
        let refused = heavy.run("replay", || 2).await.unwrap_err();
        assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(refused.retry_after, Some(2));
        release_tx.send(()).unwrap();
        assert_eq!(busy.await.unwrap().unwrap(), 1);
        assert_eq!(heavy.run("replay", || 3).await.unwrap(), 3);
    }
}
