//! Windowed joins and cogroup of two real timely inputs against a brute-force model: for every key and
//! window, the pairs the join kind asks for.

use std::collections::BTreeSet;

use caudal_operators::window::join::{join_rows, JoinKind};
use caudal_operators::window::{TimeWindows, Window};
use caudal_operators::{Event, EventStream, EventTime};
use proptest::prelude::*;
use timely::dataflow::operators::capture::Extract;
use timely::dataflow::operators::{Capture, ToStream};

type Row = (u8, Window, Option<i32>, Option<i32>);

fn model(
    left: &[(u8, i32, EventTime)],
    right: &[(u8, i32, EventTime)],
    windows: TimeWindows,
    kind: JoinKind,
) -> Vec<Row> {
    let mut groups: BTreeSet<(u8, Window)> = BTreeSet::new();
    for &(k, _, t) in left.iter().chain(right) {
        groups.extend(windows.windows_of(t).map(|w| (k, w)));
    }
    let mut rows = Vec::new();
    for (k, w) in groups {
        let inside = |side: &[(u8, i32, EventTime)]| -> Vec<i32> {
            side.iter()
                .filter(|(key, _, t)| *key == k && w.start <= *t && *t < w.end)
                .map(|r| r.1)
                .collect()
        };
        for (a, b) in join_rows(kind, &inside(left), &inside(right)) {
            rows.push((k, w, a, b));
        }
    }
    rows.sort();
    rows
}

fn operator(
    left: Vec<(u8, i32, EventTime)>,
    right: Vec<(u8, i32, EventTime)>,
    windows: TimeWindows,
    kind: JoinKind,
) -> Vec<Row> {
    let out = caudal_operators::example(move |scope| {
        let l = EventStream::new(
            left.into_iter()
                .map(|(k, v, t)| Event::new(t, (k, v)))
                .to_stream(scope),
        );
        let r = EventStream::new(
            right
                .into_iter()
                .map(|(k, v, t)| Event::new(t, (k, v)))
                .to_stream(scope),
        );
        let (rows, _late) = l.window_join(r, windows, 0, kind);
        rows.inner.capture()
    });
    let mut rows: Vec<Row> = out
        .extract()
        .into_iter()
        .flat_map(|(_, v)| v)
        .map(|e| (e.data.key, e.data.window, e.data.left, e.data.right))
        .collect();
    rows.sort();
    rows
}

fn side() -> impl Strategy<Value = Vec<(u8, i32, EventTime)>> {
    prop::collection::vec((0u8..3, -50i32..50, -1500i64..1500), 0..25)
}

fn kind() -> impl Strategy<Value = JoinKind> {
    prop_oneof![
        Just(JoinKind::Inner),
        Just(JoinKind::LeftOuter),
        Just(JoinKind::RightOuter),
        Just(JoinKind::FullOuter)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 150, ..ProptestConfig::default() })]

    #[test]
    fn window_joins_match_the_model(left in side(), right in side(), size in 1i64..10, div in 1i64..4, kind in kind()) {
        let windows = TimeWindows::sliding(size * 200, (size / div).max(1) * 200, 0).unwrap();
        prop_assert_eq!(operator(left.clone(), right.clone(), windows, kind), model(&left, &right, windows, kind));
    }
}
