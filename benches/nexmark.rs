//! Criterion benchmarks of NEXMark on one worker, closed loop: the event generator alone, and each
//! query fed by it, in events per second. Run with `cargo bench --bench nexmark`.
//!
//! The stream is the default configuration's (10,000 events per second of event time, so a 10 s
//! window holds 100,000 events). Events are made by the compact generator
//! (`caudal::workload::nexmark`) inside the measured loop, so every query's figure includes the cost
//! of making its input. They enter in epochs of 1,024, the watermark following them, and the loop
//! waits for each epoch to leave the dataflow before the next (closed loop). Before the benchmarks,
//! the in-memory size of each stateful query's per-key state is printed (the struct only: vectors it
//! holds add their heap, and the keyed state's hash map adds its entry).

use std::hint::black_box;
use std::time::{Duration, Instant};

use caudal::nexmark::in_order::Ordered;
use caudal::nexmark::q3::SellerState;
use caudal::nexmark::q6::LastPrices;
use caudal::nexmark::winning::AuctionState;
use caudal::nexmark::{NexmarkEvent, Query};
use caudal::operators::stream::EventInput;
use caudal::prelude::*;
use caudal::workload::nexmark::Nexmark;
use caudal::workload::Workload;
use criterion::{Criterion, Throughput};
use timely::dataflow::operators::Probe;
use timely::dataflow::ProbeHandle;

const EPOCH: u64 = 1024;

/// Feeds `epochs` epochs of NEXMark events through `query`; returns the time taken.
fn drive(epochs: u64, query: Query) -> Duration {
    timely::execute_directly(move |worker| {
        let stream = Nexmark::default();
        let mut input: EventInput<NexmarkEvent> = EventInput::new();
        let probe = ProbeHandle::new();
        worker.dataflow::<EventTime, _, _>(|scope| {
            let events = EventStream::new(timely::dataflow::operators::Input::input_from(
                &scope, &mut input,
            ));
            query.build(events).inner.probe_with(&probe);
        });
        let started = Instant::now();
        let mut seq = 0u64;
        for _ in 0..epochs {
            let mut last = 0;
            for _ in 0..EPOCH {
                let time = stream.event_time(seq).unwrap_or(0) as EventTime;
                input.send(Event::new(time, stream.record(seq)));
                last = time;
                seq += 1;
            }
            input.advance_to(last.max(*input.time()));
            worker.step_while(|| probe.less_than(input.time()));
        }
        black_box(seq);
        started.elapsed()
    })
}

fn generator(c: &mut Criterion) {
    let mut group = c.benchmark_group("nexmark");
    group.throughput(Throughput::Elements(EPOCH));
    let stream = Nexmark::default();
    let mut seq = 0u64;
    group.bench_function("generator", |b| {
        b.iter(|| {
            for _ in 0..EPOCH {
                black_box(stream.record(seq));
                black_box(stream.event_time(seq));
                seq += 1;
            }
        })
    });
    group.finish();
}

fn queries(c: &mut Criterion) {
    let mut group = c.benchmark_group("nexmark");
    group.throughput(Throughput::Elements(EPOCH));
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(4));
    for query in Query::ALL {
        group.bench_function(query.name(), |b| b.iter_custom(|iters| drive(iters, query)));
    }
    group.finish();
}

fn state_sizes() {
    use std::mem::size_of;
    println!("per-key state structs (bytes, without heap or hash-map entry):");
    println!(
        "  q3 seller (person + waiting auctions): {}",
        size_of::<SellerState>()
    );
    println!(
        "  q4/q6 winning bids, per auction: {}",
        size_of::<AuctionState>()
    );
    println!("  q4 per category: {}", size_of::<Ordered<(u64, u64)>>());
    println!("  q6 per seller: {}", size_of::<Ordered<LastPrices>>());
}

fn main() {
    state_sizes();
    let mut c = Criterion::default().configure_from_args();
    generator(&mut c);
    queries(&mut c);
    c.final_summary();
}
