//! Input streams: queues of batches, TCP text sockets, text files, and the union of several.
//!
//! Every input stream is a timely source operator that holds a capability at the next batch. When the
//! clock says batch `i` is due, it emits batch `i` (one [`Rdd`], possibly with no partition) at epoch
//! `i` and downgrades its capability to `i + 1`; when the context stops it drops the capability, and the
//! frontier empties once the batches under way are done.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use caudal_operators::Event;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::generic::operator::source;
use timely::scheduling::SyncActivator;

use super::context::{Graph, Streams};
use super::rdd::{Data, Rdd};
use super::stream::DStream;
use crate::config::defaults;
use crate::source::file::FileSource;
use crate::source::socket::{SocketOptions, SocketSource};
use crate::source::{Poll, Source, SourceContext, Waker, WorkerInfo};

/// A queue of batches that a queue stream takes from, one per batch interval (or all at once). It can
/// be filled before the context starts or while it runs, from any thread.
pub struct RddQueue<T> {
    batches: Arc<Mutex<VecDeque<Rdd<T>>>>,
}

impl<T> Clone for RddQueue<T> {
    fn clone(&self) -> Self {
        RddQueue {
            batches: self.batches.clone(),
        }
    }
}

impl<T> Default for RddQueue<T> {
    fn default() -> Self {
        RddQueue {
            batches: Arc::default(),
        }
    }
}

impl<T> RddQueue<T> {
    /// An empty queue.
    pub fn new() -> Self {
        RddQueue::default()
    }

    /// Adds a batch at the end of the queue.
    pub fn push(&self, batch: impl Into<Rdd<T>>) {
        self.lock().push_back(batch.into());
    }

    /// How many batches are waiting.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no batch is waiting.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Rdd<T>>> {
        self.batches.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<T, B: Into<Rdd<T>>> FromIterator<B> for RddQueue<T> {
    fn from_iter<I: IntoIterator<Item = B>>(batches: I) -> Self {
        let queue = RddQueue::new();
        for b in batches {
            queue.push(b);
        }
        queue
    }
}

/// A source operator that emits `next_batch(i)` at epoch `i` for every batch `i` the clock makes due.
pub(crate) fn batch_source<'s, T: Data>(
    streams: &mut Streams<'s>,
    name: &str,
    start: impl FnOnce(SyncActivator),
    mut next_batch: impl FnMut(u64) -> Rdd<T> + 'static,
) -> DStream<'s, T> {
    let graph: Rc<Graph> = streams.graph.clone();
    let scope = streams.scope;
    let stream =
        source::<_, CapacityContainerBuilder<Vec<Rdd<T>>>, _, _>(scope, name, move |cap, info| {
            let activator = scope.activator_for(info.address.clone());
            let sync_activator = scope.worker().sync_activator_for(info.address.to_vec());
            start(sync_activator.clone());
            graph.control.register_input(sync_activator);
            let mut cap = Some(cap);
            let mut next = 0u64;
            let mut armed: Option<Instant> = None;
            move |output| {
                if graph.control.stopping() {
                    cap = None;
                    return;
                }
                let Some(c) = cap.as_mut() else { return };
                let due = graph.clock.due();
                while next < due {
                    output.session(&*c).give(next_batch(next));
                    next += 1;
                    c.downgrade(&next);
                }
                graph.generated.set(graph.generated.get().max(next));
                // The system clock: wake at the next boundary (only an earlier timer is worth arming;
                // timely keeps every one it is given).
                if let Some(wait) = graph.clock.until(next) {
                    let at = Instant::now() + wait;
                    if armed.is_none_or(|t| t <= Instant::now() || at < t) {
                        activator.activate_after(wait);
                        armed = Some(at);
                    }
                }
            }
        });
    DStream::new(stream, streams.graph.clone(), 1)
}

/// A stream of whatever a [`Source`] has produced by each batch boundary: one partition per batch, or
/// none when nothing came.
fn source_batches<'s, T: Data>(
    streams: &mut Streams<'s>,
    name: &str,
    input: Box<dyn Source<Item = T>>,
) -> DStream<'s, T> {
    let dead_letters = streams.graph.dead_letters.clone();
    let input = Rc::new(RefCell::new(input));
    let started = input.clone();
    let start = move |activator| {
        started.borrow_mut().start(&SourceContext {
            waker: Waker::new(activator),
            dead_letters,
            worker: WorkerInfo::single(),
        })
    };
    let mut events: Vec<Event<T>> = Vec::new();
    let mut ended = false;
    batch_source(streams, name, start, move |_batch| {
        let mut input = input.borrow_mut();
        while !ended {
            match input.poll(&mut events, defaults::DSTREAM_POLL_BUDGET) {
                Poll::Ready => continue,
                Poll::Pending { .. } => break,
                Poll::Done => ended = true,
            }
        }
        if events.is_empty() {
            Rdd::new(Vec::new())
        } else {
            Rdd::new(vec![events.drain(..).map(|e| e.data).collect()])
        }
    })
}

impl<'s> Streams<'s> {
    /// A stream taking one batch from `queue` per interval; when the queue is empty, a batch of one
    /// empty partition (Spark's `queueStream(rdds, oneAtATime = true)`).
    pub fn queue_stream<T: Data + Send + Sync>(&mut self, queue: &RddQueue<T>) -> DStream<'s, T> {
        self.queue_stream_with(queue, true, None)
    }

    /// A queue stream that takes one batch per interval (`one_at_a_time`) or all waiting batches as one,
    /// and gives `default` (else one empty partition) when the queue is empty.
    pub fn queue_stream_with<T: Data + Send + Sync>(
        &mut self,
        queue: &RddQueue<T>,
        one_at_a_time: bool,
        default: Option<Rdd<T>>,
    ) -> DStream<'s, T> {
        let queue = queue.clone();
        let default = default.unwrap_or_else(|| Rdd::empty(1));
        batch_source(
            self,
            "QueueStream",
            |_| {},
            move |_batch| {
                let mut waiting = queue.lock();
                let taken = if one_at_a_time {
                    waiting.pop_front()
                } else if waiting.is_empty() {
                    None
                } else {
                    Some(Rdd::union_all(waiting.drain(..)))
                };
                taken.unwrap_or_else(|| default.clone())
            },
        )
    }

    /// Text lines read from a TCP server, one record per line (Spark's `socketTextStream`): each batch
    /// holds the lines received during its interval, in one partition. The client reconnects when the
    /// server is not there or closes the connection (as Spark's receiver restarts); malformed (non-UTF-8)
    /// lines go to the dead letters.
    pub fn socket_text_stream(&mut self, host: &str, port: u16) -> DStream<'s, String> {
        let options = SocketOptions {
            reconnect: true,
            max_backoff: defaults::DSTREAM_SOCKET_MAX_BACKOFF,
            ..SocketOptions::default()
        };
        let socket = SocketSource::new(format!("{host}:{port}"), options);
        source_batches(self, "SocketTextStream", Box::new(socket))
    }

    /// Text lines of the files that appear in `directory` (Spark's `textFileStream`), one record per
    /// line: each batch holds the lines of the files found during its interval. Files whose names start
    /// with `.` or `_` or end in `.tmp` are taken to be still being written and wait until renamed.
    pub fn text_file_stream(&mut self, directory: impl Into<PathBuf>) -> DStream<'s, String> {
        let files = FileSource::new(directory, true, WorkerInfo::single());
        source_batches(self, "TextFileStream", Box::new(files))
    }

    /// The union of several streams of the same slide: each batch holds the partitions of every
    /// stream's batch, in the order given (Spark's `ssc.union`).
    ///
    /// # Panics
    /// If `streams` is empty.
    pub fn union<T: Data>(&mut self, streams: &[DStream<'s, T>]) -> DStream<'s, T> {
        let (first, rest) = streams
            .split_first()
            .expect("union needs at least one stream");
        rest.iter().fold(first.clone(), |acc, s| acc.union(s))
    }
}
