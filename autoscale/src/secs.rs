//! Durations as seconds (`2.5`) on the wire, so people can read and edit them in the settings
//! form; serde's own `{secs, nanos}` shape is neither.

use std::time::Duration;

use serde::{de::Error as _, Deserialize, Deserializer, Serializer};

pub(crate) fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(value.as_secs_f64())
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Duration, D::Error> {
    let seconds = f64::deserialize(deserializer)?;
    Duration::try_from_secs_f64(seconds).map_err(|_| {
        D::Error::custom(format!(
            "{seconds} is not a duration in seconds (must be >= 0)"
        ))
    })
}

/// `Option<Duration>` as seconds or `null`.
pub(crate) mod opt {
    use serde::{de::Error as _, Deserialize, Deserializer, Serialize, Serializer};
    use std::time::Duration;

    pub(crate) fn serialize<S: Serializer>(v: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        v.map(|d| d.as_secs_f64()).serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        Option::<f64>::deserialize(d)?
            .map(|s| Duration::try_from_secs_f64(s).map_err(D::Error::custom))
            .transpose()
    }
}

/// Formats a duration as people write it in a reason: `30 s`, `2.5 s`.
pub(crate) fn show(value: Duration) -> String {
    if value.subsec_nanos() == 0 {
        format!("{} s", value.as_secs())
    } else {
        format!("{} s", (value.as_secs_f64() * 1000.0).round() / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::value::{Error, F64Deserializer};

    #[test]
    fn reads_seconds_and_rejects_negative() {
        let ok = deserialize(F64Deserializer::<Error>::new(2.5)).unwrap();
        assert_eq!(ok, Duration::from_millis(2500));
        assert!(deserialize(F64Deserializer::<Error>::new(-1.0)).is_err());
        assert!(deserialize(F64Deserializer::<Error>::new(f64::NAN)).is_err());
    }

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Optional {
        #[serde(with = "opt")]
        after: Option<Duration>,
    }

    #[test]
    fn reads_optional_seconds_or_null_and_rejects_negative() {
        let read = |json: &str| serde_json::from_str::<Optional>(json).map(|o| o.after);
        assert_eq!(
            read(r#"{"after": 2.5}"#).unwrap(),
            Some(Duration::from_millis(2500))
        );
        assert_eq!(read(r#"{"after": 0}"#).unwrap(), Some(Duration::ZERO));
        assert_eq!(read(r#"{"after": null}"#).unwrap(), None);
        assert!(read(r#"{"after": -1}"#).is_err());
    }

    #[test]
    fn shows_whole_and_fractional_seconds() {
        for (value, text) in [
            (Duration::from_secs(30), "30 s"),
            (Duration::from_millis(2500), "2.5 s"),
            (Duration::ZERO, "0 s"),
        ] {
            assert_eq!(show(value), text);
        }
    }
}
