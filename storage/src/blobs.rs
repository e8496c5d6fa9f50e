//! Small blobs read and written whole: item inputs and outputs.
//!
//! Every item blob is a few hundred bytes of JSON, so each operation is one request with the
//! whole content in memory. Absence is an answer, not an error: a download of a missing blob is
//! `None` and deleting one already gone succeeds, because with at-least-once delivery another
//! worker may have got there first.

use azure_core::http::headers::HeaderName;
use azure_core::http::{Etag, RequestContent, StatusCode};
use azure_storage_blob::models::{
    BlobClientDownloadOptions, BlobClientUploadOptions, BlobContainerClientListBlobsOptions,
    BlockBlobClientUploadOptions,
};
use futures_util::TryStreamExt;

use crate::observe::Operation;
use crate::{Error, Result, Storage};

/// When a conditional write may happen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    /// Only if no blob has the name (`If-None-Match: *`).
    Absent,
    /// Only if the blob still has this ETag (`If-Match`).
    Matches(String),
}

/// A conditional write whose condition did not hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConditionFailed;

/// Why a conditional, leased write was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// Its condition did not hold (the blob exists, or changed since it was read).
    Condition,
    /// The blob's lease is not the one named (another holder, none, or it expired): the writer
    /// is not the blob's owner any more.
    Lease,
}

impl Storage {
    /// Writes `bytes` to `container/path`, replacing any blob already there, and returns the new
    /// ETag when the service sent one.
    pub async fn upload_blob(
        &self,
        container: &str,
        path: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<Option<String>> {
        self.observe(Operation::UploadBlob, async {
            let options = BlobClientUploadOptions {
                blob_content_type: Some(content_type.to_string()),
                ..Default::default()
            };
            let result = self
                .container(container)
                .blob_client(path)
                .upload(RequestContent::from(bytes), Some(options))
                .await
                .map_err(|e| self.blob_error(format!("writing blob `{container}/{path}`"), e))?;
            Ok(result.etag.map(|etag| etag.to_string()))
        })
        .await
    }

    /// The content of `container/path`, or `None` when the blob (or its container) does not
    /// exist.
    pub async fn download_blob(&self, container: &str, path: &str) -> Result<Option<Vec<u8>>> {
        self.observe(Operation::DownloadBlob, async {
            let operation = || format!("reading blob `{container}/{path}`");
            let response = match self
                .container(container)
                .blob_client(path)
                .download(None)
                .await
            {
                Ok(response) => response,
                Err(e) if e.http_status() == Some(StatusCode::NotFound) => return Ok(None),
                Err(e) => return Err(self.blob_error(operation(), e)),
            };
            let bytes = response
                .body
                .collect()
                .await
                .map_err(|e| self.blob_error(operation(), e))?;
            Ok(Some(bytes.to_vec()))
        })
        .await
    }

    /// Writes `bytes` to `container/path` only if `condition` holds, and returns the new ETag;
    /// `Ok(Err(ConditionFailed))` when it does not (the blob exists, or changed since it was
    /// read). The way to update a document that two writers may race on.
    pub async fn upload_blob_if(
        &self,
        container: &str,
        path: &str,
        bytes: Vec<u8>,
        content_type: &str,
        condition: Condition,
    ) -> Result<std::result::Result<String, ConditionFailed>> {
        let written = self
            .upload_blob_leased(container, path, bytes, content_type, condition, None)
            .await?;
        Ok(written.map_err(|_| ConditionFailed))
    }

    /// As [`Storage::upload_blob_if`], naming the blob's lease when `lease_id` is given: while a
    /// blob is leased, only a write that names its lease lands, so a writer that lost the lease
    /// is refused ([`Refused::Lease`]) by the service itself.
    pub async fn upload_blob_leased(
        &self,
        container: &str,
        path: &str,
        bytes: Vec<u8>,
        content_type: &str,
        condition: Condition,
        lease_id: Option<&str>,
    ) -> Result<std::result::Result<String, Refused>> {
        self.observe(Operation::UploadBlob, async {
            let operation = || format!("writing blob `{container}/{path}`");
            let mut options = match condition {
                Condition::Absent => BlockBlobClientUploadOptions::default().if_not_exists(),
                Condition::Matches(etag) => BlockBlobClientUploadOptions {
                    if_match: Some(Etag::from(etag)),
                    ..Default::default()
                },
            };
            options.blob_content_type = Some(content_type.to_string());
            options.lease_id = lease_id.map(str::to_string);
            let written = self
                .container(container)
                .blob_client(path)
                .block_blob_client()
                .upload(RequestContent::from(bytes), Some(options))
                .await;
            match written {
                Ok(result) => match result.etag {
                    Some(etag) => Ok(Ok(etag.to_string())),
                    None => Err(Error::Protocol {
                        operation: operation(),
                        problem: "the service sent no ETag".into(),
                    }),
                },
                Err(e)
                    if matches!(
                        e.http_status(),
                        Some(StatusCode::PreconditionFailed | StatusCode::Conflict)
                    ) =>
                {
                    let error = self.blob_error(operation(), e);
                    if crate::leases::is_lease_refusal(error.error_code()) {
                        Ok(Err(Refused::Lease))
                    } else {
                        Ok(Err(Refused::Condition))
                    }
                }
                Err(e) => Err(self.blob_error(operation(), e)),
            }
        })
        .await
    }

    /// The content of `container/path` and its ETag, or `None` when the blob does not exist. A
    /// missing ETag is an error: a conditional write after this read would otherwise have
    /// nothing to hold on to.
    pub async fn download_blob_with_etag(
        &self,
        container: &str,
        path: &str,
    ) -> Result<Option<(Vec<u8>, String)>> {
        self.observe(Operation::DownloadBlob, async {
            const ETAG: HeaderName = HeaderName::from_static("etag");
            let operation = || format!("reading blob `{container}/{path}`");
            let options = BlobClientDownloadOptions {
                parallel: Some(std::num::NonZero::<usize>::MIN),
                ..Default::default()
            };
            let response = match self
                .container(container)
                .blob_client(path)
                .download(Some(options))
                .await
            {
                Ok(response) => response,
                Err(e) if e.http_status() == Some(StatusCode::NotFound) => return Ok(None),
                Err(e) => return Err(self.blob_error(operation(), e)),
            };
            let etag = response
                .headers
                .get_optional_str(&ETAG)
                .map(str::to_string)
                .ok_or_else(|| Error::Protocol {
                    operation: operation(),
                    problem: "the service sent no ETag".into(),
                })?;
            let bytes = response
                .body
                .collect()
                .await
                .map_err(|e| self.blob_error(operation(), e))?;
            Ok(Some((bytes.to_vec(), etag)))
        })
        .await
    }

    /// Deletes `container/path`; a blob already gone is not an error.
    pub async fn delete_blob(&self, container: &str, path: &str) -> Result<()> {
        self.observe(Operation::DeleteBlob, async {
            match self
                .container(container)
                .blob_client(path)
                .delete(None)
                .await
            {
                Ok(_) => Ok(()),
                Err(e) if e.http_status() == Some(StatusCode::NotFound) => Ok(()),
                Err(e) => Err(self.blob_error(format!("deleting blob `{container}/{path}`"), e)),
            }
        })
        .await
    }

    /// Names of the blobs in `container` that start with `prefix`, in name order.
    pub async fn list_blob_names(&self, container: &str, prefix: &str) -> Result<Vec<String>> {
        self.observe(Operation::ListBlobs, async {
            let operation = || format!("listing blobs `{container}/{prefix}*`");
            let options = BlobContainerClientListBlobsOptions {
                prefix: Some(prefix.to_string()),
                ..Default::default()
            };
            let items: Vec<_> = self
                .container(container)
                .list_blobs(Some(options))
                .map_err(|e| self.blob_error(operation(), e))?
                .try_collect()
                .await
                .map_err(|e| self.blob_error(operation(), e))?;
            Ok(items.into_iter().filter_map(|item| item.name).collect())
        })
        .await
    }

    /// The URL of `container/path` without any credential in it: what a BlobCreated event
    /// carries, safe to log and to send to a queue.
    pub fn blob_url(&self, container: &str, path: &str) -> String {
        let mut url = self.container(container).blob_client(path).url().clone();
        url.set_query(None);
        url.to_string()
    }

    fn blob_error(&self, operation: String, source: azure_core::Error) -> Error {
        Error::service(operation, self.blob_endpoint(), source)
    }
}
