//! Embedding: an application pushes records from its own threads and receives the results.

use std::thread;

use caudal::prelude::*;

#[test]
fn pushes_from_two_threads_reach_a_keyed_count_on_two_workers() {
    let config = RunConfig::default().workers(2);
    let app = Embedded::start(config, |words: EventStream<'_, String>| {
        words.map(|w| (w, ())).running_count()
    })
    .unwrap();
    let pushers: Vec<_> = (0..2)
        .map(|t| {
            let mut input = app.input.clone();
            thread::spawn(move || {
                for i in 0..500 {
                    input.push_at(i, format!("word{}", (i + t) % 10)).unwrap();
                }
            })
        })
        .collect();
    for p in pushers {
        p.join().unwrap();
    }
    let mut results: Vec<(String, u64)> = app.output.iter().take(1000).map(|e| e.data).collect();
    results.sort();
    let mut expected: Vec<(String, u64)> = (0..10)
        .flat_map(|w| (1..=100).map(move |n| (format!("word{w}"), n)))
        .collect();
    expected.sort();
    assert_eq!(results, expected);
    let report = app.finish().unwrap();
    assert_eq!(report.sources[0].records, 1000);
    assert_eq!(report.sinks[0].records, 1000);
}

#[test]
fn a_busy_spinning_pipeline_gives_the_same_results() {
    let config = RunConfig {
        idle: IdleStrategy::BusySpin,
        ..RunConfig::default()
    };
    let mut app =
        Embedded::start(config, |n: EventStream<'_, u64>| n.filter(|n| n % 2 == 1)).unwrap();
    for i in 0..100 {
        app.input.push(i).unwrap();
    }
    let mut odd: Vec<u64> = app.output.iter().take(50).map(|e| e.data).collect();
    odd.sort();
    assert_eq!(odd, (0..50).map(|i| 2 * i + 1).collect::<Vec<_>>());
    app.finish().unwrap();
}

#[test]
fn a_durable_embedded_pipeline_goes_on_from_its_checkpoint_when_started_again() {
    use caudal::checkpoint::{CheckpointConfig, Guarantee};
    use caudal::operators::WatermarkStrategy;
    let dir = std::env::temp_dir().join(format!("caudal-embed-durable-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let start = || {
        let config = RunConfig::default()
            .watermark(WatermarkStrategy::ProcessingTime)
            .checkpoints(CheckpointConfig::new(
                Guarantee::AtLeastOnce,
                &dir,
                "embedded-count",
            ));
        Embedded::start_durable(config, |words: EventStream<'_, String>| {
            words.map(|w| (w, ())).running_count()
        })
        .unwrap()
    };
    let run = |words: &[&str]| {
        let mut app = start();
        let resumed = app.resumed_from().is_some();
        for w in words {
            app.input.push(w.to_string()).unwrap();
        }
        let counts: Vec<(String, u64)> = app
            .output
            .iter()
            .take(words.len())
            .map(|e| e.data)
            .collect();
        app.finish().unwrap();
        (resumed, counts)
    };
    let (resumed, first) = run(&["a", "b", "a"]);
    assert!(!resumed);
    assert_eq!(first, [("a".into(), 1), ("b".into(), 1), ("a".into(), 2)]);
    // The second application's input is read after the first's final checkpoint: the counts go on.
    let (resumed, second) = run(&["a", "b"]);
    assert!(resumed);
    assert_eq!(second, [("a".into(), 3), ("b".into(), 2)]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_pusher_that_runs_ahead_of_the_pipeline_waits_for_it() {
    use caudal::sink::Collect;
    use caudal::source::channel::channel_with_capacity;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    const CAPACITY: usize = 64;
    const RECORDS: u64 = 20_000;
    let config = RunConfig::default();
    let budget = config.source_budget as u64;
    let (mut pusher, sources) = channel_with_capacity::<u64>(1, CAPACITY);
    let taken = Arc::new(AtomicU64::new(0));
    let seen = taken.clone();
    let sink = Collect::new();
    let out = sink.clone();
    let running = caudal::launch(config, move |df| {
        let seen = seen.clone();
        // About 20 µs a record: the pusher below is many times faster.
        let slow = df.source("pushed", &sources).map(move |n| {
            seen.fetch_add(1, Ordering::Relaxed);
            let until = Instant::now() + Duration::from_micros(20);
            while Instant::now() < until {}
            n
        });
        df.sink("out", slow, &out);
    })
    .unwrap();
    let mut furthest = 0;
    for i in 0..RECORDS {
        pusher.push_at(i as EventTime, i).unwrap();
        furthest = furthest.max(i + 1 - taken.load(Ordering::Relaxed));
    }
    drop(pusher);
    let report = running.join().unwrap();
    assert_eq!(report.sinks[0].records, RECORDS);
    assert_eq!(sink.take().len() as u64, RECORDS);
    // Ahead of the pipeline: the lane, and what the source has read and not yet handed on (one
    // poll's budget at most). Without a bound the pusher would be thousands of records ahead.
    let bound = CAPACITY as u64 + budget + 1;
    assert!(
        furthest <= bound,
        "the pusher ran {furthest} records ahead of the pipeline (bound {bound})"
    );
}
