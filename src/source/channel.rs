//! A source fed from other threads: how an embedding application pushes records into a pipeline.
//!
//! [`channel`] returns a [`Pusher`] for the application and a factory of [`ChannelSource`]s for the
//! pipeline. The pusher deals records to the workers in turn over lock-free channels and wakes a worker
//! only when its source has drained what it had, so a steady stream costs no wake-up per record and an idle
//! pipeline sleeps. Dropping every pusher ends the input.
//!
//! Each lane holds at most [`defaults::CHANNEL_CAPACITY`] records (or what [`channel_with_capacity`]
//! says): a pusher that gets that far ahead of the pipeline waits in [`Pusher::push_at`] until the
//! pipeline catches up, so an application that pushes faster than the pipeline can take is slowed
//! down instead of filling the memory.
//!
//! A channel cannot send its input again, so a run with a delivery guarantee needs one made with
//! [`durable_channel`] (its records serialize): each worker's source then has a logger thread that
//! appends what the pushers send to a write-ahead log and syncs it (one sync per batch of what has
//! come) before the records enter the dataflow, as a socket's reader does. A resumed run replays the
//! log from its checkpoint, then reads the channel again. Records pushed but not yet logged when the
//! process dies are lost with it, as the application that pushed them is.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex};

use caudal_operators::{Event, EventTime};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::wal::WriteAheadLog;
use super::{Failure, Poll, Source, SourceContext, SourceFactory, Waker, WorkerInfo};
use crate::config::defaults;

/// The wake-up state shared by a pusher and one worker's source.
#[derive(Default)]
struct Doorbell {
    waker: Mutex<Option<Waker>>,
    /// Set when the source has drained its channel and will wait for the waker.
    asleep: AtomicBool,
}

impl Doorbell {
    fn ring(&self) {
        if self.asleep.swap(false, Ordering::AcqRel) {
            if let Some(waker) = self
                .waker
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
            {
                waker.wake();
            }
        }
    }
}

/// The application's end: sends records into the pipeline from any thread (clone it for more threads).
pub struct Pusher<D> {
    lanes: Vec<(SyncSender<Event<D>>, Arc<Doorbell>)>,
    next: usize,
}

impl<D> Clone for Pusher<D> {
    fn clone(&self) -> Self {
        Pusher {
            lanes: self.lanes.clone(),
            next: self.next,
        }
    }
}

impl<D> Pusher<D> {
    /// Pushes one record with event time `time` (signed ms since the Unix epoch, negative before
    /// 1970); waits while its lane is full (the pipeline is behind). Returns it back if the pipeline has stopped.
    pub fn push_at(&mut self, time: EventTime, data: D) -> Result<(), D> {
        let (tx, bell) = &self.lanes[self.next];
        self.next = (self.next + 1) % self.lanes.len();
        tx.send(Event::new(time, data)).map_err(|e| e.0.data)?;
        bell.ring();
        Ok(())
    }

    /// Pushes one record at event time 0 (use a processing-time watermark to stamp it on arrival).
    pub fn push(&mut self, data: D) -> Result<(), D> {
        self.push_at(0, data)
    }
}

/// How a [`durable_channel`]'s records are written to and read from its write-ahead log.
struct Codec<D> {
    encode: fn(&Event<D>, &mut Vec<u8>),
    decode: fn(&[u8]) -> Result<Event<D>, String>,
}

impl<D> Clone for Codec<D> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<D> Copy for Codec<D> {}

fn codec<D: Serialize + DeserializeOwned>() -> Codec<D> {
    Codec {
        encode: |event, buf| {
            bincode::serialize_into(buf, event).expect("a record of a durable channel serializes")
        },
        decode: |bytes| bincode::deserialize(bytes).map_err(|e| e.to_string()),
    }
}

/// What a logger thread hands its worker's source.
enum Logged<D> {
    Record(Event<D>),
    /// The write-ahead log failed: nothing more can be read safely.
    Failed(String),
}

/// A durable channel's write-ahead log, until the logger thread takes it.
struct Log {
    wal: WriteAheadLog,
    replay_from: u64,
}

/// The pipeline's end: one worker's share of what the pushers send.
pub struct ChannelSource<D> {
    /// The pushers' channel, until a logger thread takes it.
    rx: Option<Receiver<Event<D>>>,
    bell: Arc<Doorbell>,
    read: u64,
    /// Set for a [`durable_channel`]: it can keep a write-ahead log.
    codec: Option<Codec<D>>,
    log: Option<Log>,
    /// What the logger thread has logged, under a guarantee.
    logged: Option<Receiver<Logged<D>>>,
    /// The offset of the last complete checkpoint: the log drops what is before it.
    checkpointed: Arc<AtomicU64>,
    failure: Option<Failure>,
}

impl<D> ChannelSource<D> {
    fn new(rx: Receiver<Event<D>>, bell: Arc<Doorbell>, codec: Option<Codec<D>>) -> Self {
        ChannelSource {
            rx: Some(rx),
            bell,
            read: 0,
            codec,
            log: None,
            logged: None,
            checkpointed: Arc::new(AtomicU64::new(0)),
            failure: None,
        }
    }

    /// Under a guarantee: reads what the logger thread has logged.
    fn poll_logged(&mut self, out: &mut Vec<Event<D>>, budget: usize) -> Poll {
        let Some(logged) = self.logged.as_ref() else {
            return Poll::Done;
        };
        for _ in 0..budget {
            match logged.try_recv() {
                Ok(Logged::Record(event)) => {
                    out.push(event);
                    self.read += 1;
                }
                Ok(Logged::Failed(e)) => {
                    // Ending the input would pass for a complete one: the run fails instead.
                    if let Some(failure) = self.failure.take() {
                        failure.fail(format!("channel: {e}"));
                    }
                    return Poll::Pending { wake_at: None };
                }
                Err(TryRecvError::Empty) => return Poll::Pending { wake_at: None },
                Err(TryRecvError::Disconnected) => return Poll::Done,
            }
        }
        Poll::Ready
    }
}

impl<D: Send + 'static> Source for ChannelSource<D> {
    type Item = D;

    fn start(&mut self, ctx: &SourceContext) {
        *self.bell.waker.lock().unwrap_or_else(|e| e.into_inner()) = Some(ctx.waker.clone());
        self.failure = Some(ctx.failure.clone());
        // Without a write-ahead log the source reads the pushers' channel itself.
        let Some(log) = self.log.take() else {
            return;
        };
        let (Some(codec), Some(rx)) = (self.codec, self.rx.take()) else {
            return;
        };
        let (tx, logged) = std::sync::mpsc::sync_channel(defaults::SOCKET_QUEUE_LINES);
        self.logged = Some(logged);
        let logger = Logger {
            rx,
            tx,
            log,
            codec,
            checkpointed: self.checkpointed.clone(),
            waker: ctx.waker.clone(),
        };
        let spawned = std::thread::Builder::new()
            .name("caudal-channel-log".into())
            .spawn(move || logger.run());
        if let Err(e) = spawned {
            ctx.failure.fail(format!(
                "channel: cannot start the write-ahead log's thread: {e}"
            ));
        }
    }

    fn poll(&mut self, out: &mut Vec<Event<D>>, budget: usize) -> Poll {
        if self.logged.is_some() {
            return self.poll_logged(out, budget);
        }
        let Some(rx) = self.rx.as_ref() else {
            return Poll::Done;
        };
        for _ in 0..budget {
            match rx.try_recv() {
                Ok(event) => {
                    out.push(event);
                    self.read += 1;
                }
                Err(TryRecvError::Empty) => {
                    self.bell.asleep.store(true, Ordering::Release);
                    // A record may have come between the miss and the flag: look once more.
                    return match rx.try_recv() {
                        Ok(event) => {
                            out.push(event);
                            self.read += 1;
                            Poll::Ready
                        }
                        Err(TryRecvError::Empty) => Poll::Pending { wake_at: None },
                        Err(TryRecvError::Disconnected) => Poll::Done,
                    };
                }
                Err(TryRecvError::Disconnected) => return Poll::Done,
            }
        }
        Poll::Ready
    }

    fn offset(&self) -> u64 {
        self.read
    }

    fn replayable(&self) -> bool {
        self.log.is_some() || self.logged.is_some()
    }

    fn write_ahead(&mut self, dir: PathBuf) -> Result<(), String> {
        if self.codec.is_none() {
            return Err(
                "a channel made with `channel()` cannot keep a write-ahead log: make it with \
                 `durable_channel()` (its records must serialize), or run without a guarantee"
                    .into(),
            );
        }
        let wal =
            WriteAheadLog::open(dir, defaults::WAL_SEGMENT_BYTES).map_err(|e| e.to_string())?;
        self.log = Some(Log {
            wal,
            replay_from: 0,
        });
        Ok(())
    }

    fn resume(&mut self, offset: u64) -> Result<(), String> {
        let Some(log) = self.log.as_mut() else {
            return Err("a channel cannot be read again: it needs a write-ahead log".into());
        };
        // Checks that the log still holds everything from `offset` on.
        log.wal.replay(offset).map_err(|e| e.to_string())?;
        log.replay_from = offset;
        self.read = offset;
        self.checkpointed.store(offset, Ordering::Release);
        Ok(())
    }

    fn checkpointed(&mut self, offset: u64) {
        self.checkpointed.fetch_max(offset, Ordering::AcqRel);
    }
}

/// A durable channel's logger thread: replays the log from where the checkpoint left the source,
/// then logs what the pushers send, one sync per batch of what has come, before handing it over.
struct Logger<D> {
    rx: Receiver<Event<D>>,
    tx: SyncSender<Logged<D>>,
    log: Log,
    codec: Codec<D>,
    checkpointed: Arc<AtomicU64>,
    waker: Waker,
}

/// The most records one sync of the log covers.
const LOG_BATCH: usize = 4096;

impl<D> Logger<D> {
    fn run(mut self) {
        if let Err(e) = self.replay().and_then(|()| self.log_what_comes()) {
            let _ = self.tx.send(Logged::Failed(format!(
                "write-ahead log {}: {e}",
                self.log.wal.dir().display()
            )));
        }
        self.waker.wake();
    }

    fn replay(&mut self) -> Result<(), String> {
        let mut replay = self
            .log
            .wal
            .replay(self.log.replay_from)
            .map_err(|e| e.to_string())?;
        let mut count = 0u64;
        while let Some(record) = replay.next_record() {
            let event = (self.codec.decode)(record.map_err(|e| e.to_string())?)
                .map_err(|e| format!("a record cannot be read back ({e})"))?;
            if self.tx.send(Logged::Record(event)).is_err() {
                return Ok(());
            }
            count += 1;
        }
        if count > 0 {
            tracing::info!("channel: replayed {count} records from the write-ahead log");
            self.waker.wake();
        }
        Ok(())
    }

    /// Returns when every pusher has gone (the input ends) or the pipeline has.
    fn log_what_comes(&mut self) -> Result<(), String> {
        let mut batch = Vec::with_capacity(LOG_BATCH);
        let mut buf = Vec::new();
        while let Ok(first) = self.rx.recv() {
            batch.push(first);
            while batch.len() < LOG_BATCH {
                match self.rx.try_recv() {
                    Ok(event) => batch.push(event),
                    Err(_) => break,
                }
            }
            for event in &batch {
                buf.clear();
                (self.codec.encode)(event, &mut buf);
                self.log.wal.append(&buf).map_err(|e| e.to_string())?;
            }
            let wal = &mut self.log.wal;
            wal.sync()
                .and_then(|()| wal.truncate_before(self.checkpointed.load(Ordering::Acquire)))
                .map_err(|e| e.to_string())?;
            for event in batch.drain(..) {
                if self.tx.send(Logged::Record(event)).is_err() {
                    return Ok(());
                }
            }
            self.waker.wake();
        }
        Ok(())
    }
}

/// One worker's end of the channel and its doorbell.
type Lane<D> = (Receiver<Event<D>>, Arc<Doorbell>);

/// Hands each worker its [`ChannelSource`] (once).
pub struct ChannelSources<D> {
    lanes: Mutex<Vec<Option<Lane<D>>>>,
    codec: Option<Codec<D>>,
}

impl<D: Send + 'static> SourceFactory<D> for ChannelSources<D> {
    fn make(&self, worker: WorkerInfo) -> Box<dyn Source<Item = D>> {
        let mut lanes = self.lanes.lock().unwrap_or_else(|e| e.into_inner());
        match lanes.get_mut(worker.index).and_then(Option::take) {
            Some((rx, bell)) => Box::new(ChannelSource::new(rx, bell, self.codec)),
            // A worker of another process, or a second build: it owns no lane.
            None => Box::new(super::Empty::default()),
        }
    }
}

/// A pusher and the sources it feeds, one lane per local worker. A run with a delivery guarantee
/// refuses it (it cannot send its input again): use [`durable_channel`] there.
pub fn channel<D: Send + 'static>(workers: usize) -> (Pusher<D>, ChannelSources<D>) {
    lanes(workers, defaults::CHANNEL_CAPACITY, None)
}

/// Like [`channel`], with at most `capacity` records waiting in each worker's lane.
pub fn channel_with_capacity<D: Send + 'static>(
    workers: usize,
    capacity: usize,
) -> (Pusher<D>, ChannelSources<D>) {
    lanes(workers, capacity, None)
}

/// Like [`channel`], for records that serialize: under a delivery guarantee each worker's source
/// keeps what it is sent in a write-ahead log before it enters the dataflow, so that a run resumed
/// from a checkpoint replays it (see the [module documentation](self)).
pub fn durable_channel<D: Serialize + DeserializeOwned + Send + 'static>(
    workers: usize,
) -> (Pusher<D>, ChannelSources<D>) {
    lanes(workers, defaults::CHANNEL_CAPACITY, Some(codec()))
}

fn lanes<D: Send + 'static>(
    workers: usize,
    capacity: usize,
    codec: Option<Codec<D>>,
) -> (Pusher<D>, ChannelSources<D>) {
    let mut lanes = Vec::new();
    let mut ends = Vec::new();
    for _ in 0..workers.max(1) {
        let (tx, rx) = std::sync::mpsc::sync_channel(capacity.max(1));
        let bell = Arc::new(Doorbell::default());
        lanes.push((tx, bell.clone()));
        ends.push(Some((rx, bell)));
    }
    (
        Pusher { lanes, next: 0 },
        ChannelSources {
            lanes: Mutex::new(ends),
            codec,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_dealt_to_workers_and_the_input_ends_with_the_pusher() {
        let (mut pusher, sources) = channel::<u32>(2);
        let mut s0 = sources.make(WorkerInfo { index: 0, peers: 2 });
        let mut s1 = sources.make(WorkerInfo { index: 1, peers: 2 });
        for i in 0..5 {
            pusher.push_at(i as EventTime, i).unwrap();
        }
        let (mut a, mut b) = (Vec::new(), Vec::new());
        assert_eq!(s0.poll(&mut a, 100), Poll::Pending { wake_at: None });
        s1.poll(&mut b, 100);
        assert_eq!(a.iter().map(|e| e.data).collect::<Vec<_>>(), vec![0, 2, 4]);
        assert_eq!(b.iter().map(|e| e.data).collect::<Vec<_>>(), vec![1, 3]);
        drop(pusher);
        assert_eq!(s0.poll(&mut a, 100), Poll::Done);
    }

    #[test]
    fn only_a_durable_channel_keeps_a_write_ahead_log() {
        let dir = std::env::temp_dir().join(format!("caudal-channel-wal-{}", std::process::id()));
        let (_plain_pusher, plain) = channel::<u32>(1);
        let mut source = plain.make(WorkerInfo { index: 0, peers: 1 });
        let refused = source.write_ahead(dir.join("plain")).unwrap_err();
        assert!(refused.contains("durable_channel()"), "{refused}");
        assert!(!source.replayable());

        let (_pusher, durable) = durable_channel::<u32>(1);
        let mut source = durable.make(WorkerInfo { index: 0, peers: 1 });
        source.write_ahead(dir.join("durable")).unwrap();
        assert!(source.replayable());
        // A fresh log holds nothing yet, so it can only resume at its start.
        source.resume(0).unwrap();
        assert!(source.resume(5).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn records_go_through_the_codec_unchanged() {
        let codec = codec::<(String, u64)>();
        let event = Event::new(42, ("word".to_string(), 7));
        let mut bytes = Vec::new();
        (codec.encode)(&event, &mut bytes);
        assert_eq!((codec.decode)(&bytes).unwrap(), event);
        assert!((codec.decode)(&bytes[..bytes.len() - 1]).is_err());
    }
}
