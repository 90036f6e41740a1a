//! Replaying a recorded event log through a window operator, one event at a time, as Flink does with
//! a watermark computed after every event (the format of `caudal replay`, see the conformance specs).
//!
//! Each record is sent at the current frontier (watermark + 1), the watermark then moves as the
//! strategy says, and the worker steps until the operator has caught up, so every firing reports the
//! exact watermark that caused it. At the end the input closes: an infinite watermark.

use timely::dataflow::operators::capture::event::Event as CaptureEvent;
use timely::dataflow::operators::{Capture, Input, Probe};
use timely::dataflow::ProbeHandle;

use crate::stream::{EventInput, EventStream};
use crate::time::{frontier_of_watermark, Event, EventTime};

/// One entry of a recorded log.
#[derive(Clone, Debug, PartialEq)]
pub enum LogEntry<K, V> {
    /// A record.
    Record {
        /// Its key.
        key: K,
        /// Its value.
        value: V,
        /// Its event time: signed ms since the Unix epoch, negative before 1970.
        time: EventTime,
    },
    /// An explicit watermark: no more records at or before it (any event time, before 1970 too).
    Watermark(EventTime),
}

/// How the replay's watermark follows the records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayWatermark {
    /// After each record, `max(time seen) - out_of_orderness - 1` (explicit markers count too).
    Bounded {
        /// The out-of-orderness bound, in ms.
        out_of_orderness_ms: u64,
    },
    /// Only explicit markers move the watermark.
    Explicit,
}

/// What replaying a window operator gives: its firings and its late records, each in order.
pub type Replayed<K, V, O> = (
    Vec<crate::window::WindowResult<K, O>>,
    Vec<crate::window::LateRecord<K, V>>,
);

/// Replays `log` through the operators `build` makes, on one worker, and returns everything they
/// emitted, in order.
pub fn replay<K, V, O, F>(log: Vec<LogEntry<K, V>>, watermark: ReplayWatermark, build: F) -> Vec<O>
where
    K: Send + Sync + Clone + 'static,
    V: Send + Sync + Clone + 'static,
    O: Send + Clone + 'static,
    F: for<'s> FnOnce(EventStream<'s, (K, V)>) -> EventStream<'s, O> + Send + Sync + 'static,
{
    let (out, _none) = replay_windowed::<K, V, O, (), _>(log, watermark, move |records| {
        let scope = records.scope();
        (
            build(records),
            EventStream::new(timely::dataflow::operators::generic::operator::empty(scope)),
        )
    });
    out
}

/// Replays `log` through the operators `build` makes (a window operator, with its results and its
/// late records), on one worker, and returns everything each of the two streams carried, in order.
pub fn replay_windowed<K, V, O, L, F>(
    log: Vec<LogEntry<K, V>>,
    watermark: ReplayWatermark,
    build: F,
) -> (Vec<O>, Vec<L>)
where
    K: Send + Sync + Clone + 'static,
    V: Send + Sync + Clone + 'static,
    O: Send + Clone + 'static,
    L: Send + Clone + 'static,
    F: for<'s> FnOnce(EventStream<'s, (K, V)>) -> (EventStream<'s, O>, EventStream<'s, L>)
        + Send
        + Sync
        + 'static,
{
    timely::execute_directly(move |worker| {
        let mut input: EventInput<(K, V)> = EventInput::new();
        let probe = ProbeHandle::new();
        let captured = worker.dataflow::<EventTime, _, _>(|scope| {
            let records = EventStream::new(scope.input_from(&mut input));
            let (out, late) = build(records);
            (
                out.inner.probe_with(&probe).capture(),
                late.inner.probe_with(&probe).capture(),
            )
        });
        let mut max_seen: Option<EventTime> = None;
        for entry in log {
            let frontier = match entry {
                LogEntry::Record { key, value, time } => {
                    input.send(Event::new(time, (key, value)));
                    max_seen = Some(max_seen.map_or(time, |m| m.max(time)));
                    match watermark {
                        ReplayWatermark::Bounded {
                            out_of_orderness_ms,
                        } => {
                            // frontier = watermark + 1 = max - B (never below the current one).
                            max_seen.map(|m| m.saturating_sub_unsigned(out_of_orderness_ms))
                        }
                        ReplayWatermark::Explicit => None,
                    }
                }
                LogEntry::Watermark(w) => Some(frontier_of_watermark(w)),
            };
            if let Some(frontier) = frontier.filter(|f| *f > *input.time()) {
                input.advance_to(frontier);
            }
            input.flush();
            worker.step_while(|| probe.less_than(input.time()));
        }
        input.close();
        while worker.step() {}
        (drain(captured.0), drain(captured.1))
    })
}

/// Everything a captured stream carried, in order.
fn drain<D>(captured: std::sync::mpsc::Receiver<CaptureEvent<EventTime, Vec<Event<D>>>>) -> Vec<D> {
    captured
        .try_iter()
        .flat_map(|event| match event {
            CaptureEvent::Messages(_, records) => records,
            CaptureEvent::Progress(_) => Vec::new(),
        })
        .map(|e| e.data)
        .collect()
}
