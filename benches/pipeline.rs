//! Criterion benchmarks of Caudal's per-record path (one worker). Speed is shown here, never asserted in
//! tests. Run with `cargo bench --bench pipeline`.
//!
//! * `hop/N`: one record through a chain of N stateless operators and back to a probe, per record
//!   (an epoch per record: the per-record round trip, including timely's progress tracking);
//! * `keyed_count`: records per second through an exchange and a keyed running count, 1,024 per epoch;
//! * `runtime/keyed_count`: the whole runtime path (generator source operator, exchange, keyed count,
//!   sink) for 1M records, unpaced, per-record mode, including start-up of the worker;
//! * `runtime/micro_batch_boundary`: the same records in 1 ms micro-batches, to price batch boundaries;
//! * `runtime/stateless`: the whole runtime path with a map and a filter instead of the keyed count;
//! * `idle_worker_step`: one step of a worker whose dataflow has nothing to do.

use std::hint::black_box;
use std::time::{Duration, Instant};

use caudal::operators::stream::EventInput;
use caudal::prelude::*;
use caudal::workload::Posts;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use timely::dataflow::operators::{Input, Probe};
use timely::dataflow::ProbeHandle;

fn hop(c: &mut Criterion) {
    let mut group = c.benchmark_group("hop");
    for n in [1usize, 4, 16] {
        group.throughput(Throughput::Elements(1));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
            b.iter_custom(|iters| {
                timely::execute_directly(move |worker| {
                    let mut input: EventInput<u64> = EventInput::new();
                    let probe = ProbeHandle::new();
                    worker.dataflow::<EventTime, _, _>(|scope| {
                        let mut s = EventStream::new(scope.input_from(&mut input));
                        for _ in 0..n {
                            s = s.map(|x| x.wrapping_add(1));
                        }
                        s.inner.probe_with(&probe);
                    });
                    let started = Instant::now();
                    for t in 0..iters as EventTime {
                        input.send(Event::new(t, black_box(t as u64)));
                        input.advance_to(t + 1);
                        worker.step_while(|| probe.less_than(input.time()));
                    }
                    started.elapsed()
                })
            })
        });
    }
    group.finish();
}

fn keyed_count(c: &mut Criterion) {
    const BATCH: u64 = 1024;
    let mut group = c.benchmark_group("keyed_count");
    group.throughput(Throughput::Elements(BATCH));
    group.bench_function("10k_keys", |b| {
        b.iter_custom(|iters| {
            timely::execute_directly(move |worker| {
                let mut input: EventInput<(u64, ())> = EventInput::new();
                let probe = ProbeHandle::new();
                worker.dataflow::<EventTime, _, _>(|scope| {
                    EventStream::new(scope.input_from(&mut input))
                        .running_count()
                        .inner
                        .probe_with(&probe);
                });
                let mut key = 0u64;
                let started = Instant::now();
                for t in 0..iters as EventTime {
                    for _ in 0..BATCH {
                        key = (key + 7919) % 10_000;
                        input.send(Event::new(t, (key, ())));
                    }
                    input.advance_to(t + 1);
                    worker.step_while(|| probe.less_than(input.time()));
                }
                started.elapsed()
            })
        })
    });
    group.finish();
}

fn runtime(c: &mut Criterion) {
    const RECORDS: u64 = 1_000_000;
    let mut group = c.benchmark_group("runtime");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .throughput(Throughput::Elements(RECORDS));
    for (name, mode, keyed) in [
        ("stateless", ExecutionMode::PerRecord, false),
        ("keyed_count", ExecutionMode::PerRecord, true),
        (
            "micro_batch_boundary",
            ExecutionMode::micro_batch(Duration::from_millis(1)),
            true,
        ),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let config = GeneratorConfig {
                    limit: Some(RECORDS),
                    ..Default::default()
                };
                let source = GeneratorFactory::new(Posts::default(), config);
                let report = caudal::run(RunConfig::new(mode), move |df| {
                    let posts = df.source("posts", &source);
                    // Stateless: map and filter on the worker that read the post; keyed: a running
                    // count per user, after an exchange.
                    let out = if keyed {
                        posts.map(|p| (p.user, ())).running_count().map(|(_, n)| n)
                    } else {
                        posts.filter(|p| p.user % 2 == 0).map(|p| p.seq)
                    };
                    df.sink("out", out.filter(|_| false), &Collect::new());
                })
                .unwrap();
                black_box(report)
            })
        });
    }
    group.finish();
}

/// The cost of one step of a worker whose dataflow has nothing to do (input, 4 operators, probe).
fn idle_step(c: &mut Criterion) {
    c.bench_function("idle_worker_step", |b| {
        b.iter_custom(|iters| {
            timely::execute_directly(move |worker| {
                let mut input: EventInput<u64> = EventInput::new();
                let probe = ProbeHandle::new();
                worker.dataflow::<EventTime, _, _>(|scope| {
                    let s = EventStream::new(scope.input_from(&mut input))
                        .map(|x| x + 1)
                        .filter(|x| x % 2 == 0);
                    s.map(|x| (x, ())).running_count().inner.probe_with(&probe);
                });
                let started = Instant::now();
                for _ in 0..iters {
                    black_box(worker.step());
                }
                started.elapsed()
            })
        })
    });
}

criterion_group!(benches, hop, keyed_count, runtime, idle_step);
criterion_main!(benches);
