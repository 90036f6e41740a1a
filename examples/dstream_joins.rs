//! Joins of two keyed streams, batch by batch: only records of the same batch meet. Inner, left, right
//! and full outer joins, and cogroup.
//!
//! cargo run --example dstream_joins

use std::time::Duration;

use caudal::dstream::{RddQueue, StreamingContext};

fn main() {
    let ssc = StreamingContext::manual(Duration::from_secs(1));
    // (user, page) views and (user, country) profiles arriving in the same batches.
    // Records are owned (`String`, not `&str`): a DStream's records can go to another worker.
    let owned =
        |batch: &[(i64, &str)]| vec![batch.iter().map(|&(k, v)| (k, v.to_string())).collect()];
    let views: RddQueue<(i64, String)> = [
        owned(&[(1, "home"), (2, "cart"), (1, "shop")]),
        owned(&[(3, "home")]),
    ]
    .into_iter()
    .collect();
    let users: RddQueue<(i64, String)> = [owned(&[(1, "PT"), (4, "FR")]), owned(&[(3, "DE")])]
        .into_iter()
        .collect();
    ssc.start(move |ssc| {
        let views = ssc.queue_stream(&views);
        let users = ssc.queue_stream(&users);
        let label = |name: &'static str| move |text: &str| print!("{name}:\n{text}");
        views.join(&users).pprint_to(10, label("join"));
        views
            .left_outer_join(&users)
            .pprint_to(10, label("leftOuterJoin"));
        views
            .right_outer_join(&users)
            .pprint_to(10, label("rightOuterJoin"));
        views
            .full_outer_join(&users)
            .pprint_to(10, label("fullOuterJoin"));
        views
            .cogroup(&users)
            .map(|(user, (pages, countries))| (user, pages, countries))
            .pprint_to(10, label("cogroup"));
    })
    .expect("the program starts");
    ssc.advance(2).expect("two batches run");
    ssc.stop(true).expect("a clean stop");
}
