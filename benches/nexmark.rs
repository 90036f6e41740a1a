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
//!
//! `nexmark_replayed` measures the queries that join nothing on ids without the generator's cost:
//! their events are copied from a block of 2^20 pre-generated events, pass after pass, each pass
//! moved later in event time by the block's span.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use caudal::nexmark::in_order::Ordered;
use caudal::nexmark::q3::SellerState;
use caudal::nexmark::q6::LastPrices;
use caudal::nexmark::winning::AuctionState;
use caudal::nexmark::{NexmarkEvent, Query};
use caudal::operators::stream::EventInput;
use caudal::operators::window::fixed::FixedWindowState;
use caudal::operators::window::session::Session;
use caudal::prelude::*;
use caudal::workload::nexmark::Nexmark;
use caudal::workload::Workload;
use criterion::{Criterion, Throughput};
use timely::dataflow::operators::Probe;
use timely::dataflow::ProbeHandle;

const EPOCH: u64 = 1024;

/// How many events the replayed block holds (64 MB).
const BLOCK: u64 = 1 << 20;

/// A block of pre-generated events, and how far each pass over it moves event time (the block's span
/// rounded up to whole 10 s windows).
struct Block {
    events: Vec<Event<NexmarkEvent>>,
    span: EventTime,
}

impl Block {
    fn new() -> Self {
        let stream = Nexmark::default();
        let events: Vec<_> = (0..BLOCK)
            .map(|seq| {
                Event::new(
                    stream.event_time(seq).unwrap_or(0) as EventTime,
                    stream.record(seq),
                )
            })
            .collect();
        let last = events.last().map_or(0, |e| e.time);
        Block {
            events,
            span: (last / 10_000 + 1) * 10_000,
        }
    }
}

/// Where a benchmark's events come from.
#[derive(Clone)]
enum Feed {
    /// Made by the generator in the measured loop.
    Generate,
    /// Copied from a pre-generated block, pass after pass, each pass later in event time by the
    /// block's span (ids repeat from pass to pass, so only queries without joins on ids use it).
    Replay(Arc<Block>),
}

/// Feeds `epochs` epochs of NEXMark events through `query`; returns the time taken.
fn drive(epochs: u64, query: Query, feed: Feed) -> Duration {
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
                let event = match &feed {
                    Feed::Generate => Event::new(
                        stream.event_time(seq).unwrap_or(0) as EventTime,
                        stream.record(seq),
                    ),
                    Feed::Replay(block) => {
                        let e = block.events[(seq % BLOCK) as usize];
                        Event::new(e.time + (seq / BLOCK) as EventTime * block.span, e.data)
                    }
                };
                last = event.time;
                input.send(event);
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
        group.bench_function(query.name(), |b| {
            b.iter_custom(|iters| drive(iters, query, Feed::Generate))
        });
    }
    group.finish();
}

/// The queries that join nothing on ids, fed from a pre-generated block: the query's cost without
/// the generator's.
fn replayed(c: &mut Criterion) {
    let block = Arc::new(Block::new());
    let mut group = c.benchmark_group("nexmark_replayed");
    group.throughput(Throughput::Elements(EPOCH));
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(4));
    for query in [
        Query::Q0,
        Query::Q1,
        Query::Q2,
        Query::Q5,
        Query::Q7,
        Query::Q11,
        Query::Q12,
    ] {
        let feed = Feed::Replay(block.clone());
        group.bench_function(query.name(), |b| {
            b.iter_custom(|iters| drive(iters, query, feed.clone()))
        });
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
    println!(
        "  q5 stage 1 (sliding count) per auction: {} (+ 16 per open pane, 8 per pending window)",
        size_of::<FixedWindowState<u64>>()
    );
    println!(
        "  q11 per session (in the key's vector of sessions): {}",
        size_of::<Session<u64>>()
    );
}

fn main() {
    state_sizes();
    let mut c = Criterion::default().configure_from_args();
    generator(&mut c);
    queries(&mut c);
    replayed(&mut c);
    c.final_summary();
}
