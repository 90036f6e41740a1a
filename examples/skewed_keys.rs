//! Flow control under skew: two workers, and every post under one key (0), so that one worker counts all
//! of them (and does some work for each) while the other only reads and forwards.
//!
//! Run with `cargo run --release --example skewed_keys`. It runs the same pipeline twice: with the
//! default exchange budget, where the forwarding worker's source stops reading while the counting
//! worker has more than the budget waiting, and with no budget, where what waits for it grows with the
//! input. For each it prints the most records that waited, how often the sources stopped, and the
//! process's peak resident memory so far (Linux only).

use std::time::Instant;

use caudal::prelude::*;
use caudal::workload::{Post, Posts};

const POSTS: u64 = 4_000_000;

fn main() {
    for (name, budget) in [
        ("default budget", RunConfig::default().exchange_budget),
        ("no budget", usize::MAX),
    ] {
        // Watermark alignment would hold the forwarding worker back too (the counting worker's own
        // source falls behind in event time): off, to show the exchange budget alone.
        let config = RunConfig::default()
            .workers(2)
            .exchange_budget(budget)
            .max_watermark_drift(None);
        let source = GeneratorFactory::new(
            Posts::default(),
            GeneratorConfig {
                limit: Some(POSTS),
                ..Default::default()
            },
        );
        let last = Collect::new();
        let sink = last.clone();
        let started = Instant::now();
        let report = caudal::run(config, move |df| {
            let counts = df
                .source("posts", &source)
                .map(|_: Post| (0u8, ()))
                .running_count()
                .map(|(key, n)| (key, busy(n)))
                .filter(|(_, n)| n % 1_000_000 == 0);
            df.sink("millions", counts, &sink);
        })
        .expect("the pipeline runs");
        let counted = last.take().into_iter().map(|e| e.data.1).max().unwrap_or(0);
        println!(
            "{name:>14}: {counted} posts counted in {:.2} s; at most {} records waited for one \
             worker; sources stopped {} times; peak resident memory so far {}",
            started.elapsed().as_secs_f64(),
            report.exchange_peak,
            report.sources[0].throttled,
            peak_rss().unwrap_or_else(|| "unknown".into()),
        );
    }
}

/// About a microsecond of work that returns `n`.
fn busy(n: u64) -> u64 {
    let mut x = n;
    for _ in 0..300 {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
    std::hint::black_box(x);
    n
}

/// The process's peak resident set (`VmHWM`), from `/proc/self/status`.
fn peak_rss() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    Some(line.trim_start_matches("VmHWM:").trim().to_string())
}
