//! The interval join: a right record `b` joins a left record `a` of the same key when
//! `a.time - before <= b.time <= a.time + after` (Flink's `intervalJoin().between(-before, after)`).
//!
//! Each side buffers its records per key; a record joins the other side's buffer as it arrives, so
//! results leave at once (at event time `max(a.time, b.time)`), and is buffered for the records still to
//! come. A left record can still match until the watermark passes `a.time + after`, a right one until it
//! passes `b.time + before`; then it is dropped. A record already behind the watermark when read
//! (`time < watermark`, as in Flink) is late: it joins nothing and goes to the late output.

use std::collections::BTreeMap;
use std::hash::Hash;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::core::OkErr;
use timely::dataflow::operators::generic::Operator;
use timely::ExchangeData;

use crate::hash::route;
use crate::stream::EventStream;
use crate::time::{Event, EventTime};
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

/// What the interval join emits.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
enum IntervalOutput<K, A, B> {
    Joined(IntervalJoined<K, A, B>),
    Late(LateRecord<K, Side<A, B>>),
}

/// Both sides' buffered records of one key: what a checkpoint saves of the operator.
#[derive(Serialize, Deserialize)]
struct Buffers<A, B> {
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
        let left_pact = Exchange::new(|e: &Event<(K, A)>| route(&e.data.0));
        let right_pact = Exchange::new(|e: &Event<(K, B)>| route(&e.data.0));
        let out = self.inner.binary_frontier::<_, CapacityContainerBuilder<Vec<Event<IntervalOutput<K, A, B>>>>, _, _, _, _>(
            other.inner,
            left_pact,
            right_pact,
            "IntervalJoin",
            move |_cap, _info| {
            let mut buffers: FxHashMap<K, Buffers<A, B>> = FxHashMap::default();
            // Frontier at which a key's buffers may shrink.
            let mut cleanup_at: BTreeMap<EventTime, Vec<K>> = BTreeMap::new();
            move |(left, left_frontier), (right, right_frontier), output| {
                left.for_each(|cap, data| {
                    let watermark = cap.least().expect("a message has a time").saturating_sub(1);
                    let mut session = output.session(&cap);
                    for Event { time, data: (key, a) } in data.drain(..) {
                        if time < watermark {
                            session.give(Event::new(time, IntervalOutput::Late(LateRecord { key, value: Side::Left(a), time })));
                            continue;
                        }
                        let state = buffers.entry(key.clone()).or_default();
                        let (from, to) = (time.saturating_sub(before_ms), time.saturating_add(after_ms));
                        for (tb, b) in state.right.iter().filter(|(tb, _)| (from..=to).contains(tb)) {
                            let joined = IntervalJoined { key: key.clone(), left: (time, a.clone()), right: (*tb, b.clone()) };
                            session.give(Event::new(time.max(*tb), IntervalOutput::Joined(joined)));
                        }
                        state.left.push((time, a));
                        cleanup_at.entry(to.saturating_add(1)).or_default().push(key);
                    }
                });
                right.for_each(|cap, data| {
                    let watermark = cap.least().expect("a message has a time").saturating_sub(1);
                    let mut session = output.session(&cap);
                    for Event { time, data: (key, b) } in data.drain(..) {
                        if time < watermark {
                            session.give(Event::new(time, IntervalOutput::Late(LateRecord { key, value: Side::Right(b), time })));
                            continue;
                        }
                        let state = buffers.entry(key.clone()).or_default();
                        // a.time - before <= b.time <= a.time + after  <=>  b.time - after <= a.time <= b.time + before
                        let (from, to) = (time.saturating_sub(after_ms), time.saturating_add(before_ms));
                        for (ta, a) in state.left.iter().filter(|(ta, _)| (from..=to).contains(ta)) {
                            let joined = IntervalJoined { key: key.clone(), left: (*ta, a.clone()), right: (time, b.clone()) };
                            session.give(Event::new(time.max(*ta), IntervalOutput::Joined(joined)));
                        }
                        state.right.push((time, b));
                        cleanup_at.entry(to.saturating_add(1)).or_default().push(key);
                    }
                });
                // A record not yet late has a time of at least the watermark, the lesser frontier minus
                // one: a buffered record whose span ends before it can match nothing more.
                let frontier = [left_frontier, right_frontier]
                    .iter()
                    .map(|f| f.frontier().first().copied().unwrap_or(EventTime::MAX))
                    .min()
                    .expect("two inputs");
                let watermark = frontier.saturating_sub(1);
                while let Some((_, keys)) = cleanup_at.first_key_value().filter(|(at, _)| **at <= watermark) {
                    let keys = keys.clone();
                    cleanup_at.pop_first();
                    for key in keys {
                        if let Some(state) = buffers.get_mut(&key) {
                            state.left.retain(|(ta, _)| ta.saturating_add(after_ms) >= watermark);
                            state.right.retain(|(tb, _)| tb.saturating_add(before_ms) >= watermark);
                            if state.left.is_empty() && state.right.is_empty() {
                                buffers.remove(&key);
                            }
                        }
                    }
                }
            }
            },
        );
        let (joined, late) =
            out.ok_err::<Vec<_>, _, Vec<_>, _, _>(|e: Event<IntervalOutput<K, A, B>>| {
                match e.data {
                    IntervalOutput::Joined(j) => Ok(Event::new(e.time, j)),
                    IntervalOutput::Late(l) => Err(Event::new(e.time, l)),
                }
            });
        (EventStream::new(joined), EventStream::new(late))
    }
}
