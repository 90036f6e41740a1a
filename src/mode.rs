//! Execution modes: one pipeline, three ways of advancing time.
//!
//! | mode | what advances the frontier | when results appear |
//! |---|---|---|
//! | [`ExecutionMode::PerRecord`] | each worker-loop iteration, following the watermark | at once, or when the watermark passes a window's end |
//! | [`ExecutionMode::MicroBatch`] | processing-time batch boundaries every `interval` | after the batch that completes them (with a [`SparkModel`], when its emulated Spark job ends) |
//! | [`ExecutionMode::Batch`] | only the end of the bounded input | at the end |
//!
//! The mode lives entirely in the source operator (`source/driver.rs`): it decides when read
//! records are released and when the capability (the watermark) moves. Every operator downstream is the
//! same in all three modes, which is why they give the same results for the same input.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::spark_model::SparkModel;

/// How a pipeline's sources release records and advance time. Written (in JSON too) as the command
/// line writes it: `per-record`, `micro-batch:10ms`, `micro-batch:1s+50ms`, `micro-batch:500ms:spark`,
/// `batch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
// Spark's model makes the micro-batch variant large, but a mode is made once per run and copied
// a handful of times, never per record: boxing it would cost `Copy` for nothing.
#[allow(clippy::large_enum_variant)]
pub enum ExecutionMode {
    /// Records are released as they are read; the watermark moves once per worker-loop iteration.
    PerRecord,
    /// Records are held until their processing-time batch `[kB, (k+1)B)` closes (aligned to the wall
    /// clock, like Spark Streaming's batch times), then released together, and the watermark jumps.
    MicroBatch {
        /// The batch interval `B`.
        interval: Duration,
        /// Emulated scheduling delay: a closed batch is released this long after its boundary.
        overhead: Duration,
        /// What Spark Streaming adds (blocks, job scheduling and processing, queueing), if emulated;
        /// `None`: the idealized micro-batch, released at its boundary.
        spark: Option<SparkModel>,
    },
    /// The input is bounded: records are held until it ends, then released, and every window fires.
    Batch,
}

impl ExecutionMode {
    /// Micro-batches of `interval` with no scheduling overhead.
    pub fn micro_batch(interval: Duration) -> Self {
        ExecutionMode::MicroBatch {
            interval,
            overhead: Duration::ZERO,
            spark: None,
        }
    }

    /// Micro-batches of `interval` as Spark Streaming runs them, with the model's default parameters.
    pub fn spark_micro_batch(interval: Duration) -> Self {
        ExecutionMode::MicroBatch {
            interval,
            overhead: Duration::ZERO,
            spark: Some(SparkModel::DEFAULT),
        }
    }

    /// The same mode, with Spark's model (if it has one) drawing its job times from `seed`.
    pub fn with_spark_seed(self, seed: u64) -> Self {
        match self {
            ExecutionMode::MicroBatch {
                interval,
                overhead,
                spark: Some(model),
            } => ExecutionMode::MicroBatch {
                interval,
                overhead,
                spark: Some(SparkModel { seed, ..model }),
            },
            other => other,
        }
    }

    /// The mode's family name: `per-record`, `micro-batch` or `batch`.
    pub fn kind(&self) -> &'static str {
        match self {
            ExecutionMode::PerRecord => "per-record",
            ExecutionMode::MicroBatch { spark: None, .. } => "micro-batch",
            ExecutionMode::MicroBatch { spark: Some(_), .. } => "micro-batch-spark",
            ExecutionMode::Batch => "batch",
        }
    }

    /// Spark's model of a `:spark` micro-batch mode.
    pub fn spark_model(&self) -> Option<SparkModel> {
        match self {
            ExecutionMode::MicroBatch { spark, .. } => *spark,
            _ => None,
        }
    }

    /// The batch interval of a micro-batch mode.
    pub fn batch_interval(&self) -> Option<Duration> {
        match self {
            ExecutionMode::MicroBatch { interval, .. } => Some(*interval),
            _ => None,
        }
    }
}

impl fmt::Display for ExecutionMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExecutionMode::MicroBatch {
                interval,
                overhead,
                spark,
            } => {
                write!(f, "micro-batch:{}", humantime::format_duration(*interval))?;
                if !overhead.is_zero() {
                    write!(f, "+{}", humantime::format_duration(*overhead))?;
                }
                if spark.is_some() {
                    f.write_str(":spark")?;
                }
                Ok(())
            }
            other => f.write_str(other.kind()),
        }
    }
}

impl Serialize for ExecutionMode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ExecutionMode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A mode string that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("invalid execution mode `{given}`: {reason}. Expected `per-record`, `micro-batch:INTERVAL` (for example `micro-batch:100ms` or `micro-batch:1s`, optionally `+OVERHEAD` such as `micro-batch:1s+50ms`, and `:spark` to add what Spark Streaming adds, such as `micro-batch:500ms:spark`) or `batch`")]
pub struct ModeError {
    given: String,
    reason: String,
}

/// Parses a duration such as `100ms`, `1s` or `2m`, with a message that says what went wrong.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim())
        .map_err(|e| format!("`{s}` is not a duration ({e}); write it like `100ms`, `1s` or `2m`"))
}

impl FromStr for ExecutionMode {
    type Err = ModeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| ModeError {
            given: s.to_string(),
            reason: reason.to_string(),
        };
        match s.trim() {
            "per-record" | "per_record" | "record" => Ok(ExecutionMode::PerRecord),
            "batch" => Ok(ExecutionMode::Batch),
            "micro-batch" | "micro_batch" => Err(err("a micro-batch mode needs its interval")),
            other => {
                let spec = other
                    .strip_prefix("micro-batch:")
                    .or_else(|| other.strip_prefix("micro_batch:"))
                    .ok_or_else(|| err("unknown mode"))?;
                let (spec, spark) = match spec.strip_suffix(":spark") {
                    Some(spec) => (spec, Some(SparkModel::DEFAULT)),
                    None => (spec, None),
                };
                let (interval, overhead) = match spec.split_once('+') {
                    Some((i, o)) => (i, Some(o)),
                    None => (spec, None),
                };
                let interval = parse_duration(interval).map_err(|e| err(&e))?;
                if interval.is_zero() {
                    return Err(err("the batch interval must be positive"));
                }
                let overhead = overhead
                    .map(parse_duration)
                    .transpose()
                    .map_err(|e| err(&e))?
                    .unwrap_or_default();
                Ok(ExecutionMode::MicroBatch {
                    interval,
                    overhead,
                    spark,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_writes_modes_as_the_command_line_does() {
        let modes = [
            ExecutionMode::PerRecord,
            ExecutionMode::micro_batch(Duration::from_millis(10)),
            ExecutionMode::MicroBatch {
                interval: Duration::from_secs(1),
                overhead: Duration::from_millis(50),
                spark: None,
            },
            ExecutionMode::spark_micro_batch(Duration::from_millis(500)),
            ExecutionMode::Batch,
        ];
        let json = serde_json::to_string(&modes).unwrap();
        assert_eq!(
            json,
            r#"["per-record","micro-batch:10ms","micro-batch:1s+50ms","micro-batch:500ms:spark","batch"]"#
        );
        assert_eq!(
            serde_json::from_str::<Vec<ExecutionMode>>(&json).unwrap(),
            modes
        );
    }

    #[test]
    fn parses_every_mode_and_prints_it_back() {
        for (text, mode) in [
            ("per-record", ExecutionMode::PerRecord),
            ("batch", ExecutionMode::Batch),
            (
                "micro-batch:100ms",
                ExecutionMode::micro_batch(Duration::from_millis(100)),
            ),
            (
                "micro-batch:1s",
                ExecutionMode::micro_batch(Duration::from_secs(1)),
            ),
            (
                "micro-batch:1s+50ms",
                ExecutionMode::MicroBatch {
                    interval: Duration::from_secs(1),
                    overhead: Duration::from_millis(50),
                    spark: None,
                },
            ),
            (
                "micro-batch:500ms:spark",
                ExecutionMode::spark_micro_batch(Duration::from_millis(500)),
            ),
        ] {
            assert_eq!(text.parse::<ExecutionMode>().unwrap(), mode);
            assert_eq!(mode.to_string(), text);
        }
    }

    #[test]
    fn wrong_modes_say_what_is_expected() {
        for bad in [
            "micro-batch",
            "micro-batch:fast",
            "micro-batch:0s",
            "streaming",
        ] {
            let msg = bad.parse::<ExecutionMode>().unwrap_err().to_string();
            assert!(msg.contains(bad), "{msg}");
            assert!(msg.contains("micro-batch:100ms"), "{msg}");
        }
    }
}
