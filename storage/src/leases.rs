//! Blob leases: Azure Storage's own primitive for "one writer at a time".
//!
//! A lease is held for a finite period (15 to 60 s) and renewed by its holder; while it is
//! active, every write or deletion of the blob must name the lease id, so a holder that lost it
//! (it expired while the holder was stalled, or someone broke it) is refused by the service
//! itself rather than by a check of its own. The answers that mean "not yours" are values, not
//! errors: they are what a second server sees every time, not a failure.

use std::time::Duration;

use azure_core::http::StatusCode;
use azure_storage_blob::models::{
    BlobClientAcquireLeaseOptions, BlobClientAcquireLeaseResultHeaders, BlobClientBreakLeaseOptions,
};

use crate::observe::Operation;
use crate::{Error, Result, Storage};

/// The shortest and longest finite lease the service grants.
pub const LEASE_BOUNDS: std::ops::RangeInclusive<u64> = 15..=60;

/// What asking for a lease gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acquired {
    /// The lease is ours, with the id we proposed.
    Yes,
    /// Someone else holds it.
    Held,
    /// There is no such blob (any more).
    Missing,
}

/// A lease id: the service wants a GUID, and one made of 128 random bits is as unique as any.
pub fn new_lease_id() -> String {
    let n: u128 = rand::random();
    let hex = format!("{n:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Whether the service's error code says a write was refused for its lease (missing, another
/// one, expired), as opposed to its ETag condition.
pub fn is_lease_refusal(code: Option<&str>) -> bool {
    code.is_some_and(|code| code.starts_with("Lease"))
}

impl Storage {
    /// Acquires (or, when we hold it already, renews) the lease on `container/path` for
    /// `period`, under `lease_id`. `period` is clamped to [`LEASE_BOUNDS`].
    pub async fn acquire_lease(
        &self,
        container: &str,
        path: &str,
        lease_id: &str,
        period: Duration,
    ) -> Result<Acquired> {
        self.observe(Operation::LeaseBlob, async {
            let seconds = period
                .as_secs()
                .clamp(*LEASE_BOUNDS.start(), *LEASE_BOUNDS.end());
            let seconds = i32::try_from(seconds).unwrap_or(i32::MAX);
            let options = BlobClientAcquireLeaseOptions {
                proposed_lease_id: Some(lease_id.to_string()),
                ..Default::default()
            };
            let answer = self
                .container(container)
                .blob_client(path)
                .acquire_lease(seconds, Some(options))
                .await;
            match answer {
                Ok(response) => match response.lease_id() {
                    Ok(Some(id)) if id.eq_ignore_ascii_case(lease_id) => Ok(Acquired::Yes),
                    _ => Err(Error::Protocol {
                        operation: format!("leasing blob `{container}/{path}`"),
                        problem: "the service granted a lease with another id".into(),
                    }),
                },
                Err(e) if e.http_status() == Some(StatusCode::Conflict) => Ok(Acquired::Held),
                Err(e) if e.http_status() == Some(StatusCode::NotFound) => Ok(Acquired::Missing),
                Err(e) => Err(self.lease_error(container, path, e)),
            }
        })
        .await
    }

    /// Renews our lease; `false` when it is not ours any more (someone else holds or broke it,
    /// or the blob is gone).
    pub async fn renew_lease(&self, container: &str, path: &str, lease_id: &str) -> Result<bool> {
        self.observe(Operation::LeaseBlob, async {
            let answer = self
                .container(container)
                .blob_client(path)
                .renew_lease(lease_id.to_string(), None)
                .await;
            match answer {
                Ok(_) => Ok(true),
                Err(e)
                    if matches!(
                        e.http_status(),
                        Some(
                            StatusCode::Conflict
                                | StatusCode::NotFound
                                | StatusCode::PreconditionFailed
                        )
                    ) =>
                {
                    Ok(false)
                }
                Err(e) => Err(self.lease_error(container, path, e)),
            }
        })
        .await
    }

    /// Gives our lease up, so that another server need not wait for it to expire; a lease that
    /// is not ours (any more) is not an error.
    pub async fn release_lease(&self, container: &str, path: &str, lease_id: &str) -> Result<()> {
        self.observe(Operation::LeaseBlob, async {
            let answer = self
                .container(container)
                .blob_client(path)
                .release_lease(lease_id.to_string(), None)
                .await;
            self.no_lease_is_fine(container, path, answer.map(drop))
        })
        .await
    }

    /// Breaks whatever lease the blob has, at once: its holder's next write is refused. No
    /// lease, or no blob, is not an error.
    pub async fn break_lease(&self, container: &str, path: &str) -> Result<()> {
        self.observe(Operation::LeaseBlob, async {
            let options = BlobClientBreakLeaseOptions {
                break_period: Some(0),
                ..Default::default()
            };
            let answer = self
                .container(container)
                .blob_client(path)
                .break_lease(Some(options))
                .await;
            self.no_lease_is_fine(container, path, answer.map(drop))
        })
        .await
    }

    /// An answer to giving up or breaking a lease: a lease that is not there (409: none, or
    /// someone else's) or a blob that is not there (404) leaves nothing to do, so not an error.
    fn no_lease_is_fine(
        &self,
        container: &str,
        path: &str,
        answer: azure_core::Result<()>,
    ) -> Result<()> {
        match answer {
            Ok(()) => Ok(()),
            Err(e)
                if matches!(
                    e.http_status(),
                    Some(StatusCode::Conflict | StatusCode::NotFound)
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(self.lease_error(container, path, e)),
        }
    }

    fn lease_error(&self, container: &str, path: &str, source: azure_core::Error) -> Error {
        Error::service(
            format!("leasing blob `{container}/{path}`"),
            self.blob_endpoint(),
            source,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_id_is_a_guid() {
        let id = new_lease_id();
        let groups: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12]);
        assert!(id.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
        assert_ne!(id, new_lease_id());
    }

    #[test]
    fn only_lease_codes_are_lease_refusals() {
        assert!(is_lease_refusal(Some("LeaseIdMissing")));
        assert!(is_lease_refusal(Some("LeaseIdMismatchWithBlobOperation")));
        assert!(is_lease_refusal(Some("LeaseNotPresentWithBlobOperation")));
        assert!(!is_lease_refusal(Some("ConditionNotMet")));
        assert!(!is_lease_refusal(None));
    }
}
