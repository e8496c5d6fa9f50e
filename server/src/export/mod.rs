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
//! - this module: the route, which looks up a run's span and the history and answers.

mod render;
mod request;

use std::collections::HashMap;

use app::model::charting::{ChartKind, Span};
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use orchestration::RunId;
use protocol::live::Sample;

use crate::app::AppState;
use crate::durable::params::ApiQuery;
use crate::error::ApiError;
use plumbing::clock::now_ms;
use render::{chart_set, render, samples_csv, samples_json, within};
use request::{parse_file, parse_query, Image, Product, Range, Table};

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
    let history = state.hub.history();
    let recorded = within(&history, &span);
    let name = match &run {
        Some(id) => format!("scaleboard-run-{}", &id[..id.len().min(8)]),
        None => format!("scaleboard-{}", span.from_ms),
    };

    let (content_type, filename, body): (&str, String, Vec<u8>) = match product {
        Product::Samples(Table::Csv) => (
            "text/csv; charset=utf-8",
            format!("{name}-samples.csv"),
            samples_csv(recorded, run.as_deref()).into_bytes(),
        ),
        Product::Samples(Table::Json) => (
            "application/json",
            format!("{name}-samples.json"),
            samples_json(&span, recorded, run.as_deref()).map_err(|e| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("serialising the samples failed: {e}"),
                )
            })?,
        ),
        Product::Chart(kind, image) => {
            let samples: Vec<Sample> = recorded.iter().map(|r| r.sample.clone()).collect();
            let charts = chart_set(kind, &samples, &span, canvas.dark);
            let slug = kind.map_or("charts", ChartKind::slug);
            // Rendering is CPU work (a PNG of three charts takes tens of milliseconds, a
            // 4000×4000 one tens of megabytes): on the blocking pool, a few at a time.
            let rendered = state
                .heavy
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
