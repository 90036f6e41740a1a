//! Word counts over the last 3 batches, every batch, with `reduceByKeyAndWindow` and its inverse: each
//! window is the previous one plus the batch that enters minus the batch that leaves. Words whose count
//! went back to 0 stay (with 0), as in Spark, unless a filter drops them; both are shown.
//!
//! ```python
//! counts = words.map(lambda w: (w, 1)).reduceByKeyAndWindow(add, sub, 3, 1)
//! ```
//!
//! cargo run --example dstream_reduce_by_key_and_window

use std::time::Duration;

use caudal::dstream::{RddQueue, StreamingContext};

fn main() {
    let second = Duration::from_secs(1);
    let ssc = StreamingContext::manual(second);
    let queue: RddQueue<String> = ["the cat", "the dog", "a bird", "", ""]
        .into_iter()
        .map(|line| vec![vec![line.to_string()]])
        .collect();
    ssc.start(move |ssc| {
        let pairs = ssc
            .queue_stream(&queue)
            .flat_map(|line| {
                line.split_whitespace()
                    .map(String::from)
                    .collect::<Vec<_>>()
            })
            .map(|word| (word, 1i64));
        let add = |a, b| a + b;
        let sub = |a, b| a - b;
        println!("(the first of each pair of prints keeps zero counts, the second filters them)");
        pairs
            .reduce_by_key_and_window_inverse(add, sub, second * 3, second, None)
            .pprint(10);
        pairs
            .reduce_by_key_and_window_inverse(
                add,
                sub,
                second * 3,
                second,
                Some(Box::new(|(_, count): &(String, i64)| *count != 0)),
            )
            .pprint(10);
    })
    .expect("the program starts");
    ssc.advance(6).expect("six batches run");
    ssc.stop(true).expect("a clean stop");
}
