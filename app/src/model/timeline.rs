//! The scaling timeline: the decisions carried by the samples, newest first.

use protocol::live::{Sample, ScaleEvent};

/// An event with a key that stays the same while it is shown: the sequence number of the
/// sample that carried it and its place in that sample.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimelineEntry {
    pub key: (u64, usize),
    pub event: ScaleEvent,
}

/// The newest `limit` events of `samples`, newest first. Walks back from the newest sample
/// and stops as soon as it has enough, so an hour of history costs nothing extra.
pub fn recent_events(samples: &[Sample], limit: usize) -> Vec<TimelineEntry> {
    let mut out = Vec::with_capacity(limit);
    for sample in samples.iter().rev() {
        for (index, event) in sample.events.iter().enumerate().rev() {
            if out.len() == limit {
                return out;
            }
            out.push(TimelineEntry {
                key: (sample.seq, index),
                event: event.clone(),
            });
        }
    }
    out
}

/// A short label and a symbol for an event kind; unknown kinds are shown as they come.
pub fn kind_label(kind: &str) -> (&'static str, String) {
    let (symbol, label) = match kind {
        "activated" => ("▶", "Activated"),
        "deactivated" => ("■", "Deactivated"),
        "scale_up" => ("▲", "Scale up"),
        "scale_down" => ("▼", "Scale down"),
        "scale_to_zero" => ("▼", "Scale to zero"),
        "node_added" => ("+", "Node requested"),
        "node_ready" => ("✓", "Node ready"),
        "node_removed" => ("−", "Node removed"),
        "node_pool_full" => ("!", "Node pool full"),
        "pod_killed" => ("✕", "Pod killed"),
        "pod_restarted" => ("↻", "Pod restarted"),
        "metric_failed" => ("!", "Metric failed"),
        "fallback_activated" => ("⇢", "Fallback active"),
        "metric_recovered" => ("✓", "Metric recovered"),
        other => return ("•", other.replace('_', " ")),
    };
    (symbol, label.to_string())
}

/// The reason without a leading restatement of the kind (`deactivated: queue 0 ≤ …` under
/// the label "Deactivated" reads as `queue 0 ≤ …`).
pub fn plain_reason<'a>(label: &str, reason: &'a str) -> &'a str {
    match reason.split_once(':') {
        Some((head, rest)) if head.trim().eq_ignore_ascii_case(label) => rest.trim_start(),
        _ => reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(t_ms: u64, kind: &str) -> ScaleEvent {
        ScaleEvent {
            t_ms,
            kind: kind.into(),
            reason: format!("{kind} at {t_ms}"),
        }
    }

    #[test]
    fn newest_first_bounded_with_stable_keys() {
        let samples = vec![
            Sample {
                seq: 1,
                events: vec![event(1, "activated"), event(2, "scale_up")],
                ..Default::default()
            },
            Sample {
                seq: 2,
                ..Default::default()
            },
            Sample {
                seq: 3,
                events: vec![event(3, "node_added")],
                ..Default::default()
            },
        ];
        let all = recent_events(&samples, 10);
        let times: Vec<u64> = all.iter().map(|e| e.event.t_ms).collect();
        assert_eq!(times, [3, 2, 1]);
        assert_eq!(all[0].key, (3, 0));
        assert_eq!(all[1].key, (1, 1));
        assert_eq!(recent_events(&samples, 2).len(), 2);
        assert!(recent_events(&[], 5).is_empty());
    }

    #[test]
    fn reasons_do_not_repeat_the_label() {
        assert_eq!(
            plain_reason("Deactivated", "deactivated: queue 0 ≤ activation 0"),
            "queue 0 ≤ activation 0"
        );
        assert_eq!(
            plain_reason("Scale up", "scale 3 → 8: queue 40 / target 5 = 8"),
            "scale 3 → 8: queue 40 / target 5 = 8"
        );
    }

    #[test]
    fn kinds_have_readable_labels() {
        assert_eq!(kind_label("scale_up"), ("▲", "Scale up".to_string()));
        assert_eq!(kind_label("hpa_resync"), ("•", "hpa resync".to_string()));
        // The model's kinds for a metric that cannot be read (storage unreachable).
        let (_, failed) = kind_label("metric_failed");
        assert_eq!(
            plain_reason(&failed, "metric failed: queue unreadable (failure 1)"),
            "queue unreadable (failure 1)"
        );
        let (_, fallback) = kind_label("fallback_activated");
        assert_eq!(
            plain_reason(&fallback, "fallback active: metric failed 4 times in a row"),
            "metric failed 4 times in a row"
        );
        assert_eq!(kind_label("metric_recovered").1, "Metric recovered");
    }
}
