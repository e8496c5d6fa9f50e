//! Storage settings from flags and environment variables, shared by server and worker.

use clap::Args;

use crate::account::{Account, Credential};
use crate::{Error, Result};

/// Where storage is and how to authenticate. With none of these set, Azurite's development
/// account on 127.0.0.1 (blob port 10000, queue port 10001) is used.
///
/// Its `Debug` says which secrets are set, never what they are.
#[derive(Clone, Default, Args)]
pub struct StorageArgs {
    /// A storage connection string (from the portal, `az storage account show-connection-string`
    /// or Azurite's docs). Takes precedence over the other storage settings.
    #[arg(long, env = "AZURE_STORAGE_CONNECTION_STRING", hide_env_values = true)]
    pub storage_connection_string: Option<String>,

    /// Storage account name, used with --storage-key, --storage-sas or --storage-identity.
    #[arg(long, env = "AZURE_STORAGE_ACCOUNT")]
    pub storage_account: Option<String>,

    /// Account key (base64) for --storage-account.
    #[arg(long, env = "AZURE_STORAGE_KEY", hide_env_values = true)]
    pub storage_key: Option<String>,

    /// SAS token for --storage-account, used as given (this process cannot renew it: replace it
    /// before it expires). An account SAS for the blob and queue services (ss=bq) at container
    /// and object level (srt=co) with, for the server, sp=rwdlacp (read, write, delete, list,
    /// add, create, process) and, for a worker, sp=rwdaup (read, write, delete, add, update,
    /// process). The server running the local model's workers in process needs both (rwdlacup).
    /// With --storage-key instead, each component mints its own, with just these permissions, for
    /// an hour at a time.
    #[arg(long, env = "AZURE_STORAGE_SAS_TOKEN", hide_env_values = true)]
    pub storage_sas: Option<String>,

    /// Authenticate --storage-account with Entra ID: workload identity on AKS (the
    /// AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_FEDERATED_TOKEN_FILE the webhook injects), else
    /// the host's managed identity. The identity needs the Storage Queue Data Contributor and
    /// Storage Blob Data Contributor roles.
    #[arg(long, env = "SCALEBOARD_STORAGE_IDENTITY")]
    pub storage_identity: bool,

    /// DNS suffix of the storage endpoints for --storage-account (another Azure cloud).
    #[arg(
        long,
        env = "AZURE_STORAGE_ENDPOINT_SUFFIX",
        default_value = "core.windows.net"
    )]
    pub storage_endpoint_suffix: String,

    /// Azurite's blob host:port when no account is configured.
    #[arg(
        long,
        env = "SCALEBOARD_AZURITE_BLOB",
        default_value = "127.0.0.1:10000"
    )]
    pub azurite_blob: String,

    /// Azurite's queue host:port when no account is configured.
    #[arg(
        long,
        env = "SCALEBOARD_AZURITE_QUEUE",
        default_value = "127.0.0.1:10001"
    )]
    pub azurite_queue: String,
}

impl std::fmt::Debug for StorageArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secret = |value: &Option<String>| value.as_ref().map(|_| "***");
        f.debug_struct("StorageArgs")
            .field(
                "storage_connection_string",
                &secret(&self.storage_connection_string),
            )
            .field("storage_account", &self.storage_account)
            .field("storage_key", &secret(&self.storage_key))
            .field("storage_sas", &secret(&self.storage_sas))
            .field("storage_identity", &self.storage_identity)
            .field("storage_endpoint_suffix", &self.storage_endpoint_suffix)
            .field("azurite_blob", &self.azurite_blob)
            .field("azurite_queue", &self.azurite_queue)
            .finish()
    }
}

impl StorageArgs {
    /// Azurite on the given ports, as the demo and the tests start it.
    pub fn azurite(blob_port: u16, queue_port: u16) -> StorageArgs {
        StorageArgs {
            storage_endpoint_suffix: "core.windows.net".into(),
            azurite_blob: format!("127.0.0.1:{blob_port}"),
            azurite_queue: format!("127.0.0.1:{queue_port}"),
            ..StorageArgs::default()
        }
    }

    /// Resolves the settings into one account, or says which combination is wrong.
    pub fn account(&self) -> Result<Account> {
        if let Some(text) = &self.storage_connection_string {
            return Account::from_connection_string(text);
        }
        let Some(name) = &self.storage_account else {
            if self.storage_key.is_some() || self.storage_sas.is_some() || self.storage_identity {
                return Err(Error::Config(
                    "--storage-key, --storage-sas and --storage-identity need --storage-account (AZURE_STORAGE_ACCOUNT)".into(),
                ));
            }
            return Account::development(&self.azurite_blob, &self.azurite_queue);
        };
        let credential = match (&self.storage_key, &self.storage_sas, self.storage_identity) {
            (Some(key), None, false) => Credential::SharedKey { key: key.clone() },
            (None, Some(token), false) => Credential::Sas {
                token: token.clone(),
            },
            (None, None, true) => Credential::EntraId,
            (None, None, false) => {
                return Err(Error::Config(format!(
                    "storage account `{name}` needs one of --storage-key, --storage-sas or --storage-identity"
                )))
            }
            _ => {
                return Err(Error::Config(
                    "give only one of --storage-key, --storage-sas and --storage-identity".into(),
                ))
            }
        };
        Account::in_cloud(name, &self.storage_endpoint_suffix, credential)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        storage: StorageArgs,
    }

    fn parse(args: &[&str]) -> StorageArgs {
        Cli::try_parse_from(std::iter::once("test").chain(args.iter().copied()))
            .unwrap()
            .storage
    }

    #[test]
    fn debug_output_names_secrets_but_never_shows_them() {
        let args = parse(&[
            "--storage-connection-string",
            "AccountName=a;AccountKey=c2VjcmV0LWtleQ==",
            "--storage-account",
            "scaleboard01",
            "--storage-key",
            "c2VjcmV0LWtleQ==",
            "--storage-sas",
            "sv=2022&sig=c2VjcmV0",
        ]);
        let debug = format!("{args:?}");
        assert!(!debug.contains("c2VjcmV0"), "{debug}");
        assert!(debug.contains("scaleboard01"), "{debug}");
        assert_eq!(debug.matches("***").count(), 3, "{debug}");
    }

    #[test]
    fn nothing_set_means_local_azurite() {
        let account = parse(&[]).account().unwrap();
        assert!(account.is_emulator());
        assert_eq!(
            account.blob_endpoint.as_str(),
            "http://127.0.0.1:10000/devstoreaccount1"
        );
    }

    #[test]
    fn account_with_identity_is_entra_id_over_https() {
        let account = parse(&["--storage-account", "scaleboard01", "--storage-identity"])
            .account()
            .unwrap();
        assert_eq!(account.credential, Credential::EntraId);
        assert_eq!(
            account.queue_endpoint.as_str(),
            "https://scaleboard01.queue.core.windows.net/"
        );
    }

    #[test]
    fn conflicting_or_incomplete_settings_are_explained() {
        let cases: [(&[&str], &str); 3] = [
            (&["--storage-key", "a2V5"], "need --storage-account"),
            (&["--storage-account", "scaleboard01"], "needs one of"),
            (
                &[
                    "--storage-account",
                    "scaleboard01",
                    "--storage-key",
                    "a2V5",
                    "--storage-identity",
                ],
                "only one of",
            ),
        ];
        for (args, expected) in cases {
            let err = parse(args).account().unwrap_err().to_string();
            assert!(err.contains(expected), "{args:?}: {err}");
        }
    }
}
