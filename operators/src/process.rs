//! Keyed process functions: per-key state and per-key timers that fire on the frontier (event time) or
//! on the processing clock, as Flink's `KeyedProcessFunction`.
//!
//! Built on the keyed-operator shell ([`crate::shell`]). For each record, [`KeyedProcess::on_record`]
//! sees the key's state (an `Option`: `None` until set, and setting it back to `None` frees it) and may
//! emit results and set timers. An event-time timer at `t` fires once the watermark reaches `t` (the
//! frontier passes it); a processing-time timer fires once the processing clock
//! ([`crate::time::wall_clock_ms`]) reaches it, through an activation, not a polling loop. At the end of
//! the input every pending timer fires, event-time and processing-time alike. Time-to-live ([`Ttl`]) is
//! built on these timers. States and timers are in milliseconds and serializable, so checkpoints save
//! them and a restarted process resumes them.

use std::hash::Hash;
use std::marker::PhantomData;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use timely::ExchangeData;

use crate::shell::{Context, KeyedOperator};
use crate::stream::EventStream;
use crate::time::{wall_clock_ms, EventTime};

pub use crate::shell::Timer;

/// What a process function sees of one key: its state, the time, and ways to emit and set timers.
pub struct KeyContext<'a, K, S, O> {
    key: &'a K,
    state: &'a mut Option<S>,
    time: EventTime,
    shell: &'a mut dyn Shell<K, O>,
}

/// The part of the shell's [`Context`] a process function reaches through its [`KeyContext`].
trait Shell<K, O> {
    fn emit(&mut self, time: EventTime, out: O);
    fn set_timer(&mut self, key: K, timer: Timer);
    fn watermark(&self) -> i64;
}

impl<K: Hash + Eq + Clone, V, S, O> Shell<K, O> for Context<'_, K, V, S, O> {
    fn emit(&mut self, time: EventTime, out: O) {
        self.output.emit(time, out);
    }
    fn set_timer(&mut self, key: K, timer: Timer) {
        self.timers.set(key, timer);
    }
    fn watermark(&self) -> i64 {
        Context::watermark(self)
    }
}

impl<K: Clone, S, O> KeyContext<'_, K, S, O> {
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

    /// The watermark of the operator (`i64::MIN` before any, as Flink's).
    pub fn watermark(&self) -> i64 {
        self.shell.watermark()
    }

    /// Emits `out` at the current event time.
    pub fn emit(&mut self, out: O) {
        self.shell.emit(self.time, out);
    }

    /// Emits `out` at event time `time`.
    pub fn emit_at(&mut self, time: EventTime, out: O) {
        self.shell.emit(time, out);
    }

    /// Asks for [`KeyedProcess::on_timer`] once the watermark reaches `at` (once per key and time).
    pub fn set_event_timer(&mut self, at: EventTime) {
        self.shell.set_timer(self.key.clone(), Timer::EventTime(at));
    }

    /// Asks for [`KeyedProcess::on_timer`] once `after` has passed on the processing clock; returns the
    /// processing time (ms since the Unix epoch) the timer will carry.
    pub fn set_processing_timer(&mut self, after: Duration) -> u64 {
        let at = wall_clock_ms().saturating_add(after.as_millis() as u64);
        self.shell
            .set_timer(self.key.clone(), Timer::ProcessingTime(at));
        at
    }
}

/// Per-key logic with state and timers.
pub trait KeyedProcess<K, V>: 'static {
    /// The state kept per key; serializable, so that checkpoints can save it.
    type State: Serialize + DeserializeOwned + 'static;
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
    /// Until this long has passed on the processing clock since the last update.
    ProcessingTime(Duration),
}

/// A [`KeyedProcess`] as a keyed operator: the key's state is taken out of the shell's map for the
/// call, and put back unless the function cleared it.
struct ProcessOperator<P, V> {
    process: P,
    _value: PhantomData<fn(V)>,
}

impl<P, V> ProcessOperator<P, V> {
    fn with_key<K: Hash + Eq + Clone>(
        ctx: &mut Context<'_, K, V, P::State, P::Out>,
        key: K,
        time: EventTime,
        call: impl FnOnce(&mut KeyContext<'_, K, P::State, P::Out>),
    ) where
        P: KeyedProcess<K, V>,
    {
        let mut state = ctx.states.remove(&key);
        call(&mut KeyContext {
            key: &key,
            state: &mut state,
            time,
            shell: ctx,
        });
        if let Some(state) = state {
            ctx.states.insert(key, state);
        }
    }
}

impl<K, V, P> KeyedOperator<K, V> for ProcessOperator<P, V>
where
    K: Hash + Eq + Clone + 'static,
    V: 'static,
    P: KeyedProcess<K, V>,
{
    type State = P::State;
    type Out = P::Out;
    const DISTINCT_TIMERS: bool = true;

    fn on_record(
        &mut self,
        key: K,
        value: V,
        time: EventTime,
        ctx: &mut Context<'_, K, V, P::State, P::Out>,
    ) {
        let process = &mut self.process;
        Self::with_key(ctx, key, time, |kc| process.on_record(value, kc));
    }

    fn on_timer(&mut self, key: K, timer: Timer, ctx: &mut Context<'_, K, V, P::State, P::Out>) {
        // An event-time timer runs at its own time; a processing-time one at the watermark's.
        let time = match timer {
            Timer::EventTime(t) => t,
            Timer::ProcessingTime(_) => ctx.read_at(),
        };
        let process = &mut self.process;
        Self::with_key(ctx, key, time, |kc| process.on_timer(timer, kc));
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
        self.keyed_operator(
            name,
            ProcessOperator {
                process,
                _value: PhantomData,
            },
        )
        .0
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
        S: Serialize + DeserializeOwned + 'static,
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
                _types: PhantomData,
            },
        )
    }
}

/// [`EventStream::map_with_state_ttl`] as a process function: the state with the time it expires.
struct TtlState<I, L, S, O> {
    init: I,
    logic: L,
    ttl: Ttl,
    _types: PhantomData<fn(S) -> O>,
}

/// When a state expires, in the time domain of its time-to-live.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Expiry {
    EventTime(EventTime),
    ProcessingTime(u64),
}

impl<K, V, S, O, I, L> KeyedProcess<K, V> for TtlState<I, L, S, O>
where
    K: Hash + Eq + Clone,
    S: Serialize + DeserializeOwned + 'static,
    O: 'static,
    I: Fn() -> S + 'static,
    L: FnMut(&K, &mut S, V) -> Option<O> + 'static,
{
    type State = (S, Expiry);
    type Out = O;

    fn on_record(&mut self, value: V, ctx: &mut KeyContext<'_, K, Self::State, O>) {
        let expiry = match self.ttl {
            Ttl::EventTime(ms) => {
                let at = ctx.time().saturating_add_unsigned(ms);
                ctx.set_event_timer(at);
                Expiry::EventTime(at)
            }
            Ttl::ProcessingTime(after) => Expiry::ProcessingTime(ctx.set_processing_timer(after)),
        };
        let key = ctx.key;
        let (state, old_expiry) = ctx
            .state
            .get_or_insert_with(|| ((self.init)(), Expiry::EventTime(EventTime::MIN)));
        let out = (self.logic)(key, state, value);
        // An out-of-order record does not shorten the state's life.
        *old_expiry = match (*old_expiry, expiry) {
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
