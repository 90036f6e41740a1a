//! How often each value occurred over the last 2 batches, every batch: `countByValueAndWindow`
//! (incremental, through an inverse; values whose count drops to 0 disappear).
//!
//! cargo run --example dstream_count_by_value_and_window

use std::time::Duration;

use caudal::dstream::{RddQueue, StreamingContext};

fn main() {
    let second = Duration::from_secs(1);
    let ssc = StreamingContext::manual(second);
    // Windows keep their batches in checkpointable state, so they hold owned data (`String`, not `&str`).
    let batches = [
        vec![vec!["red", "blue"], vec!["red"]],
        vec![vec!["green"]],
        vec![vec!["blue", "blue"]],
    ];
    let queue: RddQueue<String> = batches
        .into_iter()
        .map(|batch| {
            batch
                .into_iter()
                .map(|part| part.into_iter().map(String::from).collect::<Vec<_>>())
                .collect::<Vec<_>>()
        })
        .collect();
    ssc.start(move |ssc| {
        ssc.queue_stream(&queue)
            .count_by_value_and_window(second * 2, second)
            .pprint(10);
    })
    .expect("the program starts");
    ssc.advance(5).expect("five batches run");
    ssc.stop(true).expect("a clean stop");
}
