//! Criterion benchmarks of the window operators on one worker: records per second with 10,000 keys,
//! in event-time order with 1% late records (1 s behind the watermark, no allowed lateness, so they go
//! to the late output); the join takes even records on the left and odd ones on the right. Records come in epochs of 1,024, the watermark following them. Speed is shown
//! here, never asserted in tests. Run with `cargo bench --bench windows`.
//!
//! Event time advances 1 ms every 100 records (100,000 records per second of event time), so a 1 s
//! tumbling window holds about 10 records per key.

use std::hint::black_box;
use std::time::Instant;

use caudal::operators::stream::EventInput;
use caudal::operators::window::Windowed;
use caudal::prelude::*;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use timely::dataflow::operators::Probe;
use timely::dataflow::ProbeHandle;

const KEYS: u64 = 10_000;
const EPOCH: u64 = 1024;

/// Feeds `epochs` epochs of records through the window operator `build` makes; returns the time taken.
fn drive<O: 'static>(
    epochs: u64,
    build: impl for<'s> FnOnce(EventStream<'s, (u64, u64)>) -> EventStream<'s, O>
        + Send
        + Sync
        + 'static,
) -> std::time::Duration {
    timely::execute_directly(move |worker| {
        let mut input: EventInput<(u64, u64)> = EventInput::new();
        let probe = ProbeHandle::new();
        worker.dataflow::<EventTime, _, _>(|scope| {
            build(EventStream::new(
                timely::dataflow::operators::Input::input_from(&scope, &mut input),
            ))
            .inner
            .probe_with(&probe);
        });
        let started = Instant::now();
        let mut seq = 0u64;
        for _ in 0..epochs {
            for _ in 0..EPOCH {
                let now = (seq / 100) as EventTime;
                // Spread keys over the key space; every 100th record is 1 s late (but not before 0:
                // the stream this bench has always measured).
                let key = seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) % KEYS;
                let time = if seq % 100 == 99 {
                    (now - 1000).max(0)
                } else {
                    now
                };
                input.send(Event::new(time, (key, seq)));
                seq += 1;
            }
            input.advance_to(((seq / 100) as EventTime).max(*input.time()));
            worker.step_while(|| probe.less_than(input.time()));
        }
        black_box(seq);
        started.elapsed()
    })
}

fn count_fired<'s, K: 'static, V: 'static, O: 'static>(
    (fired, _late): Windowed<'s, K, V, O>,
) -> EventStream<'s, u64> {
    fired.map(|_| 1u64)
}

fn windows(c: &mut Criterion) {
    let mut group = c.benchmark_group("windows");
    group.throughput(Throughput::Elements(EPOCH));
    group.bench_function("tumbling_1s_count", |b| {
        b.iter_custom(|iters| {
            drive(iters, |s| {
                count_fired(s.window(TimeWindows::tumbling(1000, 0).unwrap(), 0, Count))
            })
        })
    });
    group.bench_function("sliding_10s_2s_sum", |b| {
        b.iter_custom(|iters| {
            drive(iters, |s| {
                count_fired(s.window(TimeWindows::sliding(10_000, 2_000, 0).unwrap(), 0, Sum))
            })
        })
    });
    // A long window with a short slide: 60 panes per window, merged at every firing, or carried over.
    let long = TimeWindows::sliding(60_000, 1_000, 0).unwrap();
    group.bench_function("sliding_60s_1s_sum", |b| {
        b.iter_custom(|iters| drive(iters, move |s| count_fired(s.window(long, 0, Sum))))
    });
    group.bench_function("sliding_60s_1s_sum_inverse", |b| {
        b.iter_custom(|iters| {
            drive(iters, move |s| {
                count_fired(
                    s.window_with_inverse(long, 0, Sum, |acc: &mut u64, pane: &u64| *acc -= pane),
                )
            })
        })
    });
    group.bench_function("tumbling_1s_inner_join", |b| {
        b.iter_custom(|iters| {
            drive(iters, |s| {
                let left = s.clone().filter(|(_, seq)| seq % 2 == 0);
                let right = s.filter(|(_, seq)| seq % 2 == 1);
                let (rows, _late) = left.window_join(
                    right,
                    TimeWindows::tumbling(1000, 0).unwrap(),
                    0,
                    JoinKind::Inner,
                );
                rows.map(|r| r.firing as u64)
            })
        })
    });
    group.bench_function("session_10s_gap_count", |b| {
        b.iter_custom(|iters| drive(iters, |s| count_fired(s.session_window(10_000, 0, Count))))
    });
    group.finish();
}

criterion_group!(benches, windows);
criterion_main!(benches);
