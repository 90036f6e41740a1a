//! The interval join: a right record `b` joins a left record `a` of the same key when
//! `a.time - before <= b.time <= a.time + after` (Flink's `intervalJoin().between(-before, after)`).
//!
//! Both sides are tagged ([`Side`]) and merged, and the keyed-operator shell ([`crate::shell`]) runs the
//! join on the merged stream, whose frontier is the lesser of the two inputs'. Each key buffers its
//! records of both sides (the shell's state); a record joins the other side's buffer as it arrives, so
//! results leave at once (at event time `max(a.time, b.time)`), and is buffered for the records still to
//! come. A left record can still match until the watermark passes `a.time + after`, a right one until it
//! passes `b.time + before`; then a shell timer of the key drops it. A record already behind the
//! watermark when read (`time < watermark`, as in Flink) is late: it joins nothing and goes to the late
//! output.

use std::hash::Hash;

use serde::{Deserialize, Serialize};
use timely::ExchangeData;

use crate::shell::{Context, KeyedOperator, Timer};
use crate::stream::EventStream;
use crate::time::EventTime;
use crate::window::join::Side;
use crate::window::LateRecord;

/// One pair of an interval join.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct IntervalJoined<K, A, B> {
    /// The key.
    pub key: K,
    /// The left record and its event time.
    pub left: (EventTime, A),
    /// The right record and its event time.
    pub right: (EventTime, B),
}

/// Both sides' buffered records of one key.
#[derive(Debug, Serialize, Deserialize)]
pub struct Buffers<A, B> {
    left: Vec<(EventTime, A)>,
    right: Vec<(EventTime, B)>,
}

impl<A, B> Default for Buffers<A, B> {
    fn default() -> Self {
        Buffers {
            left: Vec::new(),
            right: Vec::new(),
        }
    }
}

/// The interval join: its bounds.
struct IntervalJoinOperator {
    before_ms: u64,
    after_ms: u64,
}

impl<K, A, B> KeyedOperator<K, Side<A, B>> for IntervalJoinOperator
where
    K: Hash + Eq + Clone + Serialize + for<'de> Deserialize<'de> + 'static,
    A: Clone + Serialize + for<'de> Deserialize<'de> + 'static,
    B: Clone + Serialize + for<'de> Deserialize<'de> + 'static,
{
    type State = Buffers<A, B>;
    type Out = IntervalJoined<K, A, B>;

    fn on_record(
        &mut self,
        key: K,
        value: Side<A, B>,
        time: EventTime,
        ctx: &mut Context<'_, K, Side<A, B>, Buffers<A, B>, IntervalJoined<K, A, B>>,
    ) {
        if time < ctx.read_at().saturating_sub(1) {
            ctx.output.late(key, value, time);
            return;
        }
        let (before, after) = (self.before_ms, self.after_ms);
        let state = ctx.states.get_or_insert_with(key.clone(), Buffers::default);
        // a.time - before <= b.time <= a.time + after  <=>  b.time - after <= a.time <= b.time + before
        let last_match = match value {
            Side::Left(a) => {
                let span =
                    time.saturating_sub_unsigned(before)..=time.saturating_add_unsigned(after);
                for (tb, b) in state.right.iter().filter(|(tb, _)| span.contains(tb)) {
                    let joined = IntervalJoined {
                        key: key.clone(),
                        left: (time, a.clone()),
                        right: (*tb, b.clone()),
                    };
                    ctx.output.emit(time.max(*tb), joined);
                }
                state.left.push((time, a));
                *span.end()
            }
            Side::Right(b) => {
                let span =
                    time.saturating_sub_unsigned(after)..=time.saturating_add_unsigned(before);
                for (ta, a) in state.left.iter().filter(|(ta, _)| span.contains(ta)) {
                    let joined = IntervalJoined {
                        key: key.clone(),
                        left: (*ta, a.clone()),
                        right: (time, b.clone()),
                    };
                    ctx.output.emit(time.max(*ta), joined);
                }
                state.right.push((time, b));
                *span.end()
            }
        };
        // Once the watermark passes the record's last possible partner, it can match nothing more.
        ctx.timers
            .set(key, Timer::EventTime(last_match.saturating_add(1)));
    }

    fn on_timer(
        &mut self,
        key: K,
        timer: Timer,
        ctx: &mut Context<'_, K, Side<A, B>, Buffers<A, B>, IntervalJoined<K, A, B>>,
    ) {
        let Timer::EventTime(watermark) = timer else {
            return;
        };
        let (before, after) = (self.before_ms, self.after_ms);
        if let Some(state) = ctx.states.get_mut(&key) {
            state
                .left
                .retain(|(ta, _)| ta.saturating_add_unsigned(after) >= watermark);
            state
                .right
                .retain(|(tb, _)| tb.saturating_add_unsigned(before) >= watermark);
            if state.left.is_empty() && state.right.is_empty() {
                ctx.states.remove(&key);
            }
        }
    }
}

impl<'scope, K, A> EventStream<'scope, (K, A)>
where
    K: ExchangeData + Hash + Eq + Clone,
    A: ExchangeData + Clone,
{
    /// Joins each left record with the right records of its key between `before_ms` before and
    /// `after_ms` after it; returns the pairs and the late records of both sides.
    #[allow(clippy::type_complexity)]
    pub fn interval_join<B: ExchangeData + Clone>(
        self,
        other: EventStream<'scope, (K, B)>,
        before_ms: u64,
        after_ms: u64,
    ) -> (
        EventStream<'scope, IntervalJoined<K, A, B>>,
        EventStream<'scope, LateRecord<K, Side<A, B>>>,
    ) {
        let left = self.map(|(k, a)| (k, Side::Left(a)));
        let right = other.map(|(k, b)| (k, Side::Right(b)));
        left.union([right]).keyed_operator(
            "IntervalJoin",
            IntervalJoinOperator {
                before_ms,
                after_ms,
            },
        )
    }
}
