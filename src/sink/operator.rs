//! The sink operator: feeds a worker's [`Sink`] from a stream and reports its progress.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use caudal_operators::EventStream;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;

use super::{Sink, SinkError};

/// What the sinks of a run did: records written and the errors met.
#[derive(Debug, Default)]
pub struct SinkMetrics {
    /// Records handed to sinks.
    pub records: AtomicU64,
    /// How many writes failed.
    pub errors: AtomicU64,
    /// The first failure, to report.
    pub first_error: Mutex<Option<String>>,
}

impl SinkMetrics {
    fn failed(&self, name: &str, error: SinkError) {
        if self.errors.fetch_add(1, Ordering::Relaxed) == 0 {
            tracing::error!("sink {name} failed: {error}");
            *self.first_error.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(format!("sink {name}: {error}"));
        }
    }
}

/// Attaches `sink` to `stream` on this worker.
pub fn sink_stream<D: 'static>(
    stream: EventStream<'_, D>,
    name: &str,
    mut sink: Box<dyn Sink<D>>,
    metrics: Arc<SinkMetrics>,
) {
    let name = name.to_string();
    let mut last_frontier = Some(0);
    stream
        .inner
        .sink(Pipeline, &name.clone(), move |(input, frontier)| {
            input.for_each(|_cap, records| {
                metrics
                    .records
                    .fetch_add(records.len() as u64, Ordering::Relaxed);
                if let Err(e) = sink.write(records) {
                    metrics.failed(&name, e);
                }
            });
            let now = frontier.frontier().first().copied();
            if now != last_frontier {
                last_frontier = now;
                if let Err(e) = sink.progress(now) {
                    metrics.failed(&name, e);
                }
            }
        });
}
