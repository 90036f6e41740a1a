//! The throughput sweep: the highest rate each mode sustains.

use super::config::CompareConfig;
use super::report::{fmt_us, CompareError};
use super::run::measure;
use crate::checkpoint::Guarantee;
use crate::mode::ExecutionMode;
use serde::Serialize;
use std::fmt;
use std::time::Duration;

/// One point of a throughput sweep.
#[derive(Clone, Debug, Serialize)]
pub struct SweepPoint {
    /// `per-record`, `micro-batch` or `batch`.
    pub mode: String,
    /// The batch interval of a micro-batch mode, in ms.
    pub batch_interval_ms: Option<u64>,
    /// Offered rate, records/s.
    pub offered: f64,
    /// Achieved rate, records/s.
    pub achieved: f64,
    /// Median latency, µs.
    pub p50_us: f64,
    /// 99th percentile latency, µs.
    pub p99_us: f64,
    /// Whether the mode kept up: achieved within 5 % of offered and p99 under the bound (a run with
    /// no result due in its measured part does not count).
    pub sustainable: bool,
}

/// What a sweep found.
#[derive(Clone, Debug, Serialize)]
pub struct SweepReport {
    /// The p99 bound a sustainable rate must stay under, in µs.
    pub p99_bound_us: f64,
    /// Every point measured, by rate then mode.
    pub points: Vec<SweepPoint>,
    /// The highest sustainable rate of each mode (`None` if even the first was not).
    pub sustainable: Vec<(String, Option<f64>)>,
}

/// Raises the offered rate through `rates` (ascending) for every mode of `config`, one run per point,
/// until a mode stops keeping up; the results of every run must still agree within a rate.
pub fn sweep(
    config: &CompareConfig,
    rates: &[f64],
    p99_bound: Duration,
    mut progress: impl FnMut(f64, &ExecutionMode),
) -> Result<SweepReport, CompareError> {
    let bound_us = p99_bound.as_secs_f64() * 1e6;
    let mut saturated = vec![false; config.modes.len()];
    let mut best: Vec<Option<f64>> = vec![None; config.modes.len()];
    let mut points = Vec::new();
    for &rate in rates {
        let at_rate = CompareConfig {
            rate,
            ..config.clone()
        };
        for (i, mode) in config.modes.iter().enumerate() {
            if saturated[i] {
                continue;
            }
            progress(rate, mode);
            let r = measure(&at_rate, *mode, Guarantee::None)?;
            // A run in which no result was due (windows longer than the run) shows nothing either way.
            let sustainable = r.throughput.achieved >= 0.95 * rate
                && !r.histogram.is_empty()
                && r.latency_us.p99 <= bound_us;
            if sustainable {
                best[i] = Some(rate);
            } else {
                saturated[i] = true;
            }
            points.push(SweepPoint {
                mode: r.mode,
                batch_interval_ms: r.batch_interval_ms,
                offered: rate,
                achieved: r.throughput.achieved,
                p50_us: r.latency_us.p50,
                p99_us: r.latency_us.p99,
                sustainable,
            });
        }
    }
    let names = config.modes.iter().map(|m| m.to_string());
    Ok(SweepReport {
        p99_bound_us: bound_us,
        points,
        sustainable: names.zip(best).collect(),
    })
}

impl fmt::Display for SweepReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "throughput sweep (sustainable: achieved within 5% of offered and p99 under {})",
            fmt_us(self.p99_bound_us)
        )?;
        writeln!(
            f,
            "{:<20} {:>14} {:>14} {:>12} {:>12} {:>12}",
            "mode", "offered/s", "achieved/s", "p50", "p99", "keeps up"
        )?;
        for p in &self.points {
            let name = p
                .batch_interval_ms
                .map_or(p.mode.clone(), |ms| format!("{} {ms}ms", p.mode));
            writeln!(
                f,
                "{:<20} {:>14.0} {:>14.0} {:>12} {:>12} {:>12}",
                name,
                p.offered,
                p.achieved,
                fmt_us(p.p50_us),
                fmt_us(p.p99_us),
                if p.sustainable { "yes" } else { "no" }
            )?;
        }
        for (mode, rate) in &self.sustainable {
            match rate {
                Some(rate) => writeln!(f, "{mode}: sustains {rate:.0} records/s")?,
                None => writeln!(f, "{mode}: did not keep up even at the lowest rate")?,
            }
        }
        Ok(())
    }
}
