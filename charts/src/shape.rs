//! The geometry of a chart, apart from any backend: stacking, steps, gaps, the y bound and the
//! tick labels.

use crate::{Mark, TimeChart, TimeLabels};

/// Points of a step line, so a count that jumped from 2 to 5 reads as a jump, not as a slope
/// through 3 and 4. Each value is drawn over the interval that ends at its sample (what was
/// seen at the end of that interval), so the right edge of a live chart shows the newest
/// value, the one the tiles and the legend show.
///
/// Every point after the first gets its corner, changed or not, so layers that share their x
/// values still share them after this and can be stacked point by point. A value next to a gap
/// is not stretched over it.
pub fn steps(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(points.len() * 2);
    for (i, &(x, y)) in points.iter().enumerate() {
        if i > 0 {
            let (previous_x, previous_y) = points[i - 1];
            out.push((
                previous_x,
                if previous_y.is_finite() { y } else { f64::NAN },
            ));
        }
        out.push((x, y));
    }
    out
}

/// The runs of finite points, split where a value is missing.
pub fn segments(points: &[(f64, f64)]) -> Vec<Vec<(f64, f64)>> {
    points
        .split(|(x, y)| !x.is_finite() || !y.is_finite())
        .filter(|run| !run.is_empty())
        .map(<[_]>::to_vec)
        .collect()
}

/// Stacks layers that share their x values: for each layer, `(x, low, high)` where `low` is
/// the top of the layers below. A missing value counts as zero; layers are cut to the shortest.
pub fn stack(layers: &[Vec<(f64, f64)>]) -> Vec<Vec<(f64, f64, f64)>> {
    let len = layers.iter().map(Vec::len).min().unwrap_or(0);
    let mut base = vec![0.0_f64; len];
    layers
        .iter()
        .map(|layer| {
            layer[..len]
                .iter()
                .zip(base.iter_mut())
                .map(|(&(x, y), low)| {
                    let y = if y.is_finite() { y.max(0.0) } else { 0.0 };
                    let band = (x, *low, *low + y);
                    *low += y;
                    band
                })
                .collect()
        })
        .collect()
}

/// The y bound of `chart`: the highest visible value (stacked series summed) plus 15 %
/// headroom, rounded up to a whole number, at least 5.
pub fn y_max(chart: &TimeChart) -> f64 {
    let (from, to) = chart.x_range;
    let visible = |x: f64| x >= from.min(to) && x <= to.max(from);
    let layers: Vec<Vec<(f64, f64)>> = chart
        .series
        .iter()
        .filter(|s| s.mark == Mark::Stack)
        .map(|s| s.points.clone())
        .collect();
    let stacked = stack(&layers)
        .last()
        .into_iter()
        .flatten()
        .filter(|(x, _, _)| visible(*x))
        .map(|&(_, _, high)| high)
        .collect::<Vec<_>>();
    let others = chart
        .series
        .iter()
        .filter(|s| s.mark != Mark::Stack)
        .flat_map(|s| s.points.iter())
        .filter(|(x, y)| visible(*x) && y.is_finite())
        .map(|&(_, y)| y);
    let max = stacked.into_iter().chain(others).fold(0.0_f64, f64::max);
    (max * 1.15).ceil().max(5.0)
}

/// How many y labels to ask plotters for: it picks steps of 1, 2 or 5 × 10ⁿ, so asking for no
/// more labels than whole numbers in range keeps every label a whole number.
pub fn y_label_count(y_max: f64) -> usize {
    (y_max.floor() as usize + 1).clamp(2, 6)
}

/// Seconds per unit of the time axis: minutes from three minutes up, so ticks fall on whole
/// minutes ("-4 min") rather than on 50-second steps.
pub fn time_unit(x_range: (f64, f64)) -> f64 {
    if (x_range.1 - x_range.0).abs() >= 180.0 {
        60.0
    } else {
        1.0
    }
}

/// The label of a tick at `seconds` on an axis `range` seconds wide.
pub fn time_label(seconds: f64, labels: TimeLabels, range: f64) -> String {
    match labels {
        TimeLabels::Ago if seconds.abs() < 0.5 => "now".into(),
        TimeLabels::Ago if range >= 180.0 => format!("−{} min", (-seconds / 60.0).round()),
        TimeLabels::Ago => format!("−{} s", -seconds.round()),
        TimeLabels::Elapsed if range < 10.0 => {
            let tenths = (seconds * 10.0).round() / 10.0;
            if tenths.fract() == 0.0 {
                format!("{} s", signed(tenths))
            } else {
                format!("{} s", signed_decimal(tenths))
            }
        }
        TimeLabels::Elapsed if range < 120.0 => format!("{} s", signed(seconds.round())),
        TimeLabels::Elapsed => {
            let sign = if seconds < -0.5 { "−" } else { "" };
            let total = seconds.abs().round() as u64;
            if total >= 3600 {
                format!(
                    "{sign}{}:{:02}:{:02}",
                    total / 3600,
                    total / 60 % 60,
                    total % 60
                )
            } else {
                format!("{sign}{}:{:02}", total / 60, total % 60)
            }
        }
    }
}

/// A whole number with a true minus sign.
fn signed(value: f64) -> String {
    if value < 0.0 {
        format!("−{}", -value)
    } else {
        format!("{}", value.abs())
    }
}

fn signed_decimal(value: f64) -> String {
    if value < 0.0 {
        format!("−{:.1}", -value)
    } else {
        format!("{value:.1}")
    }
}

/// A y tick: whole numbers only, thousands shortened.
pub fn value_label(value: f64) -> String {
    if value.abs() >= 10_000.0 {
        format!("{:.0}k", value / 1000.0)
    } else {
        format!("{value:.0}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{palette, Series};

    #[test]
    fn steps_draw_each_value_over_the_interval_ending_at_its_sample() {
        assert_eq!(
            steps(&[(0.0, 2.0), (1.0, 5.0), (2.0, 5.0), (3.0, 1.0)]),
            [
                (0.0, 2.0),
                (0.0, 5.0),
                (1.0, 5.0),
                (1.0, 5.0),
                (2.0, 5.0),
                (2.0, 1.0),
                (3.0, 1.0)
            ]
        );
        assert!(steps(&[]).is_empty());
        // Layers of the same length stay the same length, so they stack point by point.
        assert_eq!(
            steps(&[(0.0, 1.0), (1.0, 1.0)]).len(),
            steps(&[(0.0, 4.0), (1.0, 0.0)]).len()
        );
        // A missing value stays missing, corner included.
        let gap = steps(&[(0.0, 1.0), (1.0, f64::NAN), (2.0, 3.0)]);
        assert_eq!(segments(&gap), vec![vec![(0.0, 1.0)], vec![(2.0, 3.0)]]);
    }

    #[test]
    fn gaps_split_a_line() {
        let points = [(0.0, 1.0), (1.0, f64::NAN), (2.0, 3.0), (3.0, 4.0)];
        assert_eq!(
            segments(&points),
            vec![vec![(0.0, 1.0)], vec![(2.0, 3.0), (3.0, 4.0)]]
        );
    }

    #[test]
    fn layers_stack_on_each_other() {
        let running = vec![(0.0, 1.0), (1.0, 3.0)];
        let starting = vec![(0.0, 2.0), (1.0, f64::NAN)];
        let bands = stack(&[running, starting]);
        assert_eq!(bands[0], [(0.0, 0.0, 1.0), (1.0, 0.0, 3.0)]);
        assert_eq!(bands[1], [(0.0, 1.0, 3.0), (1.0, 3.0, 3.0)]);
    }

    fn chart(series: Vec<Series>) -> TimeChart {
        let mut chart = TimeChart::new("t", (-60.0, 0.0), TimeLabels::Ago);
        chart.series = series;
        chart
    }

    fn series(mark: Mark, points: Vec<(f64, f64)>) -> Series {
        Series {
            name: "s".into(),
            color: palette::BLUE,
            mark,
            step: false,
            points,
        }
    }

    #[test]
    fn y_axis_fits_the_visible_data_stacked_and_the_reference() {
        assert_eq!(chart(vec![]).y_max(), 5.0);
        assert_eq!(
            chart(vec![series(Mark::Line, vec![(-10.0, 100.0)])]).y_max(),
            115.0
        );
        // Points older than the range do not stretch the axis.
        assert_eq!(
            chart(vec![series(
                Mark::Line,
                vec![(-600.0, 1000.0), (-1.0, 10.0)]
            )])
            .y_max(),
            12.0
        );
        // Stacked layers count by their sum.
        assert_eq!(
            chart(vec![
                series(Mark::Stack, vec![(-1.0, 6.0)]),
                series(Mark::Stack, vec![(-1.0, 4.0)]),
                series(Mark::Dashed, vec![(-1.0, 9.0)]),
            ])
            .y_max(),
            12.0
        );
    }

    #[test]
    fn y_labels_stay_whole_numbers() {
        assert_eq!(y_label_count(5.0), 6);
        assert_eq!(y_label_count(2.0), 3);
        assert_eq!(y_label_count(230.0), 6);
    }

    #[test]
    fn time_labels_read_as_people_say_them() {
        assert_eq!(time_unit((-60.0, 0.0)), 1.0);
        assert_eq!(time_unit((-300.0, 0.0)), 60.0);
        assert_eq!(time_label(0.0, TimeLabels::Ago, 60.0), "now");
        assert_eq!(time_label(-30.0, TimeLabels::Ago, 60.0), "−30 s");
        assert_eq!(time_label(-240.0, TimeLabels::Ago, 300.0), "−4 min");
        assert_eq!(time_label(0.5, TimeLabels::Elapsed, 2.0), "0.5 s");
        assert_eq!(time_label(2.0, TimeLabels::Elapsed, 2.0), "2 s");
        assert_eq!(time_label(-5.0, TimeLabels::Elapsed, 60.0), "−5 s");
        assert_eq!(time_label(45.0, TimeLabels::Elapsed, 60.0), "45 s");
        assert_eq!(time_label(75.0, TimeLabels::Elapsed, 300.0), "1:15");
        assert_eq!(time_label(-30.0, TimeLabels::Elapsed, 300.0), "−0:30");
        assert_eq!(time_label(3725.0, TimeLabels::Elapsed, 4000.0), "1:02:05");
        assert_eq!(value_label(12.0), "12");
        assert_eq!(value_label(25_000.0), "25k");
    }
}
