//! `caudal compare --calibrate spark` (or `pyspark`): the parameters of Spark's micro-batch model
//! ([`SparkModel`]), measured on the real Spark peer of this machine.
//!
//! The Spark peer reports, for each batch, what Spark's own listener measured: its records, its
//! scheduling delay and its processing time. The calibration runs the peer on the comparison's
//! workload (once per micro-batch interval in `--modes`, at `--rate` and at a tenth of it, so that
//! batches of two sizes separate the fixed cost from the cost per record; `--repeat` times), keeps
//! the batches of the measured part (after the warm-up, before the end of the load), and fits
//! processing time = fixed + per record × records by least squares. The scheduling delay
//! is the median over the batches that did not queue behind the one before (delay under half an
//! interval). The block interval is the peer's (Spark's default, 200 ms).

use super::config::{CompareConfig, Contender, PeerSystem};
use super::peer::{measure_peer, SparkBatch};
use super::report::{median, CompareError};
use crate::spark_model::SparkModel;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// Spark's model as measured on this machine, as saved to `spark-model.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// The receiver's block interval, in ms.
    pub block_ms: u64,
    /// From the batch time to the start of its job, in ms.
    pub schedule_ms: f64,
    /// The fixed part of a batch's processing time, in ms.
    pub fixed_ms: f64,
    /// The part per record, in ns.
    pub per_record_ns: f64,
    /// The Spark (and Java) the figures are of.
    pub spark: String,
    /// The machine they were measured on.
    pub machine: String,
    /// The command that measured them.
    pub command: String,
    /// How many batches the fit used.
    pub batches: usize,
}

impl Calibration {
    /// The model with these parameters.
    pub fn model(&self) -> SparkModel {
        SparkModel {
            block: Duration::from_millis(self.block_ms),
            schedule: Duration::from_micros((self.schedule_ms * 1e3).round() as u64),
            fixed: Duration::from_micros((self.fixed_ms * 1e3).round() as u64),
            per_record_ns: self.per_record_ns.round() as u64,
        }
    }

    /// Reads a saved calibration; the error names the file and what is wrong.
    pub fn load(path: &Path) -> Result<Calibration, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the Spark model {}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| {
            format!(
                "{} is not a Spark model written by caudal compare --calibrate spark: {e}",
                path.display()
            )
        })
    }
}

/// Fits the model to Spark's batches: `(fixed ms, per-record ns)` by least squares of processing
/// time on records, and the median scheduling delay of the batches that did not queue.
/// `None` without batches.
pub fn fit(batches: &[(SparkBatch, Duration)]) -> Option<(f64, f64, f64)> {
    if batches.is_empty() {
        return None;
    }
    let n = batches.len() as f64;
    let (sx, sy) = batches.iter().fold((0.0, 0.0), |(sx, sy), (b, _)| {
        (sx + b.records as f64, sy + b.processing_ms as f64)
    });
    let (mx, my) = (sx / n, sy / n);
    let (sxx, sxy) = batches.iter().fold((0.0, 0.0), |(sxx, sxy), (b, _)| {
        let dx = b.records as f64 - mx;
        (sxx + dx * dx, sxy + dx * (b.processing_ms as f64 - my))
    });
    // One batch size only: no slope to fit, all of it is per record.
    let slope = if sxx > 0.0 {
        (sxy / sxx).max(0.0)
    } else {
        my / mx.max(1.0)
    };
    let fixed = (my - slope * mx).max(0.0);
    let unqueued: Vec<f64> = batches
        .iter()
        .filter(|(b, interval)| (b.scheduling_ms as f64) < interval.as_secs_f64() * 500.0)
        .map(|(b, _)| b.scheduling_ms as f64)
        .collect();
    let schedule = if unqueued.is_empty() {
        SparkModel::DEFAULT.schedule.as_secs_f64() * 1e3
    } else {
        median(unqueued)
    };
    Some((fixed, slope * 1e6, schedule))
}

/// The rates the calibration runs at: `--rate`, and a tenth of it, so that batches of two sizes let
/// the fit tell the fixed cost from the cost per record.
fn rates(config: &CompareConfig) -> [f64; 2] {
    [config.rate, config.rate / 10.0]
}

/// How many runs of the peer calibrating `peer` on `config` takes.
pub fn planned_runs(config: &CompareConfig, peer: PeerSystem) -> usize {
    let config = CompareConfig {
        peers: vec![peer],
        ..config.clone()
    };
    let per_rate = config
        .contenders()
        .iter()
        .filter(|c| matches!(c, Contender::Peer(..)))
        .count();
    config.repeat.max(1) * rates(&config).len() * per_rate
}

/// Runs the Spark `peer` (Spark or PySpark) as `config` says and fits the model to its batches;
/// `progress` hears of each run before it starts.
pub fn calibrate_spark(
    config: &CompareConfig,
    peer: PeerSystem,
    interrupted: &AtomicBool,
    mut progress: impl FnMut(usize, &Contender),
) -> Result<Calibration, CompareError> {
    let config = CompareConfig {
        peers: vec![peer],
        ..config.clone()
    };
    super::peer::check_peers(&config)?;
    let mut batches = Vec::new();
    let mut spark = String::new();
    let measured = config.warmup.as_secs_f64()..(config.warmup + config.duration).as_secs_f64();
    for repetition in 0..config.repeat.max(1) {
        for rate in rates(&config) {
            let config = CompareConfig {
                rate,
                ..config.clone()
            };
            for contender in config.contenders() {
                let Contender::Peer(peer, batch) = contender else {
                    continue;
                };
                progress(repetition, &contender);
                let Some(result) = measure_peer(&config, peer, batch, interrupted)? else {
                    return Err(CompareError::Peer("interrupted: nothing saved".into()));
                };
                spark = result.version.unwrap_or_default();
                let interval = batch.unwrap_or(Duration::from_secs(1));
                batches.extend(
                    result
                        .spark_batches
                        .into_iter()
                        .filter(|b| measured.contains(&b.at_s))
                        .map(|b| (b, interval)),
                );
            }
        }
    }
    let (fixed_ms, per_record_ns, schedule_ms) = fit(&batches).ok_or_else(|| {
        CompareError::Peer(
            "Spark reported no batch after the warm-up: run longer (--duration)".into(),
        )
    })?;
    Ok(Calibration {
        block_ms: 200,
        schedule_ms,
        fixed_ms,
        per_record_ns,
        spark,
        machine: crate::system::machine_description(),
        command: format!("{} --calibrate {peer}", config.command())
            .replace(&format!(" --peers {peer}"), ""),
        batches: batches.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(records: u64, scheduling_ms: u64, processing_ms: u64) -> (SparkBatch, Duration) {
        (
            SparkBatch {
                at_s: 0.0,
                records,
                scheduling_ms,
                processing_ms,
            },
            Duration::from_secs(1),
        )
    }

    #[test]
    fn the_fit_recovers_a_fixed_cost_and_a_cost_per_record() {
        // 300 ms + 40 µs a record, with ±5 ms of noise; one batch queued (1,200 ms late).
        let batches = [
            batch(0, 2, 305),
            batch(0, 1, 295),
            batch(5_000, 2, 500),
            batch(5_000, 3, 500),
            batch(10_000, 1_200, 705),
            batch(10_000, 2, 695),
        ];
        let (fixed, per_record_ns, schedule) = fit(&batches).unwrap();
        assert!((fixed - 300.0).abs() < 1.0, "{fixed}");
        assert!((per_record_ns - 40_000.0).abs() < 200.0, "{per_record_ns}");
        // The queued batch's delay is not the scheduler's.
        assert_eq!(schedule, 2.0);
        assert!(fit(&[]).is_none());
    }

    #[test]
    fn a_saved_calibration_gives_its_model_back() {
        let c = Calibration {
            block_ms: 200,
            schedule_ms: 1.5,
            fixed_ms: 310.2,
            per_record_ns: 45_123.4,
            spark: "spark 3.5.9 java 17".into(),
            machine: "here".into(),
            command: "caudal compare --calibrate spark".into(),
            batches: 40,
        };
        let dir = std::env::temp_dir().join(format!("caudal-calibration-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("spark-model.json");
        std::fs::write(&path, serde_json::to_string(&c).unwrap()).unwrap();
        let back = Calibration::load(&path).unwrap();
        assert_eq!(back, c);
        let model = back.model();
        assert_eq!(model.fixed, Duration::from_micros(310_200));
        assert_eq!(model.schedule, Duration::from_micros(1_500));
        assert_eq!(model.per_record_ns, 45_123);
        std::fs::write(&path, "{}").unwrap();
        assert!(Calibration::load(&path)
            .unwrap_err()
            .contains("not a Spark model"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
