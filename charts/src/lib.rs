//! Scaleboard's time-series charts, drawn with plotters.
//!
//! One drawing routine, [`draw`], serves every backend: a `<canvas>` in the browser (feature
//! `canvas`) and SVG on the server for exports and tests. The charts are plain line charts over
//! a sliding window ending "now", so the audience reads the most recent value at the right edge.
//!
//! # Layout
//! - [`TimeChart`] and [`Series`]: what to draw.
//! - [`draw`]: draws onto any plotters drawing area.
//! - [`svg`]: renders to an SVG string.
//! - `canvas` (feature): draws onto an `HtmlCanvasElement`.

use plotters::coord::Shift;
use plotters::prelude::*;

/// One line: points are `(seconds relative to now, value)`, with seconds ≤ 0.
#[derive(Clone, Debug)]
pub struct Series {
    pub name: String,
    pub color: RGBColor,
    pub points: Vec<(f64, f64)>,
}

/// A chart over the last `window_secs` seconds.
#[derive(Clone, Debug)]
pub struct TimeChart {
    pub title: String,
    pub window_secs: f64,
    pub series: Vec<Series>,
    /// A horizontal reference line, e.g. the scaling target, with its label.
    pub reference: Option<(String, f64)>,
    pub dark: bool,
}

/// The colours of the dashboard's palette, picked to stay distinct on a projector.
pub mod palette {
    use plotters::style::RGBColor;
    pub const BLUE: RGBColor = RGBColor(0x3b, 0x82, 0xf6);
    pub const GREEN: RGBColor = RGBColor(0x22, 0xc5, 0x5e);
    pub const AMBER: RGBColor = RGBColor(0xf5, 0x9e, 0x0b);
    pub const RED: RGBColor = RGBColor(0xef, 0x44, 0x44);
    pub const GREY: RGBColor = RGBColor(0x94, 0xa3, 0xb8);
}

impl TimeChart {
    /// The upper bound of the y axis: the largest value shown (and the reference line), with
    /// headroom, and never below 5 so an idle chart still has a readable scale.
    pub fn y_max(&self) -> f64 {
        let data = self
            .series
            .iter()
            .flat_map(|s| s.points.iter())
            .filter(|(t, _)| *t >= -self.window_secs)
            .map(|(_, v)| *v);
        let reference = self.reference.iter().map(|(_, v)| *v);
        let max = data.chain(reference).fold(0.0_f64, f64::max);
        (max * 1.15).max(5.0).ceil()
    }
}

/// Draws `chart` onto `area`, clearing it first.
pub fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    chart: &TimeChart,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let (background, foreground, grid) = if chart.dark {
        (
            RGBColor(0x0f, 0x17, 0x2a),
            RGBColor(0xe2, 0xe8, 0xf0),
            RGBColor(0x33, 0x41, 0x55),
        )
    } else {
        (
            WHITE,
            RGBColor(0x1e, 0x29, 0x3b),
            RGBColor(0xe2, 0xe8, 0xf0),
        )
    };
    area.fill(&background)?;
    let mut ctx = ChartBuilder::on(area)
        .margin(8)
        .x_label_area_size(24)
        .y_label_area_size(40)
        .build_cartesian_2d(-chart.window_secs..0.0, 0.0..chart.y_max())?;
    ctx.configure_mesh()
        .light_line_style(TRANSPARENT)
        .bold_line_style(grid)
        .axis_style(foreground)
        .label_style(("sans-serif", 13).into_font().color(&foreground))
        .x_labels(6)
        .y_labels(5)
        .x_label_formatter(&|t| format!("{:.0}s", t))
        .y_label_formatter(&|v| format!("{:.0}", v))
        .draw()?;
    if let Some((label, value)) = &chart.reference {
        let style = ShapeStyle::from(&palette::GREY).stroke_width(1);
        ctx.draw_series(DashedLineSeries::new(
            [(-chart.window_secs, *value), (0.0, *value)],
            6,
            4,
            style,
        ))?
        .label(label.as_str())
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 14, y)], style));
    }
    for series in &chart.series {
        let color = series.color;
        let visible = series
            .points
            .iter()
            .copied()
            .filter(|(t, _)| *t >= -chart.window_secs && *t <= 0.0);
        ctx.draw_series(LineSeries::new(visible, color.stroke_width(3)))?
            .label(series.name.as_str())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 14, y)], color.stroke_width(3)));
    }
    if chart.series.len() > 1 || chart.reference.is_some() {
        ctx.configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(background.mix(0.8))
            .border_style(grid)
            .label_font(("sans-serif", 13).into_font().color(&foreground))
            .draw()?;
    }
    area.present()?;
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

/// Drawing onto a `<canvas>` in the browser.
#[cfg(feature = "canvas")]
pub mod canvas {
    use plotters::prelude::IntoDrawingArea;
    use plotters_canvas::CanvasBackend;

    use crate::TimeChart;

    /// Draws onto `canvas` at its current pixel size; `false` if the canvas has no 2D context.
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

    fn chart(points: Vec<(f64, f64)>) -> TimeChart {
        TimeChart {
            title: "Queue".into(),
            window_secs: 60.0,
            series: vec![Series {
                name: "queue length".into(),
                color: palette::BLUE,
                points,
            }],
            reference: Some(("target 5".into(), 5.0)),
            dark: false,
        }
    }

    #[test]
    fn y_axis_fits_the_visible_data_and_the_reference() {
        assert_eq!(chart(vec![]).y_max(), 6.0);
        assert_eq!(chart(vec![(-10.0, 100.0)]).y_max(), 115.0);
        // Points older than the window do not stretch the axis.
        assert_eq!(chart(vec![(-600.0, 1000.0), (-1.0, 10.0)]).y_max(), 12.0);
    }

    #[test]
    fn svg_has_one_line_per_series_and_the_reference() {
        let svg = svg(
            &chart(vec![(-30.0, 2.0), (-20.0, 8.0), (-10.0, 4.0)]),
            640,
            240,
        );
        assert!(svg.starts_with("<svg"), "{}", &svg[..40]);
        assert!(svg.contains("queue length"));
        assert!(svg.contains("target 5"));
        assert!(svg.contains("<polyline"));
        assert!(svg.contains("stroke=\"#3B82F6\""), "series colour missing");
    }
}
