//! W3C trace context as it travels inside Scaleboard's messages.
//!
//! A queue has no headers to carry a trace, so the work-item message and the event a worker
//! posts carry the `traceparent` (and `tracestate`, when there is one) of the span that sent
//! them, as extra JSON fields. Both are optional: a message from an older sender, from Event
//! Grid or from a process that does not export traces has none and still parses.

use serde::{Deserialize, Serialize};

/// The W3C `traceparent` and `tracestate` of the span that sent a message.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceContext {
    /// `00-{trace id}-{parent span id}-{flags}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    /// Vendor-specific trace state, passed on unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracestate: Option<String>,
}

impl TraceContext {
    /// No trace to continue.
    pub fn is_empty(&self) -> bool {
        self.traceparent.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_context_writes_no_fields() {
        assert_eq!(
            serde_json::to_value(TraceContext::default()).unwrap(),
            serde_json::json!({})
        );
        let parsed: TraceContext = serde_json::from_str("{}").unwrap();
        assert!(parsed.is_empty());
    }
}
