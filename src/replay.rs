//! `caudal replay`: a recorded event log through one windowed aggregation, compared record for record
//! with Apache Flink (the format is `tests/conformance/window-spec.md`).
//!
//! The log is replayed in per-record mode with the watermark recomputed after every event, through
//! the same window operators pipelines use, and printed as JSON lines: one per window firing, sorted by
//! key, window start, window end and firing, then the late records in arrival order.

use std::fmt::Write as _;
use std::path::Path;

use caudal_operators::window::aggregate::Aggregate;
use caudal_operators::window::replay::{replay_windowed, LogEntry, ReplayWatermark, Replayed};
use caudal_operators::window::TimeWindows;
use serde::Deserialize;
use serde_json::Value;

/// The most sliding windows a spec may put one record in: a bound on what a spec can ask for, so that
/// a typo is an error and not a run that fills the memory.
pub const MAX_WINDOWS_PER_RECORD: i64 = 10_000;

/// A replay spec, as written in JSON. A field it does not know (a misspelt one) is an error, as in the
/// DStream spec reader.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplaySpec {
    /// The spec's name.
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// The windows.
    pub window: WindowSpec,
    /// `count`, `sum`, `max`, `min` or `collect`.
    pub aggregation: AggregationSpec,
    /// How the watermark moves.
    pub watermark: WatermarkSpec,
    /// Allowed lateness in ms.
    #[serde(default)]
    pub allowed_lateness_ms: u64,
    /// The log, in arrival order.
    pub events: Vec<SpecEvent>,
}

/// The windows of a spec.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum WindowSpec {
    /// Tumbling windows.
    Tumbling {
        /// Size in ms.
        size_ms: i64,
        /// Offset in ms.
        #[serde(default)]
        offset_ms: i64,
    },
    /// Sliding windows.
    Sliding {
        /// Size in ms.
        size_ms: i64,
        /// Slide in ms.
        slide_ms: i64,
        /// Offset in ms.
        #[serde(default)]
        offset_ms: i64,
    },
    /// Session windows.
    Session {
        /// Gap in ms.
        gap_ms: u64,
    },
}

/// The aggregation of a spec.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AggregationSpec {
    /// How many records.
    Count,
    /// The sum of the values.
    Sum,
    /// The largest value.
    Max,
    /// The smallest value.
    Min,
    /// The values as a sorted list.
    Collect,
}

/// The watermark of a spec.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum WatermarkSpec {
    /// `max(ts seen) - out_of_orderness - 1` after each event.
    Bounded {
        /// The bound, in ms.
        #[serde(default)]
        out_of_orderness_ms: u64,
    },
    /// Only explicit watermark events move it.
    Explicit,
}

/// One entry of a spec's log.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum SpecEvent {
    /// An explicit watermark.
    Watermark {
        /// "No more events at or before this time" (signed, as event times are).
        watermark: i64,
    },
    /// A record.
    Record {
        /// Its key.
        key: String,
        /// Its value (1 if absent).
        #[serde(default = "one")]
        value: Value,
        /// Its event time: signed ms since the Unix epoch, negative before 1970 (Flink's `long`).
        ts_ms: i64,
    },
}

fn one() -> Value {
    Value::from(1)
}

/// A spec that cannot be replayed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The file could not be read.
    // Not a `source`: the message says it already, and a chain would print it twice.
    #[error("cannot read {path}: {error}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        error: std::io::Error,
    },
    /// The file is not a valid spec.
    #[error("{path} is not a valid replay spec: {reason} (see tests/conformance/window-spec.md for the format)")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// The spec's aggregation over integer values, with a JSON result.
#[derive(Clone, Copy)]
struct SpecAggregate(AggregationSpec);

impl Aggregate<i64> for SpecAggregate {
    /// Count, sum, min, max of what was added, and the values themselves for `collect`.
    type Acc = (i64, i64, Option<i64>, Option<i64>, Vec<i64>);
    type Out = Value;

    fn create(&self) -> Self::Acc {
        (0, 0, None, None, Vec::new())
    }

    fn add(&self, acc: &mut Self::Acc, value: i64) {
        acc.0 += 1;
        acc.1 += value;
        acc.2 = Some(acc.2.map_or(value, |m| m.min(value)));
        acc.3 = Some(acc.3.map_or(value, |m| m.max(value)));
        if self.0 == AggregationSpec::Collect {
            acc.4.push(value);
        }
    }

    fn merge(&self, acc: &mut Self::Acc, other: &Self::Acc) {
        acc.0 += other.0;
        acc.1 += other.1;
        acc.2 = acc.2.into_iter().chain(other.2).min();
        acc.3 = acc.3.into_iter().chain(other.3).max();
        acc.4.extend_from_slice(&other.4);
    }

    fn result(&self, acc: &Self::Acc) -> Value {
        match self.0 {
            AggregationSpec::Count => Value::from(acc.0),
            AggregationSpec::Sum => Value::from(acc.1),
            AggregationSpec::Min => Value::from(acc.2),
            AggregationSpec::Max => Value::from(acc.3),
            AggregationSpec::Collect => {
                let mut values = acc.4.clone();
                values.sort();
                Value::from(values)
            }
        }
    }
}

impl ReplaySpec {
    /// Reads and checks the spec at `path`.
    pub fn load(path: &Path) -> Result<ReplaySpec, ReplayError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| ReplayError::Read {
            path: shown.clone(),
            error,
        })?;
        ReplaySpec::parse(&text).map_err(|reason| ReplayError::Invalid {
            path: shown.clone(),
            reason,
        })
    }

    /// Reads and checks a spec from its JSON text (what [`ReplaySpec::load`] does with a file's).
    pub fn parse(text: &str) -> Result<ReplaySpec, String> {
        let spec: ReplaySpec = serde_json::from_str(text).map_err(|e| e.to_string())?;
        spec.log()?;
        spec.windows()?;
        Ok(spec)
    }

    fn windows(&self) -> Result<Option<TimeWindows>, String> {
        match self.window {
            WindowSpec::Tumbling { size_ms, offset_ms } => {
                TimeWindows::tumbling(size_ms, offset_ms).map(Some)
            }
            WindowSpec::Sliding {
                size_ms, slide_ms, ..
            } if slide_ms > 0 && size_ms / slide_ms > MAX_WINDOWS_PER_RECORD => {
                return Err(format!(
                    "a window of {size_ms} ms sliding by {slide_ms} ms puts every record in {} \
                     windows; a spec may ask for at most {MAX_WINDOWS_PER_RECORD}",
                    size_ms / slide_ms
                ))
            }
            WindowSpec::Sliding {
                size_ms,
                slide_ms,
                offset_ms,
            } => TimeWindows::sliding(size_ms, slide_ms, offset_ms).map(Some),
            WindowSpec::Session { gap_ms: 0 } => {
                return Err("a session gap must be positive".into())
            }
            WindowSpec::Session { .. } => Ok(None),
        }
        .map_err(|e| e.to_string())
    }

    fn log(&self) -> Result<Vec<LogEntry<String, i64>>, String> {
        self.events
            .iter()
            .enumerate()
            .map(|(i, event)| match event {
                SpecEvent::Watermark { watermark } => Ok(LogEntry::Watermark(*watermark)),
                SpecEvent::Record { key, value, ts_ms } => {
                    let value = value
                        .as_i64()
                        .ok_or_else(|| format!("event {i}: value {value} is not an integer"))?;
                    Ok(LogEntry::Record {
                        key: key.clone(),
                        value,
                        time: *ts_ms,
                    })
                }
            })
            .collect()
    }

    /// Replays the spec and returns its output lines.
    pub fn run(&self) -> Vec<String> {
        let log = self.log().expect("checked by load");
        let watermark = match self.watermark {
            WatermarkSpec::Bounded {
                out_of_orderness_ms,
            } => ReplayWatermark::Bounded {
                out_of_orderness_ms,
            },
            WatermarkSpec::Explicit => ReplayWatermark::Explicit,
        };
        let agg = SpecAggregate(self.aggregation);
        let lateness = self.allowed_lateness_ms;
        let output = match (self.windows().expect("checked by load"), &self.window) {
            (Some(windows), _) => {
                replay_windowed(log, watermark, move |s| s.window(windows, lateness, agg))
            }
            (None, WindowSpec::Session { gap_ms }) => {
                let gap = *gap_ms;
                replay_windowed(log, watermark, move |s| {
                    s.session_window(gap, lateness, agg)
                })
            }
            (None, _) => unreachable!("only sessions have no fixed windows"),
        };
        format_output(output)
    }
}

/// Writes JSON as Python's `json.dumps` does (`", "` and `": "` separators), as the recorded outputs are.
fn python_json(value: &Value, out: &mut String) {
    match value {
        Value::Array(items) => crate::dstream::pyfmt::write_seq(out, "[", items, "]", python_json),
        other => out.push_str(&other.to_string()),
    }
}

fn format_output((mut fired, late): Replayed<String, i64, Value>) -> Vec<String> {
    fired.sort_by(|a, b| (&a.key, a.window, a.firing).cmp(&(&b.key, b.window, b.firing)));
    let mut lines = Vec::with_capacity(fired.len() + late.len());
    for r in fired {
        let mut line = String::new();
        let key = Value::from(r.key).to_string();
        let _ = write!(
            line,
            "{{\"key\": {key}, \"window_start\": {}, \"window_end\": {}, \"result\": ",
            r.window.start, r.window.end
        );
        python_json(&r.value, &mut line);
        let _ = write!(
            line,
            ", \"firing\": {}, \"watermark\": {}}}",
            r.firing, r.watermark
        );
        lines.push(line);
    }
    for l in late {
        let key = Value::from(l.key).to_string();
        lines.push(format!(
            "{{\"late\": true, \"key\": {key}, \"value\": {}, \"ts_ms\": {}}}",
            l.value, l.time
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A spec's times are signed, over the whole `i64` range: before 1970, and at both ends (where
    /// window bounds saturate), nothing overflows.
    #[test]
    fn negative_and_extreme_event_times_parse_and_run() {
        let (min, max) = (i64::MIN, i64::MAX);
        for window in [
            r#"{"kind": "tumbling", "size_ms": 1000}"#,
            r#"{"kind": "sliding", "size_ms": 1000, "slide_ms": 300, "offset_ms": 100}"#,
            r#"{"kind": "session", "gap_ms": 500}"#,
        ] {
            let text = format!(
                r#"{{"name": "x", "window": {window}, "aggregation": "count",
                    "watermark": {{"kind": "bounded", "out_of_orderness_ms": 10}}, "allowed_lateness_ms": 100,
                    "events": [{{"key": "a", "ts_ms": {min}}}, {{"key": "a", "ts_ms": -1}}, {{"watermark": {min}}},
                               {{"key": "a", "ts_ms": {max}}}, {{"watermark": {max}}}, {{"key": "a", "ts_ms": -5}}]}}"#
            );
            let spec = ReplaySpec::parse(&text).unwrap();
            let out = spec.run();
            // Every record but the last makes a firing; the last comes after the watermark has
            // passed every window it could be in.
            assert!(out.len() >= 4, "{window}: {out:?}");
            assert_eq!(
                out.last().map(String::as_str),
                Some(r#"{"late": true, "key": "a", "value": 1, "ts_ms": -5}"#),
                "{window}"
            );
        }
        let tumbling = ReplaySpec::parse(
            r#"{"name": "x", "window": {"kind": "tumbling", "size_ms": 1000}, "aggregation": "count",
                "watermark": {"kind": "explicit"}, "events": [{"key": "a", "ts_ms": -1}, {"key": "a", "ts_ms": -1000}]}"#,
        )
        .unwrap();
        assert_eq!(
            tumbling.run(),
            vec![
                r#"{"key": "a", "window_start": -1000, "window_end": 0, "result": 2, "firing": 1, "watermark": 9223372036854775807}"#
            ]
        );
    }
}
