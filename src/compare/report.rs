//! What a comparison reports: percentiles, summaries per mode, every run, CSV and the table.

use super::config::CompareConfig;
use crate::pipeline::RunError;
use hdrhistogram::Histogram;
use serde::Serialize;
use std::fmt;

/// Latency percentiles, in microseconds (recorded in nanoseconds, to 3 significant digits).
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// The largest.
    pub max: f64,
}

impl Percentiles {
    /// The percentiles of a histogram of nanoseconds, in µs.
    pub fn of(histogram: &Histogram<u64>) -> Self {
        let q = |p: f64| histogram.value_at_quantile(p) as f64 / 1e3;
        Percentiles {
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            p999: q(0.999),
            max: histogram.max() as f64 / 1e3,
        }
    }

    /// Each percentile's median over several runs' percentiles.
    pub fn median_of<'a>(runs: impl Iterator<Item = &'a Percentiles> + Clone) -> Self {
        let of = |g: fn(&Percentiles) -> f64| median(runs.clone().map(g).collect());
        Percentiles {
            p50: of(|p| p.p50),
            p90: of(|p| p.p90),
            p99: of(|p| p.p99),
            p999: of(|p| p.p999),
            max: of(|p| p.max),
        }
    }
}

/// Offered and achieved throughput, records per second.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Throughput {
    /// The generator's rate.
    pub offered: f64,
    /// Records read divided by the time from the first intended send to the last result.
    pub achieved: f64,
}

/// The results a run produced: how many, and an order-independent checksum.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ResultSummary {
    /// How many results.
    pub count: u64,
    /// The wrapping sum of the results' hashes.
    pub checksum: u64,
}

/// One mode's measurements.
#[derive(Clone, Debug, Serialize)]
pub struct ModeResult {
    /// `per-record`, `micro-batch` or `batch`.
    pub mode: String,
    /// The delivery guarantee it ran under (`none`, `at-least-once`, `exactly-once`).
    pub guarantee: String,
    /// The latency histogram, in ns (for plots; not in the JSON).
    #[serde(skip)]
    pub histogram: Histogram<u64>,
    /// Sampled (intended send time in s, latency in µs) pairs (for plots; not in the JSON).
    #[serde(skip)]
    pub samples: Vec<(f64, f64)>,
    /// The batch interval of a micro-batch mode, in ms.
    pub batch_interval_ms: Option<u64>,
    /// End-to-end latency after the warm-up: from the intended send time of the record that produced
    /// the result (or closed its window) to the sink, in processing time.
    pub latency_us: Percentiles,
    /// From the event time the result is about (its record's, or its window's end) to the sink.
    pub event_time_latency_us: Percentiles,
    /// The burst workload's window results, apart: from the intended send time of the record that
    /// closed their windows to the sink (the max is when the last result of the slowest burst was out).
    pub burst_window_latency_us: Option<Percentiles>,
    /// Offered and achieved throughput.
    pub throughput: Throughput,
    /// CPU time the process used during the run (user + system).
    pub cpu_s: f64,
    /// The process's peak resident memory so far, in bytes (from `/proc`; 0 where unavailable).
    pub peak_rss_bytes: u64,
    /// Micro-batches that reached the hold budget (the source waited for them to close): the load
    /// was more than the mode could hold, and latency shows it.
    pub capped_batches: u64,
    /// The results.
    pub results: ResultSummary,
    /// Results fired by the end of the input (windows whose closing record was never offered, drained
    /// when the run stops): in `results`, not in the latencies, which cover the steady state.
    pub drained_results: u64,
    /// A real peer's system and Java versions (`spark 3.5.9 java 17.0.15`); absent for Caudal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Whether the results are the same computation as Caudal's and were checked equal to them
    /// (not so for Spark's windows, which are of processing time).
    pub comparable: bool,
    /// The seed Spark's model drew this run's job times from (a `:spark` mode; see
    /// `--spark-seed`), so that a run can be drawn again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spark_seed: Option<u64>,
    /// The real Spark peer's own figures for each of its batches (empty otherwise).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub spark_batches: Vec<super::peer::SparkBatch>,
    /// The latency's trend: the median latency of the sampled results of the first and of the last
    /// quarter of the measured part, in µs (see [`Trend`]).
    pub trend: Option<Trend>,
}

/// Whether latency stays put over the measured part of a run, or grows as a backlog does when the
/// load is more than the system processes (as Spark's scheduling delay grows when its batches take
/// longer than the interval).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Trend {
    /// Median latency of the results sent in the first quarter of the measured part, in µs.
    pub first_quarter_us: f64,
    /// The same for the last quarter.
    pub last_quarter_us: f64,
    /// Whether it grew: the last quarter's median is more than 1.2 times the first's, and higher by
    /// more than a tenth of the measured duration (a backlog that grows by more than a tenth of a
    /// second each second; a micro-batch sawtooth or noise does neither).
    pub unstable: bool,
}

impl Trend {
    /// The trend of `samples` (intended send time in s, latency in µs, sorted by time) over the
    /// measured part `[from_s, to_s)`; `None` if a quarter has no sample.
    pub fn of(samples: &[(f64, f64)], from_s: f64, to_s: f64) -> Option<Trend> {
        let quarter = (to_s - from_s) / 4.0;
        let median_in = |lo: f64, hi: f64| {
            let within: Vec<f64> = samples
                .iter()
                .filter(|(t, _)| *t >= lo && *t < hi)
                .map(|(_, us)| *us)
                .collect();
            (!within.is_empty()).then(|| median(within))
        };
        let first = median_in(from_s, from_s + quarter)?;
        let last = median_in(to_s - quarter, to_s)?;
        Some(Trend {
            first_quarter_us: first,
            last_quarter_us: last,
            unstable: last > 1.2 * first && last - first > (to_s - from_s) * 1e6 / 10.0,
        })
    }
}

/// The whole comparison, as written to JSON.
#[derive(Clone, Debug, Serialize)]
pub struct CompareReport {
    /// What was run.
    pub config: CompareConfig,
    /// The command that reproduces the run.
    pub command: String,
    /// The machine it ran on.
    pub machine: String,
    /// Why not every planned run is there (the comparison was interrupted); absent when complete.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<String>,
    /// One summary per mode, in the order given: medians over the repetitions.
    pub modes: Vec<ModeSummary>,
    /// Every run, in the order run.
    pub runs: Vec<RunRecord>,
}

/// One mode over all repetitions: medians, and the spread of the percentiles that matter most.
#[derive(Clone, Debug, Serialize)]
pub struct ModeSummary {
    /// `per-record`, `micro-batch` or `batch`.
    pub mode: String,
    /// The delivery guarantee it ran under.
    pub guarantee: String,
    /// The batch interval of a micro-batch mode, in ms.
    pub batch_interval_ms: Option<u64>,
    /// Median over the repetitions of each percentile, in µs.
    pub latency_us: Percentiles,
    /// The same for latency from the event time each result is about.
    pub event_time_latency_us: Percentiles,
    /// The burst workload's window results (see [`ModeResult::burst_window_latency_us`]), medians.
    pub burst_window_latency_us: Option<Percentiles>,
    /// Smallest and largest p50 and p99 over the repetitions, in µs.
    pub latency_spread_us: Spread,
    /// Offered throughput, and the median achieved.
    pub throughput: Throughput,
    /// Median CPU seconds per run.
    pub cpu_s: f64,
    /// The process's peak resident memory after this mode's last run, in bytes.
    pub peak_rss_bytes: u64,
    /// The results (the same in every run and mode).
    pub results: ResultSummary,
    /// Results fired by the end of the input, not in the latencies (median over the repetitions).
    pub drained_results: u64,
    /// Median over the repetitions of this mode's p50 divided by per-record's p50 in the same repetition.
    pub p50_ratio_to_per_record: Option<f64>,
    /// A real peer's versions (see [`ModeResult::version`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Whether its results were checked equal to Caudal's (see [`ModeResult::comparable`]).
    pub comparable: bool,
    /// How many of its runs' latency grew over the run (see [`Trend`]), of how many.
    pub unstable_runs: [usize; 2],
}

/// The range of p50 and p99 over repetitions, in µs.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Spread {
    /// `[min, max]` of p50.
    pub p50: [f64; 2],
    /// `[min, max]` of p99.
    pub p99: [f64; 2],
}

/// One run of one mode.
#[derive(Clone, Debug, Serialize)]
pub struct RunRecord {
    /// Which repetition, from 0.
    pub repetition: usize,
    /// The mode's index in the configuration.
    pub mode_index: usize,
    /// What the run measured.
    #[serde(flatten)]
    pub result: ModeResult,
}

/// What went wrong in a comparison.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// A run failed.
    #[error(transparent)]
    Run(#[from] RunError),
    /// A real peer is not installed, cannot run the workload, or failed.
    #[error("{0}")]
    Peer(String),
    /// Two modes gave different results: a bug, never a measurement.
    #[error("modes disagree: {first} gave {a:?} but {second} gave {b:?}")]
    Mismatch {
        /// The first mode.
        first: String,
        /// Its results.
        a: ResultSummary,
        /// The other mode.
        second: String,
        /// Its results.
        b: ResultSummary,
    },
}

pub(crate) fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

pub(crate) fn range(values: impl Iterator<Item = f64> + Clone) -> [f64; 2] {
    [
        values.clone().fold(f64::INFINITY, f64::min),
        values.fold(f64::NEG_INFINITY, f64::max),
    ]
}

impl ModeSummary {
    /// The mode as the table names it: with its batch interval, and its guarantee if it has one.
    pub fn name(&self) -> String {
        let mut name = match self.batch_interval_ms {
            Some(ms) => format!("{} {ms}ms", self.mode),
            None => self.mode.clone(),
        };
        if self.guarantee != "none" {
            name.push_str(&format!(" {}", self.guarantee));
        }
        name
    }
}

impl CompareReport {
    /// Every run as CSV: a header line, then one row per run.
    pub fn to_csv(&self) -> String {
        let mut csv = String::from("repetition,mode,guarantee,batch_interval_ms,p50_us,p90_us,p99_us,p999_us,max_us,event_p50_us,event_p99_us,offered_per_s,achieved_per_s,cpu_s,peak_rss_bytes,results,checksum,drained_results\n");
        for r in &self.runs {
            let (m, l) = (&r.result, &r.result.latency_us);
            csv.push_str(&format!(
                "{},{},{},{},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{:.0},{:.0},{:.3},{},{},{:016x},{}\n",
                r.repetition,
                m.mode,
                m.guarantee,
                m.batch_interval_ms
                    .map_or(String::new(), |ms| ms.to_string()),
                l.p50,
                l.p90,
                l.p99,
                l.p999,
                l.max,
                m.event_time_latency_us.p50,
                m.event_time_latency_us.p99,
                m.throughput.offered,
                m.throughput.achieved,
                m.cpu_s,
                m.peak_rss_bytes,
                m.results.count,
                m.results.checksum,
                m.drained_results
            ));
        }
        csv
    }
}

/// A latency in µs, written with the unit that reads best (µs, ms or s).
pub fn fmt_us(us: f64) -> String {
    if us < 10.0 {
        format!("{us:.2} µs")
    } else if us < 10_000.0 {
        format!("{us:.0} µs")
    } else if us < 10_000_000.0 {
        format!("{:.1} ms", us / 1e3)
    } else {
        format!("{:.2} s", us / 1e6)
    }
}

impl fmt::Display for CompareReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        writeln!(
            f,
            "workload {} at {} records/s offered, {:.1} s measured after {:.1} s warm-up, {} worker(s), {} repetition(s) interleaved",
            c.workload,
            c.rate,
            c.duration.as_secs_f64(),
            c.warmup.as_secs_f64(),
            c.workers,
            c.repeat
        )?;
        if let Some(note) = &self.incomplete {
            writeln!(f, "INCOMPLETE: {note}")?;
        }
        match &c.via {
            Some(brokers) => writeln!(f, "latency from the intended send time to a reader of the results' topic, through the Kafka broker at {brokers} both ways: medians over the repetitions (p50 range in brackets)")?,
            None => writeln!(f, "latency from the intended send time to the sink: medians over the repetitions (p50 range in brackets)")?,
        }
        writeln!(f, "latencies are of the steady state: results of the records offered between the warm-up and the end of the offered load (not those the end of the input fired)")?;
        writeln!(
            f,
            "{:<34} {:>30} {:>10} {:>10} {:>10} {:>10} {:>13} {:>10} {:>7}",
            "mode", "p50", "p90", "p99", "p99.9", "max", "achieved/s", "results", "cpu s"
        )?;
        for m in &self.modes {
            let name = m.name();
            let l = &m.latency_us;
            let [lo, hi] = m.latency_spread_us.p50;
            let p50 = format!("{} [{}–{}]", fmt_us(l.p50), fmt_us(lo), fmt_us(hi));
            writeln!(
                f,
                "{:<34} {:>30} {:>10} {:>10} {:>10} {:>10} {:>13.0} {:>10} {:>7.2}",
                name,
                p50,
                fmt_us(l.p90),
                fmt_us(l.p99),
                fmt_us(l.p999),
                fmt_us(l.max),
                m.throughput.achieved,
                m.results.count,
                m.cpu_s
            )?;
        }
        for m in self
            .modes
            .iter()
            .filter(|m| m.p50_ratio_to_per_record.is_some())
        {
            let name = m.name();
            writeln!(
                f,
                "p50 of {name} / per-record: {:.0}x (median of the per-repetition ratios)",
                m.p50_ratio_to_per_record.unwrap_or_default()
            )?;
        }
        for m in &self.modes {
            if let Some(b) = &m.burst_window_latency_us {
                writeln!(
                    f,
                    "{}: window results of the bursts, from the closing record's intended send time: p50 {}  p99 {}  max {} (the last result of the slowest burst)",
                    m.mode,
                    fmt_us(b.p50),
                    fmt_us(b.p99),
                    fmt_us(b.max)
                )?;
            }
        }
        for mode in &c.modes {
            if let Some(model) = mode.spark_model() {
                writeln!(f, "{mode}: {model}")?;
            }
        }
        for m in self.modes.iter().filter(|m| m.unstable_runs[0] > 0) {
            let trends = self
                .runs
                .iter()
                .filter(|r| {
                    r.result.mode == m.mode
                        && r.result.batch_interval_ms == m.batch_interval_ms
                        && r.result.guarantee == m.guarantee
                })
                .filter_map(|r| r.result.trend)
                .filter(|t| t.unstable)
                .map(|t| {
                    format!(
                        "{} to {}",
                        fmt_us(t.first_quarter_us),
                        fmt_us(t.last_quarter_us)
                    )
                })
                .collect::<Vec<_>>();
            writeln!(
                f,
                "{}: UNSTABLE in {} of {} runs: latency grew over the run (median of the first quarter to the last: {}); it processes less than the load",
                m.name(),
                m.unstable_runs[0],
                m.unstable_runs[1],
                trends.join(", ")
            )?;
        }
        for m in self.modes.iter().filter(|m| m.drained_results > 0) {
            writeln!(
                f,
                "{}: {} results fired by the end of the input (windows drained when it stopped) are counted in results, not in the latencies",
                m.name(),
                m.drained_results
            )?;
        }
        if let Some(m) = self.modes.iter().find(|m| m.comparable) {
            writeln!(
                f,
                "every run produced the same {} results (checksum {:016x})",
                m.results.count, m.results.checksum
            )?;
        }
        for m in self.modes.iter().filter(|m| !m.comparable) {
            match c.workload.nexmark() {
                Some(query) => writeln!(
                    f,
                    "{}: {query}'s windows are of processing time, so its {} results differ from run to run and are not checked",
                    m.name(),
                    m.results.count
                )?,
                None => writeln!(
                    f,
                    "{}: windows of processing time (batch times), so {} results not checked against Caudal's event-time windows",
                    m.name(),
                    m.results.count
                )?,
            }
        }
        // Latencies of at least 1 ns are recorded: a max of 0 means none was.
        for m in self.modes.iter().filter(|m| m.latency_us.max == 0.0) {
            writeln!(
                f,
                "{}: no result was due within the measured part, so there is no latency to show: run longer than the workload's windows (--duration)",
                m.name()
            )?;
        }
        for m in &self.modes {
            if let Some(version) = &m.version {
                writeln!(f, "{}: {version}; latency includes two loopback TCP hops (records in, results out); cpu s and memory are its process group's, without its start-up", m.name())?;
            }
        }
        if c.peers.is_empty() {
            writeln!(f, "real Spark Streaming and Flink can run beside these on the same records: scripts/setup-peers.sh once, then --peers spark,flink")?;
        }
        write!(f, "machine: {}", self.machine)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_growing_backlog_is_unstable_and_a_sawtooth_is_not() {
        // 20 s measured from 10 s on, a sample every 100 ms.
        let at = |i: usize| 10.0 + i as f64 * 0.1;
        // A backlog growing 0.5 s a second, already 15 s deep at the start.
        let growing: Vec<(f64, f64)> = (0..200)
            .map(|i| (at(i), 15e6 + 0.5e6 * i as f64 * 0.1))
            .collect();
        let t = Trend::of(&growing, 10.0, 30.0).unwrap();
        assert!(t.unstable, "{t:?}");
        // 1 s micro-batches: a sawtooth from 0 to 1 s, every second.
        let sawtooth: Vec<(f64, f64)> = (0..200)
            .map(|i| (at(i), 1e6 - (i % 10) as f64 * 1e5))
            .collect();
        let t = Trend::of(&sawtooth, 10.0, 30.0).unwrap();
        assert!(!t.unstable, "{t:?}");
        // Microseconds that double are noise, not a backlog.
        let fast: Vec<(f64, f64)> = (0..200)
            .map(|i| (at(i), if i < 100 { 1.0 } else { 3.0 }))
            .collect();
        assert!(!Trend::of(&fast, 10.0, 30.0).unwrap().unstable);
        assert!(Trend::of(&fast, 40.0, 50.0).is_none());
    }
}
