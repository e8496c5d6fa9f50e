//! Calls to the server's HTTP API from the page: the same endpoints `curl` users call.
//!
//! In the browser this is `fetch`; elsewhere (server rendering, native tests) nothing is ever
//! sent, since only event handlers and effects call it.

/// A response: its status and body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub body: String,
}

impl Reply {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as one of the API's typed documents, `None` when it is not one.
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Option<T> {
        serde_json::from_str(&self.body).ok()
    }

    /// What went wrong, in the server's words: the `error` of its JSON body, else the body,
    /// else the status.
    pub fn error_message(&self) -> String {
        if let Some(body) = self.parse::<protocol::durable::ErrorBody>() {
            return body.error;
        }
        let body = self.body.trim();
        if body.is_empty() {
            format!("the server answered {}", self.status)
        } else {
            format!("the server answered {}: {}", self.status, body)
        }
    }
}

#[cfg(feature = "hydrate")]
thread_local! {
    /// The operator key this tab signed in with, sent with every call (the page is one thread).
    static BEARER: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Sets (or clears) the operator key sent as `Authorization: Bearer` with every call.
pub fn set_bearer(key: Option<String>) {
    #[cfg(feature = "hydrate")]
    BEARER.with(|bearer| *bearer.borrow_mut() = key);
    #[cfg(not(feature = "hydrate"))]
    let _ = key;
}

/// Sends `method url` with an optional JSON body and reads the whole answer.
#[cfg(feature = "hydrate")]
pub async fn send(method: &str, url: &str, json: Option<String>) -> Result<Reply, String> {
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::JsFuture;

    let unreachable = |e: wasm_bindgen::JsValue| {
        format!(
            "the server did not answer ({})",
            e.as_string()
                .or_else(|| js_sys::JSON::stringify(&e).ok().and_then(|s| s.as_string()))
                .unwrap_or_else(|| "network error".into())
        )
    };
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    let headers = web_sys::Headers::new().map_err(unreachable)?;
    headers
        .set("Accept", "application/json")
        .map_err(unreachable)?;
    if let Some(key) = BEARER.with(|bearer| bearer.borrow().clone()) {
        headers
            .set("Authorization", &format!("Bearer {key}"))
            .map_err(unreachable)?;
    }
    if let Some(body) = json {
        headers
            .set("Content-Type", "application/json")
            .map_err(unreachable)?;
        init.set_body(&wasm_bindgen::JsValue::from_str(&body));
    }
    init.set_headers(&headers);
    let window = web_sys::window().ok_or("no window")?;
    let response: web_sys::Response = JsFuture::from(window.fetch_with_str_and_init(url, &init))
        .await
        .map_err(unreachable)?
        .dyn_into()
        .map_err(unreachable)?;
    let text = JsFuture::from(response.text().map_err(unreachable)?)
        .await
        .map_err(unreachable)?;
    Ok(Reply {
        status: response.status(),
        body: text.as_string().unwrap_or_default(),
    })
}

/// Outside the browser nothing is sent.
#[cfg(not(feature = "hydrate"))]
pub async fn send(_method: &str, url: &str, _json: Option<String>) -> Result<Reply, String> {
    Err(format!("{url} can only be called from the browser"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_the_servers_words() {
        let reply = Reply {
            status: 400,
            body: r#"{"error":"inputCount must be between 1 and 100000, not 100001"}"#.into(),
        };
        assert!(!reply.is_success());
        assert_eq!(
            reply.error_message(),
            "inputCount must be between 1 and 100000, not 100001"
        );
        let reply = Reply {
            status: 502,
            body: String::new(),
        };
        assert_eq!(reply.error_message(), "the server answered 502");
    }
}
