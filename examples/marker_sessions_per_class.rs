//! The lecture's "comments per class": a class is opened and closed by records, and two hours without a
//! comment close it anyway (marker sessions).
//!
//! Run with `cargo run --release --example marker_sessions_per_class`. A small recorded day of three
//! classes is replayed; each class prints with its span and its number of comments when it closes.

use caudal::prelude::*;

const MIN: EventTime = 60_000;

fn main() {
    // (class, event, minute): "start" and "end" open and close a class, anything else is a comment.
    let day = [
        ("databases", "start", 0),
        ("databases", "comment", 5),
        ("streaming", "start", 10),
        ("databases", "comment", 20),
        ("streaming", "comment", 25),
        ("streaming", "comment", 26),
        ("databases", "end", 50),
        ("streaming", "comment", 60), // the streaming class is never closed: 120 min of silence closes it
        ("compilers", "start", 200),
        ("compilers", "comment", 230),
        ("compilers", "end", 290),
        ("databases", "comment", 300), // no databases class is open: reported, not counted
    ];
    let events: Vec<Event<(String, Marker<()>)>> = day
        .iter()
        .map(|(class, what, minute)| {
            let marker = match *what {
                "start" => Marker::Start,
                "end" => Marker::End,
                _ => Marker::Record(()),
            };
            Event::new(minute * MIN, (class.to_string(), marker))
        })
        .collect();
    let source = caudal::source::from_events(events);
    caudal::run(RunConfig::new(ExecutionMode::PerRecord), move |df| {
        let (classes, outside) = df
            .source("comments", &source)
            .marker_session(120 * MIN as u64, Count);
        let lines = classes.map(|r| {
            format!(
                "{:<10} from minute {:>3} to {:>3}: {} comments",
                r.key,
                r.window.start / MIN,
                r.window.end / MIN,
                r.value
            )
        });
        df.sink("classes", lines, &Print::new(Format::text()));
        df.sink(
            "outside",
            outside.map(|l| format!("not in any class: {} at minute {}", l.key, l.time / MIN)),
            &Print::new(Format::text()),
        );
    })
    .expect("the pipeline runs");
}
