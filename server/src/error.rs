//! Errors as HTTP responses: a status and a JSON body (`protocol::durable::ErrorBody`) that says
//! what is wrong.
//!
//! Every API error goes through [`ApiError`], so every 5xx is logged with its cause in one place
//! and no handler builds an error body by hand.

use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use protocol::durable::ErrorBody;

use crate::orchestrator::EngineError;

/// An error a handler returns. Client errors say what to fix; server errors are logged in full
/// and summarised to the client.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// Seconds after which trying again may succeed (`Retry-After`), for 429 and 503.
    pub retry_after: Option<u32>,
}

impl ApiError {
    /// A JSON body that could not be read as `what`: 413 past the body limit, 415 without a
    /// JSON content type, 400 for the rest, with the reason.
    pub fn bad_json(what: &str, rejection: axum::extract::rejection::JsonRejection) -> ApiError {
        let status = match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE | StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                rejection.status()
            }
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(
            status,
            format!(
                "{what}: {}",
                crate::durable::params::truncate(&rejection.body_text())
            ),
        )
    }

    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    /// The same error, saying when to try again.
    pub fn retry_after(mut self, seconds: u32) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }

    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, message)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "this call needs the operator key: send an `Authorization: Bearer <key>` header (or `code=<key>` in the query)",
        )
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let status = match &e {
            EngineError::NotFound(_) => StatusCode::NOT_FOUND,
            EngineError::AlreadyExists(_) => StatusCode::CONFLICT,
            EngineError::NotTerminal { .. } => StatusCode::PRECONDITION_FAILED,
            EngineError::Finished { .. } => StatusCode::GONE,
            EngineError::Rejected { .. } => StatusCode::BAD_REQUEST,
            EngineError::Busy { .. } => StatusCode::TOO_MANY_REQUESTS,
            EngineError::Store(_) | EngineError::Storage(_) | EngineError::NotOwner(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        };
        let retry = matches!(
            status,
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
        );
        let error = ApiError::new(status, e.to_string());
        if retry {
            error.retry_after(10)
        } else {
            error
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(status = self.status.as_u16(), "{}", self.message);
        }
        let mut response = (
            self.status,
            Json(ErrorBody {
                error: self.message,
            }),
        )
            .into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

/// Any path under `/api` or `/runtime` that no route serves: a JSON 404, never the HTML page.
pub async fn no_such_route(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!(
        "no API route {method} {}; the routes are listed in the README",
        crate::durable::params::truncate(uri.path())
    ))
}

/// A route that exists, called with a method it does not take.
pub async fn wrong_method(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "{} does not take {method}",
            crate::durable::params::truncate(uri.path())
        ),
    )
}
