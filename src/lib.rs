//! # Caudal
//!
//! A per-record streaming dataflow runtime on [timely dataflow](https://docs.rs/timely): each record
//! flows through the operators as it arrives, with microsecond latency, and the same pipeline also runs in
//! micro-batches (as Spark Streaming does) or as a batch, so that the latency of the three can be compared
//! on the same workload with the same results.
//!
//! * [`pipeline`]: build a pipeline from sources, operators and sinks, and [`run`] it;
//! * [`mode`]: the three execution modes;
//! * [`source`] and [`sink`]: generators, queues, sockets, files, callbacks, channels;
//! * [`embed`]: run a pipeline inside an application and push records into it;
//! * [`builtin`]: the pipelines the `caudal` command runs; [`compare`]: its latency comparison;
//! * `caudal_operators` (re-exported as [`operators`]): the timely operators themselves.
//!
//! Time: every record has an event time in ms; the watermark is timely's frontier (see
//! [`operators::time`]).

pub mod builtin;
pub mod compare;
pub mod config;
pub mod dead_letter;
pub mod dstream;
pub mod embed;
pub mod mode;
pub mod parse;
pub mod pipeline;
pub mod plots;
pub mod replay;
pub mod report;
pub mod sink;
pub mod source;
pub mod workload;

pub use caudal_operators as operators;
pub use config::{IdleStrategy, RunConfig};
pub use mode::ExecutionMode;
pub use pipeline::{launch, run, Dataflow, RunError, Running};
pub use report::RunReport;

/// The names most pipelines need.
pub mod prelude {
    pub use crate::config::{IdleStrategy, RunConfig};
    pub use crate::mode::ExecutionMode;
    pub use crate::parse::{FromLine, ParseLines};
    pub use crate::pipeline::{Dataflow, RunError};
    pub use crate::sink::{
        BatchCallback, ChannelSink, Collect, FileSink, Format, Print, RecordCallback,
    };
    pub use crate::source::{Poll, Source, SourceFactory, WorkerInfo};
    pub use caudal_operators::{Event, EventStream, EventTime, Partitioning, WatermarkStrategy};
}
