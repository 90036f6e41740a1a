//! Lecture example (c): `window(2, 2)` and `window(2, 1)` over the same queue of batches (lengths and
//! slides in batch intervals of 1 s). window(2, 1) fires every batch, the first window holding batch 0
//! alone; window(2, 2) fires at batches 1, 3, 5, ...; after the input ends both drain, then stay empty.
//! The output is Spark's (tests/conformance/dstream-lecture/lecture_c_window_2_*.jsonl).
//!
//! cargo run --example dstream_windows

use std::time::Duration;

use caudal::dstream::{RddQueue, StreamingContext};

fn main() {
    let input = || -> RddQueue<i64> {
        [
            vec![vec![1, 2, 3], vec![4, 5]],
            vec![vec![6, 7, 8], vec![9]],
            vec![vec![10, 11]],
            vec![vec![12], vec![13, 14, 15]],
        ]
        .into_iter()
        .collect()
    };
    let second = Duration::from_secs(1);
    for (length, slide, batches) in [(2, 2, 8), (2, 1, 7)] {
        println!("===== window({length}, {slide}) =====");
        let ssc = StreamingContext::manual(second);
        let queue = input();
        ssc.start(move |ssc| {
            ssc.queue_stream(&queue)
                .window(second * length, second * slide)
                .pprint(20);
        })
        .expect("the program starts");
        ssc.advance(batches).expect("the batches run");
        ssc.stop(true).expect("a clean stop");
    }
}
