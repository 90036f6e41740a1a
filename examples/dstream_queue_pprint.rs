//! A queue stream printed with `pprint`: each queued batch is one batch interval's input; when the
//! queue runs dry, batches are empty (`pprint` still prints their header).
//!
//! ```python
//! rdds = [sc.parallelize(range(i * 5, i * 5 + 5), 2) for i in range(3)]
//! ssc.queueStream(rdds).map(lambda x: (x, x * x)).pprint(3)
//! ```
//!
//! cargo run --example dstream_queue_pprint

use std::time::Duration;

use caudal::dstream::{Rdd, RddQueue, StreamingContext};

fn main() {
    let ssc = StreamingContext::manual(Duration::from_secs(1));
    let queue = RddQueue::new();
    for i in 0..3 {
        queue.push(Rdd::parallelize((i * 5..i * 5 + 5).collect(), 2));
    }
    ssc.start(move |ssc| {
        ssc.queue_stream(&queue).map(|x: i64| (x, x * x)).pprint(3);
    })
    .expect("the program starts");
    // The manual clock: run four batches, one more than the queue holds.
    ssc.advance(4).expect("four batches run");
    ssc.stop(true).expect("a clean stop");
}
