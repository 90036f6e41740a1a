//! Window result latency and state memory, with 100,000 open keys on one worker.
//!
//! Latency: the time from the watermark passing a window's end (the input advancing) to the window's
//! result reaching the sink (an `inspect` just after the operator), per result, in an HDR histogram.
//! * `staggered`: 100,000 session keys whose sessions end 10 per millisecond; the watermark moves 1 ms at
//!   a time, so each step fires about ten windows among 100,000 open ones;
//! * `aligned`: 100,000 tumbling windows that all end at the same instant; one step fires them all, so
//!   the latency of the last result is the time to emit 100,000 results.
//!
//! Memory: live heap bytes (a counting allocator) per open key, for each window kind, after one record
//! per key (and, for sliding windows, one record in each of 5 panes).
//!
//! Run with `cargo bench --bench window_latency`; it prints a table. Timings are shown, never asserted.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Instant;

use caudal::operators::budget::WorkBudget;
use caudal::operators::stream::EventInput;
use caudal::prelude::*;
use hdrhistogram::Histogram;
use timely::dataflow::operators::{Input, Probe};
use timely::dataflow::ProbeHandle;

/// Counts live heap bytes.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const KEYS: u64 = 100_000;

/// Feeds `records` (key, time) at frontier 0, steps until processed, then advances the watermark step by
/// step to `until`, and steps until one result per key has come (a budgeted burst takes several
/// activations); returns the latency histogram (ns) of every result.
fn latency<O: 'static>(
    records: Vec<(u64, EventTime)>,
    steps: Vec<EventTime>,
    budget: WorkBudget,
    build: impl for<'s> Fn(EventStream<'s, (u64, u64)>) -> EventStream<'s, O> + Send + Sync + 'static,
) -> Histogram<u64> {
    let mut config = timely::Config::thread();
    budget.install(&mut config);
    let result = std::sync::Arc::new(std::sync::Mutex::new(None));
    let slot = result.clone();
    timely::execute(config, move |worker| {
        let records = records.clone();
        let steps = steps.clone();
        let mut input: EventInput<(u64, u64)> = EventInput::new();
        let probe = ProbeHandle::new();
        let advanced_at: Rc<RefCell<Instant>> = Rc::new(RefCell::new(Instant::now()));
        let histogram = Rc::new(RefCell::new(
            Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap(),
        ));
        let (at, h) = (advanced_at.clone(), histogram.clone());
        worker.dataflow::<EventTime, _, _>(|scope| {
            let results = build(EventStream::new(scope.input_from(&mut input)));
            results
                .inspect(move |_| {
                    let ns = at.borrow().elapsed().as_nanos() as u64;
                    h.borrow_mut().saturating_record(ns.max(1));
                })
                .inner
                .probe_with(&probe);
        });
        for (key, time) in records {
            input.send(Event::new(time, (key, key)));
        }
        input.advance_to(1);
        worker.step_while(|| probe.less_than(input.time()));
        histogram.borrow_mut().reset();
        for frontier in steps {
            *advanced_at.borrow_mut() = Instant::now();
            input.advance_to(frontier);
            worker.step_while(|| probe.less_than(input.time()));
        }
        worker.step_while(|| histogram.borrow().len() < KEYS);
        *slot.lock().unwrap() = Some(histogram.borrow().clone());
    })
    .unwrap()
    .join();
    let h = result.lock().unwrap().take().unwrap();
    h
}

/// Live heap bytes per key once `records` have been processed by the operator `build` makes.
fn memory_per_key<O: 'static>(
    records: Vec<(u64, EventTime)>,
    build: impl for<'s> FnOnce(EventStream<'s, (u64, u64)>) -> EventStream<'s, O>
        + Send
        + Sync
        + 'static,
) -> f64 {
    timely::execute_directly(move |worker| {
        let mut input: EventInput<(u64, u64)> = EventInput::new();
        let probe = ProbeHandle::new();
        worker.dataflow::<EventTime, _, _>(|scope| {
            build(EventStream::new(scope.input_from(&mut input)))
                .inner
                .probe_with(&probe);
        });
        // Warm up the dataflow's own buffers, then measure what the records add.
        input.advance_to(1);
        worker.step_while(|| probe.less_than(input.time()));
        let before = LIVE.load(Ordering::Relaxed);
        let keys = records.iter().map(|r| r.0).max().map_or(1, |m| m + 1);
        for (key, time) in records {
            input.send(Event::new(time, (key, key)));
        }
        input.advance_to(2);
        worker.step_while(|| probe.less_than(input.time()));
        (LIVE.load(Ordering::Relaxed) - before) as f64 / keys as f64
    })
}

fn us(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1e3
}

fn main() {
    // Staggered: key k's session (gap 1 s) starts at k / 10 ms, so ten sessions end per millisecond.
    let staggered: Vec<(u64, EventTime)> =
        (0..KEYS).map(|k| (k, 2 + (k / 10) as EventTime)).collect();
    let h = latency(
        staggered,
        (1002..1002 + KEYS as EventTime / 10).collect(),
        WorkBudget::DEFAULT,
        |s| s.session_window(1000, 0, Count).0,
    );
    println!("window result latency, 100,000 open keys, one worker (µs from the watermark passing the end to the sink)");
    println!("  staggered sessions (about 10 fire per 1 ms watermark step): p50 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}  ({} results)", us(&h, 0.5), us(&h, 0.99), us(&h, 0.999), h.max() as f64 / 1e3, h.len());

    // Aligned: every key's tumbling window [0, 1000) ends at once.
    let aligned: Vec<(u64, EventTime)> =
        (0..KEYS).map(|k| (k, 2 + (k % 900) as EventTime)).collect();
    for budget in [WorkBudget::DEFAULT, WorkBudget::unbounded()] {
        let h = latency(aligned.clone(), vec![1000], budget, |s| {
            s.window(TimeWindows::tumbling(1000, 0).unwrap(), 0, Count)
                .0
        });
        println!("  aligned tumbling (all 100,000 fire at one step), budget {budget:>9}: p50 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1} (the whole burst)  ({} results)", us(&h, 0.5), us(&h, 0.99), us(&h, 0.999), h.max() as f64 / 1e3, h.len());
    }

    println!("state memory per open key (live heap bytes, 100,000 keys)");
    let one_each: Vec<(u64, EventTime)> = (0..KEYS).map(|k| (k, 10)).collect();
    let tumbling = memory_per_key(one_each.clone(), |s| {
        s.window(TimeWindows::tumbling(1000, 0).unwrap(), 0, Count)
            .0
    });
    let five_panes: Vec<(u64, EventTime)> = (0..KEYS)
        .flat_map(|k| (0..5).map(move |p| (k, 10 + p * 2000)))
        .collect();
    let sliding = memory_per_key(five_panes, |s| {
        s.window(TimeWindows::sliding(10_000, 2_000, 0).unwrap(), 0, Sum)
            .0
    });
    let session = memory_per_key(one_each.clone(), |s| s.session_window(10_000, 0, Count).0);
    let join = memory_per_key(one_each, |s| {
        let right = s.clone();
        s.window_join(
            right,
            TimeWindows::tumbling(1000, 0).unwrap(),
            0,
            JoinKind::Inner,
        )
        .0
    });
    println!("  tumbling count, 1 record:                {tumbling:.0} B");
    println!("  sliding 10 s / 2 s sum, 5 panes:         {sliding:.0} B");
    println!("  session count, 1 record:                 {session:.0} B");
    println!("  tumbling join, 1 record on each side:    {join:.0} B");
}
