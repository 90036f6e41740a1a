//! What `caudal compare` runs: the workloads and the run's configuration.

use crate::config::defaults::lab;
use crate::mode::ExecutionMode;
use crate::spark_model::SparkModel;
use caudal_operators::budget::WorkBudget;
use caudal_operators::WatermarkStrategy;
use serde::Serialize;

use super::keys::{KeyDraw, Skew};
use crate::checkpoint::Guarantee;
use crate::nexmark::Query;
use std::fmt;
use std::time::Duration;

/// The workloads `caudal compare` knows: the lab's own, over generated posts, and the NEXMark queries,
/// over NEXMark's events (`nexmark:q5`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabWorkload {
    /// Stateless: keep the posts tagged #VIU.
    Filter,
    /// A running count per hashtag: one updated count out per post in.
    KeyedCount,
    /// Posts per hashtag in tumbling windows (1 s; `--window`).
    Tumbling,
    /// Every 100 ms, the posts per hashtag over the last second (sliding windows; `--window`, `--slide`).
    Sliding,
    /// Posts per user session, a session closing after 20 ms without a post of the user (`--gap`).
    Session,
    /// A windowed join: each user's even and odd posts paired within 100 ms tumbling windows.
    Join,
    /// Bursts: 1,000,000 keys whose 5 s tumbling windows all close at the same watermark, every 5 s
    /// (run it for 10 s or more to see bursts inside the measured part),
    /// beside a steady stream of per-record results (every post, mapped) whose latency is what the
    /// table shows; the window results' own latency is reported beside it. Compare `--fire-budget`
    /// settings to see what bounding the work of one activation does to the other records.
    Burst,
    /// A NEXMark query over NEXMark's events (people, auctions, bids), offered at the run's rate; see
    /// [`super::nexmark`].
    Nexmark(Query),
}

impl LabWorkload {
    /// Every workload, as `--workload` lists them.
    pub const ALL: [LabWorkload; 18] = [
        LabWorkload::Filter,
        LabWorkload::KeyedCount,
        LabWorkload::Tumbling,
        LabWorkload::Sliding,
        LabWorkload::Session,
        LabWorkload::Join,
        LabWorkload::Burst,
        LabWorkload::Nexmark(Query::Q0),
        LabWorkload::Nexmark(Query::Q1),
        LabWorkload::Nexmark(Query::Q2),
        LabWorkload::Nexmark(Query::Q3),
        LabWorkload::Nexmark(Query::Q4),
        LabWorkload::Nexmark(Query::Q5),
        LabWorkload::Nexmark(Query::Q6),
        LabWorkload::Nexmark(Query::Q7),
        LabWorkload::Nexmark(Query::Q8),
        LabWorkload::Nexmark(Query::Q11),
        LabWorkload::Nexmark(Query::Q12),
    ];

    /// The NEXMark query, if the workload is one.
    pub fn nexmark(&self) -> Option<Query> {
        match self {
            LabWorkload::Nexmark(q) => Some(*q),
            _ => None,
        }
    }

    /// What the workload is, in a line, for `--help`.
    fn help(&self) -> String {
        let line = match self {
            LabWorkload::Filter => "Stateless: keep the posts tagged #VIU",
            LabWorkload::KeyedCount => {
                "A running count per hashtag: one updated count out per post in"
            }
            LabWorkload::Tumbling => "Posts per hashtag in tumbling windows (1 s; --window)",
            LabWorkload::Sliding => {
                "Every 100 ms, the posts per hashtag over the last second (--window, --slide)"
            }
            LabWorkload::Session => {
                "Posts per user session, closing after 20 ms without a post of the user (--gap)"
            }
            LabWorkload::Join => {
                "Each user's even and odd posts paired within 100 ms tumbling windows"
            }
            LabWorkload::Burst => {
                "1,000,000 keys' 5 s windows closing at once, beside a steady per-record stream \
                 (compare --fire-budget settings)"
            }
            LabWorkload::Nexmark(q) => {
                let what = format!("NEXMark {}: {}", q.name(), q.what());
                return match q {
                    // Its windows follow the wall clock, which differs between modes.
                    Query::Q12 => format!("{what} (results not checked)"),
                    _ => what,
                };
            }
        };
        line.to_string()
    }
}

impl clap::ValueEnum for LabWorkload {
    fn value_variants<'a>() -> &'a [Self] {
        &LabWorkload::ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.name()).help(self.help()))
    }
}

/// `nexmark:` and each query's name, in the order of [`Query::ALL`] (clap wants `'static` names).
const NEXMARK_NAMES: [&str; 11] = [
    "nexmark:q0",
    "nexmark:q1",
    "nexmark:q2",
    "nexmark:q3",
    "nexmark:q4",
    "nexmark:q5",
    "nexmark:q6",
    "nexmark:q7",
    "nexmark:q8",
    "nexmark:q11",
    "nexmark:q12",
];

impl Serialize for LabWorkload {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl fmt::Display for LabWorkload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl LabWorkload {
    /// The workload's name, as `--workload` takes it.
    pub fn name(&self) -> &'static str {
        match self {
            LabWorkload::Filter => "filter",
            LabWorkload::KeyedCount => "keyed-count",
            LabWorkload::Tumbling => "tumbling",
            LabWorkload::Sliding => "sliding",
            LabWorkload::Session => "session",
            LabWorkload::Join => "join",
            LabWorkload::Burst => "burst",
            LabWorkload::Nexmark(q) => {
                let at = Query::ALL.iter().position(|x| x == q);
                NEXMARK_NAMES[at.expect("every query is in Query::ALL")]
            }
        }
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
    /// The timers a keyed operator may fire per activation.
    pub work_budget: WorkBudget,
    /// The delivery guarantees each mode runs under, in this order.
    pub guarantees: Vec<Guarantee>,
    /// How often checkpoints are taken under a guarantee.
    #[serde(serialize_with = "as_secs")]
    pub checkpoint_interval: Duration,
    /// What a researcher varies in the workload (see [`Shape`]).
    #[serde(flatten)]
    pub shape: Shape,
    /// The saved calibration the `:spark` modes use (`--spark-model`); `None`: the defaults.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spark_model: Option<std::path::PathBuf>,
    /// The first seed of the `:spark` modes' job times (`--spark-seed`): repetition `r` draws from
    /// seed `spark_seed + r`.
    pub spark_seed: u64,
    /// Real systems run beside Caudal's modes on the same records (`--peers spark,flink`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub peers: Vec<PeerSystem>,
    /// A Kafka broker (`host:port`) to put in the measured path (`--via kafka://HOST:PORT`): records
    /// go to it and come from it, and so do results. `None`: in process.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
}

/// What a researcher varies in the workload: the windows of the windowed workloads, the gap of the
/// session workload, the keys and their skew, and the event-time disorder of the generated stream.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Shape {
    /// The length of the tumbling and sliding windows.
    #[serde(rename = "window_s", serialize_with = "as_secs")]
    pub window: Duration,
    /// How far sliding windows move.
    #[serde(rename = "slide_s", serialize_with = "as_secs")]
    pub slide: Duration,
    /// How long a session stays open without a post of its user.
    #[serde(rename = "gap_s", serialize_with = "as_secs")]
    pub gap: Duration,
    /// How many keys the keyed workloads have; `None`: their own (a post's first hashtag, 16 of
    /// them, or its user for sessions and joins, 10,000).
    pub keys: Option<u64>,
    /// How the keys are drawn (with `keys`).
    #[serde(serialize_with = "as_text")]
    pub skew: Skew,
    /// Each record's event time is moved back by up to this much (deterministically); the watermark
    /// allows as much out-of-orderness (Flink's bounded out-of-orderness).
    #[serde(rename = "disorder_s", serialize_with = "as_secs")]
    pub disorder: Duration,
}

fn as_text<S: serde::Serializer>(v: &Skew, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

impl Default for Shape {
    fn default() -> Self {
        Shape {
            window: Duration::from_secs(1),
            slide: Duration::from_millis(100),
            gap: Duration::from_millis(20),
            keys: None,
            skew: Skew::Uniform,
            disorder: Duration::ZERO,
        }
    }
}

impl Shape {
    /// The window length in ms.
    pub fn window_ms(&self) -> i64 {
        self.window.as_millis() as i64
    }

    /// The slide in ms.
    pub fn slide_ms(&self) -> i64 {
        self.slide.as_millis() as i64
    }

    /// The session gap in ms.
    pub fn gap_ms(&self) -> i64 {
        self.gap.as_millis() as i64
    }

    /// The event-time disorder in ms.
    pub fn disorder_ms(&self) -> u64 {
        self.disorder.as_millis() as u64
    }

    /// The draw of the keyed workloads' keys.
    pub fn key_draw(&self) -> KeyDraw {
        KeyDraw::new(self.keys, self.skew)
    }

    /// Checks that the windows can be built: whole milliseconds, a slide no longer than the window
    /// and dividing it; that there is at least one key; that skew comes with keys.
    pub fn check(&self) -> Result<(), String> {
        if self.keys == Some(0) {
            return Err("--keys 0: give at least one key".into());
        }
        if self.keys.is_none() && self.skew != Skew::Uniform {
            return Err(format!(
                "--skew {} needs --keys: say how many keys to draw, such as --keys 100000",
                self.skew
            ));
        }
        // Whole milliseconds; only the disorder may be zero.
        for (name, d, example) in [
            ("--window", self.window, "2s or 500ms"),
            ("--slide", self.slide, "2s or 500ms"),
            ("--gap", self.gap, "2s or 500ms"),
            ("--disorder", self.disorder, "100ms"),
        ] {
            let zero_allowed = name == "--disorder";
            if (d.is_zero() && !zero_allowed) || !d.subsec_nanos().is_multiple_of(1_000_000) {
                return Err(format!(
                    "{name} {} is not a whole {}number of milliseconds: write it as {example}",
                    humantime::format_duration(d),
                    if zero_allowed { "" } else { "positive " }
                ));
            }
        }
        if self.slide > self.window || self.window_ms() % self.slide_ms() != 0 {
            return Err(format!(
                "--slide {} must divide --window {}: give a slide such as {}",
                humantime::format_duration(self.slide),
                humantime::format_duration(self.window),
                humantime::format_duration(self.window / 10)
            ));
        }
        Ok(())
    }
}

/// A real stream processor the lab can run beside Caudal (`caudal compare --peers`), installed by
/// `scripts/setup-peers.sh`; see [`crate::compare::peer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum PeerSystem {
    /// Apache Spark Streaming (the DStream API on the JVM, local mode, a socket receiver).
    Spark,
    /// The same Spark Streaming program in PySpark (the lecture's language): Python's cost per record
    /// on top of Spark's.
    Pyspark,
    /// Apache Flink (the DataStream API in a local mini-cluster, event-time windows).
    Flink,
}

impl fmt::Display for PeerSystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PeerSystem::Spark => "spark",
            PeerSystem::Pyspark => "pyspark",
            PeerSystem::Flink => "flink",
        })
    }
}

/// One of the things a comparison runs: a Caudal mode under a guarantee, or a real peer (Spark with
/// its batch interval).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(
    clippy::large_enum_variant,
    reason = "a comparison has a handful of contenders, copied freely; boxing Spark's model would cost Copy for no memory worth saving"
)]
pub enum Contender {
    /// Caudal in `mode` under a guarantee.
    Caudal(ExecutionMode, Guarantee),
    /// A real system; Spark's batch interval.
    Peer(PeerSystem, Option<Duration>),
}

impl fmt::Display for Contender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Contender::Caudal(mode, _) => write!(f, "{mode}"),
            Contender::Peer(peer, Some(batch)) => {
                write!(f, "{peer} {}", humantime::format_duration(*batch))
            }
            Contender::Peer(peer, None) => write!(f, "{peer}"),
        }
    }
}

fn as_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl Default for CompareConfig {
    fn default() -> Self {
        CompareConfig {
            workload: lab::WORKLOAD,
            modes: lab::MODES.to_vec(),
            rate: lab::RATE,
            duration: lab::DURATION,
            warmup: lab::WARMUP,
            workers: lab::WORKERS,
            repeat: lab::REPEAT,
            work_budget: lab::WORK_BUDGET,
            guarantees: vec![Guarantee::None],
            checkpoint_interval: crate::config::defaults::CHECKPOINT_INTERVAL,
            shape: Shape::default(),
            spark_model: None,
            spark_seed: 0,
            peers: Vec::new(),
            via: None,
        }
    }
}

impl CompareConfig {
    /// The watermark the runs use (see [`Shape::watermark`]).
    pub fn watermark(&self) -> WatermarkStrategy {
        self.shape.watermark(self.workload)
    }

    /// Gives the `:spark` modes `model` (a calibration's), or with `None` the defaults for the
    /// workload: [`SparkModel::WINDOWED`] for Spark's windows (`tumbling`, `sliding`), else
    /// [`SparkModel::DEFAULT`].
    pub fn set_spark_model(&mut self, model: Option<SparkModel>) {
        let model = model.unwrap_or(SparkModel::default_for(self.workload.spark_windows()));
        for mode in &mut self.modes {
            if let ExecutionMode::MicroBatch { spark: Some(m), .. } = mode {
                *m = model;
            }
        }
    }
}

impl Shape {
    /// The watermark `workload` runs with: its own, or bounded out-of-orderness of `--disorder`
    /// when that is longer.
    pub fn watermark(&self, workload: LabWorkload) -> WatermarkStrategy {
        let own = workload.watermark_delay() as u64;
        match self.disorder_ms() {
            d if d > own => WatermarkStrategy::BoundedOutOfOrderness { max_delay_ms: d },
            _ => workload.watermark(),
        }
    }

    /// How far that watermark trails the largest event time, in ms.
    pub fn watermark_delay(&self, workload: LabWorkload) -> i64 {
        (self.disorder_ms() as i64).max(workload.watermark_delay())
    }
}

impl LabWorkload {
    /// Whether Spark runs it as its own windows, of processing time (`reduceByKeyAndWindow`):
    /// `tumbling` and `sliding`. Such results are reported, not checked against Caudal's event-time
    /// windows, and Spark's model runs them with its windowed defaults.
    pub fn spark_windows(&self) -> bool {
        matches!(self, LabWorkload::Tumbling | LabWorkload::Sliding)
    }

    /// The watermark the workload runs with. Sessions get 1 ms of out-of-orderness: with a monotonic
    /// watermark a session ending at `e` fires as soon as a record at `e` is read, and whether another
    /// record at exactly `e` still merges into it would depend on how the source groups records into
    /// messages, so results would differ between modes.
    /// NEXMark's q11 (sessions too) gets the same.
    pub fn watermark(&self) -> WatermarkStrategy {
        match self {
            LabWorkload::Session | LabWorkload::Nexmark(Query::Q11) => {
                WatermarkStrategy::BoundedOutOfOrderness { max_delay_ms: 1 }
            }
            _ => WatermarkStrategy::Monotonic,
        }
    }

    /// How far the watermark trails the largest event time, in ms.
    pub(crate) fn watermark_delay(&self) -> i64 {
        match self.watermark() {
            WatermarkStrategy::BoundedOutOfOrderness { max_delay_ms } => max_delay_ms as i64,
            _ => 0,
        }
    }
}

impl CompareConfig {
    /// Checks the configuration before anything runs ([`Shape::check`]); NEXMark's queries have their
    /// own windows, keys and event times, and run in process.
    pub fn check(&self) -> Result<(), String> {
        self.shape.check()?;
        if let Some(query) = self.workload.nexmark() {
            if self.shape != Shape::default() {
                return Err(format!(
                    "nexmark:{query} has NEXMark's own windows, keys and event times: leave out \
                     --window, --slide, --gap, --keys, --skew and --disorder"
                ));
            }
            if self.via.is_some() {
                return Err(format!(
                    "nexmark:{query} runs in process: --via carries the lab's posts only; leave it out"
                ));
            }
        }
        Ok(())
    }

    /// What runs, in order: every mode under every guarantee.
    pub fn variants(&self) -> Vec<(ExecutionMode, Guarantee)> {
        self.modes
            .iter()
            .flat_map(|m| self.guarantees.iter().map(move |g| (*m, *g)))
            .collect()
    }

    /// Everything a comparison runs, in order: every mode under every guarantee, then the peers
    /// (Spark and PySpark once per batch interval of the micro-batch modes, or at 1 s if there is
    /// none).
    pub fn contenders(&self) -> Vec<Contender> {
        let mut all: Vec<Contender> = self
            .variants()
            .into_iter()
            .map(|(m, g)| Contender::Caudal(m, g))
            .collect();
        for peer in &self.peers {
            match peer {
                PeerSystem::Spark | PeerSystem::Pyspark => {
                    let mut intervals: Vec<Duration> = self
                        .modes
                        .iter()
                        .filter_map(|m| m.batch_interval())
                        .collect();
                    intervals.sort();
                    intervals.dedup();
                    if intervals.is_empty() {
                        intervals.push(Duration::from_secs(1));
                    }
                    all.extend(
                        intervals
                            .into_iter()
                            .map(|i| Contender::Peer(*peer, Some(i))),
                    );
                }
                PeerSystem::Flink => all.push(Contender::Peer(*peer, None)),
            }
        }
        all
    }

    /// The `caudal compare` command line that runs this configuration again.
    pub fn command(&self) -> String {
        let modes: Vec<String> = self
            .modes
            .iter()
            .map(|m| match m {
                ExecutionMode::MicroBatch {
                    interval, spark, ..
                } => format!(
                    "micro-batch:{}{}",
                    humantime::format_duration(*interval),
                    if spark.is_some() { ":spark" } else { "" }
                ),
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
        if self.guarantees != [Guarantee::None] {
            let names: Vec<String> = self.guarantees.iter().map(|g| g.to_string()).collect();
            command.push_str(&format!(
                " --guarantees {} --checkpoint-interval {}",
                names.join(","),
                humantime::format_duration(self.checkpoint_interval)
            ));
        }
        if self.work_budget != lab::WORK_BUDGET {
            command.push_str(&format!(" --fire-budget {}", self.work_budget));
        }
        let shape = &self.shape;
        let default = Shape::default();
        if shape.window != default.window {
            command.push_str(&format!(
                " --window {}",
                humantime::format_duration(shape.window)
            ));
        }
        if shape.slide != default.slide {
            command.push_str(&format!(
                " --slide {}",
                humantime::format_duration(shape.slide)
            ));
        }
        if shape.gap != default.gap {
            command.push_str(&format!(" --gap {}", humantime::format_duration(shape.gap)));
        }
        if let Some(keys) = shape.keys {
            command.push_str(&format!(" --keys {keys} --skew {}", shape.skew));
        }
        if !shape.disorder.is_zero() {
            command.push_str(&format!(
                " --disorder {}",
                humantime::format_duration(shape.disorder)
            ));
        }
        if let Some(path) = &self.spark_model {
            command.push_str(&format!(" --spark-model {}", path.display()));
        }
        if self.spark_seed != 0 {
            command.push_str(&format!(" --spark-seed {}", self.spark_seed));
        }
        if !self.peers.is_empty() {
            let names: Vec<String> = self.peers.iter().map(|p| p.to_string()).collect();
            command.push_str(&format!(" --peers {}", names.join(",")));
        }
        if let Some(brokers) = &self.via {
            command.push_str(&format!(" --via kafka://{brokers}"));
        }
        if let Some(overhead) = overhead.filter(|o| !o.is_zero()) {
            command.push_str(&format!(
                " --batch-overhead {}",
                humantime::format_duration(overhead)
            ));
        }
        command
    }
}
