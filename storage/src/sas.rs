//! Account SAS tokens, signed with the account key.
//!
//! The official Azure SDK clients take either an Entra ID credential or a URL that carries a SAS;
//! they have no shared-key option. A key (Azurite's well-known one, or a real account's) is
//! turned into an account SAS here, in process, and never leaves it.

use azure_core::credentials::Secret;
use azure_core::time::OffsetDateTime;

use crate::{Error, Result};

/// The service version the signature is computed for.
const SIGNED_VERSION: &str = "2022-11-02";
/// Read, write, delete, list, add, create, update, process: all that the queues and blobs need.
const PERMISSIONS: &str = "rwdlacup";
/// Blob and queue services.
const SERVICES: &str = "bq";
/// Service, container and object level resources.
const RESOURCE_TYPES: &str = "sco";

/// Builds the query string of an account SAS valid until `expiry`.
///
/// `allow_http` is for the emulator, which serves plain HTTP on loopback.
pub fn account_sas(
    account: &str,
    key: &str,
    expiry: OffsetDateTime,
    allow_http: bool,
) -> Result<String> {
    let expiry = format_expiry(expiry);
    let protocol = if allow_http { "https,http" } else { "https" };
    let string_to_sign = string_to_sign(account, &expiry, protocol);
    let signature =
        azure_core::hmac::hmac_sha256(&string_to_sign, &Secret::new(key.to_string()))
            .map_err(|e| Error::Config(format!("the account key is not valid base64: {e}")))?;
    Ok(url::form_urlencoded::Serializer::new(String::new())
        .append_pair("sv", SIGNED_VERSION)
        .append_pair("ss", SERVICES)
        .append_pair("srt", RESOURCE_TYPES)
        .append_pair("sp", PERMISSIONS)
        .append_pair("se", &expiry)
        .append_pair("spr", protocol)
        .append_pair("sig", &signature)
        .finish())
}

/// The string-to-sign of an account SAS for versions 2020-12-06 and later: account,
/// permissions, services, resource types, start, expiry, IP range, protocol, version and
/// encryption scope, each followed by a newline.
fn string_to_sign(account: &str, expiry: &str, protocol: &str) -> String {
    format!(
        "{account}\n{PERMISSIONS}\n{SERVICES}\n{RESOURCE_TYPES}\n\n{expiry}\n\n{protocol}\n{SIGNED_VERSION}\n\n"
    )
}

/// ISO 8601 to the second, the form the service documents for `se`; `t` is in UTC, as
/// `OffsetDateTime::now_utc()` gives it.
fn format_expiry(t: OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_utc_to_the_second() {
        let t = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        assert_eq!(format_expiry(t), "2027-01-15T08:00:00Z");
    }

    #[test]
    fn string_to_sign_has_the_documented_fields() {
        let s = string_to_sign("acct", "2027-01-15T08:00:00Z", "https");
        assert_eq!(
            s,
            "acct\nrwdlacup\nbq\nsco\n\n2027-01-15T08:00:00Z\n\nhttps\n2022-11-02\n\n"
        );
    }

    #[test]
    fn token_is_signed_and_url_encoded() {
        let t = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let token = account_sas("devstoreaccount1", "a2V5", t, true).unwrap();
        assert!(token.starts_with("sv=2022-11-02&ss=bq&srt=sco&sp=rwdlacup&se=2027-01-15T08%3A00%3A00Z&spr=https%2Chttp&sig="));
        // Same inputs, same signature: the token is deterministic.
        assert_eq!(
            token,
            account_sas("devstoreaccount1", "a2V5", t, true).unwrap()
        );
        assert_ne!(
            token,
            account_sas("devstoreaccount1", "b3RoZXI=", t, true).unwrap()
        );
    }

    #[test]
    fn a_key_that_is_not_base64_is_a_config_error() {
        let t = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let err = account_sas("acct", "not base64!!", t, false).unwrap_err();
        assert!(err.to_string().contains("base64"), "{err}");
    }
}
