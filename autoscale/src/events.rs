//! Scaling decisions as events with human reasons, and the bounded log that keeps the latest.

use std::{collections::VecDeque, time::Duration};

use serde::{Deserialize, Serialize};

use crate::secs;

/// How many events [`EventLog`] keeps; older ones are dropped first.
pub const EVENT_LOG_CAPACITY: usize = 500;

/// What kind of decision an event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// KEDA found the trigger active (and scaled 0 → 1 if it was at zero).
    Activated,
    /// KEDA found the trigger inactive; the cooldown to zero starts.
    Deactivated,
    /// The HPA (or KEDA, up to the minimum) raised the desired replicas.
    ScaleUp,
    /// The HPA lowered the desired replicas.
    ScaleDown,
    /// KEDA scaled to zero after the cooldown.
    ScaleToZero,
    /// The cluster autoscaler asked for new nodes.
    NodeAdded,
    /// A new node finished provisioning.
    NodeReady,
    /// The cluster autoscaler removed a node.
    NodeRemoved,
    /// The cluster autoscaler wants nodes but the pool is at its maximum.
    NodePoolFull,
    /// A stopping worker outlived its termination grace and was killed.
    PodKilled,
    /// A running pod's worker exited on its own; the kubelet restarts the container.
    PodRestarted,
    /// The metric could not be read (the queue was unreachable): the first failure of a run.
    MetricFailed,
    /// The metric failed more than `fallback.failureThreshold` times in a row: reads answer the
    /// fallback from now on.
    FallbackActivated,
    /// The metric was read again after failures (and the fallback, if active, stopped).
    MetricRecovered,
}

/// One decision of the model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScaleEvent {
    /// Time since the model started.
    #[serde(with = "secs")]
    pub at: Duration,
    pub kind: EventKind,
    /// Why, in words, e.g. `scale 3 → 8: queue 40 / target 5 = 8`.
    pub reason: String,
}

impl ScaleEvent {
    pub fn new(at: Duration, kind: EventKind, reason: impl Into<String>) -> Self {
        Self {
            at,
            kind,
            reason: reason.into(),
        }
    }
}

/// The latest [`EVENT_LOG_CAPACITY`] events, oldest first.
#[derive(Debug, Clone, Default)]
pub struct EventLog {
    events: VecDeque<ScaleEvent>,
}

impl EventLog {
    pub fn push(&mut self, event: ScaleEvent) {
        if self.events.len() == EVENT_LOG_CAPACITY {
            self.events.pop_front();
        }
        self.events.push_back(event);
    }

    pub fn iter(&self) -> impl Iterator<Item = &ScaleEvent> {
        self.events.iter()
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_keeps_only_the_latest_events() {
        let mut log = EventLog::default();
        assert!(log.is_empty());
        for i in 0..(EVENT_LOG_CAPACITY as u64 + 20) {
            log.push(ScaleEvent::new(
                Duration::from_secs(i),
                EventKind::ScaleUp,
                format!("{i}"),
            ));
        }
        assert_eq!(log.len(), EVENT_LOG_CAPACITY);
        assert!(!log.is_empty());
        assert_eq!(log.iter().next().unwrap().reason, "20");
        assert_eq!(
            log.iter().last().unwrap().at,
            Duration::from_secs(EVENT_LOG_CAPACITY as u64 + 19)
        );
    }
}
