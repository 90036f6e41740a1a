//! Epoch-at-a-time operators: everything a stream carries at one timestamp, handed over at once, in
//! timestamp order, as soon as the frontier has passed that timestamp.
//!
//! Record-at-a-time operators react to data; a micro-batch layer (Caudal's DStream layer, where a
//! timestamp is a batch) reacts to a batch being complete. [`EpochOps::per_epoch`] stashes what arrives
//! at each time and calls its function once per time, in increasing order, with a state it keeps from
//! one time to the next, when the input frontier has passed it; [`EpochOps::pair_epochs`] does the same for two inputs, pairing what both carried at the
//! same time. A time at which nothing arrived is not visited: "nothing happened" stays distinguishable
//! from "an empty batch happened" (a batch is one record here, even when it holds no data).
//!
//! [`EpochOps::pair_epochs`] keeps its data on the worker that produced it (pipeline channels): it
//! orders and pairs epochs, it does not partition data. [`EpochOps::per_epoch`] keeps a state from one
//! epoch to the next, so it runs on the keyed-operator shell ([`crate::shell`]) under a single key: its
//! state and the epochs it waits for are checkpointed with every other operator's, and all its data
//! goes to one worker.
//!
//! ```
//! use caudal_operators::epoch::EpochOps;
//! use timely::dataflow::operators::{vec::ToStream, Inspect};
//!
//! caudal_operators::example(|scope| {
//!     (0..6u64)
//!         .to_stream(scope)
//!         .per_epoch("Sum", 0u64, |total, _time, values: Vec<u64>| {
//!             *total += values.iter().sum::<u64>();
//!             Some(*total)
//!         })
//!         .inspect(|sum| assert_eq!(*sum, 15));
//! });
//! ```

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::vec::Map;
use timely::dataflow::operators::Capability;
use timely::dataflow::StreamVec;
use timely::ExchangeData;

use crate::shell::{Context, KeyedOperator, Timer};
use crate::stream::EventStream;
use crate::time::{Event, EventTime};

/// Epoch-at-a-time operators on a stream of `D` whose timestamps are [`EventTime`]s (signed; a
/// micro-batch layer numbers its batches from 0).
pub trait EpochOps<'scope, D: 'static> {
    /// Calls `f(&mut state, time, data)` once for every time at which the stream carried data, in
    /// increasing time order, once the frontier has passed that time; what `f` returns is emitted at
    /// that time. `state` starts as `init` and is kept from one epoch to the next (and in checkpoints).
    fn per_epoch<S, O, F>(self, name: &str, init: S, f: F) -> StreamVec<'scope, EventTime, O>
    where
        D: ExchangeData,
        S: Serialize + DeserializeOwned + 'static,
        O: Clone + 'static,
        F: FnMut(&mut S, EventTime, Vec<D>) -> Option<O> + 'static;

    /// [`EpochOps::per_epoch`] on every worker for the data it has: each worker keeps its own state
    /// (checkpointed with the worker's other operators) and nothing moves between workers.
    fn per_epoch_here<S, O, F>(self, name: &str, init: S, f: F) -> StreamVec<'scope, EventTime, O>
    where
        D: ExchangeData,
        S: Serialize + DeserializeOwned + 'static,
        O: Clone + 'static,
        F: FnMut(&mut S, EventTime, Vec<D>) -> Option<O> + 'static;

    /// Calls `f(time, data, other_data)` once for every time at which either stream carried data, in
    /// increasing time order, once both frontiers have passed that time; what `f` returns is emitted at
    /// that time.
    fn pair_epochs<E, O, F>(
        self,
        other: StreamVec<'scope, EventTime, E>,
        name: &str,
        f: F,
    ) -> StreamVec<'scope, EventTime, O>
    where
        E: 'static,
        O: Clone + 'static,
        F: FnMut(EventTime, Vec<D>, Vec<E>) -> Option<O> + 'static;
}

/// One epoch operator's state: the caller's, and the data of the epochs not complete yet.
#[derive(Serialize, Deserialize)]
#[serde(bound = "S: Serialize + DeserializeOwned, D: Serialize + DeserializeOwned")]
pub struct EpochState<S, D> {
    state: Option<S>,
    pending: BTreeMap<EventTime, Vec<D>>,
}

/// [`EpochOps::per_epoch`] as a keyed operator with one key.
struct PerEpoch<S, F> {
    init: Option<S>,
    f: F,
}

impl<K, D, S, O, F> KeyedOperator<K, D> for PerEpoch<S, F>
where
    K: std::hash::Hash + Eq + Clone + 'static,
    D: Serialize + DeserializeOwned + 'static,
    S: Serialize + DeserializeOwned + 'static,
    O: 'static,
    F: FnMut(&mut S, EventTime, Vec<D>) -> Option<O> + 'static,
{
    type State = EpochState<S, D>;
    type Out = O;
    fn on_record(
        &mut self,
        key: K,
        data: D,
        time: EventTime,
        ctx: &mut Context<'_, K, D, Self::State, O>,
    ) {
        let epochs = ctx.states.get_or_insert_with(key.clone(), || EpochState {
            state: None,
            pending: BTreeMap::new(),
        });
        epochs.pending.entry(time).or_default().push(data);
        ctx.timers.set(key, Timer::EventTime(time));
    }

    fn on_timer(&mut self, key: K, timer: Timer, ctx: &mut Context<'_, K, D, Self::State, O>) {
        let Timer::EventTime(time) = timer else {
            return;
        };
        let Some(epochs) = ctx.states.get_mut(&key) else {
            return;
        };
        // Every record of an epoch set the same timer: the first to fire takes the epoch.
        let Some(data) = epochs.pending.remove(&time) else {
            return;
        };
        let init = &mut self.init;
        let state = epochs
            .state
            .get_or_insert_with(|| init.take().expect("the initial state is taken once"));
        if let Some(out) = (self.f)(state, time, data) {
            ctx.output.emit(time, out);
        }
    }
}

impl<'scope, D: 'static> EpochOps<'scope, D> for StreamVec<'scope, EventTime, D> {
    fn per_epoch<S, O, F>(self, name: &str, init: S, f: F) -> StreamVec<'scope, EventTime, O>
    where
        D: ExchangeData,
        S: Serialize + DeserializeOwned + 'static,
        O: Clone + 'static,
        F: FnMut(&mut S, EventTime, Vec<D>) -> Option<O> + 'static,
    {
        keyed_epochs(self, (), name, init, f)
    }

    fn per_epoch_here<S, O, F>(self, name: &str, init: S, f: F) -> StreamVec<'scope, EventTime, O>
    where
        D: ExchangeData,
        S: Serialize + DeserializeOwned + 'static,
        O: Clone + 'static,
        F: FnMut(&mut S, EventTime, Vec<D>) -> Option<O> + 'static,
    {
        // A key that the shell routes to this very worker.
        let (index, peers) = (self.scope().index(), self.scope().peers() as u64);
        let key = (0u64..)
            .find(|k| (crate::hash::route(k) % peers) as usize == index)
            .expect("some key routes to every worker");
        keyed_epochs(self, key, name, init, f)
    }

    fn pair_epochs<E, O, F>(
        self,
        other: StreamVec<'scope, EventTime, E>,
        name: &str,
        mut f: F,
    ) -> StreamVec<'scope, EventTime, O>
    where
        E: 'static,
        O: Clone + 'static,
        F: FnMut(EventTime, Vec<D>, Vec<E>) -> Option<O> + 'static,
    {
        type Slot<D, E> = (Capability<EventTime>, Vec<D>, Vec<E>);
        self.binary_frontier::<_, CapacityContainerBuilder<Vec<O>>, _, _, _, _>(
            other,
            Pipeline,
            Pipeline,
            name,
            move |_cap, _info| {
                let mut stash: BTreeMap<EventTime, Slot<D, E>> = BTreeMap::new();
                move |(left, left_frontier), (right, right_frontier), output| {
                    let port = output.output_index();
                    left.for_each(|cap, data| {
                        let time = *cap.least().expect("a message has a time");
                        let slot = stash
                            .entry(time)
                            .or_insert_with(|| (cap.delayed(&time, port), Vec::new(), Vec::new()));
                        slot.1.append(data);
                    });
                    right.for_each(|cap, data| {
                        let time = *cap.least().expect("a message has a time");
                        let slot = stash
                            .entry(time)
                            .or_insert_with(|| (cap.delayed(&time, port), Vec::new(), Vec::new()));
                        slot.2.append(data);
                    });
                    while let Some(entry) = stash.first_entry() {
                        let time = entry.key();
                        if left_frontier.less_equal(time) || right_frontier.less_equal(time) {
                            break;
                        }
                        let (time, (cap, left, right)) = entry.remove_entry();
                        if let Some(out) = f(time, left, right) {
                            output.session(&cap).give(out);
                        }
                    }
                }
            },
        )
    }
}

/// [`EpochOps::per_epoch`] on the keyed shell, every record under `key`.
fn keyed_epochs<'scope, K, D, S, O, F>(
    stream: StreamVec<'scope, EventTime, D>,
    key: K,
    name: &str,
    init: S,
    f: F,
) -> StreamVec<'scope, EventTime, O>
where
    K: ExchangeData + std::hash::Hash + Eq + Clone,
    D: ExchangeData,
    S: Serialize + DeserializeOwned + 'static,
    O: Clone + 'static,
    F: FnMut(&mut S, EventTime, Vec<D>) -> Option<O> + 'static,
{
    // Each record with its epoch as its event time, under the one key.
    let keyed = stream.unary::<CapacityContainerBuilder<Vec<Event<(K, D)>>>, _, _, _>(
        Pipeline,
        "Epochs",
        move |_cap, _info| {
            move |input, output| {
                input.for_each(|cap, data| {
                    let time = *cap.least().expect("a message has a time");
                    output
                        .session(&cap)
                        .give_iterator(data.drain(..).map(|d| Event::new(time, (key.clone(), d))));
                });
            }
        },
    );
    let (out, _late) = EventStream::new(keyed).keyed_operator(
        name,
        PerEpoch {
            init: Some(init),
            f,
        },
    );
    out.inner.map(|e| e.data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use timely::dataflow::operators::vec::UnorderedInput;
    use timely::dataflow::operators::Inspect;

    /// Sends `(time, value)` records in the given (unordered) order and returns what `per_epoch` and
    /// `pair_epochs` saw, in the order they saw it.
    #[allow(clippy::type_complexity)]
    fn run(
        records: Vec<(EventTime, u32)>,
    ) -> (
        Vec<(EventTime, Vec<u32>, usize)>,
        Vec<(EventTime, Vec<u32>, Vec<u32>)>,
    ) {
        let single = Arc::new(Mutex::new(Vec::new()));
        let paired = Arc::new(Mutex::new(Vec::new()));
        let (s, p) = (single.clone(), paired.clone());
        timely::execute_directly(move |worker| {
            let (mut input, cap) = worker.dataflow::<EventTime, _, _>(|scope| {
                let ((input, cap), stream) = scope.new_unordered_input::<u32>();
                let s = s.clone();
                stream
                    .clone()
                    .per_epoch("Single", 0usize, |seen, t, mut d: Vec<u32>| {
                        d.sort();
                        *seen += d.len();
                        Some((t, d, *seen))
                    })
                    .inspect(move |x| s.lock().unwrap().push(x.clone()));
                let odd = stream.clone().per_epoch("Odd", (), |_, _t, d: Vec<u32>| {
                    let odd: Vec<u32> = d.into_iter().filter(|v| v % 2 == 1).collect();
                    (!odd.is_empty()).then_some(odd)
                });
                let p = p.clone();
                stream
                    .pair_epochs(odd, "Pair", |t, mut a: Vec<u32>, b: Vec<Vec<u32>>| {
                        a.sort();
                        Some((t, a, b.concat()))
                    })
                    .inspect(move |x| p.lock().unwrap().push(x.clone()));
                (input, cap)
            });
            for (t, v) in records {
                input.activate().session(&cap.delayed(&t)).give(v);
                worker.step();
            }
            drop(cap);
            drop(input);
            while worker.step() {}
        });
        let single = single.lock().unwrap().clone();
        let paired = paired.lock().unwrap().clone();
        (single, paired)
    }

    #[test]
    fn epochs_come_whole_and_in_order_whatever_the_arrival_order() {
        let records = vec![(5, 1), (2, 2), (5, 3), (0, 4), (2, 5), (9, 6), (0, 7)];
        let (single, paired) = run(records);
        assert_eq!(
            single,
            vec![
                (0, vec![4, 7], 2),
                (2, vec![2, 5], 4),
                (5, vec![1, 3], 6),
                (9, vec![6], 7)
            ]
        );
        assert_eq!(
            paired,
            vec![
                (0, vec![4, 7], vec![7]),
                (2, vec![2, 5], vec![5]),
                (5, vec![1, 3], vec![1, 3]),
                (9, vec![6], vec![])
            ]
        );
    }

    #[test]
    fn epochs_before_zero_come_first_and_in_order() {
        let records = vec![(3, 1), (-2, 2), (0, 3), (-1000, 4), (-2, 5)];
        let (single, paired) = run(records);
        assert_eq!(
            single,
            vec![
                (-1000, vec![4], 1),
                (-2, vec![2, 5], 3),
                (0, vec![3], 4),
                (3, vec![1], 5)
            ]
        );
        assert_eq!(
            paired.iter().map(|p| p.0).collect::<Vec<_>>(),
            vec![-1000, -2, 0, 3]
        );
    }

    proptest::proptest! {
        #[test]
        fn per_epoch_groups_every_time_once_in_order(records in proptest::collection::vec((-20i64..20, 0u32..1000), 0..60)) {
            let mut expected: BTreeMap<EventTime, Vec<u32>> = BTreeMap::new();
            for &(t, v) in &records {
                expected.entry(t).or_default().push(v);
            }
            let mut seen = 0;
            let expected: Vec<(EventTime, Vec<u32>, usize)> = expected.into_iter().map(|(t, mut v)| { v.sort(); seen += v.len(); (t, v, seen) }).collect();
            let (single, _) = run(records);
            proptest::prop_assert_eq!(single, expected);
        }
    }
}
