//! Session windows with a gap per key, closed by the frontier.
//!
//! A record at `t` opens `[t, t + gap)`; sessions of a key that intersect or touch merge (records at 0,
//! 500 and 1000 with a gap of 500 make one session `[0, 1500)`), so a session ends `gap` after its last
//! record. A late record can bridge two sessions into one, even two that have fired. Lateness is judged
//! on the merged session, as Flink does: if even the merged session is past its cleanup time, the
//! record is late and nothing changes. The merged session fires when the frontier passes its end, or at
//! once if the watermark already has. State per key (in the shell) is a sorted list of disjoint
//! sessions, each with its accumulator; a session's end and its cleanup time are shell timers of the
//! key, and a key with no session left is forgotten.
//!
//! With a monotonic watermark, a session ending at `e` fires as soon as any record at `e` is read; a
//! record of the same key at exactly `e`, which would touch it, then starts a new session, unless it
//! came in the same message (the message's time is its sender's watermark plus one, and the shell
//! fires the timers due before it first). That is Flink's rule too (lateness is judged at arrival), but
//! it makes results depend on how a source groups records into messages: give such streams 1 ms of
//! bounded out-of-orderness, and every record at `e` comes before the session can fire.

use std::hash::Hash;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use timely::ExchangeData;

use super::aggregate::Aggregate;
use super::assign::Window;
use super::{at_frontier, result_time, WindowResult, Windowed};
use crate::shell::{Context, KeyedOperator, Output, Timer};
use crate::stream::EventStream;
use crate::time::{span_ms, EventTime};

/// One session of a key.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound = "Acc: Serialize + DeserializeOwned")]
pub struct Session<Acc> {
    window: Window,
    acc: Acc,
    firings: u32,
    /// Waiting for the frontier to pass its end.
    pending: bool,
}

/// The session-window operator: what does not vary by key.
struct SessionWindowOperator<A, V> {
    gap: i64,
    lateness: i64,
    agg: A,
    _value: std::marker::PhantomData<fn(V)>,
}

/// Emits one firing of `session`.
fn fire<K: Clone, V, A: Aggregate<V>>(
    agg: &A,
    key: &K,
    session: &mut Session<A::Acc>,
    watermark: i64,
    out: &mut Output<'_, K, V, WindowResult<K, A::Out>>,
) {
    session.firings += 1;
    session.pending = false;
    let result = WindowResult {
        key: key.clone(),
        window: session.window,
        value: agg.result(&session.acc),
        firing: session.firings,
        watermark,
    };
    out.emit(result_time(&session.window), result);
}

/// The context a session-window operator gets from the shell.
type Ctx<'c, K, V, A> = Context<
    'c,
    K,
    V,
    Vec<Session<<A as Aggregate<V>>::Acc>>,
    WindowResult<K, <A as Aggregate<V>>::Out>,
>;

impl<K, V, A> KeyedOperator<K, V> for SessionWindowOperator<A, V>
where
    K: Hash + Eq + Clone + 'static,
    V: 'static,
    A: Aggregate<V>,
{
    type State = Vec<Session<A::Acc>>;
    type Out = WindowResult<K, A::Out>;

    fn on_record(&mut self, key: K, value: V, time: EventTime, ctx: &mut Ctx<'_, K, V, A>) {
        let (t, c) = (time, ctx.read_at());
        let new = Window::new(t, t.saturating_add(self.gap));
        let sessions = ctx.states.get_or_insert_with(key.clone(), Vec::new);
        // The sessions `new` intersects or touches are contiguous in the sorted list.
        let lo = sessions.partition_point(|s| s.window.end < new.start);
        let hi = sessions.partition_point(|s| s.window.start <= new.end);
        let merged = sessions[lo..hi].iter().fold(new, |m, s| {
            Window::new(m.start.min(s.window.start), m.end.max(s.window.end))
        });
        if merged.end.saturating_add(self.lateness) <= c {
            if sessions.is_empty() {
                ctx.states.remove(&key);
            }
            ctx.output.late(key, value, time);
            return;
        }
        let mut acc = self.agg.create();
        let mut unchanged = None;
        for mut old in sessions.drain(lo..hi) {
            if old.pending && old.window.end <= c {
                // The watermark passed it before this record came: it fires first, as it was.
                fire(
                    &self.agg,
                    &key,
                    &mut old,
                    c.saturating_sub(1),
                    &mut ctx.output,
                );
            }
            if old.window == merged {
                unchanged = Some((old.firings, old.pending));
            }
            self.agg.merge(&mut acc, &old.acc);
        }
        self.agg.add(&mut acc, value);
        let (firings, was_pending) = unchanged.unwrap_or((0, false));
        let mut session = Session {
            window: merged,
            acc,
            firings,
            pending: was_pending,
        };
        if merged.end <= c {
            fire(
                &self.agg,
                &key,
                &mut session,
                c.saturating_sub(1),
                &mut ctx.output,
            );
        } else if !was_pending {
            session.pending = true;
            ctx.timers.set(key.clone(), at_frontier(merged.end));
        }
        if unchanged.is_none() {
            ctx.timers.set(
                key.clone(),
                at_frontier(merged.end.saturating_add(self.lateness)),
            );
        }
        sessions.insert(lo, session);
    }

    fn on_timer(&mut self, key: K, timer: Timer, ctx: &mut Ctx<'_, K, V, A>) {
        let Timer::EventTime(t) = timer else {
            return;
        };
        let limit = t.saturating_add(1);
        let watermark = ctx.watermark();
        let Some(sessions) = ctx.states.get_mut(&key) else {
            return;
        };
        // A session that merged into another or has fired has no firing left at its old end.
        for session in sessions
            .iter_mut()
            .filter(|s| s.pending && s.window.end <= limit)
        {
            fire(&self.agg, &key, session, watermark, &mut ctx.output);
        }
        sessions.retain(|s| s.pending || s.window.end.saturating_add(self.lateness) > limit);
        if sessions.is_empty() {
            ctx.states.remove(&key);
        }
    }
}

impl<'scope, K, V> EventStream<'scope, (K, V)>
where
    K: ExchangeData + Hash + Eq + Clone,
    V: ExchangeData,
{
    /// Aggregates each key's records in session windows that close after `gap_ms` without a record.
    ///
    /// Lateness and output are as for [`EventStream::window`]; a session fires when the frontier
    /// passes its end (its last record plus the gap).
    pub fn session_window<A>(
        self,
        gap_ms: u64,
        allowed_lateness_ms: u64,
        agg: A,
    ) -> Windowed<'scope, K, V, A::Out>
    where
        A: Aggregate<V>,
    {
        assert!(gap_ms > 0, "a session gap must be positive");
        self.keyed_operator(
            "SessionWindow",
            SessionWindowOperator {
                gap: span_ms(gap_ms),
                lateness: span_ms(allowed_lateness_ms),
                agg,
                _value: std::marker::PhantomData,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_round_trip_through_serde() {
        let sessions = vec![Session {
            window: Window::new(0, 1500),
            acc: vec![1i64, 2],
            firings: 1,
            pending: false,
        }];
        let back: Vec<Session<Vec<i64>>> =
            serde_json::from_str(&serde_json::to_string(&sessions).unwrap()).unwrap();
        assert_eq!(back, sessions);
    }
}
