//! One JSON document per run in container `orchestrations`, written with ETag conditions.
//!
//! A new run is created only if no document of that name exists (`If-None-Match: *`); every
//! later write names the ETag it read (`If-Match`). A write that lost a race fails with
//! [`StoreError::Conflict`] instead of silently overwriting, and the engine reloads and
//! re-applies its (idempotent) events. Every call goes through the `storage` crate, each with a
//! deadline: a write that timed out may still have landed, and the next write then finds the
//! ETag changed (a `Conflict`), reloads and re-applies, as for any lost race.
//!
//! The document's blob is also the run's lock between servers: the server that fans the run
//! out and in holds the blob's lease, and names it in each write, so a server that lost the
//! lease is refused by storage ([`StoreError::NotOwner`]) instead of overwriting the owner's
//! document. Leases are taken, renewed and given up by the engine (`lease`).

use std::time::Duration;

use orchestration::RunId;
use storage::blobs::{Condition, Refused};
use storage::leases::Acquired;
use storage::{names, Storage};

use super::RunDocument;

/// The ETag a run's document had when it was read or written.
pub type Etag = String;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The document changed since it was read (or exists when it should not).
    #[error("run {0}: the stored document changed since it was read")]
    Conflict(String),
    /// The run's lease is not this server's (any more): another server owns the run.
    #[error("run {0}: another server owns this run now")]
    NotOwner(String),
    #[error(transparent)]
    Storage(#[from] storage::Error),
    #[error("run {id}: the stored document is not valid: {message}")]
    Corrupt { id: String, message: String },
}

/// The run documents.
#[derive(Clone, Debug)]
pub struct RunStore {
    storage: Storage,
    /// The longest one call may take.
    deadline: Duration,
}

impl RunStore {
    pub fn new(storage: Storage, deadline: Duration) -> RunStore {
        RunStore { storage, deadline }
    }

    fn blob_name(id: &RunId) -> String {
        format!("{id}.json")
    }

    /// Stores a new run; fails with `Conflict` if one with the same id exists.
    pub async fn create(&self, doc: &RunDocument) -> Result<Etag, StoreError> {
        self.upload(doc, Condition::Absent, None).await
    }

    /// Replaces a run's document if it still has `etag` and, when `lease` is given, if that is
    /// still the blob's lease (`NotOwner` otherwise).
    pub async fn replace(
        &self,
        doc: &RunDocument,
        etag: &Etag,
        lease: Option<&str>,
    ) -> Result<Etag, StoreError> {
        self.upload(doc, Condition::Matches(etag.clone()), lease)
            .await
    }

    async fn upload(
        &self,
        doc: &RunDocument,
        condition: Condition,
        lease: Option<&str>,
    ) -> Result<Etag, StoreError> {
        let id = doc.state.id();
        let body = serde_json::to_vec(doc).map_err(|e| StoreError::Corrupt {
            id: id.to_string(),
            message: e.to_string(),
        })?;
        let name = Self::blob_name(id);
        let write = self.storage.upload_blob_leased(
            names::ORCHESTRATIONS_CONTAINER,
            &name,
            body,
            "application/json",
            condition,
            lease,
        );
        self.storage
            .within(self.deadline, "writing a run document", write)
            .await?
            .map_err(|refused| match refused {
                Refused::Condition => StoreError::Conflict(id.to_string()),
                Refused::Lease => StoreError::NotOwner(id.to_string()),
            })
    }

    /// Asks for the lease of a run's document, under this server's lease id, for `period`.
    pub async fn acquire(
        &self,
        id: &RunId,
        lease: &str,
        period: Duration,
    ) -> Result<Acquired, StoreError> {
        let name = Self::blob_name(id);
        let call =
            self.storage
                .acquire_lease(names::ORCHESTRATIONS_CONTAINER, &name, lease, period);
        Ok(self
            .storage
            .within(self.deadline, "leasing a run document", call)
            .await?)
    }

    /// Renews the lease of a run's document; `false` when it is not ours any more.
    pub async fn renew(
        &self,
        id: &RunId,
        lease: &str,
        deadline: Duration,
    ) -> Result<bool, StoreError> {
        let name = Self::blob_name(id);
        let call = self
            .storage
            .renew_lease(names::ORCHESTRATIONS_CONTAINER, &name, lease);
        Ok(self
            .storage
            .within(deadline.min(self.deadline), "renewing a run's lease", call)
            .await?)
    }

    /// Gives up our lease of a run's document.
    pub async fn release(&self, id: &RunId, lease: &str) -> Result<(), StoreError> {
        let name = Self::blob_name(id);
        let call = self
            .storage
            .release_lease(names::ORCHESTRATIONS_CONTAINER, &name, lease);
        Ok(self
            .storage
            .within(self.deadline, "releasing a run's lease", call)
            .await?)
    }

    /// Breaks whatever lease a run's document has, at once: its holder's next write is
    /// refused. For an operator's change (terminate, purge) made on a server that does not own
    /// the run.
    pub async fn break_lease(&self, id: &RunId) -> Result<(), StoreError> {
        let name = Self::blob_name(id);
        let call = self
            .storage
            .break_lease(names::ORCHESTRATIONS_CONTAINER, &name);
        Ok(self
            .storage
            .within(self.deadline, "breaking a run's lease", call)
            .await?)
    }

    /// Reads a run's document and its ETag; `None` if there is none.
    pub async fn load(&self, id: &RunId) -> Result<Option<(RunDocument, Etag)>, StoreError> {
        self.load_within(id, self.deadline).await
    }

    /// As [`RunStore::load`], within `deadline` (at most the store's own).
    pub async fn load_within(
        &self,
        id: &RunId,
        deadline: Duration,
    ) -> Result<Option<(RunDocument, Etag)>, StoreError> {
        let name = Self::blob_name(id);
        let read = self
            .storage
            .download_blob_with_etag(names::ORCHESTRATIONS_CONTAINER, &name);
        let Some((bytes, etag)) = self
            .storage
            .within(deadline.min(self.deadline), "reading a run document", read)
            .await?
        else {
            return Ok(None);
        };
        let doc: RunDocument = serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
            id: id.to_string(),
            message: e.to_string(),
        })?;
        Ok(Some((doc, etag)))
    }

    /// The ids of every stored run.
    pub async fn ids(&self) -> Result<Vec<RunId>, StoreError> {
        let list = self
            .storage
            .list_blob_names(names::ORCHESTRATIONS_CONTAINER, "");
        let names = self
            .storage
            .within(self.deadline, "listing the run documents", list)
            .await?;
        Ok(names
            .iter()
            .filter_map(|name| RunId::parse(name.strip_suffix(".json")?).ok())
            .collect())
    }

    /// Deletes a run's document (absent is fine), breaking its lease first: a leased blob can
    /// only be deleted by its holder, and a purged run has no owner left to wait for.
    pub async fn delete(&self, id: &RunId) -> Result<(), StoreError> {
        self.break_lease(id).await?;
        let name = Self::blob_name(id);
        let delete = self
            .storage
            .delete_blob(names::ORCHESTRATIONS_CONTAINER, &name);
        self.storage
            .within(self.deadline, "deleting a run document", delete)
            .await?;
        Ok(())
    }
}
