//! The union of two queue streams (two receivers): each batch holds the first stream's partitions,
//! then the second's, shown by `glom` (one list per partition).
//!
//! ```python
//! ssc.union(ssc.queueStream(a), ssc.queueStream(b)).glom().pprint()
//! ```
//!
//! cargo run --example dstream_union

use std::time::Duration;

use caudal::dstream::{RddQueue, StreamingContext};

fn main() {
    let ssc = StreamingContext::manual(Duration::from_secs(1));
    let first: RddQueue<i64> = [vec![vec![1, 2], vec![3]], vec![vec![4]]]
        .into_iter()
        .collect();
    let second: RddQueue<i64> = [vec![vec![100]], vec![vec![200, 300]]]
        .into_iter()
        .collect();
    ssc.start(move |ssc| {
        let a = ssc.queue_stream(&first);
        let b = ssc.queue_stream(&second);
        ssc.union(&[a, b]).glom().pprint(10);
    })
    .expect("the program starts");
    ssc.advance(3).expect("three batches run");
    ssc.stop(true).expect("a clean stop");
}
