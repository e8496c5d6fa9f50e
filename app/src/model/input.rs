//! What people type: the start form's numbers and the scaling settings. Checked here so a
//! mistake is explained next to the field before anything is sent; the server checks again.

use std::time::Duration;

use protocol::cluster::Profile;

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

fn clip(text: &str) -> String {
    if text.chars().count() > 24 {
        format!("{}…", text.chars().take(24).collect::<String>())
    } else {
        text.to_string()
    }
}

/// Where a setting lives in the profile: a typed place, so a field renamed in
/// `autoscale::Profile` fails to compile here instead of being dropped by the page.
#[derive(Debug)]
pub enum Slot<'a> {
    /// A whole number (replicas, nodes).
    Count(&'a mut u32),
    /// A whole number that may be large (messages).
    Messages(&'a mut u64),
    /// A duration, edited in seconds (fractions allowed).
    Seconds(&'a mut Duration),
    /// A fraction such as a tolerance or a utilization threshold (0 or more, decimals allowed).
    Ratio(&'a mut f64),
}

/// One editable parameter of the scaling profile.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    /// The id of its input, also its test id.
    pub id: &'static str,
    pub label: &'static str,
    /// The name of the setting in KEDA, the HPA or AKS, for people who know those.
    pub hint: &'static str,
    /// Its place in a profile.
    pub slot: fn(&mut Profile) -> Slot<'_>,
}

impl PartialEq for Field {
    fn eq(&self, other: &Field) -> bool {
        self.id == other.id
    }
}

impl Field {
    /// Whether the input takes whole numbers only.
    pub fn is_count(&self) -> bool {
        let mut probe = Profile::default();
        !matches!((self.slot)(&mut probe), Slot::Seconds(_) | Slot::Ratio(_))
    }
}

/// The settings shown, grouped as the real objects group them.
pub const GROUPS: &[(&str, &[Field])] = &[
    (
        "KEDA ScaledObject",
        &[
            Field {
                id: "setting-scaled-object-queue-length",
                label: "Target messages per pod",
                hint: "queueLength",
                slot: |p| Slot::Messages(&mut p.scaled_object.queue_length),
            },
            Field {
                id: "setting-scaled-object-activation-queue-length",
                label: "Activation queue length",
                hint: "activationQueueLength",
                slot: |p| Slot::Messages(&mut p.scaled_object.activation_queue_length),
            },
            Field {
                id: "setting-scaled-object-min-replicas",
                label: "Min replicas",
                hint: "minReplicaCount",
                slot: |p| Slot::Count(&mut p.scaled_object.min_replicas),
            },
            Field {
                id: "setting-scaled-object-max-replicas",
                label: "Max replicas",
                hint: "maxReplicaCount",
                slot: |p| Slot::Count(&mut p.scaled_object.max_replicas),
            },
            Field {
                id: "setting-scaled-object-polling-interval",
                label: "Polling interval (s)",
                hint: "pollingInterval",
                slot: |p| Slot::Seconds(&mut p.scaled_object.polling_interval),
            },
            Field {
                id: "setting-scaled-object-cooldown-period",
                label: "Cooldown period (s)",
                hint: "cooldownPeriod",
                slot: |p| Slot::Seconds(&mut p.scaled_object.cooldown_period),
            },
            Field {
                id: "setting-scaled-object-initial-cooldown-period",
                label: "Initial cooldown (s)",
                hint: "initialCooldownPeriod",
                slot: |p| Slot::Seconds(&mut p.scaled_object.initial_cooldown_period),
            },
        ],
    ),
    (
        "HPA and pods",
        &[
            Field {
                id: "setting-hpa-scale-down-stabilization",
                label: "Scale-down stabilization (s)",
                hint: "scaleDown.stabilizationWindowSeconds",
                slot: |p| Slot::Seconds(&mut p.hpa.scale_down_stabilization),
            },
            Field {
                id: "setting-hpa-sync-period",
                label: "HPA sync period (s)",
                hint: "horizontal-pod-autoscaler-sync-period",
                slot: |p| Slot::Seconds(&mut p.hpa.sync_period),
            },
            Field {
                id: "setting-hpa-tolerance",
                label: "HPA tolerance",
                hint: "horizontal-pod-autoscaler-tolerance",
                slot: |p| Slot::Ratio(&mut p.hpa.tolerance),
            },
            Field {
                id: "setting-pod-startup-delay",
                label: "Pod start-up (s)",
                hint: "image pull + start",
                slot: |p| Slot::Seconds(&mut p.pod.startup_delay),
            },
        ],
    ),
    (
        "Node pool and cluster autoscaler",
        &[
            Field {
                id: "setting-node-pool-min-nodes",
                label: "Min nodes",
                hint: "minCount",
                slot: |p| Slot::Count(&mut p.node_pool.min_nodes),
            },
            Field {
                id: "setting-node-pool-max-nodes",
                label: "Max nodes",
                hint: "maxCount",
                slot: |p| Slot::Count(&mut p.node_pool.max_nodes),
            },
            Field {
                id: "setting-node-pool-provisioning-delay",
                label: "Node provisioning (s)",
                hint: "VM create + join",
                slot: |p| Slot::Seconds(&mut p.node_pool.provisioning_delay),
            },
            Field {
                id: "setting-cluster-autoscaler-scan-interval",
                label: "Scan interval (s)",
                hint: "scan-interval",
                slot: |p| Slot::Seconds(&mut p.cluster_autoscaler.scan_interval),
            },
            Field {
                id: "setting-cluster-autoscaler-scale-down-unneeded-time",
                label: "Node unneeded time (s)",
                hint: "scale-down-unneeded-time",
                slot: |p| Slot::Seconds(&mut p.cluster_autoscaler.scale_down_unneeded_time),
            },
            Field {
                id: "setting-cluster-autoscaler-scale-down-delay-after-add",
                label: "Scale-down delay after add (s)",
                hint: "scale-down-delay-after-add",
                slot: |p| Slot::Seconds(&mut p.cluster_autoscaler.scale_down_delay_after_add),
            },
            Field {
                id: "setting-cluster-autoscaler-scale-down-utilization-threshold",
                label: "Scale-down utilization",
                hint: "scale-down-utilization-threshold",
                slot: |p| Slot::Ratio(&mut p.cluster_autoscaler.scale_down_utilization_threshold),
            },
            Field {
                id: "setting-cluster-autoscaler-max-node-provision-time",
                label: "Max node provision time (s)",
                hint: "max-node-provision-time",
                slot: |p| Slot::Seconds(&mut p.cluster_autoscaler.max_node_provision_time),
            },
            Field {
                id: "setting-cluster-autoscaler-max-nodes-total",
                label: "Max nodes in the cluster",
                hint: "max-nodes-total (0: no limit)",
                slot: |p| Slot::Count(&mut p.cluster_autoscaler.max_nodes_total),
            },
        ],
    ),
];

/// Every field, in display order.
pub fn fields() -> impl Iterator<Item = &'static Field> {
    GROUPS.iter().flat_map(|(_, fields)| fields.iter())
}

/// The field's current value as the input shows it.
pub fn field_text(profile: &Profile, field: &Field) -> String {
    let mut profile = profile.clone();
    match (field.slot)(&mut profile) {
        Slot::Count(n) => n.to_string(),
        Slot::Messages(n) => n.to_string(),
        Slot::Seconds(d) => {
            let secs = d.as_secs_f64();
            format!("{}", (secs * 1000.0).round() / 1000.0)
        }
        Slot::Ratio(r) => format!("{}", (*r * 1000.0).round() / 1000.0),
    }
}

/// `profile` with the edited fields replaced; the first unreadable value is explained. Limits
/// beyond the syntax are the server's to check (`Profile::validate`), and it says which.
pub fn apply_edits(profile: &Profile, edits: &[(&Field, String)]) -> Result<Profile, String> {
    let mut out = profile.clone();
    for (field, text) in edits {
        let text = text.trim();
        let whole = || format!("{}: “{text}” is not a whole number.", field.label);
        match (field.slot)(&mut out) {
            Slot::Count(n) => *n = text.parse().map_err(|_| whole())?,
            Slot::Messages(n) => *n = text.parse().map_err(|_| whole())?,
            Slot::Seconds(d) => {
                *d = text
                    .parse::<f64>()
                    .ok()
                    .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
                    .ok_or_else(|| {
                        format!(
                            "{}: “{text}” is not a number of seconds (0 or more).",
                            field.label
                        )
                    })?
            }
            Slot::Ratio(r) => {
                *r = text
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && *v >= 0.0)
                    .ok_or_else(|| {
                        format!(
                            "{}: “{text}” is not a decimal number (0 or more, e.g. 0.1).",
                            field.label
                        )
                    })?
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }

    fn profile() -> Profile {
        let mut profile = Profile::demo();
        profile.scaled_object.queue_length = 5;
        profile.scaled_object.polling_interval = Duration::from_secs(2);
        profile.scaled_object.cooldown_period = Duration::from_millis(2500);
        profile
    }

    fn field(id: &str) -> &'static Field {
        fields().find(|f| f.id == id).unwrap()
    }

    #[test]
    fn settings_read_and_edit_the_profile() {
        let queue = field("setting-scaled-object-queue-length");
        let polling = field("setting-scaled-object-polling-interval");
        let cooldown = field("setting-scaled-object-cooldown-period");
        assert!(queue.is_count());
        assert!(!polling.is_count());
        assert_eq!(field_text(&profile(), queue), "5");
        assert_eq!(field_text(&profile(), polling), "2");
        assert_eq!(field_text(&profile(), cooldown), "2.5");

        let edited =
            apply_edits(&profile(), &[(queue, "10".into()), (polling, "0.5".into())]).unwrap();
        assert_eq!(edited.scaled_object.queue_length, 10);
        assert_eq!(
            edited.scaled_object.polling_interval,
            Duration::from_millis(500)
        );
        assert_eq!(edited.name, "demo", "the rest is kept");

        let error = apply_edits(&profile(), &[(queue, "ten".into())]).unwrap_err();
        assert!(error.starts_with("Target messages per pod"), "{error}");
        assert!(apply_edits(&profile(), &[(polling, "-1".into())]).is_err());
        assert!(apply_edits(&profile(), &[(polling, "NaN".into())]).is_err());
        let tolerance = field("setting-hpa-tolerance");
        assert!(!tolerance.is_count());
        let edited = apply_edits(&profile(), &[(tolerance, "0.05".into())]).unwrap();
        assert_eq!(edited.hpa.tolerance, 0.05);
        assert_eq!(field_text(&edited, tolerance), "0.05");
        for bad in ["-0.1", "inf", "NaN", "ten"] {
            let error = apply_edits(&profile(), &[(tolerance, bad.into())]).unwrap_err();
            assert!(error.starts_with("HPA tolerance"), "{error}");
        }
        let replicas = field("setting-scaled-object-max-replicas");
        assert!(apply_edits(&profile(), &[(replicas, "4294967296".into())]).is_err());
    }

    #[test]
    fn every_field_edits_its_own_place() {
        for field in fields() {
            let edited = apply_edits(&profile(), &[(field, "7".into())]).unwrap();
            assert_ne!(edited, profile(), "{}", field.id);
            assert_eq!(field_text(&edited, field), "7", "{}", field.id);
            for other in fields().filter(|f| f != &field) {
                assert_eq!(
                    field_text(&edited, other),
                    field_text(&profile(), other),
                    "{} changed {}",
                    field.id,
                    other.id
                );
            }
        }
    }

    #[test]
    fn every_field_has_a_unique_id() {
        let mut ids: Vec<&str> = fields().map(|f| f.id).collect();
        let count = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), count);
    }
}
