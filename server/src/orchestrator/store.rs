//! One JSON document per run in container `orchestrations`, written with ETag conditions.
//!
//! A new run is created only if no document of that name exists (`If-None-Match: *`); every
//! later write names the ETag it read (`If-Match`). A write that lost a race fails with
//! [`StoreError::Conflict`] instead of silently overwriting, and the engine reloads and
//! re-applies its (idempotent) events.

use azure_core::http::headers::HeaderName;
use azure_core::http::{Etag, RequestContent, StatusCode};
use azure_storage_blob::models::{BlobClientDownloadOptions, BlockBlobClientUploadOptions};
use azure_storage_blob::BlobContainerClient;
use futures_util::TryStreamExt;
use orchestration::RunId;
use storage::{names, Storage};

use super::RunDocument;

const ETAG: HeaderName = HeaderName::from_static("etag");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The document changed since it was read (or exists when it should not).
    #[error("run {0}: the stored document changed since it was read")]
    Conflict(String),
    #[error("run {id}: {operation}: {source}")]
    Storage {
        id: String,
        operation: &'static str,
        #[source]
        source: Box<azure_core::Error>,
    },
    #[error("run {id}: the stored document is not valid: {message}")]
    Corrupt { id: String, message: String },
}

/// The run documents.
#[derive(Clone, Debug)]
pub struct RunStore {
    storage: Storage,
}

impl RunStore {
    pub fn new(storage: Storage) -> RunStore {
        RunStore { storage }
    }

    fn container(&self) -> BlobContainerClient {
        self.storage.container(names::ORCHESTRATIONS_CONTAINER)
    }

    fn blob_name(id: &RunId) -> String {
        format!("{id}.json")
    }

    /// Writes a new run's document; fails with `Conflict` if one exists already.
    pub async fn create(&self, doc: &RunDocument) -> Result<Etag, StoreError> {
        let options = BlockBlobClientUploadOptions::default().if_not_exists();
        self.upload(doc, options).await
    }

    /// Replaces a run's document if it still has `etag`.
    pub async fn replace(&self, doc: &RunDocument, etag: &Etag) -> Result<Etag, StoreError> {
        let options = BlockBlobClientUploadOptions {
            if_match: Some(etag.clone()),
            ..Default::default()
        };
        self.upload(doc, options).await
    }

    async fn upload(
        &self,
        doc: &RunDocument,
        mut options: BlockBlobClientUploadOptions<'_>,
    ) -> Result<Etag, StoreError> {
        let id = doc.state.id().to_string();
        let body = serde_json::to_vec(doc).map_err(|e| StoreError::Corrupt {
            id: id.clone(),
            message: e.to_string(),
        })?;
        options.blob_content_type = Some("application/json".into());
        let blob = self
            .container()
            .blob_client(&Self::blob_name(doc.state.id()))
            .block_blob_client();
        match blob.upload(RequestContent::from(body), Some(options)).await {
            Ok(result) => result.etag.ok_or_else(|| StoreError::Corrupt {
                id,
                message: "the service returned no ETag".into(),
            }),
            Err(e)
                if matches!(
                    e.http_status(),
                    Some(StatusCode::PreconditionFailed | StatusCode::Conflict)
                ) =>
            {
                Err(StoreError::Conflict(id))
            }
            Err(e) => Err(StoreError::Storage {
                id,
                operation: "writing the run document",
                source: Box::new(e),
            }),
        }
    }

    /// Reads a run's document and its ETag; `None` if there is none.
    pub async fn load(&self, id: &RunId) -> Result<Option<(RunDocument, Etag)>, StoreError> {
        let blob = self.container().blob_client(&Self::blob_name(id));
        let options = BlobClientDownloadOptions {
            parallel: Some(std::num::NonZero::<usize>::MIN),
            ..Default::default()
        };
        let storage_error = |operation, e: azure_core::Error| StoreError::Storage {
            id: id.to_string(),
            operation,
            source: Box::new(e),
        };
        let response = match blob.download(Some(options)).await {
            Ok(response) => response,
            Err(e) if e.http_status() == Some(StatusCode::NotFound) => return Ok(None),
            Err(e) => return Err(storage_error("reading the run document", e)),
        };
        let etag = response
            .headers
            .get_optional_str(&ETAG)
            .map(Etag::from)
            .unwrap_or_else(|| Etag::from("*"));
        let bytes = response
            .body
            .collect()
            .await
            .map_err(|e| storage_error("reading the run document's body", e))?;
        let doc: RunDocument = serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
            id: id.to_string(),
            message: e.to_string(),
        })?;
        Ok(Some((doc, etag)))
    }

    /// The ids of every stored run.
    pub async fn ids(&self) -> Result<Vec<RunId>, StoreError> {
        let pager = self
            .container()
            .list_blobs(None)
            .map_err(|e| StoreError::Storage {
                id: "*".into(),
                operation: "listing run documents",
                source: Box::new(e),
            })?;
        let items: Vec<_> = pager.try_collect().await.map_err(|e| StoreError::Storage {
            id: "*".into(),
            operation: "listing run documents",
            source: Box::new(e),
        })?;
        Ok(items
            .into_iter()
            .filter_map(|item| item.name)
            .filter_map(|name| RunId::parse(name.strip_suffix(".json")?).ok())
            .collect())
    }

    /// Deletes a run's document (absent is fine).
    pub async fn delete(&self, id: &RunId) -> Result<(), StoreError> {
        delete_blob(&self.container(), &Self::blob_name(id))
            .await
            .map_err(|e| StoreError::Storage {
                id: id.to_string(),
                operation: "deleting the run document",
                source: Box::new(e),
            })
    }
}

/// Names of the blobs under `prefix` in `container`.
pub async fn list_names(
    container: &BlobContainerClient,
    prefix: &str,
) -> azure_core::Result<Vec<String>> {
    let options = azure_storage_blob::models::BlobContainerClientListBlobsOptions {
        prefix: Some(prefix.to_string()),
        ..Default::default()
    };
    let items: Vec<_> = container.list_blobs(Some(options))?.try_collect().await?;
    Ok(items.into_iter().filter_map(|item| item.name).collect())
}

/// Deletes a blob; one already gone is fine.
pub async fn delete_blob(container: &BlobContainerClient, name: &str) -> azure_core::Result<()> {
    match container.blob_client(name).delete(None).await {
        Ok(_) => Ok(()),
        Err(e) if e.http_status() == Some(StatusCode::NotFound) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Downloads a small blob whole; `None` if it does not exist.
pub async fn download(
    container: &BlobContainerClient,
    name: &str,
) -> azure_core::Result<Option<Vec<u8>>> {
    let options = BlobClientDownloadOptions {
        parallel: Some(std::num::NonZero::<usize>::MIN),
        ..Default::default()
    };
    match container.blob_client(name).download(Some(options)).await {
        Ok(response) => Ok(Some(response.body.collect().await?.to_vec())),
        Err(e) if e.http_status() == Some(StatusCode::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}
