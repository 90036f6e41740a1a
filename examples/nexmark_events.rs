//! The first events of Caudal's NEXMark stream as JSON lines, in the form the Flink driver's
//! `--events` mode prints the nexmark-flink suite's (`peers/flink/CaudalNexmark.java`), so that the
//! two generators can be put side by side (`scripts/nexmark-events-vs-flink.sh`).
//!
//! cargo run --example nexmark_events -- [EVENTS] [TPS] [FIRST_EVENT_ID] [FIRST_EVENT_NUMBER] [BASE_TIME]
//!
//! Defaults: 300 events, 10,000 events per second of event time, and the rest of NEXMark's default
//! configuration (first event id and number 0, base time 0). Flink's connector starts at event id 1
//! and event number 1 (`NexmarkTableSourceFactory`), so `-- 300 10000000 1 1` is the closest stream.

use caudal::workload::nexmark::{Nexmark, NexmarkConfig, NexmarkEvent};
use caudal::workload::Workload;
use serde_json::json;

fn arg(args: &[String], i: usize, default: u64) -> u64 {
    args.get(i).map_or(default, |a| {
        a.parse().unwrap_or_else(|_| {
            eprintln!("usage: cargo run --example nexmark_events -- [EVENTS] [TPS] [FIRST_EVENT_ID] [FIRST_EVENT_NUMBER] [BASE_TIME]\n  every argument is a count, not `{a}`");
            std::process::exit(2)
        })
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let events = arg(&args, 0, 300);
    let tps = arg(&args, 1, 10_000).max(1);
    let stream = Nexmark::new(NexmarkConfig {
        first_rate: tps,
        next_rate: tps,
        first_event_id: arg(&args, 2, 0),
        first_event_number: arg(&args, 3, 0),
        base_time: arg(&args, 4, 0),
        ..NexmarkConfig::default()
    });
    for seq in 0..events {
        let line = match stream.record(seq) {
            NexmarkEvent::Person(p) => json!({"person": {
                "id": p.id, "name": p.name.full(), "city": p.city_name(),
                "state": p.state_name(), "date_time": p.date_time,
            }}),
            NexmarkEvent::Auction(a) => json!({"auction": {
                "id": a.id, "initial_bid": a.initial_bid, "reserve": a.reserve,
                "date_time": a.date_time, "expires": a.expires, "seller": a.seller,
                "category": a.category,
            }}),
            NexmarkEvent::Bid(b) => json!({"bid": {
                "auction": b.auction, "bidder": b.bidder, "price": b.price,
                "channel": b.channel.name(), "date_time": b.date_time,
            }}),
        };
        println!("{line}");
    }
}
