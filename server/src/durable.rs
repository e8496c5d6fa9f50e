//! The Durable Functions-shaped HTTP API, so `curl` habits from the original demo keep working.
//!
//! Same routes, field names, status codes and headers as the Durable Functions HTTP API:
//! `POST /api/orchestrators/ComputeOrchestrator?inputCount=N` answers 202 with a `Location`
//! header and management URIs; the status query answers 202 while the run is not finished and
//! 200 once it is.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use orchestration::{Event, RunId, RuntimeStatus};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::app::AppState;
use crate::error::ApiError;
use crate::orchestrator::{RunDocument, RunInput, ORCHESTRATOR};
use crate::sampler::now_ms;

/// Where the instance routes live, as in Durable Functions.
pub const INSTANCES: &str = "/runtime/webhooks/durabletask/instances";
/// Header carrying the paging token of the instance list.
const CONTINUATION: &str = "x-ms-continuation-token";

/// Limits and protection of the API.
#[derive(Clone, Debug)]
pub struct ApiSettings {
    /// When set, mutating calls need it (`code=` or `Authorization: Bearer`).
    pub api_key: Option<String>,
    pub max_input_count: u32,
    pub max_cost: u32,
    /// Cost per item when a start request names none.
    pub default_cost: u32,
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/orchestrators/{name}", post(start))
        .route(INSTANCES, get(list))
        .route(&format!("{INSTANCES}/{{id}}"), get(status).delete(purge))
        .route(&format!("{INSTANCES}/{{id}}/terminate"), post(terminate))
        .route(&format!("{INSTANCES}/{{id}}/suspend"), post(suspend))
        .route(&format!("{INSTANCES}/{{id}}/resume"), post(resume))
        .route(&format!("{INSTANCES}/{{id}}/restart"), post(restart))
        .route(
            &format!("{INSTANCES}/{{id}}/raiseEvent/{{event}}"),
            post(raise_event),
        )
}

type Params = Query<HashMap<String, String>>;

/// `POST /api/orchestrators/{name}?inputCount=N[&cost=C][&failEvery=K]`
async fn start(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(params): Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&state, &params, &headers)?;
    if name != ORCHESTRATOR {
        return Err(ApiError::not_found(format!(
            "no orchestrator named `{name}`; the orchestrator is `{ORCHESTRATOR}`"
        )));
    }
    let settings = &state.api;
    let input_count = match params.get("inputCount") {
        None => {
            return Err(ApiError::bad_request(
                "inputCount is missing: add ?inputCount=N (the number of items, e.g. 100)",
            ))
        }
        Some(text) => parse_count("inputCount", text, 1, settings.max_input_count)?,
    };
    let cost = match params.get("cost") {
        None => settings.default_cost,
        Some(text) => parse_count("cost", text, 0, settings.max_cost)?,
    };
    let fail_every = match params.get("failEvery") {
        None => 0,
        Some(text) => parse_count("failEvery", text, 0, input_count)?,
    };
    let doc = state
        .engine
        .start_run(
            ORCHESTRATOR,
            RunInput {
                input_count,
                cost,
                fail_every,
            },
        )
        .await?;
    Ok(started(&headers, &doc, settings.api_key.as_deref()))
}

/// 202 for a new run: `Location` is its status URI, the body its management URIs.
fn started(headers: &HeaderMap, doc: &RunDocument, api_key: Option<&str>) -> Response {
    let uris = management_uris(&base_url(headers), doc.state.id().as_str(), api_key);
    let location = uris["statusQueryGetUri"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    accepted(&location, Json(uris))
}

/// `GET …/instances/{id}[?showHistory=true]`: 202 while running, 200 when finished.
async fn status(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let doc = state.engine.get(&id).await?;
    let show_history = flag(&params, "showHistory")?;
    let body = Json(status_json(&doc, show_history));
    if doc.state.is_terminal() {
        Ok((StatusCode::OK, body).into_response())
    } else {
        let location = format!("{}{INSTANCES}/{id}", base_url(&headers));
        Ok(accepted(&location, body))
    }
}

/// `GET …/instances?runtimeStatus=…&createdTimeFrom=…&createdTimeTo=…&top=N`
async fn list(
    State(state): State<AppState>,
    Query(params): Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let statuses = match params.get("runtimeStatus") {
        None => None,
        Some(text) => Some(
            text.split(',')
                .map(|s| parse_status(s.trim()))
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    let from = params
        .get("createdTimeFrom")
        .map(|t| parse_time("createdTimeFrom", t))
        .transpose()?;
    let to = params
        .get("createdTimeTo")
        .map(|t| parse_time("createdTimeTo", t))
        .transpose()?;
    let top = match params.get("top") {
        None => None,
        Some(text) => Some(parse_count("top", text, 1, 10_000)? as usize),
    };
    let skip = match headers.get(CONTINUATION) {
        None => 0,
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .ok_or_else(|| {
                ApiError::bad_request(format!("{CONTINUATION} is not a token this server issued"))
            })?,
    };
    let matching: Vec<RunDocument> = state
        .engine
        .list()
        .await
        .into_iter()
        .filter(|doc| {
            statuses
                .as_ref()
                .is_none_or(|s| s.contains(&doc.state.runtime_status()))
                && from.is_none_or(|from| doc.state.created_ms() >= from)
                && to.is_none_or(|to| doc.state.created_ms() <= to)
        })
        .collect();
    let end = top.map_or(matching.len(), |top| (skip + top).min(matching.len()));
    let page: Vec<Value> = matching
        .get(skip.min(matching.len())..end)
        .unwrap_or_default()
        .iter()
        .map(|doc| status_json(doc, false))
        .collect();
    let mut response = Json(page).into_response();
    if end < matching.len() {
        response
            .headers_mut()
            .insert(CONTINUATION, HeaderValue::from(end as u64));
    }
    Ok(response)
}

/// `POST …/{id}/terminate?reason=…`
async fn terminate(
    state: State<AppState>,
    path: Path<String>,
    params: Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    lifecycle(state, path, params, headers, |reason, at| {
        Event::TerminateRequested {
            reason: reason.unwrap_or_else(|| "terminated".into()),
            at,
        }
    })
    .await
}

/// `POST …/{id}/suspend`
async fn suspend(
    state: State<AppState>,
    path: Path<String>,
    params: Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    lifecycle(state, path, params, headers, |_, at| {
        Event::SuspendRequested { at }
    })
    .await
}

/// `POST …/{id}/resume`
async fn resume(
    state: State<AppState>,
    path: Path<String>,
    params: Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    lifecycle(state, path, params, headers, |_, at| {
        Event::ResumeRequested { at }
    })
    .await
}

/// Terminate, suspend and resume: 202 when accepted, 410 when the run has already finished,
/// as Durable Functions answers.
async fn lifecycle(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Params,
    headers: HeaderMap,
    event: impl FnOnce(Option<String>, u64) -> Event,
) -> Result<Response, ApiError> {
    authorize(&state, &params, &headers)?;
    let id = parse_id(&id)?;
    let current = state.engine.get(&id).await?;
    ensure_running(&current)?;
    let event = event(params.get("reason").cloned(), now_ms());
    state.engine.raise(&id, event).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

/// `POST …/{id}/raiseEvent/{eventName}`: an external completion, as the original demo's Event
/// Grid function raised `ComputeComplete`. Body: `{"item": i, "value": v, "computeMs": ms}` or
/// `{"item": i, "reason": "…"}` for `ComputeFailed`.
async fn raise_event(
    State(state): State<AppState>,
    Path((id, event_name)): Path<(String, String)>,
    Query(params): Params,
    headers: HeaderMap,
    body: Option<Json<Value>>,
) -> Result<Response, ApiError> {
    authorize(&state, &params, &headers)?;
    let id = parse_id(&id)?;
    let Some(Json(body)) = body else {
        return Err(ApiError::bad_request(
            "the body must be JSON, e.g. {\"item\": 3, \"value\": 42} with Content-Type: application/json",
        ));
    };
    let item = body
        .get("item")
        .and_then(Value::as_u64)
        .and_then(|i| u32::try_from(i).ok())
        .ok_or_else(|| {
            ApiError::bad_request("the body needs \"item\": the item number (0-based)")
        })?;
    let at = now_ms();
    let event = match event_name.as_str() {
        "ComputeComplete" => Event::ItemCompleted {
            item,
            result: orchestration::ItemResult {
                value: body.get("value").and_then(Value::as_u64).unwrap_or(0),
                compute_ms: body
                    .get("computeMs")
                    .and_then(Value::as_u64)
                    .and_then(|v| u32::try_from(v).ok())
                    .unwrap_or(0),
            },
            at,
        },
        "ComputeFailed" => Event::ItemFailed {
            item,
            reason: body
                .get("reason")
                .and_then(Value::as_str)
                .unwrap_or("failed (raised event)")
                .to_string(),
            at,
        },
        other => {
            return Err(ApiError::bad_request(format!(
                "unknown event `{other}`: this orchestrator waits for `ComputeComplete` and `ComputeFailed`"
            )))
        }
    };
    let current = state.engine.get(&id).await?;
    ensure_running(&current)?;
    state.engine.raise(&id, event).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

/// `POST …/{id}/restart`: a new run with the same input.
async fn restart(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&state, &params, &headers)?;
    let id = parse_id(&id)?;
    let old = state.engine.get(&id).await?;
    let doc = state.engine.start_run(ORCHESTRATOR, old.input).await?;
    Ok(started(&headers, &doc, state.api.api_key.as_deref()))
}

/// `DELETE …/{id}`: purges a finished run and its blobs; 412 while it is not finished.
async fn purge(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&state, &params, &headers)?;
    let id = parse_id(&id)?;
    state.engine.purge(&id).await?;
    Ok(Json(json!({ "instancesDeleted": 1 })).into_response())
}

fn ensure_running(doc: &RunDocument) -> Result<(), ApiError> {
    let status = doc.state.runtime_status();
    if status.is_terminal() {
        return Err(ApiError {
            status: StatusCode::GONE,
            message: format!(
                "run {} is {status:?} and takes no more events",
                doc.state.id()
            ),
        });
    }
    Ok(())
}

fn accepted(location: &str, body: impl IntoResponse) -> Response {
    let mut response = (StatusCode::ACCEPTED, body).into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    if let Ok(value) = HeaderValue::from_str("10") {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// The status document, in Durable Functions' shape.
pub fn status_json(doc: &RunDocument, show_history: bool) -> Value {
    let state = &doc.state;
    let mut body = json!({
        "name": state.name(),
        "instanceId": state.id().as_str(),
        "runtimeStatus": state.runtime_status(),
        "input": doc.input,
        "customStatus": state.custom_status(),
        "output": if state.is_terminal() { json!(state.output()) } else { Value::Null },
        "createdTime": rfc3339(state.created_ms()),
        "lastUpdatedTime": rfc3339(state.last_updated_ms()),
    });
    if let Some(reason) = state.terminate_reason() {
        body["terminateReason"] = json!(reason);
    }
    if show_history {
        body["historyEvents"] = state.history().map(|e| json!(e)).collect();
    }
    body
}

/// The management URIs of a run, absolute, as Durable Functions returns them.
fn management_uris(base: &str, id: &str, api_key: Option<&str>) -> Value {
    let instance = format!("{base}{INSTANCES}/{id}");
    let code = api_key.map(|k| format!("code={}", urlencode(k)));
    let with = |path: &str, query: Option<&str>| {
        let parts: Vec<&str> = query.into_iter().chain(code.as_deref()).collect();
        if parts.is_empty() {
            format!("{instance}{path}")
        } else {
            format!("{instance}{path}?{}", parts.join("&"))
        }
    };
    json!({
        "id": id,
        "statusQueryGetUri": with("", None),
        "sendEventPostUri": with("/raiseEvent/{eventName}", None),
        "terminatePostUri": with("/terminate", Some("reason={text}")),
        "purgeHistoryDeleteUri": with("", None),
        "restartPostUri": with("/restart", None),
        "suspendPostUri": with("/suspend", Some("reason={text}")),
        "resumePostUri": with("/resume", Some("reason={text}")),
    })
}

/// `scheme://host` of the request, so the URIs can be followed as given (behind a proxy,
/// `X-Forwarded-Proto` and `X-Forwarded-Host` win).
fn base_url(headers: &HeaderMap) -> String {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let scheme = get("x-forwarded-proto").unwrap_or("http");
    let host = get("x-forwarded-host")
        .or_else(|| get(header::HOST.as_str()))
        .unwrap_or("localhost");
    format!("{scheme}://{host}")
}

/// Mutating calls need the key when one is configured.
fn authorize(
    state: &AppState,
    params: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    let Some(key) = state.api.api_key.as_deref() else {
        return Ok(());
    };
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let given = params.get("code").map(String::as_str).or(bearer);
    match given {
        Some(given) if constant_time_eq(given.as_bytes(), key.as_bytes()) => Ok(()),
        _ => Err(ApiError::unauthorized()),
    }
}

/// Compares without an early exit, so response time says nothing about the key.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn parse_id(text: &str) -> Result<RunId, ApiError> {
    RunId::parse(text).map_err(|e| {
        ApiError::bad_request(format!(
            "`{}` is not a valid instance id: {e}",
            truncate(text)
        ))
    })
}

fn parse_count(name: &str, text: &str, min: u32, max: u32) -> Result<u32, ApiError> {
    let value: u64 = text.trim().parse().map_err(|_| {
        ApiError::bad_request(format!(
            "{name} must be a whole number, not `{}`",
            truncate(text)
        ))
    })?;
    if value < u64::from(min) || value > u64::from(max) {
        return Err(ApiError::bad_request(format!(
            "{name} must be between {min} and {max}, not {value}"
        )));
    }
    Ok(value as u32)
}

fn parse_status(text: &str) -> Result<RuntimeStatus, ApiError> {
    serde_json::from_value(json!(text)).map_err(|_| {
        ApiError::bad_request(format!(
            "runtimeStatus `{}` is not one of Pending, Running, Completed, Failed, Terminated, Suspended",
            truncate(text)
        ))
    })
}

fn parse_time(name: &str, text: &str) -> Result<u64, ApiError> {
    let t = OffsetDateTime::parse(text, &Rfc3339).map_err(|_| {
        ApiError::bad_request(format!(
            "{name} must be an RFC 3339 time such as 2026-11-26T18:00:00Z, not `{}`",
            truncate(text)
        ))
    })?;
    Ok(u64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0))
}

fn flag(params: &HashMap<String, String>, name: &str) -> Result<bool, ApiError> {
    match params.get(name).map(|v| v.to_ascii_lowercase()) {
        None => Ok(false),
        Some(v) if v == "true" => Ok(true),
        Some(v) if v == "false" => Ok(false),
        Some(v) => Err(ApiError::bad_request(format!(
            "{name} must be true or false, not `{}`",
            truncate(&v)
        ))),
    }
}

/// RFC 3339 UTC with milliseconds, e.g. `2026-11-26T18:00:00.123Z`.
pub fn rfc3339(ms: u64) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    t.format(&Rfc3339).unwrap_or_default()
}

/// Echoes at most 64 characters of bad input back, so an error never reflects a huge payload.
fn truncate(text: &str) -> String {
    if text.chars().count() > 64 {
        format!("{}…", text.chars().take(64).collect::<String>())
    } else {
        text.to_string()
    }
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_validated_with_a_reason() {
        assert_eq!(parse_count("inputCount", "10", 1, 100).unwrap(), 10);
        for (text, expected) in [
            ("abc", "whole number"),
            ("-1", "whole number"),
            ("0", "between 1 and 100"),
            ("101", "between 1 and 100"),
            ("99999999999999999999999", "whole number"),
        ] {
            let err = parse_count("inputCount", text, 1, 100).unwrap_err();
            assert_eq!(err.status, StatusCode::BAD_REQUEST);
            assert!(err.message.contains(expected), "{text}: {}", err.message);
        }
    }

    #[test]
    fn uris_are_absolute_and_carry_the_key_when_there_is_one() {
        let uris = management_uris("http://h:1", "abc", None);
        assert_eq!(
            uris["statusQueryGetUri"],
            "http://h:1/runtime/webhooks/durabletask/instances/abc"
        );
        assert_eq!(
            uris["terminatePostUri"],
            "http://h:1/runtime/webhooks/durabletask/instances/abc/terminate?reason={text}"
        );
        let uris = management_uris("http://h:1", "abc", Some("k&y"));
        assert_eq!(
            uris["statusQueryGetUri"],
            "http://h:1/runtime/webhooks/durabletask/instances/abc?code=k%26y"
        );
        assert_eq!(
            uris["suspendPostUri"],
            "http://h:1/runtime/webhooks/durabletask/instances/abc/suspend?reason={text}&code=k%26y"
        );
    }

    #[test]
    fn times_are_rfc3339_and_parse_back() {
        assert_eq!(rfc3339(1_764_180_000_123), "2025-11-26T18:00:00.123Z");
        assert_eq!(
            parse_time("t", "2025-11-26T18:00:00.123Z").unwrap(),
            1_764_180_000_123
        );
        assert!(parse_time("t", "yesterday").is_err());
    }

    #[test]
    fn base_url_prefers_forwarded_headers() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("internal:3000"));
        assert_eq!(base_url(&headers), "http://internal:3000");
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        headers.insert(
            "x-forwarded-host",
            HeaderValue::from_static("demo.example.com"),
        );
        assert_eq!(base_url(&headers), "https://demo.example.com");
    }

    #[test]
    fn bad_input_is_not_echoed_in_full() {
        let long = "x".repeat(10_000);
        let err = parse_id(&long).unwrap_err();
        assert!(err.message.len() < 300, "{}", err.message.len());
    }

    #[test]
    fn keys_compare_exactly() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
    }
}
