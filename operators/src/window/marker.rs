//! Marker sessions: a start record opens a session for its key, an end record closes it, and a gap
//! without records closes it anyway (the lecture's "comments per class": a class is opened and closed by
//! records, and two hours without a comment close it).
//!
//! Such sessions depend on the order of records, and timely guarantees frontiers, not arrival order, so
//! records are stashed by event time and applied in time order once the frontier has passed them (ties
//! in arrival order). For a key:
//! * `Start` at `t` opens `[t, ..)`, closing the key's running session at `t` first;
//! * `Record(v)` joins the open session (and moves its timeout);
//! * `End` at `t` closes the session as `[start, t + 1)`: the end marker is its last instant;
//! * with no record for `gap` after the session's last one, it closes as `[start, last + gap)`.
//!
//! A closed session fires once, when the frontier passes its end, with the aggregation of its records.
//! The late output carries the records no session could take: those already behind the watermark when
//! read (`time < frontier`), and records or end markers outside any session.

use std::collections::BTreeMap;
use std::hash::Hash;

use rustc_hash::FxHashMap;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::Capability;
use timely::ExchangeData;

use super::aggregate::Aggregate;
use super::assign::Window;
use super::{result_time, LateRecord, WindowOutput, WindowResult, END_OF_INPUT};
use crate::hash::route;
use crate::stream::EventStream;
use crate::time::{Event, EventTime};

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

/// One output record of a marker-session operator.
type MarkerOutput<K, V, O> = Event<WindowOutput<K, Marker<V>, O>>;

/// A key's open session: what a checkpoint saves of the operator, with the stash.
#[derive(Serialize, Deserialize)]
#[serde(bound = "Acc: Serialize + DeserializeOwned")]
struct Open<Acc> {
    start: i64,
    last: i64,
    acc: Acc,
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
    ) -> EventStream<'scope, WindowOutput<K, Marker<V>, A::Out>> {
        let gap = gap_ms as i64;
        let pact = Exchange::new(|e: &Event<(K, Marker<V>)>| route(&e.data.0));
        let stream = self
            .inner
            .unary_frontier(pact, "MarkerSession", move |_cap, _info| {
                // Records waiting for the frontier to pass their time, in arrival order per time.
                let mut stash: BTreeMap<EventTime, Vec<(K, Marker<V>)>> = BTreeMap::new();
                let mut open: FxHashMap<K, Open<A::Acc>> = FxHashMap::default();
                // Session end (last + gap) -> keys; stale when the session has moved on.
                let mut timeouts: BTreeMap<i64, Vec<K>> = BTreeMap::new();
                // Held at the earliest stashed time or session timeout result, whichever is first.
                let mut held: Option<Capability<EventTime>> = None;
                move |(input, frontier), output| {
                    input.for_each(|cap, data| {
                        let now = *cap.least().expect("a message has a time");
                        for Event {
                            time,
                            data: (key, marker),
                        } in data.drain(..)
                        {
                            if time < now {
                                output.session(&cap).give(Event::new(
                                    time,
                                    WindowOutput::Late(LateRecord {
                                        key,
                                        value: marker,
                                        time,
                                    }),
                                ));
                                continue;
                            }
                            stash.entry(time).or_default().push((key, marker));
                            if held.as_ref().is_none_or(|h| time < *h.time()) {
                                held = Some(cap.delayed(&time, 0));
                            }
                        }
                    });
                    let limit = frontier.frontier().first().map_or(i64::MAX, |f| *f as i64);
                    let watermark = if limit == i64::MAX {
                        END_OF_INPUT
                    } else {
                        limit - 1
                    };
                    let mut results: Vec<MarkerOutput<K, V, A::Out>> = Vec::new();
                    let close = |key: K, session: Open<A::Acc>, end: i64, results: &mut Vec<_>| {
                        let window = Window::new(session.start, end);
                        let result = WindowResult {
                            key,
                            window,
                            value: agg.result(&session.acc),
                            firing: 1,
                            watermark,
                        };
                        results.push(Event::new(
                            result_time(&window),
                            WindowOutput::Fired(result),
                        ));
                    };
                    // Apply the records the frontier has passed, in time order.
                    while let Some((&time, _)) = stash
                        .first_key_value()
                        .filter(|(t, _)| (**t as i64) < limit)
                    {
                        let (_, records) = stash.pop_first().expect("checked");
                        let t = time as i64;
                        for (key, marker) in records {
                            if let Some(session) = open.remove(&key) {
                                if t >= session.last + gap {
                                    let end = session.last + gap;
                                    close(key.clone(), session, end, &mut results);
                                } else {
                                    open.insert(key.clone(), session);
                                }
                            }
                            match marker {
                                Marker::Start => {
                                    if let Some(session) = open.remove(&key) {
                                        close(key.clone(), session, t, &mut results);
                                    }
                                    open.insert(
                                        key.clone(),
                                        Open {
                                            start: t,
                                            last: t,
                                            acc: agg.create(),
                                        },
                                    );
                                    timeouts.entry(t + gap).or_default().push(key);
                                }
                                Marker::Record(value) => match open.get_mut(&key) {
                                    Some(session) => {
                                        agg.add(&mut session.acc, value);
                                        session.last = t;
                                        timeouts.entry(t + gap).or_default().push(key);
                                    }
                                    None => results.push(Event::new(
                                        time,
                                        WindowOutput::Late(LateRecord {
                                            key,
                                            value: Marker::Record(value),
                                            time,
                                        }),
                                    )),
                                },
                                Marker::End => match open.remove(&key) {
                                    Some(session) => close(key, session, t + 1, &mut results),
                                    None => results.push(Event::new(
                                        time,
                                        WindowOutput::Late(LateRecord {
                                            key,
                                            value: Marker::End,
                                            time,
                                        }),
                                    )),
                                },
                            }
                        }
                    }
                    // Sessions whose gap has passed with no record.
                    while let Some((&end, _)) =
                        timeouts.first_key_value().filter(|(end, _)| **end <= limit)
                    {
                        let (_, keys) = timeouts.pop_first().expect("checked");
                        for key in keys {
                            if open.get(&key).is_some_and(|s| s.last + gap == end) {
                                let session = open.remove(&key).expect("checked");
                                close(key, session, end, &mut results);
                            }
                        }
                    }
                    // All at the held time, in one container: it is at most every result's event time.
                    if let Some(held_cap) = held.as_ref() {
                        output.session(held_cap).give_container(&mut results);
                    }
                    // The next result can come from a stashed record or a timeout.
                    let next_stash = stash.first_key_value().map(|(t, _)| *t);
                    let next_timeout = timeouts
                        .first_key_value()
                        .map(|(end, _)| (*end - 1).max(0) as EventTime);
                    match next_stash.into_iter().chain(next_timeout).min() {
                        Some(next) => {
                            if let Some(h) = held.as_mut().filter(|h| *h.time() < next) {
                                h.downgrade(&next);
                            }
                        }
                        None => held = None,
                    }
                }
            });
        EventStream::new(stream)
    }
}
