//! One NEXMark query through the whole runtime (generator source, execution mode, sink), closed loop:
//! the events go in as fast as the pipeline takes them, and it prints the events per second and how
//! many results came out.
//!
//! cargo run --release --example nexmark -- [QUERY] [EVENTS] [WORKERS] [MODE] [TPS]
//!
//! Defaults: `q5`, 10,000,000 events, 1 worker, `per-record`, and NEXMark's default configuration,
//! 10,000 events per second of event time (`TPS`; Flink's NEXMark suite runs at 10,000,000, which
//! `scripts/nexmark-vs-flink.sh` uses for both). Batch mode holds its whole input, so keep it under
//! about 7M events (the default hold budget, 512 MiB). Besides events per second, it prints the
//! process's CPU time over the run and the events per CPU-second.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use caudal::nexmark::Query;
use caudal::prelude::*;
use caudal::system::process_cpu_seconds;
use caudal::workload::nexmark::{Nexmark, NexmarkConfig};

/// Says what is wrong with the arguments and how to call the example, and exits.
fn usage(problem: &str) -> ! {
    eprintln!("{problem}\nusage: cargo run --release --example nexmark -- [QUERY] [EVENTS] [WORKERS] [MODE] [TPS]\n  QUERY q0 to q8, q11 or q12 (default q5); EVENTS a count (10000000); WORKERS 1 or more (1);\n  MODE per-record, micro-batch:INTERVAL or batch (per-record);\n  TPS events per second of event time, 1 or more (10000)");
    std::process::exit(2)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let query: Query = args
        .next()
        .map_or(Ok(Query::Q5), |q| q.parse())
        .unwrap_or_else(|e| usage(&e.to_string()));
    let events: u64 = args.next().map_or(10_000_000, |n| {
        n.parse()
            .unwrap_or_else(|_| usage(&format!("EVENTS must be a count, not `{n}`")))
    });
    let workers: usize = args.next().map_or(1, |n| match n.parse() {
        Ok(w) if w > 0 => w,
        _ => usage(&format!("WORKERS must be 1 or more, not `{n}`")),
    });
    let mode: ExecutionMode = args
        .next()
        .map_or(Ok(ExecutionMode::PerRecord), |m| m.parse())
        .unwrap_or_else(|e| usage(&e.to_string()));

    let tps: u64 = args.next().map_or(10_000, |n| match n.parse() {
        Ok(t) if t > 0 => t,
        _ => usage(&format!(
            "TPS must be 1 or more events per second, not `{n}`"
        )),
    });

    let source = GeneratorFactory::new(
        Nexmark::new(NexmarkConfig {
            first_rate: tps,
            next_rate: tps,
            ..NexmarkConfig::default()
        }),
        GeneratorConfig {
            limit: Some(events),
            ..Default::default()
        },
    );
    let results = Arc::new(AtomicU64::new(0));
    let counted = results.clone();
    let sink = MessageCallback::new(move |_, records| {
        counted.fetch_add(records.len() as u64, Ordering::Relaxed);
    });
    let started = Instant::now();
    let cpu_before = process_cpu_seconds();
    caudal::run(RunConfig::new(mode).workers(workers), move |df| {
        let events = df.source("nexmark", &source);
        let results = query.build(events);
        df.sink("results", results, &sink);
    })
    .unwrap_or_else(|e| {
        // Batch mode holds the whole input: past its hold budget (512 MiB, about 7M events) it
        // stops and says so.
        eprintln!("{e}");
        std::process::exit(1)
    });
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = process_cpu_seconds() - cpu_before;
    println!(
        "{query} {mode} on {workers} worker(s): {events} events in {elapsed:.3} s = {:.2}M events/s, {cpu:.3} CPU s = {:.2}M events per CPU-second, {} results",
        events as f64 / elapsed / 1e6,
        events as f64 / cpu.max(1e-9) / 1e6,
        results.load(Ordering::Relaxed)
    );
}
