//! The hold budget: what a source instance may hold back. A micro-batch that reaches it stops the
//! source reading until the batch closes (nothing is lost, the batch is capped); a batch-mode input
//! beyond it ends the run with an error that says so, and nothing partial is written.

use caudal::prelude::*;
use caudal::workload::{Post, Posts};

const POSTS: u64 = 200_000;

fn posts() -> GeneratorFactory<Posts> {
    // As fast as the generator goes: far more than one small micro-batch can hold.
    GeneratorFactory::new(
        Posts::default(),
        GeneratorConfig {
            limit: Some(POSTS),
            ..Default::default()
        },
    )
}

/// How many posts each user wrote, and the run's report.
fn per_user(config: RunConfig) -> (Result<RunReport, RunError>, Vec<(u32, u64)>) {
    let out = Collect::new();
    let sink = out.clone();
    let source = posts();
    let report = caudal::run(config, move |df| {
        let posts = df.source("posts", &source);
        let counts = posts.map(|p: Post| (p.user, ())).running_count();
        df.sink("counts", counts, &sink);
    });
    // The last count of each user.
    let mut last = std::collections::BTreeMap::new();
    for (user, n) in out.sorted_data() {
        let entry = last.entry(user).or_insert(0);
        *entry = (*entry).max(n);
    }
    (report, last.into_iter().collect())
}

/// A budget of about `records` posts.
fn budget(records: usize) -> usize {
    records * std::mem::size_of::<Event<Post>>()
}

#[test]
fn a_full_micro_batch_holds_the_source_back_and_loses_nothing() {
    let (reference, expected) = per_user(RunConfig::new(ExecutionMode::PerRecord));
    reference.unwrap();
    let capped = RunConfig::new("micro-batch:20ms".parse().unwrap()).hold_budget(budget(1_000));
    let (report, got) = per_user(capped);
    let report = report.unwrap();
    assert_eq!(got, expected);
    assert_eq!(report.sources[0].records, POSTS);
    assert!(report.sources[0].capped > 0, "{report}");
}

#[test]
fn a_batch_input_beyond_the_budget_is_an_error_and_writes_nothing() {
    let small = RunConfig::new(ExecutionMode::Batch).hold_budget(budget(10_000));
    let (report, got) = per_user(small);
    let error = report.expect_err("the input does not fit").to_string();
    assert!(
        error.contains("larger than the hold budget") && error.contains("--hold-budget"),
        "{error}"
    );
    assert!(
        got.is_empty(),
        "partial results were written: {} users",
        got.len()
    );
}
