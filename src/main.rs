//! The `caudal` command: run a built-in pipeline, or compare execution modes.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use caudal::builtin::{launch_builtin, Builtin, Feed, Output};
use caudal::checkpoint::{CheckpointConfig, Guarantee};
use caudal::compare::{compare_unless, machine_description, sweep, CompareConfig, LabWorkload};
use caudal::config::defaults::{self, lab};
use caudal::config::{Cluster, RunConfig};
use caudal::dead_letter::DeadLetters;
use caudal::mode::{parse_duration, ExecutionMode};
use caudal::operators::budget::WorkBudget;
use caudal::operators::WatermarkStrategy;
use caudal::replay::ReplaySpec;
use caudal::source::spec::parse_rate;
use caudal::source::spec::SourceSpec;
use clap::{Parser, Subcommand};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Caudal: per-record streaming on timely dataflow, with micro-batch and batch modes of the same pipeline.
#[derive(Parser)]
#[command(name = "caudal", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a built-in pipeline on a source until the input ends (or Ctrl-C).
    #[command(
        after_help = "Examples:\n  caudal run uppercase --source socket://localhost:9999 --mode micro-batch:10s\n  caudal run viu-count --source generator:posts?rate=1000 --duration 5s\n  caudal run max-temp --source file://readings.txt --mode batch"
    )]
    Run(Box<RunArgs>),
    /// Run one workload per-record, in micro-batches and as a batch, and compare their latency.
    Compare(Box<CompareArgs>),
    /// Replay recorded event logs through a windowed aggregation and print the firings as JSON lines.
    #[command(
        after_help = "The spec format is tests/conformance/window-spec.md. With one spec the output is exactly its JSON lines; with several, a line {\"spec\": NAME} comes before each one's lines."
    )]
    Replay(ReplayArgs),
    /// Run DStream pipelines described in JSON on the manual clock and print one JSON line per batch.
    #[command(
        after_help = "The spec format is tests/conformance/dstream-spec.md. With one spec the output is exactly its JSON lines; with several, a line {\"spec\": NAME} comes before each one's lines.\n\nExample:\n  caudal dstream tests/conformance/dstream-lecture/*.json --check"
    )]
    Dstream(DstreamArgs),
}

#[derive(clap::Args)]
struct DstreamArgs {
    /// DStream specs (JSON).
    #[arg(required = true)]
    specs: Vec<PathBuf>,
    /// Write each spec's output to DIR/NAME.jsonl instead of printing it.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Compare each spec's output with NAME.jsonl beside it (such as Spark's recorded output) instead
    /// of printing it; fails on the first difference.
    #[arg(long)]
    check: bool,
    /// Worker threads (per process) that run each spec's partitions, as Spark's `local[N]`; the
    /// output is the same on any number.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    workers: u16,
    #[command(flatten)]
    cluster: ClusterArgs,
}

/// How a run spreads over several processes.
#[derive(clap::Args)]
struct ClusterArgs {
    /// Processes in a cluster run (timely's -n).
    #[arg(long, default_value_t = defaults::run::PROCESSES)]
    processes: usize,
    /// This process's index in a cluster run (timely's -p).
    #[arg(long, default_value_t = defaults::run::PROCESS)]
    process: usize,
    /// One host:port line per process (timely's -h).
    #[arg(long)]
    hostfile: Option<PathBuf>,
    /// How long the processes of a cluster run may take to connect to each other, such as 30s: a
    /// process that died or was never started otherwise keeps the others waiting.
    #[arg(long, default_value = duration_text(defaults::CONNECT_TIMEOUT), value_parser = parse_positive_duration)]
    connect_timeout: Duration,
}

impl ClusterArgs {
    /// The cluster, if the run has more than one process.
    fn cluster(&self) -> anyhow::Result<Option<Cluster>> {
        if self.processes <= 1 {
            return Ok(None);
        }
        anyhow::ensure!(
            self.process < self.processes,
            "--process {} is out of range: with --processes {} it must be 0 to {}",
            self.process,
            self.processes,
            self.processes - 1
        );
        Ok(Some(Cluster {
            processes: self.processes,
            process: self.process,
            hostfile: self.hostfile.clone(),
            connect_timeout: self.connect_timeout,
        }))
    }
}

#[derive(clap::Args)]
struct ReplayArgs {
    /// Replay specs (JSON).
    #[arg(required = true)]
    specs: Vec<PathBuf>,
    /// Write each spec's output to DIR/NAME.jsonl instead of printing it.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(clap::Args)]
struct RunArgs {
    /// The pipeline: uppercase, viu-count, max-temp, or a lab workload over posts (filter, keyed-count,
    /// tumbling, sliding, session, join, burst).
    #[arg(value_parser = parse_builtin)]
    pipeline: Builtin,
    /// Where records come from: socket://HOST:PORT, file://PATH (a file or a watched directory),
    /// generator:WORKLOAD[?rate=N&limit=N], kafka://HOST:PORT/TOPIC[?start=earliest|latest|committed&group=G&until=end]
    /// or zmq+sub://HOST:PORT[?topic=T] / zmq+pull://HOST:PORT.
    #[arg(long, value_parser = parse_source)]
    source: SourceSpec,
    /// per-record, micro-batch:INTERVAL (such as micro-batch:1s, optionally +OVERHEAD; with :spark, as Spark Streaming runs it: blocks, job scheduling and processing, queueing) or batch.
    #[arg(long, default_value_t = defaults::MODE, value_parser = parse_mode)]
    mode: ExecutionMode,
    /// Watermark: monotonic, bounded:DELAY (such as bounded:500ms) or processing-time. Default: the lab's for its workloads, processing-time for text sources, monotonic for generators.
    #[arg(long, value_parser = parse_watermark)]
    watermark: Option<WatermarkStrategy>,
    /// Worker threads in this process.
    #[arg(long, short = 'w', default_value_t = defaults::WORKERS as u32, value_parser = clap::value_parser!(u32).range(1..=1024))]
    workers: u32,
    /// Write results as part files in this directory instead of printing them. A directory that
    /// already holds part files is refused, unless --overwrite, or the run continues a job under a
    /// guarantee (its --checkpoint-dir is already in use).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write results to a Kafka topic, kafka://HOST:PORT/TOPIC, one record per result, instead of
    /// printing them: with at-least-once, acknowledged by the broker before each checkpoint; with
    /// exactly-once, in one Kafka transaction per checkpoint (visible to read_committed consumers
    /// when the checkpoint completes).
    #[arg(long, conflicts_with = "out", value_parser = parse_kafka_sink)]
    sink: Option<String>,
    /// Remove the part files already in --out before writing (instead of refusing to run).
    #[arg(long, requires = "out")]
    overwrite: bool,
    /// Write results as JSON lines ({"time":..,"data":..}) instead of text.
    #[arg(long)]
    json: bool,
    /// Give each result a deterministic id (16 hex digits: a tab-separated first column, or "id" in
    /// JSON), the same when a resumed run makes it again: with --guarantee at-least-once, a reader
    /// that keeps one result per id sees each once, without exactly-once's wait for a checkpoint.
    #[arg(long)]
    record_ids: bool,
    /// Also write every input that could not be read to this file, as JSON lines.
    #[arg(long)]
    dead_letters: Option<PathBuf>,
    /// How much each source instance may hold back (an open micro-batch, a batch-mode input), such as
    /// 512MiB or 2GiB: a full micro-batch stops the source until it closes; batch mode beyond it fails.
    #[arg(long, default_value = "512MiB", value_parser = parse_size)]
    hold_budget: usize,
    /// How many records may wait in the exchange between workers for one worker (of another process:
    /// sent from this one and not yet taken) before every source stops reading until that worker
    /// catches up (with skewed keys, one worker gets more than its share).
    #[arg(long, default_value_t = defaults::EXCHANGE_BUDGET, value_parser = parse_record_budget)]
    exchange_budget: usize,
    /// How far in event time one worker's instance of the source may run ahead of the slowest
    /// instance before it stops reading until that one catches up (watermark alignment), such as 10s,
    /// or `off`: without it, a fast instance fills the windows with state the slow one keeps open.
    #[arg(long, default_value = "10s", value_parser = parse_drift)]
    max_watermark_drift: Drift,
    /// Count what timely's progress tracking sends (broadcasts, updates, an estimate of the bytes to
    /// each other process), printed with the report: the coordination cost of several processes.
    #[arg(long)]
    count_progress: bool,
    /// After how long without records an input stops holding the watermark back, such as 5s: a
    /// source instance with nothing to read, or one Kafka partition that has gone quiet while the
    /// others go on (by default an input holds the watermark until it has read to its end).
    #[arg(long, value_parser = parse_positive_duration)]
    idle_timeout: Option<Duration>,
    /// Stop after this long (like Ctrl-C: held records are released and files committed).
    #[arg(long, value_parser = parse_positive_duration)]
    duration: Option<Duration>,
    #[command(flatten)]
    cluster: ClusterArgs,
    /// What a crash may lose: none (nothing is kept), at-most-once (resume from the last checkpoint;
    /// results in flight may be missing, none appears twice), at-least-once (resume from the last
    /// checkpoint; output after it may appear twice) or exactly-once (output committed with each checkpoint: a
    /// resumed run's committed output equals a run without failure; needs --out).
    #[arg(long, default_value_t = Guarantee::None, value_parser = parse_guarantee)]
    guarantee: Guarantee,
    /// Where checkpoints are kept (needed with --guarantee). Running the same command again resumes
    /// from the last complete one.
    #[arg(long)]
    checkpoint_dir: Option<PathBuf>,
    /// How often a checkpoint is taken.
    #[arg(long, default_value = duration_text(defaults::CHECKPOINT_INTERVAL), value_parser = parse_duration)]
    checkpoint_interval: Duration,
    /// How long a stop (Ctrl-C, SIGTERM, --duration) waits for its last checkpoint before leaving
    /// without it (a source whose watermark stands still can keep the checkpoint waiting).
    #[arg(long, default_value = duration_text(defaults::STOP_GRACE), value_parser = parse_positive_duration)]
    stop_grace: Duration,
    /// How long a source behind a checkpoint's cut may read nothing before its watermark moves up to
    /// the cut, so that the checkpoint (and the output it commits) does not wait for input that may not
    /// come; a record that comes later with an earlier event time is then behind the watermark.
    #[arg(long, default_value = duration_text(defaults::CHECKPOINT_QUIET_SOURCE), value_parser = parse_positive_duration)]
    checkpoint_quiet_source: Duration,
}

#[derive(clap::Args)]
struct CompareArgs {
    /// The workload.
    #[arg(long, value_enum, default_value_t = lab::WORKLOAD)]
    workload: LabWorkload,
    /// Comma-separated modes, run in this order: per-record, micro-batch:INTERVAL[+OVERHEAD][:spark] (:spark adds what Spark Streaming adds: blocks, job scheduling and processing, queueing), batch.
    #[arg(long, value_delimiter = ',', default_value = lab::modes_text(), value_parser = parse_mode)]
    modes: Vec<ExecutionMode>,
    /// Offered load, records per second.
    #[arg(long, default_value_t = lab::RATE, allow_hyphen_values = true, value_parser = parse_rate)]
    rate: f64,
    /// How long each mode is measured.
    #[arg(long, default_value = duration_text(lab::DURATION), value_parser = parse_positive_duration)]
    duration: Duration,
    /// Warm-up before measuring, in each mode.
    #[arg(long, default_value = duration_text(lab::WARMUP), value_parser = parse_duration)]
    warmup: Duration,
    /// Worker threads (use 1 for latency on a 2-core machine).
    #[arg(long, short = 'w', default_value_t = lab::WORKERS as u32, value_parser = clap::value_parser!(u32).range(1..=1024))]
    workers: u32,
    /// Scheduling overhead added to every micro-batch, to emulate a real micro-batch scheduler.
    #[arg(long, default_value = duration_text(lab::BATCH_OVERHEAD), value_parser = parse_duration)]
    batch_overhead: Duration,
    /// How many times to run the modes, interleaved; medians and spread are reported.
    #[arg(long, default_value_t = lab::REPEAT as u32, value_parser = clap::value_parser!(u32).range(1..=100))]
    repeat: u32,
    /// Instead of one rate, raise it step by step (doubling from --rate) and report the highest rate each
    /// mode sustains: achieved within 5% of offered, p99 under --p99-bound. Writes sweep.json and sweep.csv.
    #[arg(long)]
    sweep: bool,
    /// How many doublings of the rate a sweep tries.
    #[arg(long, default_value_t = lab::SWEEP_STEPS, value_parser = clap::value_parser!(u32).range(1..=30))]
    sweep_steps: u32,
    /// The p99 latency a sustainable rate must stay under, in a sweep.
    #[arg(long, default_value = duration_text(lab::P99_BOUND), value_parser = parse_duration)]
    p99_bound: Duration,
    /// Timers (window firings, session closings, expiries) a keyed operator fires per activation
    /// before it lets other operators run: a number, or `unbounded`.
    #[arg(long, default_value_t = defaults::lab::WORK_BUDGET)]
    fire_budget: WorkBudget,
    /// Comma-separated delivery guarantees to run every mode under (none, at-most-once,
    /// at-least-once, exactly-once), to see what checkpoints and exactly-once output cost.
    #[arg(long, value_delimiter = ',', default_value = "none", value_parser = parse_guarantee)]
    guarantees: Vec<Guarantee>,
    /// How often checkpoints are taken under a guarantee.
    #[arg(long, default_value = duration_text(defaults::CHECKPOINT_INTERVAL), value_parser = parse_duration)]
    checkpoint_interval: Duration,
    /// Put a Kafka broker in the measured path, kafka://HOST:PORT: the records are produced to it
    /// open loop, Caudal reads them from it and writes each result to it, and latency is taken where a
    /// reader of the results sees them (two new topics per run; scripts/kafka-broker.sh start runs a
    /// broker).
    #[arg(long, value_parser = parse_via)]
    via: Option<String>,
    /// The length of the tumbling and sliding windows.
    #[arg(long, default_value = "1s", value_parser = parse_positive_duration)]
    window: Duration,
    /// How far the sliding windows move; it must divide --window.
    #[arg(long, default_value = "100ms", value_parser = parse_positive_duration)]
    slide: Duration,
    /// How long a session (the session workload) stays open without a post of its user.
    #[arg(long, default_value = "20ms", value_parser = parse_positive_duration)]
    gap: Duration,
    /// How many keys the keyed workloads have (default: their own, a post's first hashtag, 16 of
    /// them, or its user for session and join, 10,000).
    #[arg(long)]
    keys: Option<u64>,
    /// How the --keys are drawn: uniform, or zipf:S (Zipf's law with exponent S, such as zipf:1.1).
    #[arg(long, default_value = "uniform")]
    skew: caudal::compare::keys::Skew,
    /// Move each record's event time back by up to this much (deterministically), and let the
    /// watermark allow as much out-of-orderness (Flink's bounded out-of-orderness).
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    disorder: Duration,
    /// Comma-separated real systems to run beside Caudal's modes on the same records, interleaved
    /// with them: spark (Spark Streaming, once per micro-batch interval in --modes, or at 1 s),
    /// pyspark (the same Spark program in PySpark), flink. Install them once with
    /// scripts/setup-peers.sh. Workloads: filter, keyed-count, tumbling, sliding.
    #[arg(long, value_delimiter = ',', value_enum)]
    peers: Vec<caudal::compare::PeerSystem>,
    /// Instead of comparing, measure the parameters of Spark's model (the :spark modes) on the real
    /// Spark peer, at each micro-batch interval in --modes, at --rate and a tenth of it, and save
    /// them to DIR/spark-model.json for --spark-model: the costs of a job (fixed, per block, per
    /// record), Spark's warm-up, its first job and the spread of its job times, fitted to every
    /// batch from Spark's start to the end of the load. Use the workload and rate you will compare at.
    #[arg(long, value_enum, value_name = "PEER")]
    calibrate: Option<CalibrateTarget>,
    /// The :spark modes' parameters, from a spark-model.json that --calibrate spark wrote (default:
    /// the ones that ship, printed under the table).
    #[arg(long, value_name = "FILE")]
    spark_model: Option<PathBuf>,
    /// The first seed of the :spark modes' job times: repetition R draws from seed N + R, so that
    /// sets of runs with different N show the model's own spread (default 0: every set the same).
    #[arg(long, value_name = "N", default_value_t = 0)]
    spark_seed: u64,
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Where to write results.json and results.csv (default: a new folder under caudal-results/).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// What `caudal compare --calibrate` can calibrate.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum CalibrateTarget {
    /// Spark's micro-batch model, against the real Spark peer (JVM).
    Spark,
    /// Spark's micro-batch model, against the PySpark peer.
    Pyspark,
}

/// A size in bytes: a number with an optional unit (B, KiB, MiB, GiB), such as `512MiB`.
fn parse_size(s: &str) -> Result<usize, String> {
    let text = s.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale: usize = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{s}`: write a size such as 512MiB or 2GiB"
            ))
        }
    };
    number
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .filter(|bytes| *bytes > 0)
        .ok_or_else(|| format!("`{s}` is not a size above 0: write one such as 512MiB or 2GiB"))
}

/// `--via`: a `kafka://HOST:PORT` broker.
fn parse_via(s: &str) -> Result<String, String> {
    #[cfg(feature = "kafka")]
    return caudal::compare::via_kafka::parse_via(s);
    #[cfg(not(feature = "kafka"))]
    Err(format!(
        "`{s}`: this caudal was built without Kafka (cargo build --features kafka)"
    ))
}

/// `--sink`: a `kafka://HOST:PORT/TOPIC` address.
fn parse_kafka_sink(s: &str) -> Result<String, String> {
    #[cfg(feature = "kafka")]
    return caudal::sink::kafka::KafkaSink::<String>::from_address(s, caudal::sink::Format::text())
        .map(|_| s.to_string());
    #[cfg(not(feature = "kafka"))]
    return Err(format!(
        "`{s}`: this caudal was built without Kafka (cargo build --features kafka)"
    ));
}

/// `--max-watermark-drift`: a duration, or no limit.
#[derive(Clone, Copy, Debug)]
struct Drift(Option<Duration>);

fn parse_drift(s: &str) -> Result<Drift, String> {
    if s.trim() == "off" {
        return Ok(Drift(None));
    }
    parse_positive_duration(s)
        .map(|d| Drift(Some(d)))
        .map_err(|e| format!("{e} (or `off` for no limit)"))
}

/// A count of records above zero, such as 131072 (`_` may group digits: 131_072).
fn parse_record_budget(s: &str) -> Result<usize, String> {
    s.trim()
        .replace('_', "")
        .parse::<usize>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            format!("`{s}` is not a number of records above 0: write one such as 131072")
        })
}

/// A duration that must be longer than zero (`--duration 0s` would measure or run nothing).
fn parse_positive_duration(s: &str) -> Result<Duration, String> {
    let duration = parse_duration(s)?;
    if duration.is_zero() {
        return Err(format!(
            "`{s}` is no time at all: give a duration longer than 0, for example 5s"
        ));
    }
    Ok(duration)
}

/// A default duration as the command line writes it (`3s`, `100ms`).
fn duration_text(duration: Duration) -> String {
    humantime::format_duration(duration).to_string()
}

fn parse_builtin(s: &str) -> Result<Builtin, String> {
    s.parse()
}

fn parse_source(s: &str) -> Result<SourceSpec, String> {
    s.parse()
        .map_err(|e: caudal::source::spec::SourceSpecError| e.to_string())
}

fn parse_guarantee(s: &str) -> Result<Guarantee, String> {
    s.parse()
}

fn parse_mode(s: &str) -> Result<ExecutionMode, String> {
    s.parse()
        .map_err(|e: caudal::mode::ModeError| e.to_string())
}

fn parse_watermark(s: &str) -> Result<WatermarkStrategy, String> {
    match s {
        "monotonic" => Ok(WatermarkStrategy::Monotonic),
        "processing-time" => Ok(WatermarkStrategy::ProcessingTime),
        other => match other.strip_prefix("bounded:") {
            Some(delay) => Ok(WatermarkStrategy::BoundedOutOfOrderness { max_delay_ms: parse_duration(delay)?.as_millis() as u64 }),
            None => Err(format!("unknown watermark `{other}`: use `monotonic`, `bounded:DELAY` (for example `bounded:500ms`) or `processing-time`")),
        },
    }
}

fn run_pipeline(args: RunArgs) -> anyhow::Result<()> {
    let watermark = args
        .watermark
        .unwrap_or(match (args.pipeline, &args.source) {
            (Builtin::Lab(workload), _) => workload.watermark(),
            (_, SourceSpec::Generator { .. }) => WatermarkStrategy::Monotonic,
            _ => WatermarkStrategy::ProcessingTime,
        });
    let mut config = RunConfig::new(args.mode)
        .workers(args.workers as usize)
        .watermark(watermark)
        .hold_budget(args.hold_budget)
        .exchange_budget(args.exchange_budget)
        .max_watermark_drift(args.max_watermark_drift.0)
        .count_progress(args.count_progress);
    config.idle_timeout = args.idle_timeout;
    config.cluster = args.cluster.cluster()?;
    if args.guarantee.checkpoints() {
        let Some(dir) = &args.checkpoint_dir else {
            anyhow::bail!(
                "--guarantee {} needs --checkpoint-dir DIR (where checkpoints are kept)",
                args.guarantee
            );
        };
        anyhow::ensure!(
            !args.guarantee.transactional() || args.out.is_some() || args.sink.is_some(),
            "--guarantee exactly-once needs --out DIR or --sink kafka://...: printed output cannot \
             be taken back after a crash (use at-least-once to print)"
        );
        anyhow::ensure!(
            args.checkpoint_interval > Duration::ZERO,
            "--checkpoint-interval must be longer than 0s (for example 1s)"
        );
        // What the checkpoints belong to: a checkpoint of another pipeline, source or mode is refused.
        let job = format!(
            "{} from {} in {} mode, watermark {:?}",
            args.pipeline, args.source, args.mode, watermark
        );
        config = config.checkpoints(
            CheckpointConfig::new(args.guarantee, dir, job)
                .interval(args.checkpoint_interval)
                .stop_grace(args.stop_grace)
                .quiet_source(args.checkpoint_quiet_source),
        );
    } else if args.checkpoint_dir.is_some() {
        anyhow::bail!(
            "--checkpoint-dir needs a guarantee: add --guarantee at-least-once or --guarantee exactly-once"
        );
    }
    let event_rate = match &args.source {
        SourceSpec::Generator {
            rate: Some(rate), ..
        } => *rate,
        _ => 1000.0,
    };
    let feed = Feed::from_spec(&args.source, args.mode).map_err(anyhow::Error::msg)?;
    if let Some(out) = &args.out {
        // A job that has checkpoints continues the output it finds (a crash may even come before
        // its first checkpoint completes); any other run starts clean.
        let resuming = match (&args.checkpoint_dir, args.guarantee.checkpoints()) {
            (Some(dir), true) => std::fs::read_dir(dir).is_ok_and(|mut e| e.next().is_some()),
            _ => false,
        };
        if !resuming {
            // In a cluster every process checks the part files of its own workers only: the others'
            // may already be writing.
            let first = args.cluster.process * args.workers as usize;
            prepare_out_dir(out, args.overwrite, first..first + args.workers as usize)?;
        }
    }
    let output = match (args.out, args.sink) {
        (Some(path), _) => Output::Dir {
            path,
            json: args.json,
            ids: args.record_ids,
        },
        #[cfg(feature = "kafka")]
        (None, Some(address)) => Output::Kafka {
            address,
            json: args.json,
            ids: args.record_ids,
            // Exactly-once output waits for its checkpoint beside the checkpoints.
            staging: args
                .checkpoint_dir
                .as_ref()
                .filter(|_| args.guarantee.transactional())
                .map(|dir| dir.join("kafka-staged")),
        },
        _ => Output::Stdout {
            json: args.json,
            ids: args.record_ids,
        },
    };
    let dead_letters = match &args.dead_letters {
        Some(path) => DeadLetters::with_file(path)
            .with_context(|| format!("cannot create the dead-letter file {}", path.display()))?,
        None => DeadLetters::new(),
    };
    let running = launch_builtin(
        args.pipeline,
        feed,
        config,
        output,
        dead_letters,
        event_rate,
    )?;
    if let Some(manifest) = running.resumed_from() {
        let taken_at = std::time::UNIX_EPOCH + Duration::from_millis(manifest.taken_at_ms);
        let workers = args.workers as usize * args.cluster.processes;
        let rescaled = match manifest.workers == workers {
            true => String::new(),
            false => format!(
                " on {} workers (each of the {workers} workers now takes the state of its own keys)",
                manifest.workers
            ),
        };
        eprintln!(
            "resuming from checkpoint {} taken at {}{rescaled}{}",
            manifest.epoch,
            humantime::format_rfc3339_millis(taken_at),
            if manifest.final_ {
                " (the run had read all its input: nothing is left to do)"
            } else {
                ""
            }
        );
    }
    let stop = running.stop_flag();
    let on_signal = stop.clone();
    // The first Ctrl-C or SIGTERM stops politely (a last checkpoint, output committed); a second one
    // stops at once.
    ctrlc::set_handler(move || {
        if on_signal.is_stopped() {
            eprintln!("stopping at once");
            std::process::exit(130);
        }
        on_signal.stop();
    })
    .context("cannot install the Ctrl-C handler")?;
    if let Some(duration) = args.duration {
        std::thread::spawn(move || {
            std::thread::sleep(duration);
            stop.stop();
        });
    }
    let report = running.join()?;
    eprint!("{report}");
    if let Some(error) = report.sink_error() {
        anyhow::bail!("results were not all written: {error}");
    }
    Ok(())
}

/// Refuses an output directory that already holds part files of `workers` (two runs would mix, and
/// part names collide), unless `overwrite`, which removes them first.
fn prepare_out_dir(
    out: &std::path::Path,
    overwrite: bool,
    workers: std::ops::Range<usize>,
) -> anyhow::Result<()> {
    let mine: Vec<String> = workers.map(|w| format!("part-{w:05}-")).collect();
    let existing: Vec<PathBuf> = caudal::sink::file::part_files(out)
        .with_context(|| format!("cannot list --out {}", out.display()))?
        .into_iter()
        .filter(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            mine.iter().any(|prefix| name.starts_with(prefix.as_str()))
        })
        .collect();
    let Some(first) = existing.first() else {
        return Ok(());
    };
    if !overwrite {
        anyhow::bail!(
            "--out {} already holds the output of another run ({} part files, such as {}): choose \
             another directory, or add --overwrite to replace it",
            out.display(),
            existing.len(),
            first.file_name().unwrap_or_default().to_string_lossy()
        );
    }
    for file in &existing {
        std::fs::remove_file(file).with_context(|| format!("cannot remove {}", file.display()))?;
    }
    eprintln!(
        "--overwrite: removed {} part files from {}",
        existing.len(),
        out.display()
    );
    Ok(())
}

/// Shows run `done` of `total`: a bar redrawn in place on a terminal, a line each otherwise (logs).
fn progress(done: usize, total: usize, what: &str) {
    if std::io::stderr().is_terminal() {
        let filled = done * 30 / total.max(1);
        eprint!(
            "\r\x1b[2K[{}{}] {done}/{total} {what} ...",
            "#".repeat(filled),
            ".".repeat(30 - filled)
        );
    } else {
        eprintln!("[{done}/{total}] {what} ...");
    }
}

fn run_compare(args: CompareArgs) -> anyhow::Result<()> {
    let modes = args
        .modes
        .into_iter()
        .map(|m| match m {
            // A mode's own `+OVERHEAD` wins over --batch-overhead.
            ExecutionMode::MicroBatch {
                interval,
                overhead,
                spark,
            } => ExecutionMode::MicroBatch {
                interval,
                overhead: if overhead.is_zero() {
                    args.batch_overhead
                } else {
                    overhead
                },
                spark,
            },
            other => other,
        })
        .collect();
    let mut config = CompareConfig {
        workload: args.workload,
        modes,
        rate: args.rate,
        duration: args.duration,
        warmup: args.warmup,
        workers: args.workers as usize,
        repeat: args.repeat as usize,
        work_budget: args.fire_budget,
        guarantees: args.guarantees,
        checkpoint_interval: args.checkpoint_interval,
        shape: caudal::compare::Shape {
            window: args.window,
            slide: args.slide,
            gap: args.gap,
            keys: args.keys,
            skew: args.skew,
            disorder: args.disorder,
        },
        spark_model: args.spark_model.clone(),
        spark_seed: args.spark_seed,
        peers: args.peers,
        via: args.via,
    };
    let model = match &args.spark_model {
        Some(path) => Some(
            caudal::compare::calibrate::Calibration::load(path)
                .map_err(anyhow::Error::msg)?
                .model(),
        ),
        None => None,
    };
    config.set_spark_model(model);
    if let Err(e) = config.check() {
        anyhow::bail!(e);
    }
    if !config.peers.is_empty() && (args.sweep || config.via.is_some()) {
        anyhow::bail!("--peers runs with a plain comparison: leave out --sweep and --via");
    }
    let out = match args.out {
        Some(dir) => dir,
        None => {
            let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
                .to_string()
                .replace(':', "-");
            // `nexmark:q5` as `nexmark-q5`.
            let workload = config.workload.to_string().replace(':', "-");
            PathBuf::from("caudal-results").join(format!("{stamp}-{workload}"))
        }
    };
    std::fs::create_dir_all(&out)
        .with_context(|| format!("cannot create the output folder {}", out.display()))?;
    if args.sweep {
        let rates: Vec<f64> = (0..args.sweep_steps)
            .map(|k| config.rate * 2f64.powi(k as i32))
            .collect();
        let report = sweep(&config, &rates, args.p99_bound, |rate, mode| {
            eprintln!("sweep: {mode} at {rate:.0} records/s ...")
        })?;
        let json = serde_json::to_string_pretty(&serde_json::json!({
            "config": &config,
            "command": format!("{} --sweep --sweep-steps {} --p99-bound {}", config.command(), args.sweep_steps, humantime::format_duration(args.p99_bound)),
            "machine": machine_description(),
            "sweep": &report,
        }))?;
        let (json_path, csv_path) = (out.join("sweep.json"), out.join("sweep.csv"));
        std::fs::write(&json_path, &json)
            .with_context(|| format!("cannot write {}", json_path.display()))?;
        let mut csv = String::from(
            "mode,batch_interval_ms,offered_per_s,achieved_per_s,p50_us,p99_us,sustainable\n",
        );
        for p in &report.points {
            csv.push_str(&format!(
                "{},{},{:.0},{:.0},{:.3},{:.3},{}\n",
                p.mode,
                p.batch_interval_ms
                    .map_or(String::new(), |ms| ms.to_string()),
                p.offered,
                p.achieved,
                p.p50_us,
                p.p99_us,
                p.sustainable
            ));
        }
        std::fs::write(&csv_path, csv)
            .with_context(|| format!("cannot write {}", csv_path.display()))?;
        if args.json {
            println!("{json}");
        } else {
            println!("{report}");
        }
        let plots = caudal::plots::sweep_plot(&report, &out)
            .map_err(|e| anyhow::anyhow!("cannot draw the plot: {e}"))?;
        eprintln!(
            "wrote {}, {} and {}",
            json_path.display(),
            csv_path.display(),
            plots
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return Ok(());
    }
    let runs = config.repeat * config.contenders().len();
    let mut done = 0;
    // The first Ctrl-C or SIGTERM drops the run under way and keeps the finished ones; a second
    // one stops at once.
    let interrupted = Arc::new(AtomicBool::new(false));
    let on_signal = interrupted.clone();
    ctrlc::set_handler(move || {
        if on_signal.swap(true, Ordering::AcqRel) {
            eprintln!("stopping at once");
            std::process::exit(130);
        }
        eprintln!("\ninterrupted: writing the runs that finished (Ctrl-C again to stop at once)");
    })
    .context("cannot install the Ctrl-C handler")?;
    if let Some(target) = args.calibrate {
        let peer = match target {
            CalibrateTarget::Spark => caudal::compare::PeerSystem::Spark,
            CalibrateTarget::Pyspark => caudal::compare::PeerSystem::Pyspark,
        };
        let runs = caudal::compare::calibrate::planned_runs(&config, peer);
        let calibration = caudal::compare::calibrate::calibrate_spark(
            &config,
            peer,
            &interrupted,
            |repetition, contender| {
                done += 1;
                progress(
                    done,
                    runs,
                    &format!("repetition {}: {contender}", repetition + 1),
                );
            },
        )?;
        if std::io::stderr().is_terminal() {
            eprintln!();
        }
        let path = out.join("spark-model.json");
        std::fs::write(&path, serde_json::to_string_pretty(&calibration)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!(
            "{} on {}: from {} batches\n{}",
            calibration.spark,
            calibration.machine,
            calibration.fit.batches,
            calibration.model()
        );
        eprintln!(
            "wrote {}: compare with it as --modes micro-batch:INTERVAL:spark --spark-model {}",
            path.display(),
            path.display()
        );
        return Ok(());
    }
    let report = compare_unless(&config, &interrupted, |repetition, mode| {
        done += 1;
        progress(
            done,
            runs,
            &format!("repetition {}: {mode}", repetition + 1),
        );
    })?;
    if std::io::stderr().is_terminal() {
        eprintln!();
    }
    if report.runs.is_empty() {
        anyhow::bail!("interrupted before any run finished: nothing to write");
    }
    let json_path = out.join("results.json");
    let csv_path = out.join("results.csv");
    let json = serde_json::to_string_pretty(&report)?;
    std::fs::write(&json_path, &json)
        .with_context(|| format!("cannot write {}", json_path.display()))?;
    std::fs::write(&csv_path, report.to_csv())
        .with_context(|| format!("cannot write {}", csv_path.display()))?;
    if args.json {
        println!("{json}");
    } else {
        println!("{report}");
    }
    let plots = caudal::plots::compare_plots(&report, &out)
        .map_err(|e| anyhow::anyhow!("cannot draw the plots: {e}"))?;
    eprintln!("wrote {}, {}", json_path.display(), csv_path.display());
    for plot in plots {
        eprintln!("      {}", plot.display());
    }
    eprintln!("reproduce with: {}", report.command);
    if let Some(note) = &report.incomplete {
        anyhow::bail!("{note} (results.json says so)");
    }
    Ok(())
}

fn run_replay(args: ReplayArgs) -> anyhow::Result<()> {
    // Read every spec first: a bad one stops the run before anything is printed.
    let specs = args
        .specs
        .iter()
        .map(|p| ReplaySpec::load(p))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    for spec in &specs {
        let lines = spec.run();
        match &args.out {
            Some(dir) => {
                let path = dir.join(format!("{}.jsonl", spec.name));
                let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
                std::fs::write(&path, text)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                eprintln!("{}: {} lines in {}", spec.name, lines.len(), path.display());
            }
            None => {
                if specs.len() > 1 {
                    println!(
                        "{{\"spec\": {}}}",
                        serde_json::Value::from(spec.name.clone())
                    );
                }
                lines.iter().for_each(|l| println!("{l}"));
            }
        }
    }
    Ok(())
}

fn run_dstream(args: DstreamArgs) -> anyhow::Result<()> {
    use caudal::dstream::spec;
    // Read and check every spec first: a bad one stops the run before anything is printed.
    let specs = args
        .specs
        .iter()
        .map(|p| spec::load(p).map(|s| (p, s)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(anyhow::Error::msg)?;
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let parallel = spec::Parallel {
        workers: args.workers as usize,
        cluster: args.cluster.cluster()?,
    };
    let mut mismatches = 0;
    for (path, spec) in &specs {
        let name = path
            .file_stem()
            .map_or_else(|| "spec".into(), |s| s.to_string_lossy().into_owned());
        let outputs = spec::run_with(spec, &parallel)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        if !parallel.prints() {
            // Another process of the cluster has the outputs.
            continue;
        }
        let lines: Vec<String> = outputs.iter().map(|o| o.to_json_line()).collect();
        if args.check {
            let expected_path = path.with_extension("jsonl");
            let expected = std::fs::read_to_string(&expected_path).with_context(|| {
                format!(
                    "--check compares with {}, which cannot be read",
                    expected_path.display()
                )
            })?;
            match spec::compare(&outputs, &expected) {
                Ok(()) => eprintln!(
                    "{name}: matches {} ({} batches)",
                    expected_path.display(),
                    lines.len()
                ),
                Err(diff) => {
                    eprintln!("{name}: DIFFERS from {}: {diff}", expected_path.display());
                    mismatches += 1;
                }
            }
            continue;
        }
        match &args.out {
            Some(dir) => {
                let out = dir.join(format!("{name}.jsonl"));
                let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
                std::fs::write(&out, text)
                    .with_context(|| format!("cannot write {}", out.display()))?;
                eprintln!("{name}: {} batches in {}", lines.len(), out.display());
            }
            None => {
                if specs.len() > 1 {
                    println!("{{\"spec\": {}}}", serde_json::Value::from(name.clone()));
                }
                lines.iter().for_each(|l| println!("{l}"));
            }
        }
    }
    if mismatches > 0 {
        anyhow::bail!(
            "{mismatches} of {} specs differ from their expected output",
            specs.len()
        );
    }
    Ok(())
}

/// In a run over several processes, a process whose peer died gets panics from timely's connection
/// threads (and then from its workers): say once what happened and what to do, and leave as a crash
/// would (a guarantee's checkpoints are made for that).
fn stop_when_a_peer_is_lost() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("timely communication error") {
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| {
                eprintln!(
                    "error: lost the connection to another process of the run ({message}), so this \
                     one stops too; run the same command again on every process (under a \
                     --guarantee, they resume from the last complete checkpoint)"
                );
                std::process::exit(1);
            });
            // Another thread is saying it and leaving.
            std::thread::park();
        }
        default(info)
    }));
}

fn main() -> ExitCode {
    stop_when_a_peer_is_lost();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CAUDAL_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, not in logs and pipes.
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run_pipeline(*args),
        Command::Compare(args) => run_compare(*args),
        Command::Replay(args) => run_replay(args),
        Command::Dstream(args) => run_dstream(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
