//! Keyed state with a processing-time time-to-live: a key idle for longer than its TTL starts over,
//! even while the worker is parked (the expiry timer wakes it).

use std::time::Duration;

use caudal::prelude::*;
use caudal_operators::process::Ttl;

#[test]
fn state_expires_after_its_processing_time_ttl() {
    let ttl = Ttl::ProcessingTime(Duration::from_millis(50));
    let mut app = Embedded::start(
        RunConfig::default(),
        move |words: EventStream<'_, String>| {
            words.map(|w| (w, ())).map_with_state_ttl(
                "Count",
                || 0u64,
                |w, n, _| {
                    *n += 1;
                    Some((w.clone(), *n))
                },
                ttl,
            )
        },
    )
    .unwrap();
    let mut next = |word: &str| {
        app.input.push(word.to_string()).unwrap();
        app.output.recv().unwrap().data
    };
    assert_eq!(next("a"), ("a".into(), 1));
    assert_eq!(next("a"), ("a".into(), 2));
    assert_eq!(next("b"), ("b".into(), 1));
    // Well past the TTL: both keys have expired and start over.
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(next("a"), ("a".into(), 1));
    assert_eq!(next("b"), ("b".into(), 1));
    app.finish().unwrap();
}
