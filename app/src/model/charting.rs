//! Samples → charts: the one mapping from the live feed to what a chart draws. The page's
//! canvases and the server's exports both use it, so an export shows what the page showed.

use charts::{palette, Mark, Series, Theme, TimeChart, TimeLabels};
use protocol::live::Sample;

/// The dashboard's three charts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChartKind {
    Queue,
    Pods,
    Nodes,
}

impl ChartKind {
    pub const ALL: [ChartKind; 3] = [ChartKind::Queue, ChartKind::Pods, ChartKind::Nodes];

    /// The name in URLs and test ids: `queue`, `pods`, `nodes`.
    pub fn slug(self) -> &'static str {
        match self {
            ChartKind::Queue => "queue",
            ChartKind::Pods => "pods",
            ChartKind::Nodes => "nodes",
        }
    }

    pub fn from_slug(slug: &str) -> Option<ChartKind> {
        ChartKind::ALL.into_iter().find(|k| k.slug() == slug)
    }

    pub fn title(self) -> &'static str {
        match self {
            ChartKind::Queue => "Queue length",
            ChartKind::Pods => "Worker pods",
            ChartKind::Nodes => "Nodes",
        }
    }

    /// What a chart's value counts, for its accessible description.
    pub fn unit(self) -> &'static str {
        match self {
            ChartKind::Queue => "messages",
            ChartKind::Pods => "pods",
            ChartKind::Nodes => "nodes",
        }
    }
}

/// The time range a chart shows, in milliseconds since the epoch, and how its axis reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub from_ms: u64,
    pub to_ms: u64,
    /// The instant the time axis counts from: the end for time before now, the start of a
    /// run for time elapsed.
    pub origin_ms: u64,
    pub labels: TimeLabels,
}

impl Span {
    /// The `window_secs` up to `to_ms` (the newest sample), labelled as time before now.
    pub fn ending_at(to_ms: u64, window_secs: u64) -> Span {
        Span {
            from_ms: to_ms.saturating_sub(window_secs * 1000),
            to_ms,
            origin_ms: to_ms,
            labels: TimeLabels::Ago,
        }
    }

    /// From `from_ms` to `to_ms`, labelled as time elapsed since `from_ms`.
    pub fn between(from_ms: u64, to_ms: u64) -> Span {
        Span {
            from_ms,
            to_ms: to_ms.max(from_ms),
            origin_ms: from_ms,
            labels: TimeLabels::Elapsed,
        }
    }

    /// A run from `start_ms` to `end_ms` with some context around it: `before_ms` of lead-in
    /// and `after_ms` of wind-down (when the pods scale back), never past `now_ms`. Time is
    /// counted from the run's start.
    pub fn around(start_ms: u64, end_ms: u64, before_ms: u64, after_ms: u64, now_ms: u64) -> Span {
        let to_ms = end_ms.saturating_add(after_ms).min(now_ms.max(end_ms));
        Span {
            from_ms: start_ms.saturating_sub(before_ms),
            to_ms: to_ms.max(start_ms),
            origin_ms: start_ms,
            labels: TimeLabels::Elapsed,
        }
    }

    /// Where `t_ms` falls on the chart's time axis, in seconds.
    pub fn x(&self, t_ms: u64) -> f64 {
        (t_ms as f64 - self.origin_ms as f64) / 1000.0
    }

    pub fn x_range(&self) -> (f64, f64) {
        let (from, to) = (self.x(self.from_ms), self.x(self.to_ms));
        // A span of a single instant still needs a width to draw.
        if to - from < 1.0 {
            (from, from + 1.0)
        } else {
            (from, to)
        }
    }

    pub fn contains(&self, t_ms: u64) -> bool {
        (self.from_ms..=self.to_ms).contains(&t_ms)
    }
}

/// The samples inside `span` (samples are in time order).
pub fn visible<'a>(samples: &'a [Sample], span: &Span) -> &'a [Sample] {
    let start = samples.partition_point(|s| s.t_ms < span.from_ms);
    let end = samples.partition_point(|s| s.t_ms <= span.to_ms);
    &samples[start..end.max(start)]
}

/// How a chart looks: colours, type size and line width in device pixels, a header or not.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Look {
    pub theme: Theme,
    pub font_px: f64,
    pub line_px: f64,
    pub header: bool,
}

impl Look {
    /// The page's look at a device pixel ratio: type and lines scale with it (and with
    /// presenter mode) so they stay the same size on screen.
    pub fn screen(dark: bool, presenter: bool, pixel_ratio: f64) -> Look {
        let scale = pixel_ratio.max(1.0) * if presenter { 1.3 } else { 1.0 };
        Look {
            theme: match (dark, presenter) {
                (true, false) => Theme::DARK,
                (false, false) => Theme::LIGHT,
                (true, true) => Theme::DARK_CONTRAST,
                (false, true) => Theme::LIGHT_CONTRAST,
            },
            font_px: 14.0 * scale,
            line_px: 2.0 * scale,
            header: false,
        }
    }

    /// Exports: a header with the title and a legend, since there is no page around them.
    pub fn export(dark: bool) -> Look {
        Look {
            theme: if dark { Theme::DARK } else { Theme::LIGHT },
            font_px: 15.0,
            line_px: 2.0,
            header: true,
        }
    }
}

/// What a chart showed, exposed on the page for tests and measurements.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Drawn {
    /// Sequence numbers of the oldest and newest sample drawn, and how many were drawn.
    pub first_seq: u64,
    pub last_seq: u64,
    pub count: usize,
    /// `t_ms` of the newest sample drawn.
    pub newest_t_ms: u64,
    /// The chart's headline value at the newest sample (queue length, pods, nodes).
    pub latest: u64,
    /// The largest headline value drawn.
    pub peak: u64,
}

/// The series of one kind of chart, with names and colours, for the chart and its legend.
pub struct SeriesSpec {
    pub name: &'static str,
    pub color: charts::RGBColor,
    pub mark: Mark,
    pub value: fn(&Sample) -> Option<f64>,
}

/// The series each chart draws, bottom of the stack first.
pub fn series_specs(kind: ChartKind) -> Vec<SeriesSpec> {
    fn n(v: u32) -> Option<f64> {
        Some(f64::from(v))
    }
    match kind {
        ChartKind::Queue => vec![
            SeriesSpec {
                name: "queue length",
                color: palette::BLUE,
                mark: Mark::Fill,
                value: |s| s.queue_length.map(|q| q as f64),
            },
            SeriesSpec {
                name: "target per pod",
                color: palette::GREY,
                mark: Mark::Dashed,
                value: |s| s.cluster.target_queue_length.map(f64::from),
            },
        ],
        ChartKind::Pods => vec![
            SeriesSpec {
                name: "running",
                color: palette::GREEN,
                mark: Mark::Stack,
                value: |s| n(s.cluster.pods_running),
            },
            SeriesSpec {
                name: "starting",
                color: palette::SKY,
                mark: Mark::Stack,
                value: |s| n(s.cluster.pods_starting),
            },
            SeriesSpec {
                name: "pending",
                color: palette::AMBER,
                mark: Mark::Stack,
                value: |s| n(s.cluster.pods_pending),
            },
            SeriesSpec {
                name: "terminating",
                color: palette::VIOLET,
                mark: Mark::Stack,
                value: |s| n(s.cluster.pods_terminating),
            },
            SeriesSpec {
                name: "desired",
                color: palette::GREY,
                mark: Mark::Dashed,
                value: |s| s.cluster.desired_replicas.map(f64::from),
            },
        ],
        ChartKind::Nodes => vec![
            SeriesSpec {
                name: "ready",
                color: palette::TEAL,
                mark: Mark::Stack,
                value: |s| n(s.cluster.nodes_ready),
            },
            SeriesSpec {
                name: "provisioning",
                color: palette::AMBER,
                mark: Mark::Stack,
                value: |s| n(s.cluster.nodes_provisioning),
            },
        ],
    }
}

/// The headline value of a sample for a chart: the queue length, all pods, all nodes.
pub fn headline(kind: ChartKind, sample: &Sample) -> Option<u64> {
    let c = &sample.cluster;
    match kind {
        ChartKind::Queue => sample.queue_length,
        ChartKind::Pods => Some(u64::from(
            c.pods_pending + c.pods_starting + c.pods_running + c.pods_terminating,
        )),
        ChartKind::Nodes => Some(u64::from(c.nodes_ready + c.nodes_provisioning)),
    }
}

/// The chart of `kind` over `span`.
pub fn build(kind: ChartKind, samples: &[Sample], span: &Span, look: &Look) -> (TimeChart, Drawn) {
    let shown = visible(samples, span);
    let mut chart = TimeChart::new(kind.title(), span.x_range(), span.labels);
    chart.theme = look.theme;
    chart.font_px = look.font_px;
    chart.line_px = look.line_px;
    chart.header = look.header;
    chart.empty_note = if samples.is_empty() {
        "Waiting for the first sample…".into()
    } else {
        "No samples in this time range".into()
    };
    // Counts (pods, nodes, the target) change at an instant; the queue length is an
    // approximate count read once a second and reads better as a line.
    let step = kind != ChartKind::Queue;
    chart.series = series_specs(kind)
        .into_iter()
        .map(|spec| Series {
            name: spec.name.into(),
            color: if spec.mark == Mark::Dashed {
                look.theme.muted
            } else {
                spec.color
            },
            mark: spec.mark,
            step: step || spec.mark == Mark::Dashed,
            points: shown
                .iter()
                .map(|s| (span.x(s.t_ms), (spec.value)(s).unwrap_or(f64::NAN)))
                .collect(),
        })
        .collect();
    let drawn = Drawn {
        first_seq: shown.first().map(|s| s.seq).unwrap_or_default(),
        last_seq: shown.last().map(|s| s.seq).unwrap_or_default(),
        count: shown.len(),
        newest_t_ms: shown.last().map(|s| s.t_ms).unwrap_or_default(),
        latest: shown
            .last()
            .and_then(|s| headline(kind, s))
            .unwrap_or_default(),
        peak: shown
            .iter()
            .filter_map(|s| headline(kind, s))
            .max()
            .unwrap_or_default(),
    };
    (chart, drawn)
}

/// One entry of a chart's legend on the page: a swatch, a name and the current value.
#[derive(Clone, Debug, PartialEq)]
pub struct LegendItem {
    pub name: &'static str,
    pub color: String,
    pub dashed: bool,
    pub value: String,
}

/// The legend of `kind` with the values of `sample`.
pub fn legend(kind: ChartKind, sample: Option<&Sample>) -> Vec<LegendItem> {
    series_specs(kind)
        .into_iter()
        .map(|spec| LegendItem {
            name: spec.name,
            color: palette::css(spec.color),
            dashed: spec.mark == Mark::Dashed,
            value: sample
                .and_then(|s| (spec.value)(s))
                .map(|v| format!("{v:.0}"))
                .unwrap_or_else(|| "—".into()),
        })
        .collect()
}

/// The chart in words, for those who cannot see it: every value of its legend now, and the
/// highest headline value over the `minutes` shown, so a screen reader gives what the picture
/// gives. Rebuilt on every sample, so it is always the current one.
pub fn describe(kind: ChartKind, legend: &[LegendItem], minutes: u64, drawn: &Drawn) -> String {
    let minutes = minutes.max(1);
    let span = format!(
        "over the last {minutes} minute{}",
        if minutes > 1 { "s" } else { "" }
    );
    if drawn.count == 0 {
        return format!("{} {span}: no samples yet.", kind.title());
    }
    let now = legend
        .iter()
        .map(|item| format!("{} {}", item.name, item.value))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "{} {span}. Now: {now}. Highest shown: {} {}.",
        kind.title(),
        drawn.peak,
        kind.unit()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::live::{ClusterSample, StorageHealth};

    #[test]
    fn a_chart_is_described_with_every_current_value_and_its_peak() {
        let legend = |queue: &str| {
            vec![
                LegendItem {
                    name: "queue length",
                    color: String::new(),
                    dashed: false,
                    value: queue.into(),
                },
                LegendItem {
                    name: "target per pod",
                    color: String::new(),
                    dashed: true,
                    value: "5".into(),
                },
            ]
        };
        let drawn = Drawn {
            count: 30,
            latest: 7,
            peak: 12,
            ..Drawn::default()
        };
        assert_eq!(
            describe(ChartKind::Queue, &legend("7"), 5, &drawn),
            "Queue length over the last 5 minutes. Now: queue length 7, target per pod 5. \
             Highest shown: 12 messages."
        );
        assert_eq!(
            describe(ChartKind::Pods, &[], 1, &Drawn::default()),
            "Worker pods over the last 1 minute: no samples yet."
        );
    }

    fn sample(seq: u64, t_ms: u64, queue: Option<u64>, running: u32, starting: u32) -> Sample {
        Sample {
            t_ms,
            seq,
            queue_length: queue,
            storage: StorageHealth::Ok,
            cluster: ClusterSample {
                pods_running: running,
                pods_starting: starting,
                nodes_ready: 1,
                desired_replicas: Some(running + starting),
                target_queue_length: Some(5),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn samples() -> Vec<Sample> {
        vec![
            sample(1, 101_000, Some(3), 0, 1),
            sample(2, 102_000, None, 1, 2),
            sample(3, 103_500, Some(9), 3, 0),
        ]
    }

    #[test]
    fn a_live_window_ends_at_the_newest_sample_and_keeps_gaps() {
        let samples = samples();
        let span = Span::ending_at(103_500, 60);
        let (chart, drawn) = build(ChartKind::Queue, &samples, &span, &Look::export(true));
        assert_eq!(chart.x_range, (-60.0, 0.0));
        let queue = &chart.series[0];
        assert_eq!(queue.points[0], (-2.5, 3.0));
        assert!(queue.points[1].1.is_nan(), "an unread queue is a gap");
        assert_eq!(queue.points[2], (0.0, 9.0));
        assert_eq!(chart.series[1].points[2], (0.0, 5.0), "the target line");
        assert_eq!(
            drawn,
            Drawn {
                first_seq: 1,
                last_seq: 3,
                count: 3,
                newest_t_ms: 103_500,
                latest: 9,
                peak: 9
            }
        );
    }

    #[test]
    fn the_window_drops_older_samples() {
        let samples = samples();
        let span = Span::ending_at(103_500, 2);
        assert_eq!(visible(&samples, &span).len(), 2);
        let (_, drawn) = build(ChartKind::Pods, &samples, &span, &Look::export(true));
        assert_eq!((drawn.first_seq, drawn.count), (2, 2));
        assert_eq!((drawn.latest, drawn.peak), (3, 3));
    }

    #[test]
    fn pods_stack_by_phase_with_the_desired_count_dashed() {
        let samples = samples();
        let span = Span::between(101_000, 103_500);
        let (chart, _) = build(ChartKind::Pods, &samples, &span, &Look::export(false));
        let names: Vec<_> = chart.series.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["running", "starting", "pending", "terminating", "desired"]
        );
        assert_eq!(chart.x_range, (0.0, 2.5));
        assert_eq!(chart.series[1].points[1], (1.0, 2.0));
        assert!(chart.series.iter().all(|s| s.step));
        assert_eq!(chart.series[4].mark, Mark::Dashed);
        assert_eq!(chart.series[4].color, Theme::LIGHT.muted);
    }

    #[test]
    fn a_runs_span_has_context_and_counts_from_its_start() {
        let span = Span::around(10_000, 40_000, 5_000, 30_000, 55_000);
        assert_eq!(
            (span.from_ms, span.to_ms, span.origin_ms),
            (5_000, 55_000, 10_000)
        );
        assert_eq!(span.x_range(), (-5.0, 45.0));
        assert!(span.contains(55_000) && !span.contains(56_000));
        // Never past now, and a run that has just started still has a width.
        let early = Span::around(10_000, 10_000, 5_000, 30_000, 10_000);
        assert_eq!(early.x_range(), (-5.0, 0.0));
    }

    #[test]
    fn legends_carry_the_current_values() {
        let samples = samples();
        let legend = legend(ChartKind::Nodes, samples.last());
        assert_eq!(legend[0].name, "ready");
        assert_eq!(legend[0].value, "1");
        assert_eq!(legend[0].color, "#14b8a6");
        assert_eq!(super::legend(ChartKind::Queue, None)[0].value, "—");
    }

    #[test]
    fn slugs_round_trip() {
        for kind in ChartKind::ALL {
            assert_eq!(ChartKind::from_slug(kind.slug()), Some(kind));
        }
        assert_eq!(ChartKind::from_slug("cpu"), None);
    }
}
