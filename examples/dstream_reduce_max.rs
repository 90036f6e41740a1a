//! Lecture example (a): the maximum of each batch with `reduce(max)`; after the queue runs dry, the
//! empty batches reduce to nothing. The output is Spark's, line for line
//! (tests/conformance/dstream-lecture/lecture_a_reduce_max.jsonl).
//!
//! cargo run --example dstream_reduce_max

use std::time::Duration;

use caudal::dstream::{RddQueue, StreamingContext};

fn main() {
    let ssc = StreamingContext::manual(Duration::from_secs(1));
    let queue: RddQueue<i64> = [
        vec![vec![4, 2], vec![7, 15, 4]],
        vec![vec![2, 3, 16], vec![3]],
    ]
    .into_iter()
    .collect();
    ssc.start(move |ssc| {
        ssc.queue_stream(&queue).reduce(|a, b| a.max(b)).pprint(10);
    })
    .expect("the program starts");
    ssc.advance(4).expect("four batches run");
    ssc.stop(true).expect("a clean stop");
}
