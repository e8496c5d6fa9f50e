//! Each item's input, deterministic from the run id and the item number, so a re-sent item
//! writes the same input blob and a worker computes the same result.

use protocol::work::{item_blob, ItemInput, WorkItem};

use super::RunInput;

/// The input blob's content for item `item` of a run.
pub fn item_input(run_id: &str, item: u32, input: &RunInput) -> ItemInput {
    let fail = (input.fail_every > 0 && (item + 1).is_multiple_of(input.fail_every)).then(|| {
        format!(
            "item {item} fails on purpose (every {}th item)",
            input.fail_every
        )
    });
    ItemInput {
        run_id: run_id.to_string(),
        item,
        seed: seed(run_id, item),
        cost: input.cost,
        fail,
    }
}

/// The queue message for item `item` of the run `run_id` created at `created_ms`.
pub fn work_item(run_id: &str, item: u32, created_ms: u64) -> WorkItem {
    WorkItem {
        run_id: run_id.to_string(),
        item,
        input_blob: item_blob(run_id, item),
        trace: Default::default(),
        run_created_ms: Some(created_ms),
    }
}

/// FNV-1a of the run id, mixed with the item by SplitMix64: cheap, stable across versions and
/// platforms (unlike `std`'s hasher), and well spread.
pub fn seed(run_id: &str, item: u32) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in run_id.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    let mut z = hash ^ u64::from(item).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(fail_every: u32) -> RunInput {
        RunInput {
            input_count: 10,
            cost: 7,
            fail_every,
        }
    }

    #[test]
    fn inputs_are_deterministic_and_distinct() {
        assert_eq!(item_input("r", 3, &input(0)), item_input("r", 3, &input(0)));
        assert_ne!(seed("r", 3), seed("r", 4));
        assert_ne!(seed("r", 3), seed("s", 3));
        // A fixed value guards against an accidental change of the formula, which would change
        // the inputs (and results) of runs already persisted.
        assert_eq!(seed("run", 0), 0x7accee37ebbf3c57);
        assert_eq!(item_input("r", 3, &input(0)).cost, 7);
    }

    #[test]
    fn every_nth_item_fails_when_asked() {
        let failing: Vec<u32> = (0..10)
            .filter(|i| item_input("r", *i, &input(4)).fail.is_some())
            .collect();
        assert_eq!(failing, [3, 7]);
        assert!((0..10).all(|i| item_input("r", i, &input(0)).fail.is_none()));
    }

    #[test]
    fn work_item_points_at_the_input_blob() {
        let work = work_item("r", 42, 1_700);
        assert_eq!(work.input_blob, "r/000042.json");
        assert_eq!(work.run_created_ms, Some(1_700));
    }
}
