//! Snapshot → restore → the same results, for every operator on the keyed-operator shell, and the work
//! budget changes nothing but how firings spread over activations.
//!
//! The model is the operator itself, run once without interruption. The interrupted run feeds the first
//! part of the same input, takes the worker's snapshot once the frontier has reached the cut (the
//! consistent-cut contract of `StateRegistry::snapshot`), and ends; a fresh dataflow restores the
//! snapshot and is fed the rest. Its outputs, with the first part's, must equal the uninterrupted run's,
//! record for record and each at the same timely time.

use std::sync::{Arc, Mutex};

use caudal_operators::budget::WorkBudget;
use caudal_operators::shell::{Placement, StateRegistry, WorkerSnapshot};
use caudal_operators::stream::EventInput;
use caudal_operators::window::aggregate::{collect, Count, Sum};
use caudal_operators::window::join::JoinKind;
use caudal_operators::window::marker::Marker;
use caudal_operators::window::TimeWindows;
use caudal_operators::{Event, EventStream, EventTime};
use proptest::prelude::*;
use timely::dataflow::operators::capture::event::Event as CaptureEvent;
use timely::dataflow::operators::capture::Capture;
use timely::dataflow::operators::{Input, Probe};
use timely::dataflow::ProbeHandle;

/// A record: key, value, event time (before and after 1970).
type Rec = (u8, i64, EventTime);

/// Where every input starts: nothing complete, so no record is late.
const START: EventTime = EventTime::MIN;

/// What the operators under test emit, made comparable: `Ok` results and `Err` late records, as text.
type Out = Result<String, String>;

/// Builds the operators under test on the input stream.
trait Build:
    Fn(EventStream<'_, (u8, i64)>) -> EventStream<'_, Out> + Send + Sync + Clone + 'static
{
}
impl<F: Fn(EventStream<'_, (u8, i64)>) -> EventStream<'_, Out> + Send + Sync + Clone + 'static>
    Build for F
{
}

/// The input time (watermark + 1) after each record: bounded out-of-orderness of `delay` ms.
fn schedule(recs: &[Rec], delay: u64) -> Vec<EventTime> {
    let mut max_seen = START;
    recs.iter()
        .map(|r| {
            max_seen = max_seen.max(r.2);
            max_seen.saturating_sub_unsigned(delay)
        })
        .collect()
}

/// Runs `build` on `recs[range]` on `workers` workers (worker 0 feeds the records, every worker moves
/// its input time), each record sent at the input time the schedule gives and the workers stepped until
/// the operators caught up; the input starts at `start`. With `close` the input ends; otherwise each
/// worker's snapshot is taken at the end. `restore` holds the snapshots of every worker of an earlier
/// run: a worker restores its own if that run had as many workers, and otherwise the keys that are now
/// its own from all of them. Returns `(timely time, output)` pairs and the snapshots, by worker.
#[allow(clippy::too_many_arguments)]
fn run(
    recs: &[Rec],
    times: &[EventTime],
    range: std::ops::Range<usize>,
    start: EventTime,
    close: bool,
    workers: usize,
    restore: Option<Vec<WorkerSnapshot>>,
    budget: WorkBudget,
    build: impl Build,
) -> (Vec<(EventTime, Out)>, Option<Vec<WorkerSnapshot>>) {
    let feed: Vec<(Rec, EventTime)> = recs[range.clone()]
        .iter()
        .copied()
        .zip(times[range].iter().copied())
        .collect();
    let mut config = match workers {
        1 => timely::Config::thread(),
        n => timely::Config::process(n),
    };
    budget.install(&mut config);
    let result = Arc::new(Mutex::new(Vec::new()));
    let slot = result.clone();
    timely::execute(config, move |worker| {
        let (index, peers) = (worker.index(), worker.peers());
        let registry = StateRegistry::current();
        match restore.clone() {
            Some(mut snapshots) if snapshots.len() == peers => {
                registry.restore_from(snapshots.swap_remove(index))
            }
            Some(snapshots) => registry.restore_rescaled(snapshots, Placement { index, peers }),
            None => {}
        }
        let mut input: EventInput<(u8, i64)> = EventInput::new();
        let probe = ProbeHandle::new();
        let build = build.clone();
        let captured = worker.dataflow::<EventTime, _, _>(|scope| {
            build(EventStream::new(scope.input_from(&mut input)))
                .inner
                .probe_with(&probe)
                .capture()
        });
        assert!(
            registry.restore_errors().is_empty(),
            "{:?}",
            registry.restore_errors()
        );
        assert!(
            registry.unclaimed().is_empty(),
            "{:?}",
            registry.unclaimed()
        );
        input.advance_to(start);
        // A restored dataflow catches up with the cut before the rest is fed, as the cut one had.
        worker.step_while(|| probe.less_than(input.time()));
        for ((key, value, time), at) in &feed {
            if index == 0 {
                input.send(Event::new(*time, (*key, *value)));
            }
            if *at > *input.time() {
                input.advance_to(*at);
            }
            input.flush();
            worker.step_while(|| probe.less_than(input.time()));
        }
        let snapshot = if close {
            input.close();
            worker.step_while(|| !probe.done());
            None
        } else {
            // The cut: every operator's frontier has reached the input time, nothing later was fed.
            worker.step_while(|| probe.less_than(input.time()));
            let snapshot = registry.snapshot();
            drop(input);
            Some(snapshot)
        };
        // What came out up to here (a run that stops at the cut ends when its input closes: its
        // end-of-input firings belong to no run).
        let out: Vec<_> = captured.try_iter().collect();
        slot.lock().unwrap().push((index, out, snapshot));
    })
    .unwrap()
    .join();
    let mut results = std::mem::take(&mut *result.lock().unwrap());
    results.sort_by_key(|(index, _, _)| *index);
    let mut out: Vec<(EventTime, Out)> = Vec::new();
    let mut snapshots = Vec::new();
    for (_, captured, snapshot) in results {
        out.extend(captured.into_iter().flat_map(|event| match event {
            CaptureEvent::Messages(stamp, events) => {
                let time = *stamp.expect_singleton();
                events.into_iter().map(|e| (time, e.data)).collect()
            }
            CaptureEvent::Progress(_) => Vec::new(),
        }));
        snapshots.extend(snapshot);
    }
    out.sort();
    (out, (!snapshots.is_empty()).then_some(snapshots))
}

/// The uninterrupted run's output equals the output of a run cut at record `cut` and resumed from its
/// snapshot; with a budget of one timer per activation the output is the same too.
fn check(recs: &[Rec], delay: u64, cut: usize, build: impl Build) -> Result<(), TestCaseError> {
    let times = schedule(recs, delay);
    let n = recs.len();
    // A cut is where the input time moves on after a record: every record before it was sent at an
    // earlier time, so the frontier can reach the cut before anything after it is fed.
    let before = |i: usize| if i == 0 { START } else { times[i - 1] };
    let cut = (cut.min(n)..=n)
        .find(|&c| c > 0 && times[c - 1] > before(c - 1))
        .unwrap_or(0);
    let start = if cut == 0 { START } else { times[cut - 1] };
    let unbounded = WorkBudget::unbounded();
    let (whole, _) = run(
        recs,
        &times,
        0..n,
        START,
        true,
        1,
        None,
        unbounded,
        build.clone(),
    );
    let (fed, _) = run(
        recs,
        &times,
        0..n,
        START,
        true,
        1,
        None,
        WorkBudget::timers(1),
        build.clone(),
    );
    prop_assert_eq!(
        &fed,
        &whole,
        "a budget of one timer per activation changed the output"
    );
    // Cut and resumed on one worker, and, rescaled, cut on `a` workers and resumed on `b`.
    let rescale = [(2, 3), (3, 1), (1, 2)][cut % 3];
    for (a, b) in [(1, 1), rescale] {
        let (mut first, snapshots) = run(
            recs,
            &times,
            0..cut,
            START,
            false,
            a,
            None,
            unbounded,
            build.clone(),
        );
        let (rest, _) = run(
            recs,
            &times,
            cut..n,
            start,
            true,
            b,
            snapshots,
            WorkBudget::timers(2),
            build.clone(),
        );
        first.extend(rest);
        first.sort();
        prop_assert_eq!(
            first,
            whole.clone(),
            "snapshot on {} workers and restore on {} at record {} changed the output",
            a,
            b,
            cut
        );
    }
    Ok(())
}

fn text<T: std::fmt::Debug>(t: T) -> String {
    format!("{t:?}")
}

fn records() -> impl Strategy<Value = Vec<Rec>> {
    prop::collection::vec((0u8..4, -5i64..6, -1500i64..1500), 0..50)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn running_state(recs in records(), delay in 0u64..300, cut in 0usize..50) {
        check(&recs, delay, cut, |s| s.map_with_state("Sum", || 0i64, |k, sum, v| { *sum += v; Some(text((*k, *sum))) }).map(Ok))?;
    }

    #[test]
    fn state_with_event_time_ttl(recs in records(), delay in 0u64..300, cut in 0usize..50) {
        use caudal_operators::process::Ttl;
        check(&recs, delay, cut, |s| {
            s.map_with_state_ttl("Count", || 0u64, |k, n, _| { *n += 1; Some(text((*k, *n))) }, Ttl::EventTime(400)).map(Ok)
        })?;
    }

    #[test]
    fn tumbling_windows_with_lateness(recs in records(), delay in 0u64..300, cut in 0usize..50) {
        check(&recs, delay, cut, |s| {
            let (fired, late) = s.window(TimeWindows::tumbling(500, 0).unwrap(), 200, Sum);
            fired.map(|r| Ok(text(r))).union([late.map(|l| Err(text(l)))])
        })?;
    }

    #[test]
    fn sliding_windows(recs in records(), delay in 0u64..300, cut in 0usize..50) {
        check(&recs, delay, cut, |s| {
            let (fired, late) = s.window(TimeWindows::sliding(900, 300, 50).unwrap(), 0, collect());
            fired.map(|r| Ok(text(r))).union([late.map(|l| Err(text(l)))])
        })?;
    }

    #[test]
    fn sliding_windows_with_inverse(recs in records(), delay in 0u64..300, cut in 0usize..50) {
        check(&recs, delay, cut, |s| {
            let (fired, late) = s.window_with_inverse(TimeWindows::sliding(1000, 250, 0).unwrap(), 100, Sum, |acc: &mut i64, pane: &i64| *acc -= pane);
            fired.map(|r| Ok(text(r))).union([late.map(|l| Err(text(l)))])
        })?;
    }

    #[test]
    fn session_windows(recs in records(), delay in 0u64..300, cut in 0usize..50) {
        check(&recs, delay, cut, |s| {
            let (fired, late) = s.session_window(150, 100, Sum);
            fired.map(|r| Ok(text(r))).union([late.map(|l| Err(text(l)))])
        })?;
    }

    #[test]
    fn marker_sessions(recs in records(), delay in 0u64..300, cut in 0usize..50) {
        check(&recs, delay, cut, |s| {
            let markers = s.map(|(k, v)| (k, match v { -5 | -4 => Marker::Start, 5 => Marker::End, v => Marker::Record(v) }));
            let (fired, late) = markers.marker_session(200, Count);
            fired.map(|r| Ok(text(r))).union([late.map(|l| Err(text(l)))])
        })?;
    }

    #[test]
    fn window_joins(recs in records(), delay in 0u64..300, cut in 0usize..50) {
        check(&recs, delay, cut, |s| {
            let left = s.clone().filter(|(_, v)| *v >= 0);
            let right = s.filter(|(_, v)| *v < 0);
            let (rows, late) = left.window_join(right, TimeWindows::tumbling(400, 0).unwrap(), 100, JoinKind::FullOuter);
            rows.map(|r| Ok(text(r))).union([late.map(|l| Err(text(l)))])
        })?;
    }

    #[test]
    fn epochs_with_state(recs in records(), delay in 0u64..300, cut in 0usize..50) {
        use caudal_operators::epoch::EpochOps;
        use timely::dataflow::operators::vec::Map;
        check(&recs, delay, cut, |s| {
            // A batch layer's step: per epoch, the running sum so far and the epoch's records.
            let epochs = s.inner.map(|e| e.data).per_epoch("RunningSum", 0i64, |sum, epoch, mut batch: Vec<(u8, i64)>| {
                batch.sort();
                *sum += batch.iter().map(|r| r.1).sum::<i64>();
                Some(text((epoch, *sum, batch)))
            });
            EventStream::new(epochs.map(|x| Event::new(0, Ok(x))))
        })?;
    }

    #[test]
    fn interval_joins(recs in records(), delay in 0u64..300, cut in 0usize..50) {
        check(&recs, delay, cut, |s| {
            let left = s.clone().filter(|(_, v)| *v >= 0);
            let right = s.filter(|(_, v)| *v < 0);
            let (rows, late) = left.interval_join(right, 100, 50);
            rows.map(|r| Ok(text(r))).union([late.map(|l| Err(text(l)))])
        })?;
    }
}

fn sum(s: EventStream<'_, (u8, i64)>) -> EventStream<'_, Out> {
    let (fired, _) = s.window(TimeWindows::tumbling(500, 0).unwrap(), 0, Sum);
    fired.map(|r| Ok(text(r)))
}

fn count(s: EventStream<'_, (u8, i64)>) -> EventStream<'_, Out> {
    let (fired, _) = s.window(TimeWindows::tumbling(500, 0).unwrap(), 0, Count);
    fired.map(|r| Ok(text(r)))
}

/// Builds `build` on a fresh worker that restores `snapshot`; returns what the register refused.
fn restore_errors(
    snapshot: WorkerSnapshot,
    build: impl Build,
) -> Vec<caudal_operators::shell::RestoreError> {
    std::thread::spawn(move || {
        let registry = StateRegistry::current();
        registry.restore_from(snapshot);
        timely::execute_directly(move |worker| {
            let mut input: EventInput<(u8, i64)> = EventInput::new();
            worker.dataflow::<EventTime, _, _>(|scope| {
                build(EventStream::new(scope.input_from(&mut input)));
            });
        });
        registry.restore_errors()
    })
    .join()
    .unwrap()
}

#[test]
fn processing_time_windows_resume_their_panes_and_timers() {
    // Day-long windows of the processing clock: every record of the test lands in the same window,
    // which fires at the end of the input, in the restored run as in the uninterrupted one. Which
    // processing time fired it (`watermark`) and the timely time are left out.
    fn build(s: EventStream<'_, (u8, i64)>) -> EventStream<'_, Out> {
        let day = TimeWindows::tumbling(86_400_000, 0).unwrap();
        s.processing_time_window(day, Sum)
            .map(|r| Ok(text((r.key, r.window, r.value, r.firing))))
    }
    let recs: Vec<Rec> = (0..40).map(|i| ((i % 3) as u8, i, i * 50)).collect();
    let times = schedule(&recs, 0);
    let unbounded = WorkBudget::unbounded();
    let untimed = |out: Vec<(EventTime, Out)>| {
        let mut out: Vec<Out> = out.into_iter().map(|(_, o)| o).collect();
        out.sort();
        out
    };
    let (whole, _) = run(&recs, &times, 0..40, START, true, 1, None, unbounded, build);
    let (first, snapshot) = run(
        &recs,
        &times,
        0..20,
        START,
        false,
        1,
        None,
        unbounded,
        build,
    );
    assert!(first.is_empty(), "nothing fires before the end: {first:?}");
    let (rest, _) = run(
        &recs,
        &times,
        20..40,
        times[19],
        true,
        1,
        snapshot,
        unbounded,
        build,
    );
    let whole = untimed(whole);
    assert_eq!(whole.len(), 3);
    assert_eq!(untimed(rest), whole);
}

#[test]
fn a_snapshot_of_another_operator_is_refused_with_its_name() {
    let recs: Vec<Rec> = (0..20).map(|i| (i as u8 % 3, 1, i * 100)).collect();
    let times = schedule(&recs, 0);
    let (_, snapshot) = run(
        &recs,
        &times,
        0..10,
        START,
        false,
        1,
        None,
        WorkBudget::unbounded(),
        sum,
    );
    let snapshot = snapshot.unwrap().remove(0);
    assert_eq!(snapshot.operators.len(), 1);
    let (id, part) = snapshot.operators.iter().next().unwrap();
    assert_eq!(id.name, "TumblingWindow");
    assert!(
        part.operator_type.contains("FixedWindowOperator"),
        "{}",
        part.operator_type
    );

    // The same place in the dataflow, another operator: the part is refused, not misread.
    let errors = restore_errors(snapshot.clone(), count);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].reason.contains("the snapshot is of a"),
        "{}",
        errors[0]
    );
    assert!(
        errors[0].to_string().contains("TumblingWindow"),
        "{}",
        errors[0]
    );

    // Damaged bytes are refused too.
    let mut damaged = snapshot;
    for part in damaged.operators.values_mut() {
        part.bytes.truncate(part.bytes.len() / 2);
    }
    let errors = restore_errors(damaged, sum);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].reason.contains("does not decode"),
        "{}",
        errors[0]
    );
}
