//! `caudal compare --calibrate spark` (or `pyspark`): the parameters of Spark's micro-batch model
//! ([`SparkModel`]), measured on the real Spark peer of this machine.
//!
//! The Spark peer reports, for each batch, what Spark's own listener measured: its records, its
//! scheduling delay and its processing time. The calibration runs the peer on the comparison's
//! workload (once per micro-batch interval in `--modes`, at `--rate` and at a tenth of it, so that
//! batches of two sizes separate the fixed cost from the costs per record and per block; `--repeat`
//! times), keeps its batches from the first to the end of the load, and fits the model to them
//! ([`super::spark_fit`]: the costs, the warm-up, the first job, the spread, the scheduling delay).
//! The block interval is the peer's (Spark's default, 200 ms).

use super::config::{CompareConfig, Contender, PeerSystem};
use super::peer::measure_peer;
use super::report::CompareError;
use super::spark_fit::{fit, CalibrationRun, Fit};
use crate::spark_model::{SparkModel, Warmup};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// Spark's model as measured on this machine, as saved to `spark-model.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// The receiver's block interval, in ms.
    pub block_ms: u64,
    /// The fitted parameters (a file from before the warm-up, block and spread terms has none of
    /// them, and gets a model without them).
    #[serde(flatten)]
    pub fit: Fit,
    /// The Spark (and Java) the figures are of.
    pub spark: String,
    /// The machine they were measured on.
    pub machine: String,
    /// The command that measured them.
    pub command: String,
}

impl Calibration {
    /// The model with these parameters.
    pub fn model(&self) -> SparkModel {
        model_of(&self.fit, self.block_ms)
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

/// The model of a fit, with blocks of `block_ms` (durations to the µs, percentages to the unit).
pub fn model_of(fit: &Fit, block_ms: u64) -> SparkModel {
    let us = |ms: f64| Duration::from_micros((ms.max(0.0) * 1e3).round() as u64);
    let warmup = fit.warmup.map(|w| match w.extra > 0.0 && w.decay_s > 0.0 {
        true => Warmup {
            extra_pct: (w.extra * 100.0).round() as u32,
            decay: Duration::from_secs_f64(w.decay_s),
        },
        false => Warmup::NONE,
    });
    SparkModel {
        block: Duration::from_millis(block_ms),
        schedule: us(fit.schedule_ms),
        fixed: us(fit.fixed_ms),
        per_record_ns: fit.per_record_ns.max(0.0).round() as u64,
        per_block: us(fit.per_block_ms),
        warmup,
        head_start: us(fit.head_start_ms),
        output: us(fit.output_ms),
        first_job: us(fit.first_job_ms),
        spread_pct: (fit.spread * 100.0).round() as u32,
        jitter: us(fit.jitter_ms),
        seed: 0,
    }
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
    let mut runs = Vec::new();
    let mut spark = String::new();
    let end_s = (config.warmup + config.duration).as_secs_f64();
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
                runs.push(CalibrationRun {
                    interval_ms: interval.as_millis() as u64,
                    rate,
                    measured_from_s: config.warmup.as_secs_f64(),
                    latency_p50_ms: config
                        .workload
                        .spark_windows()
                        .then(|| result.latency_us.p50 / 1e3),
                    batches: result
                        .spark_batches
                        .into_iter()
                        .filter(|b| b.at_s <= end_s)
                        .collect(),
                });
            }
        }
    }
    let block_ms = 200;
    let fit = fit(&runs, Duration::from_millis(block_ms)).ok_or_else(|| {
        CompareError::Peer("Spark reported too few batches: run longer (--duration)".into())
    })?;
    Ok(Calibration {
        block_ms,
        fit,
        spark,
        machine: crate::system::machine_description(),
        command: format!("{} --calibrate {peer}", config.command())
            .replace(&format!(" --peers {peer}"), ""),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::spark_fit::FittedWarmup;

    fn calibration() -> Calibration {
        Calibration {
            block_ms: 200,
            fit: Fit {
                fixed_ms: 310.2,
                per_record_ns: 45_123.4,
                per_block_ms: 12.5,
                warmup: [
                    FittedWarmup {
                        extra: 8.0,
                        decay_s: 2.0,
                    },
                    FittedWarmup {
                        extra: 0.0,
                        decay_s: 15.0,
                    },
                ],
                first_job_ms: 455.0,
                head_start_ms: 1_800.0,
                output_ms: 7.5,
                spread: 0.294,
                jitter_ms: 6.25,
                schedule_ms: 1.5,
                batches: 40,
            },
            spark: "spark 3.5.9 java 17".into(),
            machine: "here".into(),
            command: "caudal compare --calibrate spark".into(),
        }
    }

    #[test]
    fn a_saved_calibration_gives_its_model_back() {
        let c = calibration();
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
        assert_eq!(model.per_block, Duration::from_micros(12_500));
        assert_eq!(
            model.warmup,
            [
                Warmup {
                    extra_pct: 800,
                    decay: Duration::from_secs(2)
                },
                Warmup::NONE
            ]
        );
        assert_eq!(model.first_job, Duration::from_millis(455));
        assert_eq!(model.head_start, Duration::from_millis(1_800));
        assert_eq!(model.output, Duration::from_micros(7_500));
        assert_eq!(model.spread_pct, 29);
        assert_eq!(model.jitter, Duration::from_micros(6_250));
        std::fs::write(&path, "{}").unwrap();
        assert!(Calibration::load(&path)
            .unwrap_err()
            .contains("not a Spark model"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_calibration_saved_before_the_warm_up_terms_loads_as_the_model_it_was() {
        let old = r#"{"block_ms":200,"schedule_ms":2.0,"fixed_ms":97.0,"per_record_ns":2360.0,
            "spark":"spark 3.5.9","machine":"here","command":"caudal compare","batches":90}"#;
        let dir =
            std::env::temp_dir().join(format!("caudal-old-calibration-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("spark-model.json");
        std::fs::write(&path, old).unwrap();
        assert_eq!(
            Calibration::load(&path).unwrap().model(),
            SparkModel::DEFAULT
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
