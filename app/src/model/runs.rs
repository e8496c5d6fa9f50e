//! Runs as the table shows them: the live feed's list, with the runs this page just started
//! until the feed has them, and the rates and durations derived from their counts.

use protocol::durable::StatusDocument;
use protocol::live::{RunProgress, Sample};
use protocol::timestamp::parse_rfc3339;

/// The feed's runs plus those started here that the feed does not list yet, newest first.
pub fn merge(feed: &[RunProgress], started: &[RunProgress]) -> Vec<RunProgress> {
    let mut rows: Vec<RunProgress> = feed.to_vec();
    rows.extend(
        started
            .iter()
            .filter(|run| !feed.iter().any(|f| f.id == run.id))
            .cloned(),
    );
    RunProgress::sort_newest_first(&mut rows);
    rows
}

/// The rows to show: every active run, then the newest finished ones, `limit` in all (more
/// only if more are active); and how many finished runs were left out.
pub fn shown(rows: Vec<RunProgress>, limit: usize) -> (Vec<RunProgress>, usize) {
    let active = rows.iter().filter(|r| r.status.is_active()).count();
    let mut room = limit.saturating_sub(active);
    let total = rows.len();
    let kept: Vec<RunProgress> = rows
        .into_iter()
        .filter(|r| {
            if r.status.is_active() {
                true
            } else if room > 0 {
                room -= 1;
                true
            } else {
                false
            }
        })
        .collect();
    let hidden = total - kept.len();
    (kept, hidden)
}

/// How long a run has taken: to its last update once finished, to `now_ms` while active.
pub fn duration_ms(run: &RunProgress, now_ms: u64) -> u64 {
    let end = if run.status.is_active() {
        now_ms.max(run.updated_ms)
    } else {
        run.updated_ms
    };
    end.saturating_sub(run.created_ms)
}

/// Items finished (completed or failed) per second over the run's duration so far.
pub fn run_rate(run: &RunProgress, now_ms: u64) -> Option<f64> {
    let ms = duration_ms(run, now_ms);
    (ms >= 1000).then(|| f64::from(run.completed + run.failed) * 1000.0 / ms as f64)
}

/// Items completed per second across all runs over the last `span_ms` of samples: the
/// difference of the server's completed total between the newest sample and the oldest within
/// the span.
pub fn items_per_second(samples: &[Sample], span_ms: u64) -> Option<f64> {
    let newest = samples.last()?;
    let since = newest.t_ms.saturating_sub(span_ms);
    let oldest = samples
        .iter()
        .rev()
        .take_while(|s| s.t_ms >= since)
        .last()?;
    let elapsed = newest.t_ms.checked_sub(oldest.t_ms)?;
    if elapsed == 0 {
        return None;
    }
    let done = newest
        .completed_total
        .saturating_sub(oldest.completed_total);
    Some(done as f64 * 1000.0 / elapsed as f64)
}

/// A run's progress from its status document (`GET …/instances/{id}`), for runs the live feed
/// no longer lists; `None` when its times are not RFC 3339.
pub fn from_status(doc: &StatusDocument) -> Option<RunProgress> {
    let counts = doc.custom_status;
    Some(RunProgress {
        id: doc.instance_id.clone(),
        status: doc.runtime_status,
        total: counts.total,
        scheduled: counts.scheduled,
        completed: counts.completed,
        failed: counts.failed,
        created_ms: parse_rfc3339(&doc.created_time)?,
        updated_ms: parse_rfc3339(&doc.last_updated_time)?,
    })
}

/// The run's progress, as fractions of its items completed and failed.
pub fn fractions(run: &RunProgress) -> (f64, f64) {
    if run.total == 0 {
        return (0.0, 0.0);
    }
    let total = f64::from(run.total);
    (
        f64::from(run.completed) / total,
        f64::from(run.failed) / total,
    )
}

#[cfg(test)]
mod tests {
    use protocol::durable::RuntimeStatus::{self, Completed, Pending, Running};

    use super::*;

    fn run(
        id: &str,
        status: RuntimeStatus,
        completed: u32,
        created_ms: u64,
        updated_ms: u64,
    ) -> RunProgress {
        RunProgress {
            id: id.into(),
            status,
            total: 200,
            scheduled: 200,
            completed,
            failed: 0,
            created_ms,
            updated_ms,
        }
    }

    fn sample(t_ms: u64, completed_total: u64) -> Sample {
        Sample {
            t_ms,
            seq: t_ms / 1000,
            completed_total,
            ..Default::default()
        }
    }

    #[test]
    fn started_runs_show_until_the_feed_has_them() {
        let feed = vec![run("a", Running, 5, 1_000, 2_000)];
        let started = vec![
            run("a", Pending, 0, 900, 900),
            run("b", Pending, 0, 3_000, 3_000),
        ];
        let rows = merge(&feed, &started);
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (rows[0].id.as_str(), rows[0].status.as_str()),
            ("b", "Pending")
        );
        assert_eq!(
            (rows[1].id.as_str(), rows[1].status.as_str()),
            ("a", "Running")
        );
    }

    #[test]
    fn the_table_keeps_active_runs_and_the_newest_finished() {
        let rows = vec![
            run("e", Completed, 0, 5, 5),
            run("d", Running, 0, 4, 4),
            run("c", Completed, 0, 3, 3),
            run("b", Completed, 0, 2, 2),
            run("a", Pending, 0, 1, 1),
        ];
        let (kept, hidden) = shown(rows, 3);
        let ids: Vec<&str> = kept.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["e", "d", "a"]);
        assert_eq!(hidden, 2);
    }

    #[test]
    fn durations_run_to_now_while_active_and_stop_when_finished() {
        assert_eq!(
            duration_ms(&run("a", Running, 0, 1_000, 2_000), 9_000),
            8_000
        );
        assert_eq!(
            duration_ms(&run("a", Completed, 0, 1_000, 5_000), 9_000),
            4_000
        );
        assert_eq!(run_rate(&run("a", Completed, 100, 0, 20_000), 0), Some(5.0));
        assert_eq!(run_rate(&run("a", Pending, 0, 0, 0), 500), None);
    }

    #[test]
    fn throughput_counts_completions_in_the_span() {
        let samples = vec![
            sample(1_000, 0),
            sample(5_000, 10),
            sample(9_000, 30),
            sample(11_000, 44),
        ];
        // Over the last 6 s: 10 → 44 between t = 5 s and 11 s.
        assert_eq!(items_per_second(&samples, 6_000), Some(34.0 / 6.0));
        assert_eq!(items_per_second(&samples[..1], 6_000), None);
        assert_eq!(items_per_second(&[], 6_000), None);
    }

    #[test]
    fn a_total_that_went_back_does_not_make_throughput_negative() {
        // A restarted server counts from zero again.
        let samples = vec![sample(1_000, 200), sample(2_000, 0)];
        assert_eq!(items_per_second(&samples, 5_000), Some(0.0));
    }

    #[test]
    fn status_documents_read_as_progress() {
        let status: StatusDocument = serde_json::from_value(serde_json::json!({
            "name": "ComputeOrchestrator",
            "instanceId": "abc",
            "runtimeStatus": "Completed",
            "input": { "inputCount": 200, "cost": 150000 },
            "customStatus": { "scheduled": 200, "completed": 198, "failed": 2, "total": 200 },
            "createdTime": "1970-01-01T00:00:01.000Z",
            "output": null,
            "lastUpdatedTime": "1970-01-01T00:00:31.500Z"
        }))
        .unwrap();
        let run = from_status(&status).unwrap();
        assert_eq!((run.completed, run.failed, run.total), (198, 2, 200));
        assert_eq!((run.created_ms, run.updated_ms), (1_000, 31_500));
        assert_eq!(run.status, Completed);
        let mut bad = status.clone();
        bad.created_time = "yesterday".into();
        assert_eq!(from_status(&bad), None);
    }

    #[test]
    fn progress_fractions() {
        let mut r = run("a", Running, 50, 0, 0);
        r.failed = 10;
        assert_eq!(fractions(&r), (0.25, 0.05));
        r.total = 0;
        assert_eq!(fractions(&r), (0.0, 0.0));
    }
}
