//! A growable set of item indices, one bit per item, serialized as base64.
//!
//! A run remembers which of its N items were scheduled, completed and failed. One bit per item
//! keeps a 100,000-item run at 12.5 KB per set in memory and about 16.7 KB per set in JSON, and
//! makes "have I seen this item?" a single lookup, which is what makes duplicate events harmless.
//!
//! Encoding: item `i` is bit `i % 8` (least significant first) of byte `i / 8`; the bytes are
//! written as standard, padded base64 (RFC 4648 §4). Trailing zero bytes are never stored, so an
//! empty set is `""` and a set is as long as its highest member needs — and two equal sets always
//! have equal bytes, which lets `PartialEq` be derived.

use std::fmt;
use std::ops::Range;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ItemSet {
    /// No trailing zero byte: see the module docs.
    bytes: Vec<u8>,
    /// Number of members, kept so progress is O(1) instead of a popcount over every byte.
    count: u32,
}

impl ItemSet {
    pub(crate) fn new() -> ItemSet {
        ItemSet::default()
    }

    pub(crate) fn contains(&self, item: u32) -> bool {
        let (byte, mask) = locate(item);
        self.bytes.get(byte).is_some_and(|b| b & mask != 0)
    }

    /// Adds `item`; returns whether it was new.
    pub(crate) fn insert(&mut self, item: u32) -> bool {
        let (byte, mask) = locate(item);
        if byte >= self.bytes.len() {
            self.bytes.resize(byte + 1, 0);
        }
        let was_new = self.bytes[byte] & mask == 0;
        if was_new {
            self.bytes[byte] |= mask;
            self.count += 1;
        }
        was_new
    }

    pub(crate) fn count(&self) -> u32 {
        self.count
    }

    /// The highest member, if any. Used to check a deserialized set against the run's size.
    pub(crate) fn max(&self) -> Option<u32> {
        let last = *self.bytes.last()?;
        let high_bit = 7 - last.leading_zeros();
        // A set is only ever built from `u32` items, so this cannot truncate.
        Some(((self.bytes.len() - 1) * 8) as u32 + high_bit)
    }

    pub(crate) fn is_disjoint(&self, other: &ItemSet) -> bool {
        self.bytes.iter().zip(&other.bytes).all(|(a, b)| a & b == 0)
    }

    pub(crate) fn is_subset(&self, other: &ItemSet) -> bool {
        self.bytes.iter().enumerate().all(|(i, &a)| {
            let b = other.bytes.get(i).copied().unwrap_or(0);
            a & !b == 0
        })
    }

    /// Up to `limit` items of `0..end` that are not members, in ascending order.
    pub(crate) fn missing(&self, end: u32, limit: usize) -> Vec<u32> {
        self.clear_bits(end)
            .chain(self.past_bytes(end))
            .take(limit)
            .collect()
    }

    /// The items of `0..end` that are not members, as ascending, non-adjacent half-open ranges.
    pub(crate) fn gaps(&self, end: u32) -> Vec<Range<u32>> {
        let mut out: Vec<Range<u32>> = Vec::new();
        for item in self.clear_bits(end) {
            push_range(&mut out, item..item + 1);
        }
        // Past the stored bytes every item is missing: one range to the end, no bit loop.
        push_range(&mut out, self.past_bytes(end));
        out
    }

    /// The non-members of `0..end` that fall inside the stored bytes, ascending.
    fn clear_bits(&self, end: u32) -> impl Iterator<Item = u32> + '_ {
        self.bytes
            .iter()
            .enumerate()
            .flat_map(|(index, &byte)| {
                // `index < MAX_BYTES`, so the first item of every stored byte fits in a `u32`.
                let first = index as u32 * 8;
                (0..8)
                    .filter(move |bit| byte & (1 << bit) == 0)
                    .map(move |bit| first + bit)
            })
            .take_while(move |&item| item < end)
    }

    /// The items of `0..end` past the stored bytes: none of them is a member.
    fn past_bytes(&self, end: u32) -> Range<u32> {
        // In `u64`: a set of `MAX_BYTES` bytes ends at item 2^32, which not every `usize` holds.
        let first = u32::try_from(self.bytes.len() as u64 * 8).unwrap_or(u32::MAX);
        first.min(end)..end
    }

    fn from_bytes(mut bytes: Vec<u8>) -> ItemSet {
        let len = bytes
            .iter()
            .rposition(|&b| b != 0)
            .map_or(0, |last| last + 1);
        bytes.truncate(len);
        let count = bytes.iter().map(|b| b.count_ones()).sum();
        ItemSet { bytes, count }
    }

    #[cfg(test)]
    pub(crate) fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.bytes.len() as u32 * 8).filter(|&i| self.contains(i))
    }
}

/// Bytes needed to hold item `u32::MAX`.
const MAX_BYTES: usize = (u32::MAX / 8) as usize + 1;

/// Whether `len` stored bytes (no trailing zero byte) can be a set of `u32` items. Checked when
/// deserializing, which keeps `max` exact and every item index of the stored bytes a `u32`.
fn holds_only_u32_items(len: usize) -> bool {
    len <= MAX_BYTES
}

fn locate(item: u32) -> (usize, u8) {
    ((item / 8) as usize, 1 << (item % 8))
}

/// Appends `r` unless it is empty, merging it into the previous range when they touch.
fn push_range(out: &mut Vec<Range<u32>>, r: Range<u32>) {
    if r.is_empty() {
        return;
    }
    match out.last_mut() {
        Some(last) if last.end == r.start => last.end = r.end,
        _ => out.push(r),
    }
}

impl Serialize for ItemSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&base64_encode(&self.bytes))
    }
}

impl<'de> Deserialize<'de> for ItemSet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ItemSet, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(deserializer)?;
        let bytes = base64_decode(&text).map_err(serde::de::Error::custom)?;
        let set = ItemSet::from_bytes(bytes);
        if !holds_only_u32_items(set.bytes.len()) {
            return Err(serde::de::Error::custom("bitset: longer than any run"));
        }
        Ok(set)
    }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b1 = chunk.get(1).copied().unwrap_or(0);
        let b2 = chunk.get(2).copied().unwrap_or(0);
        let n = u32::from_be_bytes([0, chunk[0], b1, b2]);
        for k in 0..4 {
            // A chunk of c bytes yields c + 1 significant characters; the rest is padding.
            if k <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * k)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Why a string is not a bitset written by [`base64_encode`].
#[derive(Debug, PartialEq, Eq)]
enum Base64Error {
    Length(usize),
    Char(usize),
    Padding,
    NonCanonical,
}

impl fmt::Display for Base64Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Base64Error::Length(len) => {
                write!(f, "bitset: base64 length {len} is not a multiple of 4")
            }
            Base64Error::Char(at) => write!(f, "bitset: invalid base64 character at {at}"),
            Base64Error::Padding => f.write_str("bitset: misplaced base64 padding"),
            Base64Error::NonCanonical => f.write_str("bitset: non-zero bits in base64 padding"),
        }
    }
}

fn base64_value(c: u8) -> Option<u32> {
    let v = match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    };
    Some(u32::from(v))
}

/// Strict inverse of [`base64_encode`]: anything it would not have written is an error, so a
/// corrupted document is noticed instead of silently changing which items are done.
fn base64_decode(text: &str) -> Result<Vec<u8>, Base64Error> {
    let input = text.as_bytes();
    if !input.len().is_multiple_of(4) {
        return Err(Base64Error::Length(input.len()));
    }
    let chunks = input.len() / 4;
    let mut out = Vec::with_capacity(chunks * 3);
    for (ci, chunk) in input.chunks(4).enumerate() {
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && ci + 1 != chunks) {
            return Err(Base64Error::Padding);
        }
        let mut n = 0u32;
        for (k, &c) in chunk[..4 - pad].iter().enumerate() {
            let v = base64_value(c).ok_or(Base64Error::Char(ci * 4 + k))?;
            n |= v << (18 - 6 * k);
        }
        let [_, b0, b1, b2] = n.to_be_bytes();
        let keep = 3 - pad;
        if [b0, b1, b2][keep..].iter().any(|&b| b != 0) {
            return Err(Base64Error::NonCanonical);
        }
        out.extend_from_slice(&[b0, b1, b2][..keep]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn set_of(items: &[u32]) -> ItemSet {
        let mut s = ItemSet::new();
        for &i in items {
            s.insert(i);
        }
        s
    }

    #[test]
    fn insert_reports_whether_the_item_was_new() {
        let mut s = ItemSet::new();
        assert!(s.insert(9));
        assert!(!s.insert(9));
        assert!(s.contains(9));
        assert!(!s.contains(8));
        assert_eq!(s.count(), 1);
    }

    #[test]
    fn empty_set_serializes_to_empty_string() {
        assert_eq!(serde_json::to_string(&ItemSet::new()).unwrap(), r#""""#);
    }

    #[test]
    fn bit_order_is_least_significant_first() {
        // Items 0 and 9: bytes [0b0000_0001, 0b0000_0010] = "AQI=".
        assert_eq!(
            serde_json::to_string(&set_of(&[0, 9])).unwrap(),
            r#""AQI=""#
        );
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (raw, b64) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64_encode(raw.as_bytes()), b64);
            assert_eq!(base64_decode(b64).unwrap(), raw.as_bytes());
        }
    }

    #[test]
    fn decode_rejects_what_encode_never_writes() {
        assert_eq!(base64_decode("Zg="), Err(Base64Error::Length(3)));
        assert_eq!(base64_decode("Z!=="), Err(Base64Error::Char(1)));
        assert_eq!(base64_decode("Z==="), Err(Base64Error::Padding));
        assert_eq!(base64_decode("Zg==Zm9v"), Err(Base64Error::Padding));
        // "Zh==" carries a non-zero bit in the padding.
        assert_eq!(base64_decode("Zh=="), Err(Base64Error::NonCanonical));
    }

    #[test]
    fn deserializing_drops_trailing_zero_bytes() {
        // [0x01, 0x00, 0x00] written by some other encoder: same set as [0x01].
        let s: ItemSet = serde_json::from_str(r#""AQAA""#).unwrap();
        assert_eq!(s, set_of(&[0]));
        assert_eq!(serde_json::to_string(&s).unwrap(), r#""AQ==""#);
    }

    #[test]
    fn zero_bytes_count_only_when_a_member_follows_them() {
        // (stored text, members, canonical text)
        for (text, members, canonical) in [
            ("AAAA", &[][..], ""),
            ("AA==", &[][..], ""),
            ("AQACAA==", &[0, 17][..], "AQAC"),
            ("AAAB", &[16][..], "AAAB"),
            ("AAEA", &[8][..], "AAE="),
        ] {
            let s: ItemSet = serde_json::from_value(text.into()).unwrap();
            assert_eq!(s, set_of(members), "{text}");
            assert_eq!(s.count() as usize, members.len(), "{text}");
            assert_eq!(s.max(), members.last().copied(), "{text}");
            assert_eq!(serde_json::to_value(&s).unwrap(), canonical, "{text}");
        }
    }

    #[test]
    fn max_is_the_highest_member() {
        assert_eq!(ItemSet::new().max(), None);
        assert_eq!(set_of(&[3, 17]).max(), Some(17));
        assert_eq!(set_of(&[u32::MAX - 1]).max(), Some(u32::MAX - 1));
    }

    #[test]
    fn gaps_merge_adjacent_missing_items() {
        let s = set_of(&[0, 1, 5, 8, 9, 10, 11, 12, 13, 14, 15]);
        assert_eq!(s.gaps(20), vec![2..5, 6..8, 16..20]);
        assert_eq!(ItemSet::new().gaps(10), vec![0..10]);
        assert_eq!(set_of(&[0, 1, 2]).gaps(3), Vec::<Range<u32>>::new());
    }

    #[test]
    fn missing_skips_members_and_honours_the_limit() {
        let s = set_of(&[0, 2, 3]);
        assert_eq!(s.missing(10, 3), vec![1, 4, 5]);
        assert_eq!(s.missing(10, 0), Vec::<u32>::new());
        assert_eq!(s.missing(4, 10), vec![1]);
    }

    #[test]
    fn subset_and_disjoint() {
        let a = set_of(&[1, 20]);
        let b = set_of(&[1, 2, 20, 40]);
        assert!(a.is_subset(&b));
        assert!(!b.is_subset(&a));
        assert!(!a.is_disjoint(&b));
        assert!(set_of(&[3]).is_disjoint(&b));
    }

    fn range_set(members: &[Range<u32>]) -> ItemSet {
        set_of(&members.iter().cloned().flatten().collect::<Vec<_>>())
    }

    /// A hand-built case: members and expected gaps are both lists of ranges, often of one.
    type GapCase = (&'static [Range<u32>], u32, &'static [Range<u32>]);

    #[test]
    #[allow(clippy::single_range_in_vec_init)] // lists of ranges, a single range is a list of one
    fn gaps_and_missing_of_hand_built_sets() {
        // (members, end, gaps): empty and full sets, full bytes next to empty ones, an `end` that
        // is not a multiple of 8 and falls inside a stored byte, before it, or past it.
        let cases: &[GapCase] = &[
            (&[], 0, &[]),
            (&[], 10, &[0..10]),
            (&[0..8], 8, &[]),
            (&[0..8], 13, &[8..13]),
            (&[0..16], 16, &[]),
            (&[0..16], 3, &[]),
            (&[0..8, 9..10], 20, &[8..9, 10..20]),
            (&[0..8, 10..11], 9, &[8..9]),
            (&[0..8, 64..72], 80, &[8..64, 72..80]),
            (&[0..8, 64..72], 72, &[8..64]),
            (&[0..6, 7..8], 8, &[6..7]),
            (&[7..8], 8, &[0..7]),
            (&[3..4], 2, &[0..2]),
            (&[0..1], 12, &[1..12]),
            (&[8..9], 9, &[0..8]),
            (&[8..9], 20, &[0..8, 9..20]),
            // The last stored byte's clear bits run on into the items past the stored bytes.
            (&[0..23], 24, &[23..24]),
            (&[0..23], 30, &[23..30]),
            (&[0..2, 4..5, 6..7], 7, &[2..4, 5..6]),
        ];
        for (members, end, gaps) in cases {
            let s = range_set(members);
            assert_eq!(
                s.gaps(*end),
                gaps.to_vec(),
                "gaps of {members:?} in 0..{end}"
            );
            let missing: Vec<u32> = gaps.iter().cloned().flatten().collect();
            assert_eq!(
                s.missing(*end, usize::MAX),
                missing,
                "missing of {members:?} in 0..{end}"
            );
        }
    }

    #[test]
    #[allow(clippy::single_range_in_vec_init)] // lists of ranges, a single range is a list of one
    fn missing_stops_at_the_limit_wherever_it_falls() {
        let full_then_sparse = range_set(&[0..16, 17..18, 19..20]);
        assert_eq!(full_then_sparse.missing(30, 0), Vec::<u32>::new());
        assert_eq!(full_then_sparse.missing(30, 1), vec![16]);
        assert_eq!(full_then_sparse.missing(30, 3), vec![16, 18, 20]);
        // The limit reached inside the items past the stored bytes.
        assert_eq!(full_then_sparse.missing(30, 5), vec![16, 18, 20, 21, 22]);
        assert_eq!(range_set(&[0..8]).missing(u32::MAX, 2), vec![8, 9]);
        assert_eq!(ItemSet::new().missing(u32::MAX, 3), vec![0, 1, 2]);
    }

    #[test]
    #[allow(clippy::single_range_in_vec_init)] // lists of ranges, a single range is a list of one
    fn gaps_of_a_huge_run_are_one_range_past_the_stored_bytes() {
        assert_eq!(range_set(&[0..9]).gaps(u32::MAX), vec![9..u32::MAX]);
        assert_eq!(ItemSet::new().gaps(u32::MAX), vec![0..u32::MAX]);
    }

    #[test]
    fn the_byte_limit_is_the_byte_of_item_u32_max() {
        assert_eq!(locate(u32::MAX), (MAX_BYTES - 1, 0x80));
        assert!(holds_only_u32_items(0));
        assert!(holds_only_u32_items(MAX_BYTES));
        assert!(!holds_only_u32_items(MAX_BYTES + 1));
    }

    #[test]
    #[allow(clippy::single_range_in_vec_init)] // lists of ranges, a single range is a list of one
    fn known_sets_have_known_encodings() {
        for (members, b64) in [
            (&[][..], ""),
            (&[0..8][..], "/w=="),
            (&[0..16][..], "//8="),
            (&[0..24][..], "////"),
            (&[0..24, 24..25][..], "////AQ=="),
            (&[7..8][..], "gA=="),
            (&[1..2, 9..10, 23..24][..], "AgKA"),
            (&[0..1, 16..17][..], "AQAB"),
        ] {
            let s = range_set(members);
            assert_eq!(serde_json::to_value(&s).unwrap(), b64, "{members:?}");
            let back: ItemSet = serde_json::from_value(b64.into()).unwrap();
            assert_eq!(back, s, "{b64}");
        }
    }

    #[test]
    fn every_base64_character_decodes_to_its_value() {
        let alphabet = std::str::from_utf8(ALPHABET).unwrap();
        let bytes = base64_decode(alphabet).unwrap();
        assert_eq!(bytes.len(), 48);
        // Sextet k of the text is k: 0, 1, 2, ... 63.
        let sextets = bytes.chunks(3).flat_map(|c| {
            let n = u32::from_be_bytes([0, c[0], c[1], c[2]]);
            (0..4).map(move |k| (n >> (18 - 6 * k)) & 63)
        });
        assert!(sextets.eq(0..64));
        assert_eq!(base64_encode(&bytes), alphabet);
        assert_eq!(base64_decode("+/+/").unwrap(), [0xFB, 0xFF, 0xBF]);
        assert_eq!(base64_encode(&[0xFB, 0xFF, 0xBF]), "+/+/");
    }

    #[test]
    fn decode_errors_name_the_position_and_read_well() {
        assert_eq!(base64_decode("Zm9vZ!=="), Err(Base64Error::Char(5)));
        assert_eq!(base64_decode("Zm9v!m9v"), Err(Base64Error::Char(4)));
        assert_eq!(base64_decode("Zm9vZm9v===="), Err(Base64Error::Padding));
        assert_eq!(base64_decode("Zm8=Zm8="), Err(Base64Error::Padding));
        for (text, message) in [
            ("Zg=", "bitset: base64 length 3 is not a multiple of 4"),
            ("Zm9vZ!==", "bitset: invalid base64 character at 5"),
            ("Z===", "bitset: misplaced base64 padding"),
            ("Zh==", "bitset: non-zero bits in base64 padding"),
        ] {
            let err = serde_json::from_value::<ItemSet>(text.into()).unwrap_err();
            assert_eq!(err.to_string(), message, "{text}");
        }
    }

    proptest! {
        #[test]
        fn behaves_like_a_btreeset(items in proptest::collection::vec(0u32..2000, 0..300)) {
            let model: BTreeSet<u32> = items.iter().copied().collect();
            let s = set_of(&items);
            prop_assert_eq!(s.count() as usize, model.len());
            prop_assert_eq!(s.iter().collect::<Vec<_>>(), model.iter().copied().collect::<Vec<_>>());
            prop_assert_eq!(s.max(), model.iter().next_back().copied());
            let missing: Vec<u32> = (0..2100).filter(|i| !model.contains(i)).collect();
            prop_assert_eq!(s.missing(2100, usize::MAX), missing.clone());
            let from_gaps: Vec<u32> = s.gaps(2100).into_iter().flatten().collect();
            prop_assert_eq!(from_gaps, missing);
        }

        #[test]
        fn dense_sets_have_the_gaps_of_a_btreeset(
            items in proptest::collection::vec(0u32..200, 0..400),
            end in 0u32..220,
            limit in 0usize..40,
        ) {
            // Drawn densely, so full bytes sit next to partial ones and `end` lands anywhere.
            let model: BTreeSet<u32> = items.iter().copied().collect();
            let s = set_of(&items);
            let missing: Vec<u32> = (0..end).filter(|i| !model.contains(i)).collect();
            prop_assert_eq!(s.missing(end, usize::MAX), missing.clone());
            prop_assert_eq!(s.missing(end, limit), missing.iter().copied().take(limit).collect::<Vec<_>>());
            let gaps = s.gaps(end);
            prop_assert!(gaps.iter().all(|r| !r.is_empty()));
            prop_assert!(gaps.windows(2).all(|w| w[0].end < w[1].start), "{:?}", gaps);
            prop_assert_eq!(gaps.into_iter().flatten().collect::<Vec<_>>(), missing);
        }

        #[test]
        fn serde_round_trip_is_lossless(items in proptest::collection::vec(0u32..5000, 0..300)) {
            let s = set_of(&items);
            let json = serde_json::to_string(&s).unwrap();
            let back: ItemSet = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(back, s);
        }

        #[test]
        fn base64_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            prop_assert_eq!(base64_decode(&base64_encode(&bytes)).unwrap(), bytes);
        }
    }
}
