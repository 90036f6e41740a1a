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
use crate::workload::{Posts, Tag};

/// The workloads `caudal compare` knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum LabWorkload {
    /// Stateless: keep the posts tagged #VIU.
    Filter,
    /// A running count per hashtag: one updated count out per post in.
    KeyedCount,
}

impl fmt::Display for LabWorkload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LabWorkload::Filter => "filter",
            LabWorkload::KeyedCount => "keyed-count",
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

/// Latency percentiles, in microseconds.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// The largest.
    pub max: u64,
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
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

/// Per-worker latency recording, merged at the end.
#[derive(Clone)]
struct LatencySink {
    schedule: Schedule,
    warmup_seq: u64,
    merged: Arc<Mutex<(Histogram<u64>, ResultSummary, Option<Instant>)>>,
}

struct LatencySinkWorker {
    shared: LatencySink,
    histogram: Histogram<u64>,
    summary: ResultSummary,
    last: Option<Instant>,
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

impl<T: Hash + 'static> Sink<Measured<T>> for LatencySinkWorker {
    fn write(&mut self, records: &mut Vec<Event<Measured<T>>>) -> Result<(), SinkError> {
        let now = Instant::now();
        for event in records.iter() {
            let Measured { seq, value } = &event.data;
            if *seq >= self.shared.warmup_seq {
                let intended =
                    self.shared.schedule.start + self.shared.schedule.intended_offset(*seq);
                let us = now.saturating_duration_since(intended).as_micros() as u64;
                self.histogram.saturating_record(us.max(1));
            }
            let mut h = rustc_hash::FxHasher::default();
            value.hash(&mut h);
            self.summary.count += 1;
            self.summary.checksum = self
                .summary
                .checksum
                .wrapping_add(crate::workload::mix(0, h.finish()));
        }
        self.last = Some(now);
        Ok(())
    }

    fn progress(&mut self, frontier: Option<u64>) -> Result<(), SinkError> {
        if frontier.is_none() {
            let mut merged = self.shared.merged.lock().unwrap_or_else(|e| e.into_inner());
            merged
                .0
                .add(&self.histogram)
                .expect("same histogram bounds");
            merged.1.count += self.summary.count;
            merged.1.checksum = merged.1.checksum.wrapping_add(self.summary.checksum);
            merged.2 = merged.2.max(self.last);
        }
        Ok(())
    }
}

impl<T: Hash + 'static> SinkFactory<Measured<T>> for LatencySink {
    fn make(&self, _worker: WorkerInfo) -> Result<Box<dyn Sink<Measured<T>>>, SinkError> {
        Ok(Box::new(LatencySinkWorker {
            shared: self.clone(),
            histogram: new_histogram(),
            summary: ResultSummary {
                count: 0,
                checksum: 0,
            },
            last: None,
        }))
    }
}

/// CPU seconds (user + system) this process has used, from `/proc/self/stat` (0 where unavailable).
pub fn process_cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15 overall.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // USER_HZ is 100 on Linux.
    (ticks(11) + ticks(12)) / 100.0
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

/// The lab's pipelines: every result carries the `seq` of the post that produced it.
pub fn lab_pipeline(
    workload: LabWorkload,
    posts: EventStream<'_, crate::workload::Post>,
) -> EventStream<'_, Measured<(Tag, u64)>> {
    match workload {
        LabWorkload::Filter => posts.filter(|p| p.has_tag(Tag::VIU)).map(|p| Measured {
            seq: p.seq,
            value: (Tag::VIU, p.user as u64),
        }),
        LabWorkload::KeyedCount => posts.map(|p| (p.tags()[0], p.seq)).map_with_state(
            "KeyedCount",
            || 0u64,
            |tag, n, seq| {
                *n += 1;
                Some(Measured {
                    seq,
                    value: (*tag, *n),
                })
            },
        ),
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
    let source: Arc<dyn SourceFactory<crate::workload::Post>> = Arc::new(
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
        merged: Arc::new(Mutex::new((
            new_histogram(),
            ResultSummary {
                count: 0,
                checksum: 0,
            },
            None,
        ))),
    };
    let merged = sink.merged.clone();
    let lab = config.workload;
    let cpu_before = process_cpu_seconds();
    let report = run(RunConfig::new(mode).workers(config.workers), move |df| {
        let posts = df.source("posts", &*source);
        df.sink("latency", lab_pipeline(lab, posts), &sink);
    })?;
    let cpu_s = process_cpu_seconds() - cpu_before;
    let (histogram, results, last) = std::mem::replace(
        &mut *merged.lock().unwrap_or_else(|e| e.into_inner()),
        (
            new_histogram(),
            ResultSummary {
                count: 0,
                checksum: 0,
            },
            None,
        ),
    );
    let read: u64 = report.sources.iter().map(|s| s.records).sum();
    let span = last
        .map_or(Duration::ZERO, |l| l.saturating_duration_since(start))
        .as_secs_f64()
        .max(1e-9);
    let q = |p: f64| histogram.value_at_quantile(p);
    Ok(ModeResult {
        mode: mode.kind().to_string(),
        batch_interval_ms: mode.batch_interval().map(|d| d.as_millis() as u64),
        latency_us: Percentiles {
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            p999: q(0.999),
            max: histogram.max(),
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

fn fmt_us(us: u64) -> String {
    match us {
        0..=9_999 => format!("{us} µs"),
        10_000..=9_999_999 => format!("{:.1} ms", us as f64 / 1e3),
        _ => format!("{:.2} s", us as f64 / 1e6),
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
            let ratio = first.latency_us.p50 as f64 / per_record.latency_us.p50.max(1) as f64;
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
