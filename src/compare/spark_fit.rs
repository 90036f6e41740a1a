//! The fit of Spark's model ([`SparkModel`]) to what real Spark's listener reported of its batches.
//!
//! A job of `n` records in `b` blocks, at age `t` from the start of its context, is taken to run
//!
//! ```text
//! (fixed + per_record * n + per_block * b) * (1 + fast * exp(-t / fast_decay) + slow * exp(-t / slow_decay)) * spread
//! ```
//!
//! plus, for the context's first job, a cost of its own. For each warm-up on a small grid (a fast
//! term of 0 to 16 times over 0.5 to 4 s, a slow one of 0 to 3 times over 8 to 30 s: Spark's JIT and
//! class loading, which on a 2-core machine take tens of seconds to settle), the three costs are
//! fitted by least squares (none negative: a cost that would be is left out and the rest refitted),
//! and the fit whose logarithmic error is least wins, so that short jobs weigh as much as long ones.
//! The spread is of what is left within each run, once warm (the batches of the measured part, where
//! the warm-up's shape, which the grid fits only roughly, is mostly past): the squared deviations of
//! the logarithm are fitted to `spread² + (jitter / job)²`, a relative part and an absolute one that
//! weighs on short jobs (none negative). The first job's cost is the median over the runs of its
//! excess. A run's context starts one interval before its first batch (its head start is how long
//! before the load that was), and a batch's blocks are its records over the records of a block at
//! the run's rate (at least 1 if it has any: the lab's load is even). Runs of windows also give the
//! time from a job's end to its results (their median latency less their median job).

use super::peer::SparkBatch;
use super::report::median;
use crate::spark_model::{warmup_factor, SparkModel};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The batches of one run of the Spark peer, as the calibration keeps them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CalibrationRun {
    /// The batch interval, in ms.
    pub interval_ms: u64,
    /// The offered rate, records per second.
    pub rate: f64,
    /// Where the measured part began, in s from the lab's clock's start.
    #[serde(default)]
    pub measured_from_s: f64,
    /// The median latency of Spark's window results in the measured part, in ms (`None`: not
    /// windows, whose results come at the batch time plus the job).
    #[serde(default)]
    pub latency_p50_ms: Option<f64>,
    /// Spark's batches from the first to the end of the load, in order.
    pub batches: Vec<SparkBatch>,
}

/// A warm-up term as fitted: `extra` times slower at age 0, decaying over `decay_s`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FittedWarmup {
    /// How much longer than warm a job takes at age 0 (1.0: twice as long).
    pub extra: f64,
    /// The time constant of the decay, in s.
    pub decay_s: f64,
}

/// The model's parameters as fitted. The terms after the first two are absent (zero) from
/// calibrations saved before they were fitted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fit {
    /// The fixed part of a warm job, in ms.
    pub fixed_ms: f64,
    /// The part per record, in ns.
    pub per_record_ns: f64,
    /// The part per block, in ms.
    #[serde(default)]
    pub per_block_ms: f64,
    /// The warm-up: the fast and the slow term.
    #[serde(default)]
    pub warmup: [FittedWarmup; 2],
    /// What the first job costs on top, in ms.
    #[serde(default)]
    pub first_job_ms: f64,
    /// How long Spark's context had run when the load began (the median over the runs), in ms.
    #[serde(default)]
    pub head_start_ms: f64,
    /// From a job's end to its results' arrival, which Spark's listener does not count, in ms: the
    /// median over the runs of windows of their median latency less their median scheduling delay
    /// plus processing time (0 without such runs).
    #[serde(default)]
    pub output_ms: f64,
    /// The relative spread of warm job times around the fit: with no jitter, the standard deviation
    /// of their logarithm.
    #[serde(default)]
    pub spread: f64,
    /// The absolute spread, in ms: a job of median `m` ms has the standard deviation
    /// `sqrt(spread² + (jitter / m)²)` in its logarithm.
    #[serde(default)]
    pub jitter_ms: f64,
    /// The median scheduling delay of the batches that did not queue, in ms.
    pub schedule_ms: f64,
    /// How many batches the fit used.
    pub batches: usize,
}

const FAST_EXTRA: [f64; 5] = [0.0, 2.0, 4.0, 8.0, 16.0];
const FAST_DECAY_S: [f64; 4] = [0.5, 1.0, 2.0, 4.0];
const SLOW_EXTRA: [f64; 4] = [0.0, 1.0, 2.0, 3.0];
const SLOW_DECAY_S: [f64; 3] = [8.0, 15.0, 30.0];

/// One batch as the fit sees it.
struct Row {
    run: usize,
    /// In the run's measured part.
    measured: bool,
    age_s: f64,
    records: f64,
    blocks: f64,
    processing_ms: f64,
}

/// Fits the model to `runs` (blocks of `block`). `None` without a batch after each run's first.
pub fn fit(runs: &[CalibrationRun], block: Duration) -> Option<Fit> {
    let mut rows = Vec::new();
    let mut firsts = Vec::new();
    let mut head_starts = Vec::new();
    for (index, run) in runs.iter().enumerate() {
        let Some(first) = run.batches.first() else {
            continue;
        };
        let start_s = first.at_s - run.interval_ms as f64 / 1e3;
        head_starts.push((-start_s * 1e3).max(0.0));
        let per_block = (run.rate * block.as_secs_f64()).max(1.0);
        let row = |b: &SparkBatch| Row {
            run: index,
            measured: b.at_s >= run.measured_from_s,
            age_s: b.at_s - start_s,
            records: b.records as f64,
            blocks: match b.records {
                0 => 0.0,
                n => (n as f64 / per_block).round().max(1.0),
            },
            processing_ms: (b.processing_ms as f64).max(1.0),
        };
        firsts.push(row(first));
        rows.extend(run.batches[1..].iter().map(row));
    }
    if rows.is_empty() {
        return None;
    }
    let mut best: Option<(f64, [f64; 3], [FittedWarmup; 2])> = None;
    for fast_extra in FAST_EXTRA {
        for fast_decay_s in FAST_DECAY_S {
            for slow_extra in SLOW_EXTRA {
                for slow_decay_s in SLOW_DECAY_S {
                    let warmup = [
                        FittedWarmup {
                            extra: fast_extra,
                            decay_s: fast_decay_s,
                        },
                        FittedWarmup {
                            extra: slow_extra,
                            decay_s: slow_decay_s,
                        },
                    ];
                    let Some((costs, error)) = fit_costs(&rows, &warmup) else {
                        continue;
                    };
                    if best.as_ref().is_none_or(|(e, ..)| error < *e) {
                        best = Some((error, costs, warmup));
                    }
                }
            }
        }
    }
    let (_, costs, warmup) = best?;
    let predict = |r: &Row| warm(&costs, r) * factor(&warmup, r.age_s);
    let (spread, jitter_ms) = spread_of(&rows, runs.len(), predict);
    let first_job_ms = median(
        firsts
            .iter()
            .map(|r| (r.processing_ms - predict(r)).max(0.0))
            .collect(),
    );
    let gaps: Vec<f64> = runs
        .iter()
        .filter_map(|run| {
            let latency = run.latency_p50_ms?;
            let jobs: Vec<f64> = run
                .batches
                .iter()
                .filter(|b| b.at_s >= run.measured_from_s)
                .map(|b| (b.scheduling_ms + b.processing_ms) as f64)
                .collect();
            (!jobs.is_empty()).then(|| latency - median(jobs))
        })
        .collect();
    let unqueued: Vec<f64> = runs
        .iter()
        .flat_map(|run| {
            run.batches
                .iter()
                .filter(move |b| (b.scheduling_ms as f64) < run.interval_ms as f64 / 2.0)
                .map(|b| b.scheduling_ms as f64)
        })
        .collect();
    Some(Fit {
        fixed_ms: costs[0],
        per_record_ns: costs[1] * 1e6,
        per_block_ms: costs[2],
        warmup,
        first_job_ms,
        head_start_ms: median(head_starts),
        output_ms: median(gaps).max(0.0),
        spread,
        jitter_ms,
        schedule_ms: match unqueued.is_empty() {
            true => SparkModel::DEFAULT.schedule.as_secs_f64() * 1e3,
            false => median(unqueued),
        },
        batches: rows.len() + firsts.len(),
    })
}

/// The relative and absolute (ms) spread of the measured batches among `rows` (of `runs` runs)
/// around `predict`: the squared deviations of their logarithms from their run's mean fitted to
/// `spread² + jitter² / predicted²` by least squares, none negative. Within a run: a run slower or
/// faster than the fit as a whole (a busier machine, another JIT outcome) is not a spread between
/// one job and the next.
fn spread_of(rows: &[Row], runs: usize, predict: impl Fn(&Row) -> f64) -> (f64, f64) {
    // (1 / predicted², squared deviation) of each measured batch.
    let mut points = Vec::with_capacity(rows.len());
    for run in 0..runs {
        let measured: Vec<(f64, f64)> = rows
            .iter()
            .filter(|r| r.run == run && r.measured)
            .map(|r| {
                let predicted = predict(r);
                (predicted, (r.processing_ms / predicted).ln())
            })
            .collect();
        let mean = measured.iter().map(|(_, l)| l).sum::<f64>() / measured.len().max(1) as f64;
        points.extend(
            measured
                .iter()
                .map(|(p, l)| (1.0 / (p * p), (l - mean).powi(2))),
        );
    }
    if points.is_empty() {
        return (0.0, 0.0);
    }
    let n = points.len() as f64;
    let (mean_x, mean_y) = (
        points.iter().map(|p| p.0).sum::<f64>() / n,
        points.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    let slope = match sxx > 0.0 {
        true => sxy / sxx,
        false => 0.0,
    };
    let intercept = mean_y - slope * mean_x;
    let (relative2, absolute2) = if slope <= 0.0 {
        (mean_y, 0.0)
    } else if intercept < 0.0 {
        // Through the origin: all of it absolute.
        let sxx0: f64 = points.iter().map(|p| p.0 * p.0).sum();
        (0.0, points.iter().map(|p| p.0 * p.1).sum::<f64>() / sxx0)
    } else {
        (intercept, slope)
    };
    (relative2.sqrt(), absolute2.sqrt())
}

/// A warm job's time, in ms, with `costs` (fixed ms, ms per record, ms per block).
fn warm(costs: &[f64; 3], r: &Row) -> f64 {
    costs[0] + costs[1] * r.records + costs[2] * r.blocks
}

/// The warm-up factor at `age_s`.
fn factor(warmup: &[FittedWarmup; 2], age_s: f64) -> f64 {
    warmup_factor(warmup.iter().map(|w| (w.extra, w.decay_s)), age_s)
}

/// The costs that fit `rows` best under `warmup`, none negative, and their logarithmic error:
/// least squares over every subset of the three costs, the best subset that solves.
fn fit_costs(rows: &[Row], warmup: &[FittedWarmup; 2]) -> Option<([f64; 3], f64)> {
    let features: Vec<([f64; 3], f64)> = rows
        .iter()
        .map(|r| {
            let w = factor(warmup, r.age_s);
            ([w, w * r.records, w * r.blocks], r.processing_ms)
        })
        .collect();
    let mut best: Option<([f64; 3], f64)> = None;
    for subset in 1u8..8 {
        let used: Vec<usize> = (0..3).filter(|i| subset & (1 << i) != 0).collect();
        let Some(solution) = least_squares(&features, &used) else {
            continue;
        };
        if solution.iter().any(|c| *c < 0.0) {
            continue;
        }
        let mut costs = [0.0; 3];
        for (i, c) in used.iter().zip(solution) {
            costs[*i] = c;
        }
        let error = features
            .iter()
            .map(|(x, y)| {
                let predicted = x.iter().zip(costs).map(|(x, c)| x * c).sum::<f64>();
                (predicted.max(1e-3) / y).ln().powi(2)
            })
            .sum::<f64>();
        if best.as_ref().is_none_or(|(_, e)| error < *e) {
            best = Some((costs, error));
        }
    }
    best
}

/// Ordinary least squares of `y` on the features `used`, by the normal equations; `None` if they
/// are singular (features that move together, such as records and blocks at one rate).
fn least_squares(rows: &[([f64; 3], f64)], used: &[usize]) -> Option<Vec<f64>> {
    let k = used.len();
    let mut a = vec![vec![0.0; k + 1]; k];
    for (x, y) in rows {
        for (i, &fi) in used.iter().enumerate() {
            for (j, &fj) in used.iter().enumerate() {
                a[i][j] += x[fi] * x[fj];
            }
            a[i][k] += x[fi] * y;
        }
    }
    // Gaussian elimination with partial pivoting, scaled to the diagonal.
    let scale: Vec<f64> = (0..k)
        .map(|i| a[i][i].abs().max(f64::MIN_POSITIVE))
        .collect();
    for col in 0..k {
        let pivot = (col..k).max_by(|&i, &j| {
            (a[i][col].abs() / scale[i]).total_cmp(&(a[j][col].abs() / scale[j]))
        })?;
        if a[pivot][col].abs() / scale[pivot] < 1e-9 {
            return None;
        }
        a.swap(col, pivot);
        let (upper, lower) = a.split_at_mut(col + 1);
        let pivot_row = &upper[col];
        for row in lower.iter_mut() {
            let f = row[col] / pivot_row[col];
            for (x, p) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                *x -= f * p;
            }
        }
    }
    let mut solution = vec![0.0; k];
    for row in (0..k).rev() {
        let rest: f64 = (row + 1..k).map(|c| a[row][c] * solution[c]).sum();
        solution[row] = (a[row][k] - rest) / a[row][row];
    }
    Some(solution)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spark_model::{Job, Warmup};

    /// The batches `model` gives (no spread) for a run at `interval_ms` and `rate`, to `end_s`.
    fn run_of(model: &SparkModel, interval_ms: u64, rate: f64, end_s: f64) -> CalibrationRun {
        let per_batch = rate * interval_ms as f64 / 1e3;
        let batches = (1..)
            .map(|k| k as f64 * interval_ms as f64 / 1e3)
            .take_while(|t| *t <= end_s)
            .enumerate()
            .map(|(i, t)| {
                let records = per_batch as u64;
                let job = Job {
                    records: records as usize,
                    blocks: (per_batch / (rate * 0.2)).round() as usize,
                    age: Duration::from_secs_f64(t),
                    index: i as u64,
                };
                SparkBatch {
                    at_s: t - 3.0,
                    records,
                    scheduling_ms: 2,
                    processing_ms: model.processing(&job).as_millis() as u64,
                }
            })
            .collect();
        CalibrationRun {
            interval_ms,
            rate,
            measured_from_s: 10.0,
            latency_p50_ms: None,
            batches,
        }
    }

    #[test]
    fn the_fit_recovers_the_costs_the_warm_up_and_the_first_job_of_a_known_model() {
        let model = SparkModel {
            fixed: Duration::from_millis(40),
            per_record_ns: 1_000,
            per_block: Duration::from_millis(10),
            warmup: [
                Warmup {
                    extra_pct: 800,
                    decay: Duration::from_secs(2),
                },
                Warmup {
                    extra_pct: 100,
                    decay: Duration::from_secs(15),
                },
            ],
            first_job: Duration::from_millis(300),
            ..SparkModel::DEFAULT
        };
        let mut runs: Vec<CalibrationRun> = [(500, 10_000.0), (1_000, 10_000.0), (500, 100_000.0)]
            .iter()
            .map(|&(interval, rate)| run_of(&model, interval, rate, 40.0))
            .collect();
        // The first run's results (of windows) came 7 ms after its median job.
        let jobs: Vec<f64> = runs[0]
            .batches
            .iter()
            .filter(|b| b.at_s >= 10.0)
            .map(|b| (b.scheduling_ms + b.processing_ms) as f64)
            .collect();
        runs[0].latency_p50_ms = Some(median(jobs) + 7.0);
        let fit = fit(&runs, Duration::from_millis(200)).unwrap();
        assert_eq!(fit.warmup[0].decay_s, 2.0);
        assert_eq!(fit.warmup[0].extra, 8.0);
        assert_eq!(fit.warmup[1].decay_s, 15.0);
        assert_eq!(fit.warmup[1].extra, 1.0);
        // Processing times come back in whole ms, so the costs are within a little of the model's.
        assert!((fit.fixed_ms - 40.0).abs() < 1.0, "{fit:?}");
        assert!((fit.per_record_ns - 1_000.0).abs() < 20.0, "{fit:?}");
        assert!((fit.per_block_ms - 10.0).abs() < 0.5, "{fit:?}");
        assert!((fit.first_job_ms - 300.0).abs() < 2.0, "{fit:?}");
        assert!(fit.spread < 0.02, "{fit:?}");
        assert!(fit.jitter_ms < 0.5, "{fit:?}");
        assert_eq!(fit.schedule_ms, 2.0);
        // The runs' first batches came one interval after a context started 3 s before the load.
        assert_eq!(fit.head_start_ms, 3_000.0);
        assert_eq!(fit.output_ms, 7.0);
        assert_eq!(
            fit.batches,
            runs.iter().map(|r| r.batches.len()).sum::<usize>()
        );
        assert!(super::fit(&[], Duration::from_millis(200)).is_none());
    }

    #[test]
    fn the_fit_tells_a_relative_spread_from_an_absolute_one() {
        let model = SparkModel {
            fixed: Duration::from_millis(20),
            per_record_ns: 1_000,
            per_block: Duration::from_millis(10),
            spread_pct: 15,
            jitter: Duration::from_millis(8),
            ..SparkModel::DEFAULT
        };
        // Jobs of about 30, 75 and 130 ms, hundreds of each (whole ms, as Spark reports them).
        let runs: Vec<CalibrationRun> = [(100, 10_000.0), (500, 10_000.0), (1_000, 10_000.0)]
            .iter()
            .map(|&(interval, rate)| run_of(&model, interval, rate, interval as f64 * 0.6))
            .collect();
        let fit = fit(&runs, Duration::from_millis(200)).unwrap();
        assert!((fit.spread - 0.15).abs() < 0.025, "{fit:?}");
        assert!((fit.jitter_ms - 8.0).abs() < 1.5, "{fit:?}");
        // All of it relative: no jitter comes out.
        let relative = SparkModel {
            jitter: Duration::ZERO,
            ..model
        };
        let runs: Vec<CalibrationRun> = [(100, 10_000.0), (1_000, 10_000.0)]
            .iter()
            .map(|&(interval, rate)| run_of(&relative, interval, rate, interval as f64 * 0.6))
            .collect();
        let fit = super::fit(&runs, Duration::from_millis(200)).unwrap();
        assert!((fit.spread - 0.15).abs() < 0.02, "{fit:?}");
        assert!(fit.jitter_ms < 2.0, "{fit:?}");
    }

    #[test]
    fn at_one_rate_records_and_blocks_move_together_and_the_fit_keeps_one_of_them() {
        let model = SparkModel {
            fixed: Duration::from_millis(60),
            per_record_ns: 2_000,
            ..SparkModel::DEFAULT
        };
        let runs = [run_of(&model, 1_000, 10_000.0, 30.0)];
        let fit = fit(&runs, Duration::from_millis(200)).unwrap();
        // 60 ms + 20 ms a batch, whichever way it is split; nothing negative, nothing lost.
        let per_batch = fit.fixed_ms + fit.per_record_ns * 1e-6 * 10_000.0 + fit.per_block_ms * 5.0;
        assert!((per_batch - 80.0).abs() < 1.0, "{fit:?}");
        assert!(fit.fixed_ms >= 0.0 && fit.per_record_ns >= 0.0 && fit.per_block_ms >= 0.0);
    }

    #[test]
    fn the_windowed_defaults_are_the_fit_of_real_sparks_batches() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/conformance/spark_sliding_batches.json"
        );
        let runs: Vec<CalibrationRun> =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let fit = fit(&runs, Duration::from_millis(200)).unwrap();
        let model = crate::compare::calibrate::model_of(&fit, 200);
        assert_eq!(model, SparkModel::WINDOWED, "{fit:?}");
    }
}
