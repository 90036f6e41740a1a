//! The DStream layer's cost per batch, against the per-record engine on the same word count (one
//! worker). Run with `cargo bench --bench dstream`.
//!
//! Lines of 10 words drawn from 1,000 distinct words.
//! * `word_count/per_record/N`: N lines through the per-record engine's operators (flat_map into words,
//!   exchange by word, running count per word), sent at once and processed until the probe passes:
//!   the per-record engine's processing time for one batch's records.
//! * `word_count/dstream/N`: the same N lines as one DStream batch (`flatMap`, `map`, `reduceByKey`,
//!   `foreachRDD`) on the manual clock, from advancing the clock until the batch's output operation
//!   has run on the worker and the caller has heard of it.
//! * `word_count/dstream/0`: an empty batch through the same program: the layer's fixed cost per batch.
//!
//! The DStream layer's overhead per batch is `dstream/N − per_record/N`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use caudal::dstream::{Rdd, RddQueue, StreamingContext};
use caudal::operators::stream::EventInput;
use caudal::prelude::*;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use timely::dataflow::operators::{Input, Probe};
use timely::dataflow::ProbeHandle;

const WORDS_PER_LINE: usize = 10;

/// `n` lines of words `w0` .. `w999`, starting at `seed`.
fn lines(n: usize, seed: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            (0..WORDS_PER_LINE)
                .map(|j| format!("w{}", ((seed + i) * 7919 + j * 104_729) % 1000))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

fn per_record(n: usize, iters: u64) -> Duration {
    timely::execute_directly(move |worker| {
        let mut input: EventInput<String> = EventInput::new();
        let probe = ProbeHandle::new();
        worker.dataflow::<EventTime, _, _>(|scope| {
            EventStream::new(scope.input_from(&mut input))
                .flat_map(|line: String| {
                    line.split(' ')
                        .map(|w| (w.to_string(), ()))
                        .collect::<Vec<_>>()
                })
                .running_count()
                .inner
                .probe_with(&probe);
        });
        let mut total = Duration::ZERO;
        for t in 0..iters {
            let batch = lines(n, t as usize);
            let started = Instant::now();
            for line in batch {
                input.send(Event::new(t as EventTime, line));
            }
            input.advance_to(t as EventTime + 1);
            worker.step_while(|| probe.less_than(input.time()));
            total += started.elapsed();
        }
        total
    })
}

fn dstream(n: usize, iters: u64) -> Duration {
    let ssc = StreamingContext::manual(Duration::from_secs(1));
    let queue: RddQueue<String> = RddQueue::new();
    let q = queue.clone();
    ssc.start(move |ssc| {
        ssc.queue_stream(&q)
            .flat_map(|line| line.split(' ').map(String::from).collect::<Vec<_>>())
            .map(|word| (word, 1u64))
            .reduce_by_key(|a, b| a + b)
            .foreach_rdd(|_, counts| {
                black_box(counts.len());
            });
    })
    .expect("the word count starts");
    let mut total = Duration::ZERO;
    for t in 0..iters {
        queue.push(Rdd::parallelize(lines(n, t as usize), 2));
        let started = Instant::now();
        ssc.advance(1).expect("a batch runs");
        total += started.elapsed();
    }
    ssc.stop(true).expect("a clean stop");
    total
}

fn word_count(c: &mut Criterion) {
    let mut group = c.benchmark_group("word_count");
    group.sample_size(20);
    for n in [1_000usize, 100_000] {
        group.throughput(Throughput::Elements((n * WORDS_PER_LINE) as u64));
        group.bench_with_input(BenchmarkId::new("per_record", n), &n, |b, &n| {
            b.iter_custom(|iters| per_record(n, iters))
        });
        group.bench_with_input(BenchmarkId::new("dstream", n), &n, |b, &n| {
            b.iter_custom(|iters| dstream(n, iters))
        });
    }
    group.throughput(Throughput::Elements(1));
    group.bench_function(BenchmarkId::new("dstream", 0), |b| {
        b.iter_custom(|iters| dstream(0, iters))
    });
    group.finish();
}

criterion_group!(benches, word_count);
criterion_main!(benches);
