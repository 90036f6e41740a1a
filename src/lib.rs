//! # Caudal
//!
//! A per-record streaming dataflow runtime on [timely dataflow](https://docs.rs/timely): each record
//! flows through the operators as it arrives, with microsecond latency, and the same pipeline also runs in
//! micro-batches (as Spark Streaming does) or as a batch, so that the latency of the three can be compared
//! on the same workload with the same results.
//!
//! * [`pipeline`]: build a pipeline from sources, operators and sinks, and [`run`] or [`launch`] it;
//! * [`mode`] and [`config`]: the three execution modes, and everything else about how a run runs;
//! * [`source`] and [`sink`]: generators, queues, sockets, files, callbacks, channels;
//!   [`parse`]: text lines to records; [`dead_letter`]: input that could not be read;
//! * [`embed`]: run a pipeline inside an application and push records into it;
//! * [`dstream`]: Spark Streaming's DStream API on Caudal's micro-batches;
//! * [`workload`]: the built-in workloads the generators make (NEXMark's among them), and [`nexmark`]:
//!   the NEXMark queries as pipelines; [`report`] and [`system`]: what a run
//!   did and what it cost;
//! * `caudal_operators` (re-exported as [`operators`]): the timely operators themselves.
//!
//! With the `cli` feature (on by default) the crate also holds what the `caudal` command needs: its
//! named pipelines (`builtin`), the latency lab (`compare`, with `plots`), the replay tool (`replay`)
//! and source descriptions as the command takes them (`source::spec`). An application that embeds
//! Caudal turns it off (`default-features = false`) and compiles the runtime alone, without clap or
//! plotters.
//!
//! Time: every record has an event time, signed ms since the Unix epoch (negative before 1970, as
//! Flink's); the watermark is timely's frontier (see [`operators::time`]).
//!
//! Most programs need only the [`prelude`].

#[cfg(feature = "cli")]
pub mod builtin;
pub mod checkpoint;
#[cfg(feature = "cli")]
pub mod compare;
pub mod config;
pub mod dead_letter;
pub mod dstream;
pub mod embed;
pub mod guarantee;
#[cfg(feature = "kafka")]
pub mod kafka;
pub mod mode;
pub mod nexmark;
pub mod parse;
pub mod pipeline;
#[cfg(feature = "cli")]
pub mod plots;
pub mod progress_traffic;
#[cfg(feature = "cli")]
pub mod replay;
pub mod report;
pub mod sink;
pub mod source;
pub mod spark_model;
pub mod system;
pub mod workload;

pub use caudal_operators as operators;
pub use config::{IdleStrategy, RunConfig};
pub use mode::ExecutionMode;
pub use pipeline::{launch, run, Dataflow, RunError, Running};
pub use report::RunReport;
pub use source::StopFlag;

/// The names most pipelines need: with `use caudal::prelude::*;` the examples need nothing else from
/// Caudal but the workloads they generate ([`workload`]) and the sources they read ([`source`]).
pub mod prelude {
    pub use crate::config::{IdleStrategy, RunConfig};
    pub use crate::embed::Embedded;
    pub use crate::mode::ExecutionMode;
    pub use crate::parse::{FromLine, ParseLines};
    pub use crate::pipeline::{Dataflow, RunError, Running};
    pub use crate::report::RunReport;
    pub use crate::sink::{
        ChannelSink, Collect, FileSink, Format, MessageCallback, Print, RecordCallback,
    };
    pub use crate::source::generator::{GeneratorConfig, GeneratorFactory};
    pub use crate::source::{Poll, Source, SourceFactory, StopFlag, WorkerInfo};
    pub use caudal_operators::{Event, EventStream, EventTime, Partitioning, WatermarkStrategy};
    // Windows: what they are, what they give, and the aggregations they compute. (`aggregate` itself
    // for `min`, `max` and `collect`; its `Collect` would clash with the collecting sink.)
    pub use caudal_operators::window::aggregate::{self, Aggregate, Count, Reduce, Sum};
    pub use caudal_operators::window::join::JoinKind;
    pub use caudal_operators::window::marker::Marker;
    pub use caudal_operators::window::{LateRecord, TimeWindows, Window, WindowResult};
}
