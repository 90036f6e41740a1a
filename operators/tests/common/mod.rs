//! What the window property tests share: random logs, watermark strategies, and output in a
//! comparable form; and the records a captured stream received.
// Each test crate includes this module and uses a part of it.
#![allow(dead_code)]

use caudal_operators::window::replay::{LogEntry, ReplayWatermark, Replayed};
use caudal_operators::window::Window;
use caudal_operators::{Event, EventTime};
use proptest::prelude::*;
use timely::dataflow::operators::capture::event::Event as Captured;

/// A firing as `(key, window, result, firing, watermark)`.
pub type Fired = (u8, Window, i64, u32, i64);
/// A late record as `(key, value, time)`.
pub type Late = (u8, i64, EventTime);

/// Random logs: records of 3 keys with values -5..5 at times -2000..2000 (before and after 1970), in
/// any order, and explicit watermarks that sometimes go backwards.
pub fn log() -> impl Strategy<Value = Vec<LogEntry<u8, i64>>> {
    let entry = prop_oneof![
        4 => (0u8..3, -5i64..6, -2000i64..2000).prop_map(|(key, value, time)| LogEntry::Record { key, value, time }),
        1 => (-2500i64..2500).prop_map(LogEntry::Watermark),
    ];
    prop::collection::vec(entry, 0..60)
}

/// Explicit watermarks only, or bounded out-of-orderness of 0 to 600 ms.
pub fn watermark() -> impl Strategy<Value = ReplayWatermark> {
    prop_oneof![
        Just(ReplayWatermark::Explicit),
        (0u64..600).prop_map(|b| ReplayWatermark::Bounded {
            out_of_orderness_ms: b
        })
    ]
}

/// Allowed lateness: none, some, a lot.
pub fn lateness() -> impl Strategy<Value = u64> {
    prop_oneof![Just(0u64), Just(250), Just(1000)]
}

/// Firings (sorted) and late records (in arrival order) of a window operator's output.
pub fn outputs((results, late): Replayed<u8, i64, i64>) -> (Vec<Fired>, Vec<Late>) {
    let mut fired: Vec<Fired> = results
        .into_iter()
        .map(|r| (r.key, r.window, r.value, r.firing, r.watermark))
        .collect();
    fired.sort();
    let late = late.into_iter().map(|l| (l.key, l.value, l.time)).collect();
    (fired, late)
}

/// The frontier after a record, under `watermark`, given the largest time seen.
pub fn frontier_after_record(watermark: ReplayWatermark, max_seen: EventTime) -> Option<EventTime> {
    match watermark {
        ReplayWatermark::Bounded {
            out_of_orderness_ms,
        } => Some(max_seen.saturating_sub_unsigned(out_of_orderness_ms)),
        ReplayWatermark::Explicit => None,
    }
}

/// The records a captured stream received, in the order they came.
pub fn received<D>(
    captured: std::sync::mpsc::Receiver<Captured<EventTime, Vec<Event<D>>>>,
) -> Vec<Event<D>> {
    captured
        .try_iter()
        .flat_map(|event| match event {
            Captured::Messages(_, records) => records,
            Captured::Progress(_) => Vec::new(),
        })
        .collect()
}
