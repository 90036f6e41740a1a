//! NEXMark's queries in the latency lab (`caudal compare --workload nexmark:qN`): every mode gives the
//! same results, and they are the query's own results on the same events (count and checksum, as the
//! lab's sink sums them), including the windows that the end of the input closed.

use std::hash::{Hash, Hasher};
use std::time::Duration;

use caudal::compare::nexmark::NumberedNexmark;
use caudal::compare::{compare, CompareConfig, LabWorkload};
use caudal::nexmark::{Output, Query};
use caudal::prelude::*;
use caudal::workload::{mix, Workload};

/// Offered rate (events/s) and length of the lab's runs: 20,000 events, 1 s of event time.
const RATE: f64 = 20_000.0;
const WARMUP_MS: u64 = 250;
const DURATION_MS: u64 = 750;

fn events() -> u64 {
    (RATE * (WARMUP_MS + DURATION_MS) as f64 / 1000.0) as u64
}

/// The number of `query`'s results on the lab's events, and their checksum as the lab's sink sums it.
fn reference(query: Query) -> (u64, u64) {
    let source = GeneratorFactory::new(
        NumberedNexmark::at_rate(RATE),
        GeneratorConfig {
            limit: Some(events()),
            ..Default::default()
        },
    );
    let out = Collect::new();
    let sink = out.clone();
    let lab = LabWorkload::Nexmark(query);
    let config = RunConfig::new("batch".parse().unwrap()).watermark(lab.watermark());
    caudal::run(config, move |df| {
        let events = df.source("nexmark", &source);
        df.sink("out", query.build(events.map(|(_, e)| e)), &sink);
    })
    .unwrap();
    let results: Vec<Output> = out.sorted_data();
    let checksum = results.iter().fold(0u64, |sum, r| {
        let mut h = rustc_hash::FxHasher::default();
        r.hash(&mut h);
        sum.wrapping_add(mix(0, h.finish()))
    });
    (results.len() as u64, checksum)
}

fn lab_config(query: Query, modes: &str) -> CompareConfig {
    CompareConfig {
        workload: LabWorkload::Nexmark(query),
        modes: modes.split(',').map(|m| m.parse().unwrap()).collect(),
        rate: RATE,
        warmup: Duration::from_millis(WARMUP_MS),
        duration: Duration::from_millis(DURATION_MS),
        repeat: 1,
        ..CompareConfig::default()
    }
}

#[test]
fn every_query_gives_its_own_results_in_every_mode_of_the_lab() {
    for query in Query::ALL.into_iter().filter(|q| *q != Query::Q12) {
        let (count, checksum) = reference(query);
        let report = compare(
            &lab_config(query, "per-record,micro-batch:50ms,batch"),
            |_, _| {},
        )
        .unwrap_or_else(|e| panic!("{query}: {e}"));
        for mode in &report.modes {
            assert!(mode.comparable, "{query} {}", mode.mode);
            assert_eq!(
                (mode.results.count, mode.results.checksum),
                (count, checksum),
                "{query} in {}: results differ from the query's own",
                mode.mode
            );
        }
        assert!(
            count > 0,
            "{query} should give results on {} events",
            events()
        );
    }
}

#[test]
fn per_record_queries_measure_every_bid_after_the_warm_up() {
    // q0 emits every bid, each measured from itself: those due after the warm-up all have latencies,
    // none is drained.
    let report = compare(&lab_config(Query::Q0, "per-record"), |_, _| {}).unwrap();
    let run = &report.runs[0].result;
    assert_eq!(run.drained_results, 0);
    let warmup_seq = (RATE * WARMUP_MS as f64 / 1000.0) as u64;
    let stream = NumberedNexmark::at_rate(RATE);
    let bids_after = (warmup_seq..events())
        .filter(|&seq| stream.record(seq).1.bid().is_some())
        .count() as u64;
    assert_eq!(run.histogram.len(), bids_after);
}

#[test]
fn q12_of_processing_time_is_reported_but_not_checked() {
    let report = compare(&lab_config(Query::Q12, "per-record,batch"), |_, _| {}).unwrap();
    assert_eq!(report.modes.len(), 2);
    for mode in &report.modes {
        assert!(!mode.comparable, "{}", mode.mode);
        assert!(mode.results.count > 0, "{}", mode.mode);
    }
}

#[test]
fn a_query_through_a_broker_is_refused_before_anything_runs() {
    let config = CompareConfig {
        via: Some("127.0.0.1:1".into()),
        ..lab_config(Query::Q5, "per-record")
    };
    let err = compare(&config, |_, _| {}).unwrap_err().to_string();
    assert!(err.contains("--via carries the lab's posts only"), "{err}");
}
