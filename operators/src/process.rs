//! Keyed process functions: per-key state and per-key timers that fire on the frontier (event time) or
//! on the wall clock (processing time), as Flink's `KeyedProcessFunction`.
//!
//! Records are exchanged by key. For each record, [`KeyedProcess::on_record`] sees the key's state (an
//! `Option`: `None` until set, and setting it back to `None` frees it) and may emit results and set
//! timers. An event-time timer at `t` fires once the watermark reaches `t` (the frontier passes it); a
//! processing-time timer fires once the wall clock passes it, through an activation, not a polling loop.
//! At the end of the input every pending timer fires, event-time and processing-time alike.
//! Time-to-live ([`Ttl`]) is built on these timers.

use std::collections::BTreeMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

use rustc_hash::{FxHashMap, FxHashSet};
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::Capability;
use timely::ExchangeData;

use crate::hash::route;
use crate::stream::EventStream;
use crate::time::{Event, EventTime};

/// A timer that fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// An event-time timer: the watermark has reached this time.
    EventTime(EventTime),
    /// A processing-time timer: the wall clock has passed this instant.
    ProcessingTime(Instant),
}

/// What a process function sees of one key: its state, the time, and ways to emit and set timers.
pub struct KeyContext<'a, K, S, O> {
    key: &'a K,
    state: &'a mut Option<S>,
    time: EventTime,
    watermark: i64,
    out: &'a mut Vec<Event<O>>,
    timers: &'a mut Vec<Timer>,
}

impl<K, S, O> KeyContext<'_, K, S, O> {
    /// The key.
    pub fn key(&self) -> &K {
        self.key
    }

    /// The key's state: `None` until set; set it to `None` to free it.
    pub fn state(&mut self) -> &mut Option<S> {
        self.state
    }

    /// The event time of the record, or of the event-time timer, being handled.
    pub fn time(&self) -> EventTime {
        self.time
    }

    /// The watermark of the operator (`-1` before any).
    pub fn watermark(&self) -> i64 {
        self.watermark
    }

    /// Emits `out` at the current event time.
    pub fn emit(&mut self, out: O) {
        self.out.push(Event::new(self.time, out));
    }

    /// Emits `out` at event time `time`.
    pub fn emit_at(&mut self, time: EventTime, out: O) {
        self.out.push(Event::new(time, out));
    }

    /// Asks for [`KeyedProcess::on_timer`] once the watermark reaches `at` (once per key and time).
    pub fn set_event_timer(&mut self, at: EventTime) {
        self.timers.push(Timer::EventTime(at));
    }

    /// Asks for [`KeyedProcess::on_timer`] once `after` has passed on the wall clock; returns the
    /// instant the timer will carry.
    pub fn set_processing_timer(&mut self, after: Duration) -> Instant {
        let at = Instant::now() + after;
        self.timers.push(Timer::ProcessingTime(at));
        at
    }
}

/// Per-key logic with state and timers.
pub trait KeyedProcess<K, V>: 'static {
    /// The state kept per key.
    type State: 'static;
    /// What it emits.
    type Out: 'static;
    /// Handles one record of the key.
    fn on_record(&mut self, value: V, ctx: &mut KeyContext<'_, K, Self::State, Self::Out>);
    /// Handles a timer the key set.
    fn on_timer(&mut self, _timer: Timer, _ctx: &mut KeyContext<'_, K, Self::State, Self::Out>) {}
}

/// How long a key's state lives after its last update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ttl {
    /// Until the watermark passes the last update's event time plus this many ms.
    EventTime(u64),
    /// Until this long has passed on the wall clock since the last update.
    ProcessingTime(Duration),
}

/// The process operator's state on one worker.
struct ProcessState<K, P: KeyedProcess<K, V>, V> {
    process: P,
    states: FxHashMap<K, P::State>,
    event_timers: BTreeMap<EventTime, FxHashSet<K>>,
    processing_timers: BTreeMap<Instant, Vec<K>>,
    out: Vec<Event<P::Out>>,
    requests: Vec<Timer>,
    _value: std::marker::PhantomData<fn(V)>,
}

impl<K: Hash + Eq + Clone, V, P: KeyedProcess<K, V>> ProcessState<K, P, V> {
    /// Runs `call` for `key` with its state, then files the timers it set.
    fn with_key(
        &mut self,
        key: K,
        time: EventTime,
        watermark: i64,
        call: impl FnOnce(&mut P, &mut KeyContext<'_, K, P::State, P::Out>),
    ) {
        let mut state = self.states.remove(&key);
        let mut ctx = KeyContext {
            key: &key,
            state: &mut state,
            time,
            watermark,
            out: &mut self.out,
            timers: &mut self.requests,
        };
        call(&mut self.process, &mut ctx);
        for timer in self.requests.drain(..) {
            match timer {
                Timer::EventTime(at) => {
                    self.event_timers.entry(at).or_default().insert(key.clone());
                }
                Timer::ProcessingTime(at) => self
                    .processing_timers
                    .entry(at)
                    .or_default()
                    .push(key.clone()),
            }
        }
        if let Some(state) = state {
            self.states.insert(key, state);
        }
    }
}

impl<'scope, K, V> EventStream<'scope, (K, V)>
where
    K: ExchangeData + Hash + Eq + Clone,
    V: ExchangeData,
{
    /// Runs `process` on every key's records, with per-key state and timers.
    pub fn process_by_key<P: KeyedProcess<K, V>>(
        self,
        name: &str,
        process: P,
    ) -> EventStream<'scope, P::Out> {
        let scope = self.scope();
        let pact = Exchange::new(|e: &Event<(K, V)>| route(&e.data.0));
        let stream = self.inner.unary_frontier(pact, name, move |cap, info| {
            let activator = scope.activator_for(info.address.clone());
            let mut op = ProcessState {
                process,
                states: FxHashMap::default(),
                event_timers: BTreeMap::new(),
                processing_timers: BTreeMap::new(),
                out: Vec::new(),
                requests: Vec::new(),
                _value: std::marker::PhantomData,
            };
            // Held at the lesser of the input frontier and the earliest event timer + 1, so that
            // timers can emit; dropped when the input has ended and no event timer is left.
            let mut held: Option<Capability<EventTime>> = Some(cap);
            // The earliest processing-time activation armed, and the last frontier seen.
            let mut armed: Option<Instant> = None;
            let mut last_frontier: EventTime = 0;
            move |(input, frontier), output| {
                let input_frontier = frontier.frontier().first().copied();
                let watermark = input_frontier.map_or(i64::MAX, |f| f as i64 - 1);
                input.for_each(|cap, data| {
                    for Event {
                        time,
                        data: (key, value),
                    } in data.drain(..)
                    {
                        op.with_key(key, time, watermark, |p, ctx| p.on_record(value, ctx));
                    }
                    output.session(&cap).give_container(&mut op.out);
                    op.out.clear();
                });
                // Event-time timers the watermark has reached.
                let limit = input_frontier.unwrap_or(EventTime::MAX);
                while let Some((&at, _)) = op
                    .event_timers
                    .first_key_value()
                    .filter(|(at, _)| **at < limit)
                {
                    let (_, keys) = op.event_timers.pop_first().expect("checked");
                    for key in keys {
                        op.with_key(key, at, watermark, |p, ctx| {
                            p.on_timer(Timer::EventTime(at), ctx)
                        });
                    }
                    if let Some(held) = held.as_ref() {
                        let cap = held.delayed(&(at + 1).max(*held.time()));
                        output.session(&cap).give_container(&mut op.out);
                    }
                    op.out.clear();
                }
                // Processing-time timers the clock has passed; all of them once the input has ended.
                let now = Instant::now();
                if let Some(f) = input_frontier {
                    last_frontier = f;
                }
                while let Some((&at, _)) = op
                    .processing_timers
                    .first_key_value()
                    .filter(|(at, _)| **at <= now || input_frontier.is_none())
                {
                    let (_, keys) = op.processing_timers.pop_first().expect("checked");
                    for key in keys {
                        op.with_key(key, last_frontier, watermark, |p, ctx| {
                            p.on_timer(Timer::ProcessingTime(at), ctx)
                        });
                    }
                    if let Some(held) = held.as_ref() {
                        output.session(held).give_container(&mut op.out);
                    }
                    op.out.clear();
                }
                // Timely keeps every timer it is given: arm one only if it is earlier than the one armed.
                if armed.is_some_and(|at| at <= now) {
                    armed = None;
                }
                if let Some((&next, _)) = op.processing_timers.first_key_value() {
                    if armed.is_none_or(|at| next < at) {
                        activator.activate_after(next.saturating_duration_since(now));
                        armed = Some(next);
                    }
                }
                // Move the held capability up, or let it go.
                let earliest_timer = op.event_timers.first_key_value().map(|(at, _)| at + 1);
                match (input_frontier, earliest_timer) {
                    (None, None) => held = None,
                    (f, t) => {
                        let target = f.unwrap_or(EventTime::MAX).min(t.unwrap_or(EventTime::MAX));
                        if let Some(held) = held.as_mut().filter(|h| *h.time() < target) {
                            held.downgrade(&target);
                        }
                    }
                }
            }
        });
        EventStream::new(stream)
    }

    /// Like [`EventStream::map_with_state`], but a key's state is dropped once `ttl` has passed since
    /// its last update, so that a key that stops appearing stops costing memory; its next record starts
    /// from `init` again.
    pub fn map_with_state_ttl<S, O, I, L>(
        self,
        name: &str,
        init: I,
        logic: L,
        ttl: Ttl,
    ) -> EventStream<'scope, O>
    where
        S: 'static,
        O: 'static,
        I: Fn() -> S + 'static,
        L: FnMut(&K, &mut S, V) -> Option<O> + 'static,
    {
        self.process_by_key(
            name,
            TtlState {
                init,
                logic,
                ttl,
                _types: std::marker::PhantomData,
            },
        )
    }
}

/// [`EventStream::map_with_state_ttl`] as a process function: the state with the time it expires.
struct TtlState<I, L, S, O> {
    init: I,
    logic: L,
    ttl: Ttl,
    _types: std::marker::PhantomData<fn(S) -> O>,
}

/// When a state expires, in the time domain of its time-to-live.
enum Expiry {
    EventTime(EventTime),
    ProcessingTime(Instant),
}

impl<K, V, S, O, I, L> KeyedProcess<K, V> for TtlState<I, L, S, O>
where
    S: 'static,
    O: 'static,
    I: Fn() -> S + 'static,
    L: FnMut(&K, &mut S, V) -> Option<O> + 'static,
{
    type State = (S, Expiry);
    type Out = O;

    fn on_record(&mut self, value: V, ctx: &mut KeyContext<'_, K, Self::State, O>) {
        let expiry = match self.ttl {
            Ttl::EventTime(ms) => {
                let at = ctx.time().saturating_add(ms);
                ctx.set_event_timer(at);
                Expiry::EventTime(at)
            }
            Ttl::ProcessingTime(after) => Expiry::ProcessingTime(ctx.set_processing_timer(after)),
        };
        let key = ctx.key;
        let (state, old_expiry) = ctx
            .state
            .get_or_insert_with(|| ((self.init)(), Expiry::EventTime(0)));
        let out = (self.logic)(key, state, value);
        // An out-of-order record does not shorten the state's life.
        *old_expiry = match (std::mem::replace(old_expiry, Expiry::EventTime(0)), expiry) {
            (Expiry::EventTime(a), Expiry::EventTime(b)) => Expiry::EventTime(a.max(b)),
            (_, new) => new,
        };
        if let Some(out) = out {
            ctx.emit(out);
        }
    }

    fn on_timer(&mut self, timer: Timer, ctx: &mut KeyContext<'_, K, Self::State, O>) {
        let expired = match (ctx.state.as_ref().map(|s| &s.1), timer) {
            (Some(Expiry::EventTime(at)), Timer::EventTime(now)) => *at <= now,
            (Some(Expiry::ProcessingTime(at)), Timer::ProcessingTime(now)) => *at <= now,
            _ => false,
        };
        if expired {
            *ctx.state() = None;
        }
    }
}
