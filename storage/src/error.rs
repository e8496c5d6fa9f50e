use thiserror::Error;

/// Everything that can go wrong while configuring or calling storage.
#[derive(Debug, Error)]
pub enum Error {
    /// The settings do not describe a usable account.
    #[error("storage configuration: {0}")]
    Config(String),
    /// A call to the storage service failed.
    #[error("{operation} at {endpoint}: {source}")]
    Service {
        operation: String,
        endpoint: String,
        #[source]
        source: Box<azure_core::Error>,
    },
    /// A call did not answer in time.
    #[error("{operation} at {endpoint}: no answer within {seconds} s")]
    Timeout {
        operation: String,
        endpoint: String,
        seconds: u64,
    },
}

impl Error {
    /// Whether the service answered 404: a queue or container that does not exist (yet).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Service { source, .. }
            if source.http_status() == Some(azure_core::http::StatusCode::NotFound))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
