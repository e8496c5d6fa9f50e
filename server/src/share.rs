//! `GET /api/share`: the link the audience opens on their phones, and the same link as a QR
//! code the presenter puts on the projector.
//!
//! The link is built from `--public-url` when it is set: behind a proxy or a load balancer the
//! server cannot know the name people reach it by. Otherwise it is built from the host the
//! request came to — but only once that host has passed the host check (`guard`) against the
//! configured names, and never when the server answers to any name (`--allowed-host '*'`):
//! a `Host` header is whatever the client says, and a link handed out from it would let a
//! stranger's name reach the room's phones. The answer is built in full here (the page only
//! shows it), carries the viewer key when the dashboard is private, and is never cached.

use std::fmt;
use std::str::FromStr;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use protocol::share::Share;
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};
use url::Url;

use crate::auth::Secret;
use crate::durable::ApiSettings;
use crate::error::ApiError;
use crate::guard::HostPolicy;

/// The longest `--public-url` accepted. Links are typed by nobody, but scanned: a shorter link
/// makes a QR code with fewer, larger modules, readable from further back.
pub const MAX_PUBLIC_URL_LEN: usize = 256;

/// The longest link handed out, viewer key included; far below a QR code's capacity (2,331
/// bytes at this error correction), so encoding cannot fail for a link that passes.
pub const MAX_LINK_LEN: usize = 1024;

/// Error correction M: about 15 % of the code may be unreadable (glare on a projector screen)
/// and the code stays readable, at a size that still scans from the back of a room.
const ERROR_CORRECTION: EcLevel = EcLevel::M;

/// The dashboard's address as its audience reaches it: `http` or `https`, a host, no
/// credentials, no query or fragment, at most [`MAX_PUBLIC_URL_LEN`] bytes. The path is kept
/// (a dashboard served under a prefix) and always ends with `/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicUrl(Url);

impl PublicUrl {
    pub fn url(&self) -> &Url {
        &self.0
    }
}

impl FromStr for PublicUrl {
    type Err = String;

    fn from_str(text: &str) -> Result<PublicUrl, String> {
        let text = text.trim();
        if text.len() > MAX_PUBLIC_URL_LEN {
            return Err(format!(
                "the public URL is {} bytes long; at most {MAX_PUBLIC_URL_LEN} are accepted",
                text.len()
            ));
        }
        let mut url = Url::parse(text)
            .map_err(|e| format!("{e}: expected e.g. https://scaleboard.example.com/"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "the public URL must be http or https, not `{}`",
                url.scheme()
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("the public URL must not carry a user name or password: it is shown to everyone in the room".into());
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("the public URL names no host".into());
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err("the public URL must not have a query or a fragment: the viewer key is added to it when the dashboard is private".into());
        }
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        Ok(PublicUrl(url))
    }
}

impl fmt::Display for PublicUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

/// `GET /api/share` on the live server.
pub async fn share(
    State(api): State<ApiSettings>,
    State(hosts): State<HostPolicy>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    answer(&api, &hosts, &headers)
}

/// The answer for a request with `headers`, on a server with these settings: the link and its
/// QR code, never stored by a cache (it may carry the viewer key, and it depends on the host).
pub fn answer(
    api: &ApiSettings,
    hosts: &HostPolicy,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let base = match &api.public_url {
        Some(public) => public.url().clone(),
        None => request_base(api, hosts, headers)?,
    };
    let url = viewer_url(base, api.viewer_key.as_ref());
    if url.len() > MAX_LINK_LEN {
        return Err(too_long(url.len()));
    }
    let svg = qr_svg(&url).ok_or_else(|| too_long(url.len()))?;
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        Json(Share { url, svg }),
    )
        .into_response())
}

fn too_long(len: usize) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        format!("the viewer link would be {len} bytes, more than the {MAX_LINK_LEN} a phone scans reliably: set a shorter --public-url or viewer key"),
    )
}

/// `scheme://host/` of the request, from a host the policy answers to by name.
fn request_base(
    api: &ApiSettings,
    hosts: &HostPolicy,
    headers: &HeaderMap,
) -> Result<Url, ApiError> {
    if hosts.answers_to_any() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "this server answers to any host name (--allowed-host '*'), so the request's host cannot be trusted in a link: \
             set the address people reach the dashboard by with --public-url (SCALEBOARD_PUBLIC_URL)",
        ));
    }
    // The same scheme and host the management links are built from (forwarded headers only
    // behind a trusted proxy), then checked again here rather than relying on the layer alone.
    let base = crate::durable::documents::base_url(headers, api.trust_forwarded);
    let refuse = || {
        ApiError::bad_request(format!(
            "the request's host `{}` is not one this dashboard is reached by",
            crate::durable::params::truncate(&base)
        ))
    };
    if base.len() > MAX_PUBLIC_URL_LEN {
        return Err(refuse());
    }
    let mut url = Url::parse(&base).map_err(|_| refuse())?;
    let host = url.host_str().ok_or_else(refuse)?;
    let authority = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    };
    let clean = url.username().is_empty()
        && url.password().is_none()
        && url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none();
    if !clean || !hosts.allows_host(&authority) {
        return Err(refuse());
    }
    url.set_path("/");
    Ok(url)
}

/// The read-only dashboard at `base`, with `?code=<viewer key>` when viewing needs a key. The
/// operator key never goes into a link.
fn viewer_url(mut base: Url, viewer_key: Option<&Secret>) -> String {
    if let Some(key) = viewer_key {
        base.query_pairs_mut().append_pair("code", key.expose());
    }
    base.into()
}

/// `text` as a QR code: an `<svg>` of black modules on white with the standard quiet zone, one
/// unit per module, so the page scales it to any size without blur. `None` when `text` is too
/// long for a QR code.
pub fn qr_svg(text: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), ERROR_CORRECTION).ok()?;
    let svg = code
        .render::<svg::Color>()
        .module_dimensions(1, 1)
        .quiet_zone(true)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build();
    // An XML declaration has no place in an HTML document the element is put into.
    let start = svg.find("<svg")?;
    Some(svg[start..].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(public: Option<&str>, viewer: Option<&str>) -> ApiSettings {
        ApiSettings {
            operator_key: Some(Secret::new("operator-secret")),
            viewer_key: viewer.map(Secret::new),
            max_input_count: 1,
            max_cost: 1,
            default_cost: 0,
            trust_forwarded: false,
            public_url: public.map(|u| u.parse().unwrap()),
        }
    }

    fn loopback() -> HostPolicy {
        HostPolicy::for_bind("127.0.0.1:3000".parse().unwrap(), &[], false).unwrap()
    }

    fn host(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, value.parse().unwrap());
        headers
    }

    async fn body(response: Response) -> Share {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn public_urls_are_http_or_https_without_credentials_and_bounded() {
        let parse = |text: &str| text.parse::<PublicUrl>().map(|u| u.to_string());
        assert_eq!(
            parse("https://demo.example.com").unwrap(),
            "https://demo.example.com/"
        );
        assert_eq!(
            parse(" http://10.0.0.5:8080/scaleboard ").unwrap(),
            "http://10.0.0.5:8080/scaleboard/"
        );
        for bad in [
            "ftp://demo.example.com/",
            "javascript:alert(1)",
            "https://user:pass@demo.example.com/",
            "https://user@demo.example.com/",
            "https://demo.example.com/?code=x",
            "https://demo.example.com/#top",
            "demo.example.com",
            "",
            "file:///etc/passwd",
        ] {
            assert!(parse(bad).is_err(), "{bad} was accepted");
        }
        let long = format!(
            "https://demo.example.com/{}",
            "a".repeat(MAX_PUBLIC_URL_LEN)
        );
        assert!(parse(&long).unwrap_err().contains("at most"));
    }

    #[tokio::test]
    async fn the_public_url_wins_over_the_host_and_the_viewer_key_is_added() {
        let api = settings(Some("https://demo.example.com/board"), Some("view key&1"));
        let share = body(answer(&api, &loopback(), &host("127.0.0.1:3000")).unwrap()).await;
        assert_eq!(
            share.url,
            "https://demo.example.com/board/?code=view+key%261"
        );
        assert!(!share.url.contains("operator-secret"));
        assert!(share.svg.starts_with("<svg"), "{}", share.svg);
    }

    #[tokio::test]
    async fn without_a_public_url_the_validated_host_is_used() {
        let api = settings(None, None);
        let response = answer(&api, &loopback(), &host("localhost:3000")).unwrap();
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        assert_eq!(body(response).await.url, "http://localhost:3000/");
    }

    #[test]
    fn hosts_the_policy_does_not_name_are_never_put_in_a_link() {
        let api = settings(None, None);
        for hostile in [
            "evil.example",
            "evil.example:3000",
            "127.0.0.1:3000@evil.example",
            "localhost:3000/path",
        ] {
            let error = answer(&api, &loopback(), &host(hostile)).unwrap_err();
            assert_eq!(error.status, StatusCode::BAD_REQUEST, "{hostile}");
        }
        // A server that answers to any name has no validated host to offer.
        let any =
            HostPolicy::for_bind("0.0.0.0:3000".parse().unwrap(), &["*".into()], false).unwrap();
        let error = answer(&api, &any, &host("localhost:3000")).unwrap_err();
        assert_eq!(error.status, StatusCode::CONFLICT);
        assert!(error.message.contains("--public-url"));
    }

    #[test]
    fn a_link_too_long_to_scan_is_refused() {
        let api = settings(Some("https://demo.example.com/"), Some(&"k".repeat(2000)));
        let error = answer(&api, &loopback(), &host("localhost")).unwrap_err();
        assert_eq!(error.status, StatusCode::CONFLICT);
    }

    #[test]
    fn the_qr_code_is_a_scalable_svg_with_a_quiet_zone() {
        let svg = qr_svg("http://localhost:3000/").unwrap();
        // Version 2 is 25 modules, plus a quiet zone of 4 on each side.
        assert!(svg.contains(r#"viewBox="0 0 33 33""#), "{svg}");
        assert!(svg.contains("#000000") && svg.contains("#ffffff"));
        assert!(!svg.contains("<?xml"));
        assert!(qr_svg(&"x".repeat(4000)).is_none());
    }
}
