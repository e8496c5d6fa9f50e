//! Browser-facing defences: which `Host` the server answers to, which `Origin` may change
//! things or open the live socket, and the security headers every answer carries.
//!
//! Scaleboard runs where strangers can reach it. On a presenter's laptop, any page the presenter
//! opens can send requests to 127.0.0.1 — through DNS rebinding (a hostile name that resolves to
//! 127.0.0.1, so the request carries `Host: evil.example`) or a plain cross-site form POST (which
//! carries the hostile page's `Origin`). Behind a public load balancer, the dashboard must not be
//! framed by another site. So:
//! - the `Host` of every request must be one of the allowed names: the loopback names when bound
//!   to loopback, the configured names otherwise (`*` allows any, for a server reached by IP);
//!   the probes (`/healthz`, `/readyz`) are exempt, since the kubelet calls them by pod IP;
//! - a request that changes something, and the live socket's upgrade, are refused when they carry
//!   an `Origin` that is not an allowed host (browsers always send it; other clients need not);
//! - every answer says `nosniff`, no referrer, and may not be framed (`frame-ancestors 'none'`
//!   here; the page's own Content-Security-Policy, with the nonce of its inline scripts, is in
//!   its `<head>`).

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::uri::Authority;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::auth::is_mutating;
use crate::error::ApiError;

/// Names a server bound to loopback answers to when none are configured.
const LOOPBACK_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

/// The hosts this server answers to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPolicy {
    /// Lower-case host names (IPv6 in brackets), without ports.
    allowed: Arc<[String]>,
    /// `*` was configured: any host.
    any: bool,
    /// Whether `X-Forwarded-Host` names the host (a trusted proxy in front).
    trust_forwarded: bool,
}

impl HostPolicy {
    /// The policy for a server bound to `addr` with the names given by `--allowed-host`.
    ///
    /// Bound to loopback with none given: the loopback names. Bound elsewhere with none given:
    /// an error, since the names a public server is reached by cannot be guessed and answering
    /// to any name is exactly what DNS rebinding needs.
    pub fn for_bind(
        addr: SocketAddr,
        configured: &[String],
        trust_forwarded: bool,
    ) -> Result<HostPolicy, String> {
        let names: Vec<String> = configured
            .iter()
            .flat_map(|n| n.split(','))
            .map(|n| n.trim().to_ascii_lowercase())
            .filter(|n| !n.is_empty())
            .collect();
        let any = names.iter().any(|n| n == "*");
        let allowed: Vec<String> = if names.is_empty() {
            if !addr.ip().is_loopback() {
                return Err(format!(
                    "listening on {addr}, which is not loopback, needs the host names the dashboard is reached by: \
                     set --allowed-host (SCALEBOARD_ALLOWED_HOSTS), e.g. --allowed-host scaleboard.example.com, \
                     or --allowed-host '*' to answer to any name (then DNS rebinding is not prevented)"
                ));
            }
            LOOPBACK_NAMES.iter().map(|n| n.to_string()).collect()
        } else {
            names
                .into_iter()
                .filter(|n| n != "*")
                .map(|n| host_of(&n).unwrap_or(n))
                .collect()
        };
        Ok(HostPolicy {
            allowed: allowed.into(),
            any,
            trust_forwarded,
        })
    }

    /// Whether the server answers to any name (`*`): then a `Host` passing the check says
    /// nothing about the names the server is really reached by.
    pub fn answers_to_any(&self) -> bool {
        self.any
    }

    /// Whether a `Host` header value (`name[:port]`) is one this server answers to.
    pub fn allows_host(&self, host: &str) -> bool {
        self.any || host_of(host).is_some_and(|h| self.allowed.contains(&h))
    }

    /// Whether an `Origin` header value (`scheme://host[:port]`) is an allowed host.
    pub fn allows_origin(&self, origin: &str) -> bool {
        let Ok(url) = url::Url::parse(origin) else {
            return false;
        };
        if !matches!(url.scheme(), "http" | "https") {
            return false;
        }
        match url.host_str() {
            Some(host) => self.any || self.allowed.contains(&host.to_ascii_lowercase()),
            None => false,
        }
    }
}

/// The host part of `name[:port]`, lower-case, IPv6 in brackets.
fn host_of(text: &str) -> Option<String> {
    let authority = Authority::from_str(text.trim()).ok()?;
    Some(authority.host().to_ascii_lowercase())
}

/// The layer: refuses requests for hosts the server does not answer to, and cross-site
/// requests that would change something or open the live socket.
pub async fn check_host_and_origin(
    State(policy): State<HostPolicy>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let probe = path == protocol::routes::HEALTHZ || path == protocol::routes::READYZ;
    if !probe {
        let headers = request.headers();
        let forwarded = policy
            .trust_forwarded
            .then(|| headers.get("x-forwarded-host"))
            .flatten();
        let host = forwarded
            .or_else(|| headers.get(header::HOST))
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .or_else(|| request.uri().authority().map(|a| a.to_string()));
        match host {
            Some(host) if policy.allows_host(&host) => {}
            Some(host) => {
                return refuse(format!(
                    "this server does not answer to host `{}`; it answers to the names set with --allowed-host",
                    crate::durable::params::truncate(&host)
                ))
            }
            None => return refuse("the request names no host".into()),
        }
    }
    let upgrade = request
        .headers()
        .get(header::UPGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
    if is_mutating(request.method()) || upgrade {
        if let Some(origin) = request.headers().get(header::ORIGIN) {
            let allowed = origin.to_str().is_ok_and(|o| policy.allows_origin(o));
            if !allowed {
                return refuse(format!(
                    "cross-site request refused: origin `{}` is not this dashboard",
                    crate::durable::params::truncate(&String::from_utf8_lossy(origin.as_bytes()))
                ));
            }
        }
    }
    next.run(request).await
}

fn refuse(message: String) -> Response {
    ApiError::new(StatusCode::FORBIDDEN, message).into_response()
}

/// The headers every answer carries, unless the handler set its own.
pub fn security_headers() -> [SetResponseHeaderLayer<HeaderValue>; 4] {
    let header = |name: &'static str, value: &'static str| {
        SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        )
    };
    [
        header("x-content-type-options", "nosniff"),
        header("referrer-policy", "no-referrer"),
        header("x-frame-options", "DENY"),
        // The page's own policy (scripts, styles, connections) is in its <head>, with the
        // nonce of its inline scripts; this one holds for every answer, pages and API alike.
        header(
            "content-security-policy",
            "frame-ancestors 'none'; object-src 'none'; base-uri 'none'",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loopback() -> HostPolicy {
        HostPolicy::for_bind("127.0.0.1:3000".parse().unwrap(), &[], false).unwrap()
    }

    #[test]
    fn loopback_answers_to_loopback_names_on_any_port() {
        let policy = loopback();
        for host in [
            "localhost",
            "localhost:3000",
            "127.0.0.1:3000",
            "[::1]:3000",
            "LOCALHOST:80",
        ] {
            assert!(policy.allows_host(host), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:3000",
            "127.0.0.1.evil.example",
            "localhost.evil.example",
            "",
            "a b",
        ] {
            assert!(!policy.allows_host(host), "{host}");
        }
    }

    #[test]
    fn origins_are_checked_by_host() {
        let policy = loopback();
        assert!(policy.allows_origin("http://127.0.0.1:3000"));
        assert!(policy.allows_origin("http://localhost:5173"));
        assert!(policy.allows_origin("http://[::1]:3000"));
        for origin in [
            "https://evil.example",
            "null",
            "file://",
            "http://127.0.0.1.evil.example",
            "javascript:alert(1)",
        ] {
            assert!(!policy.allows_origin(origin), "{origin}");
        }
    }

    #[test]
    fn a_public_bind_needs_configured_names() {
        let public: SocketAddr = "0.0.0.0:3000".parse().unwrap();
        let err = HostPolicy::for_bind(public, &[], false).unwrap_err();
        assert!(err.contains("--allowed-host"), "{err}");
        let named = HostPolicy::for_bind(
            public,
            &["Demo.Example.com, other.example:443".into()],
            false,
        )
        .unwrap();
        assert!(named.allows_host("demo.example.com"));
        assert!(named.allows_host("other.example:8443"));
        assert!(!named.allows_host("localhost"));
        assert!(named.allows_origin("https://demo.example.com"));
        let any = HostPolicy::for_bind(public, &["*".into()], false).unwrap();
        assert!(any.allows_host("10.1.2.3:3000"));
    }
}
