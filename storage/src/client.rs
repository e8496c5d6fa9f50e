//! Connected clients for the account's queues and containers.

use std::future::Future;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use azure_core::credentials::TokenCredential;
use azure_core::http::{StatusCode, Url};
use azure_core::time::OffsetDateTime;
use azure_storage_blob::{BlobContainerClient, BlobServiceClient};
use azure_storage_queue::models::QueueClientGetPropertiesResultHeaders;
use azure_storage_queue::{QueueClient, QueueServiceClient};

use crate::account::{Account, Credential};
use crate::error::strip_url_queries;
use crate::observe::{observed, Observer, Operation};
use crate::role::Role;
use crate::sas::account_sas;
use crate::{names, Error, Result};

/// How long a SAS minted from the account key stays valid. Short, so a token that escapes (a
/// proxy log, a heap dump) is soon useless; the clients are rebuilt with a fresh one long
/// before it ends (see [`renew_at`]).
pub const SAS_LIFETIME: Duration = Duration::from_secs(60 * 60);

/// Where the time comes from; injectable so that renewal is tested without waiting.
type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

/// Clients for one storage account, connected as one [`Role`]. Cheap to clone: clones share
/// the clients and their renewal.
#[derive(Clone)]
pub struct Storage {
    inner: Arc<Inner>,
    /// Told how each call ended (see [`Storage::observed_by`]).
    observer: Option<Arc<dyn Observer>>,
}

struct Inner {
    /// Kept to mint the next SAS. Its `Debug` redacts the key.
    account: Account,
    role: Role,
    clock: Clock,
    /// Swapped whole when a minted SAS passes half its life. Readers clone the `Arc` and let go
    /// of the lock at once, so a renewal never waits for a call in flight, and a call keeps the
    /// clients it started with (their SAS is still valid for half a lifetime).
    clients: RwLock<Arc<Clients>>,
    queue_endpoint: String,
    blob_endpoint: String,
}

/// The SDK clients, which carry the SAS in their URLs.
struct Clients {
    queues: QueueServiceClient,
    blobs: BlobServiceClient,
    /// When to mint a new SAS; `None` when there is nothing to renew (a SAS given by the
    /// operator, or Entra ID, whose credential refreshes its own tokens).
    renew_at: Option<OffsetDateTime>,
}

impl Clients {
    /// Whether their SAS is due for renewal at `now`.
    fn due(&self, now: OffsetDateTime) -> bool {
        self.renew_at.is_some_and(|at| now >= at)
    }
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("role", &self.inner.role)
            .field("queue_endpoint", &self.inner.queue_endpoint)
            .field("blob_endpoint", &self.inner.blob_endpoint)
            .finish()
    }
}

/// When a SAS minted at `minted` is replaced: at half its life. The other half covers a call
/// that took its clients just before the renewal (the SDK retries for a minute or more) and a
/// clock that runs up to half an hour behind the service's.
pub fn renew_at(minted: OffsetDateTime) -> OffsetDateTime {
    minted + SAS_LIFETIME / 2
}

impl Storage {
    /// Builds the clients for `role`: with an account key, under an account SAS that grants
    /// only what `role` needs (see [`Role::grant`]). Makes no network call: an unreachable
    /// account is found by the first operation, which names the endpoint in its error.
    pub fn connect(account: &Account, role: Role) -> Result<Storage> {
        Storage::connect_with_clock(account, role, Arc::new(OffsetDateTime::now_utc))
    }

    fn connect_with_clock(account: &Account, role: Role, clock: Clock) -> Result<Storage> {
        let clients = build_clients(account, role, clock())?;
        Ok(Storage {
            inner: Arc::new(Inner {
                account: account.clone(),
                role,
                clock,
                clients: RwLock::new(Arc::new(clients)),
                queue_endpoint: account.queue_endpoint.to_string(),
                blob_endpoint: account.blob_endpoint.to_string(),
            }),
            observer: None,
        })
    }

    /// Clients for the same account connected as `role`: the server hands its in-process
    /// workers (the local scaling model) a worker's SAS rather than its own. They report to the
    /// same observer.
    pub fn with_role(&self, role: Role) -> Result<Storage> {
        let mut storage =
            Storage::connect_with_clock(&self.inner.account, role, self.inner.clock.clone())?;
        storage.observer = self.observer.clone();
        Ok(storage)
    }

    /// These clients, telling `observer` how every call ends (its clones too).
    pub fn observed_by(mut self, observer: Arc<dyn Observer>) -> Storage {
        self.observer = Some(observer);
        self
    }

    /// Runs one storage call, reporting its end to the observer, if any.
    pub(crate) async fn observe<T>(
        &self,
        operation: Operation,
        call: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        observed(self.observer.as_ref(), operation, call).await
    }

    /// The role these clients were connected as.
    pub fn role(&self) -> Role {
        self.inner.role
    }

    /// The current clients, renewed first when their SAS has passed half its life. A pure
    /// time comparison on every access, so no background task has to be kept alive.
    fn clients(&self) -> Arc<Clients> {
        let now = (self.inner.clock)();
        let current = self
            .inner
            .clients
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if !current.due(now) {
            return current;
        }
        let mut slot = self
            .inner
            .clients
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        // Another caller may have renewed while this one waited for the lock.
        if slot.due(now) {
            match build_clients(&self.inner.account, self.inner.role, now) {
                Ok(fresh) => *slot = Arc::new(fresh),
                // Cannot happen with a key that signed at connect; keep the clients, whose SAS
                // is still valid for half a lifetime, and say so.
                Err(e) => tracing::warn!("renewing the storage SAS: {e}"),
            }
        }
        slot.clone()
    }

    /// The queue service endpoint, without credentials: safe to log and to show.
    pub fn queue_endpoint(&self) -> &str {
        &self.inner.queue_endpoint
    }

    /// The blob service endpoint, without credentials: safe to log and to show.
    pub fn blob_endpoint(&self) -> &str {
        &self.inner.blob_endpoint
    }

    /// A client for one queue.
    pub fn queue(&self, name: &str) -> Result<QueueClient> {
        self.clients()
            .queues
            .queue_client(name)
            .map_err(|e| Error::Config(strip_url_queries(&format!("queue `{name}`: {e}"))))
    }

    /// A client for one container.
    pub fn container(&self, name: &str) -> BlobContainerClient {
        self.clients().blobs.blob_container_client(name)
    }

    /// Creates every queue and container Scaleboard uses, leaving existing ones alone.
    pub async fn ensure_resources(&self) -> Result<()> {
        self.observe(Operation::CreateResources, self.create_resources())
            .await
    }

    async fn create_resources(&self) -> Result<()> {
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
                    return Err(Error::service(
                        format!("creating container `{name}`"),
                        self.blob_endpoint(),
                        source,
                    ))
                }
            }
        }
        Ok(())
    }

    /// The queue's approximate message count: visible and invisible messages, what KEDA's
    /// `queueLengthStrategy: all` reads.
    pub async fn queue_length(&self, name: &str) -> Result<u64> {
        self.observe(Operation::QueueLength, async {
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
        })
        .await
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
                endpoint: self.inner.queue_endpoint.clone(),
                seconds: limit.as_secs().max(1),
            }),
        }
    }

    pub(crate) fn queue_error(&self, operation: String, source: azure_core::Error) -> Error {
        Error::service(operation, self.queue_endpoint(), source)
    }
}

/// The service clients for `role`, with a SAS minted at `now` when the credential is a key.
fn build_clients(account: &Account, role: Role, now: OffsetDateTime) -> Result<Clients> {
    let mut queue_url = account.queue_endpoint.clone();
    let mut blob_url = account.blob_endpoint.clone();
    let mut renew = None;
    let credential: Option<Arc<dyn TokenCredential>> = match &account.credential {
        Credential::SharedKey { key } => {
            let token = account_sas(
                &account.name,
                key,
                role,
                now + SAS_LIFETIME,
                account.is_emulator(),
            )?;
            queue_url.set_query(Some(&token));
            blob_url.set_query(Some(&token));
            renew = Some(renew_at(now));
            None
        }
        // Used as given: it has the permissions and expiry its issuer chose, and this process
        // has no key to mint another.
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
    Ok(Clients {
        queues,
        blobs,
        renew_at: renew,
    })
}

fn config_error(service: &str, endpoint: &Url, e: azure_core::Error) -> Error {
    Error::Config(strip_url_queries(&format!(
        "{service} endpoint {endpoint}: {e}"
    )))
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicI64, Ordering};

    use super::*;

    /// A clock that stays where the test puts it.
    fn manual_clock(start: i64) -> (Arc<AtomicI64>, Clock) {
        let now = Arc::new(AtomicI64::new(start));
        let reading = now.clone();
        let clock: Clock = Arc::new(move || {
            OffsetDateTime::from_unix_timestamp(reading.load(Ordering::SeqCst)).unwrap()
        });
        (now, clock)
    }

    /// The `se` (expiry) of the SAS the clients currently carry, as signed.
    fn current_expiry(storage: &Storage) -> String {
        let url = storage.container("c").url().clone();
        url.query_pairs()
            .find(|(k, _)| k == "se")
            .map(|(_, v)| v.into_owned())
            .expect("a SAS in the URL")
    }

    fn dev_account() -> Account {
        Account::development("127.0.0.1:10000", "127.0.0.1:10001").unwrap()
    }

    const T0: i64 = 1_800_000_000; // 2027-01-15T08:00:00Z

    #[test]
    fn renewal_is_due_at_half_life() {
        let minted = OffsetDateTime::from_unix_timestamp(T0).unwrap();
        assert_eq!(SAS_LIFETIME, Duration::from_secs(3600));
        assert_eq!(
            renew_at(minted),
            OffsetDateTime::from_unix_timestamp(T0 + 1800).unwrap()
        );
    }

    #[test]
    fn clients_get_a_fresh_sas_once_half_its_life_has_passed() {
        let (now, clock) = manual_clock(T0);
        let storage = Storage::connect_with_clock(&dev_account(), Role::Worker, clock).unwrap();
        let clone = storage.clone();
        assert_eq!(current_expiry(&storage), "2027-01-15T09:00:00Z");

        now.store(T0 + 1799, Ordering::SeqCst);
        assert_eq!(
            current_expiry(&storage),
            "2027-01-15T09:00:00Z",
            "renewed early"
        );

        now.store(T0 + 1800, Ordering::SeqCst);
        assert_eq!(current_expiry(&storage), "2027-01-15T09:30:00Z");
        // Clones share the renewal, and the next one is half a lifetime later.
        assert_eq!(current_expiry(&clone), "2027-01-15T09:30:00Z");
        now.store(T0 + 3599, Ordering::SeqCst);
        assert_eq!(current_expiry(&clone), "2027-01-15T09:30:00Z");
        now.store(T0 + 3600, Ordering::SeqCst);
        assert_eq!(current_expiry(&storage), "2027-01-15T10:00:00Z");
    }

    #[test]
    fn queue_clients_carry_the_roles_permissions() {
        let (_, clock) = manual_clock(T0);
        let storage = Storage::connect_with_clock(&dev_account(), Role::Server, clock).unwrap();
        let permissions = |s: &Storage| {
            let url = s.queue("work").unwrap().url().clone();
            url.query_pairs()
                .find(|(k, _)| k == "sp")
                .map(|(_, v)| v.into_owned())
        };
        assert_eq!(permissions(&storage).as_deref(), Some("rwdlacp"));
        let worker = storage.with_role(Role::Worker).unwrap();
        assert_eq!(worker.role(), Role::Worker);
        assert_eq!(permissions(&worker).as_deref(), Some("rwdaup"));
    }

    #[test]
    fn a_given_sas_is_used_as_given_and_never_renewed() {
        let (now, clock) = manual_clock(T0);
        let mut account = dev_account();
        account.credential = Credential::Sas {
            token: "?sv=2022-11-02&sp=r&se=2027-01-15T08%3A10%3A00Z&sig=abc".into(),
        };
        let storage = Storage::connect_with_clock(&account, Role::Worker, clock).unwrap();
        now.store(T0 + 10 * 3600, Ordering::SeqCst);
        assert_eq!(current_expiry(&storage), "2027-01-15T08:10:00Z");
        let url = storage.container("c").url().clone();
        assert!(url.query().unwrap().contains("sp=r&"), "{url}");
    }

    #[test]
    fn debug_output_shows_no_key_and_no_sas() {
        let storage = Storage::connect(&dev_account(), Role::Server).unwrap();
        let debug = format!("{storage:?}");
        assert!(!debug.contains("sig="), "{debug}");
        assert!(!debug.contains("Eby8vdM02x"), "{debug}");
        assert!(debug.contains("Server"), "{debug}");
    }
}
