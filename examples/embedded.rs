//! Embedding Caudal in an application: push records in from the application's thread, receive results
//! through a channel, and measure what an idle pipeline costs.
//!
//! Run with `cargo run --release --example embedded`. It prints the round-trip latency of a few pushes
//! and the CPU the process used while the pipeline sat idle for three seconds, for each idle strategy.

use std::time::{Duration, Instant};

use caudal::prelude::*;
use caudal::system::process_cpu_seconds;

/// Readings in, alerts out: a sensor's reading above 30 °C, with the sensor's running maximum.
fn alerts(readings: EventStream<'_, (u32, f64)>) -> EventStream<'_, (u32, f64)> {
    readings
        .running_reduce(|a, b| a.max(*b))
        .filter(|(_, max)| *max > 30.0)
}

fn try_strategy(name: &str, idle: IdleStrategy) {
    let config = RunConfig {
        idle,
        ..RunConfig::default()
    };
    let mut app = Embedded::start(config, alerts).expect("the pipeline starts");

    // A few round trips: push a hot reading, wait for its alert.
    let mut round_trips = Vec::new();
    for i in 0..25u32 {
        let sent = Instant::now();
        app.input
            .push_at(i as EventTime, (i, 31.5 + i as f64))
            .expect("the pipeline is running");
        let alert = app.output.recv().expect("an alert comes back");
        round_trips.push(sent.elapsed());
        assert_eq!(alert.data, (i, 31.5 + i as f64));
        std::thread::sleep(Duration::from_millis(5));
    }

    // Leave it idle and see what it costs.
    let idle_for = Duration::from_secs(3);
    let cpu_before = process_cpu_seconds();
    std::thread::sleep(idle_for);
    let idle_cpu = (process_cpu_seconds() - cpu_before) / idle_for.as_secs_f64();

    let report = app.finish().expect("the pipeline ends cleanly");
    round_trips.sort();
    println!(
        "{name:<28} round trip median {:>8.1?}   idle CPU {:>6.2}% of a core   ({} records in, {} alerts out)",
        round_trips[round_trips.len() / 2],
        idle_cpu * 100.0,
        report.sources[0].records,
        report.sinks[0].records
    );
}

fn main() {
    try_strategy(
        "spin 50 µs, then park",
        IdleStrategy::SpinThenPark(Duration::from_micros(50)),
    );
    try_strategy("busy spin", IdleStrategy::BusySpin);
}
