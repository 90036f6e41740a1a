//! The session window operator against a direct model of Flink's merging windows: random keys, event
//! times out of order, late records (also ones that bridge two sessions), random watermarks and
//! allowed lateness.

use caudal_operators::window::aggregate::Sum;
use caudal_operators::window::replay::{replay_windowed, LogEntry, ReplayWatermark};
use caudal_operators::window::{Window, END_OF_INPUT};
use proptest::prelude::*;

mod common;
use common::{frontier_after_record, lateness, log, outputs, watermark, Fired, Late};

#[derive(Clone, Debug)]
struct Session {
    key: u8,
    window: Window,
    sum: i64,
    firings: u32,
    pending: bool,
}

/// Flink's session windows, written out: merge until nothing touches, judge lateness on the merge.
fn model(
    log: &[LogEntry<u8, i64>],
    gap: i64,
    lateness: i64,
    watermark: ReplayWatermark,
) -> (Vec<Fired>, Vec<Late>) {
    let mut sessions: Vec<Session> = Vec::new();
    let (mut fired, mut late) = (Vec::new(), Vec::new());
    let mut frontier: i64 = i64::MIN; // watermark + 1: nothing complete
    let mut max_seen: Option<i64> = None;
    let advance =
        |to: i64, sessions: &mut Vec<Session>, fired: &mut Vec<Fired>, frontier: &mut i64| {
            if to <= *frontier {
                return;
            }
            *frontier = to;
            let wm = if to == i64::MAX { END_OF_INPUT } else { to - 1 };
            for s in sessions
                .iter_mut()
                .filter(|s| s.pending && s.window.end <= to)
            {
                s.pending = false;
                s.firings += 1;
                fired.push((s.key, s.window, s.sum, s.firings, wm));
            }
            sessions.retain(|s| s.window.end.saturating_add(lateness) > to);
        };
    for entry in log {
        match entry {
            LogEntry::Record { key, value, time } => {
                let c = frontier;
                let t = *time;
                let mut merged = Window::new(t, t + gap);
                let mut taken: Vec<Session> = Vec::new();
                loop {
                    let touching = sessions.iter().position(|s| {
                        s.key == *key
                            && s.window.start <= merged.end
                            && merged.start <= s.window.end
                    });
                    let Some(i) = touching else { break };
                    let s = sessions.remove(i);
                    merged = Window::new(
                        merged.start.min(s.window.start),
                        merged.end.max(s.window.end),
                    );
                    taken.push(s);
                }
                if merged.end + lateness <= c {
                    sessions.extend(taken);
                    late.push((*key, *value, *time));
                } else {
                    let sum = taken.iter().map(|s| s.sum).sum::<i64>() + value;
                    let same = taken.iter().find(|s| s.window == merged);
                    let mut s = Session {
                        key: *key,
                        window: merged,
                        sum,
                        firings: same.map_or(0, |s| s.firings),
                        pending: true,
                    };
                    if merged.end <= c {
                        s.pending = false;
                        s.firings += 1;
                        fired.push((s.key, s.window, s.sum, s.firings, c - 1));
                    }
                    sessions.push(s);
                }
                max_seen = Some(max_seen.map_or(*time, |m| m.max(*time)));
                if let Some(to) = frontier_after_record(watermark, max_seen.unwrap()) {
                    advance(to, &mut sessions, &mut fired, &mut frontier);
                }
            }
            LogEntry::Watermark(w) => advance(w + 1, &mut sessions, &mut fired, &mut frontier),
        }
    }
    advance(i64::MAX, &mut sessions, &mut fired, &mut frontier);
    fired.sort();
    (fired, late)
}

fn operator(
    log: Vec<LogEntry<u8, i64>>,
    gap: u64,
    lateness: u64,
    watermark: ReplayWatermark,
) -> (Vec<Fired>, Vec<Late>) {
    outputs(replay_windowed(log, watermark, move |s| {
        s.session_window(gap, lateness, Sum)
    }))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn session_windows_match_the_model(log in log(), gap in 1u64..800, lateness in lateness(), watermark in watermark()) {
        let expected = model(&log, gap as i64, lateness as i64, watermark);
        let got = operator(log, gap, lateness, watermark);
        prop_assert_eq!(got, expected);
    }
}

fn record(key: u8, time: i64) -> LogEntry<u8, i64> {
    LogEntry::Record {
        key,
        value: 1,
        time,
    }
}

#[test]
fn touching_sessions_merge_and_a_late_record_bridges_two_fired_sessions() {
    let log = vec![
        record(1, 0),
        record(1, 500),
        record(1, 1000), // 0, 500, 1000 with a gap of 500: one session [0, 1500)
        record(1, 2000),
        LogEntry::Watermark(4000), // [0, 1500) and [2000, 2500) fire
        record(1, 1500), // late but within lateness: [1500, 2000) touches both, one session
    ];
    let (fired, late) = operator(log, 500, 5000, ReplayWatermark::Explicit);
    assert_eq!(
        fired,
        vec![
            (1, Window::new(0, 1500), 3, 1, 4000),
            (1, Window::new(0, 2500), 5, 1, 4000),
            (1, Window::new(2000, 2500), 1, 1, 4000)
        ]
    );
    assert!(late.is_empty());
}

#[test]
fn a_key_that_disappears_is_forgotten_and_its_late_records_reported() {
    let log = vec![record(2, 100), LogEntry::Watermark(10_000), record(2, 200)];
    let (fired, late) = operator(log, 500, 0, ReplayWatermark::Explicit);
    assert_eq!(fired, vec![(2, Window::new(100, 600), 1, 1, 10_000)]);
    assert_eq!(late, vec![(2, 1, 200)]);
}

#[test]
fn sessions_before_1970() {
    // Gap 1000: -2500 opens [-2500, -1500), -1800 extends it to [-2500, -800); -100 is 700 ms after
    // its end: a session of its own, [-100, 900), straddling 1970.
    let log = vec![record(1, -2500), record(1, -1800), record(1, -100)];
    let (fired, late) = operator(log, 1000, 0, ReplayWatermark::Explicit);
    assert_eq!(
        fired,
        vec![
            (1, Window::new(-2500, -800), 2, 1, END_OF_INPUT),
            (1, Window::new(-100, 900), 1, 1, END_OF_INPUT)
        ]
    );
    assert!(late.is_empty());
    // With a watermark 500 ms behind the records, the first session fires when the record at -100
    // moves the watermark to -601 (its last instant, -801, is behind it).
    let bounded = ReplayWatermark::Bounded {
        out_of_orderness_ms: 500,
    };
    let log = vec![record(1, -2500), record(1, -1800), record(1, -100)];
    let (fired, _) = operator(log, 1000, 0, bounded);
    assert_eq!(
        fired,
        vec![
            (1, Window::new(-2500, -800), 2, 1, -601),
            (1, Window::new(-100, 900), 1, 1, END_OF_INPUT)
        ]
    );
}

#[test]
fn a_record_read_after_a_sessions_cleanup_time_starts_a_new_session() {
    // A record read once its sender's watermark has passed a session's cleanup time (its end plus the
    // allowed lateness) can reach the operator in the same activation as the records that made the
    // session, before the frontier has moved and the session's timers have fired. Flink takes the
    // watermark in first: the session fires and its state is cleared, so the record, even one that
    // touches the session, opens a new one. Here too: [0, 15) fires as it was, and the record at 14 is
    // the session [14, 24) alone, not [0, 24) (which would count the session's records twice).
    use caudal_operators::stream::EventInput;
    use caudal_operators::window::WindowResult;
    use caudal_operators::{Event, EventStream, EventTime};
    use timely::dataflow::operators::{Capture, Input, Probe};
    use timely::dataflow::ProbeHandle;
    for lateness in [0u64, 3] {
        let fired: Vec<(u8, Window, i64)> = timely::execute_directly(move |worker| {
            let mut input: EventInput<(u8, i64)> = EventInput::new();
            let probe = ProbeHandle::new();
            let captured = worker.dataflow::<EventTime, _, _>(|scope| {
                let (out, _late) = EventStream::new(scope.input_from(&mut input))
                    .session_window(10, lateness, Sum);
                out.inner.probe_with(&probe).capture()
            });
            input.send(Event::new(0, (1, 1)));
            input.send(Event::new(5, (1, 1)));
            input.flush();
            worker.step_while(|| probe.less_than(input.time()));
            // Watermark 19: [0, 15) is due, and past its cleanup time (15 + lateness <= 20).
            input.advance_to(20);
            input.send(Event::new(14, (1, 1)));
            input.close();
            while worker.step() {}
            common::received(captured)
                .into_iter()
                .map(|e: Event<WindowResult<u8, i64>>| (e.data.key, e.data.window, e.data.value))
                .collect()
        });
        let mut fired = fired;
        fired.sort();
        assert_eq!(
            fired,
            vec![(1, Window::new(0, 15), 2), (1, Window::new(14, 24), 1)],
            "allowed lateness {lateness}"
        );
    }
}

#[test]
fn a_record_behind_its_time_waits_for_a_sender_that_is_further_behind() {
    // Two senders. The first sends 0 and 5 (the session [0, 15)), then moves to 20 and sends 14: late
    // by its own watermark, which has passed the session's end. The second is still at 10, so the
    // session may not fire yet: the record at 14 waits for the frontier, meanwhile the second sender's
    // record at 12 joins the session, and 14 then joins it too. One session [0, 24) of four records,
    // fired once, as Flink gives with the combined watermark (the lower one) when 14 is read.
    use caudal_operators::stream::EventInput;
    use caudal_operators::window::WindowResult;
    use caudal_operators::{Event, EventStream, EventTime};
    use timely::dataflow::operators::{Capture, Concat, Input, Probe};
    use timely::dataflow::ProbeHandle;
    let fired: Vec<(u8, Window, i64)> = timely::execute_directly(move |worker| {
        let mut first: EventInput<(u8, i64)> = EventInput::new();
        let mut second: EventInput<(u8, i64)> = EventInput::new();
        let probe = ProbeHandle::new();
        let captured = worker.dataflow::<EventTime, _, _>(|scope| {
            let both = scope
                .input_from(&mut first)
                .concat(scope.input_from(&mut second));
            let (out, _late) = EventStream::new(both).session_window(10, 0, Sum);
            out.inner.probe_with(&probe).capture()
        });
        second.advance_to(10);
        first.send(Event::new(0, (1, 1)));
        first.send(Event::new(5, (1, 1)));
        first.advance_to(20);
        first.send(Event::new(14, (1, 1)));
        first.flush();
        for _ in 0..50 {
            worker.step();
        }
        second.send(Event::new(12, (1, 1)));
        second.close();
        first.close();
        while worker.step() {}
        common::received(captured)
            .into_iter()
            .map(|e: Event<WindowResult<u8, i64>>| (e.data.key, e.data.window, e.data.value))
            .collect()
    });
    assert_eq!(fired, vec![(1, Window::new(0, 24), 4)]);
}
