//! What a work message may ask for, checked before anything is done for it.
//!
//! Anyone who can write to `work-items` writes the worker's instructions: the run id decides
//! where the output goes and which events are posted, and `inputBlob` which blob is read and, at
//! the end, deleted. Trusted as given, a message could make a worker delete another run's input
//! or write outside its run's folder. So a message is worked on only when its run id is a run
//! id and its input blob is exactly the one the server puts for that item,
//! [`item_blob`]`(run_id, item)`; anything else is [rejected](Rejection), and a rejected message
//! goes straight to the poison queue with the rejection as its reason, untouched otherwise.
//!
//! The rules are the server's own (`orchestration::RunId`), restated here because the worker
//! does not depend on the orchestration crate; they must stay the same.

use protocol::work::{item_blob, WorkItem};
use thiserror::Error;

/// Longest run id, as `orchestration::RunId::MAX_LEN`.
pub const MAX_RUN_ID_LEN: usize = 64;

/// Longest piece of a rejected message quoted in its reason: enough to recognise it, while a
/// reason stays small however large the message (the poison record must fit in a queue message).
const QUOTE_LEN: usize = 80;

/// Why a message is not worked on. Its `Display` is the reason in the poison record.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum Rejection {
    /// `runId` is not a run id: no such run can exist.
    #[error("runId {} is not a run id: {problem}", quote(.run_id))]
    RunId {
        run_id: String,
        problem: RunIdProblem,
    },
    /// `inputBlob` is not the input of the item the message names.
    #[error(
        "inputBlob {} is not the input of item {item} of run {run_id}, which is {expected:?}",
        quote(.input_blob)
    )]
    InputBlob {
        run_id: String,
        item: u32,
        input_blob: String,
        expected: String,
    },
}

/// What is wrong with a string that should be a run id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum RunIdProblem {
    #[error("it is empty")]
    Empty,
    #[error("it has {ch:?} at byte {index}; only A-Z, a-z, 0-9 and '-' are allowed")]
    InvalidChar { index: usize, ch: char },
    #[error("it is {len} characters long, at most {MAX_RUN_ID_LEN} are allowed")]
    TooLong { len: usize },
}

impl Rejection {
    /// The run and item that should be reported failed, if any.
    ///
    /// - A run id that is not a run id names a run that cannot exist: an event about it would
    ///   only put the message writer's text into the server's event stream, so none is posted.
    /// - A valid run id with a wrong input blob names a real item (or one that could be real)
    ///   that this message will never compute. If the message is the run's genuine message
    ///   tampered with, or the only one the run has for that item, the run waits for that item
    ///   forever unless it is told the item failed, so a `Scaleboard.ItemFailed` event is posted.
    ///   If the item also completes by another message, the server counts an item once, so the
    ///   event does no harm.
    pub fn failed_item(&self) -> Option<(&str, u32)> {
        match self {
            Rejection::RunId { .. } => None,
            Rejection::InputBlob { run_id, item, .. } => Some((run_id, *item)),
        }
    }
}

/// Checks that `work` names a valid run and that run's own input blob for the item.
pub fn validate(work: &WorkItem) -> Result<(), Rejection> {
    check_run_id(&work.run_id).map_err(|problem| Rejection::RunId {
        run_id: work.run_id.clone(),
        problem,
    })?;
    let expected = item_blob(&work.run_id, work.item);
    if work.input_blob != expected {
        return Err(Rejection::InputBlob {
            run_id: work.run_id.clone(),
            item: work.item,
            input_blob: work.input_blob.clone(),
            expected,
        });
    }
    Ok(())
}

/// Checks `run_id` as a run id: 1 to [`MAX_RUN_ID_LEN`] characters of `[A-Za-z0-9-]`, the
/// characters that blob names, URL path segments and queue messages take verbatim.
pub fn check_run_id(run_id: &str) -> Result<(), RunIdProblem> {
    if run_id.is_empty() {
        return Err(RunIdProblem::Empty);
    }
    if let Some((index, ch)) = run_id
        .char_indices()
        .find(|&(_, ch)| !(ch.is_ascii_alphanumeric() || ch == '-'))
    {
        return Err(RunIdProblem::InvalidChar { index, ch });
    }
    // After the alphabet: every char is one byte now, so `len` counts characters.
    if run_id.len() > MAX_RUN_ID_LEN {
        return Err(RunIdProblem::TooLong { len: run_id.len() });
    }
    Ok(())
}

/// `text` quoted with its control characters escaped, cut to [`QUOTE_LEN`] characters.
fn quote(text: &str) -> String {
    let total = text.chars().count();
    if total <= QUOTE_LEN {
        return format!("{text:?}");
    }
    let head: String = text.chars().take(QUOTE_LEN).collect();
    format!("{head:?}… ({total} characters)")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn work(run_id: &str, item: u32, input_blob: &str) -> WorkItem {
        WorkItem {
            run_id: run_id.into(),
            item,
            input_blob: input_blob.into(),
            trace: Default::default(),
            run_created_ms: None,
        }
    }

    /// A message as the server writes it.
    fn genuine(run_id: &str, item: u32) -> WorkItem {
        work(run_id, item, &item_blob(run_id, item))
    }

    #[test]
    fn messages_as_the_server_writes_them_pass() {
        for (run_id, item) in [
            ("run-1", 0),
            ("a", 42),
            ("0123456789abcdef0123456789ABCDEF", 999_999),
            ("-", 1_234_567),
            (&*"z".repeat(MAX_RUN_ID_LEN), u32::MAX),
        ] {
            assert_eq!(validate(&genuine(run_id, item)), Ok(()), "{run_id} {item}");
        }
    }

    #[test]
    fn an_empty_run_id_is_rejected() {
        let rejection = validate(&genuine("", 1)).unwrap_err();
        assert_eq!(
            rejection,
            Rejection::RunId {
                run_id: String::new(),
                problem: RunIdProblem::Empty
            }
        );
        assert_eq!(
            rejection.to_string(),
            r#"runId "" is not a run id: it is empty"#
        );
    }

    #[test]
    fn a_run_id_of_65_characters_is_rejected() {
        let long = "a".repeat(MAX_RUN_ID_LEN + 1);
        let rejection = validate(&genuine(&long, 1)).unwrap_err();
        assert_eq!(
            rejection,
            Rejection::RunId {
                run_id: long,
                problem: RunIdProblem::TooLong { len: 65 }
            }
        );
        assert!(
            rejection
                .to_string()
                .contains("65 characters long, at most 64"),
            "{rejection}"
        );
    }

    #[test]
    fn run_ids_with_characters_outside_the_alphabet_are_rejected() {
        for (run_id, index, ch) in [
            ("other/run", 5, '/'),
            ("..", 0, '.'),
            ("../input", 0, '.'),
            ("run%2Fother", 3, '%'),
            ("run id", 3, ' '),
            ("run_id", 3, '_'),
            ("rün", 1, 'ü'),
            ("run\n", 3, '\n'),
            ("run\u{202e}", 3, '\u{202e}'),
        ] {
            let rejection = validate(&genuine(run_id, 7)).unwrap_err();
            assert_eq!(
                rejection,
                Rejection::RunId {
                    run_id: run_id.into(),
                    problem: RunIdProblem::InvalidChar { index, ch }
                },
                "{run_id:?}"
            );
            assert_eq!(rejection.failed_item(), None, "{run_id:?}");
        }
    }

    #[test]
    fn an_input_blob_that_is_not_the_items_own_is_rejected() {
        for input_blob in [
            "victim-run/000003.json", // another run's input
            "run-1/../victim-run/000003.json",
            "../run-1/000003.json",
            "run-1/000004.json", // another item of the same run
            "run-1/3.json",      // the same item, named differently
            "run-1/000003.json/",
            "/run-1/000003.json",
            "run-1%2F000003.json",
            "http://127.0.0.1:10000/devstoreaccount1/input/run-1/000003.json",
            "",
        ] {
            let rejection = validate(&work("run-1", 3, input_blob)).unwrap_err();
            assert_eq!(
                rejection,
                Rejection::InputBlob {
                    run_id: "run-1".into(),
                    item: 3,
                    input_blob: input_blob.into(),
                    expected: "run-1/000003.json".into(),
                },
                "{input_blob:?}"
            );
            assert_eq!(
                rejection.failed_item(),
                Some(("run-1", 3)),
                "{input_blob:?}"
            );
        }
    }

    #[test]
    fn the_run_id_is_checked_before_the_input_blob() {
        // The expected name is built from the run id, so a bad id is the more basic fault.
        let rejection = validate(&work("../x", 1, "anything")).unwrap_err();
        assert!(
            matches!(rejection, Rejection::RunId { .. }),
            "{rejection:?}"
        );
    }

    #[test]
    fn reasons_quote_what_is_wrong_escaped_and_bounded() {
        let rejection = validate(&work("run-1", 3, "victim/000001.json")).unwrap_err();
        assert_eq!(
            rejection.to_string(),
            r#"inputBlob "victim/000001.json" is not the input of item 3 of run run-1, which is "run-1/000003.json""#
        );

        let reason = validate(&genuine("a\nb", 1)).unwrap_err().to_string();
        assert!(
            reason.starts_with(r#"runId "a\nb" is not a run id"#),
            "{reason}"
        );

        let huge = "x/".repeat(20_000);
        let reason = validate(&genuine(&huge, 1)).unwrap_err().to_string();
        assert!(reason.len() < 300, "{} bytes", reason.len());
        assert!(reason.contains("… (40000 characters)"), "{reason}");
    }
}
