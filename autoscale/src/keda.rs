//! KEDA's part: the `azure-queue` scaler's metric, activation, and the scale between zero and
//! one, which KEDA does itself because the HPA cannot scale from or to zero.
//!
//! KEDA's operator polls the trigger every `pollingInterval` and runs `RequestScale`
//! (kedacore/keda pkg/scaling/executor/scale_scaledobjects.go). When the scaler is active and the
//! target has 0 replicas (or fewer than `minReplicaCount` with `idleReplicaCount` set) it scales
//! to `max(minReplicaCount, 1)`; when the scaler is inactive, the target is above
//! `idleReplicaCount` (or above 0 with `minReplicaCount` 0) and the trigger was last active more
//! than `cooldownPeriod` ago (never active: `initialCooldownPeriod` after creation), it scales to
//! `idleReplicaCount` or `minReplicaCount`. The cooldown applies to that step only. A metric read
//! that fails makes the trigger inactive *and* in error, which never scales to zero. Between 1 and
//! the maximum the HPA decides (see [`crate::hpa`]).
//!
//! Every read of the metric, KEDA's poll and the HPA's read through KEDA's metrics server alike,
//! goes through `GetMetricsWithFallback` (kedacore/keda pkg/fallback/fallback.go; the poll since
//! v2.19, "apply fallback in polling loop to enable scaling from zero"): with a `fallback` set,
//! a failed read adds one to the trigger's `numberOfFailures` and a good one resets it; past
//! `failureThreshold` the read answers `fallback.replicas × queueLength`, and the poll counts the
//! trigger active and not in error.

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
    /// The queue could not be read (storage unreachable): the scaler's metric fails, which
    /// counts toward `fallback.failureThreshold`. The counts above are then ignored.
    #[serde(default)]
    pub failed: bool,
}

impl Observation {
    /// An observation of the approximate count only.
    pub fn new(queue_length: u64) -> Self {
        Self {
            queue_length,
            visible_length: None,
            failed: false,
        }
    }

    /// A failed read of the queue.
    pub fn failed() -> Self {
        Self {
            failed: true,
            ..Self::default()
        }
    }

    /// The scaler's metric, or `None` when the read failed.
    pub fn metric(&self, strategy: QueueLengthStrategy) -> Option<u64> {
        (!self.failed).then(|| scaler_metric(self, strategy))
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

/// Whether the cooldown has passed (`scaleToZeroOrIdle`): `lastActiveTime + cooldownPeriod`
/// strictly before now, or, for a trigger never active, the ScaledObject's creation (time 0)
/// `+ initialCooldownPeriod` strictly before now.
pub fn cooldown_elapsed(
    last_active: Option<Duration>,
    now: Duration,
    cooldown: Duration,
    initial_cooldown: Duration,
) -> bool {
    match last_active {
        Some(at) => at.saturating_add(cooldown) < now,
        None => initial_cooldown < now,
    }
}

/// The inputs of one `RequestScale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScaleInputs {
    /// The target's `spec.replicas`.
    pub current: u32,
    /// Whether the trigger is active.
    pub active: bool,
    /// Whether the trigger's metric read failed.
    pub error: bool,
    /// `minReplicaCount`.
    pub min_replicas: u32,
    /// `idleReplicaCount`.
    pub idle_replicas: Option<u32>,
    /// `fallback.replicas`, if a fallback is set.
    pub fallback: Option<u32>,
    /// Whether the cooldown (or initial cooldown) has passed.
    pub cooldown_elapsed: bool,
}

/// What KEDA's `RequestScale` does to the target's replicas at one poll, if anything.
pub fn scale_decision(i: ScaleInputs) -> Option<u32> {
    if i.active {
        let idle_below_min = i.idle_replicas.is_some() && i.current < i.min_replicas;
        // scaleFromZeroOrIdle
        return (idle_below_min || i.current == 0).then_some(i.min_replicas.max(1));
    }
    if i.error && i.fallback.is_none_or(|replicas| replicas != 0) {
        // In error: with a fallback the HPA takes over after failureThreshold; without one
        // KEDA only marks the ScaledObject not Ready. Neither scales to zero. (A fallback of
        // 0 replicas falls through to the cases below, as upstream's switch does.)
        return None;
    }
    let above_idle = i.idle_replicas.is_some_and(|idle| i.current > idle);
    if above_idle || (i.current > 0 && i.min_replicas == 0) {
        // scaleToZeroOrIdle
        return i
            .cooldown_elapsed
            .then_some(i.idle_replicas.unwrap_or(i.min_replicas));
    }
    (i.current < i.min_replicas && i.idle_replicas.is_none()).then_some(i.min_replicas)
}

/// What KEDA remembers between polls.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Keda {
    /// When the trigger was last polled.
    pub last_poll: Option<Duration>,
    /// The scaler's metric at the last poll (`None` if that read failed).
    pub metric: Option<u64>,
    /// Whether the scaler was active at the last poll.
    pub active: bool,
    /// The `status.lastActiveTime` of the ScaledObject.
    pub last_active: Option<Duration>,
    /// The trigger's `status.health.numberOfFailures`: failed reads in a row, by the poll and the
    /// HPA alike. Upstream tracks it only with a `fallback` set, and so does the model.
    #[serde(default)]
    pub failures: u32,
    /// Whether the fallback answered the last read (the ScaledObject's `Fallback` condition).
    #[serde(default)]
    pub fallback_active: bool,
    /// When the current run of failed reads began, for the timeline; `None` while reads succeed.
    #[serde(default)]
    pub failing_since: Option<Duration>,
}

/// The outcome of one poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Poll {
    /// The scaler's metric, or `None` if the read failed.
    pub metric: Option<u64>,
    /// What the read answered after the fallback rules.
    pub read: MetricRead,
    /// A change of the trigger's health this read made, if any.
    pub health: Option<HealthChange>,
    pub active: bool,
    /// Whether `active` differs from the previous poll.
    pub changed: bool,
    /// The replicas KEDA sets, if it sets any.
    pub scale_to: Option<u32>,
}

/// A change of the trigger's health made by one read, shown on the timeline (upstream's
/// `KEDAScalerFailed` warning and its `ScaledObjectFallbackActivated`/`…Deactivated` events).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthChange {
    /// The first failed read after good ones.
    Failing,
    /// The failures just passed `failureThreshold`: the fallback answers `value`
    /// (`replicas × queueLength`) from this read on.
    FallbackActivated {
        replicas: u32,
        failure_threshold: u32,
        value: u64,
    },
    /// A good read after failures that began at `since`; `fallback` says whether the fallback
    /// was answering until now.
    Recovered { since: Duration, fallback: bool },
}

impl Keda {
    /// Whether a poll is due at `now`.
    pub fn due(&self, now: Duration, interval: Duration) -> bool {
        self.last_poll
            .is_none_or(|at| now.saturating_sub(at) >= interval)
    }

    /// Polls the trigger: reads the metric (through the fallback rules), updates activity and
    /// decides the step to or from zero (or idle).
    pub fn poll(
        &mut self,
        now: Duration,
        observation: &Observation,
        spec: &ScaledObject,
        current: u32,
    ) -> Poll {
        let metric = observation.metric(spec.queue_length_strategy);
        let (read, health) = self.read(now, metric, spec);
        // getScalerState: `isActiveOrFallback := fallbackActive || isMetricActive`, and a read
        // the fallback answered is no error.
        let active = match read {
            MetricRead::Metric(m) => is_active(m, spec.activation_queue_length),
            MetricRead::Fallback(_) => true,
            MetricRead::Failed => false,
        };
        let changed = active != self.active;
        self.last_poll = Some(now);
        self.metric = metric;
        self.active = active;
        if active {
            self.last_active = Some(now);
        }
        let scale_to = scale_decision(ScaleInputs {
            current,
            active,
            error: read == MetricRead::Failed,
            min_replicas: spec.min_replicas,
            idle_replicas: spec.idle_replica_count,
            fallback: spec.fallback.map(|f| f.replicas),
            cooldown_elapsed: cooldown_elapsed(
                self.last_active,
                now,
                spec.cooldown_period,
                spec.initial_cooldown_period,
            ),
        });
        Poll {
            metric,
            read,
            health,
            active,
            changed,
            scale_to,
        }
    }

    /// One read of the metric through `GetMetricsWithFallback` (kedacore/keda
    /// pkg/fallback/fallback.go), by KEDA's poll or by the HPA through KEDA's metrics server.
    /// A good read resets the failure count. With a `fallback` set, a failed read adds one to it,
    /// and once the count is greater than `failureThreshold` the answer is
    /// `fallback.replicas × queueLength`, so the HPA computes `fallback.replicas`; otherwise the
    /// read stays a failure and the HPA keeps the count. Without a fallback nothing is counted.
    pub fn read(
        &mut self,
        now: Duration,
        metric: Option<u64>,
        spec: &ScaledObject,
    ) -> (MetricRead, Option<HealthChange>) {
        if let Some(metric) = metric {
            let change = self
                .failing_since
                .take()
                .map(|since| HealthChange::Recovered {
                    since,
                    fallback: self.fallback_active,
                });
            self.failures = 0;
            self.fallback_active = false;
            return (MetricRead::Metric(metric), change);
        }
        let first = self.failing_since.is_none();
        if first {
            self.failing_since = Some(now);
        }
        let failing = first.then_some(HealthChange::Failing);
        let Some(fallback) = spec.fallback else {
            self.fallback_active = false;
            return (MetricRead::Failed, failing);
        };
        self.failures = self.failures.saturating_add(1);
        let was_active = self.fallback_active;
        self.fallback_active = self.failures > fallback.failure_threshold;
        if !self.fallback_active {
            return (MetricRead::Failed, failing);
        }
        let value = u64::from(fallback.replicas).saturating_mul(spec.queue_length);
        let change = (!was_active).then_some(HealthChange::FallbackActivated {
            replicas: fallback.replicas,
            failure_threshold: fallback.failure_threshold,
            value,
        });
        (MetricRead::Fallback(value), change)
    }

    /// What the HPA reads with `useCachedMetrics`: the answer of KEDA's last poll, unchanged
    /// and not counted again.
    pub fn cached_read(&self, spec: &ScaledObject) -> MetricRead {
        match (self.metric, fallback_value(spec)) {
            (Some(metric), _) => MetricRead::Metric(metric),
            (None, Some(value)) if self.fallback_active => MetricRead::Fallback(value),
            (None, _) => MetricRead::Failed,
        }
    }
}

/// The value the fallback answers, `fallback.replicas × queueLength` (`doFallback` for an
/// `AverageValue` target), if a fallback is set.
pub fn fallback_value(spec: &ScaledObject) -> Option<u64> {
    spec.fallback
        .map(|f| u64::from(f.replicas).saturating_mul(spec.queue_length))
}

/// What a read of the metric answers, after the fallback rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricRead {
    /// The scaler's metric.
    Metric(u64),
    /// The metric failed more than `failureThreshold` times: the fallback value.
    Fallback(u64),
    /// The metric failed (not yet past the threshold, or no fallback).
    Failed,
}

impl MetricRead {
    /// The value the HPA computes from, if any.
    pub fn value(self) -> Option<u64> {
        match self {
            MetricRead::Metric(v) | MetricRead::Fallback(v) => Some(v),
            MetricRead::Failed => None,
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
            failed: false,
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
    fn cooldown_is_strict_and_never_active_uses_the_initial_cooldown() {
        // kedacore/keda pkg/scaling/executor/scale_scaledobjects.go (v2.20.1, as in v2.17)
        // `scaleToZeroOrIdle`: `LastActiveTime.Add(cooldownPeriod).Before(now)`, or with no
        // LastActiveTime `CreationTimestamp.Add(initialCooldownPeriod).Before(now)`.
        let s = Duration::from_secs;
        for (last, now, cooldown, initial, elapsed) in [
            (None, s(0), s(300), s(0), false),
            (None, s(1), s(300), s(0), true),
            (None, s(60), s(300), s(60), false),
            (None, s(61), s(300), s(60), true),
            (Some(s(100)), s(399), s(300), s(0), false),
            (Some(s(100)), s(400), s(300), s(0), false),
            (Some(s(100)), s(401), s(300), s(0), true),
            (Some(s(100)), s(401), s(300), s(1000), true),
            (Some(s(0)), s(1), s(0), s(0), true),
        ] {
            assert_eq!(
                cooldown_elapsed(last, now, cooldown, initial),
                elapsed,
                "{last:?} {now:?} {cooldown:?} {initial:?}"
            );
        }
    }

    fn inputs(current: u32, active: bool, min: u32, elapsed: bool) -> ScaleInputs {
        ScaleInputs {
            current,
            active,
            error: false,
            min_replicas: min,
            idle_replicas: None,
            fallback: None,
            cooldown_elapsed: elapsed,
        }
    }

    #[test]
    fn keda_scales_only_between_zero_and_one_or_up_to_min() {
        // kedacore/keda pkg/scaling/executor/scale_scaledobjects.go (v2.20.1, as in v2.17)
        // `RequestScale`, and scale_scaledobjects_test.go: active at 0 → max(min, 1); inactive
        // with min 0 → 0 only after the cooldown; inactive below min → min; otherwise the HPA
        // decides.
        for (current, active, min, elapsed, expected) in [
            (0, true, 0, false, Some(1)),
            (0, true, 3, false, Some(3)),
            (0, false, 0, true, None),
            (4, false, 0, true, Some(0)),
            (4, false, 0, false, None),
            (4, false, 2, true, None),
            (4, true, 0, true, None),
            (1, false, 2, false, Some(2)),
            (1, true, 2, false, None),
            (2, false, 2, true, None),
        ] {
            assert_eq!(
                scale_decision(inputs(current, active, min, elapsed)),
                expected,
                "current {current} active {active} min {min} elapsed {elapsed}"
            );
        }
    }

    #[test]
    fn idle_replica_count_replaces_min_while_inactive() {
        // `RequestScale`: with idleReplicaCount, active below min → min (scaleFromZeroOrIdle);
        // inactive above idle → idle after the cooldown (getIdleOrMinimumReplicaCount); inactive
        // below min stays (the min case needs idleReplicaCount unset).
        for (current, active, elapsed, expected) in [
            (0, true, false, Some(3)),
            (2, true, false, Some(3)),
            (3, true, false, None),
            (5, false, true, Some(0)),
            (5, false, false, None),
            (0, false, true, None),
        ] {
            let i = ScaleInputs {
                idle_replicas: Some(0),
                ..inputs(current, active, 3, elapsed)
            };
            assert_eq!(scale_decision(i), expected, "{i:?}");
        }
        let idle_one = ScaleInputs {
            idle_replicas: Some(1),
            ..inputs(1, false, 3, true)
        };
        assert_eq!(scale_decision(idle_one), None, "at idle already");
    }

    #[test]
    fn an_error_never_scales_to_zero_unless_the_fallback_is_zero() {
        // `RequestScale`: `isError && Fallback != nil && Fallback.Replicas != 0` and
        // `isError && Fallback == nil` do nothing; a fallback of 0 replicas falls through.
        for (fallback, current, min, expected) in [
            (None, 4, 0, None),
            (Some(2), 4, 0, None),
            (Some(0), 4, 0, Some(0)),
            (None, 1, 2, None),
            (Some(0), 1, 2, Some(2)),
        ] {
            let i = ScaleInputs {
                error: true,
                fallback,
                ..inputs(current, false, min, true)
            };
            assert_eq!(scale_decision(i), expected, "{i:?}");
        }
    }

    fn with_fallback(failure_threshold: u32, replicas: u32) -> ScaledObject {
        let mut spec = Profile::aks().scaled_object; // queueLength 5
        spec.fallback = Some(crate::policy::Fallback {
            failure_threshold,
            replicas,
        });
        spec
    }

    #[test]
    fn get_metrics_with_fallback_cases_of_fallback_test() {
        // kedacore/keda pkg/fallback/fallback_test.go (v2.20.1), `GetMetricsWithFallback` on an
        // AverageValue target of 10: (starting numberOfFailures, threshold, replicas, read) →
        // (answer, numberOfFailures after).
        let mut spec = with_fallback(3, 10);
        spec.queue_length = 10;
        for (name, start, read, answer, after) in [
            (
                "should reset the health status when scaler metrics are available",
                5,
                Some(2),
                MetricRead::Metric(2),
                0,
            ),
            (
                "should bump the number of failures when metrics call fails",
                0,
                None,
                MetricRead::Failed,
                1,
            ),
            (
                "should return a normalised metric when number of failures are beyond threshold",
                3,
                None,
                MetricRead::Fallback(100),
                4,
            ),
            // The boundary: at the threshold itself the read is still an error.
            (
                "(boundary) failures reaching the threshold",
                2,
                None,
                MetricRead::Failed,
                3,
            ),
        ] {
            let mut keda = Keda {
                failures: start,
                ..Keda::default()
            };
            assert_eq!(keda.read(Duration::ZERO, read, &spec).0, answer, "{name}");
            assert_eq!(keda.failures, after, "{name}");
            assert_eq!(keda.fallback_active, after > 3, "{name}");
        }
        // "should propagate the error when fallback is disabled": no count, no fallback.
        spec.fallback = None;
        let mut keda = Keda::default();
        for _ in 0..5 {
            assert_eq!(keda.read(Duration::ZERO, None, &spec).0, MetricRead::Failed);
        }
        assert_eq!((keda.failures, keda.fallback_active), (0, false));
    }

    #[test]
    fn reads_report_each_change_of_health_once() {
        let spec = with_fallback(2, 6);
        let s = Duration::from_secs;
        let mut keda = Keda::default();
        let reads = [
            (0, Some(4), MetricRead::Metric(4), None),
            (5, None, MetricRead::Failed, Some(HealthChange::Failing)),
            (10, None, MetricRead::Failed, None),
            (
                15,
                None,
                MetricRead::Fallback(30),
                Some(HealthChange::FallbackActivated {
                    replicas: 6,
                    failure_threshold: 2,
                    value: 30,
                }),
            ),
            (20, None, MetricRead::Fallback(30), None),
            (
                25,
                Some(0),
                MetricRead::Metric(0),
                Some(HealthChange::Recovered {
                    since: s(5),
                    fallback: true,
                }),
            ),
            (30, Some(0), MetricRead::Metric(0), None),
        ];
        for (at, read, answer, change) in reads {
            assert_eq!(keda.read(s(at), read, &spec), (answer, change), "at {at} s");
        }
        // A threshold of 0: the first failure already answers the fallback.
        let mut keda = Keda::default();
        let zero = with_fallback(0, 6);
        assert_eq!(
            keda.read(s(0), None, &zero),
            (
                MetricRead::Fallback(30),
                Some(HealthChange::FallbackActivated {
                    replicas: 6,
                    failure_threshold: 0,
                    value: 30,
                })
            )
        );
        // Without a fallback: failing, then recovered, nothing counted.
        let mut keda = Keda::default();
        let none = Profile::aks().scaled_object;
        assert_eq!(
            keda.read(s(0), None, &none),
            (MetricRead::Failed, Some(HealthChange::Failing))
        );
        assert_eq!(keda.read(s(1), None, &none), (MetricRead::Failed, None));
        assert_eq!(
            keda.read(s(2), Some(1), &none),
            (
                MetricRead::Metric(1),
                Some(HealthChange::Recovered {
                    since: s(0),
                    fallback: false
                })
            )
        );
        assert_eq!(MetricRead::Fallback(30).value(), Some(30));
        assert_eq!(MetricRead::Metric(7).value(), Some(7));
        assert_eq!(MetricRead::Failed.value(), None);
    }

    #[test]
    fn a_poll_the_fallback_answers_is_active_and_scales_from_zero() {
        // kedacore/keda pkg/scaling/scale_handler.go (v2.20.1) `getScalerState`:
        // `isActiveOrFallback := fallbackActive || isMetricActive`, with no error; the e2e test
        // tests/internals/fallback `TestFallbackFromZero` (added in v2.19 by "apply fallback in
        // polling loop to enable scaling from zero").
        let spec = with_fallback(1, 6);
        let s = Duration::from_secs;
        let mut keda = Keda::default();
        let first = keda.poll(s(0), &Observation::failed(), &spec, 0);
        assert_eq!(
            (first.read, first.active, first.scale_to),
            (MetricRead::Failed, false, None)
        );
        let second = keda.poll(s(30), &Observation::failed(), &spec, 0);
        assert_eq!(
            (second.read, second.active, second.changed, second.scale_to),
            (MetricRead::Fallback(30), true, true, Some(1))
        );
        assert_eq!(second.metric, None);
        assert_eq!(
            keda.last_active,
            Some(s(30)),
            "the fallback keeps it active"
        );
        // The cached answer for the HPA is the poll's, not counted again.
        assert_eq!(keda.cached_read(&spec), MetricRead::Fallback(30));
        assert_eq!(keda.failures, 2);
        keda.poll(s(60), &Observation::new(0), &spec, 6);
        assert_eq!(keda.cached_read(&spec), MetricRead::Metric(0));
        keda.poll(s(90), &Observation::failed(), &spec, 6);
        assert_eq!(keda.cached_read(&spec), MetricRead::Failed);
    }

    #[test]
    fn a_failed_poll_is_inactive_and_in_error() {
        let spec = Profile::seed_demo().scaled_object;
        let mut keda = Keda::default();
        keda.poll(Duration::ZERO, &Observation::new(3), &spec, 0);
        let poll = keda.poll(Duration::from_secs(100), &Observation::failed(), &spec, 4);
        assert_eq!(poll.metric, None);
        assert!(!poll.active && poll.changed);
        assert_eq!(poll.scale_to, None, "an error never scales to zero");
        assert_eq!(keda.metric, None);
    }

    #[test]
    fn poll_records_last_active_and_cools_down_to_zero() {
        let spec = Profile::seed_demo().scaled_object; // cooldown 30 s
        let s = Duration::from_secs;
        let mut keda = Keda::default();
        let poll = keda.poll(s(0), &Observation::new(3), &spec, 0);
        assert_eq!(
            (poll.metric, poll.active, poll.changed, poll.scale_to),
            (Some(3), true, true, Some(1))
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
