//! An application pushing records into a pipeline under a delivery guarantee: a channel cannot send
//! its input again, so it is made with `durable_channel`, whose sources log what they are sent before
//! it enters the dataflow; a run resumed after a crash replays that log from its checkpoint.
//!
//! ```text
//! cargo run --release --example durable_channel -- CHECKPOINT_DIR FIRST COUNT
//! ```
//!
//! pushes the numbers `FIRST..FIRST+COUNT` (20,000 a second), and prints `n NNNNNN` for each as it
//! comes out of the pipeline (at-least-once: results are written as they come). Kill it (`kill -9`)
//! and start it again with the same directory and other numbers: it first prints again the numbers
//! the killed run had taken in since its last checkpoint, then the new ones.

use std::time::{Duration, Instant};

use caudal::checkpoint::{CheckpointConfig, Guarantee};
use caudal::operators::WatermarkStrategy;
use caudal::prelude::*;
use caudal::sink::{Format, Print};
use caudal::source::channel::durable_channel;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, first, count] = args.as_slice() else {
        eprintln!("usage: durable_channel CHECKPOINT_DIR FIRST COUNT");
        std::process::exit(2);
    };
    let (Ok(first), Ok(count)) = (first.parse::<u64>(), count.parse::<u64>()) else {
        eprintln!("FIRST and COUNT are whole numbers");
        std::process::exit(2);
    };
    let checkpoints = CheckpointConfig::new(Guarantee::AtLeastOnce, dir, "durable-channel")
        .interval(Duration::from_millis(100));
    // Records are stamped as they arrive, so the watermark (and with it the checkpoints' cut) moves.
    let config = RunConfig::default()
        .watermark(WatermarkStrategy::ProcessingTime)
        .checkpoints(checkpoints);
    let (mut pusher, sources) = durable_channel::<u64>(config.workers);
    let sink = Print::new(Format::text());
    let running = caudal::launch(config, move |df| {
        let numbers = df.source("numbers", &sources);
        df.sink("printed", numbers.map(|n| format!("n {n:06}")), &sink);
    })
    .unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(1);
    });
    if let Some(manifest) = running.resumed_from() {
        eprintln!("resuming from checkpoint {}", manifest.epoch);
    }
    let started = Instant::now();
    for (i, n) in (first..first + count).enumerate() {
        // Paced: number i goes at i / 20,000 s after the start.
        let due = started + Duration::from_micros(i as u64 * 50);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        if pusher.push(n).is_err() {
            break;
        }
    }
    drop(pusher);
    match running.join() {
        Ok(report) => eprint!("{report}"),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
