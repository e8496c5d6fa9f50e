//! Connected clients for the account's queues and containers.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::TokenCredential;
use azure_core::http::{StatusCode, Url};
use azure_storage_blob::{BlobContainerClient, BlobServiceClient};
use azure_storage_queue::models::QueueClientGetPropertiesResultHeaders;
use azure_storage_queue::{QueueClient, QueueServiceClient};

use crate::account::{Account, Credential};
use crate::sas::account_sas;
use crate::{names, Error, Result};

/// How long a shared-key SAS minted at start-up stays valid. A process running longer than this
/// must be restarted; Kubernetes rolls pods far more often.
const SAS_LIFETIME_DAYS: i64 = 365;

/// Clients for one storage account. Cheap to clone: clients share their HTTP pipeline.
#[derive(Clone)]
pub struct Storage {
    queues: Arc<QueueServiceClient>,
    blobs: Arc<BlobServiceClient>,
    queue_endpoint: String,
    blob_endpoint: String,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("queue_endpoint", &self.queue_endpoint)
            .field("blob_endpoint", &self.blob_endpoint)
            .finish()
    }
}

impl Storage {
    /// Builds the clients. Makes no network call: an unreachable account is found by the first
    /// operation, which names the endpoint in its error.
    pub fn connect(account: &Account) -> Result<Storage> {
        let mut queue_url = account.queue_endpoint.clone();
        let mut blob_url = account.blob_endpoint.clone();
        let credential: Option<Arc<dyn TokenCredential>> = match &account.credential {
            Credential::SharedKey { key } => {
                let expiry = azure_core::time::OffsetDateTime::now_utc()
                    + azure_core::time::Duration::days(SAS_LIFETIME_DAYS);
                let token = account_sas(&account.name, key, expiry, account.is_emulator())?;
                queue_url.set_query(Some(&token));
                blob_url.set_query(Some(&token));
                None
            }
            Credential::Sas { token } => {
                let token = token.trim_start_matches('?');
                queue_url.set_query(Some(token));
                blob_url.set_query(Some(token));
                None
            }
            Credential::EntraId => Some(entra_id_credential()?),
        };
        let queues = QueueServiceClient::new(queue_url, credential.clone(), None)
            .map_err(|e| config_error("queue", &account.queue_endpoint, e))?;
        let blobs = BlobServiceClient::new(blob_url, credential, None)
            .map_err(|e| config_error("blob", &account.blob_endpoint, e))?;
        Ok(Storage {
            queues: Arc::new(queues),
            blobs: Arc::new(blobs),
            queue_endpoint: account.queue_endpoint.to_string(),
            blob_endpoint: account.blob_endpoint.to_string(),
        })
    }

    /// The queue service endpoint, without credentials: safe to log and to show.
    pub fn queue_endpoint(&self) -> &str {
        &self.queue_endpoint
    }

    /// The blob service endpoint, without credentials: safe to log and to show.
    pub fn blob_endpoint(&self) -> &str {
        &self.blob_endpoint
    }

    /// A client for one queue.
    pub fn queue(&self, name: &str) -> Result<QueueClient> {
        self.queues
            .queue_client(name)
            .map_err(|e| Error::Config(format!("queue `{name}`: {e}")))
    }

    /// A client for one container.
    pub fn container(&self, name: &str) -> BlobContainerClient {
        self.blobs.blob_container_client(name)
    }

    /// Creates every queue and container Scaleboard uses, leaving existing ones alone.
    pub async fn ensure_resources(&self) -> Result<()> {
        for name in names::QUEUES {
            let queue = self.queue(name)?;
            match queue.create(None).await {
                Ok(_) => {}
                Err(e) if e.http_status() == Some(StatusCode::Conflict) => {}
                Err(source) => {
                    return Err(self.queue_error(format!("creating queue `{name}`"), source))
                }
            }
        }
        for name in names::CONTAINERS {
            match self.container(name).create(None).await {
                Ok(_) => {}
                Err(e) if e.http_status() == Some(StatusCode::Conflict) => {}
                Err(source) => {
                    return Err(Error::Service {
                        operation: format!("creating container `{name}`"),
                        endpoint: self.blob_endpoint.clone(),
                        source: Box::new(source),
                    })
                }
            }
        }
        Ok(())
    }

    /// The queue's approximate message count: visible and invisible messages, what KEDA's
    /// `queueLengthStrategy: all` reads.
    pub async fn queue_length(&self, name: &str) -> Result<u64> {
        let operation = || format!("reading the length of queue `{name}`");
        let response = self
            .queue(name)?
            .get_properties(None)
            .await
            .map_err(|e| self.queue_error(operation(), e))?;
        let count = response
            .approximate_messages_count()
            .map_err(|e| self.queue_error(operation(), e))?
            .unwrap_or(0);
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// Runs a storage call with a deadline, so a probe answers in bounded time even when the
    /// SDK would keep retrying an unreachable endpoint for a minute or more.
    pub async fn within<T>(
        &self,
        limit: Duration,
        operation: &str,
        call: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        match tokio::time::timeout(limit, call).await {
            Ok(result) => result,
            Err(_) => Err(Error::Timeout {
                operation: operation.to_string(),
                endpoint: self.queue_endpoint.clone(),
                seconds: limit.as_secs().max(1),
            }),
        }
    }

    pub(crate) fn service_error(&self, operation: String, source: azure_core::Error) -> Error {
        self.queue_error(operation, source)
    }

    fn queue_error(&self, operation: String, source: azure_core::Error) -> Error {
        Error::Service {
            operation,
            endpoint: self.queue_endpoint.clone(),
            source: Box::new(source),
        }
    }
}

fn config_error(service: &str, endpoint: &Url, e: azure_core::Error) -> Error {
    Error::Config(format!("{service} endpoint {endpoint}: {e}"))
}

/// Workload identity when the AKS webhook has injected its token file, else managed identity.
fn entra_id_credential() -> Result<Arc<dyn TokenCredential>> {
    let credential: Arc<dyn TokenCredential> =
        if std::env::var_os("AZURE_FEDERATED_TOKEN_FILE").is_some() {
            azure_identity::WorkloadIdentityCredential::new(None)
                .map_err(|e| Error::Config(format!("workload identity: {e}")))?
        } else {
            azure_identity::ManagedIdentityCredential::new(None)
                .map_err(|e| Error::Config(format!("managed identity: {e}")))?
        };
    Ok(credential)
}
