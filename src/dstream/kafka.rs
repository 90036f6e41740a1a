//! Kafka direct streams (feature `kafka`): Spark's `KafkaUtils.createDirectStream`.
//!
//! [`Streams::kafka_direct_stream`] reads a topic without a receiver: each batch is one [`Rdd`] with
//! one partition per Kafka partition, in partition order, holding the records read from that partition
//! during the batch interval, in offset order. The batch's [`OffsetRange`]s (partition `i` of the RDD is
//! range `i`) are what `foreach_rdd` asks [`OffsetRanges::of`] for, as Spark programs cast the RDD to
//! `HasOffsetRanges`; the ranges of consecutive batches meet (one's `until` is the next one's `from`).
//!
//! A partition appears once the stream knows where it is: from its first record in a fresh run, or
//! from the checkpoint in a resumed one (Spark asks the broker for the start offsets first; Caudal's
//! source does not, because the tansu broker the tests use answers that with record batches, not
//! records).
//!
//! **Checkpoints.** Under [`StreamingContext::checkpoint`](super::StreamingContext::checkpoint), every
//! partition's next offset is part of each DStream checkpoint, and
//! [`get_or_create`](super::StreamingContext::get_or_create) reads on from exactly there, as Spark's
//! direct stream keeps its offsets in its checkpoint: after a graceful stop nothing is read twice or
//! skipped; after a crash the batches since the last checkpoint are read again (Spark's at-least-once
//! output, made exactly-once by idempotent or transactional output keyed by the offset ranges).
//!
//! The DStream context runs on one worker, so the stream reads every partition of the topic.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Instant;

use caudal_operators::{Event, EventTime};

use super::context::Streams;
use super::input::driven;
use super::rdd::Rdd;
use super::stream::DStream;
use super::time::BatchTime;
use crate::config::defaults;
use crate::source::kafka::{KafkaRecord, KafkaSource, KafkaSpec};
use crate::source::{Poll, Source, SourceContext, WorkerInfo};

/// The records of one Kafka partition in one batch: offsets `from_offset..until_offset` (Spark's
/// `OffsetRange`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OffsetRange {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The first offset of the batch in this partition.
    pub from_offset: i64,
    /// The offset after the batch's last one (where the next batch starts).
    pub until_offset: i64,
}

impl OffsetRange {
    /// How many offsets the range spans (records, and any transaction markers among them).
    pub fn count(&self) -> i64 {
        self.until_offset - self.from_offset
    }
}

/// The offset ranges of a direct stream's batches, for `foreach_rdd` to look up by batch (the last
/// [`defaults::DSTREAM_OFFSET_RANGES_KEPT`] batches are kept).
#[derive(Clone, Default)]
pub struct OffsetRanges {
    batches: Rc<RefCell<BTreeMap<u64, Vec<OffsetRange>>>>,
}

impl OffsetRanges {
    /// The ranges of the batch at `time`, one per partition of its RDD, in the same order; empty for a
    /// batch the stream has not made (or no longer keeps).
    pub fn of(&self, time: BatchTime) -> Vec<OffsetRange> {
        self.batches
            .borrow()
            .get(&time.batch)
            .cloned()
            .unwrap_or_default()
    }

    fn insert(&self, batch: u64, ranges: Vec<OffsetRange>) {
        let mut batches = self.batches.borrow_mut();
        batches.insert(batch, ranges);
        let oldest = batch.saturating_sub(defaults::DSTREAM_OFFSET_RANGES_KEPT);
        while batches.first_key_value().is_some_and(|(b, _)| *b < oldest) {
            batches.pop_first();
        }
    }
}

/// A Kafka direct stream: its records, and its batches' offset ranges.
pub struct KafkaDirectStream<'s> {
    /// The records, one RDD partition per Kafka partition.
    pub records: DStream<'s, KafkaRecord>,
    /// Each batch's offset ranges.
    pub offsets: OffsetRanges,
}

/// Where the source is in each partition, shared with the batch maker.
#[derive(Default)]
struct Positions {
    /// The next offset of each partition, after the records handed over so far.
    next: Vec<(i32, i64)>,
    /// Where the next batch starts in each partition (the last batch's `until`, or the resumed offset).
    from: BTreeMap<i32, i64>,
}

/// The Kafka source, publishing its positions for the batch maker after every poll.
struct Direct {
    inner: KafkaSource,
    positions: Rc<RefCell<Positions>>,
}

impl Direct {
    fn publish(&self) {
        let mut positions = self.positions.borrow_mut();
        positions.next.clear();
        positions.next.extend_from_slice(self.inner.next_offsets());
    }
}

impl Source for Direct {
    type Item = KafkaRecord;

    fn start(&mut self, ctx: &SourceContext) {
        self.inner.start(ctx)
    }
    fn poll(&mut self, out: &mut Vec<Event<KafkaRecord>>, budget: usize) -> Poll {
        let status = self.inner.poll(out, budget);
        self.publish();
        status
    }
    fn offset(&self) -> u64 {
        self.inner.offset()
    }
    fn replayable(&self) -> bool {
        true
    }
    fn position(&self) -> Vec<u8> {
        self.inner.position()
    }
    fn merge_positions(&self, positions: &[&[u8]]) -> Result<Vec<u8>, String> {
        self.inner.merge_positions(positions)
    }
    fn caught_up(&self) -> bool {
        self.inner.caught_up()
    }
    fn resume(&mut self, offset: u64) -> Result<(), String> {
        self.resume_at(offset, &[])
    }
    fn resume_at(&mut self, offset: u64, position: &[u8]) -> Result<(), String> {
        self.inner.resume_at(offset, position)?;
        self.publish();
        let mut positions = self.positions.borrow_mut();
        positions.from = self.inner.next_offsets().iter().copied().collect();
        Ok(())
    }
    fn split_low_mark(&self, now: Instant) -> Option<EventTime> {
        self.inner.split_low_mark(now)
    }
}

impl<'s> Streams<'s> {
    /// The records of `spec`'s topic, read directly, batch by batch (Spark's
    /// `KafkaUtils.createDirectStream`; see [the module](self)).
    pub fn kafka_direct_stream(&mut self, spec: KafkaSpec) -> KafkaDirectStream<'s> {
        let topic = spec.topic.clone();
        let positions = Rc::new(RefCell::new(Positions::default()));
        let source = Direct {
            inner: KafkaSource::new(spec, WorkerInfo::single()),
            positions: positions.clone(),
        };
        let offsets = OffsetRanges::default();
        let ranges = offsets.clone();
        let mut by_partition: BTreeMap<i32, Vec<KafkaRecord>> = BTreeMap::new();
        let records = driven(
            self,
            "DirectKafkaInputDStream",
            Some(Box::new(source)),
            move |batch, events: &mut Vec<Event<KafkaRecord>>| {
                for e in events.drain(..) {
                    by_partition
                        .entry(e.data.partition)
                        .or_default()
                        .push(e.data);
                }
                let mut positions = positions.borrow_mut();
                let mut next = positions.next.clone();
                next.sort_unstable();
                let mut parts = Vec::with_capacity(next.len());
                let mut batch_ranges = Vec::with_capacity(next.len());
                for (partition, until) in next {
                    let records = by_partition.remove(&partition).unwrap_or_default();
                    let from = positions
                        .from
                        .get(&partition)
                        .copied()
                        .or_else(|| records.first().map(|r| r.offset))
                        .unwrap_or(until);
                    positions.from.insert(partition, until);
                    batch_ranges.push(OffsetRange {
                        topic: topic.clone(),
                        partition,
                        from_offset: from,
                        until_offset: until,
                    });
                    parts.push(records);
                }
                ranges.insert(batch, batch_ranges);
                Rdd::new(parts)
            },
        );
        KafkaDirectStream { records, offsets }
    }
}
