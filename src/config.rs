//! How a pipeline runs: execution mode, workers, watermark, idling. Defaults live here, in one place:
//! [`defaults`] holds every default value of the runtime, of its sources and sinks, of the DStream layer
//! and of the `caudal` command, and everything else (clap's `default_value`s included) reads them.

use std::path::PathBuf;
use std::time::Duration;

use caudal_operators::budget::WorkBudget;
use caudal_operators::exchange::ExchangeGauge;
use caudal_operators::WatermarkStrategy;
use serde::Serialize;

use crate::guarantee::Guarantee;
use crate::mode::ExecutionMode;

/// Every default value, in one place. The runtime, the sources and sinks, the DStream layer and the
/// `caudal` command all read their defaults from here; no other module writes one down.
pub mod defaults {
    use std::time::Duration;

    use caudal_operators::budget::WorkBudget;
    use caudal_operators::WatermarkStrategy;

    use crate::mode::ExecutionMode;

    // How a run runs: `RunConfig::default()`.

    /// The execution mode.
    pub const MODE: ExecutionMode = ExecutionMode::PerRecord;
    /// Worker threads per process.
    pub const WORKERS: usize = 1;
    /// The watermark strategy of sources that do not choose their own.
    pub const WATERMARK: WatermarkStrategy = WatermarkStrategy::Monotonic;
    /// How long an idle worker spins before it parks (`IdleStrategy::SpinThenPark`).
    pub const IDLE_SPIN: Duration = Duration::from_micros(50);
    /// How many records a source may produce in one activation.
    pub const SOURCE_BUDGET: usize = 4096;
    /// How many bytes of records a source instance may hold back (an open micro-batch, or a batch-mode
    /// input): see `RunConfig::hold_budget`.
    pub const HOLD_BUDGET: usize = 512 << 20;
    /// How many timers a keyed operator fires per activation.
    pub const WORK_BUDGET: WorkBudget = WorkBudget::DEFAULT;
    /// How many records may wait in the exchange queues for one worker before every source of the
    /// process stops reading (see `RunConfig::exchange_budget`): 131,072 records, a few MiB of
    /// typical events, far above what a balanced run ever queues (a source activation's 4,096).
    pub const EXCHANGE_BUDGET: usize = 1 << 17;
    /// How far in event time a source instance may run ahead of the slowest instance of the same
    /// source (on any worker of any process) before it stops reading (watermark alignment, as Flink's
    /// `withWatermarkAlignment`): see `RunConfig::max_watermark_drift`.
    pub const MAX_WATERMARK_DRIFT: Duration = Duration::from_secs(10);
    /// How soon a source that stopped reading for flow control (a worker's full exchange queue, or a
    /// watermark too far ahead of the other instances') looks again.
    pub const FLOW_POLL: Duration = Duration::from_micros(200);

    /// How long the processes of a cluster run may take to connect to each other before the run
    /// gives up (timely retries every second and would otherwise wait forever for a process that
    /// died or was never started).
    pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

    // Checkpoints.

    /// How often a checkpoint is taken.
    pub const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);
    /// How long a stop waits for its last checkpoint round: a round waits for every source's
    /// watermark to reach its cut, and a source whose watermark stands still while it reads (records
    /// that keep coming with old event times), or a quiet one under a long
    /// [`CHECKPOINT_QUIET_SOURCE`] setting, would keep it, and the stop, waiting for ever. After it the
    /// run leaves without that checkpoint (the one before it stays in force).
    pub const STOP_GRACE: Duration = Duration::from_secs(10);
    /// How long a source instance that is behind the cut of an open checkpoint round may go without
    /// reading a record before its watermark moves up to the cut. A round waits for every source's
    /// watermark to reach its cut, and under an event-time watermark one that reads nothing (a quiet
    /// Kafka partition, a broker that is away, the input has stopped) would hold the round, and the
    /// output it commits, for ever. A record that comes later with an event time before the cut is
    /// behind the watermark (counted, and late for windows), as after Flink's source idleness.
    pub const CHECKPOINT_QUIET_SOURCE: Duration = Duration::from_millis(200);
    /// How many complete checkpoints are kept.
    pub const CHECKPOINTS_KEPT: usize = 2;
    /// How often a source paused at a checkpoint's cut looks whether the round has been taken.
    pub const CHECKPOINT_PAUSE_POLL: Duration = Duration::from_micros(50);
    /// How long a worker parks at most while a checkpoint round is open.
    pub const CHECKPOINT_PARK: Duration = Duration::from_micros(100);
    /// How far ahead of its output (in event-time milliseconds) an at-most-once sink's fence is
    /// moved: one `fdatasync` per span; after a crash, output up to a span beyond what was written may
    /// be lost.
    pub const FENCE_SPAN_MS: u64 = 100;

    // The source operator.

    /// The longest a source operator waits before it looks at the stop flag again.
    pub const STOP_CHECK: Duration = Duration::from_millis(100);
    /// How often an idle per-record source moves a processing-time watermark.
    pub const PROCESSING_TIME_TICK: Duration = Duration::from_millis(10);

    // Sources and sinks.

    /// How often a file source lists a watched directory.
    pub const FILE_SCAN_INTERVAL: Duration = Duration::from_millis(200);
    /// A socket source's first wait after a failed connection; it doubles up to the maximum.
    pub const SOCKET_INITIAL_BACKOFF: Duration = Duration::from_millis(100);
    /// A socket source's longest wait between connection attempts.
    pub const SOCKET_MAX_BACKOFF: Duration = Duration::from_secs(5);
    /// The longest line a text source (socket, file) keeps: a longer one goes to the dead letters (a
    /// sample of it) and reading goes on at the next line.
    pub const MAX_LINE_BYTES: usize = 1 << 20;
    /// A ZeroMQ source's receive high-water mark, in messages (ZeroMQ's own default): how many libzmq
    /// queues before a PUSH peer blocks or a PUB peer drops.
    pub const ZMQ_RCVHWM: i32 = 1000;
    /// How many messages a ZeroMQ reader thread hands over at once.
    pub const ZMQ_BATCH: usize = 1024;
    /// How many such batches may wait for the source operator before the reader stops receiving.
    pub const ZMQ_QUEUE_BATCHES: usize = 16;
    /// How long a ZeroMQ reader waits in one receive when nothing comes (then it checks the run).
    pub const ZMQ_POLL: Duration = Duration::from_millis(100);
    /// How many lines a socket source's reader thread may hold for its worker: when the worker falls
    /// behind, the reader stops reading and TCP's window pushes back on the peer.
    pub const SOCKET_QUEUE_LINES: usize = 16_384;
    /// How many records an application may push ahead of each worker's channel source before
    /// `Pusher::push_at` waits for the pipeline.
    pub const CHANNEL_CAPACITY: usize = 16_384;
    /// How many records a Kafka source's reader thread hands over at once at most.
    pub const KAFKA_BATCH: usize = 1024;
    /// How many such batches may wait for the source operator before the reader stops polling.
    pub const KAFKA_QUEUE_BATCHES: usize = 16;
    /// How long a Kafka consumer lets the broker hold a fetch that finds nothing new (librdkafka's
    /// `fetch.wait.max.ms`).
    pub const KAFKA_FETCH_WAIT: Duration = Duration::from_millis(5);
    /// How long a Kafka reader waits in one poll of its consumer when nothing has come.
    pub const KAFKA_POLL: Duration = Duration::from_millis(100);
    /// How long a Kafka client waits for the broker's metadata in one attempt (an unreachable broker is
    /// then reported, and asked again with backoff).
    pub const KAFKA_METADATA_TIMEOUT: Duration = Duration::from_secs(2);
    /// A write-ahead log starts a new segment at this size; whole segments are dropped once a complete
    /// checkpoint covers them.
    pub const WAL_SEGMENT_BYTES: u64 = 16 << 20;
    /// How often a file sink starts a new part file at most.
    pub const FILE_ROLL_INTERVAL: Duration = Duration::from_secs(1);
    /// Under a guarantee a file sink hands its output to each checkpoint round instead of rolling by
    /// time; it writes a part file itself only when its buffer grows past this many bytes between
    /// two rounds.
    pub const FILE_BUFFER_UNDER_CHECKPOINTS: usize = 64 << 20;

    // The DStream layer.

    /// How many partitions keyed DStream operations shuffle into (Spark's `spark.default.parallelism`
    /// on a two-core machine).
    pub const DSTREAM_PARTITIONS: usize = 2;
    /// How often a socket stream's receiver cuts a block, each a partition of its batch (Spark's
    /// `spark.streaming.blockInterval`).
    pub const DSTREAM_BLOCK_INTERVAL: Duration = Duration::from_millis(200);
    /// The longest wait of `socket_text_stream` between connection attempts (it reconnects, as Spark's
    /// receiver restarts).
    pub const DSTREAM_SOCKET_MAX_BACKOFF: Duration = Duration::from_secs(2);
    /// How many records a DStream input reads from its source per poll.
    pub const DSTREAM_POLL_BUDGET: usize = 65_536;
    /// How many batches' offset ranges a Kafka direct stream keeps for `foreach_rdd` to look up.
    pub const DSTREAM_OFFSET_RANGES_KEPT: u64 = 1_024;

    /// The defaults of `caudal run` that are not a [`RunConfig`](super::RunConfig)'s.
    #[cfg(feature = "cli")]
    pub mod run {
        /// Processes of a cluster run.
        pub const PROCESSES: usize = 1;
        /// This process's index in a cluster run.
        pub const PROCESS: usize = 0;
    }

    /// The defaults of the latency lab, `caudal compare` (its `CompareConfig::default()` and its
    /// command-line options).
    #[cfg(feature = "cli")]
    pub mod lab {
        use std::time::Duration;

        use crate::compare::LabWorkload;
        use crate::mode::ExecutionMode;

        /// The workload.
        pub const WORKLOAD: LabWorkload = LabWorkload::KeyedCount;
        /// The modes, in the order they run.
        pub const MODES: [ExecutionMode; 5] = [
            ExecutionMode::PerRecord,
            ExecutionMode::MicroBatch {
                interval: Duration::from_millis(10),
                overhead: Duration::ZERO,
                spark: None,
            },
            ExecutionMode::MicroBatch {
                interval: Duration::from_millis(100),
                overhead: Duration::ZERO,
                spark: None,
            },
            ExecutionMode::MicroBatch {
                interval: Duration::from_secs(1),
                overhead: Duration::ZERO,
                spark: None,
            },
            ExecutionMode::Batch,
        ];
        /// Offered load, records per second.
        pub const RATE: f64 = 200_000.0;
        /// How long each mode is measured.
        pub const DURATION: Duration = Duration::from_secs(3);
        /// The warm-up before measuring, in each mode.
        pub const WARMUP: Duration = Duration::from_secs(1);
        /// Worker threads (1 for latency on a 2-core machine).
        pub const WORKERS: usize = 1;
        /// How many times the modes run, interleaved.
        pub const REPEAT: usize = 3;
        /// How many timers a keyed operator fires per activation.
        pub const WORK_BUDGET: caudal_operators::budget::WorkBudget = super::WORK_BUDGET;
        /// The scheduling overhead added to every micro-batch.
        pub const BATCH_OVERHEAD: Duration = Duration::ZERO;
        /// How many doublings of the rate a sweep tries.
        pub const SWEEP_STEPS: u32 = 6;
        /// The p99 latency a sustainable rate must stay under, in a sweep.
        pub const P99_BOUND: Duration = Duration::from_secs(1);

        /// [`MODES`] as the command line writes them: `per-record,micro-batch:10ms,...`.
        pub fn modes_text() -> String {
            MODES.map(|m| m.to_string()).join(",")
        }
    }
}

/// What a worker does when it has nothing to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum IdleStrategy {
    /// Keep stepping: the lowest latency, a whole core per worker even when idle.
    BusySpin,
    /// Spin for this long, then park the thread until an input, timer or waker needs it.
    SpinThenPark(Duration),
}

/// Timely's cluster settings for a run over several processes (see timely's `-n`, `-p`, `-h`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Cluster {
    /// How many processes take part.
    pub processes: usize,
    /// This process's index, `0..processes`.
    pub process: usize,
    /// A file with one `host:port` per process; without it, process `i` listens on `localhost:2101+i`.
    pub hostfile: Option<PathBuf>,
    /// How long the processes may take to connect to each other before the run fails
    /// ([`defaults::CONNECT_TIMEOUT`]).
    pub connect_timeout: Duration,
}

/// Everything about how a pipeline runs, apart from the pipeline itself.
#[derive(Clone, Debug, Serialize)]
pub struct RunConfig {
    /// One of the three execution modes.
    pub mode: ExecutionMode,
    /// Worker threads in this process.
    pub workers: usize,
    /// The watermark strategy of sources that do not choose their own.
    pub watermark: WatermarkStrategy,
    /// After how long without records a source instance counts as idle; `None`: never.
    pub idle_timeout: Option<Duration>,
    /// What idle workers do.
    pub idle: IdleStrategy,
    /// How much a source instance may hold back, in bytes (records × their in-memory size, not
    /// counting what they own on the heap): a micro-batch that reaches it stops the source reading
    /// until the batch closes (Spark's backpressure); in batch mode, an input beyond it ends the run
    /// with an error instead of filling the memory.
    pub hold_budget: usize,
    /// How many records a source reads per activation at most.
    pub source_budget: usize,
    /// How many records may wait in the exchange queues for one worker of this process, or be sent from
    /// this process to a worker of another and not yet taken by it, before every source of the process
    /// stops reading until that worker catches up (credit-based flow control between workers).
    pub exchange_budget: usize,
    /// How far in event time an instance of a source may run ahead of the slowest instance of the
    /// same source before it stops reading until that one catches up (watermark alignment); `None`:
    /// no limit. Without it, a source instance that reads faster than another (closed loop, a
    /// partition with a backlog) fills the windows downstream with state the slow one's watermark
    /// keeps open. Batch mode, whose watermark moves only at the end, ignores it.
    pub max_watermark_drift: Option<Duration>,
    /// Several processes, if any.
    pub cluster: Option<Cluster>,
    /// How many timers (window firings, session closings, expiries) a keyed operator fires per
    /// activation before it lets the worker's other operators run.
    pub work_budget: WorkBudget,
    /// Checkpoints and the delivery guarantee; `None`: nothing is kept (a crash loses everything).
    pub checkpoints: Option<CheckpointConfig>,
    /// Count what timely's progress tracking sends (see [`crate::progress_traffic`]), for the run's
    /// report. Off by default: timely then builds a log event for every progress broadcast.
    pub count_progress: bool,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            mode: defaults::MODE,
            workers: defaults::WORKERS,
            watermark: defaults::WATERMARK,
            idle_timeout: None,
            idle: IdleStrategy::SpinThenPark(defaults::IDLE_SPIN),
            hold_budget: defaults::HOLD_BUDGET,
            source_budget: defaults::SOURCE_BUDGET,
            exchange_budget: defaults::EXCHANGE_BUDGET,
            max_watermark_drift: Some(defaults::MAX_WATERMARK_DRIFT),
            cluster: None,
            work_budget: defaults::WORK_BUDGET,
            checkpoints: None,
            count_progress: false,
        }
    }
}

impl RunConfig {
    /// The default configuration in `mode`.
    pub fn new(mode: ExecutionMode) -> Self {
        RunConfig {
            mode,
            ..Default::default()
        }
    }

    /// The same configuration on `workers` worker threads.
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers.max(1);
        self
    }

    /// The same configuration with `watermark` as the default strategy.
    pub fn watermark(mut self, watermark: WatermarkStrategy) -> Self {
        self.watermark = watermark;
        self
    }

    /// The same configuration, counting its progress traffic or not (see
    /// [`RunConfig::count_progress`]).
    pub fn count_progress(mut self, count: bool) -> Self {
        self.count_progress = count;
        self
    }

    /// The same configuration with `budget` for every keyed operator.
    pub fn work_budget(mut self, budget: WorkBudget) -> Self {
        self.work_budget = budget;
        self
    }

    /// The same configuration with `bytes` as each source instance's hold budget (see
    /// [`RunConfig::hold_budget`]).
    pub fn hold_budget(mut self, bytes: usize) -> Self {
        self.hold_budget = bytes;
        self
    }

    /// The same configuration with `records` as the exchange budget per worker (see
    /// [`RunConfig::exchange_budget`]).
    pub fn exchange_budget(mut self, records: usize) -> Self {
        self.exchange_budget = records.max(1);
        self
    }

    /// The same configuration with `drift` as the most a source instance's watermark may run ahead
    /// of the slowest instance's (`None`: no limit; see [`RunConfig::max_watermark_drift`]).
    pub fn max_watermark_drift(mut self, drift: Option<Duration>) -> Self {
        self.max_watermark_drift = drift;
        self
    }

    /// The counts of this process's exchange queues, with the run's budget, for
    /// [`ExchangeGauge::install`].
    pub fn exchange_gauge(&self) -> ExchangeGauge {
        let (process, processes) = self
            .cluster
            .as_ref()
            .map_or((0, 1), |c| (c.process, c.processes));
        ExchangeGauge::new(
            process * self.workers,
            self.workers,
            processes * self.workers,
            self.exchange_budget as u64,
        )
    }

    /// The same configuration with checkpoints and a delivery guarantee (see [`crate::checkpoint`]).
    pub fn checkpoints(mut self, checkpoints: CheckpointConfig) -> Self {
        self.checkpoints = Some(checkpoints).filter(|c| c.guarantee.checkpoints());
        self
    }

    /// Timely's configuration for this run.
    pub fn timely_config(&self) -> Result<timely::Config, String> {
        let mut args = vec!["-w".to_string(), self.workers.to_string()];
        if let Some(cluster) = &self.cluster {
            args.extend([
                "-n".to_string(),
                cluster.processes.to_string(),
                "-p".to_string(),
                cluster.process.to_string(),
            ]);
            if let Some(hostfile) = &cluster.hostfile {
                // Timely reports a missing hostfile without its name.
                std::fs::metadata(hostfile)
                    .map_err(|e| format!("cannot read the hostfile {}: {e}", hostfile.display()))?;
                args.extend(["-h".to_string(), hostfile.display().to_string()]);
            }
        }
        let mut config = timely::Config::from_args(args.into_iter())?;
        if let IdleStrategy::SpinThenPark(spin) = self.idle {
            config.worker = config.worker.idle_spin(spin);
        }
        self.work_budget.install(&mut config);
        Ok(config)
    }

    /// How many workers the run has over all processes.
    pub fn total_workers(&self) -> usize {
        self.workers * self.cluster.as_ref().map_or(1, |c| c.processes)
    }
}

/// How a run keeps checkpoints: the guarantee, where, how often, and the job they belong to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CheckpointConfig {
    /// What a crash may lose.
    pub guarantee: Guarantee,
    /// The job's checkpoint directory.
    pub dir: PathBuf,
    /// How often a checkpoint is taken.
    pub interval: Duration,
    /// How many complete checkpoints are kept.
    pub keep: usize,
    /// What the job is (pipeline, source, mode...): a checkpoint of another job is refused.
    pub job: String,
    /// How long a stop (SIGINT, SIGTERM, `--duration`) waits for its last checkpoint before the run
    /// leaves without it ([`defaults::STOP_GRACE`]).
    pub stop_grace: Duration,
    /// How long a source instance behind an open round's cut may read nothing before its watermark
    /// moves up to the cut ([`defaults::CHECKPOINT_QUIET_SOURCE`]).
    pub quiet_source: Duration,
}

impl CheckpointConfig {
    /// Checkpoints of `job` in `dir` with `guarantee`, every second, keeping the last two.
    pub fn new(guarantee: Guarantee, dir: impl Into<PathBuf>, job: impl Into<String>) -> Self {
        CheckpointConfig {
            guarantee,
            dir: dir.into(),
            interval: defaults::CHECKPOINT_INTERVAL,
            keep: defaults::CHECKPOINTS_KEPT,
            job: job.into(),
            stop_grace: defaults::STOP_GRACE,
            quiet_source: defaults::CHECKPOINT_QUIET_SOURCE,
        }
    }

    /// The same, with a source behind a round's cut moving up to it after reading nothing for
    /// `quiet`.
    pub fn quiet_source(mut self, quiet: Duration) -> Self {
        self.quiet_source = quiet;
        self
    }

    /// The same, with a stop waiting at most `grace` for its last checkpoint.
    pub fn stop_grace(mut self, grace: Duration) -> Self {
        self.stop_grace = grace;
        self
    }

    /// The same, every `interval`.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }
}
