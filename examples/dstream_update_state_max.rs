//! Lecture example (b): the maximum value seen so far per key with `updateStateByKey`. Every key's
//! state is printed every batch, also keys absent from the batch and after the input ends; keys are
//! placed by hash (mod 2), so `(2000, ..)` prints before `(1999, ..)`, as in Spark
//! (tests/conformance/dstream-lecture/lecture_b_update_state_max.jsonl).
//!
//! ```python
//! def update(new_values, state):
//!     return max(new_values + ([state] if state is not None else []))
//! ssc.queueStream(rdds).updateStateByKey(update).pprint()
//! ```
//!
//! cargo run --example dstream_update_state_max

use std::time::Duration;

use caudal::dstream::{RddQueue, StreamingContext};

fn main() {
    let ssc = StreamingContext::manual(Duration::from_secs(1));
    let queue: RddQueue<(i64, i64)> = [
        vec![
            vec![(1999, 7), (1999, 5), (1999, 10)],
            vec![(1999, 4), (2000, 3), (1999, 6)],
        ],
        vec![vec![(2000, 10), (2001, 3), (1999, 5)], vec![(1999, 20)]],
        vec![vec![(1999, 1), (1999, 2), (1999, 3)]],
    ]
    .into_iter()
    .collect();
    ssc.start(move |ssc| {
        ssc.queue_stream(&queue)
            .update_state_by_key(|new_values: Vec<i64>, state: Option<i64>| {
                new_values.into_iter().chain(state).max()
            })
            .pprint(10);
    })
    .expect("the program starts");
    ssc.advance(5).expect("five batches run");
    ssc.stop(true).expect("a clean stop");
}
