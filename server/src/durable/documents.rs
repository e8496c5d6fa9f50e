//! The answers of the Durable Functions-shaped API, built from a run's document: the status
//! document and the management URIs, in `protocol`'s types.

use axum::http::{header, HeaderMap};
use protocol::durable::{ManagementUris, StatusDocument};
use protocol::routes;
use protocol::timestamp::rfc3339;

use crate::orchestrator::RunDocument;

/// A run's status document, with its history when asked.
pub fn status_document(doc: &RunDocument, show_history: bool) -> StatusDocument {
    let state = &doc.state;
    StatusDocument {
        name: state.name().to_string(),
        instance_id: state.id().to_string(),
        runtime_status: state.runtime_status(),
        input: doc.input.clone(),
        custom_status: state.progress(),
        // Durable Functions reports an output only once the run is over.
        output: state.is_terminal().then(|| state.output()),
        created_time: rfc3339(state.created_ms()),
        last_updated_time: rfc3339(state.last_updated_ms()),
        terminate_reason: state.terminate_reason().map(str::to_string),
        history_events: show_history.then(|| {
            state
                .history()
                .map(|e| serde_json::to_value(e).unwrap_or_default())
                .collect()
        }),
    }
}

/// The management URIs of a run, absolute, as Durable Functions returns them. They never carry
/// the operator key: a caller who has it already knows it, and URLs end up in logs and
/// histories.
pub fn management_uris(base: &str, id: &str) -> ManagementUris {
    let instance = format!("{base}{}", routes::instance(id));
    ManagementUris {
        id: id.to_string(),
        status_query_get_uri: instance.clone(),
        send_event_post_uri: format!("{instance}/raiseEvent/{{eventName}}"),
        terminate_post_uri: format!("{instance}/terminate?reason={{text}}"),
        purge_history_delete_uri: instance.clone(),
        restart_post_uri: format!("{instance}/restart"),
        suspend_post_uri: format!("{instance}/suspend?reason={{text}}"),
        resume_post_uri: format!("{instance}/resume?reason={{text}}"),
    }
}

/// `scheme://host` of the request, so the URIs can be followed as given. `X-Forwarded-Proto`
/// and `X-Forwarded-Host` are believed only when `trust_forwarded` says a proxy in front sets
/// them; otherwise anyone could make the server hand out links to another host.
pub fn base_url(headers: &HeaderMap, trust_forwarded: bool) -> String {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let forwarded = |name: &str| if trust_forwarded { get(name) } else { None };
    let scheme = forwarded("x-forwarded-proto")
        .filter(|s| matches!(*s, "http" | "https"))
        .unwrap_or("http");
    let host = forwarded("x-forwarded-host")
        .or_else(|| get(header::HOST.as_str()))
        .unwrap_or("localhost");
    format!("{scheme}://{host}")
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn uris_are_absolute_and_never_carry_a_key() {
        let uris = management_uris("http://h:1", "abc");
        assert_eq!(
            uris.status_query_get_uri,
            "http://h:1/runtime/webhooks/durabletask/instances/abc"
        );
        assert_eq!(
            uris.terminate_post_uri,
            "http://h:1/runtime/webhooks/durabletask/instances/abc/terminate?reason={text}"
        );
        assert_eq!(
            uris.send_event_post_uri,
            "http://h:1/runtime/webhooks/durabletask/instances/abc/raiseEvent/{eventName}"
        );
        assert!(!serde_json::to_string(&uris).unwrap().contains("code="));
    }

    #[test]
    fn forwarded_headers_count_only_behind_a_trusted_proxy() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("internal:3000"));
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        headers.insert(
            "x-forwarded-host",
            HeaderValue::from_static("demo.example.com"),
        );
        assert_eq!(base_url(&headers, false), "http://internal:3000");
        assert_eq!(base_url(&headers, true), "https://demo.example.com");
        headers.insert("x-forwarded-proto", HeaderValue::from_static("javascript"));
        assert_eq!(base_url(&headers, true), "http://demo.example.com");
    }
}
