//! Keyed running state: each record updates its key's state and may emit at once.
//!
//! Built on the keyed-operator shell ([`crate::shell`]): records are exchanged by a hash of their key, so
//! one worker owns each key; its state lives in the shell's [`KeyedState`], which checkpoints snapshot.
//! Output leaves on the step that receives the record, at the record's timely time: no frontier is
//! waited for, and no timer is held, so the operator is never woken by progress alone.

use std::hash::Hash;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::Serialize;
use timely::ExchangeData;

use crate::shell::{Context, KeyedOperator};
use crate::stream::EventStream;
use crate::time::EventTime;

pub use crate::shell::KeyedState;

/// [`EventStream::map_with_state`] as a keyed operator.
struct MapWithState<I, L, S, O> {
    init: I,
    logic: L,
    _types: PhantomData<fn(S) -> O>,
}

impl<K, V, S, O, I, L> KeyedOperator<K, V> for MapWithState<I, L, S, O>
where
    K: Hash + Eq + 'static,
    S: Serialize + DeserializeOwned + 'static,
    O: 'static,
    I: Fn() -> S + 'static,
    L: FnMut(&K, &mut S, V) -> Option<O> + 'static,
{
    type State = S;
    type Out = O;

    #[inline]
    fn on_record(&mut self, key: K, value: V, time: EventTime, ctx: &mut Context<'_, K, V, S, O>) {
        let logic = &mut self.logic;
        if let Some(out) = ctx.states.apply(key, &self.init, |k, s| logic(k, s, value)) {
            ctx.output.emit(time, out);
        }
    }
}

impl<'scope, K, V> EventStream<'scope, (K, V)>
where
    K: ExchangeData + Hash + Eq + Clone,
    V: ExchangeData,
{
    /// For every record `(key, value)`, calls `logic(&key, &mut state, value)` on the key's state
    /// (created by `init` on the key's first record) and emits what it returns, at the record's event time.
    ///
    /// ```
    /// use caudal_operators::{Event, EventStream};
    /// use timely::dataflow::operators::{ToStream, Capture, capture::Extract};
    /// let out = caudal_operators::example(|scope| {
    ///     let input = vec![Event::new(1, ('a', 3u64)), Event::new(2, ('a', 4)), Event::new(3, ('b', 1))];
    ///     let s = EventStream::new(input.to_stream(scope));
    ///     s.map_with_state("Sum", || 0u64, |k, sum, v| { *sum += v; Some((*k, *sum)) }).inner.capture()
    /// });
    /// let mut got: Vec<_> = out.extract().into_iter().flat_map(|(_, v)| v).map(|e| e.data).collect();
    /// got.sort();
    /// assert_eq!(got, vec![('a', 3), ('a', 7), ('b', 1)]);
    /// ```
    pub fn map_with_state<S, O, I, L>(self, name: &str, init: I, logic: L) -> EventStream<'scope, O>
    where
        S: Serialize + DeserializeOwned + 'static,
        O: 'static,
        I: Fn() -> S + 'static,
        L: FnMut(&K, &mut S, V) -> Option<O> + 'static,
    {
        self.keyed_operator(
            name,
            MapWithState {
                init,
                logic,
                _types: PhantomData,
            },
        )
        .0
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
    use crate::time::Event;
    use timely::dataflow::operators::capture::Extract;
    use timely::dataflow::operators::{Capture, ToStream};

    fn run<O: Ord + Clone + Send + 'static>(
        input: Vec<Event<(u32, i64)>>,
        body: impl FnOnce(EventStream<'_, (u32, i64)>) -> EventStream<'_, O> + Send + Sync + 'static,
    ) -> Vec<O> {
        let out = crate::example(move |scope| {
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
}
