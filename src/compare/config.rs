//! What `caudal compare` runs: the workloads and the run's configuration.

use crate::config::defaults::lab;
use crate::mode::ExecutionMode;
use caudal_operators::budget::WorkBudget;
use caudal_operators::WatermarkStrategy;
use serde::Serialize;

use crate::checkpoint::Guarantee;
use std::fmt;
use std::time::Duration;

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
    /// Bursts: 1,000,000 keys whose 5 s tumbling windows all close at the same watermark, every 5 s
    /// (run it for 10 s or more to see bursts inside the measured part),
    /// beside a steady stream of per-record results (every post, mapped) whose latency is what the
    /// table shows; the window results' own latency is reported beside it. Compare `--fire-budget`
    /// settings to see what bounding the work of one activation does to the other records.
    Burst,
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
            LabWorkload::Burst => "burst",
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
    /// The timers a keyed operator may fire per activation.
    pub work_budget: WorkBudget,
    /// The delivery guarantees each mode runs under, in this order.
    pub guarantees: Vec<Guarantee>,
    /// How often checkpoints are taken under a guarantee.
    #[serde(serialize_with = "as_secs")]
    pub checkpoint_interval: Duration,
    /// A Kafka broker (`host:port`) to put in the measured path (`--via kafka://HOST:PORT`): records
    /// go to it and come from it, and so do results. `None`: in process.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
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
            via: None,
        }
    }
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
    pub(crate) fn watermark_delay(&self) -> i64 {
        match self.watermark() {
            WatermarkStrategy::BoundedOutOfOrderness { max_delay_ms } => max_delay_ms as i64,
            _ => 0,
        }
    }
}

impl CompareConfig {
    /// What runs, in order: every mode under every guarantee.
    pub fn variants(&self) -> Vec<(ExecutionMode, Guarantee)> {
        self.modes
            .iter()
            .flat_map(|m| self.guarantees.iter().map(move |g| (*m, *g)))
            .collect()
    }

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
