//! The watermark is timely's frontier: sources move it, and an idle source stops holding it back.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use caudal::prelude::*;
use timely::dataflow::operators::Inspect;

/// Worker 0 reads its events and then waits forever; the other workers never read anything.
struct SilentAfter {
    events: Vec<Event<u64>>,
}

impl Source for SilentAfter {
    type Item = u64;
    fn poll(&mut self, out: &mut Vec<Event<u64>>, _budget: usize) -> Poll {
        out.append(&mut self.events);
        Poll::Pending { wake_at: None }
    }
    fn offset(&self) -> u64 {
        0
    }
}

/// The highest frontier the stream reached in 400 ms, before the run was stopped, when worker 0 reads
/// events at 0..100 ms.
fn highest_frontier(idle_timeout: Option<Duration>, watermark: WatermarkStrategy) -> EventTime {
    highest_frontier_of(0..100, idle_timeout, watermark)
}

/// The highest frontier the stream reached in 400 ms when worker 0 reads events at `times`
/// (`EventTime::MIN`, timely's minimum, if it never moved).
fn highest_frontier_of(
    times: std::ops::Range<EventTime>,
    idle_timeout: Option<Duration>,
    watermark: WatermarkStrategy,
) -> EventTime {
    let source = move |w: WorkerInfo| -> Box<dyn Source<Item = u64>> {
        let events = if w.index == 0 {
            times.clone().map(|t| Event::new(t, t as u64)).collect()
        } else {
            Vec::new()
        };
        Box::new(SilentAfter { events })
    };
    let frontiers = Arc::new(Mutex::new(Vec::new()));
    let seen = frontiers.clone();
    let config = RunConfig {
        idle_timeout,
        ..RunConfig::new(ExecutionMode::PerRecord)
            .workers(2)
            .watermark(watermark)
    };
    let running = caudal::launch(config, move |df| {
        let seen = seen.clone();
        let stream = df
            .source("silent", &source)
            .inner
            .inspect_core(move |event| {
                if let Err(frontier) = event {
                    seen.lock().unwrap().extend(frontier.iter().copied());
                }
            });
        df.sink("out", EventStream::new(stream), &Collect::new());
    })
    .unwrap();
    std::thread::sleep(Duration::from_millis(400));
    // Read before stopping: when the sources end, the frontier passes through whatever they held.
    let highest = frontiers
        .lock()
        .unwrap()
        .iter()
        .copied()
        .max()
        .unwrap_or(EventTime::MIN);
    running.stop_flag().stop();
    running.join().unwrap();
    highest
}

#[test]
fn a_silent_worker_holds_the_watermark_back() {
    // At timely's minimum: nothing is complete, so a record at any time, before 1970 too, is on time.
    assert_eq!(
        highest_frontier(None, WatermarkStrategy::Monotonic),
        EventTime::MIN
    );
}

#[test]
fn an_idle_source_lets_the_watermark_advance() {
    // Monotonic: the frontier is the highest event time seen (watermark 98, frontier 99).
    assert_eq!(
        highest_frontier(
            Some(Duration::from_millis(20)),
            WatermarkStrategy::Monotonic
        ),
        99
    );
}

#[test]
fn bounded_out_of_orderness_keeps_the_frontier_behind_the_records() {
    // Watermark = 99 - 10 - 1 = 88, frontier 89.
    let strategy = WatermarkStrategy::BoundedOutOfOrderness { max_delay_ms: 10 };
    assert_eq!(
        highest_frontier(Some(Duration::from_millis(20)), strategy),
        89
    );
}

#[test]
fn the_watermark_follows_records_before_1970() {
    // Events at -1000..-900: monotonic, the frontier is the highest event time seen (-901).
    assert_eq!(
        highest_frontier_of(
            -1000..-900,
            Some(Duration::from_millis(20)),
            WatermarkStrategy::Monotonic
        ),
        -901
    );
    // Bounded by 10 ms: watermark = -901 - 10 - 1 = -912, frontier -911.
    let strategy = WatermarkStrategy::BoundedOutOfOrderness { max_delay_ms: 10 };
    assert_eq!(
        highest_frontier_of(-1000..-900, Some(Duration::from_millis(20)), strategy),
        -911
    );
    // Across 1970: events at -50..50 put the frontier at 49 - 10 = 39.
    assert_eq!(
        highest_frontier_of(-50..50, Some(Duration::from_millis(20)), strategy),
        39
    );
}
