//! The HorizontalPodAutoscaler KEDA creates: an `External` metric of type `AverageValue` with
//! the trigger's `queueLength` as the per-pod target, `minReplicas = max(minReplicaCount, 1)`,
//! `maxReplicas = maxReplicaCount`, and `behavior` only if the ScaledObject sets
//! `advanced.horizontalPodAutoscalerConfig.behavior`.
//!
//! One sync follows `reconcileAutoscaler` in kubernetes/kubernetes
//! pkg/controller/podautoscaler/horizontal.go: a target at 0 replicas is left alone (scaling is
//! disabled; KEDA handles 0 ↔ 1); a target outside `[min, max]` is brought inside; otherwise
//! `GetExternalPerPodMetricReplicas` (replica_calculator.go) gives a recommendation, and then
//!
//! - without a behavior, `normalizeDesiredReplicas`: the highest recommendation of the
//!   downscale stabilization window (`stabilizeRecommendation`), capped at `max(2 × current, 4)`
//!   and `[min, max]` (`convertDesiredReplicasWithRules`);
//! - with a behavior, `normalizeDesiredReplicasWithBehaviors`: the scale-up or scale-down
//!   stabilization window (`stabilizeRecommendationWithBehaviors`), then the policies' rate
//!   limits over their periods (`convertDesiredReplicasWithBehaviorRate`).

use std::{cmp::Ordering, time::Duration};

use serde::{Deserialize, Serialize};

use crate::{
    policy::{
        Behavior, HpaBehavior, HpaScalingPolicy, HpaScalingRules, PolicyType, Profile,
        SelectPolicy, ToleranceRule,
    },
    secs,
};

/// The usage-ratio tolerances of each direction (`Tolerances` in replica_calculator.go).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerances {
    pub down: f64,
    pub up: f64,
}

impl Tolerances {
    /// The same tolerance both ways, as `--horizontal-pod-autoscaler-tolerance` gives.
    pub fn both(tolerance: f64) -> Self {
        Self {
            down: tolerance,
            up: tolerance,
        }
    }
}

/// Whether a usage ratio is close enough to 1 to keep the replica count.
///
/// Kubernetes 1.33+ (`Tolerances.isWithin`): `1 − down ≤ ratio ≤ 1 + up`. Up to 1.32:
/// `|1 − ratio| ≤ tolerance`. Both in float64, so at 10 replicas × 5 a queue of 55 (ratio 1.1)
/// is within under 1.33 (`1 + 0.1` is the same double as `1.1`) and outside under 1.32
/// (`|1 − 1.1|` is `0.10000000000000009`).
pub fn is_within(ratio: f64, tolerances: Tolerances, rule: ToleranceRule) -> bool {
    match rule {
        ToleranceRule::V1_33 => 1.0 - tolerances.down <= ratio && ratio <= 1.0 + tolerances.up,
        ToleranceRule::V1_32 => {
            // One flag for both directions upstream; per direction here so a profile's
            // behavior tolerances still apply. At exactly 1 the distance is 0: always within.
            let distance = (1.0 - ratio).abs();
            match ratio.partial_cmp(&1.0) {
                Some(Ordering::Greater) => distance <= tolerances.up,
                Some(Ordering::Less) => distance <= tolerances.down,
                Some(Ordering::Equal) => true,
                None => false,
            }
        }
    }
}

/// The most replicas upstream's calculator returns (`math.MaxInt32`).
const MAX_INT32: u64 = i32::MAX as u64;

/// `GetExternalPerPodMetricReplicas`: `ceil(usage / perPod)`, unless the usage ratio
/// `usage / (perPod × statusReplicas)` is within tolerance, when the answer is `statusReplicas`
/// (the pods that exist, not the desired count). With no pods the ratio is infinite (or NaN) and
/// never within, so the formula applies.
pub fn external_per_pod_replicas(
    status_replicas: u32,
    usage: u64,
    per_pod: u64,
    tolerances: Tolerances,
    rule: ToleranceRule,
) -> u32 {
    let per_pod = per_pod.max(1);
    // With no pods the ratio is +∞ (or NaN for 0 / 0), never within, as in Go's float64.
    let ratio = usage as f64 / (per_pod as f64 * f64::from(status_replicas));
    if is_within(ratio, tolerances, rule) {
        return status_replicas;
    }
    let wanted = usage.div_ceil(per_pod).min(MAX_INT32);
    u32::try_from(wanted).unwrap_or(u32::MAX)
}

/// Why the normalized count differs from the recommendation (the `ScalingLimited` condition's
/// reasons in horizontal.go).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    DesiredWithinRange,
    TooFewReplicas,
    TooManyReplicas,
    ScaleUpLimit,
    ScaleDownLimit,
}

/// `calculateScaleUpLimit`: the legacy path's cap per sync, `max(2 × current, 4)`
/// (`scaleUpLimitFactor`, `scaleUpLimitMinimum`).
pub fn legacy_scale_up_limit(current: u32) -> u32 {
    current.saturating_mul(2).max(4)
}

/// `convertDesiredReplicasWithRules`: the legacy path's clamp to `[min, min(max, cap)]`.
pub fn convert_desired_replicas_with_rules(
    current: u32,
    desired: u32,
    min: u32,
    max: u32,
) -> (u32, Limit) {
    let cap = legacy_scale_up_limit(current);
    let (highest, why) = if max > cap {
        (cap, Limit::ScaleUpLimit)
    } else {
        (max, Limit::TooManyReplicas)
    };
    if desired < min {
        (min, Limit::TooFewReplicas)
    } else if desired > highest {
        (highest, why)
    } else {
        (desired, Limit::DesiredWithinRange)
    }
}

/// One recommendation the HPA remembers for its stabilization windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recommendation {
    #[serde(with = "secs")]
    pub at: Duration,
    pub replicas: u32,
}

/// Whether `at` is not before `now − window` (Go's `!at.Before(cutoff)`).
fn not_before_cutoff(at: Duration, now: Duration, window: Duration) -> bool {
    at.saturating_add(window) >= now
}

/// Whether `at` is strictly after `now − window` (Go's `at.After(cutoff)`).
fn after_cutoff(at: Duration, now: Duration, window: Duration) -> bool {
    at.saturating_add(window) > now
}

/// `stabilizeRecommendation` (legacy path): the highest of `desired` and the recommendations
/// not older than the window, even above the current count. So after KEDA scales to zero and
/// re-activates within the window, the HPA climbs back toward the old count.
pub fn stabilize_recommendation(
    recommendations: &[Recommendation],
    desired: u32,
    now: Duration,
    window: Duration,
) -> u32 {
    recommendations
        .iter()
        .filter(|r| not_before_cutoff(r.at, now, window))
        .fold(desired, |high, r| high.max(r.replicas))
}

/// `stabilizeRecommendationWithBehaviors`: scaling up (`desired ≥ current`), the lowest of
/// `desired` and the recommendations within the scale-up window; scaling down, the highest
/// within the scale-down window. The windows are strict (`After(cutoff)`).
pub fn stabilize_recommendation_with_behaviors(
    current: u32,
    desired: u32,
    recommendations: &[Recommendation],
    now: Duration,
    up_window: Duration,
    down_window: Duration,
) -> u32 {
    let recent = |window| {
        recommendations
            .iter()
            .filter(move |r| after_cutoff(r.at, now, window))
            .map(|r| r.replicas)
    };
    if desired >= current {
        recent(up_window).fold(desired, u32::min)
    } else {
        recent(down_window).fold(desired, u32::max)
    }
}

/// A replica change the HPA made, remembered for the behavior's rate limits
/// (`timestampedScaleEvent`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScaleRecord {
    #[serde(with = "secs")]
    pub at: Duration,
    /// How many replicas were added (in the scale-up list) or removed (in the scale-down list).
    pub change: u32,
}

/// `getReplicasChangePerPeriod`: the replicas changed strictly within the last `period`.
pub fn replicas_change_per_period(period: Duration, events: &[ScaleRecord], now: Duration) -> u64 {
    events
        .iter()
        .filter(|e| after_cutoff(e.at, now, period))
        .map(|e| u64::from(e.change))
        .sum()
}

/// The replicas at the start of a policy's period: the current count minus what was added,
/// plus what was removed, within the period (may be negative in upstream's int32; floored at 0).
fn period_start(
    current: u32,
    period: Duration,
    up_events: &[ScaleRecord],
    down_events: &[ScaleRecord],
    now: Duration,
) -> i64 {
    let added = replicas_change_per_period(period, up_events, now);
    let removed = replicas_change_per_period(period, down_events, now);
    i64::from(current)
        .saturating_sub(i64::try_from(added).unwrap_or(i64::MAX))
        .saturating_add(i64::try_from(removed).unwrap_or(i64::MAX))
}

/// Clamps an upstream int32-style result into `u32`.
fn to_replicas(value: i64) -> u32 {
    u32::try_from(value.clamp(0, MAX_INT32 as i64)).unwrap_or(0)
}

/// `calculateScaleUpLimitWithScalingRules`: the most replicas the scale-up policies allow now.
/// Each policy proposes `start + pods` or `ceil(start × (1 + percent / 100))` from the replicas
/// at the start of its period; `selectPolicy` takes the largest (`Max`) or the smallest (`Min`);
/// `Disabled` allows no increase.
pub fn scale_up_limit_with_rules(
    current: u32,
    up_events: &[ScaleRecord],
    down_events: &[ScaleRecord],
    rules: &Rules,
    now: Duration,
) -> u32 {
    let proposals = rules.policies.iter().map(|policy| {
        let start = period_start(current, policy.period_seconds, up_events, down_events, now);
        match policy.kind {
            PolicyType::Pods => start.saturating_add(i64::from(policy.value)),
            PolicyType::Percent => {
                let grown = (start as f64 * (1.0 + f64::from(policy.value) / 100.0)).ceil();
                // `as` saturates for floats beyond the integer's range.
                grown as i64
            }
        }
    });
    let limit = match rules.select_policy {
        SelectPolicy::Disabled => return current,
        SelectPolicy::Min => proposals.fold(MAX_INT32 as i64, i64::min),
        SelectPolicy::Max => proposals.fold(i64::from(i32::MIN), i64::max),
    };
    to_replicas(limit)
}

/// `calculateScaleDownLimitWithBehaviors`: the fewest replicas the scale-down policies allow
/// now. Each policy proposes `start − pods` or `trunc(start × (1 − percent / 100))`;
/// `selectPolicy: Max` takes the largest change (the smallest count), `Min` the smallest change;
/// `Disabled` allows no decrease.
pub fn scale_down_limit_with_rules(
    current: u32,
    up_events: &[ScaleRecord],
    down_events: &[ScaleRecord],
    rules: &Rules,
    now: Duration,
) -> u32 {
    let proposals = rules.policies.iter().map(|policy| {
        let start = period_start(current, policy.period_seconds, up_events, down_events, now);
        match policy.kind {
            PolicyType::Pods => start.saturating_sub(i64::from(policy.value)),
            PolicyType::Percent => {
                let shrunk = start as f64 * (1.0 - f64::from(policy.value) / 100.0);
                // Go's int32(float) truncates toward zero; `as` does too (and saturates).
                shrunk as i64
            }
        }
    });
    let limit = match rules.select_policy {
        SelectPolicy::Disabled => return current,
        SelectPolicy::Min => proposals.fold(i64::from(i32::MIN), i64::max),
        SelectPolicy::Max => proposals.fold(MAX_INT32 as i64, i64::min),
    };
    to_replicas(limit)
}

/// `convertDesiredReplicasWithBehaviorRate`: scaling up, at most `min(max, up_limit)` (never
/// below the current count); scaling down, at least `max(min, down_limit)` (never above it).
pub fn convert_desired_replicas_with_behavior_rate(
    current: u32,
    desired: u32,
    min: u32,
    max: u32,
    up_limit: u32,
    down_limit: u32,
) -> (u32, Limit) {
    if desired > current {
        let up_limit = up_limit.max(current);
        let (highest, why) = if max > up_limit {
            (up_limit, Limit::ScaleUpLimit)
        } else {
            (max, Limit::TooManyReplicas)
        };
        if desired > highest {
            return (highest, why);
        }
    } else if desired < current {
        let down_limit = down_limit.min(current);
        let (lowest, why) = if min < down_limit {
            (down_limit, Limit::ScaleDownLimit)
        } else {
            (min, Limit::TooFewReplicas)
        };
        if desired < lowest {
            return (lowest, why);
        }
    }
    (desired, Limit::DesiredWithinRange)
}

/// One direction of a behavior with the defaults filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    pub stabilization_window: Duration,
    pub select_policy: SelectPolicy,
    pub policies: Vec<HpaScalingPolicy>,
    pub tolerance: f64,
}

impl Rules {
    /// The API defaults of a direction, overridden by what `given` sets
    /// (`GenerateHPAScaleUpRules` / `GenerateHPAScaleDownRules` in pkg/apis/autoscaling/v2).
    fn resolve(given: Option<&HpaScalingRules>, defaults: Rules) -> Rules {
        let Some(given) = given else {
            return defaults;
        };
        Rules {
            stabilization_window: given
                .stabilization_window_seconds
                .unwrap_or(defaults.stabilization_window),
            select_policy: given.select_policy.unwrap_or(defaults.select_policy),
            policies: match &given.policies {
                Some(policies) if !policies.is_empty() => policies.clone(),
                _ => defaults.policies,
            },
            tolerance: given.tolerance.unwrap_or(defaults.tolerance),
        }
    }
}

/// A behavior with every default filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedBehavior {
    pub scale_up: Rules,
    pub scale_down: Rules,
}

impl ResolvedBehavior {
    /// Fills in the API defaults: scale-up `0 s`, `Pods 4 / 15 s` and `Percent 100 / 15 s`,
    /// `Max` (from `controller`'s `scale_up_*`, which hold these); scale-down the controller's
    /// downscale window, `Percent 100 / 15 s`, `Max`; tolerances the controller's.
    pub fn resolve(behavior: &Behavior, controller: &HpaBehavior) -> Self {
        let up_period = controller.scale_up_period;
        let up = Rules {
            stabilization_window: controller.scale_up_stabilization,
            select_policy: SelectPolicy::Max,
            policies: vec![
                HpaScalingPolicy::pods(controller.scale_up_pods, up_period),
                HpaScalingPolicy::percent(controller.scale_up_percent, up_period),
            ],
            tolerance: controller.tolerance,
        };
        let down = Rules {
            stabilization_window: controller.scale_down_stabilization,
            select_policy: SelectPolicy::Max,
            policies: vec![HpaScalingPolicy::percent(100, Duration::from_secs(15))],
            tolerance: controller.tolerance,
        };
        ResolvedBehavior {
            scale_up: Rules::resolve(behavior.scale_up.as_ref(), up),
            scale_down: Rules::resolve(behavior.scale_down.as_ref(), down),
        }
    }

    /// How long scale events matter: the longest policy period of either direction.
    fn longest_period(&self) -> Duration {
        self.scale_up
            .policies
            .iter()
            .chain(&self.scale_down.policies)
            .map(|p| p.period_seconds)
            .max()
            .unwrap_or_default()
    }
}

/// What the controller applies at a sync, from the profile.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncRules {
    pub tolerances: Tolerances,
    pub tolerance_rule: ToleranceRule,
    /// `--horizontal-pod-autoscaler-downscale-stabilization`: the legacy path's window.
    pub downscale_window: Duration,
    /// `Some` when the HPA has a behavior.
    pub behavior: Option<ResolvedBehavior>,
}

impl SyncRules {
    pub fn from_profile(profile: &Profile) -> Self {
        let controller = &profile.hpa;
        let behavior = profile
            .scaled_object
            .advanced
            .horizontal_pod_autoscaler_config
            .behavior
            .as_ref()
            .map(|b| ResolvedBehavior::resolve(b, controller));
        let tolerances = match &behavior {
            Some(b) => Tolerances {
                down: b.scale_down.tolerance,
                up: b.scale_up.tolerance,
            },
            None => Tolerances::both(controller.tolerance),
        };
        SyncRules {
            tolerances,
            tolerance_rule: controller.tolerance_rule,
            downscale_window: controller.scale_down_stabilization,
            behavior,
        }
    }
}

/// A change of the desired replicas the HPA decided on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub from: u32,
    pub to: u32,
    /// E.g. `scale 3 → 6: queue 40 / target 5 = 8, limited to 6 (max(2 × 3, 4) per sync)`.
    pub reason: String,
}

/// What the HPA controller remembers between syncs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hpa {
    pub last_sync: Option<Duration>,
    pub recommendations: Vec<Recommendation>,
    /// Scale-ups made on the behavior path (`scaleUpEvents`).
    #[serde(default)]
    pub scale_up_events: Vec<ScaleRecord>,
    /// Scale-downs made on the behavior path (`scaleDownEvents`).
    #[serde(default)]
    pub scale_down_events: Vec<ScaleRecord>,
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

/// What the HPA read of the metric at a sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    /// The metric's value, or `None` when the read failed (`FailedGetExternalMetric`: no change).
    pub metric: Option<u64>,
    /// The pods that exist (`status.replicas`), which the per-pod ratio divides by.
    pub status_replicas: u32,
}

impl Hpa {
    /// Whether a sync is due at `now`.
    pub fn due(&self, now: Duration, period: Duration) -> bool {
        self.last_sync
            .is_none_or(|at| now.saturating_sub(at) >= period)
    }

    /// One `reconcileAutoscaler` with the metric it reads now. `current` is the target's
    /// `spec.replicas`.
    pub fn sync(
        &mut self,
        now: Duration,
        current: u32,
        reading: Reading,
        target: Target,
        rules: &SyncRules,
    ) -> Option<Decision> {
        self.last_sync = Some(now);
        // recordInitialRecommendation: the first sync remembers the count it found.
        if self.recommendations.is_empty() {
            self.recommendations.push(Recommendation {
                at: now,
                replicas: current,
            });
        }
        if current == 0 {
            return None;
        }
        let min = target.min_replicas.max(1);
        let max = target.max_replicas.max(min);
        let (to, why) = if current > max {
            (max, format!("above max {max}"))
        } else if current < min {
            (min, format!("below min {min}"))
        } else {
            let metric = reading.metric?;
            let per_pod = target.per_pod.max(1);
            let raw = external_per_pod_replicas(
                reading.status_replicas,
                metric,
                per_pod,
                rules.tolerances,
                rules.tolerance_rule,
            );
            let why = formula(metric, per_pod, reading.status_replicas, raw);
            match &rules.behavior {
                None => self.normalize(now, current, raw, min, max, rules, why),
                Some(b) => self.normalize_with_behaviors(now, current, raw, min, max, b, why),
            }
        };
        if to == current {
            return None;
        }
        self.store_scale_event(now, current, to, rules);
        Some(Decision {
            from: current,
            to,
            reason: format!("scale {current} → {to}: {why}"),
        })
    }

    /// `normalizeDesiredReplicas`: the legacy path.
    #[allow(clippy::too_many_arguments)]
    fn normalize(
        &mut self,
        now: Duration,
        current: u32,
        raw: u32,
        min: u32,
        max: u32,
        rules: &SyncRules,
        mut why: String,
    ) -> (u32, String) {
        let window = rules.downscale_window;
        let stable = stabilize_recommendation(&self.recommendations, raw, now, window);
        self.recommendations
            .retain(|r| not_before_cutoff(r.at, now, window));
        self.recommendations.push(Recommendation {
            at: now,
            replicas: raw,
        });
        if stable != raw {
            why += &format!(", highest in {} window {stable}", secs::show(window));
        }
        let (to, limit) = convert_desired_replicas_with_rules(current, stable, min, max);
        why += &match limit {
            Limit::ScaleUpLimit => format!(", limited to {to} (max(2 × {current}, 4) per sync)"),
            Limit::TooManyReplicas => format!(", max {max}"),
            Limit::TooFewReplicas => format!(", min {min}"),
            Limit::DesiredWithinRange | Limit::ScaleDownLimit => String::new(),
        };
        (to, why)
    }

    /// `normalizeDesiredReplicasWithBehaviors`: the behavior path.
    #[allow(clippy::too_many_arguments)]
    fn normalize_with_behaviors(
        &mut self,
        now: Duration,
        current: u32,
        raw: u32,
        min: u32,
        max: u32,
        behavior: &ResolvedBehavior,
        mut why: String,
    ) -> (u32, String) {
        let (up, down) = (&behavior.scale_up, &behavior.scale_down);
        let stable = stabilize_recommendation_with_behaviors(
            current,
            raw,
            &self.recommendations,
            now,
            up.stabilization_window,
            down.stabilization_window,
        );
        let keep = up.stabilization_window.max(down.stabilization_window);
        self.recommendations
            .retain(|r| not_before_cutoff(r.at, now, keep));
        self.recommendations.push(Recommendation {
            at: now,
            replicas: raw,
        });
        if stable > raw {
            why += &format!(
                ", highest in {} scale-down window {stable}",
                secs::show(down.stabilization_window)
            );
        } else if stable < raw {
            why += &format!(
                ", lowest in {} scale-up window {stable}",
                secs::show(up.stabilization_window)
            );
        }
        let (ups, downs) = (&self.scale_up_events, &self.scale_down_events);
        let up_limit = scale_up_limit_with_rules(current, ups, downs, up, now);
        let down_limit = scale_down_limit_with_rules(current, ups, downs, down, now);
        let (to, limit) = convert_desired_replicas_with_behavior_rate(
            current, stable, min, max, up_limit, down_limit,
        );
        why += &match limit {
            Limit::ScaleUpLimit => format!(", limited to {to} by the scaleUp policies"),
            Limit::ScaleDownLimit => format!(", limited to {to} by the scaleDown policies"),
            Limit::TooManyReplicas => format!(", max {max}"),
            Limit::TooFewReplicas => format!(", min {min}"),
            Limit::DesiredWithinRange => String::new(),
        };
        (to, why)
    }

    /// `storeScaleEvent`: only the behavior path keeps scale events, and only for its longest
    /// policy period.
    fn store_scale_event(&mut self, now: Duration, from: u32, to: u32, rules: &SyncRules) {
        let Some(behavior) = &rules.behavior else {
            return;
        };
        let keep = behavior.longest_period();
        for events in [&mut self.scale_up_events, &mut self.scale_down_events] {
            events.retain(|e| not_before_cutoff(e.at, now, keep));
        }
        // Called only for a change, so `to == from` never reaches here.
        let (events, change) = match to.checked_sub(from) {
            Some(added) => (&mut self.scale_up_events, added),
            None => (&mut self.scale_down_events, from - to),
        };
        events.push(ScaleRecord { at: now, change });
    }
}

/// The replica formula in words, for the decision's reason.
fn formula(metric: u64, per_pod: u64, status_replicas: u32, raw: u32) -> String {
    if status_replicas > 0 && raw == status_replicas && metric.div_ceil(per_pod) != u64::from(raw) {
        format!(
            "queue {metric} / (target {per_pod} × {status_replicas} pods) within tolerance: {raw}"
        )
    } else {
        format!("queue {metric} / target {per_pod} = {raw}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Behavior, Profile};

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    const TEN: Tolerances = Tolerances { down: 0.1, up: 0.1 };

    #[test]
    fn external_per_pod_cases_of_replica_calculator_test() {
        // kubernetes/kubernetes pkg/controller/podautoscaler/replica_calculator_test.go (v1.33),
        // the `TestReplicaCalcExternalPerPodMetric*` cases (values in milli-units there):
        // (status replicas, usage, target per pod, expected replicas).
        for (name, current, usage, per_pod, expected) in [
            // TestReplicaCalcScaleUpExternalPerPodMetric: 8600 / (2150 × 3) → ceil(8600/2150)
            ("ScaleUpExternalPerPodMetric", 3, 8_600, 2_150, 4),
            // TestReplicaCalcScaleDownExternalPerPodMetric: 8600 / (3000 × 5) → 3
            ("ScaleDownExternalPerPodMetric", 5, 8_600, 3_000, 3),
            // TestReplicaCalcToleranceExternalPerPodMetric: 8600 / (2900 × 3) = 0.99 → 3
            ("ToleranceExternalPerPodMetric", 3, 8_600, 2_900, 3),
        ] {
            assert_eq!(
                external_per_pod_replicas(current, usage, per_pod, TEN, ToleranceRule::V1_33),
                expected,
                "{name}"
            );
        }
    }

    #[test]
    fn external_per_pod_formula_outside_tolerance() {
        for (current, metric, target, desired) in [
            (1, 40, 5, 8),
            (3, 40, 5, 8),
            (8, 41, 5, 8),
            (8, 46, 5, 10),
            (1, 1, 5, 1),
            (4, 0, 5, 0),
            (0, 12, 5, 3),
            (0, 0, 5, 0),
            (10, 1000, 5, 200),
            (1, 7, 0, 7),
            (1, u64::MAX, 1, i32::MAX as u32),
        ] {
            assert_eq!(
                external_per_pod_replicas(current, metric, target, TEN, ToleranceRule::V1_33),
                desired,
                "current {current} metric {metric} target {target}"
            );
        }
    }

    #[test]
    fn tolerance_boundaries_under_1_33_and_1_32() {
        // 10 replicas × target 5 = 50. Kubernetes 1.33 (`Tolerances.isWithin`) keeps 10 for
        // ratios 0.9..=1.1 inclusive; 1.32 (`|1 − ratio| ≤ 0.1` in float64) scales at 1.1.
        for (metric, v133, v132) in [
            (44, 9, 9),
            (45, 10, 10),
            (50, 10, 10),
            (54, 10, 10),
            (55, 10, 11),
            (56, 12, 12),
        ] {
            let at = |rule| external_per_pod_replicas(10, metric, 5, TEN, rule);
            assert_eq!(at(ToleranceRule::V1_33), v133, "1.33 metric {metric}");
            assert_eq!(at(ToleranceRule::V1_32), v132, "1.32 metric {metric}");
        }
        assert_eq!(
            external_per_pod_replicas(10, 54, 5, Tolerances::both(0.0), ToleranceRule::V1_33),
            11
        );
    }

    #[test]
    fn per_direction_tolerances() {
        let lopsided = Tolerances { down: 0.5, up: 0.0 };
        for rule in [ToleranceRule::V1_33, ToleranceRule::V1_32] {
            // ratio 0.6 is within the 50 % down tolerance; ratio 1.02 is outside 0 % up.
            assert_eq!(
                external_per_pod_replicas(10, 30, 5, lopsided, rule),
                10,
                "{rule:?}"
            );
            assert_eq!(
                external_per_pod_replicas(10, 51, 5, lopsided, rule),
                11,
                "{rule:?}"
            );
            assert_eq!(
                external_per_pod_replicas(10, 20, 5, lopsided, rule),
                4,
                "{rule:?}"
            );
            assert!(is_within(1.0, lopsided, rule));
            assert!(!is_within(f64::NAN, lopsided, rule));
            assert!(!is_within(f64::INFINITY, lopsided, rule));
        }
        let up_only = Tolerances { down: 0.0, up: 0.5 };
        for rule in [ToleranceRule::V1_33, ToleranceRule::V1_32] {
            assert!(is_within(1.4, up_only, rule), "{rule:?}");
            assert!(!is_within(0.99, up_only, rule), "{rule:?}");
            assert!(!is_within(1.6, up_only, rule), "{rule:?}");
        }
    }

    #[test]
    fn convert_desired_replicas_with_rules_cases() {
        // kubernetes/kubernetes pkg/controller/podautoscaler/horizontal_test.go (v1.33)
        // TestConvertDesiredReplicasWithRules:
        // (current, desired, min, max, converted, condition).
        for (current, desired, min, max, converted, limit) in [
            (5, 7, 3, 8, 7, Limit::DesiredWithinRange),
            (3, 1, 2, 8, 2, Limit::TooFewReplicas),
            (1, 0, 0, 10, 0, Limit::DesiredWithinRange),
            (20, 1000, 1, 10, 10, Limit::TooManyReplicas),
            (3, 1000, 1, 2000, 6, Limit::ScaleUpLimit),
            // The up-scale cap, max(2 × current, 4) (`calculateScaleUpLimit`): 1 → 4, 3 → 6.
            (1, 200, 1, 100, 4, Limit::ScaleUpLimit),
            (2, 200, 1, 100, 4, Limit::ScaleUpLimit),
            (4, 200, 1, 100, 8, Limit::ScaleUpLimit),
            (4, 8, 1, 100, 8, Limit::DesiredWithinRange),
            (4, 8, 1, 8, 8, Limit::DesiredWithinRange),
            (4, 9, 1, 8, 8, Limit::TooManyReplicas),
            (4, 9, 1, 9, 8, Limit::ScaleUpLimit),
        ] {
            assert_eq!(
                convert_desired_replicas_with_rules(current, desired, min, max),
                (converted, limit),
                "current {current} desired {desired} [{min}, {max}]"
            );
        }
        for (current, cap) in [
            (0, 4),
            (1, 4),
            (2, 4),
            (3, 6),
            (10, 20),
            (u32::MAX, u32::MAX),
        ] {
            assert_eq!(legacy_scale_up_limit(current), cap, "current {current}");
        }
    }

    fn recs(items: &[(u64, u32)]) -> Vec<Recommendation> {
        items
            .iter()
            .map(|&(at, replicas)| Recommendation {
                at: s(at),
                replicas,
            })
            .collect()
    }

    #[test]
    fn normalize_desired_replicas_cases() {
        // horizontal_test.go (v1.33) TestNormalizeDesiredReplicas: a 5-minute window at now =
        // 600 s; recommendations 1 and 2 minutes old count, 9 and 10 minutes old do not.
        // (Upstream also checks the log length; the model prunes old entries instead of reusing
        // one slot, which only changes memory, not decisions.)
        let now = 600;
        for (name, history, desired, expected) in [
            ("empty log", recs(&[]), 5, 5),
            ("stabilize", recs(&[(now - 120, 4), (now - 60, 5)]), 3, 5),
            ("no stabilize", recs(&[(now - 120, 1), (now - 60, 2)]), 3, 3),
            (
                "no stabilize - old recommendations",
                recs(&[(now - 600, 10), (now - 540, 9)]),
                3,
                3,
            ),
            (
                "stabilize - old recommendations",
                recs(&[
                    (now - 600, 10),
                    (now - 60, 4),
                    (now - 120, 5),
                    (now - 540, 9),
                ]),
                3,
                5,
            ),
        ] {
            assert_eq!(
                stabilize_recommendation(&history, desired, s(now), s(300)),
                expected,
                "{name}"
            );
        }
        // The cutoff is inclusive (`Before(cutoff)` drops only older ones).
        assert_eq!(
            stabilize_recommendation(&recs(&[(300, 8)]), 2, s(600), s(300)),
            8
        );
        assert_eq!(
            stabilize_recommendation(&recs(&[(299, 8)]), 2, s(600), s(300)),
            2
        );
        // It keeps the highest even above the current count: the re-activation climb.
        assert_eq!(
            stabilize_recommendation(&recs(&[(0, 20)]), 1, s(100), s(300)),
            20
        );
    }

    #[test]
    fn stabilization_with_behaviors_picks_the_direction_by_current() {
        // horizontal.go `stabilizeRecommendationWithBehaviors`: desired ≥ current takes the
        // minimum over the scale-up window, otherwise the maximum over the scale-down window;
        // the cutoffs are strict (`After(cutoff)`).
        let history = recs(&[(0, 8), (100, 6), (250, 3)]);
        for (current, desired, now, up, down, expected) in [
            (8, 2, 200, 0, 300, 8),
            (8, 2, 300, 0, 300, 6),
            (8, 2, 400, 0, 300, 3),
            (8, 2, 551, 0, 300, 2),
            (2, 10, 260, 0, 300, 10),
            (2, 10, 260, 60, 300, 3),
            (2, 10, 310, 60, 300, 10),
            (3, 3, 260, 60, 300, 3),
            (4, 3, 260, 60, 0, 3),
        ] {
            assert_eq!(
                stabilize_recommendation_with_behaviors(
                    current,
                    desired,
                    &history,
                    s(now),
                    s(up),
                    s(down)
                ),
                expected,
                "current {current} desired {desired} now {now} up {up} down {down}"
            );
        }
    }

    /// horizontal_test.go's `generateScalingRules(pods, podsPeriod, percent, percentPeriod,
    /// stabilizationWindow)`.
    fn rules(pods: u32, pods_period: u64, percent: u32, percent_period: u64, window: u64) -> Rules {
        let mut policies = Vec::new();
        if pods != 0 {
            policies.push(HpaScalingPolicy::pods(pods, s(pods_period)));
        }
        if percent != 0 {
            policies.push(HpaScalingPolicy::percent(percent, s(percent_period)));
        }
        Rules {
            stabilization_window: s(window),
            select_policy: SelectPolicy::Max,
            policies,
            tolerance: 0.1,
        }
    }

    /// horizontal_test.go's `generateEventsUniformDistribution(changes, 120)`: events at 100,
    /// 60 and 20 s before `now`.
    fn events(changes: [u32; 3], now: u64) -> Vec<ScaleRecord> {
        changes
            .iter()
            .zip([100, 60, 20])
            .map(|(&change, ago)| ScaleRecord {
                at: s(now - ago),
                change,
            })
            .collect()
    }

    #[test]
    fn scaling_with_rules_cases() {
        // horizontal_test.go (v1.33) TestScalingWithRules, the cases the model can express:
        // (name, up events, down events, min, max, scale-up rules, scale-down rules, current,
        // prenormalized desired, expected, condition). Rules left out are the API defaults.
        let now = 1000;
        let default_up = rules(4, 15, 100, 15, 0);
        let default_down = rules(0, 0, 100, 15, 300);
        let none: Vec<ScaleRecord> = Vec::new();
        for (name, ups, downs, min, max, up, down, current, desired, expected, limit) in [
            ("scaleUp with default behavior", &none, &none, 1, 1000, rules(0, 0, 100, 15, 30), default_down.clone(), 10, 50, 20, Limit::ScaleUpLimit),
            ("scaleUp with pods policy larger than percent policy", &none, &none, 1, 1000, rules(100, 60, 100, 60, 0), default_down.clone(), 10, 500, 110, Limit::ScaleUpLimit),
            ("scaleUp with percent policy larger than pods policy", &none, &none, 1, 1000, rules(2, 60, 100, 60, 0), default_down.clone(), 10, 500, 20, Limit::ScaleUpLimit),
            ("scaleUp with spec MaxReplicas limitation with large pod policy", &none, &none, 1, 1000, rules(100, 60, 0, 0, 0), default_down.clone(), 10, 50, 50, Limit::DesiredWithinRange),
            ("scaleUp with spec MaxReplicas limitation with large percent policy", &none, &none, 1, 1000, rules(10000, 60, 0, 0, 0), default_down.clone(), 10, 50, 50, Limit::DesiredWithinRange),
            ("scaleUp with pod policy limitation", &none, &none, 1, 1000, rules(30, 60, 0, 0, 0), default_down.clone(), 10, 50, 40, Limit::ScaleUpLimit),
            ("scaleUp with percent policy limitation", &none, &none, 1, 1000, rules(0, 0, 200, 60, 0), default_down.clone(), 10, 50, 30, Limit::ScaleUpLimit),
            ("scaleDown with percent policy larger than pod policy", &none, &none, 1, 1000, default_up.clone(), rules(20, 60, 1, 60, 300), 100, 2, 80, Limit::ScaleDownLimit),
            ("scaleDown with pod policy larger than percent policy", &none, &none, 1, 1000, default_up.clone(), rules(2, 60, 1, 60, 300), 100, 2, 98, Limit::ScaleDownLimit),
            ("scaleDown with spec MinReplicas=nil limitation with large pod policy", &none, &none, 1, 1000, default_up.clone(), rules(100, 60, 0, 0, 300), 10, 0, 1, Limit::TooFewReplicas),
            ("scaleDown with spec MinReplicas limitation with large percent policy", &none, &none, 5, 1000, default_up.clone(), rules(0, 0, 100, 60, 300), 10, 2, 5, Limit::TooFewReplicas),
            ("scaleDown with pod policy limitation", &none, &none, 1, 1000, default_up.clone(), rules(5, 60, 0, 0, 300), 10, 2, 5, Limit::ScaleDownLimit),
            ("scaleDown with percent policy limitation", &none, &none, 1, 1000, default_up.clone(), rules(0, 0, 50, 60, 300), 10, 5, 5, Limit::DesiredWithinRange),
            ("scaleUp with spec MaxReplicas limitation with large pod policy and events", &events([1, 5, 9], now), &none, 1, 200, rules(300, 60, 0, 0, 0), default_down.clone(), 100, 500, 200, Limit::TooManyReplicas),
            ("scaleUp with spec MaxReplicas limitation with large percent policy and events", &events([1, 5, 9], now), &none, 1, 200, rules(0, 0, 10000, 60, 0), default_down.clone(), 100, 500, 200, Limit::TooManyReplicas),
            ("scaleUp with currentReplicas limitation with rate.PeriodSeconds with a lot of recent scale up events", &events([1, 5, 9], now), &none, 1, 1000, rules(5, 120, 0, 0, 0), default_down.clone(), 100, 500, 100, Limit::ScaleUpLimit),
            ("scaleUp with pod policy and previous scale up events", &events([1, 5, 9], now), &none, 1, 1000, rules(150, 120, 0, 0, 0), default_down.clone(), 100, 500, 235, Limit::ScaleUpLimit),
            ("scaleUp with percent policy and previous scale up events", &events([1, 5, 9], now), &none, 1, 1000, rules(0, 0, 200, 120, 0), default_down.clone(), 100, 500, 255, Limit::ScaleUpLimit),
            ("scaleDown with default policy and previous events", &none, &events([1, 5, 9], now), 1, 1000, default_up.clone(), default_down.clone(), 10, 5, 5, Limit::DesiredWithinRange),
            ("scaleDown with pod policy and previous events", &none, &events([1, 5, 9], now), 1, 1000, default_up.clone(), rules(5, 120, 0, 0, 300), 10, 2, 10, Limit::ScaleDownLimit),
        ] {
            let up_limit = scale_up_limit_with_rules(current, ups, downs, &up, s(now));
            let down_limit = scale_down_limit_with_rules(current, ups, downs, &down, s(now));
            assert_eq!(
                convert_desired_replicas_with_behavior_rate(current, desired, min, max, up_limit, down_limit),
                (expected, limit),
                "{name}"
            );
        }
    }

    #[test]
    fn select_policy_min_and_disabled() {
        let now = s(1000);
        let mut up = rules(4, 15, 100, 15, 0);
        up.select_policy = SelectPolicy::Min;
        assert_eq!(scale_up_limit_with_rules(10, &[], &[], &up, now), 14);
        up.select_policy = SelectPolicy::Disabled;
        assert_eq!(scale_up_limit_with_rules(10, &[], &[], &up, now), 10);
        let mut down = rules(4, 15, 50, 15, 0);
        assert_eq!(scale_down_limit_with_rules(10, &[], &[], &down, now), 5);
        down.select_policy = SelectPolicy::Min;
        assert_eq!(scale_down_limit_with_rules(10, &[], &[], &down, now), 6);
        down.select_policy = SelectPolicy::Disabled;
        assert_eq!(scale_down_limit_with_rules(10, &[], &[], &down, now), 10);
        // No policies: Max yields int32's minimum (no increase), Min its maximum.
        let empty = rules(0, 0, 0, 0, 0);
        assert_eq!(scale_up_limit_with_rules(10, &[], &[], &empty, now), 0);
        assert_eq!(
            scale_down_limit_with_rules(10, &[], &[], &empty, now),
            i32::MAX as u32
        );
    }

    #[test]
    fn period_start_counts_both_directions_strictly_within_the_period() {
        // `calculateScaleUpLimitWithScalingRules`: start = current − added + deleted, events
        // strictly after now − period.
        let now = s(100);
        let ups = [
            ScaleRecord {
                at: s(90),
                change: 4,
            },
            ScaleRecord {
                at: s(85),
                change: 2,
            },
        ];
        let downs = [ScaleRecord {
            at: s(95),
            change: 3,
        }];
        assert_eq!(replicas_change_per_period(s(15), &ups, now), 4);
        assert_eq!(replicas_change_per_period(s(16), &ups, now), 6);
        assert_eq!(period_start(10, s(15), &ups, &downs, now), 9);
        assert_eq!(period_start(1, s(16), &ups, &downs, now), -2);
        let pods = rules(4, 15, 0, 0, 0);
        assert_eq!(scale_up_limit_with_rules(10, &ups, &downs, &pods, now), 13);
        let down = rules(2, 15, 0, 0, 0);
        assert_eq!(scale_down_limit_with_rules(10, &ups, &downs, &down, now), 7);
        assert_eq!(to_replicas(-5), 0);
        assert_eq!(to_replicas(i64::MAX), i32::MAX as u32);
        assert_eq!(to_replicas(7), 7);
    }

    #[test]
    fn behavior_rate_never_reverses_direction() {
        // `convertDesiredReplicasWithBehaviorRate`: a limit below current does not scale down,
        // above current does not scale up.
        assert_eq!(
            convert_desired_replicas_with_behavior_rate(10, 20, 1, 100, 5, 0),
            (10, Limit::ScaleUpLimit)
        );
        assert_eq!(
            convert_desired_replicas_with_behavior_rate(10, 2, 1, 100, 0, 15),
            (10, Limit::ScaleDownLimit)
        );
        assert_eq!(
            convert_desired_replicas_with_behavior_rate(10, 10, 20, 5, 0, 0),
            (10, Limit::DesiredWithinRange)
        );
        assert_eq!(
            convert_desired_replicas_with_behavior_rate(10, 20, 1, 15, 15, 0),
            (15, Limit::TooManyReplicas)
        );
        assert_eq!(
            convert_desired_replicas_with_behavior_rate(10, 2, 5, 100, 0, 5),
            (5, Limit::TooFewReplicas)
        );
        // Exactly at a limit is within range.
        assert_eq!(
            convert_desired_replicas_with_behavior_rate(10, 15, 1, 15, 20, 0),
            (15, Limit::DesiredWithinRange)
        );
        assert_eq!(
            convert_desired_replicas_with_behavior_rate(10, 15, 1, 100, 15, 0),
            (15, Limit::DesiredWithinRange)
        );
        assert_eq!(
            convert_desired_replicas_with_behavior_rate(10, 5, 5, 100, 0, 0),
            (5, Limit::DesiredWithinRange)
        );
        assert_eq!(
            convert_desired_replicas_with_behavior_rate(10, 5, 1, 100, 0, 5),
            (5, Limit::DesiredWithinRange)
        );
        // Unchanged is within range whatever the bounds.
        assert_eq!(
            convert_desired_replicas_with_behavior_rate(10, 10, 1, 5, 20, 0),
            (10, Limit::DesiredWithinRange)
        );
    }

    fn target(max: u32) -> Target {
        Target {
            per_pod: 5,
            min_replicas: 0,
            max_replicas: max,
        }
    }

    fn read(metric: u64, status_replicas: u32) -> Reading {
        Reading {
            metric: Some(metric),
            status_replicas,
        }
    }

    fn legacy() -> SyncRules {
        SyncRules::from_profile(&Profile::aks())
    }

    fn with_behavior(behavior: Behavior) -> SyncRules {
        let mut profile = Profile::aks();
        profile
            .scaled_object
            .advanced
            .horizontal_pod_autoscaler_config
            .behavior = Some(behavior);
        SyncRules::from_profile(&profile)
    }

    #[test]
    fn legacy_sync_caps_at_double_or_four_per_sync() {
        let rules = legacy();
        let mut hpa = Hpa::default();
        let d = hpa
            .sync(s(0), 1, read(200, 1), target(100), &rules)
            .unwrap();
        assert_eq!(d.to, 4);
        assert_eq!(
            d.reason,
            "scale 1 → 4: queue 200 / target 5 = 40, limited to 4 (max(2 × 1, 4) per sync)"
        );
        let mut to = 4;
        for (t, expected) in [(15, 8), (30, 16), (45, 32), (60, 40)] {
            to = hpa
                .sync(s(t), to, read(200, to), target(100), &rules)
                .unwrap()
                .to;
            assert_eq!(to, expected, "at {t} s");
        }
        assert_eq!(
            hpa.sync(s(75), 40, read(200, 40), target(100), &rules),
            None
        );
        let mut hpa = Hpa::default();
        assert_eq!(
            hpa.sync(s(0), 3, read(200, 3), target(100), &rules)
                .unwrap()
                .to,
            6
        );
        // Legacy syncs keep no scale events.
        assert!(hpa.scale_up_events.is_empty());
    }

    #[test]
    fn legacy_sync_keeps_the_highest_recommendation_even_above_current() {
        // After KEDA scales 20 → 0 and re-activates at 1 within the 300 s window, the HPA
        // climbs back toward 20 although the queue asks for 1.
        let rules = legacy();
        let mut hpa = Hpa::default();
        assert_eq!(hpa.sync(s(0), 20, read(100, 20), target(100), &rules), None);
        assert_eq!(hpa.sync(s(15), 0, read(0, 0), target(100), &rules), None);
        let d = hpa.sync(s(60), 1, read(3, 1), target(100), &rules).unwrap();
        assert_eq!(
            d.reason,
            "scale 1 → 4: queue 3 / target 5 = 1, highest in 300 s window 20, limited to 4 (max(2 × 1, 4) per sync)"
        );
        assert_eq!(
            hpa.sync(s(75), 4, read(3, 4), target(100), &rules)
                .unwrap()
                .to,
            8
        );
        // Every later sync recommends 1, so the 20 recorded at 0 s is the window's highest
        // until it leaves the window: at 315 s the count drops to 1.
        let mut to = 8;
        let mut t = 90;
        while t <= 300 {
            if let Some(d) = hpa.sync(s(t), to, read(3, to), target(100), &rules) {
                to = d.to;
            }
            t += 15;
        }
        assert_eq!(to, 20, "climbed to the window's highest");
        let d = hpa
            .sync(s(315), to, read(3, to), target(100), &rules)
            .unwrap();
        assert_eq!(d.to, 1);
    }

    #[test]
    fn sync_clamps_to_min_and_max() {
        let rules = legacy();
        let mut hpa = Hpa::default();
        let d = hpa
            .sync(s(0), 10, read(1000, 10), target(12), &rules)
            .unwrap();
        assert_eq!(d.to, 12);
        assert!(d.reason.ends_with("max 12"), "{}", d.reason);
        let mut hpa = Hpa::default();
        let d = hpa
            .sync(s(0), 15, read(1000, 15), target(12), &rules)
            .unwrap();
        assert_eq!(
            (d.to, d.reason.as_str()),
            (12, "scale 15 → 12: above max 12")
        );
        // recordInitialRecommendation holds a scale-down for the window: start past it.
        let settled = || Hpa {
            recommendations: recs(&[(0, 3)]),
            ..Hpa::default()
        };
        let mut hpa = settled();
        assert_eq!(hpa.sync(s(0), 3, read(0, 3), target(12), &rules), None);
        let mut hpa = settled();
        let d = hpa.sync(s(301), 3, read(0, 3), target(12), &rules).unwrap();
        assert_eq!(d.to, 1, "metric 0 asks for 0, but the HPA's minimum is 1");
        assert!(d.reason.ends_with(", min 1"), "{}", d.reason);
        let min3 = Target {
            min_replicas: 3,
            ..target(12)
        };
        let mut hpa = Hpa::default();
        let d = hpa.sync(s(0), 2, read(0, 2), min3, &rules).unwrap();
        assert_eq!((d.to, d.reason.as_str()), (3, "scale 2 → 3: below min 3"));
    }

    #[test]
    fn sync_is_due_once_per_period() {
        let mut hpa = Hpa::default();
        assert!(hpa.due(s(0), s(15)));
        hpa.last_sync = Some(s(10));
        for (now, due) in [(10, false), (24, false), (25, true), (40, true), (5, false)] {
            assert_eq!(hpa.due(s(now), s(15)), due, "at {now}");
        }
    }

    #[test]
    fn at_max_the_metric_still_decides() {
        let settled = Hpa {
            recommendations: recs(&[(0, 12)]),
            ..Hpa::default()
        };
        let mut hpa = settled.clone();
        let d = hpa
            .sync(s(301), 12, read(0, 12), target(12), &legacy())
            .unwrap();
        assert_eq!(d.to, 1);
        let min3 = Target {
            min_replicas: 3,
            ..target(12)
        };
        let mut hpa = Hpa {
            recommendations: recs(&[(0, 3)]),
            ..Hpa::default()
        };
        let d = hpa.sync(s(0), 3, read(100, 3), min3, &legacy()).unwrap();
        assert_eq!(d.to, 6, "at min the metric still decides");
    }

    #[test]
    fn behavior_reasons_name_the_window_that_held() {
        let behavior = Behavior {
            scale_up: Some(HpaScalingRules {
                stabilization_window_seconds: Some(s(60)),
                ..HpaScalingRules::default()
            }),
            ..Behavior::default()
        };
        let rules = with_behavior(behavior);
        let mut hpa = Hpa {
            recommendations: recs(&[(0, 3)]),
            ..Hpa::default()
        };
        let d = hpa
            .sync(s(30), 2, read(50, 2), target(100), &rules)
            .unwrap();
        assert_eq!(
            d.reason,
            "scale 2 → 3: queue 50 / target 5 = 10, lowest in 60 s scale-up window 3"
        );
        let mut hpa = Hpa {
            recommendations: recs(&[(0, 8)]),
            ..Hpa::default()
        };
        let d = hpa
            .sync(s(30), 10, read(25, 10), target(100), &rules)
            .unwrap();
        assert_eq!(
            d.reason,
            "scale 10 → 8: queue 25 / target 5 = 5, highest in 300 s scale-down window 8"
        );
        assert_eq!(
            hpa.scale_down_events,
            [ScaleRecord {
                at: s(30),
                change: 2
            }]
        );
        assert!(hpa.scale_up_events.is_empty());
    }

    #[test]
    fn sync_leaves_zero_replicas_to_keda_and_failed_reads_alone() {
        let mut hpa = Hpa::default();
        assert_eq!(
            hpa.sync(s(0), 0, read(500, 0), target(100), &legacy()),
            None
        );
        assert_eq!(hpa.last_sync, Some(s(0)));
        assert_eq!(
            hpa.recommendations,
            recs(&[(0, 0)]),
            "recordInitialRecommendation"
        );
        let failed = Reading {
            metric: None,
            status_replicas: 4,
        };
        assert_eq!(hpa.sync(s(15), 4, failed, target(100), &legacy()), None);
        // A failed read still brings an out-of-range count inside.
        assert_eq!(
            hpa.sync(s(30), 200, failed, target(100), &legacy())
                .unwrap()
                .to,
            100
        );
    }

    #[test]
    fn sync_holds_scale_down_for_the_stabilization_window() {
        for (rules, down_at) in [
            // Legacy: the 8 recorded at 0 s counts while not before now − 300 s, so at 300 s too.
            (legacy(), 315),
            // Behavior: strictly after now − 300 s, so not at 300 s.
            (with_behavior(Behavior::default()), 300),
        ] {
            let mut hpa = Hpa::default();
            assert_eq!(hpa.sync(s(0), 8, read(40, 8), target(100), &rules), None);
            let mut at = None;
            for t in (15..=600).step_by(15) {
                if let Some(d) = hpa.sync(s(t), 8, read(10, 8), target(100), &rules) {
                    assert_eq!(d.to, 2);
                    assert!(d.reason.contains("queue 10 / target 5 = 2"), "{}", d.reason);
                    at = Some(t);
                    break;
                }
            }
            assert_eq!(at, Some(down_at), "{rules:?}");
        }
    }

    #[test]
    fn behavior_sync_rate_limits_scale_up_per_period() {
        let rules = with_behavior(Behavior::default());
        let mut hpa = Hpa::default();
        let d = hpa
            .sync(s(0), 1, read(200, 1), target(100), &rules)
            .unwrap();
        assert_eq!(d.to, 5);
        assert_eq!(
            d.reason,
            "scale 1 → 5: queue 200 / target 5 = 40, limited to 5 by the scaleUp policies"
        );
        // Within the same 15 s period the start is still 1 replica.
        assert_eq!(hpa.sync(s(10), 5, read(200, 5), target(100), &rules), None);
        let mut to = 5;
        for (t, expected) in [(15, 10), (30, 20), (45, 40)] {
            to = hpa
                .sync(s(t), to, read(200, to), target(100), &rules)
                .unwrap()
                .to;
            assert_eq!(to, expected, "at {t} s");
        }
        assert_eq!(
            hpa.sync(s(60), 40, read(200, 40), target(100), &rules),
            None
        );
        assert_eq!(
            hpa.scale_up_events,
            [
                ScaleRecord {
                    at: s(30),
                    change: 10
                },
                ScaleRecord {
                    at: s(45),
                    change: 20
                }
            ],
            "only the last 15 s are kept"
        );
        assert!(hpa.scale_down_events.is_empty());
    }

    #[test]
    fn behavior_defaults_and_overrides_resolve() {
        let controller = Profile::aks().hpa;
        let resolved = ResolvedBehavior::resolve(&Behavior::default(), &controller);
        assert_eq!(
            resolved.scale_up.policies,
            [
                HpaScalingPolicy::pods(4, s(15)),
                HpaScalingPolicy::percent(100, s(15)),
            ]
        );
        assert_eq!(resolved.scale_down.stabilization_window, s(300));
        assert_eq!(resolved.longest_period(), s(15));
        let custom = Behavior {
            scale_up: Some(HpaScalingRules {
                stabilization_window_seconds: Some(s(60)),
                select_policy: Some(SelectPolicy::Min),
                policies: Some(vec![HpaScalingPolicy::pods(1, s(60))]),
                tolerance: Some(0.2),
            }),
            scale_down: Some(HpaScalingRules {
                policies: Some(vec![]),
                ..HpaScalingRules::default()
            }),
        };
        let resolved = ResolvedBehavior::resolve(&custom, &controller);
        assert_eq!(resolved.scale_up.stabilization_window, s(60));
        assert_eq!(resolved.scale_up.select_policy, SelectPolicy::Min);
        assert_eq!(resolved.scale_up.tolerance, 0.2);
        assert_eq!(
            resolved.scale_down.policies,
            [HpaScalingPolicy::percent(100, s(15))]
        );
        assert_eq!(resolved.longest_period(), s(60));
        let rules = with_behavior(custom);
        assert_eq!(rules.tolerances, Tolerances { down: 0.1, up: 0.2 });
        assert_eq!(legacy().tolerances, TEN);
        assert!(legacy().behavior.is_none());
    }

    #[test]
    fn behavior_scale_down_events_limit_the_next_scale_down() {
        let behavior = Behavior {
            scale_down: Some(HpaScalingRules {
                stabilization_window_seconds: Some(Duration::ZERO),
                policies: Some(vec![HpaScalingPolicy::pods(2, s(60))]),
                ..HpaScalingRules::default()
            }),
            ..Behavior::default()
        };
        let rules = with_behavior(behavior);
        let mut hpa = Hpa::default();
        let d = hpa
            .sync(s(0), 10, read(0, 10), target(100), &rules)
            .unwrap();
        assert_eq!(d.to, 8);
        assert!(
            d.reason.ends_with("limited to 8 by the scaleDown policies"),
            "{}",
            d.reason
        );
        assert_eq!(hpa.sync(s(30), 8, read(0, 8), target(100), &rules), None);
        assert_eq!(
            hpa.sync(s(61), 8, read(0, 8), target(100), &rules)
                .unwrap()
                .to,
            6
        );
        assert_eq!(
            hpa.scale_down_events.len(),
            1,
            "the event at 0 s left the 60 s period"
        );
    }

    #[test]
    fn reason_names_the_formula_or_the_tolerance() {
        let mut hpa = Hpa::default();
        let d = hpa
            .sync(s(0), 4, read(40, 4), target(100), &legacy())
            .unwrap();
        assert_eq!(d.reason, "scale 4 → 8: queue 40 / target 5 = 8");
        assert_eq!(
            formula(55, 5, 10, 10),
            "queue 55 / (target 5 × 10 pods) within tolerance: 10"
        );
        assert_eq!(formula(50, 5, 10, 10), "queue 50 / target 5 = 10");
        assert_eq!(formula(3, 5, 0, 1), "queue 3 / target 5 = 1");
        // With no pods there is no usage ratio to be within tolerance, whatever `raw` says.
        assert_eq!(formula(3, 5, 0, 0), "queue 3 / target 5 = 0");
    }
}
