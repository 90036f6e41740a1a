//! The interval join against a brute-force model: among the records not late when read (`time >=
//! watermark`, as in Flink), every left/right pair of a key with `a - before <= b <= a + after`; the
//! late ones on the late output. Two real timely inputs, the watermark following the records with
//! bounded out-of-orderness, so buffers are cleaned up along the way and must never lose a pair.

use caudal_operators::stream::EventInput;
use caudal_operators::window::join::Side;
use caudal_operators::{Event, EventStream};
use proptest::prelude::*;
use timely::dataflow::operators::capture::Extract;
use timely::dataflow::operators::{Capture, Input, Probe};
use timely::dataflow::ProbeHandle;

/// `(left?, key, value, time)`
type Entry = (bool, u8, i32, u64);
type Pair = (u8, (u64, i32), (u64, i32));

fn model(log: &[Entry], before: u64, after: u64, delay: u64) -> (Vec<Pair>, Vec<(u8, u64)>) {
    let (mut kept, mut late) = (Vec::new(), Vec::new());
    let mut frontier = 0u64;
    for &(is_left, key, value, time) in log {
        if time < frontier.saturating_sub(1) {
            late.push((key, time));
        } else {
            kept.push((is_left, key, value, time));
        }
        frontier = frontier.max(time.saturating_sub(delay));
    }
    let mut pairs = Vec::new();
    for &(_, k, a, ta) in kept.iter().filter(|e| e.0) {
        for &(_, k2, b, tb) in kept.iter().filter(|e| !e.0) {
            if k == k2 && ta.saturating_sub(before) <= tb && tb <= ta + after {
                pairs.push((k, (ta, a), (tb, b)));
            }
        }
    }
    pairs.sort();
    late.sort();
    (pairs, late)
}

fn operator(log: Vec<Entry>, before: u64, after: u64, delay: u64) -> (Vec<Pair>, Vec<(u8, u64)>) {
    let (joined, late) = timely::execute_directly(move |worker| {
        let mut left: EventInput<(u8, i32)> = EventInput::new();
        let mut right: EventInput<(u8, i32)> = EventInput::new();
        let probe = ProbeHandle::new();
        let (joined, late) = worker.dataflow::<u64, _, _>(|scope| {
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
            let frontier = (*left.time()).max(time.saturating_sub(delay));
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
    let mut late: Vec<(u8, u64)> = late
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
        log in prop::collection::vec((any::<bool>(), 0u8..3, -9i32..9, 0u64..3000), 0..50),
        before in 0u64..400, after in 0u64..400, delay in 0u64..500,
    ) {
        prop_assert_eq!(operator(log.clone(), before, after, delay), model(&log, before, after, delay));
    }
}
