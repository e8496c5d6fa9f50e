//! `GET /api/runs/{id}/recording`: a finished run as a recording file
//! ([`protocol::recording::Recording`], gzip-compressed JSON) that `scaleboard replay` serves
//! anywhere, with no storage and no cluster.
//!
//! The window is the run's span as the exports take it (`/api/export/samples.csv?run=<id>`),
//! from its creation to its last update — so a recording starts with exactly the run's CSV
//! samples — followed by what the server kept after it, up to [`TAIL_MS`]: the sample that shows
//! the run finished and the queue empty, and the pods and nodes scaling back down, which is
//! what an audience watches a replay for.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use orchestration::RunId;
use protocol::live::ClusterSource;
use protocol::recording::{Place, RecordedSample, Recording};

use crate::app::AppState;
use crate::durable::documents::status_document;
use crate::error::ApiError;
use crate::live::Recorded;
use plumbing::clock::now_ms;

/// Samples kept after a run's last update (as the what-if replay keeps them).
pub const TAIL_MS: u64 = 10 * 60 * 1000;

/// `GET /api/runs/{id}/recording` → `application/gzip`, as an attachment.
pub async fn recording(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id =
        RunId::parse(&id).map_err(|e| ApiError::bad_request(format!("not a valid run id: {e}")))?;
    let doc = state.engine.get(&id).await?;
    let run = &doc.state;
    if !run.is_terminal() {
        return Err(ApiError::conflict(format!(
            "run {id} is {}: a run is recorded once it has finished",
            run.runtime_status()
        )));
    }
    let samples = window(
        &state.hub.history(),
        id.as_str(),
        run.created_ms(),
        run.last_updated_ms().saturating_add(TAIL_MS),
    );
    // The policy in force: the local model's, or a cluster's ScaledObject read as a profile.
    let policy = state.cluster.policy().and_then(Result::ok);
    let place = place(
        state.local.as_ref().map(|local| local.profile().name),
        &samples,
    );
    let recording = Recording::new(
        status_document(&doc, false),
        policy,
        place,
        state.hub.interval_ms(),
        samples,
        now_ms(),
    );
    // Compression is CPU work proportional to the window: on the blocking pool.
    let body = state
        .heavy
        .run("recording", move || recording.to_gzip())
        .await?;
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/gzip"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(value) = HeaderValue::from_str(&format!(
        "attachment; filename=\"{}\"",
        file_name(id.as_str())
    )) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// The name a browser saves a run's recording under.
pub fn file_name(id: &str) -> String {
    format!("scaleboard-{id}.json.gz")
}

/// The recorded samples from `from_ms` to `to_ms` (both included, as the exports take a run's
/// span), each with the run's progress as the feed showed it then.
pub fn window(history: &[Recorded], id: &str, from_ms: u64, to_ms: u64) -> Vec<RecordedSample> {
    history
        .iter()
        .filter(|r| (from_ms..=to_ms).contains(&r.sample.t_ms))
        .map(|r| RecordedSample {
            sample: r.sample.clone(),
            progress: r.runs.iter().find(|run| run.id == id).cloned(),
        })
        .collect()
}

/// Where the run ran: the local model with its profile, or the view the samples came from.
fn place(profile: Option<String>, samples: &[RecordedSample]) -> Place {
    let source = match profile {
        Some(_) => ClusterSource::Local,
        None => samples
            .iter()
            .map(|s| s.sample.cluster.source)
            .find(|source| *source != ClusterSource::None)
            .unwrap_or_default(),
    };
    Place {
        cluster: source,
        profile,
        ..Place::default()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use protocol::durable::RuntimeStatus;
    use protocol::live::{ClusterSample, RunProgress, Sample};

    use super::*;

    fn recorded(t_ms: u64, runs: &Arc<Vec<RunProgress>>) -> Recorded {
        Recorded {
            sample: Sample {
                t_ms,
                seq: t_ms,
                cluster: ClusterSample {
                    source: ClusterSource::Kube,
                    ..ClusterSample::default()
                },
                ..Sample::default()
            },
            runs: runs.clone(),
        }
    }

    #[test]
    fn the_window_includes_both_ends_and_the_runs_progress_only() {
        let none = Arc::new(Vec::new());
        let both = Arc::new(vec![
            RunProgress {
                id: "other".into(),
                status: RuntimeStatus::Running,
                total: 1,
                scheduled: 1,
                completed: 0,
                failed: 0,
                created_ms: 0,
                updated_ms: 0,
            },
            RunProgress {
                id: "run1".into(),
                status: RuntimeStatus::Running,
                total: 5,
                scheduled: 5,
                completed: 2,
                failed: 0,
                created_ms: 0,
                updated_ms: 0,
            },
        ]);
        let history = [
            recorded(999, &both),
            recorded(1_000, &none),
            recorded(1_500, &both),
            recorded(2_000, &both),
            recorded(2_001, &both),
        ];
        let samples = window(&history, "run1", 1_000, 2_000);
        let times: Vec<u64> = samples.iter().map(|s| s.sample.t_ms).collect();
        assert_eq!(times, [1_000, 1_500, 2_000]);
        assert_eq!(samples[0].progress, None);
        assert_eq!(samples[1].progress.as_ref().unwrap().completed, 2);
        assert_eq!(place(None, &samples).cluster, ClusterSource::Kube);
        let local = place(Some("seed-demo".into()), &samples);
        assert_eq!(
            (local.cluster, local.profile.as_deref()),
            (ClusterSource::Local, Some("seed-demo"))
        );
        assert_eq!(file_name("abc"), "scaleboard-abc.json.gz");
    }
}
