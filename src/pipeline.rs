//! Pipelines: sources → operators → sinks, built once per worker and run in one execution mode.
//!
//! A pipeline is a function that, given a [`Dataflow`], reads sources, applies operators and attaches
//! sinks. [`run`] builds it on every worker of a timely computation and drives the workers until every
//! source has ended (or the run is stopped); [`launch`] does the same in the background and returns a
//! [`Running`] handle. The execution mode is the run's, applied by the source operators, so the very same
//! function runs per-record, in micro-batches or as a batch.
//!
//! ```
//! use caudal::prelude::*;
//!
//! let results = Collect::new();
//! let out = results.clone();
//! let numbers = caudal::source::from_fn(|_| vec![1u64, 2, 3, 4]);
//! caudal::run(RunConfig::new(ExecutionMode::PerRecord), move |df| {
//!     let evens = df.source("numbers", &numbers).filter(|n| n % 2 == 0).map(|n| n * 10);
//!     df.sink("collect", evens, &out);
//! })
//! .unwrap();
//! assert_eq!(results.sorted_data(), vec![20, 40]);
//! ```

use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use caudal_operators::{EventStream, EventTime, WatermarkStrategy};
use timely::dataflow::Scope;

use crate::progress_traffic::ProgressCounter;
use caudal_operators::exchange::ExchangeGauge;

use crate::checkpoint::{
    ControlChannel, Coordinator, Manifest, SourceCheckpoint, SourcePart, WorkerRecovery,
};
use crate::config::defaults::CHECKPOINT_PARK;
use crate::config::{IdleStrategy, RunConfig};
use crate::dead_letter::DeadLetters;
use crate::mode::ExecutionMode;
use crate::report::{RunReport, SinkReport, SourceReport};
use crate::sink::operator::{sink_stream, SinkMetrics};
use crate::sink::SinkFactory;
use crate::source::driver::{
    source_stream, SharedWatermark, SourceMetrics, SourceOptions, StopFlag,
};
use crate::source::{SourceFactory, WorkerInfo};

/// A run that failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Timely could not start (for example a bad cluster configuration).
    #[error("could not start the workers: {0}")]
    Start(String),
    /// A worker stopped with a panic.
    #[error("a worker failed: {0}")]
    Worker(String),
    /// Checkpoints could not be read, written or used.
    #[error("{0}")]
    Checkpoint(String),
    /// A source's input could not be taken as configured (batch mode past its hold budget).
    #[error("{0}")]
    Input(String),
    /// A sink could not be created.
    #[error("could not create sink {name}: {error}")]
    Sink {
        /// The sink's name.
        name: String,
        /// Why.
        error: String,
    },
}

/// What the workers of a run share: configuration, stop flag, dead letters and counters.
struct Shared {
    config: RunConfig,
    /// Raised to stop the run (Ctrl-C, `--duration`, [`Running::stop_flag`]).
    stop: StopFlag,
    /// Raised to end the sources' input: at once without checkpoints; with them, only when the run
    /// must end without a last checkpoint (batch mode, errors).
    drain: StopFlag,
    /// The checkpoint rounds, under a guarantee.
    coord: Option<Arc<Coordinator>>,
    /// A worker left after a stop's last checkpoint rather than at the end of its input.
    stopped_early: AtomicBool,
    dead_letters: DeadLetters,
    /// What waits in this process's exchange queues, for the sources' flow control and the report.
    exchange: ExchangeGauge,
    sources: Mutex<BTreeMap<String, (Arc<SourceMetrics>, SharedWatermark)>>,
    sinks: Mutex<BTreeMap<String, Arc<SinkMetrics>>>,
    setup_errors: Mutex<Vec<RunError>>,
    /// What the progress tracking sent, if counted.
    progress: Option<Arc<ProgressCounter>>,
}

impl Shared {
    fn source_entry(&self, name: &str) -> (Arc<SourceMetrics>, SharedWatermark) {
        self.sources
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(name.to_string())
            .or_default()
            .clone()
    }

    /// Records `error` and ends the run.
    fn fail(&self, error: RunError) {
        self.setup_errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(error);
        self.drain.stop();
        self.stop.stop();
    }

    /// Whether something has failed the run.
    fn failed(&self) -> bool {
        !self
            .setup_errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }

    /// Whether the run came to the end of its input cleanly: no error, no output a sink failed to
    /// write, no early stop. Only then does a final checkpoint cover it.
    fn ended_cleanly(&self) -> bool {
        use std::sync::atomic::Ordering;
        let failed = self.failed();
        let sink_failed = self
            .sinks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .any(|m| m.errors.load(Ordering::Relaxed) > 0);
        !failed && !sink_failed && !self.stopped_early.load(Ordering::Acquire)
    }

    fn sink_entry(&self, name: &str) -> Arc<SinkMetrics> {
        self.sinks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(name.to_string())
            .or_insert_with(|| {
                Arc::new(SinkMetrics {
                    stop: self.stop.clone(),
                    ..SinkMetrics::default()
                })
            })
            .clone()
    }
}

/// Builds one worker's part of a pipeline: sources, operators, sinks.
pub struct Dataflow<'scope> {
    scope: Scope<'scope, EventTime>,
    shared: Arc<Shared>,
    recovery: Option<Rc<WorkerRecovery>>,
}

impl<'scope> Dataflow<'scope> {
    /// The timely scope, for custom operators.
    pub fn scope(&self) -> Scope<'scope, EventTime> {
        self.scope
    }

    /// This worker.
    pub fn worker(&self) -> WorkerInfo {
        WorkerInfo {
            index: self.scope.index(),
            peers: self.scope.peers(),
        }
    }

    /// The run's configuration.
    pub fn config(&self) -> &RunConfig {
        &self.shared.config
    }

    /// The run's dead letters, for parsers and custom sources.
    pub fn dead_letters(&self) -> DeadLetters {
        self.shared.dead_letters.clone()
    }

    /// Reads source `name` (this worker's share of it) with the run's watermark strategy.
    pub fn source<D: 'static>(
        &mut self,
        name: &str,
        factory: &dyn SourceFactory<D>,
    ) -> EventStream<'scope, D> {
        let watermark = self.shared.config.watermark;
        self.source_with(name, factory, watermark)
    }

    /// Reads source `name` with its own watermark strategy.
    pub fn source_with<D: 'static>(
        &mut self,
        name: &str,
        factory: &dyn SourceFactory<D>,
        watermark: WatermarkStrategy,
    ) -> EventStream<'scope, D> {
        let (metrics, shared) = self.shared.source_entry(name);
        let mut source = factory.make(self.worker());
        let checkpoint = self.recovery.as_ref().map(|r| {
            let coord = r.coordinator();
            let (checkpoint, restored) =
                SourceCheckpoint::register(coord.clone(), self.scope.index(), name);
            match coord.rescaled_source_parts(name) {
                None => (checkpoint, restored),
                Some(parts) => match self.merge_source_parts(name, &*source, &parts) {
                    Ok(merged) => (checkpoint, merged),
                    Err(e) => {
                        self.shared.fail(RunError::Checkpoint(e));
                        (checkpoint, None)
                    }
                },
            }
        });
        let checkpoint = checkpoint.map(|(checkpoint, restored)| {
            match self.prepare_for_checkpoints(name, &mut *source, restored.as_ref()) {
                // A live source (one with a write-ahead log: a socket, a channel) whose input had
                // ended reads again: its input is what comes, not a fixed set that was read.
                Ok(true) => (checkpoint, restored.map(SourcePart::reopened)),
                Ok(false) => (checkpoint, restored),
                Err(e) => {
                    self.shared.fail(RunError::Checkpoint(e));
                    (checkpoint, restored)
                }
            }
        });
        let config = &self.shared.config;
        let opts = SourceOptions {
            mode: config.mode,
            watermark,
            idle_timeout: config.idle_timeout,
            budget: config.source_budget,
            hold_budget: config.hold_budget,
            fail: {
                let shared = self.shared.clone();
                crate::source::Failure::new(move |message| shared.fail(RunError::Input(message)))
            },
            stop: self.shared.drain.clone(),
            shared,
            metrics,
            dead_letters: self.shared.dead_letters.clone(),
            spin: match config.idle {
                IdleStrategy::BusySpin => Duration::MAX,
                IdleStrategy::SpinThenPark(spin) => spin,
            },
            exchange: Some(self.shared.exchange.clone()),
            max_drift: config.max_watermark_drift,
            checkpoint,
        };
        source_stream(self.scope, name, source, opts)
    }

    /// Where this instance of `source` goes on from in a checkpoint taken on another number of
    /// workers: the old instances' `parts`, merged by the source (an error says why it cannot).
    fn merge_source_parts<D: 'static>(
        &self,
        name: &str,
        source: &dyn crate::source::Source<Item = D>,
        parts: &[SourcePart],
    ) -> Result<Option<SourcePart>, String> {
        if parts.is_empty() {
            return Ok(None);
        }
        if parts.iter().all(|p| p.done) {
            // Its input had been read to the end: there is no place in it to go on from.
            return Ok(Some(SourcePart::merged(parts, Vec::new())));
        }
        let positions: Vec<&[u8]> = parts.iter().map(|p| &p.position[..]).collect();
        let position = source.merge_positions(&positions).map_err(|e| {
            format!(
                "source `{name}` cannot resume a checkpoint taken on {} workers on {}: {e}; run it \
                 on {0} workers in all (--workers {0}, or --workers × --processes = {0}), or start \
                 afresh",
                parts.len(),
                self.scope.peers()
            )
        })?;
        Ok(Some(SourcePart::merged(parts, position)))
    }

    /// Checks that `source` can replay its input (asking one that cannot for a write-ahead log in the
    /// checkpoint directory), and moves it to where the resumed checkpoint left it. Returns whether it
    /// keeps a write-ahead log.
    fn prepare_for_checkpoints(
        &self,
        name: &str,
        source: &mut dyn crate::source::Source<Item = impl Sized + 'static>,
        restored: Option<&SourcePart>,
    ) -> Result<bool, String> {
        let Some(config) = self.shared.config.checkpoints.as_ref() else {
            return Ok(false);
        };
        let mut logged = false;
        if !source.replayable() {
            if !config.guarantee.needs_replay() {
                // At-most-once reads on from where the source is: the input it missed is lost.
                return Ok(false);
            }
            let dir = config.dir.join("wal").join(format!(
                "{}-w{}",
                crate::checkpoint::file_safe(name),
                self.scope.index()
            ));
            match source.write_ahead(dir) {
                Ok(()) => logged = true,
                Err(e) => {
                    return Err(format!(
                        "source `{name}` cannot read its input again after a crash, which {} \
                         needs: {e}",
                        config.guarantee
                    ))
                }
            }
        }
        let offset = restored.map_or(0, |part| part.offset);
        let position = restored.map_or(&[][..], |part| &part.position[..]);
        if offset > 0 || logged || !position.is_empty() {
            source
                .resume_at(offset, position)
                .map_err(|e| format!("source `{name}` cannot resume at offset {offset}: {e}"))?;
        }
        Ok(logged)
    }

    /// Sends `stream` to sink `name` (this worker's instance of it).
    pub fn sink<D: 'static>(
        &mut self,
        name: &str,
        stream: EventStream<'scope, D>,
        factory: &dyn SinkFactory<D>,
    ) {
        let metrics = self.shared.sink_entry(name);
        match factory.make(self.worker()) {
            Ok(sink) => sink_stream(stream, name, sink, metrics, self.recovery.clone()),
            Err(e) => self.shared.fail(RunError::Sink {
                name: name.to_string(),
                error: e.to_string(),
            }),
        }
    }
}

/// A run in progress.
pub struct Running {
    guards: timely::communication::WorkerGuards<()>,
    shared: Arc<Shared>,
    started: Instant,
}

impl Running {
    /// A flag that, raised, makes every source end its input: held records are released, windows
    /// fire, files are committed, and the run ends.
    pub fn stop_flag(&self) -> StopFlag {
        self.shared.stop.clone()
    }

    /// The checkpoint this run resumed from, if any.
    pub fn resumed_from(&self) -> Option<&Manifest> {
        let coord = self.shared.coord.as_ref()?;
        coord.restored().map(|r| &r.manifest)
    }

    /// Waits for the run to end and reports what it did. Under a guarantee, a run whose input ended
    /// takes its final checkpoint and commits its last output here.
    pub fn join(self) -> Result<RunReport, RunError> {
        for result in self.guards.join() {
            result.map_err(RunError::Worker)?;
        }
        let elapsed = self.started.elapsed();
        if let Some(coord) = &self.shared.coord {
            coord
                .finish(self.shared.ended_cleanly())
                .map_err(|e| RunError::Checkpoint(e.to_string()))?;
        }
        if let Some(error) = self
            .shared
            .setup_errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
        {
            return Err(error);
        }
        let _ = self.shared.dead_letters.flush();
        let sources = self
            .shared
            .sources
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let sinks = self.shared.sinks.lock().unwrap_or_else(|e| e.into_inner());
        use std::sync::atomic::Ordering::Relaxed;
        Ok(RunReport {
            mode: self.shared.config.mode.to_string(),
            workers: self.shared.config.workers,
            elapsed,
            sources: sources
                .iter()
                .map(|(name, (m, _))| SourceReport {
                    name: name.clone(),
                    records: m.records.load(Relaxed),
                    late: m.late.load(Relaxed),
                    batches: m.batches.load(Relaxed),
                    capped: m.capped.load(Relaxed),
                    throttled: m.throttled.load(Relaxed),
                    aligned: m.aligned.load(Relaxed),
                })
                .collect(),
            sinks: sinks
                .iter()
                .map(|(name, m)| SinkReport {
                    name: name.clone(),
                    records: m.records.load(Relaxed),
                    fenced: m.fenced.load(Relaxed),
                    errors: m.errors.load(Relaxed),
                    first_error: m
                        .first_error
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .clone(),
                })
                .collect(),
            exchange_peak: self.shared.exchange.peak(),
            dead_letters: self.shared.dead_letters.count(),
            dead_letter_samples: self.shared.dead_letters.samples(),
            checkpoints: self.shared.coord.as_ref().map(|c| c.stats_now()),
            progress: self.shared.progress.as_ref().map(|p| p.report(elapsed)),
        })
    }
}

/// Starts `build` on every worker in the background.
pub fn launch<F>(config: RunConfig, build: F) -> Result<Running, RunError>
where
    F: Fn(&mut Dataflow<'_>) + Send + Sync + 'static,
{
    launch_with(config, DeadLetters::default(), build)
}

/// Like [`launch`], with the dead letters to use (for example one writing to a file).
pub fn launch_with<F>(
    config: RunConfig,
    dead_letters: DeadLetters,
    build: F,
) -> Result<Running, RunError>
where
    F: Fn(&mut Dataflow<'_>) + Send + Sync + 'static,
{
    let mut timely_config = config.timely_config().map_err(RunError::Start)?;
    let exchange = config.exchange_gauge();
    exchange.install(&mut timely_config);
    let idle = config.idle;
    let coord = match &config.checkpoints {
        Some(checkpoints) => {
            let (process, processes) = config
                .cluster
                .as_ref()
                .map_or((0, 1), |c| (c.process, c.processes));
            Some(
                Coordinator::open_on(
                    checkpoints.clone(),
                    config.total_workers(),
                    process,
                    processes,
                )
                .map_err(|e| RunError::Checkpoint(e.to_string()))?,
            )
        }
        None => None,
    };
    let stop = StopFlag::default();
    let drain = match coord {
        Some(_) => StopFlag::default(),
        None => stop.clone(),
    };
    let progress = config
        .count_progress
        .then(|| Arc::new(ProgressCounter::default()));
    let shared = Arc::new(Shared {
        progress,
        config,
        stop,
        drain,
        coord,
        stopped_early: AtomicBool::new(false),
        dead_letters,
        exchange,
        sources: Mutex::default(),
        sinks: Mutex::default(),
        setup_errors: Mutex::default(),
    });
    let started = Instant::now();
    let worker_shared = shared.clone();
    let connect_timeout = shared
        .config
        .cluster
        .as_ref()
        .filter(|c| c.processes > 1)
        .map(|c| c.connect_timeout);
    let guards = execute_within(connect_timeout, timely_config, move |worker| {
        let shared = worker_shared.clone();
        if connect_timeout.is_some() {
            // Timely lets each process go as soon as its own connections are made, so processes
            // start up to a second apart (the last to connect waits for the others' next retry):
            // their sources would start as far apart in event time, and every checkpoint round would
            // wait for the late ones to catch up. Every worker starts together instead.
            timely::synchronization::Barrier::new(worker).wait();
        }
        if let Some(progress) = &shared.progress {
            progress.install(worker);
        }
        let recovery = shared
            .coord
            .as_ref()
            .map(|coord| WorkerRecovery::new(coord.clone(), worker.index()));
        let before = worker.installed_dataflows();
        worker.dataflow::<EventTime, _, _>(|scope| {
            build(&mut Dataflow {
                scope,
                shared: shared.clone(),
                recovery: recovery.clone(),
            })
        });
        let pipeline: Vec<usize> = worker
            .installed_dataflows()
            .into_iter()
            .filter(|id| !before.contains(id))
            .collect();
        match recovery {
            None => match idle {
                IdleStrategy::BusySpin => while worker.step() {},
                IdleStrategy::SpinThenPark(_) => while worker.step_or_park(None) {},
            },
            Some(recovery) => run_with_checkpoints(worker, &shared, &recovery, &pipeline),
        }
    })?;
    Ok(Running {
        guards,
        shared,
        started,
    })
}

/// Starts `work` on every worker, as `timely::execute` does. On several processes that first connects
/// them all, which timely would wait for forever if one never comes: with `timeout`, the run fails
/// instead, and the connecting thread is left to end with the process.
pub(crate) fn execute_within<F>(
    timeout: Option<Duration>,
    config: timely::Config,
    work: F,
) -> Result<timely::communication::WorkerGuards<()>, RunError>
where
    F: Fn(&mut timely::worker::Worker) + Send + Sync + 'static,
{
    let Some(timeout) = timeout else {
        return timely::execute(config, work).map_err(RunError::Start);
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("caudal-connect".into())
        .spawn(move || {
            let _ = tx.send(timely::execute(config, work));
        })
        .map_err(|e| RunError::Start(format!("cannot start the connecting thread: {e}")))?;
    match rx.recv_timeout(timeout) {
        Ok(started) => started.map_err(RunError::Start),
        Err(_) => Err(RunError::Start(format!(
            "the processes of the run did not all connect within {}: check that every process was \
             started with the same --processes and --hostfile, or allow longer with \
             --connect-timeout",
            humantime::format_duration(timeout)
        ))),
    }
}

/// Runs `build` on every worker until every source has ended, and reports what it did.
pub fn run<F>(config: RunConfig, build: F) -> Result<RunReport, RunError>
where
    F: Fn(&mut Dataflow<'_>) + Send + Sync + 'static,
{
    launch(config, build)?.join()
}

/// Leaves the pipeline without ending its input (after a stop's last round, or when that round could
/// not complete): drops its dataflow, so that a resumed run goes on from the last checkpoint.
fn leave_early(worker: &mut timely::worker::Worker, shared: &Shared, pipeline: &[usize]) {
    shared
        .stopped_early
        .store(true, std::sync::atomic::Ordering::Release);
    for id in pipeline {
        worker.drop_dataflow(*id);
    }
}

/// A worker's loop under a guarantee: steps the dataflow and takes part in the checkpoint rounds
/// (worker 0 opens them); on a stop, a last round is taken and the workers leave without ending the
/// input, so that a resumed run goes on exactly where this one stopped.
fn run_with_checkpoints(
    worker: &mut timely::worker::Worker,
    shared: &Shared,
    recovery: &WorkerRecovery,
    pipeline: &[usize],
) {
    if let Err(e) = recovery.dataflow_built() {
        shared.fail(RunError::Checkpoint(e));
    }
    let coord = recovery.coordinator().clone();
    // A run refused while its dataflow was built (state or a source that does not fit the checkpoint)
    // leaves at once, without a checkpoint or output: the checkpoint it was refused for stays in force.
    let refused = shared.failed();
    if refused {
        coord.abandon();
    }
    let opens_rounds = worker.index() == 0;
    // Batch mode moves its frontier only at the end: its one checkpoint is the final one.
    let timed_rounds = shared.config.mode != ExecutionMode::Batch;
    let mut next_check = Instant::now();
    let mut stop_seen = false;
    let mut stop_deadline = None;
    let mut said_overdue = false;
    // On several processes the rounds' messages travel on a dataflow of their own, which outlives the
    // pipeline's until the final checkpoint is decided.
    let mut control = ControlChannel::build(worker, &coord);
    let mut pipeline_done = false;
    loop {
        let park = if coord.round_open() {
            Some(CHECKPOINT_PARK)
        } else if opens_rounds {
            Some(next_check.saturating_duration_since(Instant::now()))
        } else {
            None
        };
        let alive = match shared.config.idle {
            IdleStrategy::BusySpin => worker.step(),
            IdleStrategy::SpinThenPark(_) => worker.step_or_park(park),
        };
        if !stop_seen && shared.stop.is_stopped() {
            stop_seen = true;
            stop_deadline = timed_rounds.then(|| Instant::now() + coord.config().stop_grace);
            match timed_rounds {
                true => coord.request_stop(),
                false => shared.drain.stop(),
            }
        }
        if opens_rounds && !pipeline_done {
            let now = Instant::now();
            if now >= next_check || stop_seen {
                next_check = now
                    + coord
                        .maybe_open(now, timed_rounds)
                        .unwrap_or(CHECKPOINT_PARK);
            }
        }
        if let Err(e) = recovery.after_step() {
            coord.abandon();
            shared.fail(RunError::Checkpoint(e));
        }
        // A stop whose last round cannot complete leaves without it.
        let overdue = stop_deadline.is_some_and(|deadline| Instant::now() >= deadline)
            && !recovery.must_exit();
        if overdue && worker.index() == 0 && !said_overdue {
            said_overdue = true;
            eprintln!(
                "the last checkpoint could not be taken within {} of the stop (a source's watermark \
                 has not reached its cut); leaving without it: running the same command again \
                 resumes from checkpoint {}",
                humantime::format_duration(coord.config().stop_grace),
                coord.persisted()
            );
        }
        let Some(channel) = control.as_mut() else {
            // One process: leave after a stop's last round, or at the end of the input.
            if recovery.must_exit() || overdue || refused {
                leave_early(worker, shared, pipeline);
                break;
            }
            if !alive {
                break;
            }
            continue;
        };
        // Several processes: the pipeline ends (or is dropped after a stop's last round) first; the
        // control channel closes once the final checkpoint is decided, and the loop ends with it.
        if !pipeline_done && (recovery.must_exit() || overdue || refused) {
            leave_early(worker, shared, pipeline);
            pipeline_done = true;
            channel.close();
        }
        if !pipeline_done && {
            let installed = worker.installed_dataflows();
            pipeline.iter().all(|id| !installed.contains(id))
        } {
            pipeline_done = true;
            recovery.finish();
        }
        if pipeline_done && !channel.is_closed() {
            coord.try_finishing(|| shared.ended_cleanly());
        }
        channel.pump();
        if !channel.is_closed() && coord.cluster_done() {
            channel.close();
        }
        if !alive {
            return;
        }
    }
    recovery.finish();
}
