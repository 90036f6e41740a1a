//! The tumbling and sliding window operator against a direct model of Flink's rules (DESIGN §4):
//! random keys, event times out of order, late records, random watermarks (bounded out-of-orderness or
//! explicit, going backwards sometimes), offsets (windows before 0 included) and allowed lateness.

use std::collections::BTreeMap;

use caudal_operators::window::aggregate::Sum;
use caudal_operators::window::replay::{replay_windowed, LogEntry, ReplayWatermark};
use caudal_operators::window::{TimeWindows, Window, END_OF_INPUT};
use proptest::prelude::*;

mod common;
use common::{frontier_after_record, lateness, log, outputs, watermark, Fired, Late};

/// Flink's window semantics, written out: one map entry per (key, window).
fn model(
    log: &[LogEntry<u8, i64>],
    windows: TimeWindows,
    lateness: i64,
    watermark: ReplayWatermark,
) -> (Vec<Fired>, Vec<Late>) {
    struct State {
        sum: i64,
        firings: u32,
        pending: bool,
    }
    let mut state: BTreeMap<(i64, u8, i64), State> = BTreeMap::new(); // (end, key, start)
    let (mut fired, mut late) = (Vec::new(), Vec::new());
    let mut frontier: i64 = i64::MIN; // watermark + 1: nothing complete
    let mut max_seen: Option<i64> = None;
    let advance = |to: i64,
                   state: &mut BTreeMap<(i64, u8, i64), State>,
                   fired: &mut Vec<Fired>,
                   frontier: &mut i64| {
        if to <= *frontier {
            return;
        }
        *frontier = to;
        for (&(end, key, start), s) in state
            .iter_mut()
            .filter(|((end, _, _), s)| *end <= to && s.pending)
        {
            s.pending = false;
            s.firings += 1;
            let wm = if to == i64::MAX { END_OF_INPUT } else { to - 1 };
            fired.push((key, Window::new(start, end), s.sum, s.firings, wm));
        }
        state.retain(|(end, _, _), _| end.saturating_add(lateness) > to);
    };
    for entry in log {
        match entry {
            LogEntry::Record { key, value, time } => {
                let c = frontier;
                let mut live = false;
                for w in windows.windows_of(*time) {
                    if w.end + lateness <= c {
                        continue;
                    }
                    live = true;
                    let s = state.entry((w.end, *key, w.start)).or_insert(State {
                        sum: 0,
                        firings: 0,
                        pending: false,
                    });
                    s.sum += value;
                    if w.end <= c {
                        s.firings += 1;
                        fired.push((*key, w, s.sum, s.firings, c - 1));
                    } else {
                        s.pending = true;
                    }
                }
                if !live {
                    late.push((*key, *value, *time));
                }
                max_seen = Some(max_seen.map_or(*time, |m| m.max(*time)));
                if let Some(to) = frontier_after_record(watermark, max_seen.unwrap()) {
                    advance(to, &mut state, &mut fired, &mut frontier);
                }
            }
            LogEntry::Watermark(w) => advance(w + 1, &mut state, &mut fired, &mut frontier),
        }
    }
    advance(i64::MAX, &mut state, &mut fired, &mut frontier);
    fired.sort();
    (fired, late)
}

fn operator(
    log: Vec<LogEntry<u8, i64>>,
    windows: TimeWindows,
    lateness: u64,
    watermark: ReplayWatermark,
) -> (Vec<Fired>, Vec<Late>) {
    outputs(replay_windowed(log, watermark, move |s| {
        s.window(windows, lateness, Sum)
    }))
}

/// The same windows, computed from the previous window with an inverse function.
fn operator_with_inverse(
    log: Vec<LogEntry<u8, i64>>,
    windows: TimeWindows,
    lateness: u64,
    watermark: ReplayWatermark,
) -> (Vec<Fired>, Vec<Late>) {
    outputs(replay_windowed(log, watermark, move |s| {
        s.window_with_inverse(windows, lateness, Sum, |acc: &mut i64, pane: &i64| {
            *acc -= pane
        })
    }))
}

fn windows() -> impl Strategy<Value = TimeWindows> {
    (1i64..12, 1i64..5, -700i64..700).prop_map(|(size, div, offset)| {
        let size = size * 100;
        TimeWindows::sliding(size, (size / div / 100).max(1) * 100, offset).unwrap()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn fixed_windows_match_the_model(log in log(), windows in windows(), lateness in lateness(), watermark in watermark()) {
        let expected = model(&log, windows, lateness as i64, watermark);
        let got = operator(log.clone(), windows, lateness, watermark);
        prop_assert_eq!(&got, &expected);
        prop_assert_eq!(operator_with_inverse(log, windows, lateness, watermark), expected);
    }
}

#[test]
fn window_boundaries_at_exact_multiples_and_re_firings() {
    let log = vec![
        LogEntry::Record {
            key: 1,
            value: 1,
            time: 999,
        },
        LogEntry::Record {
            key: 1,
            value: 1,
            time: 1000,
        },
        LogEntry::Watermark(999),
        // Late for [0, 1000) but within 500 ms of lateness: it re-fires, updated.
        LogEntry::Record {
            key: 1,
            value: 5,
            time: 10,
        },
        LogEntry::Watermark(1499),
        // Past cleanup now: a late record.
        LogEntry::Record {
            key: 1,
            value: 7,
            time: 20,
        },
    ];
    let tumbling = TimeWindows::tumbling(1000, 0).unwrap();
    let (fired, late) = operator(log, tumbling, 500, ReplayWatermark::Explicit);
    assert_eq!(
        fired,
        vec![
            (1, Window::new(0, 1000), 1, 1, 999),
            (1, Window::new(0, 1000), 6, 2, 999),
            (1, Window::new(1000, 2000), 1, 1, END_OF_INPUT)
        ]
    );
    assert_eq!(late, vec![(1, 7, 20)]);
}

#[test]
fn lateness_and_re_firings_before_1970() {
    let record = |value, time| LogEntry::Record {
        key: 1,
        value,
        time,
    };
    let log = vec![
        record(1, -1001),
        record(1, -1000),
        // The watermark passes [-2000, -1000): it fires.
        LogEntry::Watermark(-1001),
        // Late for [-2000, -1000) but within 500 ms of lateness: it re-fires, updated.
        record(5, -1990),
        LogEntry::Watermark(-501),
        // Past cleanup now (-1000 + 500 <= -500): a late record.
        record(7, -1980),
        // On time for [-1000, 0).
        record(2, -1),
    ];
    let tumbling = TimeWindows::tumbling(1000, 0).unwrap();
    let (fired, late) = operator(log, tumbling, 500, ReplayWatermark::Explicit);
    assert_eq!(
        fired,
        vec![
            (1, Window::new(-2000, -1000), 1, 1, -1001),
            (1, Window::new(-2000, -1000), 6, 2, -1001),
            (1, Window::new(-1000, 0), 3, 1, END_OF_INPUT)
        ]
    );
    assert_eq!(late, vec![(1, 7, -1980)]);
}

#[test]
fn bounded_out_of_orderness_before_1970() {
    // Watermark = max - 100 - 1 after each record: -1600, -1151, then -102 after the record at -1,
    // which fires [-2000, -1000) (its last instant, -1001, is behind the watermark); -1150 is then
    // late for it, and -150 is on time for [-1000, 0), which fires at the end.
    let record = |time| LogEntry::Record {
        key: 2,
        value: 1,
        time,
    };
    let log = vec![
        record(-1500),
        record(-1050),
        record(-1),
        record(-1150),
        record(-150),
    ];
    let tumbling = TimeWindows::tumbling(1000, 0).unwrap();
    let bounded = ReplayWatermark::Bounded {
        out_of_orderness_ms: 100,
    };
    let (fired, late) = operator(log, tumbling, 0, bounded);
    assert_eq!(
        fired,
        vec![
            (2, Window::new(-2000, -1000), 2, 1, -102),
            (2, Window::new(-1000, 0), 2, 1, END_OF_INPUT)
        ]
    );
    assert_eq!(late, vec![(2, 1, -1150)]);
}

#[test]
fn a_record_read_after_a_windows_cleanup_time_is_not_in_that_window() {
    // A record read once its sender's watermark has passed one of its sliding windows' cleanup time
    // can reach the operator in the same activation as the record that opened the window, before the
    // frontier has moved and the window's timer has fired. Flink takes the watermark in first: that
    // window fires without the record, which goes to its windows still open only. Windows of 10 every
    // 5: the record at 12, read at frontier 16 (watermark 15), is not in [5, 15), only in [10, 20)
    // (its pane [10, 15) is shared by both).
    use caudal_operators::stream::EventInput;
    use caudal_operators::window::WindowResult;
    use caudal_operators::{Event, EventStream, EventTime};
    use timely::dataflow::operators::{Capture, Input, Probe};
    use timely::dataflow::ProbeHandle;
    let fired: Vec<(Window, i64)> = timely::execute_directly(move |worker| {
        let mut input: EventInput<(u8, i64)> = EventInput::new();
        let probe = ProbeHandle::new();
        let captured = worker.dataflow::<EventTime, _, _>(|scope| {
            let windows = TimeWindows::sliding(10, 5, 0).unwrap();
            let (out, _late) =
                EventStream::new(scope.input_from(&mut input)).window(windows, 0, Sum);
            out.inner.probe_with(&probe).capture()
        });
        input.send(Event::new(7, (1, 1)));
        input.flush();
        worker.step_while(|| probe.less_than(input.time()));
        input.advance_to(16);
        input.send(Event::new(12, (1, 10)));
        input.close();
        while worker.step() {}
        common::received(captured)
            .into_iter()
            .map(|e: Event<WindowResult<u8, i64>>| (e.data.window, e.data.value))
            .collect()
    });
    let mut fired = fired;
    fired.sort();
    assert_eq!(
        fired,
        vec![
            (Window::new(0, 10), 1),
            (Window::new(5, 15), 1),
            (Window::new(10, 20), 10)
        ]
    );
}
