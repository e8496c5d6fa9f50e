//! What an export request asks for, read from its path and query: which file (a chart as SVG
//! or PNG, or the samples as CSV or JSON), which samples (a time range or a run), and for charts
//! how to draw them. Pure, so every rule about a bad parameter is tested without a server.

use std::collections::HashMap;

use app::model::charting::ChartKind;
use orchestration::RunId;

use crate::error::ApiError;

/// What a request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Product {
    /// One chart, or all three (`None`) one above the other.
    Chart(Option<ChartKind>, Image),
    Samples(Table),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Image {
    Svg,
    Png,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Table {
    Csv,
    Json,
}

/// Which samples: a time range, or a run whose span is looked up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Range {
    Last { minutes: u64 },
    Between { from_ms: u64, to_ms: u64 },
    Run(String),
}

/// How a chart is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Canvas {
    pub(super) dark: bool,
    pub(super) width: u32,
    pub(super) height: u32,
}

const PARAMETERS: &str = "minutes, from, to, run, theme, width, height";
const FILES: &str = "queue.svg, queue.png, pods.svg, pods.png, nodes.svg, nodes.png, charts.svg, charts.png, samples.csv, samples.json";

/// The export a file name asks for; a 404 naming the exports when there is none.
pub(super) fn parse_file(file: &str) -> Result<Product, ApiError> {
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
pub(super) fn parse_query(
    params: &HashMap<String, String>,
    product: Product,
    now_ms: u64,
) -> Result<(Range, Canvas), String> {
    // `code` is the key parameter every route accepts (`crate::auth`), not an export setting.
    if let Some(name) = params
        .keys()
        .filter(|k| k.as_str() != "code")
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

/// A parameter quoted in an error, cut to 40 characters.
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
    use axum::http::StatusCode;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const CSV: Product = Product::Samples(Table::Csv);
    const SVG: Product = Product::Chart(Some(ChartKind::Queue), Image::Svg);

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

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// Any query, for any file name: a request or a short reason, never a panic; whatever
        /// is accepted is within the documented bounds.
        #[test]
        fn any_export_query_is_read_or_refused(
            file in proptest::prelude::any::<String>(),
            pairs in proptest::collection::vec(
                (
                    proptest::prop_oneof![
                        proptest::strategy::Just("minutes".to_string()),
                        proptest::strategy::Just("from".to_string()),
                        proptest::strategy::Just("to".to_string()),
                        proptest::strategy::Just("run".to_string()),
                        proptest::strategy::Just("theme".to_string()),
                        proptest::strategy::Just("width".to_string()),
                        proptest::strategy::Just("height".to_string()),
                        proptest::prelude::any::<String>(),
                    ],
                    proptest::prelude::any::<String>(),
                ),
                0..6,
            ),
        ) {
            let _ = parse_file(&file);
            let params: HashMap<String, String> = pairs.into_iter().collect();
            for product in [CSV, SVG] {
                if let Ok((_, canvas)) = parse_query(&params, product, 1_764_180_000_000) {
                    proptest::prop_assert!((320..=4000).contains(&canvas.width));
                    proptest::prop_assert!((160..=4000).contains(&canvas.height));
                }
            }
        }
    }
}
