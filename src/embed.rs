//! Running a pipeline inside an application: push records in from any thread, take results out.
//!
//! [`Embedded::start`] launches the pipeline on its own worker threads and returns a [`Pusher`] for
//! input and a channel receiver for results. With [`IdleStrategy::SpinThenPark`] (the default) an idle
//! pipeline parks its workers and costs next to no CPU; a push wakes them. With
//! [`IdleStrategy::BusySpin`] the workers never sleep, for the lowest latency at the price of a core each.
//! Dropping the pusher (or calling [`Embedded::finish`]) ends the input and lets the run end. Under a
//! delivery guarantee, start it with [`Embedded::start_durable`], whose input keeps a write-ahead log.
//!
//! ```
//! use caudal::embed::Embedded;
//! use caudal::prelude::*;
//!
//! let mut app = Embedded::start(RunConfig::default(), |numbers: EventStream<'_, u64>| numbers.map(|n| n * 2)).unwrap();
//! app.input.push_at(1, 21).unwrap();
//! assert_eq!(app.output.recv().unwrap().data, 42);
//! let report = app.finish().unwrap();
//! assert_eq!(report.sources[0].records, 1);
//! ```
//!
//! [`IdleStrategy::SpinThenPark`]: crate::config::IdleStrategy::SpinThenPark
//! [`IdleStrategy::BusySpin`]: crate::config::IdleStrategy::BusySpin

use std::sync::mpsc::{channel, Receiver};

use caudal_operators::{Event, EventStream};

use crate::config::RunConfig;
use crate::pipeline::{launch, RunError, Running};
use crate::report::RunReport;
use crate::sink::ChannelSink;
use crate::source::channel::{channel as input_channel, durable_channel, ChannelSources, Pusher};

/// A pipeline running inside the application.
pub struct Embedded<I, O> {
    /// Pushes records into the pipeline.
    pub input: Pusher<I>,
    /// Receives the pipeline's results.
    pub output: Receiver<Event<O>>,
    running: Running,
}

impl<I: Send + 'static, O: Send + 'static> Embedded<I, O> {
    /// Starts `pipeline` on `config.workers` worker threads of this process.
    pub fn start<F>(config: RunConfig, pipeline: F) -> Result<Self, RunError>
    where
        F: for<'s> Fn(EventStream<'s, I>) -> EventStream<'s, O> + Send + Sync + 'static,
    {
        let (input, sources) = input_channel::<I>(config.workers);
        Self::launch(config, input, sources, pipeline)
    }

    /// Like [`Embedded::start`], with input that survives a crash under a delivery guarantee
    /// (`config.checkpoints`): what is pushed goes through a write-ahead log before it enters the
    /// pipeline ([`durable_channel`]), so a run resumed from a checkpoint replays it. Its records must
    /// serialize.
    pub fn start_durable<F>(config: RunConfig, pipeline: F) -> Result<Self, RunError>
    where
        I: serde::Serialize + serde::de::DeserializeOwned,
        F: for<'s> Fn(EventStream<'s, I>) -> EventStream<'s, O> + Send + Sync + 'static,
    {
        let (input, sources) = durable_channel::<I>(config.workers);
        Self::launch(config, input, sources, pipeline)
    }

    fn launch<F>(
        config: RunConfig,
        input: Pusher<I>,
        sources: ChannelSources<I>,
        pipeline: F,
    ) -> Result<Self, RunError>
    where
        F: for<'s> Fn(EventStream<'s, I>) -> EventStream<'s, O> + Send + Sync + 'static,
    {
        let (tx, output) = channel();
        let sink = ChannelSink::new(tx);
        let running = launch(config, move |df| {
            let records = df.source("input", &sources);
            let results = pipeline(records);
            df.sink("output", results, &sink);
        })?;
        Ok(Embedded {
            input,
            output,
            running,
        })
    }

    /// The checkpoint this run resumed from, if any (under a delivery guarantee).
    pub fn resumed_from(&self) -> Option<&crate::checkpoint::Manifest> {
        self.running.resumed_from()
    }

    /// Ends the input, waits for the pipeline to finish, and reports what it did. Results not yet
    /// received are dropped with the receiver.
    pub fn finish(self) -> Result<RunReport, RunError> {
        let Embedded {
            input,
            output,
            running,
        } = self;
        drop(input);
        // The receiver lives until the workers are done, so results still in flight are not errors.
        let report = running.join();
        drop(output);
        report
    }
}
