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
    /// How many times the modes run, interleaved (A B C A B C ...).
    pub repeat: usize,
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
                ExecutionMode::micro_batch(Duration::from_millis(10)),
                ExecutionMode::micro_batch(Duration::from_millis(100)),
                ExecutionMode::micro_batch(Duration::from_secs(1)),
                ExecutionMode::Batch,
            ],
            rate: 200_000.0,
            duration: Duration::from_secs(3),
            warmup: Duration::from_secs(1),
            workers: 1,
            repeat: 3,
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
    /// Offered and achieved throughput.
    pub throughput: Throughput,
    /// CPU time the process used during the run (user + system).
    pub cpu_s: f64,
    /// The process's peak resident memory so far, in bytes (from `/proc`; 0 where unavailable).
    pub peak_rss_bytes: u64,
    /// The results.
    pub results: ResultSummary,
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
    /// The batch interval of a micro-batch mode, in ms.
    pub batch_interval_ms: Option<u64>,
    /// Median over the repetitions of each percentile, in µs.
    pub latency_us: Percentiles,
    /// The same for latency from the event time each result is about.
    pub event_time_latency_us: Percentiles,
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
    /// Median over the repetitions of this mode's p50 divided by per-record's p50 in the same repetition.
    pub p50_ratio_to_per_record: Option<f64>,
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
    /// The producing record's position in the stream (or the window-closing record's).
    pub seq: u64,
    /// The event time the result is about, in ms: its record's, or its window's end.
    pub event_ms: i64,
    /// The result.
    pub value: T,
}

/// What a sink observed: latencies, the results' summary, and when the last result came.
struct Recording {
    histogram: Histogram<u64>,
    /// Latencies from the event time each result is about, in ns.
    event_histogram: Histogram<u64>,
    results: ResultSummary,
    last: Option<Instant>,
    /// Every `sample_every`-th result as (intended send time in s, latency in µs), for plots.
    samples: Vec<(f64, f64)>,
}

impl Recording {
    fn new() -> Self {
        // Latencies in nanoseconds, from 1 ns to an hour, to 3 significant digits.
        let histogram =
            Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid histogram bounds");
        Recording {
            event_histogram: histogram.clone(),
            histogram,
            results: ResultSummary::default(),
            last: None,
            samples: Vec::new(),
        }
    }

    fn merge(&mut self, other: &Recording) {
        self.histogram
            .add(&other.histogram)
            .expect("histograms with the same bounds");
        self.event_histogram
            .add(&other.event_histogram)
            .expect("histograms with the same bounds");
        self.results.count += other.results.count;
        self.results.checksum = self.results.checksum.wrapping_add(other.results.checksum);
        self.last = self.last.max(other.last);
        self.samples.extend_from_slice(&other.samples);
    }
}

/// Records latencies on each worker and merges them when the stream ends.
#[derive(Clone)]
struct LatencySink {
    schedule: Schedule,
    warmup_seq: u64,
    sample_every: u64,
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
            let Measured {
                seq,
                event_ms,
                value,
            } = &event.data;
            if *seq >= self.shared.warmup_seq {
                let event_at =
                    self.shared.schedule.start + Duration::from_millis((*event_ms).max(0) as u64);
                let event_ns = now.saturating_duration_since(event_at).as_nanos() as u64;
                rec.event_histogram.saturating_record(event_ns.max(1));
                let intended =
                    self.shared.schedule.start + self.shared.schedule.intended_offset(*seq);
                let ns = now.saturating_duration_since(intended).as_nanos() as u64;
                rec.histogram.saturating_record(ns.max(1));
                if seq % self.shared.sample_every == 0 {
                    let sent = self.shared.schedule.intended_offset(*seq).as_secs_f64();
                    rec.samples.push((sent, ns as f64 / 1e3));
                }
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

/// The event time of generated record `seq` at `rate`, in ms (the generator's own formula).
pub fn event_ms(seq: u64, rate: f64) -> i64 {
    (seq as f64 * (1000.0 / rate)) as i64
}

/// The first record whose event time reaches `end`: with a monotonic watermark, the record whose
/// arrival moved the watermark past a window ending at `end`, from whose intended send time the window
/// result's latency is measured. Event times follow the generator's: record `seq` at `seq * 1000 / rate`.
pub fn closing_seq(end: i64, rate: f64) -> u64 {
    let time = |seq: u64| event_ms(seq, rate);
    let mut seq = (end.max(0) as f64 * rate / 1000.0) as u64;
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
        event_ms: r.window.end,
        value: (r.key, r.window.start, r.value),
    };
    match workload {
        LabWorkload::Filter => posts
            .filter(|p| p.has_tag(Tag::VIU))
            .map(move |p| Measured {
                seq: p.seq,
                event_ms: event_ms(p.seq, rate),
                value: (Tag::VIU.0 as u64, 0, p.user as u64),
            }),
        LabWorkload::KeyedCount => posts.map(|p| (p.tags()[0].0 as u64, p.seq)).map_with_state(
            "KeyedCount",
            || 0u64,
            move |tag, n, seq| {
                *n += 1;
                Some(Measured {
                    seq,
                    event_ms: event_ms(seq, rate),
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
                event_ms: r.window.end,
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
        // About 2,000 points per run for the latency-over-time plot.
        sample_every: (total / 2000).max(1),
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
        event_histogram,
        results,
        last,
        mut samples,
    } = std::mem::replace(
        &mut *merged.lock().unwrap_or_else(|e| e.into_inner()),
        Recording::new(),
    );
    let read: u64 = report.sources.iter().map(|s| s.records).sum();
    let span = last
        .map_or(Duration::ZERO, |l| l.saturating_duration_since(start))
        .as_secs_f64()
        .max(1e-9);
    samples.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(ModeResult {
        mode: mode.kind().to_string(),
        batch_interval_ms: mode.batch_interval().map(|d| d.as_millis() as u64),
        latency_us: Percentiles::of(&histogram),
        event_time_latency_us: Percentiles::of(&event_histogram),
        throughput: Throughput {
            offered: config.rate,
            achieved: read as f64 / span,
        },
        cpu_s,
        peak_rss_bytes: peak_rss_bytes(),
        results,
        histogram,
        samples,
    })
}

/// The process's peak resident set size, from `/proc/self/status` (0 where unavailable).
pub fn peak_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

fn range(values: impl Iterator<Item = f64> + Clone) -> [f64; 2] {
    [
        values.clone().fold(f64::INFINITY, f64::min),
        values.fold(f64::NEG_INFINITY, f64::max),
    ]
}

impl CompareConfig {
    /// The `caudal compare` command line that runs this configuration again.
    pub fn command(&self) -> String {
        let modes: Vec<String> = self
            .modes
            .iter()
            .map(|m| match m {
                ExecutionMode::MicroBatch { interval, .. } => {
                    format!("micro-batch:{}", humantime::format_duration(*interval))
                }
                other => other.kind().to_string(),
            })
            .collect();
        let overhead = self.modes.iter().find_map(|m| match m {
            ExecutionMode::MicroBatch { overhead, .. } => Some(*overhead),
            _ => None,
        });
        let mut command = format!(
            "caudal compare --workload {} --modes {} --rate {} --duration {} --warmup {} --repeat {} --workers {}",
            self.workload,
            modes.join(","),
            self.rate,
            humantime::format_duration(self.duration),
            humantime::format_duration(self.warmup),
            self.repeat,
            self.workers
        );
        if let Some(overhead) = overhead.filter(|o| !o.is_zero()) {
            command.push_str(&format!(
                " --batch-overhead {}",
                humantime::format_duration(overhead)
            ));
        }
        command
    }
}

/// Runs every mode of `config`, interleaved, `repeat` times; checks that every run gives the same
/// results; summarizes each mode by medians. `progress` hears of each run before it starts.
pub fn compare(
    config: &CompareConfig,
    mut progress: impl FnMut(usize, &ExecutionMode),
) -> Result<CompareReport, CompareError> {
    let mut runs: Vec<RunRecord> = Vec::new();
    for repetition in 0..config.repeat.max(1) {
        for (mode_index, mode) in config.modes.iter().enumerate() {
            progress(repetition, mode);
            let result = measure(config, *mode)?;
            if let Some(first) = runs.first() {
                if first.result.results != result.results {
                    return Err(CompareError::Mismatch {
                        first: first.result.mode.clone(),
                        a: first.result.results,
                        second: result.mode,
                        b: result.results,
                    });
                }
            }
            runs.push(RunRecord {
                repetition,
                mode_index,
                result,
            });
        }
    }
    let per_record_p50 = |repetition: usize| {
        runs.iter()
            .find(|r| r.repetition == repetition && r.result.mode == "per-record")
            .map(|r| r.result.latency_us.p50)
    };
    let modes = (0..config.modes.len())
        .map(|i| {
            let mine: Vec<&RunRecord> = runs.iter().filter(|r| r.mode_index == i).collect();
            let first = &mine[0].result;
            let med =
                |f: fn(&ModeResult) -> f64| median(mine.iter().map(|r| f(&r.result)).collect());
            let med_percentiles = |f: fn(&ModeResult) -> &Percentiles| {
                let of = |g: fn(&Percentiles) -> f64| {
                    median(mine.iter().map(|r| g(f(&r.result))).collect())
                };
                Percentiles {
                    p50: of(|p| p.p50),
                    p90: of(|p| p.p90),
                    p99: of(|p| p.p99),
                    p999: of(|p| p.p999),
                    max: of(|p| p.max),
                }
            };
            let ratios: Vec<f64> = mine
                .iter()
                .filter_map(|r| {
                    per_record_p50(r.repetition).map(|pr| r.result.latency_us.p50 / pr.max(1e-3))
                })
                .collect();
            ModeSummary {
                mode: first.mode.clone(),
                batch_interval_ms: first.batch_interval_ms,
                latency_us: med_percentiles(|r| &r.latency_us),
                event_time_latency_us: med_percentiles(|r| &r.event_time_latency_us),
                latency_spread_us: Spread {
                    p50: range(mine.iter().map(|r| r.result.latency_us.p50)),
                    p99: range(mine.iter().map(|r| r.result.latency_us.p99)),
                },
                throughput: Throughput {
                    offered: config.rate,
                    achieved: med(|r| r.throughput.achieved),
                },
                cpu_s: med(|r| r.cpu_s),
                peak_rss_bytes: mine.last().map_or(0, |r| r.result.peak_rss_bytes),
                results: first.results,
                p50_ratio_to_per_record: (first.mode != "per-record" && !ratios.is_empty())
                    .then(|| median(ratios)),
            }
        })
        .collect();
    Ok(CompareReport {
        config: config.clone(),
        command: config.command(),
        machine: machine_description(),
        modes,
        runs,
    })
}

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
    /// Whether the mode kept up: achieved within 5 % of offered and p99 under the bound.
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
            let r = measure(&at_rate, *mode)?;
            let sustainable = r.throughput.achieved >= 0.95 * rate && r.latency_us.p99 <= bound_us;
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

impl CompareReport {
    /// Every run as CSV: a header line, then one row per run.
    pub fn to_csv(&self) -> String {
        let mut csv = String::from("repetition,mode,batch_interval_ms,p50_us,p90_us,p99_us,p999_us,max_us,event_p50_us,event_p99_us,offered_per_s,achieved_per_s,cpu_s,peak_rss_bytes,results,checksum\n");
        for r in &self.runs {
            let (m, l) = (&r.result, &r.result.latency_us);
            csv.push_str(&format!(
                "{},{},{},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{:.0},{:.0},{:.3},{},{},{:016x}\n",
                r.repetition,
                m.mode,
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
                m.results.checksum
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
        writeln!(f, "latency from the intended send time to the sink: medians over the repetitions (p50 range in brackets)")?;
        writeln!(
            f,
            "{:<20} {:>30} {:>10} {:>10} {:>10} {:>10} {:>13} {:>10} {:>7}",
            "mode", "p50", "p90", "p99", "p99.9", "max", "achieved/s", "results", "cpu s"
        )?;
        for m in &self.modes {
            let name = match m.batch_interval_ms {
                Some(ms) => format!("{} {ms}ms", m.mode),
                None => m.mode.clone(),
            };
            let l = &m.latency_us;
            let [lo, hi] = m.latency_spread_us.p50;
            let p50 = format!("{} [{}–{}]", fmt_us(l.p50), fmt_us(lo), fmt_us(hi));
            writeln!(
                f,
                "{:<20} {:>30} {:>10} {:>10} {:>10} {:>10} {:>13.0} {:>10} {:>7.2}",
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
            let name = m
                .batch_interval_ms
                .map_or(m.mode.clone(), |ms| format!("{} {ms}ms", m.mode));
            writeln!(
                f,
                "p50 of {name} / per-record: {:.0}x (median of the per-repetition ratios)",
                m.p50_ratio_to_per_record.unwrap_or_default()
            )?;
        }
        if let Some(m) = self.modes.first() {
            writeln!(
                f,
                "every run produced the same {} results (checksum {:016x})",
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
