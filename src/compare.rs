//! `caudal compare`: one workload, the same records, run per-record, in micro-batches and as a batch;
//! end-to-end latency and throughput of each, side by side.
//!
//! Method (see DESIGN §6): the generator is open loop at a fixed offered rate; record `seq` is due at
//! `start + seq / rate`, its *intended* send time, and a result's latency is the time the sink sees it
//! minus the intended send time of the record that produced it. A stalled pipeline therefore cannot hide
//! its stall (no coordinated omission). Latencies after the warm-up go into an HDR histogram (3
//! significant digits). Every mode reads the same bounded stream, and the number and an order-independent
//! checksum of the results must agree across modes; a mismatch is an error.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use caudal_operators::{Event, EventStream};
use hdrhistogram::Histogram;
use serde::Serialize;

use crate::config::RunConfig;
use crate::mode::ExecutionMode;
use crate::pipeline::{run, RunError};
use crate::sink::{Sink, SinkError, SinkFactory};
use crate::source::generator::{Generator, GeneratorConfig, Schedule};
use crate::source::{SourceFactory, WorkerInfo};
use crate::workload::{Post, Posts, Tag};
use caudal_operators::window::aggregate::{Count, Sum};
use caudal_operators::window::join::JoinKind;
use caudal_operators::window::{split, SlidingWindows, WindowResult};
use caudal_operators::WatermarkStrategy;

/// The workloads `caudal compare` knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum LabWorkload {
    /// Stateless: keep the posts tagged #VIU.
    Filter,
    /// A running count per hashtag: one updated count out per post in.
    KeyedCount,
    /// Posts per hashtag in 1 s tumbling windows.
    Tumbling,
    /// Every 100 ms, the posts per hashtag over the last second (sliding windows).
    Sliding,
    /// Posts per user session, a session closing after 20 ms without a post of the user.
    Session,
    /// A windowed join: each user's even and odd posts paired within 100 ms tumbling windows.
    Join,
}

impl fmt::Display for LabWorkload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LabWorkload::Filter => "filter",
            LabWorkload::KeyedCount => "keyed-count",
            LabWorkload::Tumbling => "tumbling",
            LabWorkload::Sliding => "sliding",
            LabWorkload::Session => "session",
            LabWorkload::Join => "join",
        })
    }
}

/// What to compare, and how hard.
#[derive(Clone, Debug, Serialize)]
pub struct CompareConfig {
    /// The workload.
    pub workload: LabWorkload,
    /// The modes, run in this order.
    pub modes: Vec<ExecutionMode>,
    /// Offered load, records per second over all workers.
    pub rate: f64,
    /// How long the measured part of each run lasts.
    #[serde(serialize_with = "as_secs")]
    pub duration: Duration,
    /// How long each run warms up before latencies count.
    #[serde(serialize_with = "as_secs")]
    pub warmup: Duration,
    /// Worker threads.
    pub workers: usize,
}

fn as_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl Default for CompareConfig {
    fn default() -> Self {
        CompareConfig {
            workload: LabWorkload::KeyedCount,
            modes: vec![
                ExecutionMode::PerRecord,
                ExecutionMode::micro_batch(Duration::from_millis(100)),
                ExecutionMode::Batch,
            ],
            rate: 200_000.0,
            duration: Duration::from_secs(5),
            warmup: Duration::from_secs(1),
            workers: 1,
        }
    }
}

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
    /// The batch interval of a micro-batch mode, in ms.
    pub batch_interval_ms: Option<u64>,
    /// End-to-end latency after the warm-up.
    pub latency_us: Percentiles,
    /// Offered and achieved throughput.
    pub throughput: Throughput,
    /// CPU time the process used during the run (user + system).
    pub cpu_s: f64,
    /// The results.
    pub results: ResultSummary,
}

/// The whole comparison, as written to JSON.
#[derive(Clone, Debug, Serialize)]
pub struct CompareReport {
    /// What was run.
    pub config: CompareConfig,
    /// One entry per mode, in the order run.
    pub modes: Vec<ModeResult>,
    /// The machine it ran on.
    pub machine: String,
}

/// What went wrong in a comparison.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// A run failed.
    #[error(transparent)]
    Run(#[from] RunError),
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

/// A result tagged with the record that produced it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Deserialize, Serialize)]
pub struct Measured<T> {
    /// The producing record's position in the stream.
    pub seq: u64,
    /// The result.
    pub value: T,
}

/// What a sink observed: latencies, the results' summary, and when the last result came.
struct Recording {
    histogram: Histogram<u64>,
    results: ResultSummary,
    last: Option<Instant>,
}

impl Recording {
    fn new() -> Self {
        // Latencies in nanoseconds, from 1 ns to an hour, to 3 significant digits.
        let histogram =
            Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid histogram bounds");
        Recording {
            histogram,
            results: ResultSummary::default(),
            last: None,
        }
    }

    fn merge(&mut self, other: &Recording) {
        self.histogram
            .add(&other.histogram)
            .expect("histograms with the same bounds");
        self.results.count += other.results.count;
        self.results.checksum = self.results.checksum.wrapping_add(other.results.checksum);
        self.last = self.last.max(other.last);
    }
}

/// Records latencies on each worker and merges them when the stream ends.
#[derive(Clone)]
struct LatencySink {
    schedule: Schedule,
    warmup_seq: u64,
    merged: Arc<Mutex<Recording>>,
}

struct LatencySinkWorker {
    shared: LatencySink,
    recording: Recording,
}

impl<T: Hash + 'static> Sink<Measured<T>> for LatencySinkWorker {
    fn write(&mut self, records: &mut Vec<Event<Measured<T>>>) -> Result<(), SinkError> {
        let now = Instant::now();
        let rec = &mut self.recording;
        for event in records.iter() {
            let Measured { seq, value } = &event.data;
            if *seq >= self.shared.warmup_seq {
                let intended =
                    self.shared.schedule.start + self.shared.schedule.intended_offset(*seq);
                let ns = now.saturating_duration_since(intended).as_nanos() as u64;
                rec.histogram.saturating_record(ns.max(1));
            }
            let mut h = rustc_hash::FxHasher::default();
            value.hash(&mut h);
            rec.results.count += 1;
            rec.results.checksum = rec
                .results
                .checksum
                .wrapping_add(crate::workload::mix(0, h.finish()));
        }
        rec.last = Some(now);
        Ok(())
    }

    fn progress(&mut self, frontier: Option<u64>) -> Result<(), SinkError> {
        if frontier.is_none() {
            self.shared
                .merged
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .merge(&self.recording);
        }
        Ok(())
    }
}

impl<T: Hash + 'static> SinkFactory<Measured<T>> for LatencySink {
    fn make(&self, _worker: WorkerInfo) -> Result<Box<dyn Sink<Measured<T>>>, SinkError> {
        Ok(Box::new(LatencySinkWorker {
            shared: self.clone(),
            recording: Recording::new(),
        }))
    }
}

/// CPU seconds (user + system) this process has used, all threads included, ended ones too
/// (`getrusage`, microsecond resolution).
pub fn process_cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct it is given, which is plain old data.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut usage) != 0 {
            return 0.0;
        }
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// A one-line description of the machine.
pub fn machine_description() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!(
        "{cpu}, {cores} cores, {} {}",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

impl LabWorkload {
    /// The watermark the workload runs with. Sessions get 1 ms of out-of-orderness: with a monotonic
    /// watermark a session ending at `e` fires as soon as a record at `e` is read, and whether another
    /// record at exactly `e` still merges into it would depend on how records are grouped into
    /// activations or batches, so results would differ between modes.
    pub fn watermark(&self) -> WatermarkStrategy {
        match self {
            LabWorkload::Session => WatermarkStrategy::BoundedOutOfOrderness { max_delay_ms: 1 },
            _ => WatermarkStrategy::Monotonic,
        }
    }

    /// How far the watermark trails the largest event time, in ms.
    fn watermark_delay(&self) -> i64 {
        match self.watermark() {
            WatermarkStrategy::BoundedOutOfOrderness { max_delay_ms } => max_delay_ms as i64,
            _ => 0,
        }
    }
}

/// The first record whose event time reaches `end`: with a monotonic watermark, the record whose
/// arrival moved the watermark past a window ending at `end`, from whose intended send time the window
/// result's latency is measured. Event times follow the generator's: record `seq` at `seq * 1000 / rate`.
pub fn closing_seq(end: i64, rate: f64) -> u64 {
    let end = end.max(0) as u64;
    let ms_per_record = 1000.0 / rate;
    let time = |seq: u64| (seq as f64 * ms_per_record) as u64;
    let mut seq = (end as f64 * rate / 1000.0) as u64;
    while time(seq) < end {
        seq += 1;
    }
    while seq > 0 && time(seq - 1) >= end {
        seq -= 1;
    }
    seq
}

/// The lab's pipelines over posts offered at `rate`. Every result carries the `seq` of the post it is
/// measured from (the post itself, or the post that closed its window) and `(key, window start, value)`.
pub fn lab_pipeline(
    workload: LabWorkload,
    posts: EventStream<'_, Post>,
    rate: f64,
) -> EventStream<'_, Measured<(u64, i64, u64)>> {
    // The record that moved the watermark past a window's end: the first at `end + delay`.
    let delay = workload.watermark_delay();
    let measured = move |r: WindowResult<u64, u64>| Measured {
        seq: closing_seq(r.window.end + delay, rate),
        value: (r.key, r.window.start, r.value),
    };
    match workload {
        LabWorkload::Filter => posts.filter(|p| p.has_tag(Tag::VIU)).map(|p| Measured {
            seq: p.seq,
            value: (Tag::VIU.0 as u64, 0, p.user as u64),
        }),
        LabWorkload::KeyedCount => posts.map(|p| (p.tags()[0].0 as u64, p.seq)).map_with_state(
            "KeyedCount",
            || 0u64,
            |tag, n, seq| {
                *n += 1;
                Some(Measured {
                    seq,
                    value: (*tag, 0, *n),
                })
            },
        ),
        LabWorkload::Tumbling => {
            let tumbling = SlidingWindows::tumbling(1000, 0).expect("valid windows");
            split(
                posts
                    .map(|p| (p.tags()[0].0 as u64, ()))
                    .window(tumbling, 0, Count),
            )
            .0
            .map(measured)
        }
        LabWorkload::Sliding => {
            let sliding = SlidingWindows::sliding(1000, 100, 0).expect("valid windows");
            split(
                posts
                    .map(|p| (p.tags()[0].0 as u64, 1u64))
                    .window(sliding, 0, Sum),
            )
            .0
            .map(measured)
        }
        LabWorkload::Session => split(
            posts
                .map(|p| (p.user as u64, ()))
                .session_window(20, 0, Count),
        )
        .0
        .map(measured),
        LabWorkload::Join => {
            let even = posts
                .clone()
                .filter(|p| p.seq % 2 == 0)
                .map(|p| (p.user as u64, p.seq));
            let odd = posts
                .filter(|p| p.seq % 2 == 1)
                .map(|p| (p.user as u64, p.seq));
            let tumbling = SlidingWindows::tumbling(100, 0).expect("valid windows");
            let (rows, _late) = even.window_join(odd, tumbling, 0, JoinKind::Inner);
            rows.map(move |r| Measured {
                seq: closing_seq(r.window.end + delay, rate),
                value: (
                    r.key,
                    r.window.start,
                    r.left
                        .unwrap_or(0)
                        .wrapping_mul(1_000_003)
                        .wrapping_add(r.right.unwrap_or(0)),
                ),
            })
        }
    }
}

/// Runs the workload once in `mode`.
pub fn measure(config: &CompareConfig, mode: ExecutionMode) -> Result<ModeResult, RunError> {
    let total = ((config.warmup + config.duration).as_secs_f64() * config.rate) as u64;
    // Give the workers a moment to start before record 0 is due.
    let start = Instant::now() + Duration::from_millis(50);
    let schedule = Schedule {
        start,
        rate: Some(config.rate),
    };
    let generator_config = GeneratorConfig {
        rate: Some(config.rate),
        limit: Some(total),
        start: Some(start),
        ..Default::default()
    };
    let workload = Arc::new(Posts::default());
    let source: Arc<dyn SourceFactory<Post>> = Arc::new(
        move |w: WorkerInfo| -> Box<dyn crate::source::Source<Item = _>> {
            Box::new(Generator::new(
                workload.clone(),
                generator_config.clone(),
                w,
            ))
        },
    );
    let sink = LatencySink {
        schedule,
        warmup_seq: (config.warmup.as_secs_f64() * config.rate) as u64,
        merged: Arc::new(Mutex::new(Recording::new())),
    };
    let merged = sink.merged.clone();
    let lab = config.workload;
    let rate = config.rate;
    let cpu_before = process_cpu_seconds();
    let report = run(
        RunConfig::new(mode)
            .workers(config.workers)
            .watermark(lab.watermark()),
        move |df| {
            let posts = df.source("posts", &*source);
            df.sink("latency", lab_pipeline(lab, posts, rate), &sink);
        },
    )?;
    let cpu_s = process_cpu_seconds() - cpu_before;
    let Recording {
        histogram,
        results,
        last,
    } = std::mem::replace(
        &mut *merged.lock().unwrap_or_else(|e| e.into_inner()),
        Recording::new(),
    );
    let read: u64 = report.sources.iter().map(|s| s.records).sum();
    let span = last
        .map_or(Duration::ZERO, |l| l.saturating_duration_since(start))
        .as_secs_f64()
        .max(1e-9);
    let q = |p: f64| histogram.value_at_quantile(p) as f64 / 1e3;
    Ok(ModeResult {
        mode: mode.kind().to_string(),
        batch_interval_ms: mode.batch_interval().map(|d| d.as_millis() as u64),
        latency_us: Percentiles {
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            p999: q(0.999),
            max: histogram.max() as f64 / 1e3,
        },
        throughput: Throughput {
            offered: config.rate,
            achieved: read as f64 / span,
        },
        cpu_s,
        results,
    })
}

/// Runs every mode of `config` in turn and checks that they agree.
pub fn compare(
    config: &CompareConfig,
    mut progress: impl FnMut(&ExecutionMode),
) -> Result<CompareReport, CompareError> {
    let mut modes: Vec<ModeResult> = Vec::new();
    for mode in &config.modes {
        progress(mode);
        let result = measure(config, *mode)?;
        if let Some(first) = modes.first() {
            if first.results != result.results {
                return Err(CompareError::Mismatch {
                    first: first.mode.clone(),
                    a: first.results,
                    second: result.mode,
                    b: result.results,
                });
            }
        }
        modes.push(result);
    }
    Ok(CompareReport {
        config: config.clone(),
        modes,
        machine: machine_description(),
    })
}

fn fmt_us(us: f64) -> String {
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
            "workload {} at {} records/s offered, {:.0} s measured after {:.0} s warm-up, {} worker(s)",
            c.workload,
            c.rate,
            c.duration.as_secs_f64(),
            c.warmup.as_secs_f64(),
            c.workers
        )?;
        writeln!(
            f,
            "{:<20} {:>10} {:>10} {:>10} {:>10} {:>10} {:>14} {:>10} {:>8}",
            "mode", "p50", "p90", "p99", "p99.9", "max", "achieved/s", "results", "cpu s"
        )?;
        for m in &self.modes {
            let name = match m.batch_interval_ms {
                Some(ms) => format!("{} {ms}ms", m.mode),
                None => m.mode.clone(),
            };
            let l = &m.latency_us;
            writeln!(
                f,
                "{:<20} {:>10} {:>10} {:>10} {:>10} {:>10} {:>14.0} {:>10} {:>8.2}",
                name,
                fmt_us(l.p50),
                fmt_us(l.p90),
                fmt_us(l.p99),
                fmt_us(l.p999),
                fmt_us(l.max),
                m.throughput.achieved,
                m.results.count,
                m.cpu_s
            )?;
        }
        if let (Some(first), Some(per_record)) = (
            self.modes.iter().find(|m| m.mode != "per-record"),
            self.modes.iter().find(|m| m.mode == "per-record"),
        ) {
            let ratio = first.latency_us.p50 / per_record.latency_us.p50.max(1e-3);
            writeln!(
                f,
                "p50 latency of {} is {ratio:.0}x that of per-record",
                first.mode
            )?;
        }
        if let Some(m) = self.modes.first() {
            writeln!(
                f,
                "every mode produced the same {} results (checksum {:016x})",
                m.results.count, m.results.checksum
            )?;
        }
        write!(f, "machine: {}", self.machine)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closing_seq_is_the_first_record_at_or_after_the_end() {
        for rate in [1000.0, 3333.0, 200_000.0, 1_000_000.0] {
            let time = |seq: u64| (seq as f64 * (1000.0 / rate)) as u64;
            for end in [1i64, 7, 100, 999, 1000, 12_345] {
                let seq = closing_seq(end, rate);
                assert!(time(seq) >= end as u64, "rate {rate}, end {end}");
                assert!(
                    seq == 0 || time(seq - 1) < end as u64,
                    "rate {rate}, end {end}"
                );
            }
        }
    }
}
