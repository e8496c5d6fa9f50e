//! The cluster's own scaling settings as the model's profile, so that a what-if replay on a
//! real cluster starts from what KEDA and the HPA actually run with, not from a preset.
//!
//! The ScaledObject is the source: KEDA copies its settings into the HPA it creates (and
//! overwrites any hand edit of that HPA), so the HPA adds nothing the ScaledObject does not say.
//! A field left out takes KEDA's default (kedacore/keda apis/keda/v1alpha1
//! scaledobject_types.go and pkg/scalers/azure_queue_scaler.go), not the preset's. What the
//! ScaledObject cannot say (pod requests and start-up time, the node pool, the cluster
//! autoscaler's flags, the HPA controller's sync period) comes from the `aks` profile, whose
//! values are AKS's published defaults.

use std::time::Duration;

use autoscale::policy::{
    Behavior, Fallback, HpaScalingPolicy, HpaScalingRules, PolicyType, Profile,
    QueueLengthStrategy, SelectPolicy,
};
use k8s_openapi::api::autoscaling::v2::{HPAScalingRules, HorizontalPodAutoscalerBehavior};

use super::fold::{Count, ScaledObject, Trigger};

/// KEDA's defaults for what a ScaledObject leaves out.
const DEFAULT_POLLING_INTERVAL: i64 = 30;
const DEFAULT_COOLDOWN_PERIOD: i64 = 300;
const DEFAULT_MAX_REPLICAS: i64 = 100;
/// The `azure-queue` scaler's defaults.
const DEFAULT_QUEUE_LENGTH: u64 = 5;
const DEFAULT_ACTIVATION_QUEUE_LENGTH: u64 = 0;

/// The profile the model runs with to behave as `object` makes KEDA behave, named after it;
/// or every reason it cannot, each naming the field as the manifest spells it.
pub fn model_profile(object: &ScaledObject, name: &str) -> Result<Profile, Vec<String>> {
    let mut problems = Vec::new();
    let spec = &object.spec;
    let mut profile = Profile::aks();
    profile.name = format!("ScaledObject {name}");
    let keda = &mut profile.scaled_object;

    let seconds = |value: Option<i64>, default: i64, field: &str, problems: &mut Vec<String>| {
        let value = value.unwrap_or(default);
        match u64::try_from(value) {
            Ok(seconds) => Duration::from_secs(seconds),
            Err(_) => {
                problems.push(format!("spec.{field} must not be negative, not {value}"));
                Duration::ZERO
            }
        }
    };
    let count = |value: Option<i64>, default: i64, field: &str, problems: &mut Vec<String>| {
        let value = value.unwrap_or(default);
        u32::try_from(value).unwrap_or_else(|_| {
            problems.push(format!(
                "spec.{field} must be between 0 and {}, not {value}",
                u32::MAX
            ));
            0
        })
    };
    keda.polling_interval = seconds(
        spec.polling_interval,
        DEFAULT_POLLING_INTERVAL,
        "pollingInterval",
        &mut problems,
    );
    keda.cooldown_period = seconds(
        spec.cooldown_period,
        DEFAULT_COOLDOWN_PERIOD,
        "cooldownPeriod",
        &mut problems,
    );
    keda.initial_cooldown_period = seconds(
        spec.initial_cooldown_period,
        0,
        "initialCooldownPeriod",
        &mut problems,
    );
    keda.min_replicas = count(spec.min_replica_count, 0, "minReplicaCount", &mut problems);
    keda.max_replicas = count(
        spec.max_replica_count,
        DEFAULT_MAX_REPLICAS,
        "maxReplicaCount",
        &mut problems,
    );
    keda.idle_replica_count = spec
        .idle_replica_count
        .map(|idle| count(Some(idle), 0, "idleReplicaCount", &mut problems));
    // KEDA's CRD requires both fields of a fallback.
    keda.fallback = match spec.fallback.as_ref() {
        None => None,
        Some(fallback) => match (fallback.failure_threshold, fallback.replicas) {
            (Some(threshold), Some(replicas)) => Some(Fallback {
                failure_threshold: count(
                    Some(threshold),
                    0,
                    "fallback.failureThreshold",
                    &mut problems,
                ),
                replicas: count(Some(replicas), 0, "fallback.replicas", &mut problems),
            }),
            _ => {
                problems.push("spec.fallback needs both failureThreshold and replicas".to_string());
                None
            }
        },
    };
    keda.advanced.horizontal_pod_autoscaler_config.behavior = spec
        .advanced
        .as_ref()
        .and_then(|advanced| advanced.horizontal_pod_autoscaler_config.as_ref())
        .and_then(|config| config.behavior.as_ref())
        .map(|behavior| hpa_behavior(behavior, &mut problems));

    match spec
        .triggers
        .iter()
        .find(|trigger| trigger.kind.as_deref() == Some("azure-queue"))
    {
        Some(trigger) => apply_trigger(trigger, keda, &mut problems),
        None => problems.push(
            "spec.triggers has no azure-queue trigger, the only one the model follows".into(),
        ),
    }

    if problems.is_empty() {
        if let Err(invalid) = profile.validate() {
            problems.extend(invalid.problems);
        }
    }
    if problems.is_empty() {
        Ok(profile)
    } else {
        Err(problems)
    }
}

/// The `azure-queue` trigger's metadata (strings in KEDA's API) and `useCachedMetrics`.
fn apply_trigger(
    trigger: &Trigger,
    keda: &mut autoscale::policy::ScaledObject,
    problems: &mut Vec<String>,
) {
    let metadata = &trigger.metadata;
    let number = |value: &Option<Count>, default: u64, field: &str, problems: &mut Vec<String>| {
        match value {
            None => default,
            Some(count) => count.value().map(u64::from).unwrap_or_else(|| {
                problems.push(format!(
                    "the azure-queue trigger's metadata.{field} must be a whole number, not {count:?}"
                ));
                default
            }),
        }
    };
    keda.queue_length = number(
        &metadata.queue_length,
        DEFAULT_QUEUE_LENGTH,
        "queueLength",
        problems,
    );
    keda.activation_queue_length = number(
        &metadata.activation_queue_length,
        DEFAULT_ACTIVATION_QUEUE_LENGTH,
        "activationQueueLength",
        problems,
    );
    // KEDA lower-cases the value before comparing it (azure_queue_scaler.go).
    keda.queue_length_strategy = match metadata
        .queue_length_strategy
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("all") => QueueLengthStrategy::All,
        Some("visibleonly") => QueueLengthStrategy::VisibleOnly,
        Some(other) => {
            problems.push(format!(
                "the azure-queue trigger's metadata.queueLengthStrategy must be all or visibleonly, not {other}"
            ));
            QueueLengthStrategy::All
        }
    };
    keda.use_cached_metrics = trigger.use_cached_metrics.unwrap_or(false);
}

/// An autoscaling/v2 behavior as the model's; a part left out stays unset, so that the model
/// fills it with the API's defaults as the API server would.
fn hpa_behavior(
    behavior: &HorizontalPodAutoscalerBehavior,
    problems: &mut Vec<String>,
) -> Behavior {
    Behavior {
        scale_up: behavior
            .scale_up
            .as_ref()
            .map(|rules| scaling_rules(rules, "scaleUp", problems)),
        scale_down: behavior
            .scale_down
            .as_ref()
            .map(|rules| scaling_rules(rules, "scaleDown", problems)),
    }
}

fn scaling_rules(
    rules: &HPAScalingRules,
    direction: &str,
    problems: &mut Vec<String>,
) -> HpaScalingRules {
    let field = |name: &str| {
        format!("spec.advanced.horizontalPodAutoscalerConfig.behavior.{direction}.{name}")
    };
    let stabilization_window_seconds = rules.stabilization_window_seconds.map(|seconds| {
        u64::try_from(seconds)
            .map(Duration::from_secs)
            .unwrap_or_else(|_| {
                problems.push(format!(
                    "{} must not be negative, not {seconds}",
                    field("stabilizationWindowSeconds")
                ));
                Duration::ZERO
            })
    });
    let select_policy = rules.select_policy.as_deref().map(|policy| match policy {
        "Max" => SelectPolicy::Max,
        "Min" => SelectPolicy::Min,
        "Disabled" => SelectPolicy::Disabled,
        other => {
            problems.push(format!(
                "{} must be Max, Min or Disabled, not {other}",
                field("selectPolicy")
            ));
            SelectPolicy::Max
        }
    });
    let policies = rules.policies.as_ref().map(|policies| {
        policies
            .iter()
            .enumerate()
            .filter_map(|(i, policy)| {
                let kind = match policy.type_.as_str() {
                    "Pods" => PolicyType::Pods,
                    "Percent" => PolicyType::Percent,
                    other => {
                        problems.push(format!(
                            "{}[{i}].type must be Pods or Percent, not {other}",
                            field("policies")
                        ));
                        return None;
                    }
                };
                let (Ok(value), Ok(period)) = (
                    u32::try_from(policy.value),
                    u64::try_from(policy.period_seconds),
                ) else {
                    problems.push(format!(
                        "{}[{i}] must have a positive value and periodSeconds",
                        field("policies")
                    ));
                    return None;
                };
                Some(HpaScalingPolicy {
                    kind,
                    value,
                    period_seconds: Duration::from_secs(period),
                })
            })
            .collect()
    });
    let tolerance = rules.tolerance.as_ref().and_then(|quantity| {
        let parsed = quantity_value(&quantity.0);
        if parsed.is_none() {
            problems.push(format!(
                "{} must be a decimal quantity such as 0.05 or 50m, not {}",
                field("tolerance"),
                quantity.0
            ));
        }
        parsed
    });
    HpaScalingRules {
        stabilization_window_seconds,
        select_policy,
        policies,
        tolerance,
    }
}

/// A Kubernetes quantity as the HPA's tolerance uses one: a plain decimal (`0.05`) or
/// thousandths (`50m`). Other suffixes make no sense for a ratio and are refused.
fn quantity_value(text: &str) -> Option<f64> {
    let text = text.trim();
    let value = match text.strip_suffix('m') {
        Some(milli) => milli.parse::<f64>().ok()? / 1000.0,
        None => text.parse::<f64>().ok()?,
    };
    (value.is_finite() && value >= 0.0).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(spec: serde_json::Value) -> ScaledObject {
        serde_json::from_value(json!({ "spec": spec })).expect("a ScaledObject")
    }

    fn queue_trigger(metadata: serde_json::Value) -> serde_json::Value {
        json!([{ "type": "azure-queue", "metadata": metadata }])
    }

    #[test]
    fn what_is_left_out_takes_kedas_defaults_not_the_presets() {
        let profile = model_profile(
            &read(json!({ "triggers": queue_trigger(json!({"queueName": "work-items"})) })),
            "scaleboard/worker",
        )
        .unwrap();
        let keda = &profile.scaled_object;
        assert_eq!(profile.name, "ScaledObject scaleboard/worker");
        assert_eq!(keda.polling_interval, Duration::from_secs(30));
        assert_eq!(keda.cooldown_period, Duration::from_secs(300));
        assert_eq!((keda.min_replicas, keda.max_replicas), (0, 100));
        assert_eq!((keda.queue_length, keda.activation_queue_length), (5, 0));
        assert_eq!(keda.queue_length_strategy, QueueLengthStrategy::All);
        assert!(!keda.use_cached_metrics);
        assert_eq!(keda.idle_replica_count, None);
        assert_eq!(keda.fallback, None);
        // No behavior: KEDA creates its HPA with none, and the model takes the legacy path.
        assert_eq!(
            keda.advanced.horizontal_pod_autoscaler_config.behavior,
            None
        );
        // What the ScaledObject cannot say comes from the AKS profile.
        assert_eq!(profile.node_pool, Profile::aks().node_pool);
        assert_eq!(profile.hpa, Profile::aks().hpa);
    }

    #[test]
    fn every_setting_the_model_follows_is_read_in_kedas_words() {
        let profile = model_profile(
            &read(json!({
                "pollingInterval": 5,
                "cooldownPeriod": 30,
                "initialCooldownPeriod": 60,
                "minReplicaCount": 1,
                "maxReplicaCount": 20,
                "idleReplicaCount": 0,
                "fallback": { "failureThreshold": 3, "replicas": 6 },
                "advanced": { "horizontalPodAutoscalerConfig": { "behavior": {
                    "scaleUp": {
                        "stabilizationWindowSeconds": 0,
                        "selectPolicy": "Max",
                        "policies": [
                            { "type": "Pods", "value": 10, "periodSeconds": 15 },
                            { "type": "Percent", "value": 200, "periodSeconds": 15 }
                        ],
                        "tolerance": "50m"
                    },
                    "scaleDown": { "stabilizationWindowSeconds": 120, "selectPolicy": "Min" }
                } } },
                "triggers": [
                    { "type": "cron", "metadata": { "queueLength": "1" } },
                    {
                        "type": "azure-queue",
                        "useCachedMetrics": true,
                        "metadata": {
                            "queueLength": "8",
                            "activationQueueLength": "2",
                            "queueLengthStrategy": "VisibleOnly"
                        }
                    }
                ]
            })),
            "ns/so",
        )
        .unwrap();
        let keda = &profile.scaled_object;
        assert_eq!(keda.polling_interval, Duration::from_secs(5));
        assert_eq!(keda.cooldown_period, Duration::from_secs(30));
        assert_eq!(keda.initial_cooldown_period, Duration::from_secs(60));
        assert_eq!((keda.min_replicas, keda.max_replicas), (1, 20));
        assert_eq!(keda.idle_replica_count, Some(0));
        assert_eq!(
            keda.fallback,
            Some(Fallback {
                failure_threshold: 3,
                replicas: 6
            })
        );
        // The azure-queue trigger, not the first one.
        assert_eq!((keda.queue_length, keda.activation_queue_length), (8, 2));
        assert_eq!(keda.queue_length_strategy, QueueLengthStrategy::VisibleOnly);
        assert!(keda.use_cached_metrics);
        let behavior = keda
            .advanced
            .horizontal_pod_autoscaler_config
            .behavior
            .as_ref()
            .expect("a behavior");
        let up = behavior.scale_up.as_ref().unwrap();
        assert_eq!(up.stabilization_window_seconds, Some(Duration::ZERO));
        assert_eq!(
            up.policies.as_deref(),
            Some(
                &[
                    HpaScalingPolicy::pods(10, Duration::from_secs(15)),
                    HpaScalingPolicy::percent(200, Duration::from_secs(15)),
                ][..]
            )
        );
        assert_eq!(up.tolerance, Some(0.05));
        let down = behavior.scale_down.as_ref().unwrap();
        assert_eq!(
            down.stabilization_window_seconds,
            Some(Duration::from_secs(120))
        );
        assert_eq!(down.select_policy, Some(SelectPolicy::Min));
        // Left out: the API's defaults, filled by the model.
        assert_eq!(down.policies, None);
    }

    #[test]
    fn each_unusable_field_is_named() {
        let problems = model_profile(
            &read(json!({
                "pollingInterval": -1,
                "maxReplicaCount": 5_000_000_000_i64,
                "advanced": { "horizontalPodAutoscalerConfig": { "behavior": {
                    "scaleUp": {
                        "selectPolicy": "Most",
                        "policies": [{ "type": "Nodes", "value": 1, "periodSeconds": 15 }],
                        "tolerance": "2Gi"
                    }
                } } },
                "triggers": queue_trigger(json!({
                    "queueLength": "five",
                    "queueLengthStrategy": "some"
                }))
            })),
            "ns/so",
        )
        .unwrap_err();
        for field in [
            "spec.pollingInterval",
            "spec.maxReplicaCount",
            "scaleUp.selectPolicy",
            "scaleUp.policies[0].type",
            "scaleUp.tolerance",
            "metadata.queueLength",
            "metadata.queueLengthStrategy",
        ] {
            assert!(
                problems.iter().any(|p| p.contains(field)),
                "{field} not named in {problems:?}"
            );
        }
    }

    #[test]
    fn a_scaled_object_without_a_queue_trigger_is_refused() {
        let problems = model_profile(
            &read(json!({ "triggers": [{ "type": "cron", "metadata": {} }] })),
            "ns/so",
        )
        .unwrap_err();
        assert!(
            problems[0].contains("no azure-queue trigger"),
            "{problems:?}"
        );
    }

    #[test]
    fn the_models_own_bounds_apply_to_what_the_cluster_says() {
        // A maximum the model refuses (it bounds replicas) is reported, not run.
        let problems = model_profile(
            &read(json!({
                "minReplicaCount": 30,
                "maxReplicaCount": 10,
                "triggers": queue_trigger(json!({}))
            })),
            "ns/so",
        )
        .unwrap_err();
        assert!(!problems.is_empty());
    }

    #[test]
    fn tolerances_read_as_decimals_or_thousandths() {
        assert_eq!(quantity_value("0.1"), Some(0.1));
        assert_eq!(quantity_value("50m"), Some(0.05));
        assert_eq!(quantity_value("-1"), None);
        assert_eq!(quantity_value("1Ki"), None);
    }
}
