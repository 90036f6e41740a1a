//! The interval join against a brute-force model: among the records not late when read (`time >=
//! watermark`, as in Flink), every left/right pair of a key with `a - before <= b <= a + after`; the
//! late ones on the late output. Two real timely inputs, the watermark following the records with
//! bounded out-of-orderness, so buffers are cleaned up along the way and must never lose a pair.

use caudal_operators::stream::EventInput;
use caudal_operators::window::join::Side;
use caudal_operators::{Event, EventStream, EventTime};
use proptest::prelude::*;
use timely::dataflow::operators::capture::Extract;
use timely::dataflow::operators::{Capture, Input, Probe};
use timely::dataflow::ProbeHandle;

/// `(left?, key, value, time)`
type Entry = (bool, u8, i32, EventTime);
type Pair = (u8, (EventTime, i32), (EventTime, i32));

fn model(log: &[Entry], before: u64, after: u64, delay: u64) -> (Vec<Pair>, Vec<(u8, EventTime)>) {
    let (mut kept, mut late) = (Vec::new(), Vec::new());
    let mut frontier = EventTime::MIN; // watermark + 1: nothing complete
    for &(is_left, key, value, time) in log {
        if time < frontier.saturating_sub(1) {
            late.push((key, time));
        } else {
            kept.push((is_left, key, value, time));
        }
        frontier = frontier.max(time.saturating_sub_unsigned(delay));
    }
    let mut pairs = Vec::new();
    for &(_, k, a, ta) in kept.iter().filter(|e| e.0) {
        for &(_, k2, b, tb) in kept.iter().filter(|e| !e.0) {
            let (from, to) = (
                ta.saturating_sub_unsigned(before),
                ta.saturating_add_unsigned(after),
            );
            if k == k2 && from <= tb && tb <= to {
                pairs.push((k, (ta, a), (tb, b)));
            }
        }
    }
    pairs.sort();
    late.sort();
    (pairs, late)
}

fn operator(
    log: Vec<Entry>,
    before: u64,
    after: u64,
    delay: u64,
) -> (Vec<Pair>, Vec<(u8, EventTime)>) {
    let (joined, late) = timely::execute_directly(move |worker| {
        let mut left: EventInput<(u8, i32)> = EventInput::new();
        let mut right: EventInput<(u8, i32)> = EventInput::new();
        let probe = ProbeHandle::new();
        let (joined, late) = worker.dataflow::<EventTime, _, _>(|scope| {
            let l = EventStream::new(scope.input_from(&mut left));
            let r = EventStream::new(scope.input_from(&mut right));
            let (joined, late) = l.interval_join(r, before, after);
            (
                joined.inner.probe_with(&probe).capture(),
                late.inner.capture(),
            )
        });
        for (is_left, key, value, time) in log {
            let input = if is_left { &mut left } else { &mut right };
            input.send(Event::new(time, (key, value)));
            let frontier = (*left.time()).max(time.saturating_sub_unsigned(delay));
            left.advance_to(frontier);
            right.advance_to(frontier);
            worker.step_while(|| probe.less_than(left.time()));
        }
        left.close();
        right.close();
        while worker.step() {}
        (joined.extract(), late.extract())
    });
    let mut pairs: Vec<Pair> = joined
        .into_iter()
        .flat_map(|(_, v)| v)
        .map(|e| (e.data.key, e.data.left, e.data.right))
        .collect();
    pairs.sort();
    let mut late: Vec<(u8, EventTime)> = late
        .into_iter()
        .flat_map(|(_, v)| v)
        .map(|e| {
            assert!(matches!(e.data.value, Side::Left(_) | Side::Right(_)));
            (e.data.key, e.data.time)
        })
        .collect();
    late.sort();
    (pairs, late)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn interval_join_matches_the_model(
        log in prop::collection::vec((any::<bool>(), 0u8..3, -9i32..9, -1500i64..1500), 0..50),
        before in 0u64..400, after in 0u64..400, delay in 0u64..500,
    ) {
        prop_assert_eq!(operator(log.clone(), before, after, delay), model(&log, before, after, delay));
    }
}

/// Across 1970, worked by hand: `between(-100, 50)` joins a right record `b` to a left record `a` when
/// `a - 100 <= b <= a + 50`. Left at -30 matches right at -130 (the lower bound), -1 and 20 (the upper
/// bound), not -131 nor 21; left at 60 matches -1, 20 and 21 (`[-40, 110]`). Records come in time
/// order, the watermark 500 ms behind, so nothing is late.
#[test]
fn interval_join_across_1970() {
    let log: Vec<Entry> = vec![
        (false, 1, -131, -131),
        (false, 1, -130, -130),
        (true, 1, -30, -30),
        (false, 1, -1, -1),
        (false, 1, 20, 20),
        (false, 1, 21, 21),
        (true, 1, 60, 60),
        (true, 2, -30, -30), // another key: no partner
    ];
    let (pairs, late) = operator(log.clone(), 100, 50, 500);
    assert_eq!(
        pairs,
        vec![
            (1, (-30, -30), (-130, -130)),
            (1, (-30, -30), (-1, -1)),
            (1, (-30, -30), (20, 20)),
            (1, (60, 60), (-1, -1)),
            (1, (60, 60), (20, 20)),
            (1, (60, 60), (21, 21)),
        ]
    );
    assert!(late.is_empty());
    assert_eq!((pairs, late), model(&log, 100, 50, 500));
}

/// A record behind the watermark at negative times is late and joins nothing.
#[test]
fn a_late_record_before_1970_joins_nothing() {
    // After the right record at -100 (no out-of-orderness), the frontier is -100 and the watermark
    // -101: a left record at -102 is late; one at -101 is not (Flink's `time < watermark`).
    let log: Vec<Entry> = vec![(false, 1, 0, -100), (true, 1, 1, -102), (true, 1, 2, -101)];
    let (pairs, late) = operator(log, 10, 10, 0);
    assert_eq!(pairs, vec![(1, (-101, 2), (-100, 0))]);
    assert_eq!(late, vec![(1, -102)]);
}
