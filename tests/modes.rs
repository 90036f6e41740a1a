//! The same pipeline gives the same results in every execution mode (DESIGN §3).
//!
//! For random deterministic input (batches of partitions, fed by a paced queue so that micro-batches
//! really cut the stream), a stateless pipeline and a keyed running count are run per-record, in
//! micro-batches and as a batch, on one and two workers; every run's output multiset must equal the
//! one a plain reference model computes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use caudal::prelude::*;
use caudal::source::queue::QueueSource;
use proptest::prelude::*;
use timely::dataflow::operators::Inspect;

type Batches = Vec<Vec<Vec<(u8, u32)>>>;

const MODES: [&str; 4] = [
    "per-record",
    "micro-batch:3ms",
    "micro-batch:3ms+2ms",
    "batch",
];

fn queue(batches: Batches) -> impl SourceFactory<(u8, u32)> {
    move |w: WorkerInfo| -> Box<dyn Source<Item = (u8, u32)>> {
        Box::new(QueueSource::new(batches.clone(), Duration::from_millis(1), w).paced())
    }
}

/// Runs `pipeline` over `batches` in `mode` on `workers` workers and returns its sorted output.
fn run_mode<O: Ord + Clone + Send + 'static>(
    batches: &Batches,
    mode: &str,
    workers: usize,
    pipeline: impl for<'s> Fn(EventStream<'s, (u8, u32)>) -> EventStream<'s, O> + Send + Sync + 'static,
) -> Vec<O> {
    let source = queue(batches.clone());
    let out = Collect::new();
    let sink = out.clone();
    let config = RunConfig::new(mode.parse().unwrap()).workers(workers);
    caudal::run(config, move |df| {
        let records = df.source("queue", &source);
        df.sink("out", pipeline(records), &sink);
    })
    .unwrap();
    out.sorted_data()
}

fn stateless(s: EventStream<'_, (u8, u32)>) -> EventStream<'_, (u8, u32)> {
    s.filter(|(_, v)| v % 3 != 0)
        .map(|(k, v)| (k, v.wrapping_mul(2)))
        .flat_map(|(k, v)| [(k, v), (k.wrapping_add(1), v)])
}

fn stateless_model(batches: &Batches) -> Vec<(u8, u32)> {
    let mut out: Vec<(u8, u32)> = batches
        .iter()
        .flatten()
        .flatten()
        .filter(|(_, v)| v % 3 != 0)
        .flat_map(|&(k, v)| {
            [
                (k, v.wrapping_mul(2)),
                (k.wrapping_add(1), v.wrapping_mul(2)),
            ]
        })
        .collect();
    out.sort();
    out
}

fn running_count(s: EventStream<'_, (u8, u32)>) -> EventStream<'_, (u8, u64)> {
    s.map(|(k, _)| (k % 8, ())).running_count()
}

/// A running count emits, for a key seen `n` times, the counts 1 to `n`, whatever the order.
fn running_count_model(batches: &Batches) -> Vec<(u8, u64)> {
    let mut totals: HashMap<u8, u64> = HashMap::new();
    for &(k, _) in batches.iter().flatten().flatten() {
        *totals.entry(k % 8).or_default() += 1;
    }
    let mut out: Vec<(u8, u64)> = totals
        .into_iter()
        .flat_map(|(k, n)| (1..=n).map(move |i| (k, i)))
        .collect();
    out.sort();
    out
}

fn batches() -> impl Strategy<Value = Batches> {
    prop::collection::vec(
        prop::collection::vec(prop::collection::vec((any::<u8>(), any::<u32>()), 0..12), 2),
        0..8,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn stateless_pipeline_agrees_in_every_mode(batches in batches(), workers in 1usize..=2) {
        let expected = stateless_model(&batches);
        for mode in MODES {
            prop_assert_eq!(&run_mode(&batches, mode, workers, stateless), &expected, "mode {}", mode);
        }
    }

    #[test]
    fn keyed_running_count_agrees_in_every_mode(batches in batches(), workers in 1usize..=2) {
        let expected = running_count_model(&batches);
        for mode in MODES {
            prop_assert_eq!(&run_mode(&batches, mode, workers, running_count), &expected, "mode {}", mode);
        }
    }
}

/// For every record `mode` delivered, with a processing-time watermark: the timely time of its message
/// and its own (processing) event time.
fn deliveries(mode: &str) -> Vec<(EventTime, EventTime)> {
    deliveries_at(mode)
        .into_iter()
        .map(|(stamp, time, _)| (stamp, time))
        .collect()
}

/// The source's output in `mode` for 20 records read 1 ms apart, processing time: each record's
/// timely time, its event time, and when it came out (ms of the wall clock).
fn deliveries_at(mode: &str) -> Vec<(EventTime, EventTime, u64)> {
    let batches: Batches = (0..20).map(|i| vec![vec![(i as u8, i)]]).collect();
    let source = queue(batches);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let config = RunConfig::new(mode.parse().unwrap()).watermark(WatermarkStrategy::ProcessingTime);
    caudal::run(config, move |df| {
        let sink = sink.clone();
        let records = df.source("queue", &source);
        let observed = records.inner.inspect_core(move |event| {
            if let Ok((stamp, records)) = event {
                let now_ms = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_millis() as u64;
                let mut seen = sink.lock().unwrap();
                for time in stamp.iter() {
                    seen.extend(records.iter().map(|e| (*time, e.time, now_ms)));
                }
            }
        });
        df.sink("out", EventStream::new(observed), &Collect::new());
    })
    .unwrap();
    let deliveries = seen.lock().unwrap().clone();
    deliveries
}

#[test]
fn micro_batches_release_records_at_batch_boundaries() {
    let deliveries = deliveries("micro-batch:7ms");
    assert_eq!(deliveries.len(), 20);
    for (batch_start, read_at) in deliveries {
        // A batch is released at the frontier the previous boundary set, and holds exactly the records
        // read in [start, start + interval).
        assert_eq!(batch_start % 7, 0, "{batch_start}");
        assert!(
            (batch_start..batch_start + 7).contains(&read_at),
            "read at {read_at}, released in the batch of {batch_start}"
        );
    }
}

#[test]
fn sparks_model_gives_each_record_its_batch_time_as_spark_windows_do() {
    let deliveries = deliveries("micro-batch:7ms:spark");
    assert_eq!(deliveries.len(), 20);
    for (released_at, time) in deliveries {
        // Whenever it was read, a record is in the windows ending at its batch's time: its time is
        // that batch time's last millisecond, at or after the frontier it was released at.
        assert_eq!(time % 7, 6, "{time}");
        assert!(
            released_at <= time,
            "released at {released_at}, time {time}"
        );
    }
}

#[test]
fn sparks_model_runs_the_last_jobs_after_the_input_has_ended() {
    // The 20 records are read within about 20 ms and the input ends; under Spark's model (97 ms jobs,
    // blocks of 200 ms) they still wait for their block, their batch and its job, as in Spark, rather
    // than going out with the end of the input.
    let model = caudal::spark_model::SparkModel::DEFAULT;
    let deliveries = deliveries_at("micro-batch:100ms:spark");
    assert_eq!(deliveries.len(), 20);
    for (_, time, out_ms) in deliveries {
        // The batch time is the event time's next millisecond; the job starts after it.
        let job_end = (time + 1) as u64 + (model.schedule + model.fixed).as_millis() as u64;
        assert!(
            out_ms >= job_end,
            "out at {out_ms} ms, before its batch at {} ms and its job had run",
            time + 1
        );
    }
}

#[test]
fn batch_mode_holds_everything_until_the_end() {
    let deliveries = deliveries("batch");
    assert_eq!(deliveries.len(), 20);
    // At the source's first capability, timely's minimum: the capability never moved.
    assert!(
        deliveries.iter().all(|(t, _)| *t == EventTime::MIN),
        "{deliveries:?}"
    );
}

#[test]
fn per_record_mode_follows_the_clock() {
    let deliveries = deliveries("per-record");
    // Records paced 1 ms apart leave at once, at the wall clock's millisecond: not at a common batch time.
    let distinct: std::collections::BTreeSet<_> = deliveries.iter().map(|(t, _)| t).collect();
    assert!(distinct.len() > 5, "{deliveries:?}");
    assert!(
        deliveries.iter().all(|(t, read_at)| t <= read_at),
        "{deliveries:?}"
    );
}
