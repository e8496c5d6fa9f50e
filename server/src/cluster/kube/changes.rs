//! Scaling events for the timeline, from the difference between two observations.
//!
//! Each watcher keeps a small summary of what it last saw (node readiness by name, the HPA's
//! desired replicas, the ScaledObject's conditions) and turns the change into [`ScaleEvent`]s
//! named like the local model's (`scale_up`, `activated`, `node_ready`, …), so the timeline reads
//! the same whichever view feeds it.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Event;
use protocol::live::ScaleEvent;

use super::fold::{Condition, ScalerConditions};

fn event(t_ms: u64, kind: &str, reason: String) -> ScaleEvent {
    ScaleEvent {
        t_ms,
        kind: kind.into(),
        reason,
    }
}

/// Node readiness by node name.
pub type NodeReadiness = BTreeMap<String, bool>;

/// Nodes that appeared, left, became ready or stopped being ready.
pub fn node_changes(t_ms: u64, before: &NodeReadiness, after: &NodeReadiness) -> Vec<ScaleEvent> {
    let mut events = Vec::new();
    for (name, &ready) in after {
        match before.get(name) {
            None if ready => events.push(event(
                t_ms,
                "node_added",
                format!("node {name} added, ready"),
            )),
            None => events.push(event(
                t_ms,
                "node_added",
                format!("node {name} added, not ready yet"),
            )),
            Some(false) if ready => {
                events.push(event(t_ms, "node_ready", format!("node {name} ready")))
            }
            Some(true) if !ready => events.push(event(
                t_ms,
                "node_not_ready",
                format!("node {name} not ready"),
            )),
            Some(_) => {}
        }
    }
    for name in before.keys().filter(|name| !after.contains_key(*name)) {
        events.push(event(t_ms, "node_removed", format!("node {name} removed")));
    }
    events
}

/// A change of the HPA's desired replicas. Only changes between two known values are events:
/// the first value seen is where the timeline starts, not a decision.
pub fn replica_change(
    t_ms: u64,
    hpa: &str,
    before: Option<u32>,
    after: Option<u32>,
) -> Option<ScaleEvent> {
    let (Some(from), Some(to)) = (before, after) else {
        return None;
    };
    let kind = match to.cmp(&from) {
        std::cmp::Ordering::Equal => return None,
        std::cmp::Ordering::Greater => "scale_up",
        std::cmp::Ordering::Less if to == 0 => "scale_to_zero",
        std::cmp::Ordering::Less => "scale_down",
    };
    Some(event(
        t_ms,
        kind,
        format!("scale {from} → {to} (HPA {hpa})"),
    ))
}

/// Changes of the ScaledObject's `Active`, `Fallback` and `Ready` conditions.
pub fn scaler_changes(
    t_ms: u64,
    name: &str,
    before: &ScalerConditions,
    after: &ScalerConditions,
) -> Vec<ScaleEvent> {
    let is_true = |c: &Option<Condition>| c.as_ref().is_some_and(Condition::is_true);
    let why = |c: &Option<Condition>| {
        c.as_ref()
            .map(|c| {
                if c.message.is_empty() {
                    &c.reason
                } else {
                    &c.message
                }
            })
            .filter(|text| !text.is_empty())
            .map(|text| format!(": {text}"))
            .unwrap_or_default()
    };
    let mut events = Vec::new();
    match (is_true(&before.active), is_true(&after.active)) {
        (false, true) => events.push(event(
            t_ms,
            "activated",
            format!("ScaledObject {name} active{}", why(&after.active)),
        )),
        (true, false) => events.push(event(
            t_ms,
            "deactivated",
            format!("ScaledObject {name} inactive{}", why(&after.active)),
        )),
        _ => {}
    }
    match (is_true(&before.fallback), is_true(&after.fallback)) {
        (false, true) => events.push(event(
            t_ms,
            "fallback",
            format!("ScaledObject {name} in fallback{}", why(&after.fallback)),
        )),
        (true, false) => events.push(event(
            t_ms,
            "fallback_ended",
            format!("ScaledObject {name} out of fallback"),
        )),
        _ => {}
    }
    // `Ready` goes false when KEDA cannot read the queue (credentials, a wrong queue name): the
    // timeline says so. A ScaledObject becoming ready the first time is not news.
    let was_ready = before.ready.as_ref().map(Condition::is_true);
    match (was_ready, is_true(&after.ready)) {
        (Some(true), false) => events.push(event(
            t_ms,
            "scaler_not_ready",
            format!("ScaledObject {name} not ready{}", why(&after.ready)),
        )),
        (Some(false), true) => events.push(event(
            t_ms,
            "scaler_ready",
            format!("ScaledObject {name} ready again"),
        )),
        _ => {}
    }
    events
}

/// The cluster autoscaler's own account of a decision, from its Kubernetes Events on the
/// worker pods: asked for nodes, could not, or is removing one.
pub fn autoscaler_event(t_ms: u64, recorded: &Event) -> Option<ScaleEvent> {
    let kind = match recorded.reason.as_deref()? {
        "TriggeredScaleUp" => "node_scale_up",
        "NotTriggerScaleUp" => "node_scale_up_blocked",
        "ScaleDown" | "ScaleDownEmpty" => "node_scale_down",
        _ => return None,
    };
    let message = recorded.message.as_deref().unwrap_or_default().trim();
    Some(event(t_ms, kind, format!("cluster autoscaler: {message}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readiness(nodes: &[(&str, bool)]) -> NodeReadiness {
        nodes.iter().map(|(n, r)| (n.to_string(), *r)).collect()
    }

    fn kinds(events: &[ScaleEvent]) -> Vec<&str> {
        events.iter().map(|e| e.kind.as_str()).collect()
    }

    #[test]
    fn node_arrivals_readiness_and_departures_are_events() {
        let before = readiness(&[("a", true), ("b", false), ("c", true)]);
        let after = readiness(&[("a", true), ("b", true), ("d", false)]);
        let events = node_changes(7, &before, &after);
        assert_eq!(kinds(&events), ["node_ready", "node_added", "node_removed"]);
        assert_eq!(events[0].reason, "node b ready");
        assert_eq!(events[1].reason, "node d added, not ready yet");
        assert_eq!(events[2].reason, "node c removed");
        assert!(events.iter().all(|e| e.t_ms == 7));
        assert!(node_changes(7, &after, &after).is_empty());
        assert_eq!(
            kinds(&node_changes(
                7,
                &readiness(&[("a", true)]),
                &readiness(&[("a", false)])
            )),
            ["node_not_ready"]
        );
    }

    #[test]
    fn desired_replica_changes_are_scale_events() {
        let hpa = "keda-hpa-scaleboard-worker";
        let up = replica_change(1, hpa, Some(3), Some(8)).unwrap();
        assert_eq!(up.kind, "scale_up");
        assert_eq!(up.reason, "scale 3 → 8 (HPA keda-hpa-scaleboard-worker)");
        assert_eq!(
            replica_change(1, hpa, Some(8), Some(2)).unwrap().kind,
            "scale_down"
        );
        assert_eq!(
            replica_change(1, hpa, Some(2), Some(0)).unwrap().kind,
            "scale_to_zero"
        );
        assert_eq!(replica_change(1, hpa, Some(2), Some(2)), None);
        assert_eq!(replica_change(1, hpa, None, Some(2)), None);
        assert_eq!(replica_change(1, hpa, Some(2), None), None);
    }

    fn condition(status: &str, message: &str) -> Option<Condition> {
        Some(Condition {
            status: status.into(),
            reason: String::new(),
            message: message.into(),
        })
    }

    #[test]
    fn scaled_object_condition_changes_are_events() {
        let idle = ScalerConditions {
            ready: condition("True", ""),
            active: condition("False", ""),
            fallback: condition("False", ""),
        };
        let busy = ScalerConditions {
            active: condition("True", "Scaling is performed because triggers are active"),
            ..idle.clone()
        };
        let events = scaler_changes(1, "scaleboard-worker", &idle, &busy);
        assert_eq!(kinds(&events), ["activated"]);
        assert_eq!(
            events[0].reason,
            "ScaledObject scaleboard-worker active: Scaling is performed because triggers are active"
        );
        assert_eq!(
            kinds(&scaler_changes(1, "so", &busy, &idle)),
            ["deactivated"]
        );

        let failing = ScalerConditions {
            ready: condition("False", "error reading queue length: 403"),
            fallback: condition(
                "True",
                "At least one trigger is falling back on this scaled object",
            ),
            ..busy.clone()
        };
        let events = scaler_changes(1, "so", &busy, &failing);
        assert_eq!(kinds(&events), ["fallback", "scaler_not_ready"]);
        assert_eq!(
            events[1].reason,
            "ScaledObject so not ready: error reading queue length: 403"
        );
        assert_eq!(
            kinds(&scaler_changes(1, "so", &failing, &busy)),
            ["fallback_ended", "scaler_ready"]
        );
        // The first status KEDA writes is not a change of readiness.
        let fresh = ScalerConditions::default();
        assert_eq!(
            kinds(&scaler_changes(1, "so", &fresh, &idle)),
            Vec::<&str>::new()
        );
    }

    #[test]
    fn cluster_autoscaler_events_are_kept_by_reason() {
        let recorded = |reason: &str, message: &str| Event {
            reason: Some(reason.into()),
            message: Some(message.into()),
            ..Event::default()
        };
        let up = autoscaler_event(
            1,
            &recorded(
                "TriggeredScaleUp",
                "pod triggered scale-up: [{aks-compute-123 1->3 (max: 5)}]",
            ),
        )
        .unwrap();
        assert_eq!(up.kind, "node_scale_up");
        assert_eq!(
            up.reason,
            "cluster autoscaler: pod triggered scale-up: [{aks-compute-123 1->3 (max: 5)}]"
        );
        assert_eq!(
            autoscaler_event(
                1,
                &recorded("NotTriggerScaleUp", "max node group size reached")
            )
            .unwrap()
            .kind,
            "node_scale_up_blocked"
        );
        assert_eq!(
            autoscaler_event(
                1,
                &recorded("ScaleDown", "deleting pod for node scale down")
            )
            .unwrap()
            .kind,
            "node_scale_down"
        );
        assert_eq!(
            autoscaler_event(1, &recorded("Scheduled", "assigned")),
            None
        );
    }
}
