//! Who may see and who may change things: two roles, each checked by one layer over the whole
//! router.
//!
//! - **Viewers** read: the page, the live feed, exports, status, lists, replays. With a viewer
//!   key configured (`--viewer-key`), the dashboard is private: every request but the probes
//!   needs the viewer or the operator key. A browser brings it once in the link
//!   (`/?code=<key>`, what a shared link or QR code carries); the answer sets an `HttpOnly`,
//!   `SameSite=Strict` cookie with it, so the page's assets, API calls and live socket carry it
//!   from then on without it staying in the address bar's later requests.
//! - **Operators** change things (below). The operator key also lets its holder view.
//!
//! The rule is by HTTP method, not by route: every request that is not `GET`, `HEAD` or
//! `OPTIONS` changes something (starting, terminating, suspending, resuming, restarting or
//! purging runs, raising events, replacing the policy), so it needs the operator key when one is
//! configured. A route added later cannot forget the check, because there is nothing to
//! remember.
//!
//! The key comes as `Authorization: Bearer <key>` (the scheme in any case, as RFC 9110 says) or,
//! as with Azure Functions' keys, `code=<key>` in the query. Keys are compared through their
//! SHA-256 digests in constant time, so neither the timing nor an early exit says anything about
//! the key's content or length.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::durable::ApiSettings;
use crate::error::ApiError;

/// A secret that never shows in logs or `Debug` output.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(key: impl Into<String>) -> Secret {
        Secret(key.into())
    }

    /// The key itself, for the two places the viewer key must leave: the cookie set for the
    /// browser that brought it, and the share link (`crate::share`) for those already in.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `given` is this secret, in time that depends on neither.
    pub fn matches(&self, given: &str) -> bool {
        let expected = Sha256::digest(self.0.as_bytes());
        let given = Sha256::digest(given.as_bytes());
        expected
            .iter()
            .zip(given.iter())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
    }
}

impl From<String> for Secret {
    fn from(key: String) -> Secret {
        Secret(key)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// Whether a request with this method changes something.
pub fn is_mutating(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The key a request presents: the bearer token, else `code=` in the query.
pub fn presented_key<'a>(headers: &'a HeaderMap, query: Option<&'a str>) -> Option<String> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_string())
        });
    bearer.or_else(|| {
        url::form_urlencoded::parse(query?.as_bytes())
            .find(|(name, _)| name == "code")
            .map(|(_, value)| value.into_owned())
    })
}

/// `GET /api/session`: whether changing things needs the key, and whether this request
/// presented it, so the page can show its controls or explain why they are off.
pub async fn session(
    State(api): State<ApiSettings>,
    request: Request,
) -> axum::Json<protocol::session::Session> {
    let required = api.operator_key.is_some();
    let operator = match &api.operator_key {
        None => true,
        Some(key) => presented_key(request.headers(), request.uri().query())
            .is_some_and(|given| key.matches(&given)),
    };
    axum::Json(protocol::session::Session {
        operator_key_required: required,
        operator,
    })
}

/// The cookie a browser keeps the viewer key in.
pub const VIEWER_COOKIE: &str = "scaleboard_viewer";

/// The key a request presents for viewing: the bearer token or `code=`, else the cookie.
fn presented_viewer_key(headers: &HeaderMap, query: Option<&str>) -> Option<(String, bool)> {
    if let Some(key) = presented_key(headers, query) {
        return Some((key, true));
    }
    let cookies = headers.get_all(header::COOKIE);
    cookies
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == VIEWER_COOKIE)
        .map(|(_, value)| (value.to_string(), false))
}

/// The layer for a private dashboard: without the viewer or the operator key, nothing but the
/// probes answers. A key given in the link is kept in a cookie for the page's further requests.
pub async fn require_viewer(
    State(api): State<ApiSettings>,
    request: Request,
    next: Next,
) -> Response {
    let Some(viewer) = &api.viewer_key else {
        return next.run(request).await;
    };
    let path = request.uri().path();
    if path == protocol::routes::HEALTHZ || path == protocol::routes::READYZ {
        return next.run(request).await;
    }
    let presented = presented_viewer_key(request.headers(), request.uri().query());
    let admitted = presented.as_ref().is_some_and(|(given, _)| {
        viewer.matches(given)
            || api
                .operator_key
                .as_ref()
                .is_some_and(|operator| operator.matches(given))
    });
    if !admitted {
        return ApiError::new(
            axum::http::StatusCode::UNAUTHORIZED,
            "this dashboard is private: open it with the link that carries its viewer key (`?code=<key>`), or send `Authorization: Bearer <key>`",
        )
        .into_response();
    }
    let from_link = presented.is_some_and(|(given, explicit)| explicit && viewer.matches(&given));
    let mut response = next.run(request).await;
    if from_link {
        if let Ok(cookie) = axum::http::HeaderValue::from_str(&format!(
            "{VIEWER_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict",
            viewer.expose()
        )) {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
    }
    response
}

/// The layer: a mutating request without the operator key (when one is configured) is answered
/// 401 with a JSON body, before any handler runs.
pub async fn require_operator(
    State(api): State<ApiSettings>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(key) = &api.operator_key {
        if is_mutating(request.method()) {
            let presented = presented_key(request.headers(), request.uri().query());
            if !presented.is_some_and(|given| key.matches(&given)) {
                return ApiError::unauthorized().into_response();
            }
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn keys_compare_exactly_whatever_their_length() {
        let key = Secret::new("s3cret");
        assert!(key.matches("s3cret"));
        for wrong in ["s3creT", "s3cret2", "", "s3cre", &"x".repeat(10_000)] {
            assert!(!key.matches(wrong), "{wrong}");
        }
        assert_eq!(format!("{key:?}"), "Secret(…)");
    }

    #[test]
    fn only_reads_are_free() {
        for method in [Method::GET, Method::HEAD, Method::OPTIONS] {
            assert!(!is_mutating(&method));
        }
        for method in [Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
            assert!(is_mutating(&method));
        }
        assert!(is_mutating(&Method::from_bytes(b"PURGE").unwrap()));
    }

    #[test]
    fn the_key_comes_from_a_bearer_token_in_any_case_or_the_code_parameter() {
        let with = |auth: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, HeaderValue::from_str(auth).unwrap());
            headers
        };
        assert_eq!(
            presented_key(&with("Bearer k1"), None).as_deref(),
            Some("k1")
        );
        assert_eq!(
            presented_key(&with("bearer k1"), None).as_deref(),
            Some("k1")
        );
        assert_eq!(
            presented_key(&with("BEARER  k1 "), None).as_deref(),
            Some("k1")
        );
        assert_eq!(presented_key(&with("Basic k1"), None), None);
        assert_eq!(
            presented_key(&HeaderMap::new(), Some("a=1&code=k%262")).as_deref(),
            Some("k&2")
        );
        assert_eq!(presented_key(&HeaderMap::new(), Some("a=1")), None);
        assert_eq!(
            presented_key(&with("Bearer k1"), Some("code=k2")).as_deref(),
            Some("k1")
        );
    }
}
