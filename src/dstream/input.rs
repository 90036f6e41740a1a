//! Input streams: queues of batches, TCP text sockets, text files, and the union of several.
//!
//! Every input stream is a source operator of the runtime's source driver (its batch-indexed form,
//! `batch_stream`), which holds a capability at the next batch. When the clock says batch `i` is due, it
//! emits batch `i` (one [`Rdd`], possibly with no partition) at epoch `i` and downgrades its capability
//! to `i + 1`; when the context stops it drops the capability, and the frontier empties once the
//! batches under way are done. Sockets and files are the runtime's own [`Source`]s, started and polled
//! by the driver as in every pipeline; a queue stream has no source and takes each batch from its queue.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use caudal_operators::Event;
use timely::scheduling::SyncActivator;

use super::blocks::{into_blocks, Received};
use super::context::{Graph, InputOffsets, Recovery, Streams};
use super::rdd::{Data, Rdd};
use super::slice::Slice;
use super::stream::DStream;
use crate::config::defaults;
use crate::source::driver::{batch_stream, BatchClock, BatchOptions};
use crate::source::file::FileSource;
use crate::source::socket::{SocketOptions, SocketSource};
use crate::source::{Source, WorkerInfo};

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

/// The DStream clock as the source driver sees it: batches due, when the next is, and when to stop.
struct GraphClock(Rc<Graph>);

impl BatchClock for GraphClock {
    fn due(&self) -> u64 {
        self.0.clock.due()
    }
    fn until(&self, next: u64) -> Option<Duration> {
        self.0.clock.until(next)
    }
    fn stopping(&self) -> bool {
        // Only the first worker reads the inputs: the others' input operators stop at once, so that
        // the first worker's clock alone moves the batches on.
        self.0.worker != 0 || self.0.control.stopping()
    }
    fn register(&self, activator: SyncActivator) {
        self.0.control.register_input(activator);
    }
    fn emitted(&self, next: u64) {
        let generated = &self.0.generated;
        generated.set(generated.get().max(next));
    }
}

/// An input stream run by the source driver: batch `i` is `make_batch(i, records)`, where `records`
/// are what `input` (if any) has produced by the time batch `i` is due.
pub(super) fn driven<'s, S: Data, T: Data>(
    streams: &mut Streams<'s>,
    name: &str,
    mut input: Option<Box<dyn Source<Item = S>>>,
    mut make_batch: impl FnMut(u64, &mut Vec<Event<S>>) -> Rdd<T> + 'static,
) -> DStream<'s, T> {
    let graph = &streams.graph;
    let rank = graph.inputs_made.replace(graph.inputs_made.get() + 1);
    let offsets = match (&graph.recovery, input.as_deref_mut()) {
        (Some(recovery), Some(source)) => {
            let name = format!("{name}-{rank}");
            match prepare(recovery, &name, source) {
                Ok(()) => {
                    let input = InputOffsets {
                        name,
                        emitted: Rc::new(Cell::new(source.offset())),
                        position: Rc::new(RefCell::new(source.position())),
                        checkpointed: Rc::new(Cell::new(0)),
                    };
                    let cells = (
                        input.emitted.clone(),
                        input.position.clone(),
                        input.checkpointed.clone(),
                    );
                    recovery.offsets.borrow_mut().push(input);
                    Some(cells)
                }
                Err(e) => {
                    graph.control.fail(format!("input stream {name}: {e}"));
                    None
                }
            }
        }
        (Some(_), None) => {
            graph.control.fail(format!(
                "{name} cannot be checkpointed (as in Spark: its batches live in the program, not in \
                 a source that can be read again); use a socket or file stream, or no checkpoint"
            ));
            None
        }
        (None, _) => None,
    };
    let opts = BatchOptions {
        clock: GraphClock(streams.graph.clone()),
        dead_letters: streams.graph.dead_letters.clone(),
        budget: defaults::DSTREAM_POLL_BUDGET,
        fail: {
            let control = streams.graph.control.clone();
            crate::source::Failure::new(move |message| control.fail(message))
        },
        first: streams.graph.first_batch,
        offset: offsets.as_ref().map(|(emitted, _, _)| emitted.clone()),
        position: offsets.as_ref().map(|(_, position, _)| position.clone()),
        checkpointed: offsets.map(|(_, _, checkpointed)| checkpointed),
    };
    // The first worker reads the input and spreads each batch's partitions over the workers; the
    // others open no source, and their input operators stop before any batch (`GraphClock::stopping`).
    let input = input.filter(|_| graph.worker == 0);
    let stream = batch_stream(streams.scope, name, input, opts, move |batch, records| {
        Slice::whole(make_batch(batch, records))
    });
    let stream = DStream::new(stream, streams.graph.clone(), 1);
    let whole = stream.stream.clone();
    stream.spread(whole)
}

/// Readies `source`, input `name` of a checkpointed program: its write-ahead log if the context keeps
/// one, and the offset the resumed checkpoint left it at. A source that cannot go back to it (a socket
/// without a log) reads on from what comes next, as Spark's unreliable receivers do.
fn prepare<S: 'static>(
    recovery: &Recovery,
    name: &str,
    source: &mut dyn Source<Item = S>,
) -> Result<(), String> {
    let mut logged = false;
    if recovery.write_ahead_log && !source.replayable() {
        source.write_ahead(recovery.store.dir().join("wal").join(name))?;
        logged = true;
    }
    let offset = recovery.restored.get(name).copied();
    let position = recovery.restored_positions.get(name);
    if let Some(position) = position {
        source.resume_at(offset.unwrap_or(0), position)?;
    } else if source.replayable() && (offset.is_some_and(|o| o > 0) || logged) {
        source.resume(offset.unwrap_or(0))?;
    }
    Ok(())
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
        // No source to read: each batch is taken from the queue when it is due.
        driven::<T, T>(self, "QueueStream", None, move |_batch, _| {
            let mut waiting = queue.lock();
            let taken = if one_at_a_time {
                waiting.pop_front()
            } else if waiting.is_empty() {
                None
            } else {
                Some(Rdd::union_all(waiting.drain(..)))
            };
            taken.unwrap_or_else(|| default.clone())
        })
    }

    /// Text lines read from a TCP server, one record per line (Spark's `socketTextStream`): each batch
    /// holds the lines received during its interval, one partition per block the receiver cut (per
    /// [`block_interval`] in which lines arrived; no partition when nothing came). The client
    /// reconnects when the server is not there or closes the connection (as Spark's receiver restarts);
    /// malformed (non-UTF-8) lines go to the dead letters.
    ///
    /// [`block_interval`]: super::StreamingContext::block_interval
    pub fn socket_text_stream(&mut self, host: &str, port: u16) -> DStream<'s, String> {
        let options = SocketOptions {
            reconnect: true,
            max_backoff: defaults::DSTREAM_SOCKET_MAX_BACKOFF,
            ..SocketOptions::default()
        };
        let socket = SocketSource::new(format!("{host}:{port}"), options);
        let block_ms = self.graph.block_interval_ms;
        let received = Box::new(Received::new(Box::new(socket)));
        driven(
            self,
            "SocketTextStream",
            Some(received),
            move |_batch, events| into_blocks(events, block_ms),
        )
    }

    /// Text lines of the files that appear in `directory` (Spark's `textFileStream`), one record per
    /// line: each batch holds the lines of the files found during its interval, one partition per
    /// input split of each file, in the order the files are read (name order), as Spark's
    /// `newAPIHadoopFile` splits them (see [`crate::source::splits`]; the split size is
    /// [`file_split_bytes`], 32 MiB by default, so that a small file is one partition and an empty
    /// one none). Files whose names start with `.` or `_` or end in `.tmp` are taken to be still
    /// being written and wait until renamed.
    ///
    /// [`file_split_bytes`]: super::StreamingContext::file_split_bytes
    pub fn text_file_stream(&mut self, directory: impl Into<PathBuf>) -> DStream<'s, String> {
        let made = Arc::new(AtomicU64::new(0));
        let files = FileSource::new(directory, true, WorkerInfo::single())
            .tag_splits(self.graph.file_split_bytes, made.clone());
        let mut next = 0u64;
        driven(
            self,
            "TextFileStream",
            Some(Box::new(files)),
            move |_batch, events| {
                // Every file opened by now has been read to its end (the batch reads all there is).
                let end = made.load(Ordering::Relaxed).max(next);
                let mut parts: Vec<Vec<String>> = (next..end).map(|_| Vec::new()).collect();
                for event in events.drain(..) {
                    // The split's number (see `FileSource::tag_splits`): one of the splits of the
                    // files opened since the last batch, which this batch read to their ends.
                    let split = (event.time as u64).clamp(next, end.max(next + 1) - 1);
                    match parts.get_mut((split - next) as usize) {
                        Some(part) => part.push(event.data),
                        None => parts.push(vec![event.data]),
                    }
                }
                next = end;
                Rdd::new(parts)
            },
        )
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
