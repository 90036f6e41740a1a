//! [`Context`]: what a keyed operator sees while it handles a record or a timer.

use std::hash::Hash;

use super::state::KeyedState;
use super::timers::{Timer, TimerQueue};
use super::LateRecord;
use crate::time::{Event, EventTime};

/// What a keyed operator sees while it handles a record or a timer: every key's state, the timers, the
/// outputs, and the time. Its parts are separate fields so that an operator can hold a key's state while
/// it emits and sets timers.
pub struct Context<'a, K, V, S, O> {
    /// The state of every key this worker owns.
    pub states: &'a mut KeyedState<K, S>,
    /// Sets timers.
    pub timers: Timers<'a, K>,
    /// Emits results and late records.
    pub output: Output<'a, K, V, O>,
    read_at: EventTime,
    watermark: i64,
}

impl<'a, K, V, S, O> Context<'a, K, V, S, O> {
    pub(crate) fn new(
        states: &'a mut KeyedState<K, S>,
        timers: &'a mut TimerQueue<K>,
        out: &'a mut Vec<Event<O>>,
        late: &'a mut Vec<Event<LateRecord<K, V>>>,
        read_at: EventTime,
        watermark: i64,
    ) -> Self {
        Context {
            states,
            timers: Timers(timers),
            output: Output { out, late },
            read_at,
            watermark,
        }
    }

    /// For a record: the timely time of its message, that is the watermark when it was read plus one
    /// (sources send at watermark + 1); lateness is judged against it, so that results do not depend on
    /// how the worker interleaves data and progress. For a timer: the time its results go out at.
    #[inline]
    pub fn read_at(&self) -> EventTime {
        self.read_at
    }

    /// The operator's watermark now: its input frontier minus one, `i64::MIN` before anything is
    /// complete (Flink's initial watermark), and [`crate::time::END_OF_INPUT`] once the input has ended.
    #[inline]
    pub fn watermark(&self) -> i64 {
        self.watermark
    }
}

/// Sets a keyed operator's timers.
pub struct Timers<'a, K>(&'a mut TimerQueue<K>);

impl<K: Hash + Eq + Clone> Timers<'_, K> {
    /// Asks for [`super::KeyedOperator::on_timer`] for `key` when `timer` comes due, once per key and
    /// timer. A timer already due fires in the operator's next firing pass.
    #[inline]
    pub fn set(&mut self, key: K, timer: Timer) {
        self.0.set(key, timer);
    }
}

/// Emits a keyed operator's results and late records.
pub struct Output<'a, K, V, O> {
    out: &'a mut Vec<Event<O>>,
    late: &'a mut Vec<Event<LateRecord<K, V>>>,
}

impl<K, V, O> Output<'_, K, V, O> {
    /// Emits `out` with event time `time`.
    #[inline]
    pub fn emit(&mut self, time: EventTime, out: O) {
        self.out.push(Event::new(time, out));
    }

    /// Sends a record that came too late to the late output, with its key and event time.
    #[inline]
    pub fn late(&mut self, key: K, value: V, time: EventTime) {
        self.late
            .push(Event::new(time, LateRecord { key, value, time }));
    }
}
