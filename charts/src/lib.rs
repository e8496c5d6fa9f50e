//! Scaleboard's time-series charts, drawn with plotters.
//!
//! One drawing routine, [`draw`], serves every backend: a `<canvas>` in the browser (feature
//! `canvas`), SVG on the server for exports and tests, and PNG (feature `raster`). A chart is a
//! plain description ([`TimeChart`]): what to draw, in which colours, at which type size; the
//! caller decides what the data mean.
//!
//! # Layout
//! - [`TimeChart`], [`Series`], [`Mark`], [`Theme`]: what to draw.
//! - [`shape`]: pure geometry — stacking, steps, gaps, axis bounds and tick labels — tested
//!   without a backend.
//! - [`draw`]: draws onto any plotters drawing area; [`draw_stack`] draws several charts one
//!   above the other.
//! - [`svg`], [`svg_stack`]: SVG documents; `png`, `png_stack` (feature `raster`): PNG bytes.
//! - `canvas` (feature): draws onto an `HtmlCanvasElement`.

use plotters::coord::Shift;
use plotters::prelude::*;

pub mod shape;

pub use plotters::style::RGBColor;

#[cfg(feature = "raster")]
mod raster;
#[cfg(feature = "raster")]
pub use raster::{png, png_stack, RasterError};

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    /// A solid line.
    Line,
    /// A solid line with a translucent fill down to zero.
    Fill,
    /// A band stacked on the `Stack` series before it (the first one sits on zero).
    Stack,
    /// A dashed line: a set point or a target, not a measurement.
    Dashed,
}

/// One series: points are `(seconds, value)` in the chart's time coordinates; a non-finite
/// value is a gap (nothing was measured), drawn as a break in the line.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub name: String,
    pub color: RGBColor,
    pub mark: Mark,
    /// Draw as steps (the value holds until the next point), for counts that change at an
    /// instant, such as pods and nodes.
    pub step: bool,
    pub points: Vec<(f64, f64)>,
}

/// A moment worth pointing at, such as the start and end of a run: a vertical dashed line
/// with a label at its top.
#[derive(Clone, Debug, PartialEq)]
pub struct Marker {
    /// Seconds, in the chart's time coordinates.
    pub x: f64,
    pub label: String,
}

/// How the time axis is labelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeLabels {
    /// Seconds before now: times are ≤ 0 and the right edge reads "now".
    Ago,
    /// Time elapsed since the start of the range, as `m:ss`.
    Elapsed,
}

/// Colours of the chart's furniture.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Theme {
    pub background: RGBColor,
    pub foreground: RGBColor,
    pub muted: RGBColor,
    pub grid: RGBColor,
}

impl Theme {
    /// The dashboard's dark panels.
    pub const DARK: Theme = Theme {
        background: RGBColor(0x0f, 0x17, 0x2a),
        foreground: RGBColor(0xe2, 0xe8, 0xf0),
        muted: RGBColor(0x94, 0xa3, 0xb8),
        grid: RGBColor(0x26, 0x33, 0x48),
    };
    /// The dashboard's light panels.
    pub const LIGHT: Theme = Theme {
        background: RGBColor(0xff, 0xff, 0xff),
        foreground: RGBColor(0x0f, 0x17, 0x2a),
        muted: RGBColor(0x47, 0x55, 0x69),
        grid: RGBColor(0xe2, 0xe8, 0xf0),
    };
    /// Presenter mode on dark: black and white, for a washed-out projector.
    pub const DARK_CONTRAST: Theme = Theme {
        background: RGBColor(0, 0, 0),
        foreground: RGBColor(0xff, 0xff, 0xff),
        muted: RGBColor(0xe2, 0xe8, 0xf0),
        grid: RGBColor(0x3a, 0x3a, 0x3a),
    };
    /// Presenter mode on light.
    pub const LIGHT_CONTRAST: Theme = Theme {
        background: RGBColor(0xff, 0xff, 0xff),
        foreground: RGBColor(0, 0, 0),
        muted: RGBColor(0x1e, 0x29, 0x3b),
        grid: RGBColor(0xcb, 0xd5, 0xe1),
    };
}

/// The colours of the dashboard's series, picked to stay distinct on a projector and for the
/// common colour-vision deficiencies (blue/amber rather than red/green for the key contrasts).
pub mod palette {
    use plotters::style::RGBColor;
    pub const BLUE: RGBColor = RGBColor(0x3b, 0x82, 0xf6);
    pub const SKY: RGBColor = RGBColor(0x38, 0xbd, 0xf8);
    pub const GREEN: RGBColor = RGBColor(0x22, 0xc5, 0x5e);
    pub const TEAL: RGBColor = RGBColor(0x14, 0xb8, 0xa6);
    pub const AMBER: RGBColor = RGBColor(0xf5, 0x9e, 0x0b);
    pub const RED: RGBColor = RGBColor(0xef, 0x44, 0x44);
    pub const VIOLET: RGBColor = RGBColor(0xa7, 0x8b, 0xfa);
    pub const GREY: RGBColor = RGBColor(0x94, 0xa3, 0xb8);

    /// `#rrggbb`, for the page's legends.
    pub fn css(color: RGBColor) -> String {
        format!("#{:02x}{:02x}{:02x}", color.0, color.1, color.2)
    }
}

/// A chart of values over a time range.
#[derive(Clone, Debug, PartialEq)]
pub struct TimeChart {
    pub title: String,
    /// The time range shown, in seconds, in the series' time coordinates.
    pub x_range: (f64, f64),
    pub labels: TimeLabels,
    /// Drawn in order: stacked bands, then fills, lines and dashed lines on top.
    pub series: Vec<Series>,
    /// Vertical markers, drawn over the series.
    pub markers: Vec<Marker>,
    pub theme: Theme,
    /// Type size of labels, in device pixels (scale it by the device pixel ratio).
    pub font_px: f64,
    /// Width of lines, in device pixels.
    pub line_px: f64,
    /// Draw the title and a legend above the plot. The page shows its own (HTML) legend with
    /// the current values, so it turns this off; exports turn it on.
    pub header: bool,
    /// Shown in the middle of the plot when there is nothing to draw.
    pub empty_note: String,
}

impl TimeChart {
    /// A chart with the dashboard's defaults: dark, 13 px type, 2 px lines, no header.
    pub fn new(title: impl Into<String>, x_range: (f64, f64), labels: TimeLabels) -> TimeChart {
        TimeChart {
            title: title.into(),
            x_range,
            labels,
            series: Vec::new(),
            markers: Vec::new(),
            theme: Theme::DARK,
            font_px: 13.0,
            line_px: 2.0,
            header: false,
            empty_note: "No samples in this time range".into(),
        }
    }

    /// The upper bound of the y axis: the top of the stack and every other visible value, with
    /// headroom; never below 5 so an idle chart still has a readable scale.
    pub fn y_max(&self) -> f64 {
        shape::y_max(self)
    }

    /// Whether any measured series (not a dashed reference) has a value to draw.
    pub fn has_data(&self) -> bool {
        self.series
            .iter()
            .filter(|s| s.mark != Mark::Dashed)
            .any(|s| s.points.iter().any(|(_, v)| v.is_finite()))
    }
}

/// Draws `chart` onto `area`, clearing it first.
pub fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    chart: &TimeChart,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    draw_one(area, chart)?;
    area.present()
}

/// Draws `charts` one above the other, sharing the area evenly.
pub fn draw_stack<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    charts: &[TimeChart],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let background = charts
        .first()
        .map_or(Theme::DARK.background, |c| c.theme.background);
    area.fill(&background)?;
    if !charts.is_empty() {
        for (part, chart) in area.split_evenly((charts.len(), 1)).iter().zip(charts) {
            draw_one(part, chart)?;
        }
    }
    area.present()
}

fn font<'a>(chart: &TimeChart, scale: f64, color: RGBColor) -> TextStyle<'a> {
    ("sans-serif", chart.font_px * scale)
        .into_font()
        .color(&color)
}

fn draw_one<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    chart: &TimeChart,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    #[cfg(feature = "raster")]
    raster::register_fonts();
    let theme = chart.theme;
    area.fill(&theme.background)?;
    let px = chart.font_px;
    let plot = if chart.header {
        let (top, rest) = area.split_vertically((px * 2.4).round() as u32);
        draw_header(&top, chart)?;
        rest
    } else {
        area.clone()
    };

    let unit = shape::time_unit(chart.x_range);
    let (x0, x1) = (chart.x_range.0 / unit, chart.x_range.1 / unit);
    let y_max = chart.y_max();
    let y_labels = shape::y_label_count(y_max);
    let labels = chart.labels;
    let range = (chart.x_range.1 - chart.x_range.0).abs();
    let x_formatter = move |x: &f64| shape::time_label(*x * unit, labels, range);
    let mut ctx = ChartBuilder::on(&plot)
        .margin_top((px * 0.6).round() as u32)
        .margin_right((px * 1.8).round() as u32)
        .margin_left((px * 0.3).round() as u32)
        .x_label_area_size((px * 1.9).round() as u32)
        .y_label_area_size((px * 3.4).round() as u32)
        .build_cartesian_2d(x0..x1.max(x0 + f64::EPSILON), 0.0..y_max)?;
    ctx.configure_mesh()
        .light_line_style(TRANSPARENT)
        .bold_line_style(theme.grid.stroke_width(1))
        .axis_style(theme.muted.stroke_width(1))
        .label_style(font(chart, 1.0, theme.muted))
        .x_labels(7)
        .y_labels(y_labels)
        .x_label_formatter(&x_formatter)
        .y_label_formatter(&|v| shape::value_label(*v))
        .draw()?;

    let line = chart.line_px.max(1.0).round() as u32;
    let scaled = |points: &[(f64, f64)], step: bool| -> Vec<(f64, f64)> {
        let points = if step {
            shape::steps(points)
        } else {
            points.to_vec()
        };
        points.into_iter().map(|(x, y)| (x / unit, y)).collect()
    };

    // Stacked bands, bottom first.
    let stacked: Vec<&Series> = chart
        .series
        .iter()
        .filter(|s| s.mark == Mark::Stack)
        .collect();
    let layers: Vec<Vec<(f64, f64)>> = stacked.iter().map(|s| scaled(&s.points, s.step)).collect();
    for (band, series) in shape::stack(&layers).iter().zip(&stacked) {
        if band.iter().all(|&(_, low, high)| high <= low) {
            continue;
        }
        let outline: Vec<(f64, f64)> = band
            .iter()
            .map(|&(x, _, high)| (x, high))
            .chain(band.iter().rev().map(|&(x, low, _)| (x, low)))
            .collect();
        // Filled without an outline: a zero-height band's outline would lie on the band below
        // and read as a value that is not there.
        ctx.draw_series(std::iter::once(Polygon::new(
            outline,
            series.color.mix(0.85).filled(),
        )))?;
    }

    for mark in [Mark::Fill, Mark::Line, Mark::Dashed] {
        for series in chart.series.iter().filter(|s| s.mark == mark) {
            for segment in shape::segments(&scaled(&series.points, series.step)) {
                match mark {
                    Mark::Fill => {
                        let outline: Vec<(f64, f64)> = segment
                            .iter()
                            .copied()
                            .chain([(segment[segment.len() - 1].0, 0.0), (segment[0].0, 0.0)])
                            .collect();
                        ctx.draw_series(std::iter::once(Polygon::new(
                            outline,
                            series.color.mix(0.22).filled(),
                        )))?;
                        ctx.draw_series(LineSeries::new(segment, series.color.stroke_width(line)))?;
                    }
                    Mark::Line => {
                        ctx.draw_series(LineSeries::new(segment, series.color.stroke_width(line)))?;
                    }
                    Mark::Dashed => {
                        let dash = (px * 0.7).round() as u32;
                        ctx.draw_series(DashedLineSeries::new(
                            segment,
                            dash.max(4),
                            (dash / 2).max(3),
                            series.color.stroke_width(line.div_ceil(2).max(1)),
                        ))?;
                    }
                    Mark::Stack => {}
                }
            }
        }
    }

    let (from, to) = (
        chart.x_range.0.min(chart.x_range.1),
        chart.x_range.0.max(chart.x_range.1),
    );
    for marker in chart.markers.iter().filter(|m| (from..=to).contains(&m.x)) {
        let x = marker.x / unit;
        let dash = (px * 0.5).round() as u32;
        ctx.draw_series(DashedLineSeries::new(
            [(x, 0.0), (x, y_max)],
            dash.max(3),
            dash.max(3),
            theme.foreground.stroke_width(line.div_ceil(2).max(1)),
        ))?;
        let offset = ((px * 0.35).round() as i32, (px * 0.2).round() as i32);
        ctx.draw_series(std::iter::once(
            EmptyElement::at((x, y_max))
                + Text::new(
                    marker.label.clone(),
                    offset,
                    font(chart, 0.95, theme.foreground),
                ),
        ))?;
    }

    if !chart.has_data() {
        let (w, h) = ctx.plotting_area().dim_in_pixel();
        let style = font(chart, 1.1, theme.muted).pos(plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Center,
            plotters::style::text_anchor::VPos::Center,
        ));
        let (left, top) = ctx.plotting_area().get_base_pixel();
        plot.draw_text(
            &chart.empty_note,
            &style,
            (
                left - plot.get_base_pixel().0 + w as i32 / 2,
                top - plot.get_base_pixel().1 + h as i32 / 2,
            ),
        )?;
    }
    Ok(())
}

/// The title on the left and a legend after it: a swatch and a name per series, all centred
/// on the header's middle line.
fn draw_header<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    chart: &TimeChart,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    let px = chart.font_px;
    let left_middle = Pos::new(HPos::Left, VPos::Center);
    let title = font(chart, 1.2, chart.theme.foreground).pos(left_middle);
    let label = font(chart, 1.0, chart.theme.muted).pos(left_middle);
    let middle = (area.dim_in_pixel().1 / 2) as i32;
    let mut x = (px * 0.6).round() as i32;
    area.draw_text(&chart.title, &title, (x, middle))?;
    let (w, _) = area.estimate_text_size(&chart.title, &title)?;
    x += w as i32 + (px * 1.6).round() as i32;
    let swatch = (px * 0.9).round() as i32;
    for series in &chart.series {
        let top = middle - swatch / 2;
        if series.mark == Mark::Dashed {
            let dash = swatch * 2 / 5;
            for start in [x, x + swatch - dash] {
                area.draw(&PathElement::new(
                    [(start, middle), (start + dash, middle)],
                    series.color.stroke_width(2),
                ))?;
            }
        } else {
            area.draw(&Rectangle::new(
                [(x, top), (x + swatch, top + swatch)],
                series.color.filled(),
            ))?;
        }
        x += swatch + (px * 0.4).round() as i32;
        area.draw_text(&series.name, &label, (x, middle))?;
        let (w, _) = area.estimate_text_size(&series.name, &label)?;
        x += w as i32 + (px * 1.2).round() as i32;
    }
    Ok(())
}

/// Renders `chart` as an SVG document of the given size.
pub fn svg(chart: &TimeChart, width: u32, height: u32) -> String {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (width, height)).into_drawing_area();
        draw(&root, chart).expect("drawing into a string cannot fail");
    }
    out
}

/// Renders `charts` one above the other as one SVG document.
pub fn svg_stack(charts: &[TimeChart], width: u32, height: u32) -> String {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (width, height)).into_drawing_area();
        draw_stack(&root, charts).expect("drawing into a string cannot fail");
    }
    out
}

/// Drawing onto a `<canvas>` in the browser.
#[cfg(feature = "canvas")]
pub mod canvas {
    use plotters::prelude::IntoDrawingArea;
    use plotters_canvas::CanvasBackend;

    use crate::TimeChart;

    /// Draws onto `canvas` at its current pixel size; `false` if the canvas has no 2D context
    /// or drawing failed. The whole chart is drawn in one task, so the browser never paints a
    /// half-drawn frame: there is no flicker and no need for a second buffer.
    pub fn draw(canvas: web_sys::HtmlCanvasElement, chart: &TimeChart) -> bool {
        let Some(backend) = CanvasBackend::with_canvas_object(canvas) else {
            return false;
        };
        crate::draw(&backend.into_drawing_area(), chart).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text of every `<text>` element.
    fn texts(svg: &str) -> Vec<String> {
        svg.split("<text")
            .skip(1)
            .filter_map(|rest| {
                let body = &rest[rest.find('>')? + 1..];
                Some(body[..body.find("</text>")?].trim().to_string())
            })
            .collect()
    }

    fn queue(points: Vec<(f64, f64)>) -> TimeChart {
        let mut chart = TimeChart::new("Queue length", (-60.0, 0.0), TimeLabels::Ago);
        chart.theme = Theme::LIGHT;
        chart.header = true;
        chart.series = vec![
            Series {
                name: "queue length".into(),
                color: palette::BLUE,
                mark: Mark::Fill,
                step: false,
                points,
            },
            Series {
                name: "target 5".into(),
                color: palette::GREY,
                mark: Mark::Dashed,
                step: true,
                points: vec![(-60.0, 5.0), (0.0, 5.0)],
            },
        ];
        chart
    }

    fn pods() -> TimeChart {
        let mut chart = TimeChart::new("Pods", (0.0, 30.0), TimeLabels::Elapsed);
        let layer = |name: &str, color, values: [f64; 3]| Series {
            name: name.into(),
            color,
            mark: Mark::Stack,
            step: true,
            points: [0.0, 10.0, 20.0].into_iter().zip(values).collect(),
        };
        chart.series = vec![
            layer("running", palette::GREEN, [1.0, 4.0, 8.0]),
            layer("starting", palette::SKY, [2.0, 3.0, 0.0]),
        ];
        chart
    }

    #[test]
    fn svg_has_the_series_the_reference_and_the_legend() {
        let svg = svg(
            &queue(vec![(-30.0, 2.0), (-20.0, 8.0), (-10.0, 4.0)]),
            640,
            240,
        );
        assert!(svg.starts_with("<svg"), "{}", &svg[..40]);
        let texts = texts(&svg);
        for text in ["Queue length", "queue length", "target 5", "now", "−30 s"] {
            assert!(
                texts.iter().any(|t| t == text),
                "missing {text} in {texts:?}"
            );
        }
        assert!(svg.contains("<polyline"));
        assert!(svg.contains("stroke=\"#3B82F6\""), "series colour missing");
        // The dashed reference is drawn as many short segments in its own colour.
        assert!(svg.matches("stroke=\"#94A3B8\"").count() > 5);
        assert!(!svg.contains("No samples"));
    }

    #[test]
    fn stacked_bands_are_filled_polygons_and_steps() {
        let svg = svg(&pods(), 640, 240);
        assert_eq!(svg.matches("<polygon").count(), 2, "one band per layer");
        assert!(svg.contains("fill=\"#22C55E\""));
        assert!(svg.contains("fill=\"#38BDF8\""));
        // Elapsed labels read as seconds on a short axis.
        assert!(texts(&svg).iter().any(|t| t == "10 s"), "{svg}");
    }

    #[test]
    fn markers_are_labelled_dashed_lines() {
        let mut chart = pods();
        chart.markers = vec![
            Marker {
                x: 5.0,
                label: "start".into(),
            },
            Marker {
                x: 500.0,
                label: "outside".into(),
            },
        ];
        let svg = svg(&chart, 640, 240);
        let found = texts(&svg);
        assert!(found.iter().any(|t| t == "start"));
        assert!(
            !found.iter().any(|t| t == "outside"),
            "markers out of range are not drawn"
        );
    }

    #[test]
    fn an_empty_chart_says_so() {
        let svg = svg(&queue(vec![]), 400, 200);
        assert!(svg.contains("No samples in this time range"));
    }

    #[test]
    fn a_stack_of_charts_draws_each() {
        let svg = svg_stack(&[queue(vec![(-5.0, 1.0), (0.0, 2.0)]), pods()], 640, 480);
        assert!(texts(&svg).iter().any(|t| t == "Queue length"));
        assert!(svg.matches("<polygon").count() >= 2);
    }
}
