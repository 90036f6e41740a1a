//! How much state each stateful NEXMark query keeps per key: every keyed operator's keys and bytes
//! ([`StateRegistry::footprint`]), sampled as the events go through, at the sample where the operator
//! held the most keys.
//!
//! cargo run --release --example nexmark_state -- [EVENTS]
//!
//! One worker, per record, closed loop, NEXMark's default configuration (10,000 events per second of
//! event time, so a 10 s window holds 100,000 events); EVENTS defaults to 2,000,000 (200 s of event
//! time). Two sizes per key: serialized (bincode, as a checkpoint stores it: the key and everything its
//! state holds, heap parts included) and the hash table's own slot (key and inline state, and a control
//! byte, times the table's capacity, over the keys: what the table costs before the heap parts).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use caudal::nexmark::Query;
use caudal::operators::shell::{Footprint, StateRegistry};
use caudal::prelude::*;
use caudal::workload::nexmark::Nexmark;

/// Events between two samples.
const EVERY: u64 = 50_000;

fn main() {
    let events: u64 = match std::env::args().nth(1) {
        None => 2_000_000,
        Some(n) => n.parse().unwrap_or_else(|_| {
            eprintln!("EVENTS must be a count, not `{n}`\nusage: cargo run --release --example nexmark_state -- [EVENTS]");
            std::process::exit(2)
        }),
    };
    println!(
        "NEXMark, {events} events, 1 worker, per record; each keyed operator at its most keys"
    );
    println!();
    println!("| query | operator | keys | serialized bytes per key | table bytes per key |");
    println!("|---|---|---|---|---|");
    for query in Query::ALL.into_iter().filter(|q| q.keeps_state()) {
        // Each operator's sample with the most keys.
        let largest: Arc<Mutex<BTreeMap<String, Footprint>>> = Default::default();
        let record = largest.clone();
        let source = GeneratorFactory::new(
            Nexmark::default(),
            GeneratorConfig {
                limit: Some(events),
                ..Default::default()
            },
        );
        let sink = MessageCallback::new(|_, _: &[_]| {});
        caudal::run(RunConfig::new(ExecutionMode::PerRecord), move |df| {
            let mut seen = 0u64;
            let record = record.clone();
            // Sampled on the worker's thread, between two activations of the query's operators.
            let events = df.source("nexmark", &source).map(move |e| {
                seen += 1;
                if seen.is_multiple_of(EVERY) {
                    let mut largest = record.lock().unwrap_or_else(|e| e.into_inner());
                    for (id, now) in StateRegistry::current().footprint() {
                        let best = largest.entry(id.to_string()).or_default();
                        if now.keys > best.keys {
                            *best = now;
                        }
                    }
                }
                e
            });
            df.sink("results", query.build(events), &sink);
        })
        .unwrap_or_else(|e| {
            eprintln!("{query}: {e}");
            std::process::exit(1)
        });
        for (operator, f) in largest.lock().unwrap().iter() {
            println!(
                "| {query} | {operator} | {} | {:.1} | {:.1} |",
                f.keys,
                f.serialized_per_key(),
                f.table_per_key()
            );
        }
    }
}
