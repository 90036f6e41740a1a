//! Marker sessions: a start record opens a session for its key, an end record closes it, and a gap
//! without records closes it anyway (the lecture's "comments per class": a class is opened and closed by
//! records, and two hours without a comment close it).
//!
//! Such sessions depend on the order of records, and timely guarantees frontiers, not arrival order, so
//! each key stashes its records by event time (in the shell's state) and applies them in time order,
//! ties in arrival order, once the frontier has passed them: each stashed time is a shell timer of the
//! key, and so is the open session's timeout. For a key:
//! * `Start` at `t` opens `[t, ..)`, closing the key's running session at `t` first;
//! * `Record(v)` joins the open session (and moves its timeout);
//! * `End` at `t` closes the session as `[start, t + 1)`: the end marker is its last instant;
//! * with no record for `gap` after the session's last one, it closes as `[start, last + gap)`.
//!
//! A closed session fires once, when the frontier passes its end, with the aggregation of its records.
//! The late output carries the records no session could take: those already behind the watermark when
//! read (`time < frontier`), and records or end markers outside any session.

use std::hash::Hash;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use timely::ExchangeData;

use super::aggregate::Aggregate;
use super::assign::Window;
use super::{at_frontier, result_time, WindowResult, Windowed};
use crate::shell::{Context, KeyedOperator, Timer};
use crate::stream::EventStream;
use crate::time::{span_ms, EventTime};

/// A record of a marker-session stream.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Marker<V> {
    /// Opens a session for the key.
    Start,
    /// A record that belongs to the key's open session.
    Record(V),
    /// Closes the key's session.
    End,
}

/// A key's open session.
#[derive(Debug, Serialize, Deserialize)]
#[serde(bound = "Acc: Serialize + DeserializeOwned")]
struct Open<Acc> {
    start: i64,
    last: i64,
    acc: Acc,
}

/// One key's state: its open session, and its records waiting for the frontier, by time.
#[derive(Debug, Serialize, Deserialize)]
#[serde(bound = "Acc: Serialize + DeserializeOwned, V: Serialize + DeserializeOwned")]
pub struct MarkerState<V, Acc> {
    open: Option<Open<Acc>>,
    stash: Vec<(i64, Marker<V>)>,
}

/// The marker-session operator: what does not vary by key.
struct MarkerSessionOperator<A> {
    gap: i64,
    agg: A,
}

/// The context a marker-session operator gets from the shell.
type Ctx<'c, K, V, A> = Context<
    'c,
    K,
    Marker<V>,
    MarkerState<V, <A as Aggregate<V>>::Acc>,
    WindowResult<K, <A as Aggregate<V>>::Out>,
>;

impl<A> MarkerSessionOperator<A> {
    /// Emits the closing of `session` as `[start, end)`.
    fn close<K, V>(&self, key: K, session: Open<A::Acc>, end: i64, ctx: &mut Ctx<'_, K, V, A>)
    where
        A: Aggregate<V>,
    {
        let window = Window::new(session.start, end);
        let result = WindowResult {
            key,
            window,
            value: self.agg.result(&session.acc),
            firing: 1,
            watermark: ctx.watermark(),
        };
        ctx.output.emit(result_time(&window), result);
    }
}

impl<K, V, A> KeyedOperator<K, Marker<V>> for MarkerSessionOperator<A>
where
    K: Hash + Eq + Clone + 'static,
    V: Serialize + DeserializeOwned + 'static,
    A: Aggregate<V>,
{
    type State = MarkerState<V, A::Acc>;
    type Out = WindowResult<K, A::Out>;
    const LATE_ON_TIMER: bool = true;

    fn on_record(
        &mut self,
        key: K,
        marker: Marker<V>,
        time: EventTime,
        ctx: &mut Ctx<'_, K, V, A>,
    ) {
        if time < ctx.read_at() {
            ctx.output.late(key, marker, time);
            return;
        }
        let state = ctx.states.get_or_insert_with(key.clone(), || MarkerState {
            open: None,
            stash: Vec::new(),
        });
        let t = time;
        // After the records of the same time already stashed: ties keep their arrival order.
        let at = state.stash.partition_point(|(s, _)| *s <= t);
        state.stash.insert(at, (t, marker));
        ctx.timers.set(key, Timer::EventTime(time));
    }

    fn on_timer(&mut self, key: K, timer: Timer, ctx: &mut Ctx<'_, K, V, A>) {
        let Timer::EventTime(now) = timer else {
            return;
        };
        let limit = now.saturating_add(1);
        let gap = self.gap;
        let Some(mut state) = ctx.states.remove(&key) else {
            return;
        };
        // Apply the records the frontier has passed, in time order.
        let ready = state.stash.partition_point(|(t, _)| *t < limit);
        for (t, marker) in state.stash.drain(..ready) {
            if let Some(session) = state.open.take() {
                if t >= session.last.saturating_add(gap) {
                    let end = session.last.saturating_add(gap);
                    self.close(key.clone(), session, end, ctx);
                } else {
                    state.open = Some(session);
                }
            }
            match marker {
                Marker::Start => {
                    if let Some(session) = state.open.take() {
                        self.close(key.clone(), session, t, ctx);
                    }
                    state.open = Some(Open {
                        start: t,
                        last: t,
                        acc: self.agg.create(),
                    });
                    ctx.timers
                        .set(key.clone(), at_frontier(t.saturating_add(gap)));
                }
                Marker::Record(value) => match state.open.as_mut() {
                    Some(session) => {
                        self.agg.add(&mut session.acc, value);
                        session.last = t;
                        ctx.timers
                            .set(key.clone(), at_frontier(t.saturating_add(gap)));
                    }
                    None => ctx.output.late(key.clone(), Marker::Record(value), t),
                },
                Marker::End => match state.open.take() {
                    Some(session) => self.close(key.clone(), session, t.saturating_add(1), ctx),
                    None => ctx.output.late(key.clone(), Marker::End, t),
                },
            }
        }
        // The session's gap has passed with no record.
        if let Some(session) = state.open.take() {
            let end = session.last.saturating_add(gap);
            if end <= limit {
                self.close(key.clone(), session, end, ctx);
            } else {
                state.open = Some(session);
            }
        }
        if state.open.is_some() || !state.stash.is_empty() {
            ctx.states.insert(key, state);
        }
    }
}

impl<'scope, K, V> EventStream<'scope, (K, Marker<V>)>
where
    K: ExchangeData + Hash + Eq + Clone,
    V: ExchangeData,
{
    /// Sessions opened and closed by markers, or closed after `gap_ms` without records; see the
    /// module documentation.
    pub fn marker_session<A: Aggregate<V>>(
        self,
        gap_ms: u64,
        agg: A,
    ) -> Windowed<'scope, K, Marker<V>, A::Out> {
        self.keyed_operator(
            "MarkerSession",
            MarkerSessionOperator {
                gap: span_ms(gap_ms),
                agg,
            },
        )
    }
}
