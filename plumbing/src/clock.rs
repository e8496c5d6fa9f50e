//! The one wall clock of both binaries: milliseconds since the Unix epoch, the unit of every
//! instant in run documents, samples, events and exports. Their text form is
//! `protocol::timestamp`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use protocol::timestamp::{parse_rfc3339, rfc3339};

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    unix_ms(SystemTime::now())
}

/// Milliseconds since the Unix epoch (0 for times before it, `u64::MAX` past its range).
pub fn unix_ms(time: SystemTime) -> u64 {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_since_the_epoch() {
        let at = |secs, ms| UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(ms);
        assert_eq!(unix_ms(at(2, 5)), 2005);
        assert_eq!(unix_ms(UNIX_EPOCH - Duration::from_secs(1)), 0);
    }

    #[test]
    fn now_is_after_this_code_was_written() {
        // 2026-01-01: a clock that reads earlier is broken, and so would every timestamp be.
        assert!(now_ms() > 1_767_225_600_000);
    }
}
