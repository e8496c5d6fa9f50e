//! What people type: the start form's numbers and the scaling settings. Checked here so a
//! mistake is explained next to the field before anything is sent; the server checks again.

use serde_json::Value;

use super::format::group_thousands;

/// The largest item count any server accepts (its `--max-input-count` tops out here); a
/// server configured lower answers with its own limit, shown the same way.
pub const MAX_ITEMS: u32 = 10_000_000;

/// The item count of a new run.
pub fn parse_item_count(text: &str) -> Result<u32, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("Enter how many items to start, e.g. 200.".into());
    }
    let Ok(value) = text.replace(['_', ','], "").parse::<i128>() else {
        return Err(format!("“{}” is not a whole number of items.", clip(text)));
    };
    if value < 1 {
        return Err(format!("A run needs at least 1 item, not {value}."));
    }
    if value > i128::from(MAX_ITEMS) {
        return Err(format!(
            "At most {} items in one run, not {value}.",
            group_thousands(u64::from(MAX_ITEMS))
        ));
    }
    Ok(value as u32)
}

/// The optional compute cost per item (SHA-256 rounds); empty means the server's default.
pub fn parse_cost(text: &str) -> Result<Option<u32>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let Ok(value) = text.replace(['_', ','], "").parse::<i128>() else {
        return Err(format!(
            "The cost “{}” is not a whole number of rounds (e.g. 150000).",
            clip(text)
        ));
    };
    if value < 0 {
        return Err("The cost cannot be negative.".into());
    }
    u32::try_from(value)
        .map(Some)
        .map_err(|_| format!("A cost of {value} rounds is too large."))
}

/// The start request, as `curl` users write it.
pub fn start_url(items: u32, cost: Option<u32>) -> String {
    match cost {
        Some(cost) => {
            format!("/api/orchestrators/ComputeOrchestrator?inputCount={items}&cost={cost}")
        }
        None => format!("/api/orchestrators/ComputeOrchestrator?inputCount={items}"),
    }
}

fn clip(text: &str) -> String {
    if text.chars().count() > 24 {
        format!("{}…", text.chars().take(24).collect::<String>())
    } else {
        text.to_string()
    }
}

/// What a setting holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    /// A whole number (replicas, nodes, messages).
    Count,
    /// A duration in seconds, fractions allowed.
    Seconds,
}

/// One editable parameter of the scaling profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// Where it sits in the profile's JSON.
    pub path: [&'static str; 2],
    pub label: &'static str,
    /// The name of the setting in KEDA, the HPA or AKS, for people who know those.
    pub hint: &'static str,
    pub kind: FieldKind,
}

impl Field {
    /// The id of its input, also its test id.
    pub fn id(&self) -> String {
        format!("setting-{}-{}", self.path[0], self.path[1]).replace('_', "-")
    }
}

const fn field(
    path: [&'static str; 2],
    label: &'static str,
    hint: &'static str,
    kind: FieldKind,
) -> Field {
    Field {
        path,
        label,
        hint,
        kind,
    }
}

/// The settings shown, grouped as the real objects group them.
pub const GROUPS: &[(&str, &[Field])] = &[
    (
        "KEDA ScaledObject",
        &[
            field(
                ["scaled_object", "queue_length"],
                "Target messages per pod",
                "queueLength",
                FieldKind::Count,
            ),
            field(
                ["scaled_object", "activation_queue_length"],
                "Activation queue length",
                "activationQueueLength",
                FieldKind::Count,
            ),
            field(
                ["scaled_object", "min_replicas"],
                "Min replicas",
                "minReplicaCount",
                FieldKind::Count,
            ),
            field(
                ["scaled_object", "max_replicas"],
                "Max replicas",
                "maxReplicaCount",
                FieldKind::Count,
            ),
            field(
                ["scaled_object", "polling_interval"],
                "Polling interval (s)",
                "pollingInterval",
                FieldKind::Seconds,
            ),
            field(
                ["scaled_object", "cooldown_period"],
                "Cooldown period (s)",
                "cooldownPeriod",
                FieldKind::Seconds,
            ),
        ],
    ),
    (
        "HPA and pods",
        &[
            field(
                ["hpa", "scale_down_stabilization"],
                "Scale-down stabilization (s)",
                "scaleDown.stabilizationWindowSeconds",
                FieldKind::Seconds,
            ),
            field(
                ["pod", "startup_delay"],
                "Pod start-up (s)",
                "image pull + start",
                FieldKind::Seconds,
            ),
        ],
    ),
    (
        "Node pool and cluster autoscaler",
        &[
            field(
                ["node_pool", "min_nodes"],
                "Min nodes",
                "minCount",
                FieldKind::Count,
            ),
            field(
                ["node_pool", "max_nodes"],
                "Max nodes",
                "maxCount",
                FieldKind::Count,
            ),
            field(
                ["node_pool", "provisioning_delay"],
                "Node provisioning (s)",
                "VM create + join",
                FieldKind::Seconds,
            ),
            field(
                ["cluster_autoscaler", "scan_interval"],
                "Scan interval (s)",
                "scan-interval",
                FieldKind::Seconds,
            ),
            field(
                ["cluster_autoscaler", "scale_down_unneeded_time"],
                "Node unneeded time (s)",
                "scale-down-unneeded-time",
                FieldKind::Seconds,
            ),
        ],
    ),
];

/// Every field, in display order.
pub fn fields() -> impl Iterator<Item = &'static Field> {
    GROUPS.iter().flat_map(|(_, fields)| fields.iter())
}

/// The field's current value as the input shows it.
pub fn field_text(profile: &Value, field: &Field) -> String {
    match &profile[field.path[0]][field.path[1]] {
        Value::Number(n) => match (n.as_u64(), n.as_f64()) {
            (Some(whole), _) => whole.to_string(),
            (None, Some(f)) if f.fract() == 0.0 => format!("{f:.0}"),
            (None, Some(f)) => format!("{}", (f * 1000.0).round() / 1000.0),
            _ => n.to_string(),
        },
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `profile` with the edited fields replaced; the first unreadable value is explained.
pub fn apply_edits(profile: &Value, edits: &[(&Field, String)]) -> Result<Value, String> {
    let mut out = profile.clone();
    for (field, text) in edits {
        let text = text.trim();
        let value = match field.kind {
            FieldKind::Count => text
                .parse::<u64>()
                .map(Value::from)
                .map_err(|_| format!("{}: “{text}” is not a whole number.", field.label))?,
            FieldKind::Seconds => match text.parse::<f64>() {
                Ok(secs) if secs.is_finite() && secs >= 0.0 => Value::from(secs),
                _ => {
                    return Err(format!(
                        "{}: “{text}” is not a number of seconds (0 or more).",
                        field.label
                    ))
                }
            },
        };
        let Some(group) = out.get_mut(field.path[0]).and_then(Value::as_object_mut) else {
            return Err(format!(
                "the profile has no `{}` section to edit",
                field.path[0]
            ));
        };
        group.insert(field.path[1].to_string(), value);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn item_counts_are_explained() {
        assert_eq!(parse_item_count(" 200 "), Ok(200));
        assert_eq!(parse_item_count("1_000"), Ok(1000));
        for (text, says) in [
            ("", "Enter how many"),
            ("abc", "not a whole number"),
            ("1.5", "not a whole number"),
            ("0", "at least 1"),
            ("-1", "at least 1 item, not -1"),
            ("10000001", "At most 10,000,000"),
            ("99999999999999999999999999", "At most"),
        ] {
            let error = parse_item_count(text).unwrap_err();
            assert!(error.contains(says), "{text:?}: {error}");
        }
    }

    #[test]
    fn costs_are_optional_and_checked() {
        assert_eq!(parse_cost(""), Ok(None));
        assert_eq!(parse_cost("150000"), Ok(Some(150_000)));
        assert!(parse_cost("-5").unwrap_err().contains("negative"));
        assert!(parse_cost("lots").unwrap_err().contains("whole number"));
        assert!(parse_cost("99999999999").unwrap_err().contains("too large"));
        assert_eq!(
            start_url(200, Some(150_000)),
            "/api/orchestrators/ComputeOrchestrator?inputCount=200&cost=150000"
        );
        assert_eq!(
            start_url(5, None),
            "/api/orchestrators/ComputeOrchestrator?inputCount=5"
        );
    }

    fn profile() -> Value {
        json!({
            "name": "demo",
            "scaled_object": { "queue_length": 5, "polling_interval": 2.0, "cooldown_period": 2.5 },
            "node_pool": { "max_nodes": 5 }
        })
    }

    #[test]
    fn settings_read_and_edit_the_profile() {
        let fields: Vec<&Field> = fields().collect();
        let queue = fields
            .iter()
            .find(|f| f.path == ["scaled_object", "queue_length"])
            .unwrap();
        let polling = fields
            .iter()
            .find(|f| f.path == ["scaled_object", "polling_interval"])
            .unwrap();
        let cooldown = fields
            .iter()
            .find(|f| f.path == ["scaled_object", "cooldown_period"])
            .unwrap();
        assert_eq!(queue.id(), "setting-scaled-object-queue-length");
        assert_eq!(field_text(&profile(), queue), "5");
        assert_eq!(field_text(&profile(), polling), "2");
        assert_eq!(field_text(&profile(), cooldown), "2.5");

        let edited =
            apply_edits(&profile(), &[(queue, "10".into()), (polling, "0.5".into())]).unwrap();
        assert_eq!(edited["scaled_object"]["queue_length"], 10);
        assert_eq!(edited["scaled_object"]["polling_interval"], 0.5);
        assert_eq!(edited["name"], "demo", "the rest is kept");

        let error = apply_edits(&profile(), &[(queue, "ten".into())]).unwrap_err();
        assert!(error.starts_with("Target messages per pod"), "{error}");
        assert!(apply_edits(&profile(), &[(polling, "-1".into())]).is_err());
    }

    #[test]
    fn every_field_has_a_unique_id() {
        let mut ids: Vec<String> = fields().map(Field::id).collect();
        let count = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), count);
    }
}
