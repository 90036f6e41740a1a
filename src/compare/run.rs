//! One measured run of a workload in one mode, and the interleaved comparison of modes.

use super::config::{CompareConfig, Contender};
use super::nexmark::NumberedNexmark;
use super::pipelines::{lab_pipeline, LabTime, Measured};
use super::report::{
    median, range, CompareError, CompareReport, ModeResult, ModeSummary, Percentiles, RunRecord,
    Spread, Throughput,
};
use super::sink::LatencySink;
use crate::checkpoint::{CheckpointConfig, Guarantee};
use crate::config::RunConfig;
use crate::mode::ExecutionMode;
use crate::pipeline::{launch, RunError};
use crate::source::generator::{GeneratorConfig, GeneratorFactory, Schedule};
use crate::system::{machine_description, peak_rss_bytes, process_cpu_seconds};
use crate::workload::{Posts, Workload};
use caudal_operators::{EventStream, WatermarkStrategy};
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Numbers the scratch checkpoint directories of a process's runs.
static SCRATCH: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Runs the workload once in `mode` under `guarantee` (checkpoints in a scratch directory, removed
/// afterwards; under exactly-once a result counts as seen when the checkpoint round that covers it
/// stages it, as a transactional sink's output becomes visible).
pub fn measure(
    config: &CompareConfig,
    mode: ExecutionMode,
    guarantee: Guarantee,
) -> Result<ModeResult, RunError> {
    measure_unless(config, mode, guarantee, &AtomicBool::new(false))
        .map(|r| r.expect("a run that is not interrupted finishes"))
}

/// [`measure`], stopped early when `interrupted` is raised: then `None` (a cut-short run measures
/// nothing worth keeping).
pub fn measure_unless(
    config: &CompareConfig,
    mode: ExecutionMode,
    guarantee: Guarantee,
    interrupted: &AtomicBool,
) -> Result<Option<ModeResult>, RunError> {
    // The checks of the command line, for callers of the library too (NEXMark through a broker).
    config.check().map_err(RunError::Input)?;
    let total = ((config.warmup + config.duration).as_secs_f64() * config.rate) as u64;
    let run = SCRATCH.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // Through a broker: the run's topics are made before the clock starts.
    #[cfg(feature = "kafka")]
    let leg = match &config.via {
        Some(brokers) => Some(super::via_kafka::Leg::create(brokers, run)?),
        None => None,
    };
    #[cfg(not(feature = "kafka"))]
    if config.via.is_some() {
        return Err(RunError::Input(
            "--via needs Kafka: this caudal was built without it (cargo build --features kafka)"
                .into(),
        ));
    }
    // Give the workers (and, through a broker, the clients) a moment to start before record 0 is due.
    let start = Instant::now()
        + match config.via {
            Some(_) => Duration::from_millis(300),
            None => Duration::from_millis(50),
        };
    let schedule = Schedule {
        start,
        rate: Some(config.rate),
    };
    // Under Spark's model, windows are Spark's: of processing time, a batch's records in the windows
    // that end at its batch time. Their results differ from event-time windows', as real Spark's do.
    let spark_windows = mode.spark_model().is_some() && config.workload.spark_windows();
    let (watermark, time) = match spark_windows {
        true => (
            WatermarkStrategy::ProcessingTime,
            LabTime::SparkBatches {
                from_ms: unix_ms_at(start),
            },
        ),
        false => (config.watermark(), LabTime::Event),
    };
    let generator_config = GeneratorConfig {
        rate: Some(config.rate),
        limit: Some(total),
        start: Some(start),
        disorder_ms: config.shape.disorder_ms(),
        ..Default::default()
    };
    let sink = LatencySink::for_run(config, schedule, total);
    let scratch = std::env::temp_dir().join(format!(
        "caudal-lab-checkpoints-{}-{run}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&scratch);
    let mut run_config = RunConfig::new(mode)
        .workers(config.workers)
        .watermark(watermark)
        .work_budget(config.work_budget);
    if guarantee.checkpoints() {
        run_config = run_config.checkpoints(
            CheckpointConfig::new(guarantee, &scratch, "lab").interval(config.checkpoint_interval),
        );
    }
    let recorder = sink.clone();
    let lab = config.workload;
    let rate = config.rate;
    let cpu_before = process_cpu_seconds();
    #[cfg(feature = "kafka")]
    let through_broker = leg.map(|leg| {
        leg.run(
            run_config.clone(),
            scratch.join("kafka-staged"),
            lab,
            config.shape,
            rate,
            schedule,
            total,
            sink.clone(),
            interrupted,
        )
    });
    #[cfg(not(feature = "kafka"))]
    let through_broker: Option<Result<crate::report::RunReport, RunError>> = None;
    let report = match through_broker {
        Some(report) => report,
        None => match lab.nexmark() {
            None => {
                let shape = config.shape;
                in_process(
                    run_config,
                    (
                        "posts",
                        GeneratorFactory::new(Posts::default(), generator_config),
                    ),
                    sink,
                    move |posts| lab_pipeline(lab, posts, rate, shape, time),
                    interrupted,
                )
            }
            Some(query) => {
                let from_ms = unix_ms_at(start);
                in_process(
                    run_config,
                    (
                        "nexmark",
                        GeneratorFactory::new(NumberedNexmark::at_rate(rate), generator_config),
                    ),
                    sink,
                    move |events| super::nexmark::lab_query(query, events, rate, from_ms),
                    interrupted,
                )
            }
        },
    };
    let _ = std::fs::remove_dir_all(&scratch);
    let report = report?;
    if interrupted.load(Ordering::Acquire) {
        return Ok(None);
    }
    let cpu_s = process_cpu_seconds() - cpu_before;
    let read: u64 = report.sources.iter().map(|s| s.records).sum();
    let measured = recorder.take(config);
    Ok(Some(ModeResult {
        mode: mode.kind().to_string(),
        guarantee: guarantee.to_string(),
        batch_interval_ms: mode.batch_interval().map(|d| d.as_millis() as u64),
        latency_us: measured.latency_us,
        event_time_latency_us: measured.event_time_latency_us,
        burst_window_latency_us: measured.burst_window_latency_us,
        throughput: Throughput {
            offered: config.rate,
            achieved: read as f64 / measured.span_s,
        },
        cpu_s,
        peak_rss_bytes: peak_rss_bytes(),
        capped_batches: report.sources.iter().map(|s| s.capped).sum(),
        results: measured.results,
        drained_results: measured.drained,
        histogram: measured.histogram,
        version: None,
        comparable: !spark_windows && lab.nexmark().is_none_or(super::nexmark::comparable),
        spark_seed: mode.spark_model().map(|model| model.seed),
        spark_batches: Vec::new(),
        trend: measured.trend,
        samples: measured.samples,
    }))
}

/// Runs every mode of `config`, interleaved, `repeat` times; checks that every run gives the same
/// results; summarizes each mode by medians. `progress` hears of each run before it starts.
pub fn compare(
    config: &CompareConfig,
    progress: impl FnMut(usize, &Contender),
) -> Result<CompareReport, CompareError> {
    compare_unless(config, &AtomicBool::new(false), progress)
}

/// [`compare`], stopped when `interrupted` is raised: the run under way is dropped, the finished ones
/// are summarized, and the report says it is incomplete.
pub fn compare_unless(
    config: &CompareConfig,
    interrupted: &AtomicBool,
    mut progress: impl FnMut(usize, &Contender),
) -> Result<CompareReport, CompareError> {
    super::peer::check_peers(config)?;
    let mut runs: Vec<RunRecord> = Vec::new();
    let contenders = config.contenders();
    let planned = config.repeat.max(1) * contenders.len();
    'runs: for repetition in 0..config.repeat.max(1) {
        for (mode_index, contender) in contenders.iter().enumerate() {
            if interrupted.load(Ordering::Acquire) {
                break 'runs;
            }
            progress(repetition, contender);
            let measured = match *contender {
                // Each repetition of Spark's model draws its own job times.
                Contender::Caudal(mode, guarantee) => measure_unless(
                    config,
                    mode.with_spark_seed(config.spark_seed.wrapping_add(repetition as u64)),
                    guarantee,
                    interrupted,
                )?,
                Contender::Peer(peer, batch) => {
                    super::peer::measure_peer(config, peer, batch, interrupted)?
                }
            };
            let Some(result) = measured else {
                break 'runs;
            };
            let reference = runs.iter().find(|r| r.result.comparable);
            if let Some(first) = reference.filter(|_| result.comparable) {
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
            .find(|r| {
                r.repetition == repetition
                    && r.result.mode == "per-record"
                    && r.result.guarantee == Guarantee::None.to_string()
            })
            .map(|r| r.result.latency_us.p50)
    };
    let modes = (0..contenders.len())
        .filter(|i| runs.iter().any(|r| r.mode_index == *i))
        .map(|i| {
            let mine: Vec<&RunRecord> = runs.iter().filter(|r| r.mode_index == i).collect();
            let first = &mine[0].result;
            let med =
                |f: fn(&ModeResult) -> f64| median(mine.iter().map(|r| f(&r.result)).collect());
            let med_percentiles = |f: fn(&ModeResult) -> &Percentiles| {
                Percentiles::median_of(mine.iter().map(|r| f(&r.result)))
            };
            let ratios: Vec<f64> = mine
                .iter()
                .filter_map(|r| {
                    per_record_p50(r.repetition).map(|pr| r.result.latency_us.p50 / pr.max(1e-3))
                })
                .collect();
            ModeSummary {
                mode: first.mode.clone(),
                guarantee: first.guarantee.clone(),
                batch_interval_ms: first.batch_interval_ms,
                latency_us: med_percentiles(|r| &r.latency_us),
                event_time_latency_us: med_percentiles(|r| &r.event_time_latency_us),
                burst_window_latency_us: first.burst_window_latency_us.as_ref().map(|_| {
                    Percentiles::median_of(
                        mine.iter()
                            .filter_map(|r| r.result.burst_window_latency_us.as_ref()),
                    )
                }),
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
                drained_results: med(|r| r.drained_results as f64) as u64,
                p50_ratio_to_per_record: ((first.mode != "per-record"
                    || first.guarantee != Guarantee::None.to_string())
                    && !ratios.is_empty())
                .then(|| median(ratios)),
                version: first.version.clone(),
                comparable: first.comparable,
                unstable_runs: [
                    mine.iter()
                        .filter(|r| r.result.trend.is_some_and(|t| t.unstable))
                        .count(),
                    mine.len(),
                ],
            }
        })
        .collect();
    let incomplete = (runs.len() < planned).then(|| {
        format!(
            "interrupted: {} of {planned} runs finished; the summaries cover those",
            runs.len()
        )
    });
    Ok(CompareReport {
        config: config.clone(),
        command: config.command(),
        machine: machine_description(),
        incomplete,
        modes,
        runs,
    })
}

/// Runs the lab's `pipeline` in this process: the generator `source` feeds it, `sink` measures it.
/// The run ends with its input; a raised `interrupted` ends it sooner.
fn in_process<W, T>(
    run_config: RunConfig,
    (name, source): (&'static str, GeneratorFactory<W>),
    sink: LatencySink,
    pipeline: impl for<'s> Fn(EventStream<'s, W::Record>) -> EventStream<'s, Measured<T>>
        + Send
        + Sync
        + 'static,
    interrupted: &AtomicBool,
) -> Result<crate::report::RunReport, RunError>
where
    W: Workload,
    T: Hash + 'static,
{
    launch(run_config, move |df| {
        let records = df.source(name, &source);
        df.sink("latency", pipeline(records), &sink);
    })
    .and_then(|running| join_unless(running, interrupted))
}

/// Waits for `running` to end; stops it early if `interrupted` is raised meanwhile.
pub(crate) fn join_unless(
    running: crate::pipeline::Running,
    interrupted: &AtomicBool,
) -> Result<crate::report::RunReport, RunError> {
    let stop = running.stop_flag();
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let done = &done;
        scope.spawn(move || {
            while !done.load(Ordering::Acquire) {
                if interrupted.load(Ordering::Acquire) {
                    stop.stop();
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let report = running.join();
        done.store(true, Ordering::Release);
        report
    })
}

/// Sleeps until shortly before `due`, then spins to it (a feeder's schedule needs better than the
/// scheduler's millisecond).
pub(crate) fn wait_until(due: Instant) {
    let now = Instant::now();
    if due > now + Duration::from_micros(200) {
        std::thread::sleep(due - now - Duration::from_micros(100));
    }
    while Instant::now() < due {
        std::hint::spin_loop();
    }
}

/// The Unix time, in ms, of `instant` (which may be a little in the future): where a run's clock
/// starts, for those who read the wall clock.
pub(crate) fn unix_ms_at(instant: Instant) -> i64 {
    let now = Instant::now();
    let at = match instant.checked_duration_since(now) {
        Some(ahead) => std::time::SystemTime::now() + ahead,
        None => std::time::SystemTime::now() - now.duration_since(instant),
    };
    at.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
