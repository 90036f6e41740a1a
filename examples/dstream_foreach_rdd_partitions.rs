//! The lecture's `printRDD`: `foreachRDD` with access to each batch's partitions, printing them one by
//! one, before and after a `reduceByKey` (which places keys by hash into 2 partitions).
//!
//! ```python
//! def printRDD(time, rdd):
//!     print(time, rdd.glom().collect())
//! pairs.foreachRDD(printRDD)
//! ```
//!
//! cargo run --example dstream_foreach_rdd_partitions

use std::time::Duration;

use caudal::dstream::{RddQueue, StreamingContext};

fn main() {
    let ssc = StreamingContext::manual(Duration::from_secs(1));
    let queue: RddQueue<(i64, i64)> = [
        vec![
            vec![(1999, 7), (2000, 3)],
            vec![(1999, 4), (2001, 1)],
            vec![(2000, 1)],
        ],
        vec![vec![(2002, 5)]],
    ]
    .into_iter()
    .collect();
    ssc.start(move |ssc| {
        let pairs = ssc.queue_stream(&queue);
        let print_rdd = |what: &'static str| {
            move |time: caudal::dstream::BatchTime, rdd: &caudal::dstream::Rdd<(i64, i64)>| {
                println!("{what} at {}:", time.format(true));
                for (i, partition) in rdd.partitions().enumerate() {
                    println!("  partition {i}: {partition:?}");
                }
            }
        };
        pairs.foreach_rdd(print_rdd("input"));
        pairs
            .reduce_by_key(|a, b| a + b)
            .foreach_rdd(print_rdd("reduceByKey(+)"));
    })
    .expect("the program starts");
    ssc.advance(2).expect("two batches run");
    ssc.stop(true).expect("a clean stop");
}
