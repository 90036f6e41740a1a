//! Sources: where a pipeline's records come from, and the contract every source keeps.
//!
//! A [`Source`] is polled by Caudal's source operator (the crate-private `driver`, which also runs the
//! DStream layer's input streams) on its worker. It appends the records available now and says whether
//! more are ready ([`Poll::Ready`]), when to look again ([`Poll::Pending`]), or that the input has
//! ended ([`Poll::Done`]). It never blocks: a source that reads from a socket or a user thread does so on
//! a thread of its own and wakes the operator with its [`Waker`]. Every source reports an
//! [`Source::offset`], its replay position, so that checkpoints can record and restore it.
//!
//! Sources are made per worker by a [`SourceFactory`], which splits the input between workers.

pub mod channel;
pub(crate) mod driver;
pub mod file;
pub mod generator;
#[cfg(feature = "kafka")]
pub mod kafka;
pub mod lines;
pub mod memory;
pub mod queue;
pub mod socket;
#[cfg(feature = "cli")]
pub mod spec;
pub mod splits;
pub mod wal;
#[cfg(feature = "zeromq")]
pub mod zeromq;

use std::sync::Arc;
use std::time::Instant;

use caudal_operators::{Event, EventTime};
use timely::scheduling::SyncActivator;

use crate::dead_letter::DeadLetters;

pub use driver::StopFlag;
pub use memory::{from_events, from_fn, VecSource};

/// What a source says after a poll.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Poll {
    /// More records may be available right away: poll again on the next worker step.
    Ready,
    /// Nothing more for now: poll again at `wake_at`, or earlier if the source's [`Waker`] fires.
    Pending {
        /// When to look again; `None` if only the waker will say.
        wake_at: Option<Instant>,
    },
    /// The input has ended: no record will follow.
    Done,
}

/// Wakes a source's operator from any thread (for example a socket reader), even if its worker is parked.
#[derive(Clone)]
pub struct Waker {
    activator: SyncActivator,
}

impl Waker {
    pub(crate) fn new(activator: SyncActivator) -> Self {
        Waker { activator }
    }

    /// Asks for the source to be polled soon. Returns `false` once the dataflow is gone.
    pub fn wake(&self) -> bool {
        self.activator.activate().is_ok()
    }
}

/// Ends a run with an error, from any thread: for a source that can no longer read safely (its
/// write-ahead log cannot be written), where ending its input would pass for a complete one.
#[derive(Clone)]
pub struct Failure(Arc<dyn Fn(String) + Send + Sync>);

impl Failure {
    /// A failure that calls `fail` with its message.
    pub fn new(fail: impl Fn(String) + Send + Sync + 'static) -> Self {
        Failure(Arc::new(fail))
    }

    /// Ends the run with `message` as its error.
    pub fn fail(&self, message: String) {
        (self.0)(message)
    }
}

/// What a source gets when it starts.
#[derive(Clone)]
pub struct SourceContext {
    /// Wakes the source's operator.
    pub waker: Waker,
    /// Where input that cannot be read goes (counted and reported, never dropped silently).
    pub dead_letters: DeadLetters,
    /// This worker's index and the number of workers.
    pub worker: WorkerInfo,
    /// Ends the run with an error.
    pub failure: Failure,
    /// After how long without records an input counts as idle (`None`: never): a source of several
    /// splits stops letting an idle split hold its watermark back ([`Source::split_low_mark`]).
    pub idle_timeout: Option<std::time::Duration>,
}

/// Which worker a source or sink runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkerInfo {
    /// This worker's global index.
    pub index: usize,
    /// How many workers the pipeline runs on, over all processes.
    pub peers: usize,
}

impl WorkerInfo {
    /// The single worker of a one-worker run.
    pub fn single() -> Self {
        WorkerInfo { index: 0, peers: 1 }
    }
}

/// A stream of input records with event times.
pub trait Source: 'static {
    /// The records it produces.
    type Item: 'static;

    /// Called once on the worker before the first poll.
    fn start(&mut self, _ctx: &SourceContext) {}

    /// Appends at most `budget` records that are available now to `out`, without blocking.
    fn poll(&mut self, out: &mut Vec<Event<Self::Item>>, budget: usize) -> Poll;

    /// The replay position: how far the source has read, to be recorded in checkpoints. Records for
    /// generators, queues, channels and sockets; bytes for files (line terminators included), the position a
    /// restart seeks to.
    fn offset(&self) -> u64;

    /// Whether the source can read its input again from an [`Source::offset`] (generators, queues,
    /// files): checkpoints with a delivery guarantee need it. Sources that cannot (sockets, channels)
    /// say `false`; a run that asks for a guarantee gives them a [`Source::write_ahead`] log, or
    /// refuses them if they cannot keep one.
    fn replayable(&self) -> bool {
        false
    }

    /// Skips the input before `offset` (one that [`Source::offset`] gave), so that the next poll reads
    /// from there: how a run resumed from a checkpoint goes on. Called once, before the first poll.
    fn resume(&mut self, offset: u64) -> Result<(), String> {
        let _ = offset;
        Err("this source cannot resume from an offset".into())
    }

    /// Asks a source that cannot replay its input to keep what it receives in a [`wal::WriteAheadLog`]
    /// in `dir` before handing it to the dataflow, so that it can [`Source::resume`] after a crash (and
    /// then says it is [`Source::replayable`]). Called once, before [`Source::resume`] and
    /// [`Source::start`], when the run has a delivery guarantee. Sources that replay on their own, and
    /// those that cannot log, keep the default, which refuses.
    fn write_ahead(&mut self, dir: std::path::PathBuf) -> Result<(), String> {
        let _ = dir;
        Err(
            "it cannot keep a write-ahead log either (generators, files, queues and sockets can \
             replay), so run it without --guarantee"
                .into(),
        )
    }

    /// Hears that a checkpoint is complete that covers this source's input before `offset`: that input
    /// will never be asked for again (a write-ahead log drops it; a Kafka source could commit it).
    fn checkpointed(&mut self, offset: u64) {
        let _ = offset;
    }

    /// The part of the source's place that one number cannot say, kept in checkpoints beside
    /// [`Source::offset`] as the source wrote it: a Kafka source's next offset in each of its
    /// partitions. Empty (the default) for sources whose offset says it all.
    fn position(&self) -> Vec<u8> {
        Vec::new()
    }

    /// Goes on from a checkpoint's [`Source::offset`] and [`Source::position`]. The default, for
    /// sources without a position, is [`Source::resume`] at the offset.
    fn resume_at(&mut self, offset: u64, position: &[u8]) -> Result<(), String> {
        let _ = position;
        self.resume(offset)
    }

    /// The position to go on from when a checkpoint taken on another number of workers is resumed:
    /// `positions` are what each instance of that run wrote ([`Source::position`]), one per old worker.
    /// Only a source whose position names what it read independently of the number of workers (a
    /// Kafka source's offset in each partition) can merge them; the default says why it cannot.
    fn merge_positions(&self, positions: &[&[u8]]) -> Result<Vec<u8>, String> {
        let _ = positions;
        Err(
            "its place in the input is one per worker (each instance reads its own share of the \
             input), so it can only resume on as many workers as the checkpoint was taken on"
                .into(),
        )
    }

    /// Whether the source has read all the input there is for now, so that its reading nothing says
    /// that nothing is coming (a checkpoint round then moves its watermark up to the round's cut
    /// rather than wait). A Kafka source: every partition at its end as of the last fetch. The
    /// default, `true`, suits sources that read as their input comes.
    fn caught_up(&self) -> bool {
        true
    }

    /// For a source that reads several inputs at once, each in event-time order of its own (Kafka
    /// partitions: splits), the smallest of their largest event times so far, over the splits that are
    /// not idle at `now` (a split that has read nothing yet counts as 0): the watermark then follows
    /// the slowest split, not the fastest, so that none of their records is late. `None` (the
    /// default): one input, or every split idle; the watermark follows the largest event time read.
    fn split_low_mark(&self, now: std::time::Instant) -> Option<EventTime> {
        let _ = now;
        None
    }
}

impl<S: Source + ?Sized> Source for Box<S> {
    type Item = S::Item;
    fn start(&mut self, ctx: &SourceContext) {
        (**self).start(ctx)
    }
    fn poll(&mut self, out: &mut Vec<Event<Self::Item>>, budget: usize) -> Poll {
        (**self).poll(out, budget)
    }
    fn offset(&self) -> u64 {
        (**self).offset()
    }
    fn replayable(&self) -> bool {
        (**self).replayable()
    }
    fn resume(&mut self, offset: u64) -> Result<(), String> {
        (**self).resume(offset)
    }
    fn write_ahead(&mut self, dir: std::path::PathBuf) -> Result<(), String> {
        (**self).write_ahead(dir)
    }
    fn checkpointed(&mut self, offset: u64) {
        (**self).checkpointed(offset)
    }
    fn position(&self) -> Vec<u8> {
        (**self).position()
    }
    fn resume_at(&mut self, offset: u64, position: &[u8]) -> Result<(), String> {
        (**self).resume_at(offset, position)
    }
    fn merge_positions(&self, positions: &[&[u8]]) -> Result<Vec<u8>, String> {
        (**self).merge_positions(positions)
    }
    fn caught_up(&self) -> bool {
        (**self).caught_up()
    }
    fn split_low_mark(&self, now: std::time::Instant) -> Option<EventTime> {
        (**self).split_low_mark(now)
    }
}

/// Makes each worker's source: the factory decides how the input is split between workers.
pub trait SourceFactory<D>: Send + Sync + 'static {
    /// The source for `worker`.
    fn make(&self, worker: WorkerInfo) -> Box<dyn Source<Item = D>>;
}

impl<D, F> SourceFactory<D> for F
where
    F: Fn(WorkerInfo) -> Box<dyn Source<Item = D>> + Send + Sync + 'static,
{
    fn make(&self, worker: WorkerInfo) -> Box<dyn Source<Item = D>> {
        self(worker)
    }
}

/// A source with no records, for workers that own no part of an input.
pub struct Empty<D>(std::marker::PhantomData<D>);

impl<D> Default for Empty<D> {
    fn default() -> Self {
        Empty(std::marker::PhantomData)
    }
}

impl<D: 'static> Source for Empty<D> {
    type Item = D;
    fn poll(&mut self, _out: &mut Vec<Event<D>>, _budget: usize) -> Poll {
        Poll::Done
    }
    fn offset(&self) -> u64 {
        0
    }
    fn replayable(&self) -> bool {
        true
    }
    fn resume(&mut self, _offset: u64) -> Result<(), String> {
        Ok(())
    }
}
