//! The streaming context: the batch interval, the clock, and the worker that runs the batches.
//!
//! A DStream program is a function that, given the context's [`Streams`], creates input streams,
//! transforms them and registers output operations. [`StreamingContext::start`] builds it on a timely
//! worker (a thread of its own; [`StreamingContext::start_parallel`] on each of several) and runs a
//! batch per interval: batch `i` is timely epoch `i`, and an output operation of batch `i` runs on the
//! first worker once the frontier has passed epoch `i` everywhere, in the order the output operations
//! were registered. The manual clock runs batches only when told to
//! ([`StreamingContext::advance`]), which makes runs deterministic; the system clock runs batch `i` at
//! `zero + (i + 1) × interval`, `zero` being the start rounded down to the interval, as Spark does.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use caudal_operators::shell::{StateRegistry, WorkerSnapshot};
use caudal_operators::time::wall_clock_ms;
use caudal_operators::EventTime;
use timely::dataflow::operators::probe::Handle as ProbeHandle;
use timely::dataflow::Scope;
use timely::scheduling::SyncActivator;
use timely::WorkerConfig;

use super::checkpoint::{DStreamCheckpoint, DStreamCheckpoints};
use super::time::{batch_of, BatchTime};
use crate::config::{defaults, Cluster};
use crate::dead_letter::DeadLetters;

/// What can go wrong with a streaming context.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DStreamError {
    /// `start` was called twice.
    #[error(
        "the streaming context has already been started; create a new one to run another program"
    )]
    AlreadyStarted,
    /// An operation that needs a running context was called before `start`.
    #[error("the streaming context has not been started; call start(program) first")]
    NotStarted,
    /// The program registered no output operation, so no batch would do anything.
    #[error("no output operations registered, so nothing to execute: add pprint, foreach_rdd or save_as_text_files")]
    NoOutputOperations,
    /// `advance` needs the manual clock.
    #[error("advance() drives the manual clock; this context runs on the system clock (use StreamingContext::manual)")]
    NotManualClock,
    /// The context was stopped.
    #[error("the streaming context has been stopped")]
    Stopped,
    /// The program, an operation or an output failed.
    #[error("the streaming job failed: {0}")]
    Failed(String),
    /// The checkpoint directory cannot be read or written, or its checkpoint does not fit.
    #[error("{0}")]
    Checkpoint(String),
}

/// Which clock runs the batches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ClockKind {
    System,
    Manual,
}

const RUNNING: u8 = 0;
const STOP_GRACEFULLY: u8 = 1;
const STOP_NOW: u8 = 2;

/// What the controlling thread and the worker share.
#[derive(Default)]
pub(crate) struct Control {
    state: Mutex<ControlState>,
    changed: Condvar,
    stop: AtomicU8,
    /// A worker panicked: the others stop.
    crashed: std::sync::atomic::AtomicBool,
    /// Manual clock: how many batches may run.
    released: AtomicU64,
    /// The input operators, to wake when the clock advances or the context stops.
    inputs: Mutex<Vec<SyncActivator>>,
}

#[derive(Default)]
struct ControlState {
    built: Option<Result<(), DStreamError>>,
    /// Batches whose output operations have all run.
    completed: u64,
    terminated: bool,
    /// The batch a checkpoint is being taken before, while the first worker collects the workers'
    /// snapshots.
    snapshot_round: Option<u64>,
    /// The snapshots handed in for that round, by worker.
    snapshots: BTreeMap<usize, WorkerSnapshot>,
    error: Option<String>,
}

impl Control {
    fn lock(&self) -> MutexGuard<'_, ControlState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn update(&self, f: impl FnOnce(&mut ControlState)) {
        f(&mut self.lock());
        self.changed.notify_all();
    }

    fn wait_until(
        &self,
        timeout: Option<Duration>,
        done: impl Fn(&ControlState) -> bool,
    ) -> MutexGuard<'_, ControlState> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut state = self.lock();
        while !done(&state) {
            match deadline {
                None => state = self.changed.wait(state).unwrap_or_else(|e| e.into_inner()),
                Some(at) => {
                    let left = at.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    state = self
                        .changed
                        .wait_timeout(state, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
        }
        state
    }

    fn wake_inputs(&self) {
        for a in self.inputs.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = a.activate();
        }
    }

    /// Records a failure; the first one is what `await_termination` reports.
    pub(crate) fn fail(&self, message: String) {
        self.update(|s| {
            s.error.get_or_insert(message);
        });
    }

    pub(crate) fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire) != RUNNING
    }

    pub(crate) fn register_input(&self, activator: SyncActivator) {
        self.inputs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(activator);
    }
}

/// When batches are due.
pub(crate) struct Clock {
    kind: ClockKind,
    interval_ms: u64,
    /// The first batch of this run (after a restore, the one the checkpoint stopped before): on the
    /// system clock it runs one interval after `zero`.
    first: u64,
    /// The Unix time (ms) of batch -1: batch `i` runs at `zero_ms + (i + 1) × interval`.
    zero_ms: u64,
    zero: Instant,
    control: Arc<Control>,
}

impl Clock {
    /// The batch interval in milliseconds.
    pub(crate) fn interval_ms(&self) -> u64 {
        self.interval_ms
    }

    /// How many batches are due now.
    pub(crate) fn due(&self) -> u64 {
        match self.kind {
            ClockKind::Manual => self.control.released.load(Ordering::Acquire),
            ClockKind::System => {
                self.first + self.zero.elapsed().as_millis() as u64 / self.interval_ms
            }
        }
    }

    /// How long until batch `next` is due (`None` on the manual clock: it is woken instead).
    pub(crate) fn until(&self, next: u64) -> Option<Duration> {
        match self.kind {
            ClockKind::Manual => None,
            ClockKind::System => Some(
                (self.zero + Duration::from_millis((next - self.first + 1) * self.interval_ms))
                    .saturating_duration_since(Instant::now()),
            ),
        }
    }

    /// The time of batch `batch`.
    pub(crate) fn time(&self, batch: u64) -> BatchTime {
        let since = match self.kind {
            ClockKind::Manual => batch,
            ClockKind::System => batch.saturating_sub(self.first),
        };
        BatchTime {
            batch,
            ms: self.zero_ms + (since + 1) * self.interval_ms,
        }
    }
}

/// A unit of output work: an output operation applied to one batch.
type Job = Box<dyn FnOnce()>;

/// What the DStreams of one running program share on its worker.
pub(crate) struct Graph {
    pub(crate) clock: Clock,
    /// This worker's index, and how many workers run the program.
    pub(crate) worker: usize,
    pub(crate) workers: usize,
    pub(crate) control: Arc<Control>,
    pub(crate) utc: bool,
    pub(crate) default_partitions: usize,
    /// How often socket streams cut a block (a partition), in ms.
    pub(crate) block_interval_ms: u64,
    /// The split size of text-file streams' files, in bytes.
    pub(crate) file_split_bytes: u64,
    pub(crate) dead_letters: DeadLetters,
    pub(crate) probe: ProbeHandle<EventTime>,
    /// How many batches the input streams have emitted.
    pub(crate) generated: Cell<u64>,
    /// The first batch of this run.
    pub(crate) first_batch: u64,
    /// How many input streams the program has made (they are named by their rank).
    pub(crate) inputs_made: Cell<usize>,
    /// Under [`StreamingContext::checkpoint`]: the checkpoints and the inputs' offsets.
    pub(crate) recovery: Option<Recovery>,
    outputs: Cell<usize>,
    jobs: RefCell<BTreeMap<(u64, usize), Vec<Job>>>,
}

impl Graph {
    /// Registers an output operation; returns its rank (the order output operations run in).
    pub(crate) fn next_output(&self) -> usize {
        self.outputs.replace(self.outputs.get() + 1)
    }

    /// Queues output work for batch `batch`, to run when every output operation has seen the batch.
    pub(crate) fn queue_job(&self, batch: u64, rank: usize, job: Job) {
        self.jobs
            .borrow_mut()
            .entry((batch, rank))
            .or_default()
            .push(job);
    }

    /// Writes the checkpoint before batch `next`, if the program is checkpointed; called when every
    /// batch before it is complete and none after it has been emitted.
    fn take_checkpoint(&self, next: u64) -> Result<(), String> {
        let Some(recovery) = &self.recovery else {
            return Ok(());
        };
        if self.control.stop.load(Ordering::Acquire) == STOP_NOW {
            // Output operations were dropped: the batches are not done.
            return Ok(());
        }
        let checkpoint = DStreamCheckpoint {
            next_batch: next,
            interval_ms: self.clock.interval_ms,
            manual: self.clock.kind == ClockKind::Manual,
            utc: self.utc,
            default_partitions: self.default_partitions,
            zero_ms: self.clock.zero_ms,
            inputs: recovery
                .offsets
                .borrow()
                .iter()
                .map(|input| (input.name.clone(), input.emitted.get()))
                .collect(),
            positions: recovery
                .offsets
                .borrow()
                .iter()
                .filter(|input| !input.position.borrow().is_empty())
                .map(|input| (input.name.clone(), input.position.borrow().clone()))
                .collect(),
            states: self.snapshots(next)?,
        };
        recovery
            .store
            .write(&checkpoint)
            .map_err(|e| format!("checkpoint before batch {next} failed: {e}"))?;
        for input in recovery.offsets.borrow().iter() {
            input.checkpointed.set(checkpoint.inputs[&input.name]);
        }
        Ok(())
    }

    /// Every worker's snapshot taken before batch `next` (this one's and, on several workers, the
    /// others', which the batch is held back for: this worker's input cannot emit it meanwhile).
    fn snapshots(&self, next: u64) -> Result<Vec<WorkerSnapshot>, String> {
        let mine = StateRegistry::current().snapshot();
        if self.workers == 1 {
            return Ok(vec![mine]);
        }
        self.control.update(|s| {
            s.snapshot_round = Some(next);
            s.snapshots.clear();
            s.snapshots.insert(self.worker, mine);
        });
        self.control.wake_inputs();
        let workers = self.workers;
        let mut state = self
            .control
            .wait_until(None, |s| s.snapshots.len() == workers || s.error.is_some());
        state.snapshot_round = None;
        if let Some(e) = &state.error {
            return Err(format!("checkpoint before batch {next} not taken: {e}"));
        }
        Ok(std::mem::take(&mut state.snapshots).into_values().collect())
    }

    /// On a worker other than the first: hands in a snapshot if a checkpoint round is waiting for one.
    fn answer_snapshot(&self) {
        let mut state = self.control.lock();
        if state.snapshot_round.is_some() && !state.snapshots.contains_key(&self.worker) {
            state
                .snapshots
                .insert(self.worker, StateRegistry::current().snapshot());
            drop(state);
            self.control.changed.notify_all();
        }
    }

    /// Runs (or, when stopping at once, drops) the output work of every batch the probe has passed;
    /// returns how many batches are complete.
    fn run_jobs(&self) -> u64 {
        let frontier = self
            .probe
            .with_frontier(|f| f.first().copied())
            .map(batch_of);
        let passed = frontier.unwrap_or(u64::MAX);
        loop {
            let next = {
                let mut jobs = self.jobs.borrow_mut();
                match jobs.first_key_value() {
                    Some((&(batch, _), _)) if batch < passed => jobs.pop_first(),
                    _ => None,
                }
            };
            let Some((_, work)) = next else { break };
            if self.control.stop.load(Ordering::Acquire) == STOP_NOW {
                continue;
            }
            for job in work {
                job();
            }
        }
        frontier.unwrap_or(self.generated.get())
    }
}

/// A checkpointed program's side of its checkpoints, on the worker.
pub(crate) struct Recovery {
    pub(crate) store: DStreamCheckpoints,
    /// Whether socket streams keep a write-ahead log.
    pub(crate) write_ahead_log: bool,
    /// The offsets the checkpoint being resumed left the inputs at.
    pub(crate) restored: BTreeMap<String, u64>,
    /// The positions it left them at (sources whose offset does not say it all: Kafka's partitions).
    pub(crate) restored_positions: BTreeMap<String, Vec<u8>>,
    /// Each input with a source: its name, its offset after the last batch it emitted, and the
    /// offset of the last checkpoint written (which its source may forget what is before).
    pub(crate) offsets: RefCell<Vec<InputOffsets>>,
}

/// One input's offsets (see [`Recovery::offsets`]).
pub(crate) struct InputOffsets {
    pub(crate) name: String,
    pub(crate) emitted: Rc<Cell<u64>>,
    /// Its source's position after the last batch it emitted.
    pub(crate) position: Rc<RefCell<Vec<u8>>>,
    pub(crate) checkpointed: Rc<Cell<u64>>,
}

/// What a DStream program gets to create its input streams with (Spark's `ssc` inside the program).
pub struct Streams<'s> {
    pub(crate) scope: Scope<'s, EventTime>,
    pub(crate) graph: Rc<Graph>,
}

impl<'s> Streams<'s> {
    /// The batch interval.
    pub fn batch_interval(&self) -> Duration {
        Duration::from_millis(self.graph.clock.interval_ms)
    }

    /// Errors and malformed input reported by the input streams.
    pub fn dead_letters(&self) -> DeadLetters {
        self.graph.dead_letters.clone()
    }
}

/// A DStream program: builds the streams and output operations on each worker.
type Program = Arc<dyn for<'s> Fn(&mut Streams<'s>) + Send + Sync>;

/// A Spark-style streaming context: a batch interval, a clock, and (once started) a running program.
///
/// ```
/// use caudal::dstream::{Rdd, RddQueue, StreamingContext};
/// use std::sync::{Arc, Mutex};
/// use std::time::Duration;
///
/// let ssc = StreamingContext::manual(Duration::from_secs(1));
/// let queue = RddQueue::new();
/// queue.push(Rdd::new(vec![vec![4, 2], vec![7, 15, 4]]));
/// let maxima = Arc::new(Mutex::new(Vec::new()));
/// let out = maxima.clone();
/// ssc.start(move |ssc| {
///     ssc.queue_stream(&queue)
///         .reduce(|a, b| a.max(b))
///         .foreach_rdd(move |_time, rdd| out.lock().unwrap().push(rdd.collect()));
/// })
/// .unwrap();
/// ssc.advance(2).unwrap();
/// ssc.stop(true).unwrap();
/// assert_eq!(*maxima.lock().unwrap(), vec![vec![15], vec![]]);
/// ```
pub struct StreamingContext {
    interval: Duration,
    clock: ClockKind,
    utc: bool,
    default_partitions: usize,
    block_interval: Duration,
    file_split_bytes: u64,
    dead_letters: DeadLetters,
    workers: usize,
    cluster: Option<Cluster>,
    control: Arc<Control>,
    guards: Mutex<Option<timely::communication::initialize::WorkerGuards<()>>>,
    checkpoint_dir: Option<PathBuf>,
    write_ahead_log: bool,
    /// The checkpoint [`StreamingContext::get_or_create`] found, and its file.
    restored: Option<(PathBuf, DStreamCheckpoint)>,
}

impl StreamingContext {
    /// A context whose batches run on the system clock, every `batch_interval`.
    ///
    /// # Panics
    /// If the interval is shorter than a millisecond.
    pub fn new(batch_interval: Duration) -> Self {
        assert!(
            batch_interval.as_millis() >= 1,
            "the batch interval must be at least 1 ms, got {batch_interval:?}"
        );
        StreamingContext {
            interval: batch_interval,
            clock: ClockKind::System,
            utc: false,
            default_partitions: defaults::DSTREAM_PARTITIONS,
            block_interval: defaults::DSTREAM_BLOCK_INTERVAL,
            file_split_bytes: crate::source::splits::LOCAL_SPLIT_BYTES,
            dead_letters: DeadLetters::default(),
            workers: 1,
            cluster: None,
            control: Arc::default(),
            guards: Mutex::new(None),
            checkpoint_dir: None,
            write_ahead_log: false,
            restored: None,
        }
    }

    /// Keeps a checkpoint in `directory` after every batch (Spark's `ssc.checkpoint(directory)`): the
    /// state of `update_state_by_key`, windows and windowed reductions, the batch counter, and where
    /// each input stream is. [`StreamingContext::get_or_create`] on the same directory resumes from it.
    /// Queue streams cannot be checkpointed (as in Spark); a socket stream goes on from what its server
    /// sends next, unless [`StreamingContext::receiver_write_ahead_log`] is on.
    pub fn checkpoint(&mut self, directory: impl Into<PathBuf>) {
        self.checkpoint_dir = Some(directory.into());
    }

    /// Keeps what socket streams receive in a write-ahead log in the checkpoint directory before it
    /// enters a batch, so that a resumed program replays what the crashed one had received after its
    /// last checkpoint (Spark's `spark.streaming.receiver.writeAheadLog.enable`). Needs
    /// [`StreamingContext::checkpoint`].
    pub fn receiver_write_ahead_log(mut self, enable: bool) -> Self {
        self.write_ahead_log = enable;
        self
    }

    /// The context of the checkpoint in `directory`, if there is one, to run the same program again
    /// from where it was; otherwise `create()`'s, checkpointing into `directory` (Spark's
    /// `StreamingContext.getOrCreate`). A resumed context keeps the checkpoint's batch interval, clock,
    /// partitions and number of workers (each worker resumes its own state); its program is the one
    /// given to [`StreamingContext::start`] (or `start_parallel`), which must build
    /// the same streams as the checkpointed one (a checkpoint that does not fit is refused, with its
    /// file named). A damaged checkpoint is an error that names the file.
    pub fn get_or_create(
        directory: impl Into<PathBuf>,
        create: impl FnOnce() -> StreamingContext,
    ) -> Result<StreamingContext, DStreamError> {
        let directory = directory.into();
        let store = DStreamCheckpoints::open(&directory)
            .map_err(|e| DStreamError::Checkpoint(e.to_string()))?;
        let Some((file, checkpoint)) = store
            .latest()
            .map_err(|e| DStreamError::Checkpoint(e.to_string()))?
        else {
            let mut ssc = create();
            ssc.checkpoint_dir.get_or_insert(directory);
            return Ok(ssc);
        };
        let interval = Duration::from_millis(checkpoint.interval_ms);
        let mut ssc = if checkpoint.manual {
            StreamingContext::manual(interval)
        } else {
            StreamingContext::new(interval)
        };
        ssc.utc = checkpoint.utc;
        ssc.default_partitions = checkpoint.default_partitions;
        ssc.workers = checkpoint.states.len().max(1);
        ssc.checkpoint_dir = Some(directory);
        ssc.restored = Some((file, checkpoint));
        Ok(ssc)
    }

    /// The batch a context made by [`StreamingContext::get_or_create`] resumes at, if it resumes.
    pub fn resumes_at_batch(&self) -> Option<u64> {
        self.restored.as_ref().map(|(_, cp)| cp.next_batch)
    }

    /// A context on the manual clock: time starts at 0 and a batch runs only when [`advance`]d; `pprint`
    /// prints times in UTC. For deterministic tests and for `caudal dstream`.
    ///
    /// [`advance`]: StreamingContext::advance
    pub fn manual(batch_interval: Duration) -> Self {
        let mut ssc = StreamingContext::new(batch_interval);
        ssc.clock = ClockKind::Manual;
        ssc.utc = true;
        ssc
    }

    /// Prints batch times in UTC (`true`) or in the local time zone (`false`, Spark's way and the
    /// default on the system clock).
    pub fn utc(mut self, utc: bool) -> Self {
        self.utc = utc;
        self
    }

    /// How many partitions keyed operations shuffle into unless told otherwise (Spark's default
    /// parallelism; 2, as `local[2]`).
    pub fn default_parallelism(mut self, partitions: usize) -> Self {
        assert!(partitions > 0, "the default parallelism must be at least 1");
        self.default_partitions = partitions;
        self
    }

    /// How often a socket stream's receiver cuts a block, each block a partition of its batch (Spark's
    /// `spark.streaming.blockInterval`; 200 ms by default). Not kept in checkpoints: a context that
    /// [`StreamingContext::get_or_create`] resumes has the default unless set again.
    ///
    /// # Panics
    /// If the interval is shorter than a millisecond.
    pub fn block_interval(mut self, interval: Duration) -> Self {
        assert!(
            interval.as_millis() >= 1,
            "the block interval must be at least 1 ms, got {interval:?}"
        );
        self.block_interval = interval;
        self
    }

    /// The size of the input splits that a text-file stream cuts each new file into, one partition
    /// each (Hadoop's `min(mapreduce.input.fileinputformat.split.maxsize, block size)`: 32 MiB, the
    /// local file system's block size, by default). Not kept in checkpoints, as
    /// [`StreamingContext::block_interval`].
    ///
    /// # Panics
    /// If `bytes` is 0.
    pub fn file_split_bytes(mut self, bytes: u64) -> Self {
        assert!(bytes > 0, "the split size must be at least 1 byte");
        self.file_split_bytes = bytes;
        self
    }

    /// Runs the program on `n` timely workers (threads), its batches' partitions spread over them as
    /// Spark spreads an RDD's over its executors' cores (`local[n]`): partition `p` of a shuffle's
    /// output on worker `p % n`, an input stream read on the first worker and its partitions spread,
    /// and output operations run on the first worker with the whole batch. Results are those of one
    /// worker, partition for partition. One worker by default. A program on several workers is started
    /// with [`StreamingContext::start_parallel`] (it is built once on each); its checkpoints keep a
    /// state per worker, and it resumes on as many.
    ///
    /// # Panics
    /// If `n` is 0.
    pub fn workers(mut self, n: usize) -> Self {
        assert!(n > 0, "a streaming context needs at least one worker");
        self.workers = n;
        self
    }

    /// Runs the program as process `cluster.process` of a timely cluster of `cluster.processes`,
    /// each with [`workers`](StreamingContext::workers) threads (timely's `-n`, `-p`, `-h`): the
    /// batches' partitions spread over the workers of every process. The first process reads the
    /// inputs, runs the output operations and drives the manual clock; on the others, `advance`
    /// returns at once and `stop` waits until the first process stops.
    pub fn cluster(mut self, cluster: Cluster) -> Self {
        self.cluster = Some(cluster).filter(|c| c.processes > 1);
        self
    }

    /// Whether this process runs the output operations (the only one, or the first of a cluster).
    fn first_process(&self) -> bool {
        self.cluster.as_ref().is_none_or(|c| c.process == 0)
    }

    /// The batch interval.
    pub fn batch_interval(&self) -> Duration {
        self.interval
    }

    /// Malformed input and input errors reported while running.
    pub fn dead_letters(&self) -> &DeadLetters {
        &self.dead_letters
    }

    /// Builds `program` on a worker thread and starts running batches. Returns once the program is
    /// built: an error if it registered no output operation or panicked while building. A context on
    /// several workers needs [`StreamingContext::start_parallel`].
    pub fn start<F>(&self, program: F) -> Result<(), DStreamError>
    where
        F: for<'s> FnOnce(&mut Streams<'s>) + Send + 'static,
    {
        if self.workers > 1 {
            return Err(DStreamError::Failed(format!(
                "this context runs on {} workers, and each builds the program: start it with \
                 start_parallel(program), whose program is a Fn (clone what it moves into the \
                 streams' closures), or use one worker",
                self.workers
            )));
        }
        let once = Mutex::new(Some(program));
        self.launch(Arc::new(move |streams: &mut Streams<'_>| {
            if let Some(program) = once.lock().unwrap_or_else(|e| e.into_inner()).take() {
                program(streams);
            }
        }))
    }

    /// [`StreamingContext::start`] for a context on any number of [`workers`](StreamingContext::workers):
    /// `program` builds the same streams on each worker.
    pub fn start_parallel<F>(&self, program: F) -> Result<(), DStreamError>
    where
        F: for<'s> Fn(&mut Streams<'s>) + Send + Sync + 'static,
    {
        self.launch(Arc::new(program))
    }

    fn launch(&self, program: Program) -> Result<(), DStreamError> {
        let mut guards = self.guards.lock().unwrap_or_else(|e| e.into_inner());
        if guards.is_some() {
            return Err(DStreamError::AlreadyStarted);
        }
        if self.cluster.is_some() && self.checkpoint_dir.is_some() {
            return Err(DStreamError::Checkpoint(
                "a program on several processes cannot be checkpointed yet: checkpoint it on the \
                 workers of one process"
                    .into(),
            ));
        }
        if self.write_ahead_log && self.checkpoint_dir.is_none() {
            return Err(DStreamError::Checkpoint(
                "the receiver write-ahead log needs a checkpoint directory: call \
                 checkpoint(directory) first"
                    .into(),
            ));
        }
        let store = match &self.checkpoint_dir {
            Some(dir) => Some(
                DStreamCheckpoints::open(dir)
                    .map_err(|e| DStreamError::Checkpoint(e.to_string()))?,
            ),
            None => None,
        };
        let store = Mutex::new(store);
        let write_ahead_log = self.write_ahead_log;
        // The other workers then stay to hand in their state for the last checkpoint (checkpoints
        // are of one process: the first worker is in this one).
        let keeps_checkpoints = self.checkpoint_dir.is_some();
        let restored = self.restored.clone();
        if let Some(next) = self.resumes_at_batch() {
            // The manual clock has released the batches before the checkpoint.
            self.control.released.store(next, Ordering::Release);
            self.control.update(|s| s.completed = next);
        }
        let control = self.control.clone();
        let (kind, interval_ms, utc, default_partitions, dead_letters) = (
            self.clock,
            self.interval.as_millis() as u64,
            self.utc,
            self.default_partitions,
            self.dead_letters.clone(),
        );
        let block_interval_ms = self.block_interval.as_millis() as u64;
        let file_split_bytes = self.file_split_bytes;
        let local_workers = self.workers;
        let (config, connect_timeout) = timely_config(local_workers, self.cluster.as_ref())?;
        let started = crate::pipeline::execute_within(connect_timeout, config, move |worker| {
            let leader = worker.index() == 0;
            let _terminated = Terminated {
                control: control.clone(),
                // The first worker of each process says when the process's run has ended.
                local_first: worker.index() % local_workers == 0,
            };
            let first = restored.as_ref().map_or(0, |(_, cp)| cp.next_batch);
            let (zero_ms, zero) = match kind {
                ClockKind::Manual => (
                    restored.as_ref().map_or(0, |(_, cp)| cp.zero_ms),
                    Instant::now(),
                ),
                ClockKind::System => {
                    let now_ms = wall_clock_ms();
                    let zero_ms = now_ms / interval_ms * interval_ms;
                    (
                        zero_ms,
                        Instant::now() - Duration::from_millis(now_ms - zero_ms),
                    )
                }
            };
            let graph = Rc::new(Graph {
                worker: worker.index(),
                workers: worker.peers(),
                clock: Clock {
                    kind,
                    interval_ms,
                    first,
                    zero_ms,
                    zero,
                    control: control.clone(),
                },
                control: control.clone(),
                utc,
                default_partitions,
                block_interval_ms,
                file_split_bytes,
                dead_letters: dead_letters.clone(),
                probe: ProbeHandle::new(),
                generated: Cell::new(first),
                first_batch: first,
                inputs_made: Cell::new(0),
                // The first worker reads the inputs and writes the checkpoints.
                recovery: leader
                    .then(|| store.lock().unwrap_or_else(|e| e.into_inner()).take())
                    .flatten()
                    .map(|store| Recovery {
                        store,
                        write_ahead_log,
                        restored: restored
                            .as_ref()
                            .map(|(_, cp)| cp.inputs.clone())
                            .unwrap_or_default(),
                        restored_positions: restored
                            .as_ref()
                            .map(|(_, cp)| cp.positions.clone())
                            .unwrap_or_default(),
                        offsets: RefCell::default(),
                    }),
                outputs: Cell::new(0),
                jobs: RefCell::default(),
            });
            if let Some((file, cp)) = &restored {
                match cp.states.get(worker.index()) {
                    Some(state) if cp.states.len() == worker.peers() => {
                        StateRegistry::current().restore_from(state.clone())
                    }
                    _ => control.fail(format!(
                        "checkpoint {} was taken on {} workers; resume it on as many (this run has \
                         {})",
                        file.display(),
                        cp.states.len(),
                        worker.peers()
                    )),
                }
            }
            worker.dataflow::<EventTime, _, _>(|scope| {
                let mut streams = Streams {
                    scope,
                    graph: graph.clone(),
                };
                program(&mut streams);
            });
            if let Some((file, _)) = &restored {
                if let Err(e) = check_restored(file) {
                    control.fail(e);
                }
            }
            let failed = control.lock().error.clone();
            if !leader {
                // The first worker says whether the program was built, and runs the batches' outputs.
            } else if let Some(e) = failed {
                control.update(|s| s.built = Some(Err(DStreamError::Checkpoint(e))));
                control.stop.store(STOP_NOW, Ordering::Release);
                control.wake_inputs();
            } else if graph.outputs.get() == 0 {
                control.update(|s| s.built = Some(Err(DStreamError::NoOutputOperations)));
                control.stop.store(STOP_NOW, Ordering::Release);
                control.wake_inputs();
            } else {
                control.update(|s| s.built = Some(Ok(())));
            }
            let mut checkpointed = first;
            loop {
                let alive = worker.step_or_park(None);
                if control.crashed.load(Ordering::Acquire) {
                    // Another worker panicked: its part of the progress will never come.
                    for dataflow in worker.installed_dataflows() {
                        worker.drop_dataflow(dataflow);
                    }
                    break;
                }
                if !leader {
                    graph.answer_snapshot();
                    if !alive {
                        // The first worker may still take a last checkpoint: stay to answer it.
                        while keeps_checkpoints
                            && !control.lock().terminated
                            && !control.crashed.load(Ordering::Acquire)
                        {
                            graph.answer_snapshot();
                            drop(control.wait_until(Some(Duration::from_millis(10)), |s| {
                                s.terminated || s.snapshot_round.is_some()
                            }));
                        }
                        break;
                    }
                    continue;
                }
                let done = graph.run_jobs();
                if done > checkpointed && done == graph.generated.get() {
                    // Every batch emitted is complete: nothing is in flight.
                    if let Err(e) = graph.take_checkpoint(done) {
                        control.fail(e);
                    }
                    checkpointed = done;
                }
                control.update(|s| s.completed = s.completed.max(done));
                if !alive {
                    break;
                }
            }
        })
        .map_err(|e| DStreamError::Failed(e.to_string()))?;
        *guards = Some(started);
        drop(guards);
        if !self.first_process() {
            // The first process builds and runs the outputs; this one runs its workers' share.
            return Ok(());
        }
        let state = self
            .control
            .wait_until(None, |s| s.built.is_some() || s.terminated);
        match (&state.built, &state.error) {
            (Some(result), _) => result.clone(),
            (None, Some(e)) => Err(DStreamError::Failed(e.clone())),
            (None, None) => Err(DStreamError::Failed(
                "the program ended before it was built".into(),
            )),
        }
    }

    /// Manual clock: runs the next `batches` batches and returns once their output operations have run.
    pub fn advance(&self, batches: u64) -> Result<(), DStreamError> {
        if self.clock != ClockKind::Manual {
            return Err(DStreamError::NotManualClock);
        }
        self.running()?;
        if !self.first_process() {
            return Ok(());
        }
        let target = self.control.released.fetch_add(batches, Ordering::AcqRel) + batches;
        self.control.wake_inputs();
        let state = self.control.wait_until(None, |s| {
            s.completed >= target || s.terminated || s.error.is_some()
        });
        if let Some(e) = &state.error {
            return Err(DStreamError::Failed(e.clone()));
        }
        if state.completed < target {
            return Err(DStreamError::Stopped);
        }
        Ok(())
    }

    /// How many batches have completed (all their output operations have run).
    pub fn batches_completed(&self) -> u64 {
        self.control.lock().completed
    }

    /// Waits until the context is stopped (from another thread) or fails.
    pub fn await_termination(&self) -> Result<(), DStreamError> {
        self.await_termination_or_timeout(None).map(|_| ())
    }

    /// Waits until the context stops or fails, or `timeout` passes; `Ok(true)` if it stopped.
    pub fn await_termination_or_timeout(
        &self,
        timeout: impl Into<Option<Duration>>,
    ) -> Result<bool, DStreamError> {
        self.started()?;
        let state = self
            .control
            .wait_until(timeout.into(), |s| s.terminated || s.error.is_some());
        match &state.error {
            Some(e) => Err(DStreamError::Failed(e.clone())),
            None => Ok(state.terminated),
        }
    }

    /// Stops the context. Gracefully: no new batch starts, and the batches already under way finish and
    /// run their output operations. Otherwise, output operations not yet run are dropped. Returns the
    /// first failure of the run, if any.
    pub fn stop(&self, graceful: bool) -> Result<(), DStreamError> {
        let how = if graceful { STOP_GRACEFULLY } else { STOP_NOW };
        let _ =
            self.control
                .stop
                .compare_exchange(RUNNING, how, Ordering::AcqRel, Ordering::Acquire);
        self.control.wake_inputs();
        let guards = self.guards.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(guards) = guards {
            for result in guards.join() {
                if let Err(panic) = result {
                    self.control.fail(format!("the worker panicked: {panic}"));
                }
            }
        }
        let unreadable = self.dead_letters.count();
        if unreadable > 0 {
            tracing::warn!("{unreadable} input records could not be read and were skipped (see dead_letters())");
        }
        match &self.control.lock().error {
            Some(e) => Err(DStreamError::Failed(e.clone())),
            None => Ok(()),
        }
    }

    fn started(&self) -> Result<(), DStreamError> {
        let started = self
            .guards
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some();
        if started || self.control.lock().terminated {
            Ok(())
        } else {
            Err(DStreamError::NotStarted)
        }
    }

    fn running(&self) -> Result<(), DStreamError> {
        self.started()?;
        if self.control.stopping() || self.control.lock().terminated {
            return Err(DStreamError::Stopped);
        }
        Ok(())
    }
}

impl Drop for StreamingContext {
    fn drop(&mut self) {
        let _ = self.stop(false);
    }
}

/// Timely's configuration for `workers` threads in this process, of `cluster` if any, and how long
/// the processes may take to connect.
fn timely_config(
    workers: usize,
    cluster: Option<&Cluster>,
) -> Result<(timely::Config, Option<Duration>), DStreamError> {
    let Some(cluster) = cluster else {
        let communication = match workers {
            1 => timely::CommunicationConfig::Thread,
            n => timely::CommunicationConfig::Process(n),
        };
        let config = timely::Config {
            communication,
            worker: WorkerConfig::default(),
        };
        return Ok((config, None));
    };
    let mut args = vec![
        "-w".to_string(),
        workers.to_string(),
        "-n".to_string(),
        cluster.processes.to_string(),
        "-p".to_string(),
        cluster.process.to_string(),
    ];
    if let Some(hostfile) = &cluster.hostfile {
        std::fs::metadata(hostfile).map_err(|e| {
            DStreamError::Failed(format!(
                "cannot read the hostfile {}: {e}",
                hostfile.display()
            ))
        })?;
        args.extend(["-h".to_string(), hostfile.display().to_string()]);
    }
    let config = timely::Config::from_args(args.into_iter()).map_err(DStreamError::Failed)?;
    Ok((config, Some(cluster.connect_timeout)))
}

/// Checks, after the program is built, that every part of the checkpoint in `file` found its operator
/// and fitted it.
fn check_restored(file: &std::path::Path) -> Result<(), String> {
    let problems = StateRegistry::current().restore_problems();
    if problems.is_empty() {
        return Ok(());
    }
    Err(format!(
        "checkpoint {} does not fit this program ({}); run the program that wrote it, or use another \
         checkpoint directory",
        file.display(),
        problems.join("; ")
    ))
}

/// Marks the run terminated when the first worker of the process ends, and failed when any worker
/// panics.
struct Terminated {
    control: Arc<Control>,
    local_first: bool,
}

impl Drop for Terminated {
    fn drop(&mut self) {
        let panicked = std::thread::panicking();
        let local_first = self.local_first;
        // The failure is recorded before the other workers are told to stop, so that whoever waits
        // sees it rather than a plain stop.
        self.control.update(|s| {
            s.terminated |= local_first || panicked;
            if panicked {
                s.error
                    .get_or_insert_with(|| "a worker panicked (see the message above)".into());
            }
        });
        if panicked {
            self.control.crashed.store(true, Ordering::Release);
            self.control.wake_inputs();
        }
    }
}
