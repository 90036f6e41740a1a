//! Caudal's NEXMark events as a file of Flink's `datagen` table, and Caudal's results of queries on
//! them as Flink's rows, for `scripts/nexmark-results-vs-flink.sh`, which runs the suite's SQL on the
//! same file (`CaudalNexmark --results`) and compares.
//!
//! cargo run --example nexmark_flink_results -- EVENTS TPS DIR QUERY...
//!
//! Writes DIR/events.json (the first EVENTS events at TPS events per second of event time, from time
//! 0, NEXMark's default configuration otherwise) and, per query, DIR/QUERY.caudal: one JSON line per
//! result, `{"op": "+I", "row": [...]}`, as the Flink driver prints its rows
//! (`caudal::nexmark::flink`).
//!
//! Two variables change the stream and the run: `NEXMARK_OUT_OF_ORDER=N` shuffles the events in
//! groups of N (the generator's `out_of_order_group_size`; 1, in order, by default), and
//! `CAUDAL_WATERMARK_DELAY_MS=MS` gives Caudal's run a watermark MS behind the highest time seen
//! (bounded out-of-orderness; the suite's tables have 4000) instead of its default, monotonic one.

use caudal::nexmark::flink::{caudal_rows_in, datagen_file};
use caudal::nexmark::Query;
use caudal::workload::nexmark::NexmarkConfig;
use serde_json::json;

fn usage(problem: &str) -> ! {
    eprintln!(
        "{problem}\nusage: cargo run --example nexmark_flink_results -- EVENTS TPS DIR QUERY..."
    );
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        usage("EVENTS, TPS and DIR are needed");
    }
    let count = |a: &String| -> u64 {
        a.parse()
            .unwrap_or_else(|_| usage(&format!("EVENTS and TPS are counts, not `{a}`")))
    };
    let events = count(&args[0]);
    let tps = count(&args[1]).max(1);
    let dir = std::path::Path::new(&args[2]);
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let config = NexmarkConfig {
        first_rate: tps,
        next_rate: tps,
        out_of_order_group_size: env("NEXMARK_OUT_OF_ORDER").unwrap_or(1).max(1),
        ..NexmarkConfig::default()
    };
    let mut run = caudal::RunConfig::default();
    if let Some(ms) = env("CAUDAL_WATERMARK_DELAY_MS") {
        run = run.watermark(
            caudal::operators::WatermarkStrategy::BoundedOutOfOrderness {
                max_delay_ms: ms as _,
            },
        );
    }
    std::fs::create_dir_all(dir).expect("DIR can be made");
    std::fs::write(dir.join("events.json"), datagen_file(&config, events)).expect("writes events");
    for name in &args[3..] {
        let query: Query = name.parse().unwrap_or_else(|e: String| usage(&e));
        let mut out = String::new();
        for row in caudal_rows_in(run.clone(), query, &config, events) {
            out.push_str(&json!({"op": "+I", "row": row}).to_string());
            out.push('\n');
        }
        std::fs::write(dir.join(format!("{name}.caudal")), out).expect("writes results");
    }
}
