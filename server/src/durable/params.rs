//! What a caller may send the Durable Functions-shaped API, parsed into types with errors that
//! say what to fix.
//!
//! Query values are taken as text and parsed here rather than by serde, so every error names the
//! parameter, its allowed range and (at most 64 characters of) what was sent.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use orchestration::{RunId, RuntimeStatus};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::error::ApiError;

/// `Query<T>` whose rejection is a JSON 400 saying what is wrong.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => Err(query_rejection(rejection)),
        }
    }
}

fn query_rejection(rejection: QueryRejection) -> ApiError {
    ApiError::bad_request(format!(
        "the query string is not valid: {}",
        truncate(&rejection.body_text())
    ))
}

/// An optional JSON body as Durable Functions accepts it: none (an empty body), the value
/// itself, or a JSON string that holds it (what the official clients send: they encode the
/// payload, then encode that text again).
#[derive(Debug, Clone)]
pub struct LenientJson<T>(pub Option<T>);

impl<T, S> FromRequest<S> for LenientJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let empty = req
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .is_some_and(|len| len.as_bytes() == b"0");
        let chunked = req
            .headers()
            .contains_key(axum::http::header::TRANSFER_ENCODING);
        if empty
            || (!chunked
                && !req
                    .headers()
                    .contains_key(axum::http::header::CONTENT_LENGTH))
        {
            return Ok(LenientJson(None));
        }
        let axum::Json(value) = axum::Json::<serde_json::Value>::from_request(req, state)
            .await
            .map_err(json_rejection)?;
        let value = match value {
            serde_json::Value::String(text) => serde_json::from_str(&text).map_err(|e| {
                ApiError::bad_request(format!("the body's string is not JSON: {e}"))
            })?,
            serde_json::Value::Null => return Ok(LenientJson(None)),
            other => other,
        };
        serde_json::from_value(value)
            .map(|v| LenientJson(Some(v)))
            .map_err(|e| ApiError::bad_request(format!("the body is not valid: {e}")))
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::unsupported_media_type(
            "the body must be JSON, sent with Content-Type: application/json",
        ),
        other => ApiError::new(
            // 413 for a body over the limit, 400 for the rest.
            if other.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                other.status()
            } else {
                axum::http::StatusCode::BAD_REQUEST
            },
            format!("the body is not JSON: {}", truncate(&other.body_text())),
        ),
    }
}

/// `POST …/orchestrators/{name}?inputCount=N[&cost=C][&failEvery=K]`
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartQuery {
    pub input_count: Option<String>,
    pub cost: Option<String>,
    pub fail_every: Option<String>,
}

/// The start route's JSON body, when the input comes as a body (the official clients' way).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StartBody {
    pub input_count: Option<u64>,
    pub cost: Option<u64>,
    pub fail_every: Option<u64>,
}

/// `GET …/instances/{id}?showHistory=…` (other Durable Functions options are accepted and
/// ignored: this server always shows the input and has no history output).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusQuery {
    pub show_history: Option<String>,
}

/// `GET …/instances?runtimeStatus=…&createdTimeFrom=…&createdTimeTo=…&top=N`
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    pub runtime_status: Option<String>,
    pub created_time_from: Option<String>,
    pub created_time_to: Option<String>,
    pub top: Option<String>,
    /// Only runs whose id starts with this.
    pub instance_id_prefix: Option<String>,
    /// The paging token, also accepted in the query (Durable Functions takes it as a header).
    pub continuation_token: Option<String>,
}

/// `…/terminate?reason=…`, `…/suspend?reason=…`, `…/resume?reason=…`
#[derive(Debug, Default, Deserialize)]
pub struct ReasonQuery {
    pub reason: Option<String>,
}

/// `…/restart?restartWithNewInstanceId=…`
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestartQuery {
    pub restart_with_new_instance_id: Option<String>,
}

/// `POST …/raiseEvent/{name}`: `{"item": i, "value": v, "computeMs": ms}` for
/// `ComputeComplete`, `{"item": i, "reason": "…"}` for `ComputeFailed`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RaiseEventBody {
    pub item: Option<u64>,
    pub value: Option<u64>,
    pub compute_ms: Option<u64>,
    pub reason: Option<String>,
}

/// The most items a list page holds.
pub const MAX_TOP: u32 = 10_000;

pub fn parse_id(text: &str) -> Result<RunId, ApiError> {
    RunId::parse(text).map_err(|e| {
        ApiError::bad_request(format!(
            "`{}` is not a valid instance id: {e}",
            truncate(text)
        ))
    })
}

/// A whole number in `min..=max`, from text.
pub fn parse_count(name: &str, text: &str, min: u32, max: u32) -> Result<u32, ApiError> {
    let value: u64 = text.trim().parse().map_err(|_| {
        ApiError::bad_request(format!(
            "{name} must be a whole number, not `{}`",
            truncate(text)
        ))
    })?;
    check_count(name, value, min, max)
}

/// A whole number in `min..=max`.
pub fn check_count(name: &str, value: u64, min: u32, max: u32) -> Result<u32, ApiError> {
    match u32::try_from(value) {
        Ok(v) if (min..=max).contains(&v) => Ok(v),
        _ => Err(ApiError::bad_request(format!(
            "{name} must be between {min} and {max}, not {value}"
        ))),
    }
}

/// A comma-separated list of runtime statuses.
pub fn parse_statuses(text: &str) -> Result<Vec<RuntimeStatus>, ApiError> {
    text.split(',')
        .map(|s| {
            s.trim().parse::<RuntimeStatus>().map_err(|e| {
                ApiError::bad_request(format!("runtimeStatus `{}` is {e}", truncate(s.trim())))
            })
        })
        .collect()
}

pub fn parse_time(name: &str, text: &str) -> Result<u64, ApiError> {
    protocol::timestamp::parse_rfc3339(text).ok_or_else(|| {
        ApiError::bad_request(format!(
            "{name} must be an RFC 3339 time such as 2026-11-26T18:00:00Z, not `{}`",
            truncate(text)
        ))
    })
}

/// `true` or `false`, in any case; `false` when absent.
pub fn parse_flag(name: &str, value: Option<&str>) -> Result<bool, ApiError> {
    match value.map(str::to_ascii_lowercase).as_deref() {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(v) => Err(ApiError::bad_request(format!(
            "{name} must be true or false, not `{}`",
            truncate(v)
        ))),
    }
}

/// A paging token this server issued: the index of the next run, as decimal text.
pub fn parse_continuation(text: &str) -> Result<usize, ApiError> {
    text.trim().parse::<usize>().map_err(|_| {
        ApiError::bad_request(format!(
            "the continuation token `{}` is not one this server issued",
            truncate(text)
        ))
    })
}

/// Echoes at most 64 characters of bad input back, so an error never reflects a huge payload.
pub fn truncate(text: &str) -> String {
    if text.chars().count() > 64 {
        format!("{}…", text.chars().take(64).collect::<String>())
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    #[test]
    fn counts_are_validated_with_a_reason() {
        assert_eq!(parse_count("inputCount", "10", 1, 100).unwrap(), 10);
        assert_eq!(parse_count("inputCount", " 100 ", 1, 100).unwrap(), 100);
        for (text, expected) in [
            ("abc", "whole number"),
            ("-1", "whole number"),
            ("", "whole number"),
            ("0", "between 1 and 100"),
            ("101", "between 1 and 100"),
            ("4294967296", "between 1 and 100"),
            ("99999999999999999999999", "whole number"),
        ] {
            let err = parse_count("inputCount", text, 1, 100).unwrap_err();
            assert_eq!(err.status, StatusCode::BAD_REQUEST);
            assert!(err.message.contains(expected), "{text}: {}", err.message);
        }
        assert!(check_count("cost", u64::MAX, 0, u32::MAX).is_err());
        assert_eq!(
            check_count("cost", u64::from(u32::MAX), 0, u32::MAX).unwrap(),
            u32::MAX
        );
    }

    #[test]
    fn statuses_parse_as_durable_functions_spells_them() {
        assert_eq!(
            parse_statuses("Running, Completed").unwrap(),
            [RuntimeStatus::Running, RuntimeStatus::Completed]
        );
        let err = parse_statuses("Running,Done").unwrap_err();
        assert!(err.message.contains("`Done`"), "{}", err.message);
        assert!(parse_statuses("running").is_err());
    }

    #[test]
    fn times_flags_and_tokens() {
        assert_eq!(
            parse_time("t", "2025-11-26T18:00:00.123Z").unwrap(),
            1_764_180_000_123
        );
        // The official Python client's form: microseconds and a `Z`.
        assert_eq!(
            parse_time("t", "2025-11-26T18:00:00.123456Z").unwrap(),
            1_764_180_000_123
        );
        assert!(parse_time("t", "yesterday").is_err());
        assert!(parse_flag("f", Some("TRUE")).unwrap());
        assert!(!parse_flag("f", None).unwrap());
        assert!(parse_flag("f", Some("yes")).is_err());
        assert_eq!(parse_continuation("20").unwrap(), 20);
        assert!(parse_continuation("18446744073709551616").is_err());
        assert!(parse_continuation("-1").is_err());
    }

    #[test]
    fn bad_input_is_not_echoed_in_full() {
        let long = "x".repeat(10_000);
        let err = parse_id(&long).unwrap_err();
        assert!(err.message.len() < 300, "{}", err.message.len());
    }

    /// Any text at all, as a query value can hold it.
    fn any_text() -> impl proptest::strategy::Strategy<Value = String> {
        proptest::prelude::any::<String>()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        #[test]
        fn counts_are_in_range_or_a_short_reason(text in any_text(), min in 0u32..10, span in 0u32..1000) {
            let max = min.saturating_add(span);
            match parse_count("n", &text, min, max) {
                Ok(n) => proptest::prop_assert!((min..=max).contains(&n)),
                Err(e) => {
                    proptest::prop_assert_eq!(e.status, StatusCode::BAD_REQUEST);
                    proptest::prop_assert!(e.message.chars().count() < 200);
                }
            }
        }

        #[test]
        fn numbers_as_text_parse_back(n in 0u32..=u32::MAX) {
            proptest::prop_assert_eq!(parse_count("n", &n.to_string(), 0, u32::MAX).unwrap(), n);
        }

        #[test]
        fn every_other_parser_answers_without_panicking(text in any_text()) {
            let short = |e: ApiError| e.message.chars().count() < 200;
            proptest::prop_assert!(parse_statuses(&text).map_or_else(short, |s| !s.is_empty()));
            proptest::prop_assert!(parse_time("t", &text).map_or_else(short, |_| true));
            proptest::prop_assert!(parse_flag("f", Some(&text)).map_or_else(short, |_| true));
            proptest::prop_assert!(parse_continuation(&text).map_or_else(short, |_| true));
            proptest::prop_assert!(parse_id(&text).map_or_else(short, |id| id.as_str() == text));
        }

        #[test]
        fn bodies_of_any_json_are_read_or_refused(value in json_value()) {
            // What the lenient extractor does after parsing: both bodies are plain serde types.
            let _ = serde_json::from_value::<StartBody>(value.clone());
            let _ = serde_json::from_value::<RaiseEventBody>(value);
        }
    }

    /// JSON values of a few levels, with the numbers and strings that break naive readers.
    fn json_value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<u64>().prop_map(serde_json::Value::from),
            any::<f64>().prop_map(serde_json::Value::from),
            any::<String>().prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(3, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
                proptest::collection::btree_map(
                    prop_oneof![
                        Just("inputCount".to_string()),
                        Just("cost".to_string()),
                        Just("failEvery".to_string()),
                        Just("item".to_string()),
                        Just("value".to_string()),
                        Just("computeMs".to_string()),
                        Just("reason".to_string()),
                        any::<String>(),
                    ],
                    inner,
                    0..6
                )
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }
}
