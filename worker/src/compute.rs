//! The work of one item: rounds of SHA-256, real CPU time with a result anyone can check.
//!
//! Starting from the seed's 8 bytes (big-endian), the digest is `SHA-256(seed)`, then each of
//! `cost` rounds replaces it with the SHA-256 of the previous 32-byte digest. The item's value is
//! the first 8 bytes of the final digest, big-endian. Cost 0 is the digest of the seed alone, so
//! throughput tests still produce a checkable value.
//!
//! The computation is pure and deterministic: an item computed twice (a redelivered message)
//! writes the same output, which is what makes redelivery harmless.

use std::sync::atomic::{AtomicBool, Ordering};

use protocol::work::ItemInput;
use sha2::digest::generic_array::GenericArray;
use sha2::{Digest, Sha256};

/// Rounds for about one second of one core's work in a release build: long enough for a run to
/// need more workers than one, short enough for a demo run to end in a minute or two.
///
/// Measured on this project's 2-core development machine (x86-64 with the SHA extensions, which
/// `sha2` detects at run time) with `cargo bench -p worker --bench throughput -- compute`:
/// 22.3 million rounds per second in a release build, 10.8 million in the dev profile (the
/// workspace compiles `sha2` at `opt-level = 3` in every profile), 5.6 million in a release build
/// forced to `sha2`'s portable code, which is what a CPU without the SHA extensions runs. So this
/// cost is about 1 s per item in release, 2 s in a debug build, and up to 4 s on a CPU without
/// the SHA extensions.
pub const DEFAULT_COST: u32 = 22_000_000;

/// How often a long computation looks at its stop flag: often enough to stop within about a
/// millisecond, rarely enough to cost nothing measurable.
const CHECK_EVERY: u32 = 4096;

/// The result of an item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ComputeOutput {
    /// The first 8 bytes of `digest`, big-endian.
    pub value: u64,
    pub digest: [u8; 32],
}

impl ComputeOutput {
    /// The digest as lowercase hex, as stored in the output blob.
    pub fn digest_hex(&self) -> String {
        self.digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Why an item has no result.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ComputeError {
    /// The input asked to fail (`ItemInput::fail`): a demo of the poison path.
    #[error("the input asks to fail: {0}")]
    Requested(String),
    /// The stop flag was raised before the last round (shutdown or an abandoned item).
    #[error("stopped before the last round")]
    Stopped,
}

/// Computes an item's result.
pub fn compute(input: &ItemInput) -> Result<ComputeOutput, ComputeError> {
    compute_until(input, &AtomicBool::new(false))
}

/// Computes an item's result unless `stop` is raised first. A worker runs this on a blocking
/// thread that cannot be aborted; the flag lets a released or abandoned item give its core back
/// within a millisecond instead of computing to the end for nobody.
pub fn compute_until(input: &ItemInput, stop: &AtomicBool) -> Result<ComputeOutput, ComputeError> {
    if let Some(reason) = &input.fail {
        return Err(ComputeError::Requested(reason.clone()));
    }
    let mut block = padded_block();
    block[..32].copy_from_slice(&Sha256::digest(input.seed.to_be_bytes()));
    for round in 0..input.cost {
        if round % CHECK_EVERY == 0 && stop.load(Ordering::Relaxed) {
            return Err(ComputeError::Stopped);
        }
        rehash(&mut block);
    }
    let mut digest = [0u8; 32];
    digest.copy_from_slice(&block[..32]);
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    Ok(ComputeOutput {
        value: u64::from_be_bytes(first),
        digest,
    })
}

/// SHA-256's initial hash value (FIPS 180-4, section 5.3.3).
const INITIAL_STATE: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// The one block a 32-byte message pads to: the message, a 1 bit, zeros, and the length in
/// bits (256) in the last 8 bytes. Only the first 32 bytes change from round to round.
fn padded_block() -> [u8; 64] {
    let mut block = [0u8; 64];
    block[32] = 0x80;
    block[56..].copy_from_slice(&256u64.to_be_bytes());
    block
}

/// Replaces the 32-byte message at the start of `block` (padded as [`padded_block`] pads it)
/// with its own SHA-256, through `sha2`'s compression function directly.
///
/// `Sha256::digest` gives the same bytes (the tests check it), but its generic buffering is
/// compiled in this crate, unoptimised in debug builds, where it made a round 15 times slower
/// than in release. The compression function is compiled in `sha2`, which the workspace
/// optimises in every profile, and what is left here is plain indexing that costs little even
/// unoptimised, so debug builds (the local demo's) compute at a realistic speed.
fn rehash(block: &mut [u8; 64]) {
    let mut state = INITIAL_STATE;
    sha2::compress256(
        &mut state,
        std::slice::from_ref(GenericArray::from_slice(block)),
    );
    let mut i = 0;
    while i < 8 {
        let word = state[i];
        block[4 * i] = (word >> 24) as u8;
        block[4 * i + 1] = (word >> 16) as u8;
        block[4 * i + 2] = (word >> 8) as u8;
        block[4 * i + 3] = word as u8;
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(seed: u64, cost: u32) -> ItemInput {
        ItemInput {
            run_id: "run".into(),
            item: 7,
            seed,
            cost,
            fail: None,
        }
    }

    /// SHA-256 of 8 zero bytes, from a reference implementation (`printf '\0\0\0\0\0\0\0\0' |
    /// sha256sum`), so the test does not rest on the code under test alone.
    const SHA256_OF_8_ZERO_BYTES: &str =
        "af5570f5a1810b7af78caf4bc70a660f0df51e42baf91d4de5b2328de0e83dfc";

    #[test]
    fn cost_zero_is_the_digest_of_the_seed() {
        let out = compute(&input(0, 0)).unwrap();
        assert_eq!(out.digest_hex(), SHA256_OF_8_ZERO_BYTES);
        assert_eq!(out.value, 0xaf55_70f5_a181_0b7a);
    }

    #[test]
    fn each_round_hashes_the_previous_digest() {
        let seed = 0x0123_4567_89ab_cdef_u64;
        let mut expected: [u8; 32] = Sha256::digest(seed.to_be_bytes()).into();
        assert_eq!(compute(&input(seed, 0)).unwrap().digest, expected);
        for cost in 1..=3 {
            expected = Sha256::digest(expected).into();
            let out = compute(&input(seed, cost)).unwrap();
            assert_eq!(out.digest, expected, "cost {cost}");
            assert_eq!(out.value.to_be_bytes(), expected[..8], "cost {cost}");
        }
        for _ in 3..1000 {
            expected = Sha256::digest(expected).into();
        }
        assert_eq!(compute(&input(seed, 1000)).unwrap().digest, expected);
    }

    #[test]
    fn cost_one_from_zero_seed_matches_a_reference_value() {
        // sha256(sha256(8 zero bytes)), computed with `xxd -r -p | sha256sum`.
        let out = compute(&input(0, 1)).unwrap();
        assert_eq!(
            out.digest_hex(),
            "7ef0ca626bbb058dd443bb78e33b888bdec8295c96e51f5545f96370870c10b9"
        );
    }

    #[test]
    fn same_input_same_result_different_seed_different_result() {
        assert_eq!(compute(&input(5, 100)), compute(&input(5, 100)));
        assert_ne!(
            compute(&input(5, 100)).unwrap().value,
            compute(&input(6, 100)).unwrap().value
        );
    }

    #[test]
    fn a_failing_input_fails_with_its_reason() {
        let mut failing = input(1, 10);
        failing.fail = Some("boom".into());
        assert_eq!(
            compute(&failing),
            Err(ComputeError::Requested("boom".into()))
        );
    }

    #[test]
    fn a_raised_stop_flag_ends_the_work() {
        let stop = AtomicBool::new(true);
        assert_eq!(
            compute_until(&input(1, 1_000_000), &stop),
            Err(ComputeError::Stopped)
        );
        // Nothing to stop when there are no rounds.
        assert!(compute_until(&input(1, 0), &stop).is_ok());
    }
}
