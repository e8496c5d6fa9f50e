//! The fan-in's span for each item whose event carries a trace: the last step of the item's
//! trace, from the batch's receipt to its run's state being stored (or refused).
//!
//! The events are read again here, apart from the triage rule, and only when traces are
//! exported: without a collector this costs nothing.

use std::collections::HashMap;

use protocol::events::{parse_events, ItemEvent};

use super::triage::Applied;

/// Open `item.fan_in` spans, by run id.
#[derive(Default)]
pub(super) struct ItemSpans {
    by_run: HashMap<String, Vec<tracing::Span>>,
}

impl ItemSpans {
    /// A span for each traced item event in `texts`, continuing the item's trace.
    pub(super) fn open<'a>(texts: impl Iterator<Item = &'a str>) -> ItemSpans {
        let mut spans = ItemSpans::default();
        if !plumbing::telemetry::exporting() {
            return spans;
        }
        for event in texts.filter_map(|text| parse_events(text).ok()).flatten() {
            let trace = event.trace();
            if trace.is_empty() {
                continue;
            }
            let (run, item, kind) = match event.item_event() {
                Ok(ItemEvent::Completed { run_id, item, .. }) => (run_id, item, "completed"),
                Ok(ItemEvent::Failed { run_id, item, .. }) => (run_id, item, "failed"),
                Err(_) => continue,
            };
            let span = tracing::info_span!(
                parent: None,
                "item.fan_in",
                run = %run,
                item,
                event = kind,
                applied = tracing::field::Empty,
            );
            plumbing::telemetry::continue_trace(&span, &trace);
            spans.by_run.entry(run).or_default().push(span);
        }
        spans
    }

    /// Ends the spans of `run`'s items, saying how applying them went.
    pub(super) fn close(&mut self, run: &str, applied: &Applied) {
        for span in self.by_run.remove(run).unwrap_or_default() {
            span.record("applied", tracing::field::debug(applied));
        }
    }
}
