//! Criterion benchmarks of what delivery guarantees cost: the whole runtime path (generator, exchange,
//! keyed tumbling count, file sink) for 5M posts on one worker, unpaced, under no guarantee,
//! at-least-once and exactly-once, with a checkpoint every 100 ms (so that every run takes several
//! rounds) in a scratch directory. Run with `cargo bench --bench checkpoints`; `caudal compare
//! --guarantees none,at-least-once,exactly-once` shows what they cost in latency.

use std::hint::black_box;
use std::time::Duration;

use caudal::checkpoint::{CheckpointConfig, Guarantee};
use caudal::prelude::*;
use caudal::workload::Posts;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn guarantees(c: &mut Criterion) {
    const RECORDS: u64 = 5_000_000;
    let mut group = c.benchmark_group("guarantees");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .throughput(Throughput::Elements(RECORDS));
    let scratch = std::env::temp_dir().join(format!("caudal-bench-ckpt-{}", std::process::id()));
    for guarantee in [
        Guarantee::None,
        Guarantee::AtLeastOnce,
        Guarantee::ExactlyOnce,
    ] {
        group.bench_function(guarantee.to_string(), |b| {
            b.iter(|| {
                let _ = std::fs::remove_dir_all(&scratch);
                let mut config = RunConfig::new(ExecutionMode::PerRecord);
                if guarantee.checkpoints() {
                    config = config.checkpoints(
                        CheckpointConfig::new(guarantee, scratch.join("ck"), "bench")
                            .interval(Duration::from_millis(100)),
                    );
                }
                let source = GeneratorFactory::new(
                    Posts::default(),
                    GeneratorConfig {
                        limit: Some(RECORDS),
                        ..Default::default()
                    },
                );
                let sink = FileSink::new(scratch.join("out"), Format::text());
                let report = caudal::run(config, move |df| {
                    let counts = df
                        .source("posts", &source)
                        .map(|p| (p.tags()[0].0 as u64, ()))
                        .window(TimeWindows::tumbling(1000, 0).unwrap(), 0, Count)
                        .0
                        .map(|r| format!("({}, {}, {})", r.key, r.window.start, r.value));
                    df.sink("out", counts, &sink);
                })
                .unwrap();
                black_box(report)
            })
        });
    }
    let _ = std::fs::remove_dir_all(&scratch);
    group.finish();
}

criterion_group!(benches, guarantees);
criterion_main!(benches);
