//! What goes in an exported file: the charts drawn by the same code as the dashboard's
//! canvases (`app::model::charting` + the `charts` crate), the samples as CSV or JSON. Pure: the
//! handler gives it the recorded samples and gets bytes back.

use app::charts::{self, TimeChart};
use app::model::charting::{self, ChartKind, Look, Span};
use protocol::live::Sample;
use protocol::timestamp::rfc3339;
use serde_json::json;

use super::request::{Canvas, Image};
use crate::live::Recorded;

/// The charts of `kind` (all three when `None`), as the dashboard builds them.
pub(super) fn chart_set(
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

/// Draws the charts one above the other, as SVG or PNG.
pub(super) fn render(
    charts: &[TimeChart],
    image: Image,
    canvas: Canvas,
) -> Result<Vec<u8>, String> {
    let (width, height) = (canvas.width, canvas.height);
    match (image, charts) {
        (Image::Svg, [one]) => Ok(charts::svg(one, width, height).into_bytes()),
        (Image::Svg, many) => Ok(charts::svg_stack(many, width, height).into_bytes()),
        (Image::Png, [one]) => charts::png(one, width, height).map_err(|e| e.to_string()),
        (Image::Png, many) => charts::png_stack(many, width, height).map_err(|e| e.to_string()),
    }
}

/// The recorded samples inside `span` (they are in time order).
pub(super) fn within<'a>(recorded: &'a [Recorded], span: &Span) -> &'a [Recorded] {
    let start = recorded.partition_point(|r| r.sample.t_ms < span.from_ms);
    let end = recorded.partition_point(|r| r.sample.t_ms <= span.to_ms);
    &recorded[start..end.max(start)]
}

/// A run's progress at each recorded sample it appears in.
fn run_progress(recorded: &[Recorded], id: &str) -> Vec<serde_json::Value> {
    recorded
        .iter()
        .filter_map(|r| {
            let run = r.runs.iter().find(|run| run.id == id)?;
            Some(json!({ "t_ms": r.sample.t_ms, "progress": run }))
        })
        .collect()
}

/// The samples as JSON: the span, the samples, and for a run its progress at each sample.
pub(super) fn samples_json(
    span: &Span,
    recorded: &[Recorded],
    run: Option<&str>,
) -> Result<Vec<u8>, serde_json::Error> {
    let samples: Vec<&Sample> = recorded.iter().map(|r| &r.sample).collect();
    serde_json::to_vec_pretty(&json!({
        "from_ms": span.from_ms,
        "to_ms": span.to_ms,
        "run": run,
        "count": samples.len(),
        "samples": samples,
        "run_progress": run.map(|id| run_progress(recorded, id)),
    }))
}

/// The samples as CSV: a header, then one row per sample; a run's export adds its status and
/// counts at each sample.
pub(super) fn samples_csv(samples: &[Recorded], run: Option<&str>) -> String {
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
    for recorded in samples {
        let (s, runs) = (&recorded.sample, &recorded.runs);
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
            runs.iter()
                .filter(|r| r.status.is_active())
                .count()
                .to_string(),
            csv_field(c.stale.as_deref().unwrap_or_default()),
        ];
        if let Some(id) = run {
            match runs.iter().find(|r| r.id == id) {
                Some(r) => row.extend([
                    r.status.to_string(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::live::{ClusterSample, ClusterSource, RunProgress, StorageHealth};

    fn sample(seq: u64, queue: Option<u64>, running: u32, completed: u32) -> Sample {
        recorded(seq, queue, running, completed).sample
    }

    /// A sample as the hub records it, with run `run1` at `completed`.
    fn recorded(seq: u64, queue: Option<u64>, running: u32, completed: u32) -> Recorded {
        let sample = Sample {
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
            completed_total: u64::from(completed),
            events_poisoned: 0,
            events: Vec::new(),
        };
        Recorded {
            runs: std::sync::Arc::new(vec![RunProgress {
                id: "run1".into(),
                status: protocol::durable::RuntimeStatus::Running,
                total: 200,
                scheduled: 200,
                completed,
                failed: 0,
                created_ms: 1_764_180_000_000,
                updated_ms: sample.t_ms,
            }]),
            sample,
        }
    }

    #[test]
    fn csv_has_a_header_and_one_row_per_sample() {
        let samples = [
            recorded(1, Some(40), 2, 0),
            recorded(2, None, 4, 10),
            recorded(3, Some(7), 5, 30),
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
        let samples = [recorded(1, Some(40), 2, 0), recorded(2, Some(30), 4, 10)];
        let csv = samples_csv(&samples, Some("run1"));
        let lines: Vec<&str> = csv.lines().collect();
        assert!(lines[0].ends_with(",run_status,run_completed,run_failed,run_total"));
        assert!(lines[2].ends_with(",Running,10,0,200"), "{}", lines[2]);
        let other = samples_csv(&samples, Some("run2"));
        assert!(other.lines().nth(1).unwrap().ends_with(",,,,"));
    }

    #[test]
    fn json_has_the_span_the_samples_and_a_runs_progress() {
        let samples = [recorded(1, Some(40), 2, 0), recorded(2, Some(30), 4, 10)];
        let span = Span::between(samples[0].sample.t_ms, samples[1].sample.t_ms);
        let json: serde_json::Value =
            serde_json::from_slice(&samples_json(&span, &samples, Some("run1")).unwrap()).unwrap();
        assert_eq!(json["from_ms"], span.from_ms);
        assert_eq!(json["count"], 2);
        assert_eq!(json["samples"][1]["queue_length"], 30);
        assert_eq!(json["run_progress"][1]["progress"]["completed"], 10);
        let json: serde_json::Value =
            serde_json::from_slice(&samples_json(&span, &samples, None).unwrap()).unwrap();
        assert!(json["run"].is_null() && json["run_progress"].is_null());
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
