//! ZeroMQ sources (feature `zeromq`): `zmq+sub://HOST:PORT?topic=T` subscribes to a PUB socket,
//! `zmq+pull://HOST:PORT` pulls from a PUSH socket; one record per message, as text.
//!
//! The source connects to the peer's endpoint (`tcp://HOST:PORT`, where the peer binds), on worker 0
//! only (a subscriber gets every message, so one instance reads; the other workers' sources are empty).
//! A reader thread owns the ZeroMQ socket (the `zmq` crate's sockets are blocking and belong to one
//! thread): it waits in `recv` with a short timeout, so that it sees when the run ends, and hands the
//! messages over in batches through a bounded channel. When the pipeline falls behind, the channel
//! fills, the thread stops receiving, and ZeroMQ's receive queue fills up to its high-water mark
//! (`hwm=N`, default 1000 messages, ZeroMQ's own default): then a PUSH peer blocks (nothing is lost),
//! and a PUB peer **drops** what the subscriber cannot take (ZeroMQ's PUB/SUB never waits for a slow
//! subscriber, and the subscriber is not told). A message that arrives before the subscription has
//! reached the publisher is dropped by the publisher too (ZeroMQ's "slow joiner").
//!
//! Multipart messages: for SUB, the first frame is the topic and the record is the rest, joined; a
//! one-frame message is the record as it is (ZeroMQ matches topics as prefixes of the first frame).
//! For PULL, the frames are joined. A record that is not UTF-8 goes to the dead letters.
//!
//! ZeroMQ cannot send anything again, so under a delivery guarantee the source keeps a
//! [write-ahead log](super::wal), as the socket source does: each batch is appended and synced before
//! it is handed over, and a resumed run replays the log from its checkpoint's offset, then receives
//! again. What libzmq had received into its queue but the killed process had not yet logged is lost
//! (ZeroMQ has no acknowledgements). Without a guarantee the messages are read directly.
//!
//! `limit=N` ends the input after N records in all (across resumed runs): a bounded read, for tests
//! and measurements; without it the input never ends (stop the run with Ctrl-C or `--duration`).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError};
use std::sync::Arc;
use std::thread;

use caudal_operators::Event;

use super::wal::WriteAheadLog;
use super::{Poll, Source, SourceContext};
use crate::config::defaults;

/// Which ZeroMQ pattern the source takes part in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// A SUB socket, subscribed to a topic prefix of a PUB peer's messages.
    Subscribe,
    /// A PULL socket, fed by a PUSH peer.
    Pull,
}

/// A ZeroMQ endpoint to read, as `zmq+sub://HOST:PORT?topic=T&hwm=N&limit=N` or
/// `zmq+pull://HOST:PORT?hwm=N&limit=N` says it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZmqSpec {
    /// SUB or PULL.
    pub pattern: Pattern,
    /// `host:port` of the peer (which binds there).
    pub address: String,
    /// The topic prefix a SUB socket subscribes to (empty: every message).
    pub topic: String,
    /// The receive high-water mark, in messages: how many libzmq queues before the peer blocks (PUSH)
    /// or drops (PUB).
    pub hwm: i32,
    /// End the input after this many records in all.
    pub limit: Option<u64>,
}

impl fmt::Display for ZmqSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pattern {
            Pattern::Subscribe => write!(f, "zmq+sub://{}", self.address),
            Pattern::Pull => write!(f, "zmq+pull://{}", self.address),
        }
    }
}

impl FromStr for ZmqSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (pattern, rest) = if let Some(rest) = s.strip_prefix("zmq+sub://") {
            (Pattern::Subscribe, rest)
        } else if let Some(rest) = s.strip_prefix("zmq+pull://") {
            (Pattern::Pull, rest)
        } else {
            return Err(format!(
                "`{s}` is not a ZeroMQ address: write zmq+sub://HOST:PORT?topic=T or zmq+pull://HOST:PORT"
            ));
        };
        let (address, query) = rest.split_once('?').unwrap_or((rest, ""));
        let port_ok = address.rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0)
        });
        if !port_ok {
            return Err(format!(
                "`{s}`: the address needs a host and a port, such as 127.0.0.1:5556"
            ));
        }
        let mut spec = ZmqSpec {
            pattern,
            address: address.to_string(),
            topic: String::new(),
            hwm: defaults::ZMQ_RCVHWM,
            limit: None,
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match (pair.split_once('='), pattern) {
                (Some(("topic", t)), Pattern::Subscribe) => spec.topic = t.to_string(),
                (Some(("hwm", n)), _) => {
                    spec.hwm = n.parse().ok().filter(|n| *n >= 0).ok_or_else(|| {
                        format!("`{s}`: hwm `{n}` must be a number of messages (0: no limit)")
                    })?
                }
                (Some(("limit", n)), _) => {
                    spec.limit = Some(n.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                        format!("`{s}`: limit `{n}` must be a number of records above 0")
                    })?)
                }
                _ => {
                    let known = match pattern {
                        Pattern::Subscribe => "topic=PREFIX, hwm=N, limit=N",
                        Pattern::Pull => "hwm=N, limit=N",
                    };
                    return Err(format!("`{s}`: unknown option `{pair}` (known: {known})"));
                }
            }
        }
        Ok(spec)
    }
}

/// What the reader thread hands over.
enum Handed {
    Records(Vec<String>),
    End,
}

/// Reads a ZeroMQ endpoint (see the module's documentation).
pub struct ZmqSource {
    spec: ZmqSpec,
    rx: Option<Receiver<Handed>>,
    records: u64,
    /// Under a delivery guarantee: the write-ahead log, until the reader thread takes it.
    wal: Option<WriteAheadLog>,
    logging: bool,
    replay_from: u64,
    checkpointed: Arc<AtomicU64>,
    /// Raised when the source is dropped: the reader thread ends.
    closed: Arc<AtomicBool>,
}

impl Drop for ZmqSource {
    fn drop(&mut self) {
        self.closed.store(true, Ordering::Release);
    }
}

impl ZmqSource {
    /// The source of `spec`.
    pub fn new(spec: ZmqSpec) -> Self {
        ZmqSource {
            spec,
            rx: None,
            records: 0,
            wal: None,
            logging: false,
            replay_from: 0,
            checkpointed: Arc::new(AtomicU64::new(0)),
            closed: Arc::default(),
        }
    }
}

impl Source for ZmqSource {
    type Item = String;

    fn start(&mut self, ctx: &SourceContext) {
        let (tx, rx) = std::sync::mpsc::sync_channel(defaults::ZMQ_QUEUE_BATCHES);
        self.rx = Some(rx);
        let reader = Reader {
            spec: self.spec.clone(),
            ctx: ctx.clone(),
            tx,
            closed: self.closed.clone(),
            wal: self.wal.take(),
            replay_from: self.replay_from,
            checkpointed: self.checkpointed.clone(),
            // What the input may still give: the limit less what was read before a resume.
            remaining: self.spec.limit.map(|l| l.saturating_sub(self.replay_from)),
        };
        let spawned = thread::Builder::new()
            .name(format!("caudal-{}", self.spec))
            .spawn(move || reader.run());
        if let Err(e) = spawned {
            ctx.failure.fail(format!(
                "{}: cannot start the reader thread: {e}",
                self.spec
            ));
            self.rx = None;
        }
    }

    fn poll(&mut self, out: &mut Vec<Event<String>>, budget: usize) -> Poll {
        let Some(rx) = self.rx.as_ref() else {
            return Poll::Done;
        };
        let mut taken = 0;
        while taken < budget {
            match rx.try_recv() {
                Ok(Handed::Records(batch)) => {
                    taken += batch.len();
                    self.records += batch.len() as u64;
                    out.extend(batch.into_iter().map(|r| Event::new(0, r)));
                }
                Ok(Handed::End) | Err(TryRecvError::Disconnected) => {
                    return if taken > 0 { Poll::Ready } else { Poll::Done }
                }
                Err(TryRecvError::Empty) => return Poll::Pending { wake_at: None },
            }
        }
        Poll::Ready
    }

    fn offset(&self) -> u64 {
        self.records
    }

    fn replayable(&self) -> bool {
        self.logging
    }

    fn write_ahead(&mut self, dir: PathBuf) -> Result<(), String> {
        let wal =
            WriteAheadLog::open(dir, defaults::WAL_SEGMENT_BYTES).map_err(|e| e.to_string())?;
        self.wal = Some(wal);
        self.logging = true;
        Ok(())
    }

    fn resume(&mut self, offset: u64) -> Result<(), String> {
        let Some(wal) = self.wal.as_ref() else {
            return Err(format!(
                "{}: ZeroMQ cannot send its input again: it needs a write-ahead log",
                self.spec
            ));
        };
        // Checks that the log still holds everything from `offset` on.
        wal.replay(offset).map_err(|e| e.to_string())?;
        self.replay_from = offset;
        self.records = offset;
        self.checkpointed.store(offset, Ordering::Release);
        Ok(())
    }

    fn checkpointed(&mut self, offset: u64) {
        self.checkpointed.fetch_max(offset, Ordering::AcqRel);
    }
}

/// The reader thread.
struct Reader {
    spec: ZmqSpec,
    ctx: SourceContext,
    tx: SyncSender<Handed>,
    closed: Arc<AtomicBool>,
    wal: Option<WriteAheadLog>,
    replay_from: u64,
    checkpointed: Arc<AtomicU64>,
    remaining: Option<u64>,
}

impl Reader {
    fn run(mut self) {
        if let Err(e) = self.read() {
            // Ending the input would pass for a complete one: the run fails instead.
            self.ctx.failure.fail(format!("{}: {e}", self.spec));
        }
        let _ = self.tx.send(Handed::End);
        self.ctx.waker.wake();
    }

    /// Hands `batch` over (after logging it, under a guarantee); `Ok(false)` once the source is gone.
    fn hand_over(&mut self, batch: Vec<String>, log: bool) -> Result<bool, String> {
        if log {
            if let Some(wal) = self.wal.as_mut() {
                for record in &batch {
                    wal.append(record.as_bytes()).map_err(|e| e.to_string())?;
                }
                wal.sync().map_err(|e| e.to_string())?;
                wal.truncate_before(self.checkpointed.load(Ordering::Acquire))
                    .map_err(|e| e.to_string())?;
            }
        }
        if let Some(remaining) = self.remaining.as_mut() {
            *remaining = remaining.saturating_sub(batch.len() as u64);
        }
        let sent = self.tx.send(Handed::Records(batch)).is_ok();
        Ok(sent && self.ctx.waker.wake())
    }

    fn read(&mut self) -> Result<(), String> {
        if !self.replay()? {
            return Ok(());
        }
        let context = zmq::Context::new();
        let kind = match self.spec.pattern {
            Pattern::Subscribe => zmq::SUB,
            Pattern::Pull => zmq::PULL,
        };
        let socket = context
            .socket(kind)
            .map_err(|e| format!("cannot make the socket: {e}"))?;
        let setup = || -> zmq::Result<()> {
            socket.set_rcvhwm(self.spec.hwm)?;
            socket.set_rcvtimeo(defaults::ZMQ_POLL.as_millis() as i32)?;
            socket.set_linger(0)?;
            if self.spec.pattern == Pattern::Subscribe {
                socket.set_subscribe(self.spec.topic.as_bytes())?;
            }
            socket.connect(&format!("tcp://{}", self.spec.address))
        };
        setup().map_err(|e| format!("cannot connect to tcp://{}: {e}", self.spec.address))?;
        let origin = self.spec.to_string();
        let mut batch = Vec::with_capacity(defaults::ZMQ_BATCH);
        let log = self.wal.is_some();
        loop {
            if self.remaining == Some(0) || self.closed.load(Ordering::Acquire) {
                return Ok(());
            }
            // Block for the first message of a batch (up to the poll timeout), then take what has
            // come without waiting.
            let flags = if batch.is_empty() { 0 } else { zmq::DONTWAIT };
            match socket.recv_multipart(flags) {
                Ok(frames) => match self.record(frames) {
                    Ok(record) => batch.push(record),
                    Err(bad) => self.ctx.dead_letters.report(
                        &origin,
                        &String::from_utf8_lossy(&bad),
                        "the message is not UTF-8 text".to_string(),
                    ),
                },
                Err(zmq::Error::EAGAIN) => {}
                Err(zmq::Error::EINTR) => {}
                Err(e) => return Err(format!("receiving failed: {e}")),
            }
            let full = batch.len() >= defaults::ZMQ_BATCH
                || self.remaining.is_some_and(|r| batch.len() as u64 >= r);
            let quiet =
                !batch.is_empty() && socket.get_events().is_ok_and(|e| !e.contains(zmq::POLLIN));
            if full || quiet {
                let full_batch =
                    std::mem::replace(&mut batch, Vec::with_capacity(defaults::ZMQ_BATCH));
                if !self.hand_over(full_batch, log)? {
                    return Ok(());
                }
            }
        }
    }

    /// The record of a message's frames (see the module's documentation); the bytes if not UTF-8.
    fn record(&self, mut frames: Vec<Vec<u8>>) -> Result<String, Vec<u8>> {
        if self.spec.pattern == Pattern::Subscribe && frames.len() > 1 {
            frames.remove(0);
        }
        let bytes = match frames.len() {
            1 => frames.pop().unwrap_or_default(),
            _ => frames.concat(),
        };
        String::from_utf8(bytes).map_err(|e| e.into_bytes())
    }

    /// Replays the write-ahead log from the checkpoint's offset; `Ok(false)` once the source is gone.
    fn replay(&mut self) -> Result<bool, String> {
        let Some(wal) = self.wal.as_ref() else {
            return Ok(true);
        };
        let mut replay = wal.replay(self.replay_from).map_err(|e| e.to_string())?;
        let mut batch = Vec::new();
        let mut batches = Vec::new();
        while let Some(record) = replay.next_record() {
            let record = record.map_err(|e| e.to_string())?;
            let text = String::from_utf8(record.to_vec()).map_err(|e| {
                format!(
                    "write-ahead log {}: a record is not UTF-8 ({e})",
                    wal.dir().display()
                )
            })?;
            batch.push(text);
            if batch.len() >= defaults::ZMQ_BATCH {
                batches.push(std::mem::take(&mut batch));
            }
        }
        if !batch.is_empty() {
            batches.push(batch);
        }
        let replayed: usize = batches.iter().map(Vec::len).sum();
        if replayed > 0 {
            tracing::info!(
                "{}: replayed {replayed} records from the write-ahead log",
                self.spec
            );
        }
        for batch in batches {
            if !self.hand_over(batch, false)? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_addresses_and_refuses_bad_ones_with_the_reason() {
        let spec: ZmqSpec = "zmq+sub://127.0.0.1:5556?topic=ticks&hwm=5000&limit=10"
            .parse()
            .unwrap();
        assert_eq!(
            spec,
            ZmqSpec {
                pattern: Pattern::Subscribe,
                address: "127.0.0.1:5556".into(),
                topic: "ticks".into(),
                hwm: 5000,
                limit: Some(10),
            }
        );
        let pull: ZmqSpec = "zmq+pull://localhost:7000".parse().unwrap();
        assert_eq!(
            (pull.pattern, pull.hwm, pull.limit),
            (Pattern::Pull, 1000, None)
        );
        for (bad, reason) in [
            ("zmq+sub://localhost", "needs a host and a port"),
            ("zmq+pull://:7000", "needs a host and a port"),
            ("zmq+pull://h:7000?topic=x", "unknown option `topic=x`"),
            ("zmq+sub://h:1?hwm=-1", "hwm `-1`"),
            ("zmq+sub://h:1?limit=0", "limit `0`"),
            ("zmq://h:1", "not a ZeroMQ address"),
        ] {
            let e = bad.parse::<ZmqSpec>().unwrap_err();
            assert!(e.contains(reason), "{bad}: {e}");
        }
    }
}
