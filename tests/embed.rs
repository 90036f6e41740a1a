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
