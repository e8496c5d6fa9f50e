//! Exports of the live history: the charts as SVG or PNG, drawn by the same code as the
//! dashboard's canvases (`app::model::charting` + the `charts` crate), and the samples as CSV
//! or JSON.
//!
//! `GET /api/export/{file}`, where `file` is `queue`, `pods`, `nodes` or `charts` (all three)
//! with `.svg` or `.png`, or `samples.csv` / `samples.json`. What to export:
//! - `minutes=N`: the last N minutes (1–1440; the default is 5);
//! - `from=T&to=T`: milliseconds since the epoch (`to` defaults to now);
//! - `run=<id>`: the run's span, from its creation to its last update (to now while it runs).
//!
//! Charts also take `theme=light|dark` (default light), `width` and `height` in pixels. Every
//! bad parameter is a 400 with a JSON `{"error"}` that names it.
//!
//! - [`request`]: the file and the query, read and checked (pure);
//! - [`render`]: the charts and the tables drawn from the recorded samples (pure);
//! - this module: the route, which looks up a run's span and the history and answers, and
//!   [`from_recording`], the same answers from a recording for the replay server.

mod render;
mod request;

use std::collections::HashMap;
use std::sync::Arc;

use app::model::charting::{ChartKind, Span};
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use orchestration::RunId;
use protocol::live::Sample;
use protocol::recording::Recording;
use protocol::timestamp::parse_rfc3339;

use crate::app::AppState;
use crate::durable::params::ApiQuery;
use crate::error::ApiError;
use crate::heavy::HeavyWork;
use crate::live::Recorded;
use plumbing::clock::now_ms;
use render::{chart_set, render, samples_csv, samples_json, within};
use request::{parse_file, parse_query, Canvas, Image, Product, Range, Table};

/// Where the exports live.
pub const EXPORT: &str = "/api/export";

pub fn routes() -> Router<AppState> {
    Router::new().route(&format!("{EXPORT}/{{file}}"), get(export))
}

/// `GET /api/export/{file}`
async fn export(
    State(state): State<AppState>,
    Path(file): Path<String>,
    ApiQuery(params): ApiQuery<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let product = parse_file(&file)?;
    let now = now_ms();
    let (range, canvas) = parse_query(&params, product, now).map_err(ApiError::bad_request)?;
    let (span, run) = match &range {
        Range::Last { minutes } => (Span::ending_at(now, minutes * 60), None),
        Range::Between { from_ms, to_ms } => (Span::between(*from_ms, *to_ms), None),
        Range::Run(id) => {
            let id = RunId::parse(id).map_err(|e| ApiError::bad_request(e.to_string()))?;
            let doc = state.engine.get(&id).await?;
            let run = &doc.state;
            let end = if run.is_terminal() {
                run.last_updated_ms()
            } else {
                now
            };
            (
                Span::between(run.created_ms(), end),
                Some(id.as_str().to_string()),
            )
        }
    };
    answer(
        &state.heavy,
        product,
        canvas,
        &span,
        run.as_deref(),
        &state.hub.history(),
    )
    .await
}

/// `GET /api/export/{file}` on a replay server: the same files, drawn from the whole recording
/// rather than from what the replay has shown so far, so a recorded run's export matches, row for
/// row, the live server's export of that run. `run=` must name the recorded run; `minutes=N` is
/// the last N minutes of the recording.
pub async fn from_recording(
    heavy: &HeavyWork,
    recording: &Recording,
    file: &str,
    params: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    let product = parse_file(file)?;
    let end = recording.samples.last().map_or(0, |s| s.sample.t_ms);
    let (range, canvas) = parse_query(params, product, end).map_err(ApiError::bad_request)?;
    let (span, run) = match &range {
        Range::Last { minutes } => (Span::ending_at(end, minutes * 60), None),
        Range::Between { from_ms, to_ms } => (Span::between(*from_ms, *to_ms), None),
        Range::Run(id) if id.as_str() == recording.run_id() => {
            let time = |text: &str| {
                parse_rfc3339(text).ok_or_else(|| {
                    ApiError::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        format!("the recorded run has no valid time: `{text}`"),
                    )
                })
            };
            let from = time(&recording.run.created_time)?;
            let to = time(&recording.run.last_updated_time)?;
            (Span::between(from, to), Some(id.clone()))
        }
        Range::Run(_) => {
            return Err(ApiError::not_found(format!(
                "this server replays run {} only",
                recording.run_id()
            )))
        }
    };
    let history: Vec<Recorded> = recording
        .samples
        .iter()
        .map(|s| Recorded {
            sample: s.sample.clone(),
            runs: Arc::new(s.progress.iter().cloned().collect()),
        })
        .collect();
    answer(heavy, product, canvas, &span, run.as_deref(), &history).await
}

/// The export of `history` within `span`, named after `run` when there is one.
async fn answer(
    heavy: &HeavyWork,
    product: Product,
    canvas: Canvas,
    span: &Span,
    run: Option<&str>,
    history: &[Recorded],
) -> Result<Response, ApiError> {
    let recorded = within(history, span);
    let name = match run {
        Some(id) => format!("scaleboard-run-{}", &id[..id.len().min(8)]),
        None => format!("scaleboard-{}", span.from_ms),
    };

    let (content_type, filename, body): (&str, String, Vec<u8>) = match product {
        Product::Samples(Table::Csv) => (
            "text/csv; charset=utf-8",
            format!("{name}-samples.csv"),
            samples_csv(recorded, run).into_bytes(),
        ),
        Product::Samples(Table::Json) => (
            "application/json",
            format!("{name}-samples.json"),
            samples_json(span, recorded, run).map_err(|e| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("serialising the samples failed: {e}"),
                )
            })?,
        ),
        Product::Chart(kind, image) => {
            let samples: Vec<Sample> = recorded.iter().map(|r| r.sample.clone()).collect();
            let charts = chart_set(kind, &samples, span, canvas.dark);
            let slug = kind.map_or("charts", ChartKind::slug);
            // Rendering is CPU work (a PNG of three charts takes tens of milliseconds, a
            // 4000×4000 one tens of megabytes): on the blocking pool, a few at a time.
            let rendered = heavy
                .run("chart export", move || render(&charts, image, canvas))
                .await?
                .map_err(|message| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message))?;
            match image {
                Image::Svg => ("image/svg+xml", format!("{name}-{slug}.svg"), rendered),
                Image::Png => ("image/png", format!("{name}-{slug}.png"), rendered),
            }
        }
    };
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}
