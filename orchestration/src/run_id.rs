//! The run identifier.
//!
//! A run id becomes part of blob names (`input/{run}/{item}.json`), queue message bodies and URLs,
//! so it is validated once, at the edge, and carried as a type that cannot hold anything else.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize, Serializer};

/// Identifier of one run: 1 to [`RunId::MAX_LEN`] characters of `[A-Za-z0-9-]`.
///
/// The alphabet is the intersection of what blob names, URL path segments and Kubernetes-style
/// labels accept without escaping, so the id can be pasted anywhere verbatim.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct RunId(String);

impl RunId {
    /// Longest accepted id. Durable Functions instance ids are 32 hex digits; 64 leaves room for
    /// ids chosen by a caller while keeping blob paths short.
    pub const MAX_LEN: usize = 64;

    /// Validates `s` as a run id.
    pub fn parse(s: &str) -> Result<RunId, RunIdError> {
        if s.is_empty() {
            return Err(RunIdError::Empty);
        }
        if let Some((index, ch)) = s
            .char_indices()
            .find(|&(_, ch)| !(ch.is_ascii_alphanumeric() || ch == '-'))
        {
            return Err(RunIdError::InvalidChar { index, ch });
        }
        // Checked after the alphabet, so every remaining char is one byte and `len` counts chars.
        if s.len() > Self::MAX_LEN {
            return Err(RunIdError::TooLong { len: s.len() });
        }
        Ok(RunId(s.to_owned()))
    }

    /// Formats a random number chosen by the caller as 32 lowercase hex digits, the shape of a
    /// Durable Functions instance id. Randomness stays with the caller so this crate stays pure.
    pub fn from_random(n: u128) -> RunId {
        RunId(format!("{n:032x}"))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for RunId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for RunId {
    type Err = RunIdError;

    fn from_str(s: &str) -> Result<RunId, RunIdError> {
        RunId::parse(s)
    }
}

impl TryFrom<String> for RunId {
    type Error = RunIdError;

    fn try_from(s: String) -> Result<RunId, RunIdError> {
        RunId::parse(&s)?;
        Ok(RunId(s))
    }
}

impl From<RunId> for String {
    fn from(id: RunId) -> String {
        id.0
    }
}

/// Written by hand (rather than `#[serde(into = "String")]`) so serializing does not clone.
impl Serialize for RunId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// Why a string is not a valid [`RunId`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunIdError {
    /// The string is empty.
    Empty,
    /// The string is longer than [`RunId::MAX_LEN`] characters.
    TooLong {
        /// Its length in characters.
        len: usize,
    },
    /// The string holds a character outside `[A-Za-z0-9-]`.
    InvalidChar {
        /// Byte offset of the character.
        index: usize,
        /// The character.
        ch: char,
    },
}

impl fmt::Display for RunIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunIdError::Empty => f.write_str("run id is empty"),
            RunIdError::TooLong { len } => write!(
                f,
                "run id is {len} characters long, at most {} are allowed",
                RunId::MAX_LEN
            ),
            RunIdError::InvalidChar { index, ch } => write!(
                f,
                "run id has {ch:?} at byte {index}; only A-Z, a-z, 0-9 and '-' are allowed"
            ),
        }
    }
}

impl std::error::Error for RunIdError {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_letters_digits_and_dashes() {
        let id = RunId::parse("Run-42-abc").expect("valid id");
        assert_eq!(id.as_str(), "Run-42-abc");
        assert_eq!(id.to_string(), "Run-42-abc");
    }

    #[test]
    fn rejects_empty() {
        assert_eq!(RunId::parse(""), Err(RunIdError::Empty));
    }

    #[test]
    fn rejects_characters_unsafe_in_blob_names() {
        for (s, index, ch) in [
            ("a/b", 1, '/'),
            ("a b", 1, ' '),
            ("..", 0, '.'),
            ("ab_c", 2, '_'),
            ("é", 0, 'é'),
        ] {
            assert_eq!(
                RunId::parse(s),
                Err(RunIdError::InvalidChar { index, ch }),
                "{s:?}"
            );
        }
    }

    #[test]
    fn length_limit_is_inclusive() {
        let max = "a".repeat(RunId::MAX_LEN);
        assert!(RunId::parse(&max).is_ok());
        let over = "a".repeat(RunId::MAX_LEN + 1);
        assert_eq!(
            RunId::parse(&over),
            Err(RunIdError::TooLong {
                len: RunId::MAX_LEN + 1
            })
        );
    }

    #[test]
    fn from_random_is_32_lowercase_hex_digits() {
        assert_eq!(
            RunId::from_random(0).as_str(),
            "00000000000000000000000000000000"
        );
        assert_eq!(
            RunId::from_random(u128::MAX).as_str(),
            "ffffffffffffffffffffffffffffffff"
        );
        assert_eq!(
            RunId::from_random(0xabc).as_str(),
            "00000000000000000000000000000abc"
        );
    }

    #[test]
    fn serializes_as_a_plain_string() {
        let id = RunId::parse("abc-1").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), r#""abc-1""#);
        let back: RunId = serde_json::from_str(r#""abc-1""#).unwrap();
        assert_eq!(back, id);
    }

    #[test]
    fn deserializing_validates() {
        let err = serde_json::from_str::<RunId>(r#""../etc""#).unwrap_err();
        assert!(err.to_string().contains("only A-Z"), "{err}");
        assert!(serde_json::from_str::<RunId>(r#""""#).is_err());
    }

    #[test]
    fn every_view_of_an_id_is_its_text() {
        let id: RunId = "Run-7".parse().expect("valid id");
        assert_eq!(id.as_str(), "Run-7");
        assert_eq!(AsRef::<str>::as_ref(&id), "Run-7");
        assert_eq!(id.to_string(), "Run-7");
        assert_eq!(String::from(id.clone()), "Run-7");
        assert_eq!(RunId::try_from("Run-7".to_owned()), Ok(id));
        assert_eq!(
            "a/b".parse::<RunId>(),
            Err(RunIdError::InvalidChar { index: 1, ch: '/' })
        );
        assert_eq!(RunId::try_from(String::new()), Err(RunIdError::Empty));
    }

    #[test]
    fn errors_read_well() {
        assert_eq!(RunIdError::Empty.to_string(), "run id is empty");
        assert_eq!(
            RunIdError::TooLong { len: 65 }.to_string(),
            "run id is 65 characters long, at most 64 are allowed"
        );
        assert_eq!(
            RunIdError::InvalidChar { index: 3, ch: '/' }.to_string(),
            "run id has '/' at byte 3; only A-Z, a-z, 0-9 and '-' are allowed"
        );
    }

    proptest! {
        #[test]
        fn every_random_id_parses_back(n in any::<u128>()) {
            let id = RunId::from_random(n);
            prop_assert_eq!(RunId::parse(id.as_str()), Ok(id.clone()));
            prop_assert_eq!(u128::from_str_radix(id.as_str(), 16).unwrap(), n);
        }

        #[test]
        fn parse_accepts_exactly_the_documented_alphabet(s in "\\PC{0,70}") {
            let valid = !s.is_empty()
                && s.chars().count() <= RunId::MAX_LEN
                && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            prop_assert_eq!(RunId::parse(&s).is_ok(), valid);
        }
    }
}
