//! Sliding-window counts two ways, on one worker, over the same records: Caudal's pane-based window
//! operator, and differential dataflow's retractions (insert at `t`, retract at `t + W`, `count_total`),
//! the form DESIGN §4 names as an alternative. The faster is what Caudal keeps. Run with
//! `cargo bench --bench differential`.
//!
//! 10,000 keys, event time advancing 1 ms every 100 records, windows of 10 s (sliding every 2 s for
//! Caudal; differential maintains the count at every instant), epochs of 1,024 records.

use std::hint::black_box;
use std::time::Instant;

use caudal::operators::stream::EventInput;
use caudal::prelude::*;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use differential_dataflow::input::InputSession;
use differential_dataflow::operators::CountTotal;
use timely::dataflow::operators::{Input, Probe};
use timely::dataflow::ProbeHandle;

const KEYS: u64 = 10_000;
const EPOCH: u64 = 1024;
const WINDOW_MS: u64 = 10_000;

fn key_of(seq: u64) -> u64 {
    seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) % KEYS
}

fn caudal_sliding(epochs: u64) -> std::time::Duration {
    timely::execute_directly(move |worker| {
        let mut input: EventInput<(u64, ())> = EventInput::new();
        let probe = ProbeHandle::new();
        worker.dataflow::<EventTime, _, _>(|scope| {
            let windows = TimeWindows::sliding(WINDOW_MS as i64, 2_000, 0).unwrap();
            EventStream::new(scope.input_from(&mut input))
                .window(windows, 0, Count)
                .0
                .inner
                .probe_with(&probe);
        });
        let started = Instant::now();
        let mut seq = 0u64;
        for _ in 0..epochs {
            for _ in 0..EPOCH {
                input.send(Event::new((seq / 100) as EventTime, (key_of(seq), ())));
                seq += 1;
            }
            input.advance_to(((seq / 100) as EventTime).max(*input.time()));
            worker.step_while(|| probe.less_than(input.time()));
        }
        black_box(seq);
        started.elapsed()
    })
}

fn differential_sliding(epochs: u64) -> std::time::Duration {
    timely::execute_directly(move |worker| {
        let mut input: InputSession<u64, u64, isize> = InputSession::new();
        let probe = ProbeHandle::new();
        worker.dataflow::<u64, _, _>(|scope| {
            input
                .to_collection(scope)
                .count_total()
                .inner
                .probe_with(&probe);
        });
        let started = Instant::now();
        let mut seq = 0u64;
        for _ in 0..epochs {
            for _ in 0..EPOCH {
                let (key, time) = (key_of(seq), seq / 100);
                input.update_at(key, time.max(*input.time()), 1);
                input.update_at(key, time.max(*input.time()) + WINDOW_MS, -1);
                seq += 1;
            }
            input.advance_to((seq / 100).max(*input.time()));
            input.flush();
            worker.step_while(|| probe.less_than(input.time()));
        }
        black_box(seq);
        started.elapsed()
    })
}

fn compare(c: &mut Criterion) {
    let mut group = c.benchmark_group("sliding_10s_count");
    group.throughput(Throughput::Elements(EPOCH));
    group.bench_function("caudal_panes", |b| b.iter_custom(caudal_sliding));
    group.bench_function("differential_retractions", |b| {
        b.iter_custom(differential_sliding)
    });
    group.finish();
}

criterion_group!(benches, compare);
criterion_main!(benches);
