//! The one text form of an instant on every wire: RFC 3339 in UTC, to the millisecond
//! (`2026-03-01T12:00:00.25Z`; whole seconds have no fraction), as Durable Functions writes
//! `createdTime` and Event Grid `eventTime`. Instants themselves travel as milliseconds since
//! the Unix epoch.
//!
//! Pure (no clock), so the browser, the server and the worker share it.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// `ms` since the Unix epoch as RFC 3339 in UTC, with the fraction `time` writes (trailing
/// zeros dropped): the form the API has always answered with.
pub fn rfc3339(ms: u64) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    t.format(&Rfc3339).unwrap_or_default()
}

/// Milliseconds since the Unix epoch of an RFC 3339 time with any offset; `None` for text that
/// is not one, or a time before the epoch.
pub fn parse_rfc3339(text: &str) -> Option<u64> {
    let t = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    u64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_date_dash_u() {
        // Expected values from `date -u -d @SECONDS +%Y-%m-%dT%H:%M:%S`.
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000_250), "2023-11-14T22:13:20.25Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(4_102_444_799_999), "2099-12-31T23:59:59.999Z");
        assert_eq!(rfc3339(1_764_180_000_123), "2025-11-26T18:00:00.123Z");
    }

    #[test]
    fn times_parse_back_from_any_offset_and_precision() {
        for ms in [0, 1_700_000_000_250, 4_102_444_799_999] {
            assert_eq!(parse_rfc3339(&rfc3339(ms)), Some(ms));
        }
        assert_eq!(
            parse_rfc3339("2025-11-26T19:00:00.123+01:00"),
            Some(1_764_180_000_123)
        );
        assert_eq!(parse_rfc3339("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(
            parse_rfc3339("2017-06-26T18:41:00.9584103Z"),
            Some(1_498_502_460_958)
        );
        assert_eq!(
            parse_rfc3339("2024-02-29T00:00:00.5Z"),
            Some(1_709_164_800_500)
        );
        for bad in [
            "yesterday",
            "2025-13-01T00:00:00Z",
            "1969-12-31T23:59:59Z",
            "",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
}
