//! A Kafka source (feature `kafka`): `kafka://HOST:PORT/TOPIC?start=earliest|latest|committed&group=G`.
//!
//! The topic's partitions are spread over every worker of the run, on every process: partition `p` is
//! read by worker `p % workers`, assigned to it directly rather than through a consumer group, because
//! the offsets live in Caudal's checkpoints, not in the group (as Flink's and Spark's direct streams do).
//! A worker with no partition ends its input at once, so that it holds no watermark back.
//!
//! Each instance has a reader thread that owns its librdkafka consumer: it blocks in the consumer's poll
//! and hands records over in batches through a bounded channel, waking the source operator once per
//! batch. When the pipeline falls behind, the channel fills, the thread stops polling, and librdkafka
//! stops fetching once its own bounded queue (`queued.max.messages.kbytes`) is full.
//!
//! **Offsets and checkpoints.** The source's [`Source::position`] is the next offset of each of its
//! partitions, taken after the records handed to the dataflow; a checkpoint stores it, and a resumed
//! run assigns its partitions at those offsets. So the input after a checkpoint is read again after a
//! crash, exactly from where the checkpoint was: at-least-once and exactly-once runs need nothing else
//! (no write-ahead log: Kafka replays). A run on another number of workers merges the old instances'
//! offsets ([`Source::merge_positions`]) and each instance takes its own partitions' from them. The
//! `start` option only decides where a fresh run begins: `earliest` (the default), `latest`, or
//! `committed` (the group's committed offsets, `group=` needed; partitions without one start at the
//! earliest). `earliest` asks for offset 0 and lets the consumer's `auto.offset.reset=earliest` move
//! it up to the log's start where retention has removed records before it: the same place on a
//! broker whose log start is right, and the right place on one whose `ListOffsets` answer can be stale
//! (the tansu test broker, under concurrent producers: see `tests/common/kafka.rs`).
//!
//! **Watermarks** are per partition (the slowest live partition's largest event time). An instance
//! that has not yet been told its partitions holds its watermark where it was (a resumed one must not
//! follow the largest event time its checkpoint saw), and it counts as caught up with its input
//! ([`Source::caught_up`]) only when every partition has reached its end as of the last fetch: an
//! instance whose first fetch is slow is not taken for a quiet one by a checkpoint round.
//!
//! **Event time** is the record's Kafka timestamp (its create time, in ms since the Unix epoch, signed
//! as Caudal's event times are); a record without one (Kafka's -1) takes the wall clock when read.
//! [`KafkaSourceFactory::event_time`] takes it from the record instead, before 1970 too.
//!
//! **Limited reads**: with `limit=N`, each source instance ends its input after `N` records (the
//! lab's runs through the broker read a known number of records from a one-partition topic).
//!
//! **Settings**: any librdkafka consumer property can be given as `kafka.NAME=VALUE` in the address
//! (`kafka://HOST:PORT/TOPIC?kafka.fetch.max.bytes=1048576&kafka.security.protocol=ssl`, as Spark's
//! Kafka source takes `kafka.`-prefixed options); it is set after Caudal's own, so it wins.
//!
//! **Bounded reads**: with `until=end`, each partition is read until the reader has caught up with it
//! (librdkafka's end-of-partition event), then the input ends: a batch-mode run, or a test, over what a
//! topic holds. (It does not ask the broker for the partition's end offset first: the tansu broker
//! the tests use can answer a stale one for a partition that several producers wrote at once.)
//!
//! **Errors**: a broker that cannot be reached is retried with backoff and a warning that names it; a
//! topic that does not exist ends the run with an error that names it.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use caudal_operators::time::wall_clock_us;
use caudal_operators::{Event, EventTime};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};

use super::{Failure, Poll, Source, SourceContext, SourceFactory, WorkerInfo};
use crate::config::defaults;

/// One record read from Kafka.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KafkaRecord {
    /// Its partition.
    pub partition: i32,
    /// Its offset in the partition.
    pub offset: i64,
    /// Its Kafka timestamp in ms, if it has one.
    pub timestamp: Option<i64>,
    /// Its key, if it has one.
    pub key: Option<Vec<u8>>,
    /// Its value (empty for a null value).
    pub payload: Vec<u8>,
    /// Its headers, in order.
    pub headers: Vec<(String, Vec<u8>)>,
}

impl KafkaRecord {
    /// The value as text, if it is UTF-8.
    pub fn text(&self) -> Result<&str, std::str::Utf8Error> {
        std::str::from_utf8(&self.payload)
    }
}

/// Where a fresh run starts reading (a resumed one goes on from its checkpoint).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Start {
    /// The oldest record each partition still holds.
    #[default]
    Earliest,
    /// Only records written from now on.
    Latest,
    /// The group's committed offsets (the earliest where a partition has none).
    Committed,
}

/// A Kafka topic to read, as `kafka://HOST:PORT/TOPIC?start=...&group=...&until=end` says it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaSpec {
    /// `host:port` of a broker (several separated by commas).
    pub brokers: String,
    /// The topic.
    pub topic: String,
    /// The consumer group: used for `start=committed` (and reported to the broker), not for assignment.
    pub group: Option<String>,
    /// Where a fresh run starts.
    pub start: Start,
    /// Whether the input ends at the end each partition had when the run started.
    pub until_end: bool,
    /// The input ends after this many records (per source instance: give the topic one partition,
    /// or read it on one worker, for a limit on the whole).
    pub limit: Option<u64>,
    /// librdkafka consumer properties given as `kafka.NAME=VALUE` (as Spark's Kafka source takes
    /// them), set after Caudal's own, so that they win: `kafka.fetch.max.bytes=...`,
    /// `kafka.security.protocol=...`, `kafka.debug=fetch`.
    pub properties: Vec<(String, String)>,
}

impl fmt::Display for KafkaSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "kafka://{}/{}", self.brokers, self.topic)
    }
}

impl FromStr for KafkaSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let rest = s
            .strip_prefix("kafka://")
            .ok_or_else(|| format!("`{s}` is not a kafka:// address"))?;
        let (address, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (brokers, topic) = address
            .split_once('/')
            .ok_or_else(|| format!("`{s}` has no topic: write kafka://HOST:PORT/TOPIC"))?;
        if brokers.is_empty() || brokers.split(',').any(|b| !b.contains(':')) {
            return Err(format!(
                "`{s}`: the broker address needs a host and a port, such as localhost:9092"
            ));
        }
        if topic.is_empty()
            || !topic
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        {
            return Err(format!(
                "`{s}`: `{topic}` is not a topic name (letters, digits, `.`, `_` and `-`)"
            ));
        }
        let mut spec = KafkaSpec {
            brokers: brokers.to_string(),
            topic: topic.to_string(),
            group: None,
            start: Start::Earliest,
            until_end: false,
            limit: None,
            properties: Vec::new(),
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            if let Some((name, value)) = pair
                .strip_prefix("kafka.")
                .and_then(|p| p.split_once('='))
                .filter(|(name, _)| !name.is_empty())
            {
                spec.properties.push((name.to_string(), value.to_string()));
                continue;
            }
            match pair.split_once('=') {
                Some(("group", g)) if !g.is_empty() => spec.group = Some(g.to_string()),
                Some(("start", "earliest")) => spec.start = Start::Earliest,
                Some(("start", "latest")) => spec.start = Start::Latest,
                Some(("start", "committed")) => spec.start = Start::Committed,
                Some(("until", "end")) => spec.until_end = true,
                Some(("limit", n)) => {
                    spec.limit = Some(n.parse().map_err(|_| {
                        format!("`{s}`: limit={n} is not a number of records (such as limit=1000)")
                    })?)
                }
                _ => {
                    return Err(format!(
                        "`{s}`: unknown option `{pair}` (known: group=NAME, \
                         start=earliest|latest|committed, until=end, limit=N, and kafka.PROPERTY=VALUE for \
                         any librdkafka consumer property)"
                    ))
                }
            }
        }
        if spec.start == Start::Committed && spec.group.is_none() {
            return Err(format!(
                "`{s}`: start=committed reads the group's offsets: add group=NAME"
            ));
        }
        Ok(spec)
    }
}

/// A user's event time for a record (signed ms since the Unix epoch, negative before 1970), instead of
/// its Kafka timestamp; `None` keeps the timestamp.
pub type EventTimeFn = Arc<dyn Fn(&KafkaRecord) -> Option<EventTime> + Send + Sync>;

/// Makes each worker's [`KafkaSource`].
#[derive(Clone)]
pub struct KafkaSourceFactory {
    spec: KafkaSpec,
    event_time: Option<EventTimeFn>,
}

/// The source of `spec` (see the module's documentation).
pub fn source(spec: KafkaSpec) -> KafkaSourceFactory {
    KafkaSourceFactory {
        spec,
        event_time: None,
    }
}

impl KafkaSourceFactory {
    /// Takes each record's event time (signed ms since the Unix epoch) from `extract` (from its value,
    /// key or headers), as
    /// Flink's `TimestampAssigner`; where it gives `None`, the Kafka timestamp stays. It runs on the
    /// reader thread, before the record is handed to the dataflow.
    pub fn event_time(
        mut self,
        extract: impl Fn(&KafkaRecord) -> Option<EventTime> + Send + Sync + 'static,
    ) -> Self {
        self.event_time = Some(Arc::new(extract));
        self
    }
}

impl SourceFactory<KafkaRecord> for KafkaSourceFactory {
    fn make(&self, worker: WorkerInfo) -> Box<dyn Source<Item = KafkaRecord>> {
        let mut source = KafkaSource::new(self.spec.clone(), worker);
        source.event_time = self.event_time.clone();
        Box::new(source)
    }
}

/// A Kafka source's records as text lines (their values); a value that is not UTF-8 goes to the dead
/// letters with its partition and offset.
pub struct Lines {
    inner: Box<dyn Source<Item = KafkaRecord>>,
    read: Vec<Event<KafkaRecord>>,
    origin: String,
    dead_letters: Option<crate::dead_letter::DeadLetters>,
}

impl Lines {
    /// The lines of `inner`'s records, which come from `origin` (a `kafka://` address, for the dead
    /// letters).
    pub fn new(inner: Box<dyn Source<Item = KafkaRecord>>, origin: String) -> Self {
        Lines {
            inner,
            read: Vec::new(),
            origin,
            dead_letters: None,
        }
    }
}

impl Source for Lines {
    type Item = String;

    fn start(&mut self, ctx: &SourceContext) {
        self.dead_letters = Some(ctx.dead_letters.clone());
        self.inner.start(ctx)
    }

    fn poll(&mut self, out: &mut Vec<Event<String>>, budget: usize) -> Poll {
        let status = self.inner.poll(&mut self.read, budget);
        for e in self.read.drain(..) {
            match String::from_utf8(e.data.payload) {
                Ok(line) => out.push(Event::new(e.time, line)),
                Err(bad) => {
                    if let Some(dead) = &self.dead_letters {
                        dead.report(
                            &format!(
                                "{} partition {} offset {}",
                                self.origin, e.data.partition, e.data.offset
                            ),
                            &String::from_utf8_lossy(bad.as_bytes()),
                            "the value is not UTF-8 text".to_string(),
                        );
                    }
                }
            }
        }
        status
    }

    fn offset(&self) -> u64 {
        self.inner.offset()
    }
    fn replayable(&self) -> bool {
        self.inner.replayable()
    }
    fn position(&self) -> Vec<u8> {
        self.inner.position()
    }
    fn resume_at(&mut self, offset: u64, position: &[u8]) -> Result<(), String> {
        self.inner.resume_at(offset, position)
    }
    fn merge_positions(&self, positions: &[&[u8]]) -> Result<Vec<u8>, String> {
        self.inner.merge_positions(positions)
    }
    fn split_low_mark(&self, now: Instant) -> Option<EventTime> {
        self.inner.split_low_mark(now)
    }
    fn caught_up(&self) -> bool {
        self.inner.caught_up()
    }
}

/// What the reader thread hands over.
enum Handed {
    /// The partitions it reads (first, before any record).
    Assigned(Vec<i32>),
    Records(Vec<Event<KafkaRecord>>),
    /// A bounded read has read this partition to its end.
    PartitionEnd(i32),
    /// An unbounded read has caught up with this partition's end (its records so far are handed).
    CaughtUp(i32),
    End,
}

/// One partition's part in the source's watermark.
#[derive(Clone, Copy, Debug)]
struct Split {
    partition: i32,
    /// Its largest event time so far.
    max_seen: Option<EventTime>,
    /// When it last gave a record (or was assigned).
    last: Instant,
    /// Read to its end (a bounded read): it holds nothing back.
    done: bool,
    /// At its end as of the last fetch, and nothing read since.
    caught_up: bool,
}

/// One worker's share of a topic (see the module's documentation).
pub struct KafkaSource {
    spec: KafkaSpec,
    worker: WorkerInfo,
    /// The next offset of each partition read so far, or resumed from: `(partition, offset)`.
    next: Vec<(i32, i64)>,
    rx: Option<Receiver<Handed>>,
    records: u64,
    /// Raised when the source is dropped: the reader thread ends.
    closed: Arc<AtomicBool>,
    /// Its partitions, for per-partition watermarks.
    splits: Vec<Split>,
    idle_timeout: Option<Duration>,
    /// The user's event time, if any.
    event_time: Option<EventTimeFn>,
}

impl Drop for KafkaSource {
    fn drop(&mut self) {
        self.closed.store(true, Ordering::Release);
    }
}

impl KafkaSource {
    /// The `(partition, next offset)` pairs of a checkpoint's position ([`encode_offsets`]).
    fn decode_offsets(&self, position: &[u8]) -> Result<Vec<(i32, i64)>, String> {
        bincode::deserialize(position).map_err(|e| {
            format!(
                "{}: the checkpoint's offsets cannot be read: {e}",
                self.spec
            )
        })
    }

    /// The source of worker `worker`'s partitions of `spec`'s topic.
    pub fn new(spec: KafkaSpec, worker: WorkerInfo) -> Self {
        KafkaSource {
            spec,
            worker,
            next: Vec::new(),
            rx: None,
            records: 0,
            closed: Arc::default(),
            splits: Vec::new(),
            idle_timeout: None,
            event_time: None,
        }
    }

    /// The next offset of each partition read so far (or resumed from), as `(partition, offset)`, in
    /// the order first met: where the records handed over end. A partition that has given nothing
    /// yet in a fresh run is not listed.
    pub fn next_offsets(&self) -> &[(i32, i64)] {
        &self.next
    }

    /// The topic it reads.
    pub fn spec(&self) -> &KafkaSpec {
        &self.spec
    }
}

/// Records that `partition` goes on at `next`.
#[inline]
fn advance(positions: &mut Vec<(i32, i64)>, partition: i32, next: i64) {
    match positions.iter_mut().find(|(p, _)| *p == partition) {
        Some(entry) => entry.1 = next,
        None => positions.push((partition, next)),
    }
}

impl Source for KafkaSource {
    type Item = KafkaRecord;

    fn start(&mut self, ctx: &SourceContext) {
        let (tx, rx) = std::sync::mpsc::sync_channel(defaults::KAFKA_QUEUE_BATCHES);
        self.rx = Some(rx);
        self.idle_timeout = ctx.idle_timeout;
        let reader = Reader {
            spec: self.spec.clone(),
            event_time: self.event_time.clone(),
            worker: self.worker,
            resumed: self.next.clone(),
            ctx: ctx.clone(),
            tx,
            closed: self.closed.clone(),
        };
        let spawned = thread::Builder::new()
            .name(format!(
                "caudal-kafka-{}-w{}",
                self.spec.topic, self.worker.index
            ))
            .spawn(move || reader.run());
        if let Err(e) = spawned {
            ctx.failure.fail(format!(
                "{}: cannot start the reader thread: {e}",
                self.spec
            ));
            self.rx = None;
        }
    }

    fn poll(&mut self, out: &mut Vec<Event<KafkaRecord>>, budget: usize) -> Poll {
        let Some(rx) = self.rx.as_ref() else {
            return Poll::Done;
        };
        if self.spec.limit.is_some_and(|limit| self.records >= limit) {
            self.rx = None;
            return Poll::Done;
        }
        let mut taken = 0;
        while taken < budget {
            match rx.try_recv() {
                Ok(Handed::Records(mut batch)) => {
                    if let Some(limit) = self.spec.limit {
                        batch.truncate(limit.saturating_sub(self.records) as usize);
                    }
                    taken += batch.len();
                    self.records += batch.len() as u64;
                    let now = Instant::now();
                    for e in &batch {
                        advance(&mut self.next, e.data.partition, e.data.offset + 1);
                        if let Some(split) = self
                            .splits
                            .iter_mut()
                            .find(|s| s.partition == e.data.partition)
                        {
                            split.max_seen = Some(split.max_seen.map_or(e.time, |m| m.max(e.time)));
                            split.last = now;
                            split.caught_up = false;
                        }
                    }
                    out.extend(batch);
                }
                Ok(Handed::Assigned(partitions)) => {
                    // Offsets of partitions that are not this instance's came with a checkpoint of
                    // another number of workers: their owners carry them on.
                    self.next.retain(|(p, _)| partitions.contains(p));
                    let now = Instant::now();
                    self.splits = partitions
                        .into_iter()
                        .map(|partition| Split {
                            partition,
                            max_seen: None,
                            last: now,
                            done: false,
                            caught_up: false,
                        })
                        .collect();
                }
                Ok(Handed::PartitionEnd(p)) => {
                    if let Some(split) = self.splits.iter_mut().find(|s| s.partition == p) {
                        split.done = true;
                    }
                }
                Ok(Handed::CaughtUp(p)) => {
                    if let Some(split) = self.splits.iter_mut().find(|s| s.partition == p) {
                        split.caught_up = true;
                    }
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
        true
    }

    fn position(&self) -> Vec<u8> {
        let mut next = self.next.clone();
        next.sort_unstable();
        encode_offsets(&next)
    }

    fn resume_at(&mut self, offset: u64, position: &[u8]) -> Result<(), String> {
        if position.is_empty() {
            // Nothing had been read when the checkpoint was taken: start as a fresh run does.
            self.records = offset;
            return Ok(());
        }
        self.next = self.decode_offsets(position)?;
        self.records = offset;
        Ok(())
    }

    /// Every old instance's offsets together: each partition's next offset, wherever it was read. A
    /// partition in several positions (an instance of a rescaled run that had not yet learnt which
    /// partitions are its own) goes on from the furthest: its owner's.
    fn merge_positions(&self, positions: &[&[u8]]) -> Result<Vec<u8>, String> {
        let mut next: BTreeMap<i32, i64> = BTreeMap::new();
        for position in positions.iter().filter(|p| !p.is_empty()) {
            for (partition, offset) in self.decode_offsets(position)? {
                let at = next.entry(partition).or_insert(offset);
                *at = (*at).max(offset);
            }
        }
        let next: Vec<(i32, i64)> = next.into_iter().collect();
        Ok(encode_offsets(&next))
    }

    /// Every partition at its end as of the last fetch (or read to its end), nothing read since.
    fn caught_up(&self) -> bool {
        !self.splits.is_empty() && self.splits.iter().all(|s| s.done || s.caught_up)
    }

    /// Per-partition watermarks: the smallest largest event time over the partitions that are
    /// neither read to their end nor idle (see [`Source::split_low_mark`]).
    fn split_low_mark(&self, now: Instant) -> Option<EventTime> {
        if self.splits.is_empty() {
            // Not yet told its partitions (they come before any record): a resumed instance must not
            // follow the largest event time its checkpoint saw, which a lagging partition is behind.
            return Some(0);
        }
        self.splits
            .iter()
            .filter(|s| !s.done)
            .filter(|s| {
                self.idle_timeout
                    .is_none_or(|t| now.saturating_duration_since(s.last) < t)
            })
            .map(|s| s.max_seen.unwrap_or(0))
            .min()
    }
}

/// A [`Source::position`] of the Kafka source: `(partition, next offset)` pairs.
fn encode_offsets(next: &[(i32, i64)]) -> Vec<u8> {
    bincode::serialize(next).expect("a list of numbers serializes")
}

/// The reader thread of one instance.
struct Reader {
    spec: KafkaSpec,
    event_time: Option<EventTimeFn>,
    worker: WorkerInfo,
    /// Where a resumed run goes on, per partition.
    resumed: Vec<(i32, i64)>,
    ctx: SourceContext,
    tx: SyncSender<Handed>,
    closed: Arc<AtomicBool>,
}

impl Reader {
    fn run(self) {
        let end = self.read();
        let _ = self.tx.send(end);
        self.ctx.waker.wake();
    }

    fn read(&self) -> Handed {
        let fail = |message: String| -> Handed {
            fail_run(&self.ctx.failure, &self.spec, message);
            Handed::End
        };
        let consumer: BaseConsumer<Quiet> = match self.client_config().create_with_context(Quiet) {
            Ok(c) => c,
            Err(e) => return fail(format!("cannot create the consumer: {e}")),
        };
        let Some(partitions) = self.partitions(&consumer) else {
            return Handed::End;
        };
        let mine: Vec<i32> = partitions
            .into_iter()
            .filter(|p| *p as usize % self.worker.peers == self.worker.index)
            .collect();
        if mine.is_empty() {
            return Handed::End;
        }
        let mut assignment = TopicPartitionList::new();
        for &p in &mine {
            let offset = match self.resumed.iter().find(|(q, _)| *q == p) {
                Some(&(_, next)) => Offset::Offset(next),
                None => match self.spec.start {
                    // Not `Offset::Beginning` (a `ListOffsets` call): see the module's documentation.
                    Start::Earliest => Offset::Offset(0),
                    Start::Latest => Offset::End,
                    Start::Committed => Offset::Stored,
                },
            };
            if let Err(e) = assignment.add_partition_offset(&self.spec.topic, p, offset) {
                return fail(format!("cannot assign partition {p}: {e}"));
            }
        }
        // A bounded read: the partitions not yet read to their end.
        let mut open: Option<Vec<i32>> = self.spec.until_end.then(|| mine.clone());
        if let Err(e) = consumer.assign(&assignment) {
            return fail(format!("cannot assign partitions {mine:?}: {e}"));
        }
        if self.tx.send(Handed::Assigned(mine.clone())).is_err() {
            return Handed::End;
        }
        let mut batch = Vec::with_capacity(defaults::KAFKA_BATCH);
        loop {
            let wait = match batch.is_empty() {
                true => defaults::KAFKA_POLL,
                false => Duration::ZERO,
            };
            let mut flush = true;
            match consumer.poll(wait) {
                Some(Ok(message)) => {
                    // After its end, a bounded read takes nothing more of a partition.
                    let p = message.partition();
                    if open.as_ref().is_none_or(|open| open.contains(&p)) {
                        let mut e = event(&message);
                        if let Some(t) = self.event_time.as_ref().and_then(|f| f(&e.data)) {
                            e.time = t;
                        }
                        batch.push(e);
                    }
                    flush = batch.len() >= defaults::KAFKA_BATCH;
                }
                Some(Err(KafkaError::PartitionEOF(p))) => {
                    let end = match &mut open {
                        Some(open) if open.contains(&p) => {
                            open.retain(|q| *q != p);
                            Some(Handed::PartitionEnd(p))
                        }
                        Some(_) => None,
                        None => Some(Handed::CaughtUp(p)),
                    };
                    if let Some(end) = end {
                        // The partition's records go first, then its end.
                        if !batch.is_empty() {
                            let full = std::mem::take(&mut batch);
                            if self.tx.send(Handed::Records(full)).is_err() {
                                return Handed::End;
                            }
                        }
                        if self.tx.send(end).is_err() {
                            return Handed::End;
                        }
                        self.ctx.waker.wake();
                    }
                }
                Some(Err(e)) => tracing::warn!("{}: {e}", self.spec),
                None => {}
            }
            if flush && !batch.is_empty() {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(defaults::KAFKA_BATCH));
                if self.tx.send(Handed::Records(full)).is_err() {
                    // The source is gone: the run has ended.
                    return Handed::End;
                }
                self.ctx.waker.wake();
            }
            if open.as_ref().is_some_and(Vec::is_empty) && batch.is_empty() {
                return Handed::End;
            }
            if self.closed.load(Ordering::Acquire) {
                return Handed::End;
            }
        }
    }

    fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.spec.brokers)
            .set("group.id", self.spec.group.as_deref().unwrap_or("caudal"))
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            // A bounded read ends each partition where the broker says its end is; an unbounded one
            // learns that it has caught up (see `Source::caught_up`).
            .set("enable.partition.eof", "true")
            .set("auto.offset.reset", "earliest")
            .set("client.id", format!("caudal-w{}", self.worker.index));
        crate::kafka::prompt_fetches(&mut config);
        for (name, value) in &self.spec.properties {
            config.set(name, value);
        }
        config
    }

    /// The topic's partitions; retries while the broker cannot be reached; `None` (after failing the
    /// run) if the topic does not exist.
    fn partitions(&self, consumer: &BaseConsumer<Quiet>) -> Option<Vec<i32>> {
        let mut backoff = defaults::SOCKET_INITIAL_BACKOFF;
        loop {
            match consumer.fetch_metadata(Some(&self.spec.topic), defaults::KAFKA_METADATA_TIMEOUT)
            {
                Ok(metadata) => {
                    let topic = metadata
                        .topics()
                        .iter()
                        .find(|t| t.name() == self.spec.topic);
                    match topic {
                        Some(t) if t.error().is_none() && !t.partitions().is_empty() => {
                            return Some(t.partitions().iter().map(|p| p.id()).collect());
                        }
                        _ => {
                            fail_run(
                                &self.ctx.failure,
                                &self.spec,
                                format!(
                                    "the topic `{}` does not exist on {} (create it first, for \
                                     example with 4 partitions)",
                                    self.spec.topic, self.spec.brokers
                                ),
                            );
                            return None;
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(
                        "{}: cannot reach the broker at {}: {e}; retrying in {backoff:?} (is it \
                         running? scripts/kafka-broker.sh start)",
                        self.spec,
                        self.spec.brokers
                    );
                    if self.closed.load(Ordering::Acquire) {
                        return None;
                    }
                    thread::sleep(backoff);
                    backoff = (backoff * 2).min(defaults::SOCKET_MAX_BACKOFF);
                }
            }
        }
    }
}

/// The reader's client context: librdkafka's end-of-partition event of a bounded read is not an
/// error to report (the default context logs it as one); other errors are warnings.
struct Quiet;

impl rdkafka::ClientContext for Quiet {
    fn error(&self, error: KafkaError, reason: &str) {
        let end = matches!(
            error,
            KafkaError::PartitionEOF(_) | KafkaError::Global(RDKafkaErrorCode::PartitionEOF)
        );
        if !end {
            tracing::warn!("kafka: {error}: {reason}");
        }
    }
}

impl rdkafka::consumer::ConsumerContext for Quiet {}

fn fail_run(failure: &Failure, spec: &KafkaSpec, message: String) {
    failure.fail(format!("{spec}: {message}"));
}

/// The record of `message`, at its timestamp, signed as Kafka's (a Java `long`, ms since the Unix
/// epoch); a record without one (Kafka's -1, "no timestamp") is at the wall clock.
fn event<M: Message>(message: &M) -> Event<KafkaRecord> {
    let timestamp = message.timestamp().to_millis();
    let time = timestamp.unwrap_or_else(|| (wall_clock_us() / 1000) as EventTime);
    let headers = message.headers().map_or_else(Vec::new, |hs| {
        hs.iter()
            .map(|h| {
                (
                    h.key.to_string(),
                    h.value.map_or_else(Vec::new, <[u8]>::to_vec),
                )
            })
            .collect()
    });
    Event::new(
        time,
        KafkaRecord {
            partition: message.partition(),
            offset: message.offset(),
            timestamp,
            key: message.key().map(<[u8]>::to_vec),
            payload: message.payload().map_or_else(Vec::new, <[u8]>::to_vec),
            headers,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_addresses_and_refuses_bad_ones_with_the_reason() {
        let spec: KafkaSpec = "kafka://127.0.0.1:9092/posts?group=g&start=committed&until=end&limit=7&kafka.fetch.max.bytes=1000"
            .parse()
            .unwrap();
        assert_eq!(
            spec,
            KafkaSpec {
                brokers: "127.0.0.1:9092".into(),
                topic: "posts".into(),
                group: Some("g".into()),
                start: Start::Committed,
                until_end: true,
                limit: Some(7),
                properties: vec![("fetch.max.bytes".into(), "1000".into())],
            }
        );
        for (bad, reason) in [
            ("kafka://localhost:9092", "has no topic"),
            ("kafka://localhost/posts", "needs a host and a port"),
            ("kafka://localhost:9092/a b", "not a topic name"),
            ("kafka://localhost:9092/t?start=middle", "unknown option"),
            ("kafka://localhost:9092/t?start=committed", "add group=NAME"),
            (
                "kafka://localhost:9092/t?limit=lots",
                "not a number of records",
            ),
        ] {
            let e = bad.parse::<KafkaSpec>().unwrap_err();
            assert!(e.contains(reason), "{bad}: {e}");
        }
    }

    #[test]
    fn a_position_goes_back_into_a_source_unchanged() {
        let mut a = KafkaSource::new("kafka://h:1/t".parse().unwrap(), WorkerInfo::single());
        advance(&mut a.next, 3, 17);
        advance(&mut a.next, 1, 5);
        let mut b = KafkaSource::new("kafka://h:1/t".parse().unwrap(), WorkerInfo::single());
        b.resume_at(22, &a.position()).unwrap();
        assert_eq!((b.next.clone(), b.offset()), (vec![(1, 5), (3, 17)], 22));
        assert!(b
            .resume_at(0, b"\xff\xff\xff\xff\xff\xff\xff\xff\xff")
            .is_err());
    }
}
