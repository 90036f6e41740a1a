//! How a pipeline runs: execution mode, workers, watermark, idling. Defaults live here, in one place.

use std::path::PathBuf;
use std::time::Duration;

use caudal_operators::budget::WorkBudget;
use caudal_operators::WatermarkStrategy;
use serde::Serialize;

use crate::mode::ExecutionMode;
use crate::source::driver::DEFAULT_BUDGET;

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
    /// How many records a source reads per activation at most.
    pub source_budget: usize,
    /// Several processes, if any.
    pub cluster: Option<Cluster>,
    /// How many timers (window firings, session closings, expiries) a keyed operator fires per
    /// activation before it lets the worker's other operators run.
    pub work_budget: WorkBudget,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            mode: ExecutionMode::PerRecord,
            workers: 1,
            watermark: WatermarkStrategy::Monotonic,
            idle_timeout: None,
            idle: IdleStrategy::SpinThenPark(Duration::from_micros(50)),
            source_budget: DEFAULT_BUDGET,
            cluster: None,
            work_budget: WorkBudget::DEFAULT,
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

    /// The same configuration with `budget` for every keyed operator.
    pub fn work_budget(mut self, budget: WorkBudget) -> Self {
        self.work_budget = budget;
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
