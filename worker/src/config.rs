//! How a worker behaves: typed settings for the library, and the flags and environment variables
//! that fill them for the binary.
//!
//! The server's local scaling model builds a [`WorkerConfig`] in code; the container reads
//! [`WorkerArgs`] once at start-up. Both end in the same struct, so a pod and a simulated pod
//! behave the same.

use std::time::Duration;

use clap::Args;

use crate::retry::RetryPolicy;
use crate::{Error, Result};

/// Settings of one worker (one pod).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerConfig {
    /// Who computed an item, written into its output and logs: the pod's name on Kubernetes.
    pub worker_id: String,
    /// Messages worked on at once. KEDA's replica arithmetic assumes one message per pod, so 1
    /// unless pods are given more than one CPU.
    pub concurrency: usize,
    /// How long a received message stays hidden from other workers. Work that takes longer is
    /// kept hidden by extending it at about half this interval.
    pub visibility_timeout: Duration,
    /// A message received more often than this goes to the poison queue; a failing item is
    /// poisoned on its `max_dequeue`th failure.
    pub max_dequeue: u32,
    /// After shutdown is requested, how long the current item may take to finish before its
    /// message is released for another worker. Must be shorter than the pod's
    /// `terminationGracePeriodSeconds`.
    pub grace: Duration,
    /// Whether the worker posts the `BlobCreated` event itself. Off when an Event Grid
    /// subscription on the output container delivers it instead.
    pub emit_events: bool,
    /// First pause after an empty receive; it doubles on each empty receive up to `max_idle`
    /// and resets on a message, keeping an idle worker's storage transactions low.
    pub min_idle: Duration,
    pub max_idle: Duration,
    /// Retries of a storage call that failed in a way that may pass (timeouts, 5xx, throttling).
    pub retry: RetryPolicy,
    /// Deadline of one storage call. The SDK's own retry policy can take over a minute against
    /// an unreachable endpoint; this bounds it so that one slow call cannot outlive a lease.
    pub call_timeout: Duration,
    /// How long a run's cancellation marker, or its absence, is trusted before it is read
    /// again: the longest a worker keeps computing a terminated run's items, and the period of
    /// one read per run.
    pub cancel_check_ttl: Duration,
}

impl WorkerConfig {
    /// The defaults, for a worker called `worker_id`.
    pub fn new(worker_id: impl Into<String>) -> WorkerConfig {
        WorkerConfig {
            worker_id: worker_id.into(),
            concurrency: 1,
            visibility_timeout: Duration::from_secs(30),
            max_dequeue: 5,
            grace: Duration::from_secs(25),
            emit_events: true,
            min_idle: Duration::from_millis(100),
            max_idle: Duration::from_millis(2000),
            retry: RetryPolicy::default(),
            call_timeout: Duration::from_secs(30),
            cancel_check_ttl: Duration::from_secs(2),
        }
    }

    /// Rejects settings under which the worker cannot keep its promises.
    pub fn validate(&self) -> Result<()> {
        let problem = if self.worker_id.trim().is_empty() {
            "the worker id is empty"
        } else if self.concurrency == 0 {
            "concurrency must be at least 1"
        } else if self.visibility_timeout < Duration::from_secs(1) {
            // The queue service counts visibility in whole seconds.
            "the visibility timeout must be at least 1 s"
        } else if self.visibility_timeout > Duration::from_secs(7 * 24 * 3600) {
            "the visibility timeout must be at most 7 days"
        } else if self.max_dequeue == 0 {
            "max dequeue must be at least 1"
        } else if self.min_idle.is_zero() || self.max_idle < self.min_idle {
            "idle pauses must be positive, the maximum at least the minimum"
        } else if self.call_timeout.is_zero() {
            "the storage call timeout must be positive"
        } else if self.retry.attempts == 0 {
            "retry attempts must be at least 1"
        } else {
            return Ok(());
        };
        Err(Error::Config(problem.to_string()))
    }

    /// How often a message being worked on has its visibility extended: half the timeout, so
    /// that one failed extension still leaves time for another.
    pub fn extend_every(&self) -> Duration {
        (self.visibility_timeout / 2).max(Duration::from_millis(500))
    }
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig::new(random_worker_id())
    }
}

/// A worker id for a process that was not given one: `worker-` and six random characters.
pub fn random_worker_id() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let suffix: String = (0..6)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect();
    format!("worker-{suffix}")
}

/// The worker's flags and environment variables (storage settings are separate, in
/// [`storage::StorageArgs`]).
#[derive(Clone, Debug, Args)]
pub struct WorkerArgs {
    /// Name of this worker in outputs and logs. On Kubernetes, HOSTNAME is the pod's name.
    /// Without either, a random name.
    #[arg(long, env = "HOSTNAME")]
    pub worker_id: Option<String>,

    /// Messages worked on at once by this process. Keep 1 with one CPU per pod, as KEDA's
    /// queueLength target assumes.
    #[arg(long, env = "SCALEBOARD_WORKER_CONCURRENCY", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,

    /// Seconds a received message stays hidden from other workers; longer work keeps it hidden
    /// by extending it every half of this.
    #[arg(long, env = "SCALEBOARD_WORKER_VISIBILITY_SECONDS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub visibility_seconds: u64,

    /// A message received more than this many times, or failing this many times, moves to the
    /// `work-items-poison` queue and its item is reported failed.
    #[arg(long, env = "SCALEBOARD_WORKER_MAX_DEQUEUE", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub max_dequeue: u32,

    /// On SIGTERM or Ctrl-C, seconds the current item may take to finish before its message is
    /// released for another worker. Keep it below the pod's terminationGracePeriodSeconds.
    #[arg(long, env = "SCALEBOARD_WORKER_GRACE_SECONDS", default_value_t = 25,
          value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub grace_seconds: u64,

    /// Post the BlobCreated completion event to `item-events` (true/false). Set false when an
    /// Event Grid subscription on the `output` container delivers it instead.
    #[arg(long, env = "SCALEBOARD_EMIT_EVENTS", default_value_t = true,
          action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    pub emit_events: bool,

    /// Longest pause in milliseconds between two receives while the queue is empty (the pause
    /// starts at 100 ms and doubles).
    #[arg(long, env = "SCALEBOARD_WORKER_MAX_IDLE_MS", default_value_t = 2000,
          value_parser = clap::value_parser!(u64).range(100..=60_000))]
    pub max_idle_ms: u64,
}

impl WorkerArgs {
    /// The typed settings these flags describe.
    pub fn config(&self) -> WorkerConfig {
        let worker_id = self
            .worker_id
            .as_deref()
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .map_or_else(random_worker_id, str::to_string);
        WorkerConfig {
            concurrency: usize::from(self.concurrency),
            visibility_timeout: Duration::from_secs(self.visibility_seconds),
            max_dequeue: self.max_dequeue,
            grace: Duration::from_secs(self.grace_seconds),
            emit_events: self.emit_events,
            max_idle: Duration::from_millis(self.max_idle_ms),
            ..WorkerConfig::new(worker_id)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        worker: WorkerArgs,
    }

    fn parse(args: &[&str]) -> Result<WorkerArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("worker").chain(args.iter().copied())).map(|c| c.worker)
    }

    #[test]
    fn flags_become_typed_settings() {
        let config = parse(&[
            "--worker-id",
            "pod-1",
            "--concurrency",
            "3",
            "--visibility-seconds",
            "10",
            "--max-dequeue",
            "2",
            "--grace-seconds",
            "0",
            "--emit-events",
            "false",
            "--max-idle-ms",
            "500",
        ])
        .unwrap()
        .config();
        assert_eq!(config.worker_id, "pod-1");
        assert_eq!(config.concurrency, 3);
        assert_eq!(config.visibility_timeout, Duration::from_secs(10));
        assert_eq!(config.max_dequeue, 2);
        assert_eq!(config.grace, Duration::ZERO);
        assert!(!config.emit_events);
        assert_eq!(config.max_idle, Duration::from_millis(500));
        assert_eq!(config.extend_every(), Duration::from_secs(5));
        config.validate().unwrap();
    }

    #[test]
    fn out_of_range_values_name_their_flag() {
        for (flag, value) in [
            ("--concurrency", "0"),
            ("--visibility-seconds", "0"),
            ("--max-idle-ms", "10"),
            ("--emit-events", "perhaps"),
        ] {
            let err = parse(&[flag, value]).unwrap_err().to_string();
            assert!(err.contains(flag), "{flag}: {err}");
        }
    }

    #[test]
    fn defaults_are_valid_and_a_missing_id_is_made_up() {
        let config = WorkerConfig::default();
        config.validate().unwrap();
        assert!(config.worker_id.starts_with("worker-"));
        assert_eq!(config.worker_id.len(), "worker-".len() + 6);
        assert_ne!(random_worker_id(), random_worker_id());
    }

    #[test]
    fn unusable_settings_are_rejected() {
        let broken = [
            WorkerConfig {
                concurrency: 0,
                ..WorkerConfig::new("w")
            },
            WorkerConfig {
                visibility_timeout: Duration::from_millis(500),
                ..WorkerConfig::new("w")
            },
            WorkerConfig {
                max_dequeue: 0,
                ..WorkerConfig::new("w")
            },
            WorkerConfig::new(" "),
        ];
        for config in broken {
            assert!(config.validate().is_err(), "{config:?}");
        }
    }
}
