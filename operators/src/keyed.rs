//! Keyed running state: each record updates its key's state and may emit at once.
//!
//! Records are exchanged by a hash of their key, so one worker owns each key; its state lives in a
//! [`KeyedState`], a hash map that serde can serialize (checkpoints snapshot it). Output leaves on the step
//! that receives the record, at the record's timely time: no frontier is waited for.

use std::hash::Hash;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;
use timely::ExchangeData;

use crate::hash::route;
use crate::stream::EventStream;
use crate::time::Event;

/// The state of every key a worker owns.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound(
    serialize = "K: Serialize + Eq + Hash, S: Serialize",
    deserialize = "K: Deserialize<'de> + Eq + Hash, S: Deserialize<'de>"
))]
pub struct KeyedState<K, S> {
    states: FxHashMap<K, S>,
}

impl<K: Eq + Hash, S> Default for KeyedState<K, S> {
    fn default() -> Self {
        KeyedState {
            states: FxHashMap::default(),
        }
    }
}

impl<K: Eq + Hash, S> KeyedState<K, S> {
    /// Runs `logic` on `key` and its state (created by `init` if absent): one hash lookup for a key that
    /// has state, and no clone of the key.
    #[inline]
    pub fn apply<R>(
        &mut self,
        key: K,
        init: impl FnOnce() -> S,
        logic: impl FnOnce(&K, &mut S) -> R,
    ) -> R {
        if let Some(state) = self.states.get_mut(&key) {
            return logic(&key, state);
        }
        let mut state = init();
        let result = logic(&key, &mut state);
        self.states.insert(key, state);
        result
    }

    /// The state of `key`, if any.
    pub fn get(&self, key: &K) -> Option<&S> {
        self.states.get(key)
    }

    /// Drops the state of `key` (for example when it expires).
    pub fn remove(&mut self, key: &K) -> Option<S> {
        self.states.remove(key)
    }

    /// How many keys have state.
    pub fn len(&self) -> usize {
        self.states.len()
    }

    /// Whether no key has state.
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }
}

impl<'scope, K, V> EventStream<'scope, (K, V)>
where
    K: ExchangeData + Hash + Eq,
    V: ExchangeData,
{
    /// For every record `(key, value)`, calls `logic(&key, &mut state, value)` on the key's state
    /// (created by `init` on the key's first record) and emits what it returns, at the record's event time.
    ///
    /// ```
    /// use caudal_operators::{Event, EventStream};
    /// use timely::dataflow::operators::{ToStream, Capture, capture::Extract};
    /// let out = timely::example(|scope| {
    ///     let input = vec![Event::new(1, ('a', 3u64)), Event::new(2, ('a', 4)), Event::new(3, ('b', 1))];
    ///     let s = EventStream::new(input.to_stream(scope));
    ///     s.map_with_state("Sum", || 0u64, |k, sum, v| { *sum += v; Some((*k, *sum)) }).inner.capture()
    /// });
    /// let mut got: Vec<_> = out.extract().into_iter().flat_map(|(_, v)| v).map(|e| e.data).collect();
    /// got.sort();
    /// assert_eq!(got, vec![('a', 3), ('a', 7), ('b', 1)]);
    /// ```
    pub fn map_with_state<S, O, I, L>(
        self,
        name: &str,
        init: I,
        mut logic: L,
    ) -> EventStream<'scope, O>
    where
        S: 'static,
        O: 'static,
        I: Fn() -> S + 'static,
        L: FnMut(&K, &mut S, V) -> Option<O> + 'static,
    {
        let pact = Exchange::new(|e: &Event<(K, V)>| route(&e.data.0));
        let stream = self.inner.unary(pact, name, move |_cap, _info| {
            let mut state: KeyedState<K, S> = KeyedState::default();
            move |input, output| {
                input.for_each(|cap, data| {
                    let mut session = output.session(&cap);
                    for Event {
                        time,
                        data: (key, value),
                    } in data.drain(..)
                    {
                        if let Some(out) = state.apply(key, &init, |k, s| logic(k, s, value)) {
                            session.give(Event { time, data: out });
                        }
                    }
                });
            }
        });
        EventStream::new(stream)
    }
}

impl<'scope, K, V> EventStream<'scope, (K, V)>
where
    K: ExchangeData + Hash + Eq + Clone,
    V: ExchangeData + Clone,
{
    /// Emits `(key, n)` for every record: how many records of its key have been seen so far.
    pub fn running_count(self) -> EventStream<'scope, (K, u64)> {
        self.map_with_state(
            "RunningCount",
            || 0u64,
            |key, n, _| {
                *n += 1;
                Some((key.clone(), *n))
            },
        )
    }

    /// Emits `(key, r)` for every record, with `r` the reduction by `reduce` of all its key's values so
    /// far (a running max is `running_reduce(|a, b| a.max(b))` on ordered values).
    pub fn running_reduce(
        self,
        mut reduce: impl FnMut(&V, &V) -> V + 'static,
    ) -> EventStream<'scope, (K, V)> {
        self.map_with_state(
            "RunningReduce",
            || None::<V>,
            move |key, acc, value| {
                let next = match acc.take() {
                    Some(prev) => reduce(&prev, &value),
                    None => value,
                };
                *acc = Some(next.clone());
                Some((key.clone(), next))
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use timely::dataflow::operators::capture::Extract;
    use timely::dataflow::operators::{Capture, ToStream};

    fn run<O: Ord + Clone + Send + 'static>(
        input: Vec<Event<(u32, i64)>>,
        body: impl FnOnce(EventStream<'_, (u32, i64)>) -> EventStream<'_, O> + Send + Sync + 'static,
    ) -> Vec<O> {
        let out = timely::example(move |scope| {
            body(EventStream::new(input.to_stream(scope)))
                .inner
                .capture()
        });
        let mut got: Vec<O> = out
            .extract()
            .into_iter()
            .flat_map(|(_, v)| v)
            .map(|e| e.data)
            .collect();
        got.sort();
        got
    }

    #[test]
    fn running_count_counts_each_key() {
        let input = vec![
            Event::new(1, (7, 0)),
            Event::new(2, (7, 0)),
            Event::new(3, (8, 0)),
            Event::new(4, (7, 0)),
        ];
        assert_eq!(
            run(input, |s| s.running_count()),
            vec![(7, 1), (7, 2), (7, 3), (8, 1)]
        );
    }

    #[test]
    fn running_reduce_keeps_a_running_max() {
        let input = vec![
            Event::new(1, (1, 5)),
            Event::new(2, (1, 3)),
            Event::new(3, (1, 9)),
            Event::new(4, (2, -1)),
        ];
        assert_eq!(
            run(input, |s| s.running_reduce(|a, b| *a.max(b))),
            vec![(1, 5), (1, 5), (1, 9), (2, -1)]
        );
    }

    #[test]
    fn keyed_state_round_trips_through_serde() {
        let mut state: KeyedState<String, u64> = KeyedState::default();
        state.apply("a".into(), || 0, |_, s| *s += 2);
        state.apply("b".into(), || 0, |_, s| *s += 1);
        let bytes = serde_json::to_vec(&state).unwrap();
        let back: KeyedState<String, u64> = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(back.get(&"a".to_string()), Some(&2));
        assert_eq!(back.len(), 2);
    }
}
