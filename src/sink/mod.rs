//! Sinks: where results go, and the contract every sink keeps.
//!
//! A [`Sink`] lives on one worker. It is handed the records of each message as they arrive
//! ([`Sink::write`]) and told when the frontier moves ([`Sink::progress`]): everything before the
//! frontier is complete, and `None` means the stream has ended. Sinks that write files commit on
//! progress, so readers never see a partial file. Sinks are made per worker by a [`SinkFactory`].

pub mod callback;
pub mod collect;
pub mod file;
pub mod format;
pub(crate) mod operator;
pub mod print;

use caudal_operators::{Event, EventTime};

use crate::source::WorkerInfo;

pub use callback::{ChannelSink, MessageCallback, RecordCallback};
pub use collect::Collect;
pub use file::FileSink;
pub use format::Format;
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
}

/// A consumer of one worker's results.
pub trait Sink<D>: 'static {
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
