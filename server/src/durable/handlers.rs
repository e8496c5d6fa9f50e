//! One function per route of the Durable Functions-shaped API.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use orchestration::{Event, ItemResult, RunId};
use plumbing::clock::now_ms;
use protocol::durable::{PurgeResult, RunInput, StatusDocument, CONTINUATION_HEADER};
use protocol::routes;

use super::documents::{base_url, management_uris, status_document};
use super::params::{
    check_count, parse_continuation, parse_count, parse_flag, parse_id, parse_statuses, parse_time,
    ApiQuery, LenientJson, ListQuery, RaiseEventBody, ReasonQuery, RestartQuery, StartBody,
    StartQuery, StatusQuery, MAX_TOP,
};
use super::ApiSettings;
use crate::app::AppState;
use crate::error::ApiError;
use crate::orchestrator::{RunDocument, ORCHESTRATOR};

/// `POST /api/orchestrators/{name}?inputCount=N[&cost=C][&failEvery=K]`: the original demo's
/// starter.
pub async fn start_from_query(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiQuery(query): ApiQuery<StartQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_orchestrator(&name)?;
    let input = input_from_query(&state.api, &query)?;
    let doc = state.engine.start_run(ORCHESTRATOR, input).await?;
    Ok(started(&headers, &doc, &state.api))
}

/// `POST /runtime/webhooks/durabletask/orchestrators/{name}`: the built-in start route, with
/// the input as a JSON body (or, with no body, in the query as above).
pub async fn start_from_body(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiQuery(query): ApiQuery<StartQuery>,
    headers: HeaderMap,
    LenientJson(body): LenientJson<StartBody>,
) -> Result<Response, ApiError> {
    check_orchestrator(&name)?;
    let input = match body {
        Some(body) => input_from_body(&state.api, &body)?,
        None => input_from_query(&state.api, &query)?,
    };
    let doc = state.engine.start_run(ORCHESTRATOR, input).await?;
    Ok(started(&headers, &doc, &state.api))
}

/// `POST /runtime/webhooks/durabletask/orchestrators/{name}/{instanceId}`: as above, under an
/// id the caller chose; 409 when a run has it.
pub async fn start_with_id(
    State(state): State<AppState>,
    Path((name, id)): Path<(String, String)>,
    ApiQuery(query): ApiQuery<StartQuery>,
    headers: HeaderMap,
    LenientJson(body): LenientJson<StartBody>,
) -> Result<Response, ApiError> {
    check_orchestrator(&name)?;
    let id = parse_id(&id)?;
    let input = match body {
        Some(body) => input_from_body(&state.api, &body)?,
        None => input_from_query(&state.api, &query)?,
    };
    let doc = state.engine.start_run_as(ORCHESTRATOR, input, id).await?;
    Ok(started(&headers, &doc, &state.api))
}

fn check_orchestrator(name: &str) -> Result<(), ApiError> {
    if name == ORCHESTRATOR {
        Ok(())
    } else {
        Err(ApiError::not_found(format!(
            "no orchestrator named `{}`; the orchestrator is `{ORCHESTRATOR}`",
            super::params::truncate(name)
        )))
    }
}

fn input_from_query(api: &ApiSettings, query: &StartQuery) -> Result<RunInput, ApiError> {
    let Some(count) = &query.input_count else {
        return Err(ApiError::bad_request(
            "inputCount is missing: add ?inputCount=N (the number of items, e.g. 100)",
        ));
    };
    let input_count = parse_count("inputCount", count, 1, api.max_input_count)?;
    let cost = match &query.cost {
        None => api.default_cost,
        Some(text) => parse_count("cost", text, 0, api.max_cost)?,
    };
    let fail_every = match &query.fail_every {
        None => 0,
        Some(text) => parse_count("failEvery", text, 0, input_count)?,
    };
    Ok(RunInput {
        input_count,
        cost,
        fail_every,
    })
}

fn input_from_body(api: &ApiSettings, body: &StartBody) -> Result<RunInput, ApiError> {
    let Some(count) = body.input_count else {
        return Err(ApiError::bad_request(
            "inputCount is missing: send {\"inputCount\": N} (the number of items, e.g. 100)",
        ));
    };
    let input_count = check_count("inputCount", count, 1, api.max_input_count)?;
    let cost = match body.cost {
        None => api.default_cost,
        Some(cost) => check_count("cost", cost, 0, api.max_cost)?,
    };
    let fail_every = match body.fail_every {
        None => 0,
        Some(k) => check_count("failEvery", k, 0, input_count)?,
    };
    Ok(RunInput {
        input_count,
        cost,
        fail_every,
    })
}

/// 202 for a new run: `Location` is its status URI, the body its management URIs.
fn started(headers: &HeaderMap, doc: &RunDocument, api: &ApiSettings) -> Response {
    let uris = management_uris(
        &base_url(headers, api.trust_forwarded),
        doc.state.id().as_str(),
    );
    let location = uris.status_query_get_uri.clone();
    accepted(&location, Json(uris))
}

/// `GET …/instances/{id}[?showHistory=true]`: 202 while running, 200 when finished.
pub async fn status(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<StatusQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let show_history = parse_flag("showHistory", query.show_history.as_deref())?;
    let doc = state.engine.get(&id).await?;
    let body = Json(status_document(&doc, show_history));
    if doc.state.is_terminal() {
        Ok((StatusCode::OK, body).into_response())
    } else {
        let location = format!(
            "{}{}",
            base_url(&headers, state.api.trust_forwarded),
            routes::instance(id.as_str())
        );
        Ok(accepted(&location, body))
    }
}

/// `GET …/instances?runtimeStatus=…&createdTimeFrom=…&createdTimeTo=…&instanceIdPrefix=…&top=N`,
/// paged with
/// `x-ms-continuation-token`.
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ListQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let statuses = query
        .runtime_status
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(parse_statuses)
        .transpose()?;
    let from = query
        .created_time_from
        .as_deref()
        .map(|t| parse_time("createdTimeFrom", t))
        .transpose()?;
    let to = query
        .created_time_to
        .as_deref()
        .map(|t| parse_time("createdTimeTo", t))
        .transpose()?;
    let top = query
        .top
        .as_deref()
        .map(|t| parse_count("top", t, 1, MAX_TOP))
        .transpose()?;
    let token = headers
        .get(CONTINUATION_HEADER)
        .map(|v| v.to_str().unwrap_or("(not text)"))
        .or(query.continuation_token.as_deref());
    let skip = token.map(parse_continuation).transpose()?.unwrap_or(0);

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
                && query
                    .instance_id_prefix
                    .as_deref()
                    .is_none_or(|prefix| doc.state.id().as_str().starts_with(prefix))
        })
        .collect();
    let (range, next) = page(matching.len(), skip, top);
    let body: Vec<StatusDocument> = matching[range]
        .iter()
        .map(|doc| status_document(doc, false))
        .collect();
    let mut response = Json(body).into_response();
    if let Some(next) = next {
        response
            .headers_mut()
            .insert(CONTINUATION_HEADER, HeaderValue::from(next as u64));
    }
    Ok(response)
}

/// The slice of `len` items a page shows, from `skip`, `top` of them (all when `None`), and the
/// token of the next page when there is one. Saturating, so any token is a valid (maybe empty)
/// page and never an overflow.
pub fn page(len: usize, skip: usize, top: Option<u32>) -> (std::ops::Range<usize>, Option<usize>) {
    let start = skip.min(len);
    let end = match top {
        Some(top) => start.saturating_add(top as usize).min(len),
        None => len,
    };
    (start..end, (end < len).then_some(end))
}

/// `POST …/{id}/terminate?reason=…`
pub async fn terminate(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<ReasonQuery>,
) -> Result<Response, ApiError> {
    let reason = query.reason.unwrap_or_else(|| "terminated".into());
    lifecycle(
        &state,
        &id,
        Event::TerminateRequested {
            reason,
            at: now_ms(),
        },
    )
    .await
}

/// `POST …/{id}/suspend`
pub async fn suspend(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    lifecycle(&state, &id, Event::SuspendRequested { at: now_ms() }).await
}

/// `POST …/{id}/resume`
pub async fn resume(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    lifecycle(&state, &id, Event::ResumeRequested { at: now_ms() }).await
}

/// Terminate, suspend and resume: 202 when accepted, 410 when the run has already finished,
/// as Durable Functions answers.
async fn lifecycle(state: &AppState, id: &str, event: Event) -> Result<Response, ApiError> {
    let id = parse_id(id)?;
    state.engine.raise(&id, event).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

/// `POST …/{id}/raiseEvent/{eventName}`: an external completion, as the original demo's Event
/// Grid function raised `ComputeComplete`.
pub async fn raise_event(
    State(state): State<AppState>,
    Path((id, event_name)): Path<(String, String)>,
    LenientJson(body): LenientJson<RaiseEventBody>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let Some(body) = body else {
        return Err(ApiError::bad_request(
            "the body must be JSON, e.g. {\"item\": 3, \"value\": 42} with Content-Type: application/json",
        ));
    };
    let event = external_event(&event_name, &body, now_ms())?;
    state.engine.raise(&id, event).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

/// The engine's event for an external event's name and body.
fn external_event(name: &str, body: &RaiseEventBody, at: u64) -> Result<Event, ApiError> {
    let item = body
        .item
        .and_then(|i| u32::try_from(i).ok())
        .ok_or_else(|| {
            ApiError::bad_request("the body needs \"item\": the item number (0-based)")
        })?;
    match name {
        "ComputeComplete" => {
            let value = body.value.ok_or_else(|| {
                ApiError::bad_request(
                    "a ComputeComplete body needs \"value\": the item's result (a whole number)",
                )
            })?;
            let compute_ms = match body.compute_ms {
                None => 0,
                Some(ms) => u32::try_from(ms).map_err(|_| {
                    ApiError::bad_request(format!(
                        "computeMs must be at most {}, not {ms}",
                        u32::MAX
                    ))
                })?,
            };
            Ok(Event::ItemCompleted {
                item,
                result: ItemResult { value, compute_ms },
                at,
            })
        }
        "ComputeFailed" => Ok(Event::ItemFailed {
            item,
            reason: body
                .reason
                .clone()
                .unwrap_or_else(|| "failed (raised event)".into()),
            at,
        }),
        other => Err(ApiError::bad_request(format!(
            "unknown event `{}`: this orchestrator waits for `ComputeComplete` and `ComputeFailed`",
            super::params::truncate(other)
        ))),
    }
}

/// `POST …/{id}/restart`: a new run with the same input.
pub async fn restart(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<RestartQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let new_id = parse_flag(
        "restartWithNewInstanceId",
        Some(
            query
                .restart_with_new_instance_id
                .as_deref()
                .unwrap_or("true"),
        ),
    )?;
    if !new_id {
        return Err(ApiError::bad_request(
            "restartWithNewInstanceId=false is not supported: a restarted run always gets a new id",
        ));
    }
    let old = state.engine.get(&id).await?;
    let doc = state.engine.start_run(ORCHESTRATOR, old.input).await?;
    Ok(started(&headers, &doc, &state.api))
}

/// `DELETE …/{id}`: purges a finished run and its blobs; 412 while it is not finished.
pub async fn purge(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PurgeResult>, ApiError> {
    let id: RunId = parse_id(&id)?;
    state.engine.purge(&id).await?;
    Ok(Json(PurgeResult {
        instances_deleted: 1,
    }))
}

fn accepted(location: &str, body: impl IntoResponse) -> Response {
    let mut response = (StatusCode::ACCEPTED, body).into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("10"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_never_overflow_and_say_where_the_next_starts() {
        assert_eq!(page(10, 0, None), (0..10, None));
        assert_eq!(page(10, 0, Some(4)), (0..4, Some(4)));
        assert_eq!(page(10, 8, Some(4)), (8..10, None));
        assert_eq!(page(10, 10, Some(4)), (10..10, None));
        assert_eq!(page(10, usize::MAX, Some(MAX_TOP)), (10..10, None));
        assert_eq!(page(0, 3, None), (0..0, None));
    }

    #[test]
    fn a_completion_needs_its_item_and_value() {
        let body = |item, value| RaiseEventBody {
            item,
            value,
            ..RaiseEventBody::default()
        };
        let event = external_event("ComputeComplete", &body(Some(3), Some(42)), 7).unwrap();
        assert_eq!(
            event,
            Event::ItemCompleted {
                item: 3,
                result: ItemResult {
                    value: 42,
                    compute_ms: 0
                },
                at: 7
            }
        );
        let err = external_event("ComputeComplete", &body(Some(3), None), 7).unwrap_err();
        assert!(err.message.contains("\"value\""), "{}", err.message);
        let err = external_event("ComputeComplete", &body(None, Some(1)), 7).unwrap_err();
        assert!(err.message.contains("\"item\""), "{}", err.message);
        let err = external_event("ComputeComplete", &body(Some(u64::MAX), Some(1)), 7).unwrap_err();
        assert!(err.message.contains("\"item\""), "{}", err.message);
        let err = external_event("Other", &body(Some(1), Some(1)), 7).unwrap_err();
        assert!(err.message.contains("unknown event"), "{}", err.message);
        let failed = external_event("ComputeFailed", &body(Some(2), None), 7).unwrap();
        assert!(matches!(failed, Event::ItemFailed { item: 2, .. }));
    }
}
