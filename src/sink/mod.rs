//! Sinks: where results go, and the contract every sink keeps.
//!
//! A [`Sink`] lives on one worker. It is handed the records of each message as they arrive
//! ([`Sink::write`]) and told when the frontier moves ([`Sink::progress`]): everything before the
//! frontier is complete, and `None` means the stream has ended. Sinks that write files commit on
//! progress, so readers never see a partial file. Sinks are made per worker by a [`SinkFactory`].
//!
//! Under a delivery guarantee ([`crate::checkpoint`]) a sink also takes part in the checkpoint rounds,
//! as a two-phase commit: [`Sink::start`] tells it the guarantee and the round its output belongs to
//! (and is where it discards output a crashed run staged but never committed); [`Sink::pre_commit`]
//! asks it to stage what it holds, durably but out of sight, and say what it staged; the runtime makes
//! staged output visible once the checkpoint that covers it is complete, and again on resume if a
//! crash came between the two. A sink whose output cannot be staged (print, callbacks) writes as
//! records come: at-least-once.

pub mod callback;
pub mod collect;
pub mod file;
pub mod format;
#[cfg(feature = "kafka")]
pub mod kafka;
pub(crate) mod operator;
pub mod print;

use caudal_operators::{Event, EventTime};

use crate::checkpoint::{store::PreCommit, Guarantee};
use crate::source::WorkerInfo;

pub use callback::{ChannelSink, MessageCallback, RecordCallback};
pub use collect::Collect;
pub use file::FileSink;
pub use format::{record_id, Format};
pub use print::Print;

/// A sink that failed: what it was doing and why.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// Writing failed.
    #[error("{what}: {source}")]
    Io {
        /// What the sink was doing.
        what: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The receiving end of a channel or callback has gone.
    #[error("the receiver of the results has gone")]
    Disconnected,
    /// The checkpoint side of the sink failed (its at-most-once fence could not be opened or written).
    #[error("{0}")]
    Checkpoint(String),
    /// A remote system (a Kafka broker) could not be written to, or refused the output.
    #[error("{0}")]
    Remote(String),
}

impl SinkError {
    /// Whether the sink's reader has gone (a closed pipe, a dropped receiver): writing more is
    /// pointless, and the run stops.
    pub fn reader_gone(&self) -> bool {
        match self {
            SinkError::Disconnected => true,
            SinkError::Io { source, .. } => source.kind() == std::io::ErrorKind::BrokenPipe,
            SinkError::Checkpoint(_) | SinkError::Remote(_) => false,
        }
    }
}

/// What a sink learns when its run starts: the guarantee, and where its output stands in the
/// checkpoints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SinkContext {
    /// The run's guarantee.
    pub guarantee: Guarantee,
    /// The checkpoint round that output written from now on belongs to (it goes up by one at every
    /// [`Sink::pre_commit`]): part of file names, so that a resumed run never reuses one.
    pub epoch: u64,
    /// How many times the job had been resumed (0: a fresh start).
    pub attempt: u64,
}

/// A consumer of one worker's results.
pub trait Sink<D>: 'static {
    /// Called once before the first record. A transactional sink discards here what a crashed run
    /// staged and never committed.
    fn start(&mut self, _ctx: &SinkContext) -> Result<(), SinkError> {
        Ok(())
    }

    /// A checkpoint round is being taken: hand over everything written since the last call, as files
    /// to make durable and commit with the checkpoint, buffers for the checkpoint's writer to write,
    /// and output sent whose acknowledgements the writer must wait for (so that the worker, and the
    /// flow of records, waits neither for the disk nor for a broker); output from now on belongs to
    /// round `next_epoch`. Sinks whose output needs nothing more return nothing.
    fn pre_commit(&mut self, _next_epoch: u64) -> Result<PreCommit, SinkError> {
        Ok(PreCommit::default())
    }

    /// Takes the records of one message (it may drain `records`).
    fn write(&mut self, records: &mut Vec<Event<D>>) -> Result<(), SinkError>;

    /// The frontier moved to `frontier` (records before it are complete); `None`: the stream ended.
    fn progress(&mut self, _frontier: Option<EventTime>) -> Result<(), SinkError> {
        Ok(())
    }
}

/// Makes each worker's sink.
pub trait SinkFactory<D>: Send + Sync + 'static {
    /// The sink for `worker`.
    fn make(&self, worker: WorkerInfo) -> Result<Box<dyn Sink<D>>, SinkError>;
}
