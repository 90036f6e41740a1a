//! Caudal as a library: a pipeline from a built-in generator, run once in each execution mode.
//!
//! Run with `cargo run --release --example library`. It counts the posts tagged #VIU among 100,000
//! generated posts (offered at 200,000 posts/s), per-record, in 100 ms micro-batches and as a batch, and
//! shows that the three agree while their latency does not.

use std::sync::Arc;
use std::time::{Duration, Instant};

use caudal::prelude::*;
use caudal::workload::{Posts, Tag};

fn main() {
    for mode in [
        ExecutionMode::PerRecord,
        ExecutionMode::micro_batch(Duration::from_millis(100)),
        ExecutionMode::Batch,
    ] {
        let config = GeneratorConfig {
            rate: Some(200_000.0),
            limit: Some(100_000),
            ..Default::default()
        };
        let source = GeneratorFactory::new(Posts::default(), config);

        // The pipeline: keep posts tagged #VIU, count them as they come.
        let counts = Collect::new();
        let sink = counts.clone();
        let started = Instant::now();
        let first_result = Arc::new(std::sync::OnceLock::new());
        let first = first_result.clone();
        caudal::run(RunConfig::new(mode), move |df| {
            let viu = df
                .source("posts", &source)
                .filter(|p| p.has_tag(Tag::VIU))
                .map(|_| ((), ()))
                .running_count();
            let first = first.clone();
            let observed = viu.inspect(move |_| {
                first.get_or_init(|| started.elapsed());
            });
            df.sink("counts", observed, &sink);
        })
        .expect("the pipeline runs");

        let total = counts
            .take()
            .into_iter()
            .map(|e| e.data.1)
            .max()
            .unwrap_or(0);
        println!(
            "{:<22} {total} posts tagged #VIU; first count after {:>10.3?}, all done after {:.3?}",
            mode.to_string(),
            first_result.get().copied().unwrap_or_default(),
            started.elapsed()
        );
    }
}
