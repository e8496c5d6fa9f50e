//! Retrying storage calls that failed in a way that may pass.
//!
//! The SDK already retries inside one call; this outer loop covers what it cannot: a call that
//! exceeded its deadline, a connection refused while a storage front end restarts, a 503 that
//! outlasted the SDK's own attempts. Delays grow exponentially with jitter, so that many pods
//! failing at once do not retry in lockstep, and the attempts are bounded: a worker that cannot
//! reach storage gives the message up (it reappears after its visibility timeout) instead of
//! holding it forever.

use std::future::Future;
use std::time::Duration;

use rand::Rng;

/// How many times and how patiently a failed call is retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// Delay before the second attempt; each later delay doubles, up to `max_delay`.
    pub first_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// Six attempts over about six seconds of delays.
    fn default() -> Self {
        RetryPolicy {
            attempts: 6,
            first_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// The pause after failed attempt `attempt` (1-based): half of the exponential delay fixed,
    /// the other half random ("equal jitter"), so a pause is never much shorter than planned.
    pub fn delay(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(20);
        let full = self
            .first_delay
            .saturating_mul(1 << exponent)
            .min(self.max_delay);
        let half = full / 2;
        let jitter_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        half + Duration::from_millis(rand::rng().random_range(0..=jitter_ms))
    }
}

/// Whether a failed storage call may succeed if tried again: deadlines, failures without an
/// HTTP answer (connection refused or reset), request timeouts, throttling and server errors.
/// Anything else (403, 404, 409, a bad request) is an answer that repeating will not change.
pub fn is_transient(error: &storage::Error) -> bool {
    match error {
        storage::Error::Timeout { .. } => true,
        storage::Error::Service { source, .. } => match source.http_status() {
            None => true,
            Some(status) => matches!(u16::from(status), 408 | 429 | 500..=599),
        },
        // A malformed answer (no ETag) is a service fault that another try may not repeat.
        storage::Error::Protocol { .. } => true,
        storage::Error::Config(_) => false,
    }
}

/// Runs `call` until it succeeds, fails for good, or has used `policy.attempts`. Every failure
/// that is retried is logged on one line naming `item` and counted through `on_retry`. The call
/// itself bounds its duration (see [`storage::Storage::within`]).
pub(crate) async fn retry<T, F, Fut>(
    policy: &RetryPolicy,
    what: &str,
    item: &str,
    on_retry: impl Fn(),
    mut call: F,
) -> Result<T, storage::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = storage::Result<T>>,
{
    let mut attempt = 1;
    loop {
        match call().await {
            Ok(value) => return Ok(value),
            Err(error) if attempt < policy.attempts && is_transient(&error) => {
                let delay = policy.delay(attempt);
                tracing::warn!(
                    %item,
                    attempt,
                    "{what} failed, retrying in {} ms: {error}",
                    delay.as_millis()
                );
                on_retry();
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn timeout_error() -> storage::Error {
        storage::Error::Timeout {
            operation: "x".into(),
            endpoint: "e".into(),
            seconds: 1,
        }
    }

    #[test]
    fn delays_grow_with_jitter_and_stay_bounded() {
        let policy = RetryPolicy {
            attempts: 10,
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
        };
        for _ in 0..50 {
            let first = policy.delay(1);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let third = policy.delay(3);
            assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400));
            let late = policy.delay(30);
            assert!(late >= Duration::from_millis(500) && late <= Duration::from_millis(1000));
        }
    }

    #[test]
    fn only_passing_failures_are_transient() {
        assert!(is_transient(&timeout_error()));
        assert!(!is_transient(&storage::Error::Config("bad".into())));
    }

    #[tokio::test(start_paused = true)]
    async fn transient_failures_are_retried_until_success() {
        let calls = AtomicU32::new(0);
        let retries = AtomicU32::new(0);
        let result = retry(
            &RetryPolicy::default(),
            "reading",
            "run/000001",
            || {
                retries.fetch_add(1, Ordering::Relaxed);
            },
            || {
                let n = calls.fetch_add(1, Ordering::Relaxed);
                async move {
                    if n < 2 {
                        Err(timeout_error())
                    } else {
                        Ok(n)
                    }
                }
            },
        )
        .await;
        assert_eq!(result.unwrap(), 2);
        assert_eq!(retries.load(Ordering::Relaxed), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn attempts_are_bounded() {
        let calls = AtomicU32::new(0);
        let policy = RetryPolicy {
            attempts: 3,
            ..RetryPolicy::default()
        };
        let result: Result<(), _> = retry(
            &policy,
            "writing",
            "run/000001",
            || {},
            || {
                calls.fetch_add(1, Ordering::Relaxed);
                async { Err(timeout_error()) }
            },
        )
        .await;
        assert!(matches!(result, Err(storage::Error::Timeout { .. })));
        assert_eq!(calls.load(Ordering::Relaxed), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_failures_are_not_retried() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = retry(
            &RetryPolicy::default(),
            "reading",
            "run/000001",
            || {},
            || {
                calls.fetch_add(1, Ordering::Relaxed);
                async { Err(storage::Error::Config("no".into())) }
            },
        )
        .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::Relaxed), 1);
    }
}
