//! Reading a queue trace: CSV rows of `seconds,queue_length`.
//!
//! A header line is optional (any first line whose first field is not a number); blank lines
//! are skipped; seconds must strictly increase. Errors name the 1-based line.

use std::fmt;

/// Why a trace could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceError {
    /// The text has no data rows.
    Empty,
    /// A row does not have exactly two fields.
    FieldCount { line: usize, found: usize },
    /// A field is not a non-negative integer.
    NotANumber {
        line: usize,
        column: &'static str,
        value: String,
    },
    /// A row's seconds are not after the previous row's.
    NotIncreasing {
        line: usize,
        previous: u64,
        seconds: u64,
    },
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TraceError::Empty => write!(f, "trace has no rows (expected `seconds,queue_length`)"),
            TraceError::FieldCount { line, found } => write!(
                f,
                "line {line}: expected 2 fields `seconds,queue_length`, found {found}"
            ),
            TraceError::NotANumber {
                line,
                column,
                value,
            } => write!(
                f,
                "line {line}: {column} `{value}` is not a non-negative whole number"
            ),
            TraceError::NotIncreasing {
                line,
                previous,
                seconds,
            } => write!(
                f,
                "line {line}: seconds {seconds} must be greater than the previous row's {previous}"
            ),
        }
    }
}

impl std::error::Error for TraceError {}

/// Parses `seconds,queue_length` rows.
pub fn parse_trace_csv(text: &str) -> Result<Vec<(u64, u64)>, TraceError> {
    let mut rows: Vec<(u64, u64)> = Vec::new();
    let mut first = true;
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let raw = raw.trim();
        if raw.is_empty() {
            continue;
        }
        let fields: Vec<&str> = raw.split(',').map(str::trim).collect();
        let is_header = first && fields[0].parse::<u64>().is_err();
        first = false;
        if is_header {
            continue;
        }
        if fields.len() != 2 {
            return Err(TraceError::FieldCount {
                line,
                found: fields.len(),
            });
        }
        let number = |column: &'static str, value: &str| {
            value.parse::<u64>().map_err(|_| TraceError::NotANumber {
                line,
                column,
                value: value.to_owned(),
            })
        };
        let seconds = number("seconds", fields[0])?;
        let queue = number("queue_length", fields[1])?;
        if let Some(&(previous, _)) = rows.last() {
            if seconds <= previous {
                return Err(TraceError::NotIncreasing {
                    line,
                    previous,
                    seconds,
                });
            }
        }
        rows.push((seconds, queue));
    }
    if rows.is_empty() {
        return Err(TraceError::Empty);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_with_and_without_header() {
        for text in [
            "seconds,queue_length\n0,0\n5,40\n60,0\n",
            "0,0\r\n5, 40\r\n\r\n60,0",
            "  \nt,q\n0,0\n5,40\n60,0",
        ] {
            assert_eq!(
                parse_trace_csv(text),
                Ok(vec![(0, 0), (5, 40), (60, 0)]),
                "{text:?}"
            );
        }
    }

    #[test]
    fn errors_name_the_line() {
        for (text, error) in [
            ("", TraceError::Empty),
            ("seconds,queue_length\n", TraceError::Empty),
            ("0,1\n2\n", TraceError::FieldCount { line: 2, found: 1 }),
            ("0,1,2\n", TraceError::FieldCount { line: 1, found: 3 }),
            (
                "0,1\n\n3,x\n",
                TraceError::NotANumber {
                    line: 3,
                    column: "queue_length",
                    value: "x".to_owned(),
                },
            ),
            (
                "0,1\n-1,2\n",
                TraceError::NotANumber {
                    line: 2,
                    column: "seconds",
                    value: "-1".to_owned(),
                },
            ),
            (
                "h,h\n5,1\n5,2\n",
                TraceError::NotIncreasing {
                    line: 3,
                    previous: 5,
                    seconds: 5,
                },
            ),
        ] {
            assert_eq!(parse_trace_csv(text), Err(error), "{text:?}");
        }
    }

    #[test]
    fn messages_are_readable() {
        let error = parse_trace_csv("0,1\n0,2").unwrap_err();
        assert_eq!(
            error.to_string(),
            "line 2: seconds 0 must be greater than the previous row's 1"
                .replace("row's 1", "row's 0")
        );
    }
}
