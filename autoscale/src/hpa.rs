//! The HorizontalPodAutoscaler KEDA creates: an `External` metric of type `AverageValue` with
//! the trigger's `queueLength` as the per-pod target, `minReplicas = max(minReplicaCount, 1)`,
//! `maxReplicas = maxReplicaCount`, and the default `behavior`.
//!
//! One sync follows the Kubernetes controller (`pkg/controller/podautoscaler/horizontal.go`):
//! a target at 0 replicas is left alone (scaling is disabled; KEDA handles 0 ↔ 1); a target
//! outside `[min, max]` is brought inside; otherwise the replica formula gives a recommendation,
//! the stabilization windows smooth it, and the scaling policies limit the rate.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{policy::HpaBehavior, secs};

/// The replica count the metric asks for: `ceil(metric / target)`, unless the usage ratio
/// `metric / (target × current)` is within `tolerance` of 1, when the count stays as it is.
/// With 0 current replicas there is no ratio and the formula applies directly.
pub fn desired_replicas(current: u32, metric: u64, target: u64, tolerance: f64) -> u32 {
    let target = target.max(1);
    let wanted = u32::try_from(metric.div_ceil(target)).unwrap_or(u32::MAX);
    if current == 0 {
        return wanted;
    }
    let ratio = metric as f64 / (target as f64 * f64::from(current));
    if (1.0 - ratio).abs() <= tolerance {
        current
    } else {
        wanted
    }
}

/// The most replicas the scale-up policies allow in one period that started with
/// `period_start` replicas: the `Percent` policy gives `ceil(start × (1 + percent / 100))`, the
/// `Pods` policy `start + pods`, and `selectPolicy: Max` takes the larger. With the defaults
/// (100 %, 4 pods) that is `max(2 × start, start + 4)`.
pub fn scale_up_limit(period_start: u32, percent: u32, pods: u32) -> u32 {
    let by_percent = (f64::from(period_start) * (1.0 + f64::from(percent) / 100.0)).ceil();
    // `as` saturates for floats beyond the integer's range.
    let by_percent = by_percent as u32;
    by_percent.max(period_start.saturating_add(pods))
}

/// One recommendation the HPA remembers for its stabilization windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recommendation {
    #[serde(with = "secs")]
    pub at: Duration,
    pub replicas: u32,
}

/// Whether something at `at` falls inside a window ending at `now` (strictly after
/// `now - window`, as the controller compares timestamps).
fn within(at: Duration, now: Duration, window: Duration) -> bool {
    at.saturating_add(window) > now
}

/// Applies the stabilization windows to a new recommendation `desired`: scale up only to the
/// lowest recommendation within `up_window`, scale down only to the highest within
/// `down_window` (the new recommendation counts in both). With the default windows (0 s up,
/// 300 s down) a scale-up is immediate and a scale-down waits until five minutes of
/// recommendations all agree.
pub fn stabilized(
    current: u32,
    desired: u32,
    recommendations: &[Recommendation],
    now: Duration,
    up_window: Duration,
    down_window: Duration,
) -> u32 {
    let mut up = desired;
    let mut down = desired;
    for r in recommendations {
        if within(r.at, now, up_window) {
            up = up.min(r.replicas);
        }
        if within(r.at, now, down_window) {
            down = down.max(r.replicas);
        }
    }
    current.max(up).min(down)
}

/// A change of the desired replicas the HPA decided on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub from: u32,
    pub to: u32,
    /// E.g. `scale 3 → 8: queue 40 / target 5 = 8`.
    pub reason: String,
}

/// A replica change the HPA made, remembered for the rate limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    #[serde(with = "secs")]
    pub at: Duration,
    pub from: u32,
    pub to: u32,
}

/// What the HPA controller remembers between syncs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hpa {
    pub last_sync: Option<Duration>,
    pub recommendations: Vec<Recommendation>,
    pub changes: Vec<Change>,
}

/// The fixed inputs of a sync, from the ScaledObject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// `queueLength`: the average value per pod.
    pub per_pod: u64,
    /// `minReplicaCount` of the ScaledObject (the HPA uses at least 1).
    pub min_replicas: u32,
    pub max_replicas: u32,
}

impl Hpa {
    /// Whether a sync is due at `now`.
    pub fn due(&self, now: Duration, period: Duration) -> bool {
        self.last_sync
            .is_none_or(|at| now.saturating_sub(at) >= period)
    }

    /// Replicas at the start of the current scale-up period: the current count minus what was
    /// added, plus what was removed, within the period.
    pub fn period_start(&self, now: Duration, current: u32, period: Duration) -> u32 {
        let (mut added, mut removed) = (0u64, 0u64);
        for c in self.changes.iter().filter(|c| within(c.at, now, period)) {
            if c.to > c.from {
                added += u64::from(c.to - c.from);
            } else {
                removed += u64::from(c.from - c.to);
            }
        }
        let start = (u64::from(current) + removed).saturating_sub(added);
        u32::try_from(start).unwrap_or(u32::MAX)
    }

    /// One sync of the controller with the metric it reads now.
    pub fn sync(
        &mut self,
        now: Duration,
        current: u32,
        metric: u64,
        target: Target,
        behavior: &HpaBehavior,
    ) -> Option<Decision> {
        self.last_sync = Some(now);
        if current == 0 {
            return None;
        }
        let min = target.min_replicas.max(1);
        let max = target.max_replicas.max(min);
        let per_pod = target.per_pod.max(1);
        let (to, why) = if current > max {
            (max, format!("above max {max}"))
        } else if current < min {
            (min, format!("below min {min}"))
        } else {
            let raw = desired_replicas(current, metric, per_pod, behavior.tolerance);
            let stable = stabilized(
                current,
                raw,
                &self.recommendations,
                now,
                behavior.scale_up_stabilization,
                behavior.scale_down_stabilization,
            );
            self.remember(now, raw, behavior);
            let mut why = format!("queue {metric} / target {per_pod} = {raw}");
            if stable > raw {
                why += &format!(
                    ", highest in {} window {stable}",
                    secs::show(behavior.scale_down_stabilization)
                );
            } else if stable < raw {
                why += &format!(
                    ", lowest in {} window {stable}",
                    secs::show(behavior.scale_up_stabilization)
                );
            }
            let to = self.rate_limited(now, current, stable, min, max, behavior, &mut why);
            (to, why)
        };
        if to == current {
            return None;
        }
        self.changes.push(Change {
            at: now,
            from: current,
            to,
        });
        let keep = behavior.scale_up_period;
        self.changes.retain(|c| within(c.at, now, keep));
        Some(Decision {
            from: current,
            to,
            reason: format!("scale {current} → {to}: {why}"),
        })
    }

    /// Keeps the new recommendation and forgets those older than both windows.
    fn remember(&mut self, now: Duration, replicas: u32, behavior: &HpaBehavior) {
        let keep = behavior
            .scale_up_stabilization
            .max(behavior.scale_down_stabilization);
        self.recommendations.retain(|r| within(r.at, now, keep));
        self.recommendations
            .push(Recommendation { at: now, replicas });
    }

    /// The scaling policies and the `[min, max]` clamp, applied in the direction of change.
    #[allow(clippy::too_many_arguments)]
    fn rate_limited(
        &self,
        now: Duration,
        current: u32,
        desired: u32,
        min: u32,
        max: u32,
        behavior: &HpaBehavior,
        why: &mut String,
    ) -> u32 {
        if desired > current {
            let start = self.period_start(now, current, behavior.scale_up_period);
            let limit = scale_up_limit(start, behavior.scale_up_percent, behavior.scale_up_pods)
                .max(current);
            if desired > max.min(limit) {
                if limit < max {
                    *why += &format!(
                        ", limited to {limit} (max(+{} %, +{} pods) per {})",
                        behavior.scale_up_percent,
                        behavior.scale_up_pods,
                        secs::show(behavior.scale_up_period)
                    );
                    return limit;
                }
                *why += &format!(", max {max}");
                return max;
            }
        } else if desired < current && desired < min {
            *why += &format!(", min {min}");
            return min;
        }
        desired
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Profile;

    #[test]
    fn desired_is_ceil_of_metric_over_target_outside_tolerance() {
        for (current, metric, target, desired) in [
            (1, 40, 5, 8),
            (3, 40, 5, 8),
            (8, 41, 5, 8),
            (8, 46, 5, 10),
            (1, 1, 5, 1),
            (4, 0, 5, 0),
            (0, 12, 5, 3),
            (10, 1000, 5, 200),
            (1, 7, 0, 7),
        ] {
            assert_eq!(
                desired_replicas(current, metric, target, 0.1),
                desired,
                "current {current} metric {metric} target {target}"
            );
        }
    }

    #[test]
    fn tolerance_keeps_the_count_within_ten_percent() {
        // target 5 × current 10 = 50: ratios within 0.9..=1.1 keep 10 replicas. The bounds follow
        // the controller's float64 arithmetic: |1 - 0.9| rounds below 0.1, |1 - 1.1| above it.
        for (metric, desired) in [(45, 10), (50, 10), (54, 10), (55, 11), (44, 9), (56, 12)] {
            assert_eq!(
                desired_replicas(10, metric, 5, 0.1),
                desired,
                "metric {metric}"
            );
        }
        assert_eq!(desired_replicas(10, 54, 5, 0.0), 11);
    }

    #[test]
    fn scale_up_limit_is_the_larger_of_double_and_plus_four() {
        for (start, limit) in [(0, 4), (1, 5), (2, 6), (4, 8), (5, 10), (10, 20), (50, 100)] {
            assert_eq!(scale_up_limit(start, 100, 4), limit, "start {start}");
        }
        assert_eq!(scale_up_limit(3, 50, 0), 5);
        assert_eq!(scale_up_limit(u32::MAX, 100, 4), u32::MAX);
    }

    #[test]
    fn stabilization_scales_down_only_to_the_window_maximum() {
        let s = Duration::from_secs;
        let recs = |items: &[(u64, u32)]| {
            items
                .iter()
                .map(|&(at, replicas)| Recommendation {
                    at: s(at),
                    replicas,
                })
                .collect::<Vec<_>>()
        };
        let window = s(300);
        for (history, current, desired, now, expected) in [
            (recs(&[(0, 8), (100, 6)]), 8, 2, 200, 8),
            (recs(&[(0, 8), (100, 6)]), 8, 2, 300, 6),
            (recs(&[(0, 8), (100, 6)]), 8, 2, 400, 2),
            (recs(&[(0, 8), (100, 6)]), 8, 2, 401, 2),
            (recs(&[]), 8, 2, 0, 2),
            (recs(&[(0, 8)]), 3, 10, 10, 10),
            (recs(&[(0, 8)]), 8, 8, 10, 8),
        ] {
            assert_eq!(
                stabilized(current, desired, &history, s(now), Duration::ZERO, window),
                expected,
                "{history:?} current {current} desired {desired} now {now}"
            );
        }
        let up = stabilized(2, 10, &recs(&[(50, 4)]), s(60), s(30), window);
        assert_eq!(
            up, 4,
            "an up window holds a scale-up to its lowest recommendation"
        );
    }

    fn target(max: u32) -> Target {
        Target {
            per_pod: 5,
            min_replicas: 0,
            max_replicas: max,
        }
    }

    #[test]
    fn sync_rate_limits_scale_up_per_period() {
        let behavior = Profile::aks().hpa;
        let s = Duration::from_secs;
        let mut hpa = Hpa::default();
        let d = hpa.sync(s(0), 1, 200, target(100), &behavior).unwrap();
        assert_eq!(d.to, 5);
        assert!(d.reason.contains("limited to 5"), "{}", d.reason);
        // Within the same 15 s period the start is still 1 replica.
        assert_eq!(hpa.sync(s(10), 5, 200, target(100), &behavior), None);
        assert_eq!(
            hpa.sync(s(15), 5, 200, target(100), &behavior).unwrap().to,
            10
        );
        assert_eq!(
            hpa.sync(s(30), 10, 200, target(100), &behavior).unwrap().to,
            20
        );
        assert_eq!(
            hpa.sync(s(45), 20, 200, target(100), &behavior).unwrap().to,
            40
        );
        assert_eq!(hpa.sync(s(60), 40, 200, target(100), &behavior), None);
    }

    #[test]
    fn sync_clamps_to_min_and_max() {
        let behavior = Profile::demo().hpa;
        let s = Duration::from_secs;
        let mut hpa = Hpa::default();
        let d = hpa.sync(s(0), 10, 1000, target(12), &behavior).unwrap();
        assert_eq!(d.to, 12);
        assert!(d.reason.ends_with("max 12"), "{}", d.reason);
        let mut hpa = Hpa::default();
        assert_eq!(
            hpa.sync(s(0), 15, 1000, target(12), &behavior).unwrap().to,
            12
        );
        // Metric 0 asks for 0, but the HPA's minimum is 1.
        let mut hpa = Hpa::default();
        let d = hpa.sync(s(0), 3, 0, target(12), &behavior).unwrap();
        assert_eq!(d.to, 1);
        let min3 = Target {
            min_replicas: 3,
            ..target(12)
        };
        let mut hpa = Hpa::default();
        assert_eq!(hpa.sync(s(0), 2, 0, min3, &behavior).unwrap().to, 3);
    }

    #[test]
    fn sync_leaves_zero_replicas_to_keda() {
        let mut hpa = Hpa::default();
        let behavior = Profile::aks().hpa;
        assert_eq!(
            hpa.sync(Duration::ZERO, 0, 500, target(100), &behavior),
            None
        );
        assert_eq!(hpa.last_sync, Some(Duration::ZERO));
    }

    #[test]
    fn sync_holds_scale_down_for_the_stabilization_window() {
        let behavior = Profile::aks().hpa; // 300 s window, 15 s sync
        let s = Duration::from_secs;
        let mut hpa = Hpa::default();
        assert_eq!(hpa.sync(s(0), 8, 40, target(100), &behavior), None);
        let mut down_at = None;
        for t in (15..=600).step_by(15) {
            if let Some(d) = hpa.sync(s(t), 8, 10, target(100), &behavior) {
                assert_eq!(d.to, 2);
                assert!(d.reason.contains("queue 10 / target 5 = 2"), "{}", d.reason);
                down_at = Some(t);
                break;
            }
        }
        // The 8 recorded at 0 s counts while it is strictly after now - 300 s, so until 300 s.
        assert_eq!(down_at, Some(300));
    }

    #[test]
    fn reason_names_the_formula() {
        let behavior = Profile::aks().hpa;
        let mut hpa = Hpa::default();
        let d = hpa
            .sync(Duration::ZERO, 4, 40, target(100), &behavior)
            .unwrap();
        assert_eq!(d.reason, "scale 4 → 8: queue 40 / target 5 = 8");
    }
}
