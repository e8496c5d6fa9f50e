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

use std::collections::HashMap;

use app::charts::{self, TimeChart};
use app::model::charting::{self, ChartKind, Look, Span};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use orchestration::RunId;
use protocol::live::Sample;
use serde_json::json;

use crate::app::AppState;
use crate::durable::rfc3339;
use crate::error::ApiError;
use crate::sampler::now_ms;

/// Where the exports live.
pub const EXPORT: &str = "/api/export";

pub fn routes() -> Router<AppState> {
    Router::new().route(&format!("{EXPORT}/{{file}}"), get(export))
}

/// What a request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Product {
    /// One chart, or all three (`None`) one above the other.
    Chart(Option<ChartKind>, Image),
    Samples(Table),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Image {
    Svg,
    Png,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Table {
    Csv,
    Json,
}

/// Which samples: a time range, or a run whose span is looked up.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Range {
    Last { minutes: u64 },
    Between { from_ms: u64, to_ms: u64 },
    Run(String),
}

/// How a chart is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Canvas {
    dark: bool,
    width: u32,
    height: u32,
}

const PARAMETERS: &str = "minutes, from, to, run, theme, width, height";
const FILES: &str = "queue.svg, queue.png, pods.svg, pods.png, nodes.svg, nodes.png, charts.svg, charts.png, samples.csv, samples.json";

fn parse_file(file: &str) -> Result<Product, ApiError> {
    let unknown = || {
        ApiError::not_found(format!(
            "no export named `{}`; the exports are {FILES}",
            clip(file)
        ))
    };
    let (name, extension) = file.rsplit_once('.').ok_or_else(unknown)?;
    match (name, extension) {
        ("samples", "csv") => Ok(Product::Samples(Table::Csv)),
        ("samples", "json") => Ok(Product::Samples(Table::Json)),
        (name, "svg" | "png") => {
            let kind = match name {
                "charts" => None,
                name => Some(ChartKind::from_slug(name).ok_or_else(unknown)?),
            };
            let image = if extension == "svg" {
                Image::Svg
            } else {
                Image::Png
            };
            Ok(Product::Chart(kind, image))
        }
        _ => Err(unknown()),
    }
}

/// Reads the query: which samples, and for charts how to draw them.
fn parse_query(
    params: &HashMap<String, String>,
    product: Product,
    now_ms: u64,
) -> Result<(Range, Canvas), String> {
    if let Some(name) = params
        .keys()
        .find(|k| !PARAMETERS.split(", ").any(|p| p == k.as_str()))
    {
        return Err(format!(
            "unknown parameter `{}`; the parameters are {PARAMETERS}",
            clip(name)
        ));
    }
    let number = |name: &str, min: u64, max: u64| -> Result<Option<u64>, String> {
        let Some(text) = params.get(name) else {
            return Ok(None);
        };
        let value: u64 = text
            .trim()
            .parse()
            .map_err(|_| format!("{name} must be a whole number, not `{}`", clip(text)))?;
        if !(min..=max).contains(&value) {
            return Err(format!(
                "{name} must be between {min} and {max}, not {value}"
            ));
        }
        Ok(Some(value))
    };

    let minutes = number("minutes", 1, 24 * 60)?;
    let from = number("from", 0, u64::MAX)?;
    let to = number("to", 0, u64::MAX)?;
    let range = match (params.get("run"), minutes, from, to) {
        (Some(_), Some(_), _, _) | (Some(_), _, Some(_), _) | (Some(_), _, _, Some(_)) => {
            return Err(
                "run cannot be combined with minutes, from or to: a run has its own time span"
                    .into(),
            )
        }
        (_, Some(_), Some(_), _) | (_, Some(_), _, Some(_)) => {
            return Err("give either minutes or from/to, not both".into())
        }
        (Some(run), None, None, None) => {
            RunId::parse(run)
                .map_err(|e| format!("run `{}` is not a valid instance id: {e}", clip(run)))?;
            Range::Run(run.clone())
        }
        (None, _, None, Some(_)) => return Err("to needs from: give from=<ms> as well".into()),
        (None, _, Some(from_ms), to_ms) => {
            let to_ms = to_ms.unwrap_or(now_ms);
            if from_ms >= to_ms {
                return Err(format!("from ({from_ms}) must be before to ({to_ms})"));
            }
            Range::Between { from_ms, to_ms }
        }
        (None, minutes, None, None) => Range::Last {
            minutes: minutes.unwrap_or(5),
        },
    };

    let is_chart = matches!(product, Product::Chart(..));
    if !is_chart {
        if let Some(name) = ["theme", "width", "height"]
            .into_iter()
            .find(|p| params.contains_key(*p))
        {
            return Err(format!("{name} applies to charts only, not to samples"));
        }
    }
    let dark = match params.get("theme").map(String::as_str) {
        None | Some("light") => false,
        Some("dark") => true,
        Some(other) => {
            return Err(format!(
                "theme must be light or dark, not `{}`",
                clip(other)
            ))
        }
    };
    let all = matches!(product, Product::Chart(None, _));
    let canvas = Canvas {
        dark,
        width: number("width", 320, 4000)?.unwrap_or(1200) as u32,
        height: number("height", 160, 4000)?.unwrap_or(if all { 1050 } else { 360 }) as u32,
    };
    Ok((range, canvas))
}

/// `GET /api/export/{file}`
async fn export(
    State(state): State<AppState>,
    Path(file): Path<String>,
    Query(params): Query<HashMap<String, String>>,
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
    let samples = charting::visible(&history, &span);
    let name = match &run {
        Some(id) => format!("scaleboard-run-{}", &id[..id.len().min(8)]),
        None => format!("scaleboard-{}", span.from_ms),
    };

    let (content_type, filename, body): (&str, String, Vec<u8>) = match product {
        Product::Samples(Table::Csv) => (
            "text/csv; charset=utf-8",
            format!("{name}-samples.csv"),
            samples_csv(samples, run.as_deref()).into_bytes(),
        ),
        Product::Samples(Table::Json) => (
            "application/json",
            format!("{name}-samples.json"),
            serde_json::to_vec_pretty(&json!({
                "from_ms": span.from_ms,
                "to_ms": span.to_ms,
                "run": run,
                "count": samples.len(),
                "samples": samples,
            }))
            .map_err(|e| ApiError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                message: format!("serialising the samples failed: {e}"),
            })?,
        ),
        Product::Chart(kind, image) => {
            let charts = chart_set(kind, samples, &span, canvas.dark);
            let slug = kind.map_or("charts", ChartKind::slug);
            // Rendering is CPU work (a PNG of three charts takes tens of milliseconds): off
            // the async workers.
            let rendered = tokio::task::spawn_blocking(move || render(&charts, image, canvas))
                .await
                .map_err(|e| ApiError {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    message: format!("rendering the chart failed: {e}"),
                })?
                .map_err(|message| ApiError {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    message,
                })?;
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

/// The charts of `kind` (all three when `None`), as the dashboard builds them.
fn chart_set(
    kind: Option<ChartKind>,
    samples: &[Sample],
    span: &Span,
    dark: bool,
) -> Vec<TimeChart> {
    let look = Look::export(dark);
    let kinds: Vec<ChartKind> = kind.map_or(ChartKind::ALL.to_vec(), |k| vec![k]);
    kinds
        .into_iter()
        .map(|kind| {
            let (mut chart, _) = charting::build(kind, samples, span, &look);
            if samples.is_empty() {
                chart.empty_note = "No samples in this time range".into();
            }
            chart
        })
        .collect()
}

fn render(charts: &[TimeChart], image: Image, canvas: Canvas) -> Result<Vec<u8>, String> {
    let (width, height) = (canvas.width, canvas.height);
    match (image, charts) {
        (Image::Svg, [one]) => Ok(charts::svg(one, width, height).into_bytes()),
        (Image::Svg, many) => Ok(charts::svg_stack(many, width, height).into_bytes()),
        (Image::Png, [one]) => charts::png(one, width, height).map_err(|e| e.to_string()),
        (Image::Png, many) => charts::png_stack(many, width, height).map_err(|e| e.to_string()),
    }
}

/// The samples as CSV: a header, then one row per sample; a run's export adds its status and
/// counts at each sample.
fn samples_csv(samples: &[Sample], run: Option<&str>) -> String {
    let mut columns = vec![
        "t_ms",
        "time",
        "seq",
        "queue_length",
        "storage_ok",
        "pods_pending",
        "pods_starting",
        "pods_running",
        "pods_terminating",
        "pods_failed",
        "desired_replicas",
        "target_queue_length",
        "nodes_ready",
        "nodes_provisioning",
        "runs_active",
        "cluster_stale",
    ];
    if run.is_some() {
        columns.extend(["run_status", "run_completed", "run_failed", "run_total"]);
    }
    let mut out = columns.join(",");
    out.push('\n');
    let opt = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
    for s in samples {
        let c = &s.cluster;
        let mut row = vec![
            s.t_ms.to_string(),
            rfc3339(s.t_ms),
            s.seq.to_string(),
            opt(s.queue_length),
            s.storage.is_ok().to_string(),
            c.pods_pending.to_string(),
            c.pods_starting.to_string(),
            c.pods_running.to_string(),
            c.pods_terminating.to_string(),
            c.pods_failed.to_string(),
            opt(c.desired_replicas.map(u64::from)),
            opt(c.target_queue_length.map(u64::from)),
            c.nodes_ready.to_string(),
            c.nodes_provisioning.to_string(),
            s.runs
                .iter()
                .filter(|r| app::model::runs::is_active(&r.status))
                .count()
                .to_string(),
            csv_field(c.stale.as_deref().unwrap_or_default()),
        ];
        if let Some(id) = run {
            match s.runs.iter().find(|r| r.id == id) {
                Some(r) => row.extend([
                    csv_field(&r.status),
                    r.completed.to_string(),
                    r.failed.to_string(),
                    r.total.to_string(),
                ]),
                None => row.extend([String::new(), String::new(), String::new(), String::new()]),
            }
        }
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

/// A CSV field, quoted when it holds a comma, a quote or a line break (RFC 4180).
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

fn clip(text: &str) -> String {
    if text.chars().count() > 40 {
        format!("{}…", text.chars().take(40).collect::<String>())
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::live::{ClusterSample, ClusterSource, RunProgress, StorageHealth};

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const CSV: Product = Product::Samples(Table::Csv);
    const SVG: Product = Product::Chart(Some(ChartKind::Queue), Image::Svg);

    fn sample(seq: u64, queue: Option<u64>, running: u32, completed: u32) -> Sample {
        Sample {
            t_ms: 1_764_180_000_000 + seq * 1000,
            seq,
            queue_length: queue,
            storage: if queue.is_some() {
                StorageHealth::Ok
            } else {
                StorageHealth::Unreachable {
                    endpoint: "http://127.0.0.1:10001".into(),
                    error: "refused".into(),
                }
            },
            cluster: ClusterSample {
                source: ClusterSource::Local,
                pods_running: running,
                pods_starting: 1,
                nodes_ready: 2,
                desired_replicas: Some(running + 1),
                target_queue_length: Some(5),
                stale: (seq == 3).then(|| "watch restarted, \"pods\" unknown".into()),
                ..Default::default()
            },
            runs: vec![RunProgress {
                id: "run1".into(),
                status: "Running".into(),
                total: 200,
                scheduled: 200,
                completed,
                failed: 0,
                created_ms: 1_764_180_000_000,
                updated_ms: 1_764_180_000_000 + seq * 1000,
            }],
            events: Vec::new(),
        }
    }

    #[test]
    fn files_name_a_chart_or_the_samples() {
        assert_eq!(parse_file("samples.csv").unwrap(), CSV);
        assert_eq!(
            parse_file("pods.png").unwrap(),
            Product::Chart(Some(ChartKind::Pods), Image::Png)
        );
        assert_eq!(
            parse_file("charts.svg").unwrap(),
            Product::Chart(None, Image::Svg)
        );
        for bad in ["cpu.svg", "queue.gif", "samples.xml", "queue"] {
            let error = parse_file(bad).unwrap_err();
            assert_eq!(error.status, StatusCode::NOT_FOUND);
            assert!(
                error.message.contains("queue.svg"),
                "{bad}: {}",
                error.message
            );
        }
    }

    #[test]
    fn ranges_default_to_five_minutes_and_take_minutes_from_to_or_a_run() {
        let now = 1_000_000;
        let range = |pairs: &[(&str, &str)]| parse_query(&params(pairs), CSV, now).map(|r| r.0);
        assert_eq!(range(&[]), Ok(Range::Last { minutes: 5 }));
        assert_eq!(range(&[("minutes", "15")]), Ok(Range::Last { minutes: 15 }));
        assert_eq!(
            range(&[("from", "1000"), ("to", "5000")]),
            Ok(Range::Between {
                from_ms: 1000,
                to_ms: 5000
            })
        );
        assert_eq!(
            range(&[("from", "1000")]),
            Ok(Range::Between {
                from_ms: 1000,
                to_ms: now
            })
        );
        assert_eq!(
            range(&[("run", "abc-123")]),
            Ok(Range::Run("abc-123".into()))
        );
    }

    #[test]
    fn bad_parameters_are_named() {
        let now = 1_000_000;
        for (pairs, says) in [
            (vec![("minutes", "abc")], "minutes must be a whole number"),
            (vec![("minutes", "0")], "minutes must be between 1 and 1440"),
            (vec![("minutes", "-5")], "minutes must be a whole number"),
            (
                vec![("from", "9"), ("to", "3")],
                "from (9) must be before to (3)",
            ),
            (vec![("to", "3")], "to needs from"),
            (
                vec![("minutes", "5"), ("from", "3")],
                "either minutes or from/to",
            ),
            (
                vec![("run", "x"), ("minutes", "5")],
                "run cannot be combined",
            ),
            (vec![("run", "not/an/id")], "not a valid instance id"),
            (vec![("window", "5")], "unknown parameter `window`"),
            (vec![("theme", "blue")], "applies to charts only"),
        ] {
            let error = parse_query(&params(&pairs), CSV, now).unwrap_err();
            assert!(error.contains(says), "{pairs:?}: {error}");
        }
        let error = parse_query(&params(&[("theme", "blue")]), SVG, now).unwrap_err();
        assert!(error.contains("theme must be light or dark"), "{error}");
        let error = parse_query(&params(&[("width", "10")]), SVG, now).unwrap_err();
        assert!(
            error.contains("width must be between 320 and 4000"),
            "{error}"
        );
        let (_, canvas) = parse_query(&params(&[("theme", "dark")]), SVG, now).unwrap();
        assert_eq!(
            canvas,
            Canvas {
                dark: true,
                width: 1200,
                height: 360
            }
        );
    }

    #[test]
    fn csv_has_a_header_and_one_row_per_sample() {
        let samples = [
            sample(1, Some(40), 2, 0),
            sample(2, None, 4, 10),
            sample(3, Some(7), 5, 30),
        ];
        let csv = samples_csv(&samples, None);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(
            lines[0],
            "t_ms,time,seq,queue_length,storage_ok,pods_pending,pods_starting,pods_running,\
             pods_terminating,pods_failed,desired_replicas,target_queue_length,nodes_ready,\
             nodes_provisioning,runs_active,cluster_stale"
        );
        assert_eq!(
            lines[1],
            "1764180001000,2025-11-26T18:00:01Z,1,40,true,0,1,2,0,0,3,5,2,0,1,"
        );
        // An unread queue is an empty field, not a zero.
        assert_eq!(
            lines[2],
            "1764180002000,2025-11-26T18:00:02Z,2,,false,0,1,4,0,0,5,5,2,0,1,"
        );
        // A reason with a comma and quotes is quoted.
        assert!(
            lines[3].ends_with(",1,\"watch restarted, \"\"pods\"\" unknown\""),
            "{}",
            lines[3]
        );
    }

    #[test]
    fn a_runs_csv_adds_its_progress() {
        let samples = [sample(1, Some(40), 2, 0), sample(2, Some(30), 4, 10)];
        let csv = samples_csv(&samples, Some("run1"));
        let lines: Vec<&str> = csv.lines().collect();
        assert!(lines[0].ends_with(",run_status,run_completed,run_failed,run_total"));
        assert!(lines[2].ends_with(",Running,10,0,200"), "{}", lines[2]);
        let other = samples_csv(&samples, Some("run2"));
        assert!(other.lines().nth(1).unwrap().ends_with(",,,,"));
    }

    /// The text of every `<text>` element of an SVG.
    fn texts(svg: &str) -> Vec<String> {
        svg.split("<text")
            .skip(1)
            .filter_map(|rest| {
                let body = &rest[rest.find('>')? + 1..];
                Some(body[..body.find("</text>")?].trim().to_string())
            })
            .collect()
    }

    #[test]
    fn chart_svgs_are_the_dashboards_charts_with_a_legend() {
        let samples = [
            sample(1, Some(40), 2, 0),
            sample(2, Some(30), 4, 10),
            sample(3, Some(7), 5, 30),
        ];
        let span = Span::between(samples[0].t_ms, samples[2].t_ms);
        let canvas = Canvas {
            dark: false,
            width: 900,
            height: 300,
        };

        let queue = chart_set(Some(ChartKind::Queue), &samples, &span, false);
        let svg = String::from_utf8(render(&queue, Image::Svg, canvas).unwrap()).unwrap();
        assert!(
            svg.starts_with("<svg width=\"900\" height=\"300\""),
            "{}",
            &svg[..60]
        );
        let found = texts(&svg);
        for text in [
            "Queue length",
            "queue length",
            "target per pod",
            "0 s",
            "2 s",
        ] {
            assert!(
                found.iter().any(|t| t == text),
                "missing {text} in {found:?}"
            );
        }
        assert!(svg.contains("fill=\"#FFFFFF\""), "light background");
        assert!(svg.contains("stroke=\"#3B82F6\""), "the queue line");

        let pods = chart_set(Some(ChartKind::Pods), &samples, &span, true);
        let svg = String::from_utf8(render(&pods, Image::Svg, canvas).unwrap()).unwrap();
        assert!(svg.contains("fill=\"#0F172A\""), "dark background");
        // Running and starting pods are stacked bands; the empty phases draw nothing.
        let band = |color: &str| format!("<polygon opacity=\"0.85\" fill=\"{color}\"");
        assert!(svg.contains(&band("#22C55E")), "running");
        assert!(svg.contains(&band("#38BDF8")), "starting");
        assert!(
            !svg.contains(&band("#A78BFA")),
            "no terminating pods, no band"
        );
        assert!(texts(&svg).iter().any(|t| t == "desired"));

        let all = chart_set(None, &samples, &span, false);
        let svg = String::from_utf8(render(&all, Image::Svg, canvas).unwrap()).unwrap();
        let titles = texts(&svg);
        for title in ["Queue length", "Worker pods", "Nodes"] {
            assert!(titles.iter().any(|t| t == title), "missing {title}");
        }
    }

    #[test]
    fn an_empty_range_still_draws_a_chart_that_says_so() {
        let span = Span::ending_at(1_000_000, 300);
        let charts = chart_set(Some(ChartKind::Nodes), &[], &span, false);
        let svg = String::from_utf8(
            render(
                &charts,
                Image::Svg,
                Canvas {
                    dark: false,
                    width: 600,
                    height: 200,
                },
            )
            .unwrap(),
        )
        .unwrap();
        assert!(texts(&svg)
            .iter()
            .any(|t| t == "No samples in this time range"));
    }

    #[test]
    fn pngs_have_the_signature() {
        let samples = [sample(1, Some(40), 2, 0), sample(2, Some(30), 4, 10)];
        let span = Span::between(samples[0].t_ms, samples[1].t_ms);
        let charts = chart_set(None, &samples, &span, true);
        let png = render(
            &charts,
            Image::Png,
            Canvas {
                dark: true,
                width: 640,
                height: 600,
            },
        )
        .unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert!(png.len() > 5_000, "{} bytes", png.len());
    }
}
