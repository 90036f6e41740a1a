//! Kafka direct streams in the DStream layer (Spark's `KafkaUtils.createDirectStream`), through a real
//! Kafka-protocol broker that each test starts on its own loopback port: one RDD partition per Kafka
//! partition, offset ranges that cover every record once, and offsets kept in the DStream checkpoint
//! so that a program resumed with `get_or_create` reads on from exactly where it stopped.
#![cfg(feature = "kafka")]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use caudal::dstream::kafka::OffsetRange;
use caudal::dstream::StreamingContext;
use caudal::source::kafka::KafkaSpec;

mod common;
use common::kafka::Broker;

/// The partitions of the test topics.
const PARTITIONS: i32 = 3;

/// One batch as `foreach_rdd` saw it: its index, its offset ranges, and each RDD partition's records
/// as (Kafka partition, offset, value).
type Batch = (u64, Vec<OffsetRange>, Vec<Vec<(i32, i64, String)>>);

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("caudal-kdstream-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// `n` records `r0`, `r1`, ... spread round-robin over the partitions.
fn records(n: usize) -> Vec<(i32, i64, Vec<u8>)> {
    (0..n)
        .map(|i| {
            let partition = (i % PARTITIONS as usize) as i32;
            (
                partition,
                1_700_000_000_000 + i as i64,
                format!("r{i}").into_bytes(),
            )
        })
        .collect()
}

/// Runs a direct stream on `topic` with 100 ms batches, checkpointed in `checkpoints`
/// (`get_or_create`), until its batches hold at least `until` records; stops gracefully and returns
/// the batches, and the batch it resumed at (if it did).
fn run(topic: &str, checkpoints: &Path, until: usize) -> (Vec<Batch>, Option<u64>) {
    let spec: KafkaSpec = topic.parse().unwrap();
    let ssc = StreamingContext::get_or_create(checkpoints, || {
        StreamingContext::new(Duration::from_millis(100))
    })
    .unwrap();
    let resumed = ssc.resumes_at_batch();
    let seen: Arc<Mutex<Vec<Batch>>> = Arc::default();
    let out = seen.clone();
    ssc.start(move |ssc| {
        let direct = ssc.kafka_direct_stream(spec);
        let offsets = direct.offsets.clone();
        direct.records.foreach_rdd(move |time, rdd| {
            let parts = rdd
                .partitions()
                .map(|p| {
                    p.iter()
                        .map(|r| (r.partition, r.offset, r.text().unwrap().to_string()))
                        .collect()
                })
                .collect();
            out.lock()
                .unwrap()
                .push((time.batch, offsets.of(time), parts));
        });
    })
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let count = |b: &[Batch]| -> usize { b.iter().flat_map(|(_, _, p)| p).map(Vec::len).sum() };
    while count(&seen.lock().unwrap()) < until {
        // A failed run says why at once, rather than at the deadline.
        if let Err(e) = ssc.await_termination_or_timeout(Duration::from_millis(1)) {
            panic!("the direct stream failed: {e}");
        }
        assert!(
            Instant::now() < deadline,
            "the direct stream gave {} of {until} records in 60 s",
            count(&seen.lock().unwrap())
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    ssc.stop(true).unwrap();
    let batches = seen.lock().unwrap().clone();
    (batches, resumed)
}

/// Checks that every batch's RDD partition `i` holds exactly the offsets of its range `i`, and that
/// the ranges of consecutive batches meet; returns every record, by (partition, offset).
fn check_ranges(batches: &[Batch], ends: &mut BTreeMap<i32, i64>) -> BTreeMap<(i32, i64), String> {
    let mut all = BTreeMap::new();
    for (batch, ranges, parts) in batches {
        assert_eq!(
            ranges.len(),
            parts.len(),
            "batch {batch}: one range per RDD partition"
        );
        let partitions: Vec<i32> = ranges.iter().map(|r| r.partition).collect();
        let mut sorted = partitions.clone();
        sorted.sort_unstable();
        assert_eq!(partitions, sorted, "batch {batch}: partitions in order");
        for (range, part) in ranges.iter().zip(parts) {
            if let Some(end) = ends.get(&range.partition) {
                assert_eq!(
                    range.from_offset, *end,
                    "batch {batch}: ranges meet: {range:?}"
                );
            }
            ends.insert(range.partition, range.until_offset);
            let offsets: Vec<i64> = part.iter().map(|(_, o, _)| *o).collect();
            let expected: Vec<i64> = (range.from_offset..range.until_offset).collect();
            assert_eq!(offsets, expected, "batch {batch}: {range:?}");
            for (p, o, value) in part {
                assert_eq!(*p, range.partition);
                assert!(
                    all.insert((*p, *o), value.clone()).is_none(),
                    "{p}/{o} twice"
                );
            }
        }
    }
    all
}

fn expected(n: usize) -> BTreeMap<(i32, i64), String> {
    let mut next = [0i64; PARTITIONS as usize];
    records(n)
        .into_iter()
        .map(|(p, _, v)| {
            let offset = next[p as usize];
            next[p as usize] += 1;
            ((p, offset), String::from_utf8(v).unwrap())
        })
        .collect()
}

#[test]
fn a_direct_stream_has_one_rdd_partition_per_kafka_partition_and_its_offset_ranges() {
    let broker = Broker::start();
    let topic = broker.topic("direct", PARTITIONS);
    let n = 3_000;
    broker.produce("direct", &records(n));
    let dir = scratch("ranges");

    let (batches, resumed) = run(&topic, &dir, n);
    assert_eq!(resumed, None);
    let all = check_ranges(&batches, &mut BTreeMap::new());
    assert_eq!(all, expected(n), "every record once, in its partition");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_resumed_direct_stream_reads_on_from_the_offsets_in_its_checkpoint() {
    let broker = Broker::start();
    let topic = broker.topic("resume", PARTITIONS);
    let n = 6_000;
    let dir = scratch("resume");
    // The first run stops in the middle of the topic (some records read but not yet in a batch);
    // more records come while nothing runs.
    broker.produce("resume", &records(n)[..n * 2 / 3]);
    let (first, resumed) = run(&topic, &dir, n / 3);
    assert_eq!(resumed, None);
    broker.produce("resume", &records(n)[n * 2 / 3..]);
    let (second, resumed) = run(&topic, &dir, n - count(&first));
    let last_batch = first.iter().map(|b| b.0).max().unwrap();
    assert_eq!(resumed, Some(last_batch + 1), "the batch counter goes on");

    // The resumed run's ranges start where the first run's ended: nothing twice, nothing skipped.
    let mut ends = BTreeMap::new();
    let mut all = check_ranges(&first, &mut ends);
    let more = check_ranges(&second, &mut ends);
    for (key, value) in more {
        assert!(all.insert(key, value).is_none(), "{key:?} read twice");
    }
    assert_eq!(all, expected(n));
    let _ = std::fs::remove_dir_all(&dir);
}

fn count(batches: &[Batch]) -> usize {
    batches.iter().flat_map(|(_, _, p)| p).map(Vec::len).sum()
}
