//! Session windows with a gap per key, closed by the frontier.
//!
//! A record at `t` opens `[t, t + gap)`; sessions of a key that intersect or touch merge (records at 0,
//! 500 and 1000 with a gap of 500 make one session `[0, 1500)`), so a session ends `gap` after its last
//! record. A late record can bridge two sessions into one, even two that have fired. Lateness is judged
//! on the merged session, as Flink does: if even the merged session is past its cleanup time, the
//! record is late and nothing changes. The merged session fires when the frontier passes its end, or at
//! once if the watermark already has. State per key is a sorted list of disjoint sessions, each with
//! its accumulator; a key with no session left is forgotten.
//!
//! With a monotonic watermark, a session ending at `e` fires as soon as any record at `e` is read; a
//! record of the same key at exactly `e`, which would touch it, then starts a new session, unless it was
//! read in the same activation. That is Flink's rule too (lateness is judged at arrival), but it makes
//! results depend on how records are grouped: give such streams 1 ms of bounded out-of-orderness, and
//! every record at `e` is read before the session can fire.

use std::hash::Hash;

use rustc_hash::FxHashMap;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use timely::dataflow::operators::InputCapability;
use timely::ExchangeData;

use super::aggregate::Aggregate;
use super::assign::Window;
use super::timers::Timers;
use super::{keyed_window_operator, KeyedWindows, Out};
use super::{result_time, LateRecord, WindowOutput, WindowResult, END_OF_INPUT};
use crate::stream::EventStream;
use crate::time::{Event, EventTime};

/// One session of a key: what a checkpoint saves of the operator.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound = "Acc: Serialize + DeserializeOwned")]
pub(crate) struct Session<Acc> {
    window: Window,
    acc: Acc,
    firings: u32,
    /// Waiting for the frontier to pass its end.
    pending: bool,
}

/// The session operator's state on one worker.
struct SessionWindows<K, A: Aggregate<V>, V> {
    gap: i64,
    lateness: i64,
    agg: A,
    keys: FxHashMap<K, Vec<Session<A::Acc>>>,
    timers: Timers<K>,
    /// Results of the current pass, handed to timely together.
    out: Vec<Event<WindowOutput<K, V, A::Out>>>,
    _value: std::marker::PhantomData<fn(V)>,
}

/// Adds one firing of `session` to the pass's results.
fn fire<K: Clone, V, A: Aggregate<V>>(
    agg: &A,
    key: &K,
    session: &mut Session<A::Acc>,
    watermark: i64,
    out: &mut Vec<Event<WindowOutput<K, V, A::Out>>>,
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
    out.push(Event::new(
        result_time(&session.window),
        WindowOutput::Fired(result),
    ));
}

impl<K, V, A> KeyedWindows<K, V, A::Out> for SessionWindows<K, A, V>
where
    K: Hash + Eq + Clone + 'static,
    V: 'static,
    A: Aggregate<V>,
{
    fn on_record(
        &mut self,
        key: K,
        value: V,
        time: EventTime,
        now: EventTime,
        cap: &InputCapability<EventTime>,
    ) {
        let (t, c) = (time as i64, now as i64);
        let new = Window::new(t, t + self.gap);
        let sessions = self.keys.entry(key.clone()).or_default();
        // The sessions `new` intersects or touches are contiguous in the sorted list.
        let lo = sessions.partition_point(|s| s.window.end < new.start);
        let hi = sessions.partition_point(|s| s.window.start <= new.end);
        let merged = sessions[lo..hi].iter().fold(new, |m, s| {
            Window::new(m.start.min(s.window.start), m.end.max(s.window.end))
        });
        if merged.end + self.lateness <= c {
            if sessions.is_empty() {
                self.keys.remove(&key);
            }
            self.out.push(Event::new(
                time,
                WindowOutput::Late(LateRecord { key, value, time }),
            ));
            return;
        }
        let mut acc = self.agg.create();
        let mut unchanged = None;
        for mut old in sessions.drain(lo..hi) {
            if old.pending && old.window.end <= c {
                // The watermark passed it before this record came: it fires first, as it was.
                fire(&self.agg, &key, &mut old, c - 1, &mut self.out);
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
            fire(&self.agg, &key, &mut session, c - 1, &mut self.out);
        } else if !was_pending {
            session.pending = true;
            self.timers.fire_at(merged.end, key.clone(), cap);
        }
        if unchanged.is_none() {
            self.timers
                .clean_at(merged.end + self.lateness, key.clone());
        }
        sessions.insert(lo, session);
    }

    fn on_frontier(&mut self, frontier: Option<EventTime>, out: &mut Out<'_, K, V, A::Out>) {
        let limit = frontier.map_or(i64::MAX, |f| f as i64);
        let watermark = frontier.map_or(END_OF_INPUT, |f| f as i64 - 1);
        while let Some((end, keys, cap)) = self.timers.next_firing(limit) {
            for key in keys {
                let Some(sessions) = self.keys.get_mut(&key) else {
                    continue;
                };
                // The entry is stale if the session has merged into another or has fired.
                if let Some(session) = sessions
                    .iter_mut()
                    .find(|s| s.pending && s.window.end == end)
                {
                    fire(&self.agg, &key, session, watermark, &mut self.out);
                }
            }
            out.session(&cap).give_container(&mut self.out);
            self.out.clear();
        }
        self.timers.settle();
        while let Some(keys) = self.timers.next_cleanup(limit) {
            for key in keys {
                if let Some(sessions) = self.keys.get_mut(&key) {
                    sessions.retain(|s| s.pending || s.window.end + self.lateness > limit);
                    if sessions.is_empty() {
                        self.keys.remove(&key);
                    }
                }
            }
        }
    }

    fn results(&mut self) -> &mut Vec<Event<WindowOutput<K, V, A::Out>>> {
        &mut self.out
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
    ) -> EventStream<'scope, WindowOutput<K, V, A::Out>>
    where
        A: Aggregate<V>,
    {
        assert!(gap_ms > 0, "a session gap must be positive");
        keyed_window_operator(
            self,
            "SessionWindow",
            SessionWindows {
                gap: gap_ms as i64,
                lateness: allowed_lateness_ms as i64,
                agg,
                keys: FxHashMap::default(),
                timers: Timers::default(),
                out: Vec::new(),
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
