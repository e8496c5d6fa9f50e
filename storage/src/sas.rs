//! Account SAS tokens, signed with the account key.
//!
//! The official Azure SDK clients take either an Entra ID credential or a URL that carries a SAS;
//! they have no shared-key option. A key (Azurite's well-known one, or a real account's) is
//! turned into an account SAS here, in process, and never leaves it.

use azure_core::credentials::Secret;
use azure_core::time::OffsetDateTime;

use crate::role::{Grant, Role};
use crate::{Error, Result};

/// The service version the signature is computed for.
const SIGNED_VERSION: &str = "2022-11-02";
/// Blob and queue services: both roles use both.
const SERVICES: &str = "bq";

/// Builds the query string of an account SAS with `role`'s permissions, valid until `expiry`.
///
/// `allow_http` is for the emulator, which serves plain HTTP on loopback.
pub fn account_sas(
    account: &str,
    key: &str,
    role: Role,
    expiry: OffsetDateTime,
    allow_http: bool,
) -> Result<String> {
    let grant = role.grant();
    let expiry = format_expiry(expiry);
    let protocol = if allow_http { "https,http" } else { "https" };
    let string_to_sign = string_to_sign(account, grant, &expiry, protocol);
    let signature =
        azure_core::hmac::hmac_sha256(&string_to_sign, &Secret::new(key.to_string()))
            .map_err(|e| Error::Config(format!("the account key is not valid base64: {e}")))?;
    Ok(url::form_urlencoded::Serializer::new(String::new())
        .append_pair("sv", SIGNED_VERSION)
        .append_pair("ss", SERVICES)
        .append_pair("srt", grant.resource_types)
        .append_pair("sp", grant.permissions)
        .append_pair("se", &expiry)
        .append_pair("spr", protocol)
        .append_pair("sig", &signature)
        .finish())
}

/// The string-to-sign of an account SAS for versions 2020-12-06 and later: account,
/// permissions, services, resource types, start, expiry, IP range, protocol, version and
/// encryption scope, each followed by a newline.
fn string_to_sign(account: &str, grant: Grant, expiry: &str, protocol: &str) -> String {
    let Grant {
        permissions,
        resource_types,
    } = grant;
    format!(
        "{account}\n{permissions}\n{SERVICES}\n{resource_types}\n\n{expiry}\n\n{protocol}\n{SIGNED_VERSION}\n\n"
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
    fn expiry_pads_every_field() {
        // 2027-03-04T05:06:07Z: single-digit month, day and time fields get their zero.
        let t = OffsetDateTime::from_unix_timestamp(1_804_136_767).unwrap();
        assert_eq!(format_expiry(t), "2027-03-04T05:06:07Z");
    }

    #[test]
    fn string_to_sign_has_the_documented_fields_per_role() {
        let expiry = "2027-01-15T08:00:00Z";
        assert_eq!(
            string_to_sign("acct", Role::Server.grant(), expiry, "https"),
            "acct\nrwdlacp\nbq\nco\n\n2027-01-15T08:00:00Z\n\nhttps\n2022-11-02\n\n"
        );
        assert_eq!(
            string_to_sign("acct", Role::Worker.grant(), expiry, "https,http"),
            "acct\nrwdaup\nbq\nco\n\n2027-01-15T08:00:00Z\n\nhttps,http\n2022-11-02\n\n"
        );
    }

    #[test]
    fn token_is_signed_and_url_encoded() {
        let t = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let token = account_sas("devstoreaccount1", "a2V5", Role::Worker, t, true).unwrap();
        assert!(token.starts_with("sv=2022-11-02&ss=bq&srt=co&sp=rwdaup&se=2027-01-15T08%3A00%3A00Z&spr=https%2Chttp&sig="), "{token}");
        // Same inputs, same signature: the token is deterministic.
        assert_eq!(
            token,
            account_sas("devstoreaccount1", "a2V5", Role::Worker, t, true).unwrap()
        );
        assert_ne!(
            token,
            account_sas("devstoreaccount1", "b3RoZXI=", Role::Worker, t, true).unwrap()
        );
    }

    #[test]
    fn each_role_signs_its_own_permissions() {
        let t = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let server = account_sas("devstoreaccount1", "a2V5", Role::Server, t, false).unwrap();
        let worker = account_sas("devstoreaccount1", "a2V5", Role::Worker, t, false).unwrap();
        assert!(server.contains("&sp=rwdlacp&"), "{server}");
        assert!(worker.contains("&sp=rwdaup&"), "{worker}");
        let sig = |token: &str| token.split("&sig=").nth(1).unwrap().to_string();
        assert_ne!(sig(&server), sig(&worker));
    }

    #[test]
    fn a_key_that_is_not_base64_is_a_config_error() {
        let t = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let err = account_sas("acct", "not base64!!", Role::Server, t, false).unwrap_err();
        assert!(err.to_string().contains("base64"), "{err}");
    }
}
