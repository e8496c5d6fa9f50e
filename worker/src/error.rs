use thiserror::Error;

/// Why a worker could not start or had to stop. Failures of single items are not errors of the
/// worker: they are retried, poisoned or released, and counted in [`crate::Stats`].
#[derive(Debug, Error)]
pub enum Error {
    /// The settings cannot work.
    #[error("worker configuration: {0}")]
    Config(String),
    /// Storage refused something that no retry will fix (e.g. a malformed queue name).
    #[error(transparent)]
    Storage(#[from] storage::Error),
    /// An item loop panicked: a bug, reported rather than hidden.
    #[error("an item loop of worker {worker} stopped unexpectedly: {message}")]
    Loop { worker: String, message: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
