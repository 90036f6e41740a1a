//! The source operator: runs a [`Source`] on its worker and applies the execution mode and the watermark.
//!
//! This is where the three execution modes differ, and the only place: the operator holds the source's
//! capability, whose time is the watermark plus one (see [`caudal_operators::time`]), and decides when
//! records that have been read are released downstream and when the capability moves.
//!
//! * **per-record**: every activation releases what was read and moves the capability to the watermark,
//!   so the epoch advances once per worker-loop iteration (adaptive epochs), never per record;
//! * **micro-batch**: records are kept in the open batch; when the wall clock passes a batch boundary the
//!   batch is sealed, and released (after the emulated scheduling overhead) with one capability jump;
//! * **batch**: records are kept until the source is done.
//!
//! When the source ends (or the run is stopped) everything held is released and the capability is
//! dropped: the frontier empties and every window downstream fires. The operator never sleeps in a
//! timer loop: it asks to be activated when the source, a batch boundary or the idle timeout next needs
//! it, or when the source's [`Waker`] fires, so an idle worker can park.
//!
//! The DStream layer's input streams run here too ([`batch_stream`]): there the capability is the batch
//! index, the boundaries come from the DStream clock (the system clock or the manual one), and each due
//! batch is made from what the source has produced by then. Both operators start their source, poll it
//! and arm their activations with the same code ([`start_source`], [`Wakeup`]).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use caudal_operators::exchange::ExchangeGauge;
use caudal_operators::time::{wall_clock_us, MIN_FRONTIER};
use caudal_operators::{Event, EventStream, EventTime, WatermarkStrategy, WatermarkTracker};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::generic::operator::source as timely_source;
use timely::dataflow::operators::{Capability, Probe};
use timely::dataflow::{ProbeHandle, Scope, StreamVec};
use timely::scheduling::{Activator, SyncActivator};

use super::{Failure, Poll, Source, SourceContext, Waker, WorkerInfo};
use crate::checkpoint::{SourceCheckpoint, SourcePart};
use crate::config::defaults::{CHECKPOINT_PAUSE_POLL, FLOW_POLL, PROCESSING_TIME_TICK, STOP_CHECK};
use crate::dead_letter::DeadLetters;
use crate::mode::ExecutionMode;
use crate::spark_model::{Job, SparkModel};

/// Asks every source of a run to finish: they release what they hold and end their input.
#[derive(Clone, Debug, Default)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    /// Raises the flag.
    pub fn stop(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// Whether the flag is raised.
    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// The highest frontier any instance of a source has reached in this process. An idle instance moves
/// up to it, so that it does not hold back the watermark of the whole stream. It starts at
/// [`MIN_FRONTIER`] (nothing complete), as every instance's capability does.
#[derive(Clone)]
pub struct SharedWatermark(Arc<AtomicI64>);

impl Default for SharedWatermark {
    fn default() -> Self {
        SharedWatermark(Arc::new(AtomicI64::new(MIN_FRONTIER)))
    }
}

impl SharedWatermark {
    fn publish(&self, frontier: EventTime) {
        self.0.fetch_max(frontier, Ordering::Relaxed);
    }

    fn highest(&self) -> EventTime {
        self.0.load(Ordering::Relaxed)
    }
}

/// Counters of one source over all its workers.
#[derive(Debug, Default)]
pub struct SourceMetrics {
    /// Records read.
    pub records: AtomicU64,
    /// Records that were behind the watermark when read (they still flow; operators decide).
    pub late: AtomicU64,
    /// Micro-batches released.
    pub batches: AtomicU64,
    /// Micro-batches that reached the hold budget, so that the source stopped reading until they
    /// closed.
    pub capped: AtomicU64,
    /// Times the source stopped reading because a worker of the process had more than the exchange
    /// budget waiting for it.
    pub throttled: AtomicU64,
    /// Times an instance stopped reading because its watermark was too far ahead of the slowest
    /// instance's (watermark alignment).
    pub aligned: AtomicU64,
}

/// How a source operator runs its source.
#[derive(Clone)]
pub struct SourceOptions {
    /// The execution mode.
    pub mode: ExecutionMode,
    /// How the watermark follows the records.
    pub watermark: WatermarkStrategy,
    /// After how long without records an instance counts as idle; `None` never.
    pub idle_timeout: Option<Duration>,
    /// How many records one activation may read.
    pub budget: usize,
    /// How many bytes of records the source may hold back (see `RunConfig::hold_budget`).
    pub hold_budget: usize,
    /// Ends the run with an error (batch mode past its hold budget, a source that cannot go on).
    pub fail: Failure,
    /// The run's stop flag.
    pub stop: StopFlag,
    /// The source's highest frontier in this process, shared by its instances.
    pub shared: SharedWatermark,
    /// The source's counters.
    pub metrics: Arc<SourceMetrics>,
    /// The run's dead letters.
    pub dead_letters: DeadLetters,
    /// Waits shorter than this are spun rather than parked (from the run's idle strategy): a parked
    /// thread wakes tens of microseconds late, which a paced source must not pay on every record.
    pub spin: Duration,
    /// The process's exchange queues: the source reads nothing while one is over its budget.
    pub exchange: Option<ExchangeGauge>,
    /// How far the instance's watermark may run ahead of the slowest instance's (`None`: no limit).
    pub max_drift: Option<Duration>,
    /// The source's side of the checkpoint rounds, and where a resumed run's checkpoint left it.
    pub(crate) checkpoint: Option<(SourceCheckpoint, Option<SourcePart>)>,
}

/// A batch that has closed and waits for its release.
struct SealedBatch<D> {
    release_at_us: u64,
    frontier: EventTime,
    records: Vec<Event<D>>,
}

/// Where a source instance is in Spark's model ([`SparkModel`]).
struct SparkState {
    /// How many of the held records are in blocks already cut.
    cut: usize,
    /// The next block cut, in wall-clock microseconds.
    next_block_us: u64,
    /// When the emulated job of the last sealed batch ends.
    job_end_us: u64,
    /// The frontier when the last block was cut: what the records of the blocks cut so far allow.
    cut_frontier: EventTime,
    /// How many of the blocks cut since the last batch have records.
    blocks: usize,
    /// When the emulated context started (the source's first activation), in wall-clock µs.
    started_us: Option<u64>,
    /// How many jobs have been emulated.
    jobs: u64,
    /// The input has ended while records or jobs were still under way: read nothing more, but let
    /// the blocks, batches and jobs run their course, as Spark's do when its input ends.
    input_ended: bool,
}

impl Default for SparkState {
    fn default() -> Self {
        SparkState {
            cut: 0,
            next_block_us: 0,
            job_end_us: 0,
            // No block cut yet: nothing complete.
            cut_frontier: MIN_FRONTIER,
            blocks: 0,
            started_us: None,
            jobs: 0,
            input_ended: false,
        }
    }
}

/// The state of one source operator.
struct Driver<D> {
    cap: Option<Capability<EventTime>>,
    tracker: WatermarkTracker,
    /// The source's [`Source::split_low_mark`] after its last poll.
    split_low: Option<EventTime>,
    /// The source's [`Source::caught_up`] after its last poll.
    caught_up: bool,
    opts: SourceOptions,
    /// Records read by the current poll.
    read: Vec<Event<D>>,
    /// Records held back: the open micro-batch, or the whole bounded input in batch mode.
    held: Vec<Event<D>>,
    sealed: VecDeque<SealedBatch<D>>,
    /// The next micro-batch boundary, in wall-clock microseconds.
    next_boundary_us: u64,
    /// Spark's model ([`SparkModel`]): how many of the held records are in blocks already cut (the
    /// rest wait for the batch after the next boundary), the next block cut, and when the emulated
    /// job of the last sealed batch ends.
    spark: SparkState,
    /// Its side of the checkpoint rounds.
    checkpoint: Option<SourceCheckpoint>,
    /// A micro-batch sealed at the cut of a round: read nothing more until it is released.
    pausing: bool,
    /// The frontier the source held back at a round's cut, to move to once the round is taken.
    held_back: Option<EventTime>,
    /// The open micro-batch has reached the hold budget.
    capped: bool,
    /// Whether the last activation found a worker's exchange queue over the budget.
    throttled: bool,
    /// The frontier of the source's output over all workers: the slowest instance's watermark (with
    /// several workers and a drift limit).
    slowest: Option<ProbeHandle<EventTime>>,
    /// Whether the last activation found this instance too far ahead of the slowest.
    behind_others: bool,
}

/// Builds the source operator for `source` in `scope`: the stream of its records, at the watermark.
pub fn source_stream<'scope, D: 'static>(
    scope: Scope<'scope, EventTime>,
    name: &str,
    mut source: Box<dyn Source<Item = D>>,
    opts: SourceOptions,
) -> EventStream<'scope, D> {
    let worker = WorkerInfo {
        index: scope.index(),
        peers: scope.peers(),
    };
    // One instance alone is never ahead of another: no probe (one operator fewer per message).
    let slowest = (opts.max_drift.is_some() && worker.peers > 1).then(ProbeHandle::new);
    let probe = slowest.clone();
    let stream = timely_source::<_, CapacityContainerBuilder<Vec<Event<D>>>, _, _>(
        scope,
        name,
        move |cap, info| {
            let (activator, _) = start_source(
                scope,
                &info.address,
                &mut *source,
                opts.dead_letters.clone(),
                worker,
                opts.fail.clone(),
                opts.idle_timeout,
            );
            let mut wakeup = Wakeup::new(activator, opts.spin);
            let now = Instant::now();
            let next_boundary_us = match opts.mode {
                ExecutionMode::MicroBatch { interval, .. } => {
                    next_multiple(wall_clock_us(), interval.as_micros() as u64)
                }
                _ => 0,
            };
            let (checkpoint, restored) = opts.checkpoint.clone().unzip();
            let mut driver = Driver {
                cap: Some(cap),
                tracker: WatermarkTracker::new(opts.watermark, opts.idle_timeout, now),
                split_low: None,
                caught_up: true,
                read: Vec::with_capacity(opts.budget),
                held: Vec::new(),
                sealed: VecDeque::new(),
                next_boundary_us,
                spark: SparkState::default(),
                opts,
                checkpoint,
                pausing: false,
                held_back: None,
                capped: false,
                throttled: false,
                slowest: slowest.clone(),
                behind_others: false,
            };
            if let Some(part) = restored.flatten() {
                driver.restore(&part);
            }
            // A processing-time watermark starts at the clock: at the open batch's start in micro-batch
            // mode, at the current millisecond per-record (batch mode holds everything to the end).
            if driver.opts.watermark == WatermarkStrategy::ProcessingTime {
                match driver.opts.mode {
                    ExecutionMode::MicroBatch { interval, .. } => driver.advance(processing_ms(
                        next_boundary_us - interval.as_micros() as u64,
                    )),
                    ExecutionMode::PerRecord => driver.advance(processing_ms(wall_clock_us())),
                    ExecutionMode::Batch => {}
                }
            }
            move |output| {
                let now = Instant::now();
                if let Some(wake_in) = driver.step(&mut source, output) {
                    wakeup.after(now, wake_in);
                }
            }
        },
    );
    EventStream::new(match probe {
        Some(probe) => stream.probe_with(&probe),
        None => stream,
    })
}

/// Starts `source` as the source of the operator at `address`: hands it its [`SourceContext`], whose
/// [`Waker`] activates the operator from any thread. Returns the operator's activator and that
/// thread-safe one.
pub(crate) fn start_source<D: 'static>(
    scope: Scope<'_, EventTime>,
    address: &[usize],
    source: &mut dyn Source<Item = D>,
    dead_letters: DeadLetters,
    worker: WorkerInfo,
    failure: Failure,
    idle_timeout: Option<Duration>,
) -> (Activator, SyncActivator) {
    let activator = scope.activator_for(address.into());
    let sync = scope.worker().sync_activator_for(address.to_vec());
    source.start(&SourceContext {
        waker: Waker::new(sync.clone()),
        dead_letters,
        worker,
        failure,
        idle_timeout,
    });
    (activator, sync)
}

/// Arms a source operator's next activation.
///
/// Timely keeps every timer it is given, so arming a new one on each activation would pile them up:
/// each would fire, run the operator, and arm another. Only a timer earlier than the armed one is worth
/// adding; waits no longer than `spin` are spun (the operator asks to run again at once).
pub(crate) struct Wakeup {
    activator: Activator,
    armed: Option<Instant>,
    spin: Duration,
}

impl Wakeup {
    /// Activations through `activator`, spinning through waits up to `spin`.
    pub(crate) fn new(activator: Activator, spin: Duration) -> Self {
        Wakeup {
            activator,
            armed: None,
            spin,
        }
    }

    /// Asks for the operator to run `wake_in` after `now`.
    pub(crate) fn after(&mut self, now: Instant, wake_in: Duration) {
        if self.armed.is_some_and(|at| at <= now) {
            self.armed = None;
        }
        if wake_in <= self.spin {
            self.activator.activate();
            return;
        }
        let at = now + wake_in;
        if self.armed.is_none_or(|armed_at| at < armed_at) {
            self.activator.activate_after(wake_in);
            self.armed = Some(at);
        }
    }
}

/// Polls `source` until it has nothing more for now (or `budget` records in one poll, again and again),
/// appending to `out`; `true` once it is done.
fn drain<D: 'static>(
    source: &mut dyn Source<Item = D>,
    out: &mut Vec<Event<D>>,
    budget: usize,
) -> bool {
    loop {
        match source.poll(out, budget) {
            Poll::Ready => continue,
            Poll::Pending { .. } => return false,
            Poll::Done => return true,
        }
    }
}

/// The timely time of batch `batch` of a batch-indexed stream ([`batch_stream`]): batch `i` is
/// epoch `i`. Its timestamps are [`EventTime`]s, signed, as in every Caudal dataflow; batch indices
/// are counters from 0.
pub(crate) fn epoch_of(batch: u64) -> EventTime {
    EventTime::try_from(batch).unwrap_or(EventTime::MAX)
}

/// The batch whose epoch is `time`; a time before batch 0 (where the inputs' capabilities start) is
/// batch 0.
pub(crate) fn batch_of(time: EventTime) -> u64 {
    u64::try_from(time).unwrap_or(0)
}

/// Polls `source` into `out` until it has nothing more for now or `out` holds `limit` records; returns
/// whether the source is done.
fn drain_up_to<D: 'static>(
    source: &mut dyn Source<Item = D>,
    out: &mut Vec<Event<D>>,
    limit: usize,
) -> bool {
    while out.len() < limit {
        match source.poll(out, limit - out.len()) {
            Poll::Ready => continue,
            Poll::Pending { .. } => return false,
            Poll::Done => return true,
        }
    }
    false
}

/// When the batches of a batch-indexed stream are due, and when it must stop: the DStream layer's clock.
pub(crate) trait BatchClock: 'static {
    /// How many batches are due now (batches `0..due`).
    fn due(&self) -> u64;
    /// How long until batch `next` is due; `None` if the operator is woken instead (a manual clock).
    fn until(&self, next: u64) -> Option<Duration>;
    /// Whether the stream must end now (its capability is dropped, nothing more is emitted).
    fn stopping(&self) -> bool;
    /// Remembers the operator's activator, to wake it when the clock moves or the stream must stop.
    fn register(&self, activator: SyncActivator);
    /// Hears that batches `0..next` have been emitted.
    fn emitted(&self, next: u64);
}

/// How a batch-indexed source operator runs.
pub(crate) struct BatchOptions<C> {
    /// The batch clock.
    pub clock: C,
    /// Where input that cannot be read goes.
    pub dead_letters: DeadLetters,
    /// How many records one poll may read.
    pub budget: usize,
    /// Ends the run (the DStream context) with an error.
    pub fail: Failure,
    /// The first batch it emits (after a restore, the batch the checkpoint stopped before).
    pub first: u64,
    /// Where it publishes its source's offset after each batch, for checkpoints.
    pub offset: Option<std::rc::Rc<std::cell::Cell<u64>>>,
    /// Where it publishes its source's [`Source::position`] after each batch, beside the offset.
    pub position: Option<std::rc::Rc<std::cell::RefCell<Vec<u8>>>>,
    /// Where it hears the offset of the last complete checkpoint, to pass to its source.
    pub checkpointed: Option<std::rc::Rc<std::cell::Cell<u64>>>,
}

/// Builds a source operator whose capability is the batch index: it reads `source` (if there is one)
/// as records come, up to `opts.budget` ahead of a batch; when the clock says batch `i` is due, it
/// reads everything `source` has produced by then and emits
/// `make_batch(i, records)` at time `i`, then moves the capability to `i + 1`. When the clock says stop,
/// it drops the capability. The DStream layer's input streams are built with it.
pub(crate) fn batch_stream<'scope, D: 'static, B: 'static, C: BatchClock>(
    scope: Scope<'scope, EventTime>,
    name: &str,
    mut source: Option<Box<dyn Source<Item = D>>>,
    opts: BatchOptions<C>,
    mut make_batch: impl FnMut(u64, &mut Vec<Event<D>>) -> B + 'static,
) -> StreamVec<'scope, EventTime, B> {
    let worker = WorkerInfo {
        index: scope.index(),
        peers: scope.peers(),
    };
    timely_source::<_, CapacityContainerBuilder<Vec<B>>, _, _>(scope, name, move |cap, info| {
        let activator = scope.activator_for(info.address.clone());
        let sync = match source.as_deref_mut() {
            Some(source) => {
                start_source(
                    scope,
                    &info.address,
                    source,
                    opts.dead_letters.clone(),
                    worker,
                    opts.fail.clone(),
                    None,
                )
                .1
            }
            None => scope.worker().sync_activator_for(info.address.to_vec()),
        };
        opts.clock.register(sync);
        let mut wakeup = Wakeup::new(activator, Duration::ZERO);
        let mut cap = cap;
        cap.downgrade(&epoch_of(opts.first));
        let mut cap = Some(cap);
        let mut next = opts.first;
        let mut told = 0u64;
        let mut read: Vec<Event<D>> = Vec::new();
        let mut ended = source.is_none();
        move |output| {
            if opts.clock.stopping() {
                cap = None;
                return;
            }
            let Some(c) = cap.as_mut() else { return };
            if let (Some(cell), Some(source)) = (&opts.checkpointed, source.as_deref_mut()) {
                if cell.get() > told {
                    told = cell.get();
                    source.checkpointed(told);
                }
            }
            // Read as records come, not only when a batch is due, so that each is received when it
            // arrives, as Spark's receivers store records as they come (a socket stream's blocks
            // follow arrival times); past a batch's budget, the source waits and pushes back.
            if let (false, Some(source)) = (ended, source.as_deref_mut()) {
                ended = drain_up_to(source, &mut read, opts.budget);
            }
            let due = opts.clock.due();
            while next < due {
                if let (false, Some(source)) = (ended, source.as_deref_mut()) {
                    ended = drain(source, &mut read, opts.budget);
                }
                output.session(&*c).give(make_batch(next, &mut read));
                if let (Some(cell), Some(source)) = (&opts.offset, source.as_deref()) {
                    cell.set(source.offset());
                }
                if let (Some(cell), Some(source)) = (&opts.position, source.as_deref()) {
                    *cell.borrow_mut() = source.position();
                }
                next += 1;
                c.downgrade(&epoch_of(next));
            }
            opts.clock.emitted(next);
            if let Some(wait) = opts.clock.until(next) {
                wakeup.after(Instant::now(), wait);
            }
        }
    })
}

/// The processing time (ms since the Unix epoch) of wall-clock microsecond `us`, as an event time: a
/// processing-time watermark and processing-time stamps follow the clock.
fn processing_ms(us: u64) -> EventTime {
    EventTime::try_from(us / 1000).unwrap_or(EventTime::MAX)
}

/// The first multiple of `step` strictly after `now`.
fn next_multiple(now: u64, step: u64) -> u64 {
    (now / step + 1) * step
}

type Output<'a, D> = timely::dataflow::operators::generic::OutputBuilderSession<
    'a,
    EventTime,
    CapacityContainerBuilder<Vec<Event<D>>>,
>;

impl<D: 'static> Driver<D> {
    /// One activation: read, release what the mode allows, move the watermark. Returns when to run again
    /// (`None` once the source is done).
    fn step(
        &mut self,
        source: &mut Box<dyn Source<Item = D>>,
        output: &mut Output<'_, D>,
    ) -> Option<Duration> {
        let frontier = *self.cap.as_ref()?.time();
        if let Some(checkpoint) = self.checkpoint.as_mut() {
            let was_paused = checkpoint.is_paused();
            if checkpoint.hold(frontier) {
                return Some(CHECKPOINT_PAUSE_POLL);
            }
            if let Some(offset) = checkpoint.newly_complete() {
                source.checkpointed(offset);
            }
            if let (true, Some(held_back)) = (was_paused, self.held_back.take()) {
                // The round is taken (or its cut moved up): go on to the frontier held back. If that
                // reaches the (new) cut, pause again at once: nothing may be read and sent at the cut.
                self.advance(held_back);
                if self.maybe_pause(&**source) {
                    return Some(CHECKPOINT_PAUSE_POLL);
                }
            }
        }
        let now = Instant::now();
        let now_us = wall_clock_us();
        // Seal before reading: a batch, and the watermark it sets, hold exactly the records read
        // before its boundary. What this activation reads belongs to the next batch.
        if let ExecutionMode::MicroBatch {
            interval,
            overhead,
            spark,
        } = self.opts.mode
        {
            // Once the input has ended, batches are cut only while records wait for one.
            let more = !self.spark.input_ended || !self.held.is_empty();
            if now_us >= self.next_boundary_us && more {
                self.seal(now, now_us, interval, overhead, spark);
                // A batch that reaches the cut of a round ends the input before it: read nothing
                // until it is released and the source pauses (with everything held: nothing read
                // may stay behind a checkpoint's offset).
                if let (Some(checkpoint), Some(batch)) = (&self.checkpoint, self.sealed.back_mut())
                {
                    if checkpoint.round_pending() && batch.frontier >= checkpoint.cut() {
                        self.pausing = true;
                        batch.records.append(&mut self.held);
                        self.spark.cut = 0;
                        self.spark.blocks = 0;
                    }
                }
            }
            // Blocks are cut after the batch of the same instant: a block cut at a batch time is
            // reported just after it, as in Spark.
            if let Some(model) = spark {
                if now_us >= self.spark.next_block_us {
                    self.spark.started_us.get_or_insert(now_us);
                    // Spark makes no block of an empty buffer.
                    self.spark.blocks += (self.held.len() > self.spark.cut) as usize;
                    self.spark.cut = self.held.len();
                    self.spark.cut_frontier = self.frontier_now(now, now_us);
                    self.spark.next_block_us = model.next_block_cut_us(now_us);
                }
            }
        }
        let status = if self.opts.stop.is_stopped() || self.spark.input_ended {
            Poll::Done
        } else if self.pausing || self.hold_full() || self.exchange_full() || self.too_far_ahead() {
            Poll::Pending { wake_at: None }
        } else {
            source.poll(&mut self.read, self.opts.budget)
        };
        self.split_low = source.split_low_mark(now);
        self.caught_up = source.caught_up();
        self.observe_read(now, now_us);

        match self.opts.mode {
            ExecutionMode::PerRecord => {
                self.emit_read(output);
                let frontier = self.frontier_now(now, now_us);
                self.advance(frontier);
                self.maybe_pause(&**source);
            }
            ExecutionMode::MicroBatch { .. } => {
                self.held.append(&mut self.read);
                while self
                    .sealed
                    .front()
                    .is_some_and(|b| b.release_at_us <= now_us)
                {
                    let mut batch = self.sealed.pop_front().expect("front checked");
                    if let Some(checkpoint) = &self.checkpoint {
                        if checkpoint.round_pending() && batch.frontier >= checkpoint.cut() {
                            // The source pauses at the cut once this batch is out, and a checkpoint's
                            // offset covers everything read: what was read after this batch (batches
                            // queued behind it, the open one) goes out with it, before the cut.
                            for later in self.sealed.drain(..) {
                                batch.records.extend(later.records);
                                batch.frontier = batch.frontier.max(later.frontier);
                            }
                            batch.records.append(&mut self.held);
                            self.spark.cut = 0;
                        }
                    }
                    self.release(output, batch);
                }
                if self.maybe_pause(&**source) {
                    self.pausing = false;
                }
            }
            ExecutionMode::Batch => {
                self.held.append(&mut self.read);
                if self.held.len() > self.hold_limit() {
                    let records = self.held.len();
                    // Nothing of a partial input goes out as if it were the whole.
                    self.held = Vec::new();
                    self.opts.fail.fail(format!(
                        "batch mode holds its whole input until it ends, and this input is larger \
                         than the hold budget: {records} records of at least {} bytes (more than {} \
                         MiB) and more to come; raise the hold budget (--hold-budget, \
                         RunConfig::hold_budget), or use per-record or micro-batch mode, which \
                         hold no more than a batch",
                        std::mem::size_of::<Event<D>>(),
                        self.opts.hold_budget >> 20
                    ));
                    self.cap = None;
                    return None;
                }
            }
        }

        if status == Poll::Done && self.spark_jobs_pending() {
            // Spark's model: the last batches still wait for their blocks, their batch times and
            // their jobs; their results come when Spark's would, not at once.
            self.spark.input_ended = true;
            return Some(self.wake_in(Poll::Pending { wake_at: None }, now, now_us));
        }
        if status == Poll::Done {
            self.finish(output);
            if let Some(checkpoint) = self.checkpoint.as_mut() {
                checkpoint.done(SourcePart {
                    offset: source.offset(),
                    frontier: EventTime::MAX,
                    max_seen: self.tracker.max_seen(),
                    done: true,
                    position: source.position(),
                });
            }
            return None;
        }
        Some(self.wake_in(status, now, now_us))
    }

    /// Whether Spark's model still has records to cut into blocks and batches, or jobs to run, once
    /// the input has ended (not when the run is stopped: that ends at once).
    fn spark_jobs_pending(&self) -> bool {
        self.opts.mode.spark_model().is_some()
            && !self.opts.stop.is_stopped()
            && !self.pausing
            && (!self.held.is_empty() || !self.sealed.is_empty())
    }

    /// How many records the hold budget allows.
    fn hold_limit(&self) -> usize {
        self.opts.hold_budget / std::mem::size_of::<Event<D>>().max(1)
    }

    /// Whether the open micro-batch has reached the hold budget: the source reads nothing more until
    /// the batch closes (counted once per batch).
    fn hold_full(&mut self) -> bool {
        if !matches!(self.opts.mode, ExecutionMode::MicroBatch { .. })
            || self.held.len() < self.hold_limit()
        {
            return false;
        }
        if !self.capped {
            self.capped = true;
            self.opts.metrics.capped.fetch_add(1, Ordering::Relaxed);
        }
        true
    }

    /// Whether a worker of the process has more than the exchange budget waiting for it: the source
    /// reads nothing until it has caught up (counted once per episode).
    fn exchange_full(&mut self) -> bool {
        let full = self.opts.exchange.as_ref().is_some_and(|g| g.congested());
        if full && !self.throttled {
            self.opts.metrics.throttled.fetch_add(1, Ordering::Relaxed);
        }
        self.throttled = full;
        full
    }

    /// Whether this instance's watermark is more than the allowed drift ahead of the slowest
    /// instance's (the frontier of the source's output over all workers, from the probe): it reads
    /// nothing until that one catches up (counted once per episode). The slowest instance itself is
    /// never held, so the source as a whole always moves.
    fn too_far_ahead(&mut self) -> bool {
        let (Some(drift), Some(cap), Some(slowest)) = (
            self.opts.max_drift,
            self.cap.as_ref(),
            self.slowest.as_ref(),
        ) else {
            return false;
        };
        if self.opts.mode == ExecutionMode::Batch {
            return false;
        }
        let slowest = slowest.with_frontier(|f| f.first().copied());
        let ahead = slowest.is_some_and(|slowest| {
            cap.time().saturating_sub(slowest) > drift.as_millis() as EventTime
        });
        if ahead && !self.behind_others {
            self.opts.metrics.aligned.fetch_add(1, Ordering::Relaxed);
        }
        self.behind_others = ahead;
        ahead
    }

    /// Puts the source back where a checkpoint left it: its watermark, and its capability at the
    /// checkpoint's frontier (the source itself was moved to its offset when it was made).
    fn restore(&mut self, part: &SourcePart) {
        if part.done {
            self.cap = None;
            if let Some(checkpoint) = self.checkpoint.as_mut() {
                checkpoint.done(part.clone());
            }
            return;
        }
        self.tracker.restore(part.frontier, part.max_seen);
        self.advance(part.frontier);
    }

    /// Pauses at the cut of an open checkpoint round if the capability has reached it. Returns whether
    /// it paused.
    fn maybe_pause(&mut self, source: &dyn Source<Item = D>) -> bool {
        let (Some(checkpoint), Some(cap)) = (self.checkpoint.as_mut(), self.cap.as_ref()) else {
            return false;
        };
        let tracker = &self.tracker;
        checkpoint.maybe_pause(*cap.time(), || SourcePart {
            offset: source.offset(),
            frontier: tracker.frontier(),
            max_seen: tracker.max_seen(),
            done: false,
            position: source.position(),
        })
    }

    /// Closes the open micro-batch at the boundary that has passed: its records wait for release
    /// `overhead` after the boundary, with the frontier they allow.
    fn seal(
        &mut self,
        now: Instant,
        now_us: u64,
        interval: Duration,
        overhead: Duration,
        spark: Option<SparkModel>,
    ) {
        let boundary = self.next_boundary_us;
        let interval_us = interval.as_micros() as u64;
        let frontier = match self.opts.watermark {
            // Every record read before the boundary is in the batch, stamped before it. If the worker
            // was late and several boundaries have passed, the batches between were empty: the
            // frontier jumps to the latest boundary, where the next batch starts.
            WatermarkStrategy::ProcessingTime => processing_ms(now_us / interval_us * interval_us),
            _ => self.frontier_now(now, now_us),
        };
        let (records, frontier, release_at_us) = match spark {
            None => (
                std::mem::take(&mut self.held),
                frontier,
                boundary + overhead.as_micros() as u64,
            ),
            Some(model) => {
                // Only the blocks cut before the boundary are in the batch; the rest of what was read
                // waits for the next one, and the frontier stays below it.
                let rest = self.held.split_off(self.spark.cut.min(self.held.len()));
                let mut records = std::mem::replace(&mut self.held, rest);
                self.spark.cut = 0;
                let blocks = std::mem::take(&mut self.spark.blocks);
                let frontier = if self.opts.watermark == WatermarkStrategy::ProcessingTime {
                    // Spark's windows: a record's time is its batch's, so it is in the windows that
                    // end at its batch time (the batch time's last millisecond), whenever it was
                    // received; what waits for the next batch gets the next batch's time.
                    let batch_ms = frontier.saturating_sub(1);
                    for event in &mut records {
                        event.time = batch_ms;
                    }
                    frontier
                } else {
                    // What is held back keeps the frontier where the blocks in the batch put it, as
                    // if it had not been read yet: a frontier bounded only by its earliest time would
                    // let a session end at that very time, with a record still to come that belongs
                    // to it.
                    match self.held.is_empty() {
                        true => frontier,
                        false => frontier.min(self.spark.cut_frontier),
                    }
                };
                self.spark.cut_frontier = frontier;
                let batch_us = boundary + overhead.as_micros() as u64;
                let job = Job {
                    records: records.len(),
                    blocks,
                    age: Duration::from_micros(
                        batch_us.saturating_sub(self.spark.started_us.unwrap_or(batch_us)),
                    ),
                    index: self.spark.jobs,
                };
                self.spark.jobs += 1;
                let end = model.job_end_us(batch_us, self.spark.job_end_us, &job);
                self.spark.job_end_us = end;
                (records, frontier, model.results_us(end))
            }
        };
        self.capped = false;
        self.sealed.push_back(SealedBatch {
            release_at_us,
            frontier,
            records,
        });
        self.next_boundary_us = next_multiple(now_us, interval_us);
    }

    /// Stamps processing time if asked, and feeds the watermark tracker and the counters.
    fn observe_read(&mut self, now: Instant, now_us: u64) {
        if self.read.is_empty() {
            return;
        }
        if self.opts.watermark == WatermarkStrategy::ProcessingTime {
            let ms = processing_ms(now_us);
            for event in self.read.iter_mut() {
                event.time = ms;
            }
        }
        let frontier = self.tracker.frontier();
        let (mut max, mut late) = (EventTime::MIN, 0u64);
        for event in &self.read {
            max = max.max(event.time);
            late += (event.time < frontier) as u64;
        }
        self.tracker.observe(max, now);
        self.opts
            .metrics
            .records
            .fetch_add(self.read.len() as u64, Ordering::Relaxed);
        if late > 0 {
            self.opts.metrics.late.fetch_add(late, Ordering::Relaxed);
        }
    }

    /// The frontier the records, the clock and idleness allow now.
    fn frontier_now(&self, now: Instant, now_us: u64) -> EventTime {
        let frontier = match self.opts.watermark {
            WatermarkStrategy::ProcessingTime => processing_ms(now_us),
            _ => match self.split_low {
                // Per-split watermarks: the slowest live split's largest event time.
                Some(low) => self.tracker.frontier_from_records_up_to(low),
                None => self.tracker.frontier_from_records(),
            },
        };
        let frontier = if self.tracker.is_idle(now) {
            frontier.max(self.opts.shared.highest())
        } else {
            frontier
        };
        // A checkpoint round must not wait for input that may never come: an instance that holds
        // nothing, has read nothing for a while and has caught up with its input moves up to the
        // round's cut.
        match &self.checkpoint {
            Some(checkpoint)
                if checkpoint.round_pending()
                    && frontier < checkpoint.cut()
                    && self.read.is_empty()
                    && self.held.is_empty()
                    && self.sealed.is_empty()
                    && self.caught_up
                    && self.tracker.quiet_for(now) >= checkpoint.quiet_source() =>
            {
                checkpoint.cut()
            }
            _ => frontier,
        }
    }

    /// Whether records may be sent at the capability: never at or past the cut of a pending round.
    fn may_send(&self) -> bool {
        match (&self.checkpoint, &self.cap) {
            (Some(checkpoint), Some(cap)) => {
                !checkpoint.round_pending() || *cap.time() < checkpoint.cut()
            }
            _ => true,
        }
    }

    fn emit_read(&mut self, output: &mut Output<'_, D>) {
        debug_assert!(
            self.read.is_empty() || self.may_send(),
            "records sent at a checkpoint's cut"
        );
        if let (false, Some(cap)) = (self.read.is_empty(), self.cap.as_ref()) {
            output.session(cap).give_container(&mut self.read);
            self.read.clear();
        }
    }

    fn release(&mut self, output: &mut Output<'_, D>, mut batch: SealedBatch<D>) {
        debug_assert!(
            batch.records.is_empty() || self.may_send(),
            "records sent at a checkpoint's cut"
        );
        if let (false, Some(cap)) = (batch.records.is_empty(), self.cap.as_ref()) {
            output.session(cap).give_container(&mut batch.records);
        }
        self.opts.metrics.batches.fetch_add(1, Ordering::Relaxed);
        self.advance(batch.frontier);
    }

    /// Moves the capability (the watermark) forward to `frontier`; never back, and, while a checkpoint
    /// round is pending, never past its cut (the rest waits in `held_back` until the round is taken),
    /// so that the frontier rests exactly at the cut while the state is copied.
    fn advance(&mut self, frontier: EventTime) {
        let frontier = match self.checkpoint.as_ref() {
            Some(checkpoint) if checkpoint.round_pending() && frontier > checkpoint.cut() => {
                self.held_back = Some(self.held_back.map_or(frontier, |held| held.max(frontier)));
                checkpoint.cut()
            }
            _ => frontier,
        };
        let frontier = self.tracker.advance_to(frontier);
        if let Some(cap) = self.cap.as_mut() {
            if frontier > *cap.time() {
                cap.downgrade(&frontier);
                self.opts.shared.publish(frontier);
            }
        }
    }

    /// The input has ended: release everything still held, in order, and drop the capability.
    fn finish(&mut self, output: &mut Output<'_, D>) {
        while let Some(batch) = self.sealed.pop_front() {
            self.release(output, batch);
        }
        if self.opts.mode.spark_model().is_some()
            && self.opts.watermark == WatermarkStrategy::ProcessingTime
        {
            // What is left is the last batch, its time the next boundary's (see `seal`), never
            // behind the frontier it goes out at.
            let frontier = self.cap.as_ref().map_or(0, |cap| *cap.time());
            let batch_ms = ((self.next_boundary_us / 1000) as EventTime)
                .saturating_sub(1)
                .max(frontier);
            for event in &mut self.held {
                event.time = batch_ms;
            }
        }
        self.read.append(&mut self.held);
        self.emit_read(output);
        // The open batch goes out with the end of the input (under Spark's model it has been cut
        // and released as its own batch already).
        if matches!(self.opts.mode, ExecutionMode::MicroBatch { .. }) && !self.spark.input_ended {
            self.opts.metrics.batches.fetch_add(1, Ordering::Relaxed);
        }
        self.cap = None;
    }

    /// How long until the operator must run again.
    fn wake_in(&self, status: Poll, now: Instant, now_us: u64) -> Duration {
        if status == Poll::Ready {
            return Duration::ZERO;
        }
        let mut wake = STOP_CHECK;
        if self
            .checkpoint
            .as_ref()
            .is_some_and(|c| c.round_pending() || c.is_paused())
        {
            // Alignment: look again soon whether the round has been taken (or the cut moved).
            wake = CHECKPOINT_PAUSE_POLL;
        }
        if self.throttled || self.behind_others {
            // Nothing says when the worker behind has caught up: look again soon.
            wake = wake.min(FLOW_POLL);
        }
        if let Poll::Pending { wake_at: Some(at) } = status {
            wake = wake.min(at.saturating_duration_since(now));
        }
        if let ExecutionMode::MicroBatch { .. } = self.opts.mode {
            let next_us = self.sealed.front().map_or(self.next_boundary_us, |b| {
                b.release_at_us.min(self.next_boundary_us)
            });
            // Spark's model: look again at the next block cut too.
            let next_us = match self.opts.mode.spark_model() {
                Some(_) => next_us.min(self.spark.next_block_us),
                None => next_us,
            };
            wake = wake.min(Duration::from_micros(next_us.saturating_sub(now_us)));
        }
        if let Some(deadline) = self
            .tracker
            .idle_deadline()
            .filter(|_| !self.tracker.is_idle(now))
        {
            wake = wake.min(deadline.saturating_duration_since(now));
        }
        if self.opts.watermark == WatermarkStrategy::ProcessingTime
            && self.opts.mode == ExecutionMode::PerRecord
        {
            // The watermark follows the clock even when no record comes: move it every few milliseconds.
            wake = wake.min(PROCESSING_TIME_TICK);
        }
        // A zero wait would spin: wait at least a microsecond unless the source itself is ready.
        wake.max(Duration::from_micros(1))
    }
}
