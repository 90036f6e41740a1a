//! Marker sessions against a model: drop what is late when read, sort the rest by event time (ties in
//! arrival order), and run each key's start / record / end / timeout state machine in that order.

use std::collections::HashMap;

use caudal_operators::window::aggregate::Sum;
use caudal_operators::window::marker::Marker;
use caudal_operators::window::replay::{replay_windowed, LogEntry, ReplayWatermark};
use caudal_operators::window::Window;
use proptest::prelude::*;

mod common;
use common::{frontier_after_record, watermark};

type Session = (u8, Window, i64);
type Orphan = (u8, i64, Marker<i64>);

fn model(
    log: &[LogEntry<u8, Marker<i64>>],
    gap: i64,
    watermark: ReplayWatermark,
) -> (Vec<Session>, Vec<Orphan>) {
    let (mut in_order, mut orphans) = (Vec::new(), Vec::new());
    let mut frontier = i64::MIN; // watermark + 1: nothing complete
    let mut max_seen: Option<i64> = None;
    for entry in log {
        match entry {
            LogEntry::Record { key, value, time } => {
                if *time < frontier {
                    orphans.push((*key, *time, value.clone()));
                } else {
                    in_order.push((*time, *key, value.clone()));
                }
                max_seen = Some(max_seen.map_or(*time, |m| m.max(*time)));
                if let Some(to) = frontier_after_record(watermark, max_seen.unwrap()) {
                    frontier = frontier.max(to);
                }
            }
            LogEntry::Watermark(w) => frontier = frontier.max(w + 1),
        }
    }
    in_order.sort_by_key(|(t, _, _)| *t); // stable: ties keep arrival order
    let mut open: HashMap<u8, (i64, i64, i64)> = HashMap::new(); // key -> (start, last, sum)
    let mut sessions = Vec::new();
    for (time, key, marker) in in_order {
        let t = time;
        if let Some(&(start, last, sum)) = open.get(&key) {
            if t >= last + gap {
                sessions.push((key, Window::new(start, last + gap), sum));
                open.remove(&key);
            }
        }
        match marker {
            Marker::Start => {
                if let Some((start, _, sum)) = open.remove(&key) {
                    sessions.push((key, Window::new(start, t), sum));
                }
                open.insert(key, (t, t, 0));
            }
            Marker::Record(v) => match open.get_mut(&key) {
                Some(s) => {
                    s.1 = t;
                    s.2 += v;
                }
                None => orphans.push((key, time, Marker::Record(v))),
            },
            Marker::End => match open.remove(&key) {
                Some((start, _, sum)) => sessions.push((key, Window::new(start, t + 1), sum)),
                None => orphans.push((key, time, Marker::End)),
            },
        }
    }
    for (key, (start, last, sum)) in open {
        sessions.push((key, Window::new(start, last + gap), sum));
    }
    sessions.sort();
    orphans.sort();
    (sessions, orphans)
}

fn operator(
    log: Vec<LogEntry<u8, Marker<i64>>>,
    gap: u64,
    watermark: ReplayWatermark,
) -> (Vec<Session>, Vec<Orphan>) {
    let (fired, late) = replay_windowed(log, watermark, move |s| s.marker_session(gap, Sum));
    let mut sessions: Vec<Session> = fired
        .into_iter()
        .map(|r| (r.key, r.window, r.value))
        .collect();
    let mut orphans: Vec<Orphan> = late.into_iter().map(|l| (l.key, l.time, l.value)).collect();
    sessions.sort();
    orphans.sort();
    (sessions, orphans)
}

fn log() -> impl Strategy<Value = Vec<LogEntry<u8, Marker<i64>>>> {
    let marker = prop_oneof![1 => Just(Marker::Start), 1 => Just(Marker::End), 4 => (-5i64..6).prop_map(Marker::Record)];
    let entry = prop_oneof![
        5 => (0u8..3, marker, -2000i64..2000).prop_map(|(key, value, time)| LogEntry::Record { key, value, time }),
        1 => (-2500i64..2500).prop_map(LogEntry::Watermark),
    ];
    prop::collection::vec(entry, 0..60)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn marker_sessions_match_the_model(log in log(), gap in 1u64..800, watermark in watermark()) {
        prop_assert_eq!(operator(log.clone(), gap, watermark), model(&log, gap as i64, watermark));
    }
}

#[test]
fn comments_per_class() {
    // Class A: opened at 0, two comments, closed at 50 min. Class B: opened at 10 min, one comment at
    // 20 min, never closed: 120 minutes without comments close it at 140 min. A comment with no class
    // open goes to the late output.
    let min = 60_000i64;
    let rec = |key, value, time| LogEntry::Record { key, value, time };
    let log = vec![
        rec(b'A', Marker::Start, 0),
        rec(b'A', Marker::Record(1), 5 * min),
        rec(b'B', Marker::Start, 10 * min),
        rec(b'A', Marker::Record(1), 15 * min),
        rec(b'B', Marker::Record(1), 20 * min),
        rec(b'A', Marker::End, 50 * min),
        rec(b'A', Marker::Record(1), 55 * min),
    ];
    let (fired, late) = replay_windowed(
        log,
        ReplayWatermark::Bounded {
            out_of_orderness_ms: 0,
        },
        move |s| s.marker_session(120 * min as u64, Sum),
    );
    let fired: Vec<(u8, Window, i64)> = fired
        .into_iter()
        .map(|r| (r.key, r.window, r.value))
        .collect();
    assert_eq!(
        fired,
        vec![
            (b'A', Window::new(0, 50 * min + 1), 2),
            (b'B', Window::new(10 * min, 140 * min), 1)
        ]
    );
    assert!(late.iter().any(|l| l.key == b'A' && l.time == 55 * min));
}
