//! Prometheus metrics, as both binaries serve them at `/metrics`: a `prometheus-client` registry
//! encoded in the OpenMetrics text format, and a reader of that text for tests and tools.
//!
//! The names follow Prometheus' conventions: a `scaleboard_` prefix, `_total` on counters,
//! base units in the name (`_seconds`), and labels from small fixed sets only (a status, a
//! queue, an operation), never a run id or an item: each label value is a time series of its
//! own in the scraper's database.

use std::fmt;

use prometheus_client::encoding::text;
use prometheus_client::registry::Registry;

/// The content type of the OpenMetrics text format, which `/metrics` answers with.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Where both binaries serve their metrics.
pub const PATH: &str = "/metrics";

/// The registry's metrics in the OpenMetrics text format (ending with `# EOF`).
pub fn encode(registry: &Registry) -> Result<String, fmt::Error> {
    let mut text = String::new();
    text::encode(&mut text, registry)?;
    Ok(text)
}

/// A sample's labels, `(name, value)` in the order written.
pub type Labels = Vec<(String, String)>;

/// One sample line of an exposition: `name{label="value",...} value`.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Labels,
    pub value: f64,
}

impl Sample {
    /// The value of label `key`, if the sample has it.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a line of an exposition could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {problem}")]
pub struct ParseError {
    pub line: usize,
    pub problem: String,
}

/// The samples of a scraped exposition, read once.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scrape {
    pub samples: Vec<Sample>,
}

impl Scrape {
    /// Reads the text format (Prometheus' or OpenMetrics'): comment lines (`# HELP`, `# TYPE`,
    /// `# UNIT`, `# EOF`) are skipped, every other line is a sample. Timestamps and exemplars
    /// after the value are ignored.
    pub fn parse(text: &str) -> Result<Scrape, ParseError> {
        let mut samples = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let sample = parse_sample(line).map_err(|problem| ParseError {
                line: index + 1,
                problem,
            })?;
            samples.push(sample);
        }
        Ok(Scrape { samples })
    }

    /// The value of the sample named `name` with exactly these labels (in any order).
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.samples
            .iter()
            .find(|s| {
                s.name == name
                    && s.labels.len() == labels.len()
                    && labels.iter().all(|(k, v)| s.label(k) == Some(*v))
            })
            .map(|s| s.value)
    }

    /// The samples named `name`, whatever their labels.
    pub fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| s.name == name)
    }

    /// The sum of the samples named `name` over all their labels (0 when there is none).
    pub fn sum(&self, name: &str) -> f64 {
        self.named(name).map(|s| s.value).sum()
    }
}

fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line
        .find(|c: char| c == '{' || c.is_whitespace())
        .ok_or("no value")?;
    let name = &line[..name_end];
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    {
        return Err(format!("not a metric name: {name:?}"));
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(inner) = rest.strip_prefix('{') {
        let (parsed, after) = parse_labels(inner)?;
        labels = parsed;
        rest = after;
    }
    let value = rest.split_whitespace().next().ok_or("no value")?;
    let value = value
        .parse::<f64>()
        .map_err(|e| format!("value {value:?}: {e}"))?;
    Ok(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// Reads `key="value",...}` and returns the labels and what follows the `}`.
fn parse_labels(mut text: &str) -> Result<(Labels, &str), String> {
    let mut labels = Vec::new();
    loop {
        text = text.trim_start();
        if let Some(after) = text.strip_prefix('}') {
            return Ok((labels, after));
        }
        let (key, after) = text.split_once("=\"").ok_or("a label without a value")?;
        let key = key.trim();
        if key.is_empty() {
            return Err("an empty label name".into());
        }
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c)) => value.push(c),
                    None => return Err("an unfinished escape".into()),
                },
                Some((_, c)) => value.push(c),
                None => return Err(format!("label {key}: no closing quote")),
            }
        };
        labels.push((key.to_string(), value));
        text = after[end + 1..].trim_start();
        text = text.strip_prefix(',').unwrap_or(text);
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::family::Family;
    use prometheus_client::metrics::histogram::Histogram;

    use super::*;

    #[test]
    fn an_encoded_registry_reads_back() {
        let mut registry = Registry::default();
        let calls = Family::<[(&'static str, &'static str); 1], Counter>::default();
        registry.register("demo_calls", "Calls.", calls.clone());
        let latency = Histogram::new([0.5, 1.0]);
        registry.register_with_unit(
            "demo_latency",
            "Latency.",
            prometheus_client::registry::Unit::Seconds,
            latency.clone(),
        );
        calls.get_or_create(&[("operation", "send")]).inc_by(3);
        latency.observe(0.7);
        latency.observe(2.0);

        let text = encode(&registry).unwrap();
        assert!(text.ends_with("# EOF\n"), "{text}");
        let scrape = Scrape::parse(&text).unwrap();
        assert_eq!(
            scrape.value("demo_calls_total", &[("operation", "send")]),
            Some(3.0)
        );
        assert_eq!(scrape.value("demo_latency_seconds_count", &[]), Some(2.0));
        assert_eq!(
            scrape.value("demo_latency_seconds_bucket", &[("le", "1.0")]),
            Some(1.0)
        );
        assert_eq!(
            scrape.value("demo_latency_seconds_bucket", &[("le", "+Inf")]),
            Some(2.0)
        );
        assert_eq!(scrape.sum("demo_latency_seconds_sum"), 2.7);
    }

    #[test]
    fn escapes_timestamps_and_bad_lines() {
        let scrape =
            Scrape::parse("# HELP x y\nx{a=\"q\\\"u\\\\o\\nte\", b=\"\"} 1.5 1700000000\n")
                .unwrap();
        assert_eq!(scrape.samples[0].label("a"), Some("q\"u\\o\nte"));
        assert_eq!(scrape.samples[0].label("b"), Some(""));
        assert_eq!(scrape.samples[0].value, 1.5);

        let err = Scrape::parse("ok 1\nbad{a=\"x} 1\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(Scrape::parse("x{a=1} 2").is_err());
        assert!(Scrape::parse("x two").is_err());
        assert!(Scrape::parse("bad-name 2").is_err());
    }
}
