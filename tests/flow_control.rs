//! Flow control between the workers of a process: when keys are skewed so that one worker gets every
//! record, and that worker is slower than the others' sources, what waits for it in the exchange stays
//! under the exchange budget (the sources stop reading), and nothing is lost.

use caudal::prelude::*;
use caudal::workload::{Post, Posts};

const POSTS: u64 = 200_000;

/// Every post under one key, counted on the one worker that owns it, behind a stage that costs a few
/// microseconds a record there.
fn skewed(config: RunConfig) -> (RunReport, Vec<(u32, u64)>) {
    let out = Collect::new();
    let sink = out.clone();
    let source = GeneratorFactory::new(
        Posts::default(),
        GeneratorConfig {
            limit: Some(POSTS),
            ..Default::default()
        },
    );
    let report = caudal::run(config, move |df| {
        let posts = df.source("posts", &source);
        let counts = posts
            .map(|_: Post| (0u32, ()))
            .running_count()
            .map(|(key, n)| {
                // The owner of key 0 does this for every record of both workers.
                let mut x = n;
                for _ in 0..200 {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                }
                std::hint::black_box(x);
                (key, n)
            });
        df.sink("counts", counts, &sink);
    })
    .unwrap();
    (report, out.sorted_data())
}

#[test]
fn a_worker_that_gets_every_key_holds_the_sources_back_and_loses_nothing() {
    let budget = 5_000;
    let config = RunConfig::default().workers(2).exchange_budget(budget);
    let source_budget = config.source_budget;
    let (report, counts) = skewed(config);
    // Every post counted once, in order of its key: 1, 2, ..., POSTS.
    assert_eq!(counts.len() as u64, POSTS);
    assert!(counts
        .iter()
        .zip(1..)
        .all(|(&(key, n), expected)| key == 0 && n == expected));
    // A source checks the queues before it reads, so each of the two may add one activation's read
    // after the other has gone over the budget.
    let bound = (budget + 2 * source_budget) as u64;
    assert!(
        report.exchange_peak <= bound,
        "{} records waited for one worker, more than the budget allows ({bound}): {report}",
        report.exchange_peak
    );
    assert!(report.sources[0].throttled > 0, "{report}");
}

#[test]
fn a_balanced_run_counts_its_exchange_and_loses_nothing() {
    // Keys spread over both workers: what crosses between them is counted (and, as each worker keeps
    // up, stays far under the default budget; not asserted, as it depends on the machine's load).
    let out = Collect::new();
    let sink = out.clone();
    let source = GeneratorFactory::new(
        Posts::default(),
        GeneratorConfig {
            limit: Some(POSTS),
            ..Default::default()
        },
    );
    let report = caudal::run(RunConfig::default().workers(2), move |df| {
        let posts = df.source("posts", &source);
        let counts = posts.map(|p: Post| (p.seq % 1024, ())).running_count();
        df.sink("counts", counts, &sink);
    })
    .unwrap();
    assert_eq!(out.sorted_data().len() as u64, POSTS);
    assert!(
        report.exchange_peak > 0,
        "the exchange was not counted: {report}"
    );
}
