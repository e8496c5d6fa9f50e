//! Traces: the process's `tracing` subscriber, with OpenTelemetry export when a collector is
//! configured, and the W3C trace context that carries one item's trace across the queues.
//!
//! Export follows OpenTelemetry's standard settings: it is on when `OTEL_EXPORTER_OTLP_ENDPOINT`
//! or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set (OTLP over HTTP/protobuf), named by
//! `OTEL_SERVICE_NAME` (else the binary's default), batched as `OTEL_BSP_*` say. Without an
//! endpoint no OpenTelemetry layer is installed and no exporter thread started: spans are only
//! log context, and injecting or extracting a trace context does nothing.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{Span as _, TraceContextExt, Tracer as _, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use opentelemetry_sdk::Resource;
use protocol::trace::TraceContext;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::logging::LogFormat;

/// The tracer of an exporting process; unset when nothing is exported.
static TRACER: OnceLock<SdkTracer> = OnceLock::new();

/// The exporter of a process, to be flushed before it exits.
#[derive(Debug)]
#[must_use = "call `shutdown` before exiting, or the last spans are lost"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Whether spans are exported.
    pub fn exporting(&self) -> bool {
        self.provider.is_some()
    }

    /// Exports the spans still buffered and stops the exporter (waits at most a few seconds
    /// for the collector).
    pub fn shutdown(self) {
        if let Some(provider) = self.provider {
            if let Err(error) = provider.shutdown_with_timeout(Duration::from_secs(5)) {
                tracing::warn!("flushing traces: {error}");
            }
        }
    }
}

/// Installs the global subscriber: logs as [`LogFormat`] says (`RUST_LOG` wins over
/// `default_filter`), and span export when the environment configures it, as service
/// `OTEL_SERVICE_NAME` or `default_service`.
pub fn init(format: LogFormat, default_filter: &str, default_service: &str) -> Telemetry {
    let env = |key: &str| std::env::var(key).ok();
    let (provider, failure) = if export_configured(env) {
        match provider(&service_name(env, default_service)) {
            Ok(provider) => (Some(provider), None),
            Err(error) => (None, Some(error)),
        }
    } else {
        (None, None)
    };
    let otel = provider.as_ref().map(|provider| {
        let tracer = provider.tracer("scaleboard");
        let _ = TRACER.set(tracer.clone());
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_location(false)
    });
    let fmt = match format {
        LogFormat::Text => tracing_subscriber::fmt::layer().boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer().json().boxed(),
    };
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel)
        .init();
    if let Some(error) = failure {
        tracing::warn!("traces are not exported: {error}");
    }
    Telemetry { provider }
}

/// Export is on when an OTLP endpoint is configured and the SDK is not disabled.
fn export_configured(env: impl Fn(&str) -> Option<String>) -> bool {
    let set = |key: &str| env(key).is_some_and(|value| !value.trim().is_empty());
    let disabled = env("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
        || env("OTEL_TRACES_EXPORTER").is_some_and(|v| v.trim().eq_ignore_ascii_case("none"));
    !disabled && (set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
}

fn service_name(env: impl Fn(&str) -> Option<String>, default: &str) -> String {
    env("OTEL_SERVICE_NAME")
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| default.to_string())
}

/// An OTLP/HTTP exporter behind the SDK's batch processor, which reads the endpoint, headers,
/// timeout and `OTEL_BSP_*` from the environment itself.
fn provider(service: &str) -> Result<SdkTracerProvider, String> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
        .map_err(|e| format!("cannot build the OTLP exporter: {e}"))?;
    let resource = Resource::builder().with_service_name(service.to_string());
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource.build())
        .build())
}

/// Whether this process exports spans (so trace contexts are worth reading and writing).
pub fn exporting() -> bool {
    TRACER.get().is_some()
}

/// The W3C trace context of `span`, to send along with a message; empty when nothing is
/// exported (or the span is disabled).
pub fn context_of(span: &tracing::Span) -> TraceContext {
    if TRACER.get().is_none() {
        return TraceContext::default();
    }
    inject(&span.context())
}

/// Makes `span` continue the trace a message carried; does nothing for a message without one,
/// or when nothing is exported.
pub fn continue_trace(span: &tracing::Span, trace: &TraceContext) {
    if TRACER.get().is_none() || trace.is_empty() {
        return;
    }
    let parent = extract(trace);
    if parent.span().span_context().is_valid() {
        // Fails only for a span that already started a trace of its own: then it keeps it.
        let _ = span.set_parent(parent);
    }
}

/// Records a span that is over already, with the times it began and ended, as a child of the
/// trace a message carried: how long a message waited in its queue is only known once it is
/// received. Nothing when nothing is exported or the message carried no trace.
pub fn record_past_span(
    name: &'static str,
    trace: &TraceContext,
    start: SystemTime,
    end: SystemTime,
    attributes: &[(&'static str, String)],
) {
    let Some(tracer) = TRACER.get() else {
        return;
    };
    let parent = extract(trace);
    if !parent.span().span_context().is_valid() {
        return;
    }
    let mut span = tracer
        .span_builder(name)
        .with_start_time(start)
        .with_attributes(
            attributes
                .iter()
                .map(|(key, value)| KeyValue::new(*key, value.clone())),
        )
        .start_with_context(tracer, &parent);
    span.end_with_timestamp(end.max(start));
}

fn inject(context: &Context) -> TraceContext {
    let mut fields = HashMap::new();
    TraceContextPropagator::new().inject_context(context, &mut fields);
    TraceContext {
        traceparent: fields.remove("traceparent"),
        tracestate: fields.remove("tracestate").filter(|s| !s.is_empty()),
    }
}

fn extract(trace: &TraceContext) -> Context {
    let mut fields = HashMap::new();
    if let Some(traceparent) = &trace.traceparent {
        fields.insert("traceparent".to_string(), traceparent.clone());
    }
    if let Some(tracestate) = &trace.tracestate {
        fields.insert("tracestate".to_string(), tracestate.clone());
    }
    TraceContextPropagator::new().extract(&fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_sdk::trace::InMemorySpanExporter;
    use tracing_subscriber::layer::SubscriberExt;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |key| map.get(key).cloned()
    }

    #[test]
    fn export_needs_an_endpoint_and_no_opt_out() {
        assert!(!export_configured(env_of(&[])));
        assert!(!export_configured(env_of(&[(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            " "
        )])));
        assert!(export_configured(env_of(&[(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "http://collector:4318"
        )])));
        assert!(export_configured(env_of(&[(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://collector:4318/v1/traces"
        )])));
        for opt_out in [
            ("OTEL_SDK_DISABLED", "true"),
            ("OTEL_TRACES_EXPORTER", "none"),
        ] {
            assert!(!export_configured(env_of(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
                opt_out,
            ])));
        }
    }

    #[test]
    fn the_service_name_defaults_to_the_binary_s() {
        assert_eq!(service_name(env_of(&[]), "scaleboard"), "scaleboard");
        assert_eq!(
            service_name(env_of(&[("OTEL_SERVICE_NAME", "")]), "scaleboard"),
            "scaleboard"
        );
        assert_eq!(
            service_name(env_of(&[("OTEL_SERVICE_NAME", "sb-prod")]), "scaleboard"),
            "sb-prod"
        );
    }

    /// What the fan-out and the worker do, in one process: the context injected into a work
    /// item on one side and extracted on the other makes the worker's span a child of the
    /// sender's, in the same trace.
    #[test]
    fn a_context_carried_in_a_work_item_continues_the_trace() {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let tracer = provider.tracer("test");
        let _ = TRACER.set(tracer.clone());
        let subscriber =
            tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(tracer));

        let message = tracing::subscriber::with_default(subscriber, || {
            let sender = tracing::info_span!("item.fan_out");
            let work = protocol::work::WorkItem {
                run_created_ms: None,
                run_id: "r".into(),
                item: 1,
                input_blob: "r/000001.json".into(),
                trace: context_of(&sender),
            };
            drop(sender);
            let text = serde_json::to_string(&work).unwrap();

            let received: protocol::work::WorkItem = serde_json::from_str(&text).unwrap();
            let receiver = tracing::info_span!("item.process");
            continue_trace(&receiver, &received.trace);
            receiver.in_scope(|| tracing::info_span!("item.compute").in_scope(|| {}));
            let now = SystemTime::now();
            record_past_span(
                "item.queue_wait",
                &received.trace,
                now - Duration::from_millis(5),
                now,
                &[("dequeue_count", "1".into())],
            );
            text
        });
        provider.force_flush().unwrap();

        let spans = exporter.get_finished_spans().unwrap();
        let by_name = |name: &str| {
            spans
                .iter()
                .find(|s| s.name == name)
                .unwrap_or_else(|| panic!("no span {name} in {spans:?}"))
        };
        let sender = by_name("item.fan_out");
        let receiver = by_name("item.process");
        let compute = by_name("item.compute");
        let wait = by_name("item.queue_wait");
        let trace_id = sender.span_context.trace_id();
        assert!(message.contains(&format!("\"traceparent\":\"00-{trace_id}-")));
        for span in [receiver, compute, wait] {
            assert_eq!(span.span_context.trace_id(), trace_id, "{}", span.name);
        }
        assert_eq!(receiver.parent_span_id, sender.span_context.span_id());
        assert_eq!(wait.parent_span_id, sender.span_context.span_id());
        assert_eq!(compute.parent_span_id, receiver.span_context.span_id());
        assert!(receiver.parent_span_is_remote);
    }

    #[test]
    fn a_message_without_a_context_starts_nothing() {
        assert!(
            extract(&TraceContext::default())
                .span()
                .span_context()
                .trace_id()
                == opentelemetry::trace::TraceId::INVALID
        );
        let garbage = TraceContext {
            traceparent: Some("not a traceparent".into()),
            tracestate: None,
        };
        assert!(!extract(&garbage).span().span_context().is_valid());
    }
}
