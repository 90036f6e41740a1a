//! The sink operator: feeds a worker's [`Sink`] from a stream and reports its progress; under a
//! guarantee, it also tells the worker's checkpoint side how far it has processed its input.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use caudal_operators::{EventStream, EventTime};
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;

use super::{Sink, SinkContext, SinkError};
use crate::checkpoint::store::PreCommit;
use crate::checkpoint::{file_safe, Guarantee, OutputFence, Stage, WorkerRecovery};
use crate::config::defaults::FENCE_SPAN_MS;
use crate::source::StopFlag;

impl<D: 'static> Stage for Box<dyn Sink<D>> {
    fn pre_commit(&mut self, next_epoch: u64) -> Result<PreCommit, String> {
        (**self).pre_commit(next_epoch).map_err(|e| e.to_string())
    }
}

/// What the sinks of a run did: records written and the errors met.
#[derive(Debug, Default)]
pub struct SinkMetrics {
    /// Records handed to sinks.
    pub records: AtomicU64,
    /// Records dropped by the at-most-once fence.
    pub fenced: AtomicU64,
    /// How many writes failed.
    pub errors: AtomicU64,
    /// The first failure, to report.
    pub first_error: Mutex<Option<String>>,
    /// The run's stop flag: raised when a sink's reader has gone.
    pub stop: StopFlag,
}

impl SinkMetrics {
    fn failed(&self, name: &str, error: SinkError, recovery: Option<&WorkerRecovery>) {
        if error.reader_gone() && !self.stop.is_stopped() {
            eprintln!("sink {name}: {error}: its reader has gone, so the run stops");
            self.stop.stop();
        }
        if let Some(recovery) = recovery {
            recovery.sink_failed(format!("sink {name} failed: {error}"));
        }
        if self.errors.fetch_add(1, Ordering::Relaxed) == 0 {
            tracing::error!("sink {name} failed: {error}");
            *self.first_error.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(format!("sink {name}: {error}"));
        }
    }
}

/// Attaches `sink` to `stream` on this worker (taking part in `recovery`'s checkpoint rounds, if any).
pub(crate) fn sink_stream<D: 'static>(
    stream: EventStream<'_, D>,
    name: &str,
    mut sink: Box<dyn Sink<D>>,
    metrics: Arc<SinkMetrics>,
    recovery: Option<Rc<WorkerRecovery>>,
) {
    let name = name.to_string();
    let ctx = recovery.as_ref().map_or_else(SinkContext::default, |r| {
        let coord = r.coordinator();
        SinkContext {
            guarantee: coord.config().guarantee,
            epoch: coord.first_epoch(),
            attempt: coord.attempt(),
        }
    });
    if let Err(e) = sink.start(&ctx) {
        metrics.failed(&name, e, recovery.as_deref());
    }
    let fence = match recovery.as_ref().map(|r| r.coordinator()) {
        Some(coord) if coord.config().guarantee == Guarantee::AtMostOnce => {
            let worker = stream.inner.scope().index();
            let file = format!("{}-w{worker}.fence", file_safe(&name));
            match OutputFence::open(coord.config().dir.join("fence").join(file), FENCE_SPAN_MS) {
                Ok(fence) => Some(fence),
                Err(e) => {
                    metrics.failed(
                        &name,
                        SinkError::Checkpoint(e.to_string()),
                        recovery.as_deref(),
                    );
                    None
                }
            }
        }
        _ => None,
    };
    let sink = Rc::new(RefCell::new(sink));
    let processed = recovery
        .as_ref()
        .map(|r| r.register_sink(&name, sink.clone() as Rc<RefCell<dyn Stage>>));
    let mut last_frontier = Some(EventTime::MIN);
    stream
        .inner
        .sink(Pipeline, &name.clone(), move |(input, frontier)| {
            let mut sink = sink.borrow_mut();
            input.for_each(|cap, records| {
                if let Some(fence) = &fence {
                    // A message's stamp is usually one time; with several, its records are dropped
                    // if the least is fenced off (never written twice), and the fence covers the
                    // greatest.
                    let stamp = cap.stamp();
                    let (least, greatest) = (stamp.least(), stamp.iter().max());
                    if least.is_some_and(|t| fence.suppressed(*t)) {
                        metrics
                            .fenced
                            .fetch_add(records.len() as u64, Ordering::Relaxed);
                        records.clear();
                        return;
                    }
                    if let Err(e) = greatest.map_or(Ok(()), |t| fence.cover(*t)) {
                        metrics.failed(&name, SinkError::Checkpoint(e), recovery.as_deref());
                        records.clear();
                        return;
                    }
                }
                metrics
                    .records
                    .fetch_add(records.len() as u64, Ordering::Relaxed);
                if let Err(e) = sink.write(records) {
                    metrics.failed(&name, e, recovery.as_deref());
                }
            });
            let now = frontier.frontier().first().copied();
            if now != last_frontier {
                last_frontier = now;
                if let Err(e) = sink.progress(now) {
                    metrics.failed(&name, e, recovery.as_deref());
                }
                if let (None, Some(recovery)) = (now, recovery.as_ref()) {
                    let staged = Sink::pre_commit(&mut **sink, 0).and_then(|staged| {
                        recovery
                            .staged_at_end(staged)
                            .map_err(|source| SinkError::Io {
                                what: "writing its last output".into(),
                                source,
                            })
                    });
                    if let Err(e) = staged {
                        metrics.failed(&name, e, Some(recovery));
                    }
                }
            }
            if let Some(processed) = &processed {
                processed.set(now.unwrap_or(EventTime::MAX));
            }
        });
}
