//! The transitions: one event in, the state updated in place, commands out.
//!
//! Rules, and why:
//! - **Persist iff the state changed.** A duplicate or late event returns no commands at all, so
//!   the driver can acknowledge it without writing anything.
//! - **Idempotent outcomes, first outcome wins.** An item that already completed or failed keeps
//!   that outcome; a later completion *or* failure of it is ignored. Re-delivered messages are
//!   the normal case (at-least-once queues), and counting an item twice is exactly how the
//!   original demo finished runs early. Keeping the first outcome, rather than letting a late
//!   success overwrite a failure, means an item's outcome never changes once reported, so a
//!   `Failed` run cannot turn into `Completed` (or back) while the driver is announcing it.
//! - **Outcomes imply scheduling.** A completion or failure for an item never scheduled is
//!   accepted (the driver may have fanned it out just before a crash, before persisting) and marks
//!   the item scheduled too, so it is never fanned out again.
//! - **Malformed before terminal.** An item index `>= N` is an [`ApplyError`] in every status,
//!   so the driver can tell a bad message (dead-letter it) from a late one (drop it).
//! - **Terminal is final.** `Completed`, `Failed` and `Terminated` ignore every valid event.
//! - **Suspended pauses scheduling only.** Outcomes and scheduling reports are still recorded.
//!   If every item is accounted for while suspended the run stays `Suspended` — a suspended run
//!   must not change status behind the back of whoever suspended it — and finishes on resume.

use std::fmt;

use crate::event::{Command, Event};
use crate::run_id::RunId;
use crate::state::{clip_reason, RunState, RuntimeStatus};

/// Why an event was rejected. The state is unchanged when this is returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApplyError {
    /// The event names an item outside `0..input_count`.
    ItemOutOfRange {
        /// The item named.
        item: u32,
        /// The run's N.
        input_count: u32,
    },
    /// A [`Event::RunRequested`] for another run.
    WrongRun {
        /// The run the state is for.
        expected: RunId,
        /// The run the event is for.
        found: RunId,
    },
    /// A [`Event::RunRequested`] for this run with another orchestrator name or item count.
    ConflictingRequest {
        /// The run.
        id: RunId,
    },
}

impl fmt::Display for ApplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApplyError::ItemOutOfRange { item, input_count } => write!(
                f,
                "item {item} is out of range for a run of {input_count} items"
            ),
            ApplyError::WrongRun { expected, found } => {
                write!(f, "event for run {found} applied to run {expected}")
            }
            ApplyError::ConflictingRequest { id } => write!(
                f,
                "run {id} was requested again with another name or item count"
            ),
        }
    }
}

impl std::error::Error for ApplyError {}

/// Applies one event to `state` and returns what the driver must do, in order.
///
/// On error the state is untouched. See the module docs for the rules.
pub fn apply(state: &mut RunState, event: Event) -> Result<Vec<Command>, ApplyError> {
    validate(state, &event)?;
    if state.is_terminal() {
        return Ok(Vec::new());
    }
    let mut commands = Vec::new();
    let changed = match event {
        Event::RunRequested { .. } => {
            // Nothing new to record (the request is the run's first history entry); just say
            // what is left to do, which also finishes a run of zero items.
            if state.may_schedule() {
                schedule_or_finish(state, &mut commands)
            } else {
                false
            }
        }
        Event::ItemScheduled { item, .. } => {
            let new = state.scheduled.insert(item);
            if new {
                start_running(state);
                state.record(event);
            }
            new
        }
        Event::ItemCompleted { item, result, .. } => {
            let new = !has_outcome(state, item);
            if new {
                state.scheduled.insert(item);
                state.completed.insert(item);
                state.aggregate.add(result);
                start_running(state);
                state.record(event);
                finish_if_done(state, &mut commands);
            }
            new
        }
        Event::ItemFailed { item, reason, at } => {
            let new = !has_outcome(state, item);
            if new {
                state.scheduled.insert(item);
                state.failed.insert(item);
                start_running(state);
                let reason = clip_reason(reason);
                state.record(Event::ItemFailed { item, reason, at });
                finish_if_done(state, &mut commands);
            }
            new
        }
        Event::TerminateRequested { reason, at } => {
            let reason = clip_reason(reason);
            state.runtime_status = RuntimeStatus::Terminated;
            state.terminate_reason = Some(reason.clone());
            state.record(Event::TerminateRequested { reason, at });
            commands.push(Command::Finish(RuntimeStatus::Terminated));
            true
        }
        Event::SuspendRequested { .. } => {
            let pause = state.may_schedule();
            if pause {
                state.runtime_status = RuntimeStatus::Suspended;
                state.record(event);
            }
            pause
        }
        Event::ResumeRequested { .. } => {
            let resume = state.runtime_status == RuntimeStatus::Suspended;
            if resume {
                state.runtime_status = if state.scheduled.count() == 0 {
                    RuntimeStatus::Pending
                } else {
                    RuntimeStatus::Running
                };
                state.record(event);
                schedule_or_finish(state, &mut commands);
            }
            resume
        }
    };
    if changed {
        commands.push(Command::Persist);
    }
    Ok(commands)
}

/// What [`apply_all`] returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    /// Commands for the whole batch: at most one [`Command::ScheduleItems`] (what is still
    /// unscheduled after the last event), at most one [`Command::Finish`], and at most one
    /// [`Command::Persist`], last.
    pub commands: Vec<Command>,
    /// Events that were rejected, by position in the batch; the others were applied.
    pub rejected: Vec<Rejected>,
}

/// One rejected event of a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejected {
    /// Position of the event in the batch.
    pub index: usize,
    /// Why it was rejected.
    pub error: ApplyError,
}

/// Applies a batch of events, for a driver that persists once per batch.
///
/// A rejected event does not stop the batch: it is reported and the rest are applied. The
/// commands are merged so that they describe the state *after* the batch: a scheduling request
/// made early in the batch is dropped if a later event suspended or ended the run, and the
/// remaining one names what is unscheduled at the end.
pub fn apply_all(state: &mut RunState, events: impl IntoIterator<Item = Event>) -> Batch {
    let mut wants_schedule = false;
    let mut finish = None;
    let mut persist = false;
    let mut rejected = Vec::new();
    for (index, event) in events.into_iter().enumerate() {
        match apply(state, event) {
            Ok(commands) => {
                for command in commands {
                    match command {
                        Command::ScheduleItems(_) => wants_schedule = true,
                        Command::Persist => persist = true,
                        Command::Finish(status) => finish = Some(status),
                    }
                }
            }
            Err(error) => rejected.push(Rejected { index, error }),
        }
    }
    let mut commands = Vec::new();
    if wants_schedule && state.may_schedule() {
        let ranges = state.unscheduled();
        if !ranges.is_empty() {
            commands.push(Command::ScheduleItems(ranges));
        }
    }
    if let Some(status) = finish {
        commands.push(Command::Finish(status));
    }
    if persist {
        commands.push(Command::Persist);
    }
    Batch { commands, rejected }
}

fn validate(state: &RunState, event: &Event) -> Result<(), ApplyError> {
    if let Some(item) = event.item() {
        if item >= state.input_count {
            return Err(ApplyError::ItemOutOfRange {
                item,
                input_count: state.input_count,
            });
        }
    }
    if let Event::RunRequested {
        id,
        name,
        input_count,
        ..
    } = event
    {
        if *id != state.id {
            return Err(ApplyError::WrongRun {
                expected: state.id.clone(),
                found: id.clone(),
            });
        }
        if *name != state.name || *input_count != state.input_count {
            return Err(ApplyError::ConflictingRequest { id: id.clone() });
        }
    }
    Ok(())
}

fn has_outcome(state: &RunState, item: u32) -> bool {
    state.completed.contains(item) || state.failed.contains(item)
}

/// `Pending` becomes `Running` at the first sign of work on an item; other statuses stay.
fn start_running(state: &mut RunState) {
    if state.runtime_status == RuntimeStatus::Pending {
        state.runtime_status = RuntimeStatus::Running;
    }
}

/// Ends a `Pending`/`Running` run whose items are all accounted for; returns whether it did.
fn finish_if_done(state: &mut RunState, commands: &mut Vec<Command>) -> bool {
    if !state.may_schedule() || state.accounted() < state.input_count {
        return false;
    }
    let status = if state.failed.count() == 0 {
        RuntimeStatus::Completed
    } else {
        RuntimeStatus::Failed
    };
    state.runtime_status = status;
    commands.push(Command::Finish(status));
    true
}

/// Finishes the run if it is done, otherwise asks for what is still unscheduled; returns whether
/// the state changed.
fn schedule_or_finish(state: &mut RunState, commands: &mut Vec<Command>) -> bool {
    if finish_if_done(state, commands) {
        return true;
    }
    let ranges = state.unscheduled();
    if !ranges.is_empty() {
        commands.push(Command::ScheduleItems(ranges));
    }
    false
}

#[cfg(test)]
mod tests;
