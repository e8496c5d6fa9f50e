use std::fmt;

use thiserror::Error;

/// Everything that can go wrong while configuring or calling storage.
///
/// Displayed on one line — the operation, the endpoint, the HTTP status, the service's error code
/// and its message — never the multi-line XML body the service sent, so a log line says what
/// failed and why at a glance.
#[derive(Debug, Error)]
pub enum Error {
    /// The settings do not describe a usable account.
    #[error("storage configuration: {0}")]
    Config(String),
    /// A call to the storage service failed.
    #[error("{operation} at {endpoint}: {}", Summary(source))]
    Service {
        operation: String,
        endpoint: String,
        #[source]
        source: Box<azure_core::Error>,
    },
    /// The service answered in a way the protocol does not allow.
    #[error("{operation}: {problem}")]
    Protocol { operation: String, problem: String },
    /// A call did not answer in time.
    #[error("{operation} at {endpoint}: no answer within {seconds} s")]
    Timeout {
        operation: String,
        endpoint: String,
        seconds: u64,
    },
}

impl Error {
    /// A failed service call. An answer from the service is kept whole (its status, code and
    /// body say what went wrong, and none of them holds the request's URL). Any other failure
    /// (connection, I/O) is flattened to its text with every URL's query cut off: the HTTP
    /// client's error names the request URL, whose query is the SAS, and `{:#}` or `{:?}` of
    /// an error chain would otherwise put the signature in a log line.
    pub(crate) fn service(operation: String, endpoint: &str, source: azure_core::Error) -> Error {
        let source = match source.kind() {
            azure_core::error::ErrorKind::HttpResponse { .. } => source,
            kind => {
                azure_core::Error::with_message(kind.clone(), strip_url_queries(&chain(&source)))
            }
        };
        Error::Service {
            operation,
            endpoint: endpoint.to_string(),
            source: Box::new(source),
        }
    }

    /// Whether the service answered 404: a queue or container that does not exist (yet).
    pub fn is_not_found(&self) -> bool {
        self.http_status() == Some(404)
    }

    /// The HTTP status the service answered, when it answered.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Error::Service { source, .. } => source.http_status().map(u16::from),
            _ => None,
        }
    }

    /// The service's error code (`QueueNotFound`, `ConditionNotMet`, …), when it sent one.
    pub fn error_code(&self) -> Option<&str> {
        match self {
            Error::Service { source, .. } => match source.kind() {
                azure_core::error::ErrorKind::HttpResponse { error_code, .. } => {
                    error_code.as_deref()
                }
                _ => None,
            },
            _ => None,
        }
    }
}

/// One line for an SDK error: `HTTP 404 QueueNotFound: The specified queue does not exist.`
/// for a service answer, the SDK's own words (first line) otherwise.
struct Summary<'a>(&'a azure_core::Error);

impl fmt::Display for Summary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.kind() {
            azure_core::error::ErrorKind::HttpResponse {
                status,
                error_code,
                raw_response,
            } => {
                write!(f, "HTTP {}", u16::from(*status))?;
                if let Some(code) = error_code {
                    write!(f, " {code}")?;
                }
                let message = raw_response
                    .as_ref()
                    .and_then(|r| service_message(r.body().as_ref()));
                match message {
                    Some(message) => write!(f, ": {message}"),
                    None => Ok(()),
                }
            }
            _ => f.write_str(first_line(&self.0.to_string())),
        }
    }
}

/// The `<Message>` of a storage error body, first line only (the service appends the request
/// id and time on further lines).
fn service_message(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let start = text.find("<Message>")? + "<Message>".len();
    let end = start + text[start..].find("</Message>")?;
    Some(first_line(&text[start..end]).trim().to_string())
}

/// An error and its sources, `: `-separated, as `{:#}` shows them.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// `text` with the query of every `http://` or `https://` URL in it cut off; a SAS lives there.
/// A URL ends at whitespace or at a quote, bracket or angle bracket around it.
pub(crate) fn strip_url_queries(text: &str) -> String {
    let ends_url = |c: char| c.is_whitespace() || "\"'()<>[]{}".contains(c);
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let next_url = |text: &str| {
        ["http://", "https://"]
            .iter()
            .filter_map(|scheme| text.find(scheme))
            .min()
    };
    while let Some(start) = next_url(rest) {
        out.push_str(&rest[..start]);
        let url = &rest[start..];
        let len = url.find(ends_url).unwrap_or(url.len());
        let kept = url[..len].split(['?', '#']).next().unwrap_or_default();
        out.push_str(kept);
        rest = &url[len..];
    }
    out.push_str(rest);
    out
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use azure_core::error::ErrorKind;
    use azure_core::http::{headers::Headers, RawResponse, StatusCode};

    use super::*;

    fn service_error(status: StatusCode, code: &str, body: &str) -> Error {
        let raw = RawResponse::from_bytes(status, Headers::new(), body.as_bytes().to_vec());
        Error::Service {
            operation: "reading the work queue's length".into(),
            endpoint: "http://127.0.0.1:10001/devstoreaccount1".into(),
            source: Box::new(azure_core::Error::new(
                ErrorKind::HttpResponse {
                    status,
                    error_code: Some(code.into()),
                    raw_response: Some(Box::new(raw)),
                },
                "the service answered with an error\n<?xml version=\"1.0\"?>",
            )),
        }
    }

    #[test]
    fn service_errors_are_one_line_with_status_code_and_message() {
        let body = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Error>\n  <Code>QueueNotFound</Code>\n  <Message>The specified queue does not exist.\nRequestId:5b1c\nTime:2026-12-01T14:00:00.000Z</Message>\n</Error>";
        let e = service_error(StatusCode::NotFound, "QueueNotFound", body);
        assert_eq!(
            e.to_string(),
            "reading the work queue's length at http://127.0.0.1:10001/devstoreaccount1: \
             HTTP 404 QueueNotFound: The specified queue does not exist."
        );
        assert!(e.is_not_found());
        assert_eq!(e.http_status(), Some(404));
        assert_eq!(e.error_code(), Some("QueueNotFound"));
    }

    #[test]
    fn a_body_without_a_message_gives_status_and_code() {
        let e = service_error(StatusCode::Conflict, "QueueBeingDeleted", "not xml");
        assert!(
            e.to_string().ends_with(": HTTP 409 QueueBeingDeleted"),
            "{e}"
        );
        assert!(!e.is_not_found());
    }

    #[test]
    fn url_queries_are_cut_from_error_text() {
        let text = "failed to execute `reqwest` request: error sending request for url \
                    (http://127.0.0.1:1/devstoreaccount1/work/messages?sv=2022-11-02&sp=rwdaup&sig=c2VjcmV0%3D): \
                    client error (Connect); see https://a.example/x?sig=abc and \"https://b.example?k=v\"";
        assert_eq!(
            strip_url_queries(text),
            "failed to execute `reqwest` request: error sending request for url \
             (http://127.0.0.1:1/devstoreaccount1/work/messages): client error (Connect); \
             see https://a.example/x and \"https://b.example\""
        );
        assert_eq!(strip_url_queries("no url here?"), "no url here?");
    }

    #[test]
    fn transport_errors_lose_the_sas_in_their_sources() {
        // The HTTP client's error, as the SDK wraps it: a message, and the URL in the source.
        let inner = std::io::Error::other(
            "error sending request for url (http://127.0.0.1:1/devstoreaccount1/work?sv=1&sig=c2VjcmV0)",
        );
        let source = azure_core::Error::with_error(
            ErrorKind::Connection,
            inner,
            "failed to execute `reqwest` request",
        );
        let e = Error::service("op".into(), "http://127.0.0.1:1/devstoreaccount1", source);
        for text in [e.to_string(), format!("{e:?}"), chain(&e)] {
            assert!(!text.contains("sig="), "{text}");
            assert!(!text.contains("c2VjcmV0"), "{text}");
        }
        assert!(
            chain(&e).contains("(http://127.0.0.1:1/devstoreaccount1/work)"),
            "{}",
            chain(&e)
        );
    }

    #[test]
    fn other_errors_keep_their_first_line() {
        let e = Error::Service {
            operation: "op".into(),
            endpoint: "http://x".into(),
            source: Box::new(azure_core::Error::with_message(
                ErrorKind::Connection,
                "connection refused\nmore detail",
            )),
        };
        assert_eq!(e.to_string(), "op at http://x: connection refused");
        assert_eq!(e.error_code(), None);
    }
}
