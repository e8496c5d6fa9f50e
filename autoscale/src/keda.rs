//! KEDA's part: the `azure-queue` scaler's metric, activation, and the scale between zero and
//! one, which KEDA does itself because the HPA cannot scale from or to zero.
//!
//! KEDA's operator polls the trigger every `pollingInterval`. When the scaler is active and the
//! target has 0 replicas it scales to `max(minReplicaCount, 1)`; when the scaler is inactive,
//! `minReplicaCount` is 0 and the trigger was last active more than `cooldownPeriod` ago, it
//! scales to 0. Between 1 and the maximum the HPA decides (see [`crate::hpa`]).
//! (KEDA docs: "Scaling Deployments", `pollingInterval`, `cooldownPeriod`,
//! `activationQueueLength`.)

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::policy::{QueueLengthStrategy, ScaledObject};

/// How many messages the `azure-queue` scaler peeks for `queueLengthStrategy: visibleonly`;
/// at this many or more it falls back to the approximate count.
pub const VISIBLE_PEEK_LIMIT: u64 = 32;

/// What the shell saw of the queue at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Observation {
    /// The approximate message count (includes messages being worked on, which are invisible).
    pub queue_length: u64,
    /// Visible messages, when the shell peeked (at most [`VISIBLE_PEEK_LIMIT`] are meaningful).
    pub visible_length: Option<u64>,
}

impl Observation {
    /// An observation of the approximate count only.
    pub fn new(queue_length: u64) -> Self {
        Self {
            queue_length,
            visible_length: None,
        }
    }
}

/// The metric the scaler reports for an observation.
pub fn scaler_metric(observation: &Observation, strategy: QueueLengthStrategy) -> u64 {
    match (strategy, observation.visible_length) {
        (QueueLengthStrategy::VisibleOnly, Some(visible)) if visible < VISIBLE_PEEK_LIMIT => {
            visible
        }
        _ => observation.queue_length,
    }
}

/// The scaler is active only when the metric is strictly greater than the activation value.
pub fn is_active(metric: u64, activation: u64) -> bool {
    metric > activation
}

/// Whether the cooldown since the trigger was last active has passed. KEDA compares
/// `lastActiveTime + cooldownPeriod` strictly before now; a trigger never active has no cooldown.
pub fn cooldown_elapsed(last_active: Option<Duration>, now: Duration, cooldown: Duration) -> bool {
    last_active.is_none_or(|at| at.saturating_add(cooldown) < now)
}

/// What KEDA's scale loop does to the target's replicas at one poll, if anything.
pub fn scale_decision(
    current: u32,
    active: bool,
    min_replicas: u32,
    cooldown_elapsed: bool,
) -> Option<u32> {
    if active && current == 0 {
        Some(min_replicas.max(1))
    } else if !active && current > 0 && min_replicas == 0 && cooldown_elapsed {
        Some(0)
    } else if current < min_replicas {
        Some(min_replicas)
    } else {
        None
    }
}

/// What KEDA remembers between polls.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Keda {
    /// When the trigger was last polled.
    pub last_poll: Option<Duration>,
    /// The metric read at the last poll.
    pub metric: Option<u64>,
    /// Whether the scaler was active at the last poll.
    pub active: bool,
    /// The `status.lastActiveTime` of the ScaledObject.
    pub last_active: Option<Duration>,
}

/// The outcome of one poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Poll {
    pub metric: u64,
    pub active: bool,
    /// Whether `active` differs from the previous poll.
    pub changed: bool,
    /// The replicas KEDA sets, if it sets any.
    pub scale_to: Option<u32>,
}

impl Keda {
    /// Whether a poll is due at `now`.
    pub fn due(&self, now: Duration, interval: Duration) -> bool {
        self.last_poll
            .is_none_or(|at| now.saturating_sub(at) >= interval)
    }

    /// Polls the trigger: reads the metric, updates activity and decides the 0 ↔ 1 step.
    pub fn poll(
        &mut self,
        now: Duration,
        observation: &Observation,
        spec: &ScaledObject,
        current: u32,
    ) -> Poll {
        let metric = scaler_metric(observation, spec.queue_length_strategy);
        let active = is_active(metric, spec.activation_queue_length);
        let changed = active != self.active;
        self.last_poll = Some(now);
        self.metric = Some(metric);
        self.active = active;
        if active {
            self.last_active = Some(now);
        }
        let elapsed = cooldown_elapsed(self.last_active, now, spec.cooldown_period);
        let scale_to = scale_decision(current, active, spec.min_replicas, elapsed);
        Poll {
            metric,
            active,
            changed,
            scale_to,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Profile;

    #[test]
    fn activation_is_strictly_greater() {
        for (metric, activation, active) in [
            (0, 0, false),
            (1, 0, true),
            (3, 0, true),
            (5, 5, false),
            (6, 5, true),
            (4, 5, false),
        ] {
            assert_eq!(
                is_active(metric, activation),
                active,
                "{metric} > {activation}"
            );
        }
    }

    #[test]
    fn visible_only_falls_back_at_the_peek_limit() {
        use QueueLengthStrategy::*;
        let obs = |all, visible| Observation {
            queue_length: all,
            visible_length: visible,
        };
        for (observation, strategy, metric) in [
            (obs(50, Some(10)), All, 50),
            (obs(50, Some(10)), VisibleOnly, 10),
            (obs(50, Some(31)), VisibleOnly, 31),
            (obs(50, Some(32)), VisibleOnly, 50),
            (obs(50, Some(40)), VisibleOnly, 50),
            (obs(50, None), VisibleOnly, 50),
            (obs(7, Some(0)), VisibleOnly, 0),
        ] {
            assert_eq!(
                scaler_metric(&observation, strategy),
                metric,
                "{observation:?} {strategy:?}"
            );
        }
    }

    #[test]
    fn cooldown_is_strict_and_absent_activity_has_none() {
        let s = Duration::from_secs;
        for (last, now, cooldown, elapsed) in [
            (None, s(0), s(300), true),
            (Some(s(100)), s(399), s(300), false),
            (Some(s(100)), s(400), s(300), false),
            (Some(s(100)), s(401), s(300), true),
            (Some(s(0)), s(1), s(0), true),
        ] {
            assert_eq!(
                cooldown_elapsed(last, now, cooldown),
                elapsed,
                "{last:?} {now:?}"
            );
        }
    }

    #[test]
    fn keda_scales_only_between_zero_and_one_or_up_to_min() {
        for (current, active, min, elapsed, expected) in [
            (0, true, 0, false, Some(1)),
            (0, true, 3, false, Some(3)),
            (0, false, 0, true, None),
            (4, false, 0, true, Some(0)),
            (4, false, 0, false, None),
            (4, false, 2, true, None),
            (4, true, 0, true, None),
            (1, false, 2, false, Some(2)),
        ] {
            assert_eq!(
                scale_decision(current, active, min, elapsed),
                expected,
                "current {current} active {active} min {min} elapsed {elapsed}"
            );
        }
    }

    #[test]
    fn poll_records_last_active_and_cools_down_to_zero() {
        let spec = Profile::seed_demo().scaled_object; // cooldown 30 s
        let s = Duration::from_secs;
        let mut keda = Keda::default();
        let poll = keda.poll(s(0), &Observation::new(3), &spec, 0);
        assert_eq!(
            (poll.active, poll.changed, poll.scale_to),
            (true, true, Some(1))
        );
        let poll = keda.poll(s(5), &Observation::new(0), &spec, 4);
        assert_eq!(
            (poll.active, poll.changed, poll.scale_to),
            (false, true, None)
        );
        assert_eq!(keda.last_active, Some(s(0)));
        assert_eq!(
            keda.poll(s(30), &Observation::new(0), &spec, 4).scale_to,
            None
        );
        assert_eq!(
            keda.poll(s(35), &Observation::new(0), &spec, 4).scale_to,
            Some(0)
        );
    }

    #[test]
    fn poll_is_due_once_per_interval() {
        let s = Duration::from_secs;
        let mut keda = Keda::default();
        assert!(keda.due(s(0), s(30)));
        keda.last_poll = Some(s(0));
        assert!(!keda.due(s(29), s(30)));
        assert!(keda.due(s(30), s(30)));
    }
}
