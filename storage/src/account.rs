//! Where the storage account is and how to authenticate to it.
//!
//! Pure parsing and validation, kept apart from the clients so every accepted and rejected form
//! is unit-tested without a network.

use std::fmt;

use url::Url;

use crate::{Error, Result};

/// The development account of Azurite and its well-known key (public, documented; not a secret).
pub const DEV_ACCOUNT: &str = "devstoreaccount1";
const DEV_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// How requests are authorised.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// The account key; requests carry an account SAS signed with it.
    SharedKey { key: String },
    /// A SAS token given by the operator (with or without its leading `?`).
    Sas { token: String },
    /// Entra ID: workload identity on AKS, else the managed identity of the host.
    EntraId,
}

impl fmt::Debug for Credential {
    // Keys and tokens never reach a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::SharedKey { .. } => f.write_str("SharedKey(***)"),
            Credential::Sas { .. } => f.write_str("Sas(***)"),
            Credential::EntraId => f.write_str("EntraId"),
        }
    }
}

/// A storage account: its name, its blob and queue endpoints, and a credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub blob_endpoint: Url,
    pub queue_endpoint: Url,
    pub credential: Credential,
}

impl Account {
    /// Azurite's development account on the given hosts, e.g. `127.0.0.1:10000`.
    pub fn development(blob_host: &str, queue_host: &str) -> Result<Account> {
        Ok(Account {
            name: DEV_ACCOUNT.into(),
            blob_endpoint: endpoint(&format!("http://{blob_host}/{DEV_ACCOUNT}"))?,
            queue_endpoint: endpoint(&format!("http://{queue_host}/{DEV_ACCOUNT}"))?,
            credential: Credential::SharedKey {
                key: DEV_KEY.into(),
            },
        })
    }

    /// An account in Azure's public cloud (or another cloud with `endpoint_suffix`).
    pub fn in_cloud(name: &str, endpoint_suffix: &str, credential: Credential) -> Result<Account> {
        validate_account_name(name)?;
        Ok(Account {
            name: name.into(),
            blob_endpoint: endpoint(&format!("https://{name}.blob.{endpoint_suffix}"))?,
            queue_endpoint: endpoint(&format!("https://{name}.queue.{endpoint_suffix}"))?,
            credential,
        })
    }

    /// Parses an Azure Storage connection string, as the portal and Azurite's docs give them.
    pub fn from_connection_string(text: &str) -> Result<Account> {
        let mut protocol = "https".to_string();
        let mut name = None;
        let mut key = None;
        let mut sas = None;
        let mut blob = None;
        let mut queue = None;
        let mut suffix = "core.windows.net".to_string();
        let mut development = false;
        for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').ok_or_else(|| {
                Error::Config(format!(
                    "connection string part `{}` is not `Key=Value`",
                    redact(part)
                ))
            })?;
            match k.trim() {
                "DefaultEndpointsProtocol" => protocol = v.trim().to_string(),
                "AccountName" => name = Some(v.trim().to_string()),
                "AccountKey" => key = Some(v.trim().to_string()),
                "SharedAccessSignature" => sas = Some(v.trim().to_string()),
                "BlobEndpoint" => blob = Some(v.trim().to_string()),
                "QueueEndpoint" => queue = Some(v.trim().to_string()),
                "EndpointSuffix" => suffix = v.trim().to_string(),
                "UseDevelopmentStorage" => development = v.trim().eq_ignore_ascii_case("true"),
                // Table and file endpoints and other settings are not used by Scaleboard.
                _ => {}
            }
        }
        if development {
            return Account::development("127.0.0.1:10000", "127.0.0.1:10001");
        }
        if protocol != "http" && protocol != "https" {
            return Err(Error::Config(format!(
                "DefaultEndpointsProtocol must be http or https, not `{protocol}`"
            )));
        }
        let credential = match (key, sas) {
            (Some(key), _) => Credential::SharedKey { key },
            (None, Some(token)) => Credential::Sas { token },
            (None, None) => {
                return Err(Error::Config(
                    "connection string has neither AccountKey nor SharedAccessSignature".into(),
                ))
            }
        };
        let name = match (name, &blob) {
            (Some(name), _) => name,
            // A SAS connection string may carry only endpoints; the account is the first label
            // of the host (or the first path segment for an emulator).
            (None, Some(blob)) => account_from_endpoint(&endpoint(blob)?)?,
            (None, None) => {
                return Err(Error::Config(
                    "connection string has no AccountName and no BlobEndpoint".into(),
                ))
            }
        };
        let blob_endpoint = match blob {
            Some(b) => endpoint(&b)?,
            None => endpoint(&format!("{protocol}://{name}.blob.{suffix}"))?,
        };
        let queue_endpoint = match queue {
            Some(q) => endpoint(&q)?,
            None => endpoint(&format!("{protocol}://{name}.queue.{suffix}"))?,
        };
        Ok(Account {
            name,
            blob_endpoint,
            queue_endpoint,
            credential,
        })
    }

    /// Whether this is an emulator account (path-style URLs, plain HTTP allowed).
    pub fn is_emulator(&self) -> bool {
        self.blob_endpoint.scheme() == "http"
    }
}

/// Parses an endpoint URL and drops a trailing `/`: the SDK appends `/queue` to the path, and a
/// trailing slash would make `//queue`, which Azurite rejects.
pub fn endpoint(text: &str) -> Result<Url> {
    let mut url = Url::parse(text.trim())
        .map_err(|e| Error::Config(format!("`{text}` is not a valid endpoint URL: {e}")))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(Error::Config(format!(
            "endpoint `{text}` must use http or https"
        )));
    }
    if url.query().is_some() {
        return Err(Error::Config(format!(
            "endpoint `{}` must not carry a query; give a SAS token separately",
            url.origin().ascii_serialization()
        )));
    }
    let path = url.path().trim_end_matches('/').to_string();
    url.set_path(if path.is_empty() { "/" } else { &path });
    Ok(url)
}

fn account_from_endpoint(url: &Url) -> Result<String> {
    let host = url.host_str().unwrap_or_default();
    let is_ip = host.parse::<std::net::IpAddr>().is_ok() || host == "localhost";
    let name = if is_ip {
        url.path_segments()
            .and_then(|mut s| s.next())
            .unwrap_or_default()
    } else {
        host.split('.').next().unwrap_or_default()
    };
    validate_account_name(name)?;
    Ok(name.to_string())
}

/// Storage account names are 3–24 lowercase letters and digits.
fn validate_account_name(name: &str) -> Result<()> {
    let ok = (3..=24).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "`{name}` is not a storage account name (3 to 24 lowercase letters and digits)"
        )))
    }
}

fn redact(part: &str) -> String {
    match part.split_once('=') {
        Some((k, _)) => format!("{k}=***"),
        None if part.len() > 12 => format!("{}…", &part[..part.floor_char_boundary(12)]),
        None => part.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn azurite_connection_string_with_explicit_endpoints() {
        let text = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:41000/devstoreaccount1;QueueEndpoint=http://127.0.0.1:41001/devstoreaccount1/;";
        let account = Account::from_connection_string(text).unwrap();
        assert_eq!(account.name, "devstoreaccount1");
        assert_eq!(
            account.blob_endpoint.as_str(),
            "http://127.0.0.1:41000/devstoreaccount1"
        );
        // The trailing slash is dropped.
        assert_eq!(
            account.queue_endpoint.as_str(),
            "http://127.0.0.1:41001/devstoreaccount1"
        );
        assert_eq!(
            account.credential,
            Credential::SharedKey { key: "a2V5".into() }
        );
        assert!(account.is_emulator());
    }

    #[test]
    fn use_development_storage_means_azurite_defaults() {
        let account = Account::from_connection_string("UseDevelopmentStorage=true").unwrap();
        assert_eq!(
            account.queue_endpoint.as_str(),
            "http://127.0.0.1:10001/devstoreaccount1"
        );
    }

    #[test]
    fn cloud_connection_string_builds_endpoints_from_the_suffix() {
        let text = "DefaultEndpointsProtocol=https;AccountName=scaleboard01;AccountKey=a2V5;EndpointSuffix=core.chinacloudapi.cn";
        let account = Account::from_connection_string(text).unwrap();
        assert_eq!(
            account.blob_endpoint.as_str(),
            "https://scaleboard01.blob.core.chinacloudapi.cn/"
        );
        assert_eq!(
            account.queue_endpoint.as_str(),
            "https://scaleboard01.queue.core.chinacloudapi.cn/"
        );
        assert!(!account.is_emulator());
    }

    #[test]
    fn sas_connection_string_takes_the_account_from_the_endpoint() {
        let text = "BlobEndpoint=https://acct123.blob.core.windows.net/;QueueEndpoint=https://acct123.queue.core.windows.net/;SharedAccessSignature=sv=2022-11-02&sig=abc";
        let account = Account::from_connection_string(text).unwrap();
        assert_eq!(account.name, "acct123");
        assert_eq!(
            account.credential,
            Credential::Sas {
                token: "sv=2022-11-02&sig=abc".into()
            }
        );
    }

    #[test]
    fn bad_connection_strings_say_what_is_wrong_without_echoing_secrets() {
        let cases = [
            (
                "AccountName=acct123",
                "neither AccountKey nor SharedAccessSignature",
            ),
            ("AccountKey=c2VjcmV0", "no AccountName"),
            ("garbage-without-equals-sign", "is not `Key=Value`"),
            (
                "DefaultEndpointsProtocol=ftp;AccountName=acct123;AccountKey=a2V5",
                "must be http or https",
            ),
            (
                "AccountName=acct123;AccountKey=a2V5;BlobEndpoint=not a url",
                "not a valid endpoint URL",
            ),
        ];
        for (text, expected) in cases {
            let message = Account::from_connection_string(text)
                .expect_err(text)
                .to_string();
            assert!(message.contains(expected), "{text}: {message}");
            assert!(!message.contains("c2VjcmV0"), "secret leaked: {message}");
        }
    }

    #[test]
    fn account_names_are_validated() {
        assert!(Account::in_cloud("scaleboard01", "core.windows.net", Credential::EntraId).is_ok());
        for bad in ["ab", "UPPER", "has-dash", "waytoolongaccountname12345"] {
            assert!(
                Account::in_cloud(bad, "core.windows.net", Credential::EntraId).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn endpoints_with_queries_are_rejected() {
        let err = endpoint("https://a.blob.core.windows.net/?sig=secret").unwrap_err();
        assert!(!err.to_string().contains("secret"));
    }

    #[test]
    fn credentials_are_redacted_in_debug_output() {
        let debug = format!(
            "{:?}",
            Credential::SharedKey {
                key: "c2VjcmV0".into()
            }
        );
        assert!(!debug.contains("c2VjcmV0"));
    }
}
