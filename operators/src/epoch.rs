//! Epoch-at-a-time operators: everything a stream carries at one timestamp, handed over at once, in
//! timestamp order, as soon as the frontier has passed that timestamp.
//!
//! Record-at-a-time operators react to data; a micro-batch layer (Caudal's DStream layer, where a
//! timestamp is a batch) reacts to a batch being complete. [`EpochOps::per_epoch`] stashes what arrives
//! at each time and calls its function once per time, in increasing order, when the input frontier has
//! passed it; [`EpochOps::pair_epochs`] does the same for two inputs, pairing what both carried at the
//! same time. A time at which nothing arrived is not visited: "nothing happened" stays distinguishable
//! from "an empty batch happened" (a batch is one record here, even when it holds no data).
//!
//! Both operators keep their data on the worker that produced it (pipeline channels): they order and
//! pair epochs, they do not partition data.
//!
//! ```
//! use caudal_operators::epoch::EpochOps;
//! use timely::dataflow::operators::{vec::ToStream, Inspect};
//!
//! timely::example(|scope| {
//!     (0..6u64)
//!         .to_stream(scope)
//!         .per_epoch("Sum", |_time, values: Vec<u64>| Some(values.iter().sum::<u64>()))
//!         .inspect(|sum| assert_eq!(*sum, 15));
//! });
//! ```

use std::collections::BTreeMap;

use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::Capability;
use timely::dataflow::StreamVec;

/// Epoch-at-a-time operators on a stream of `D` whose timestamps are `u64`.
pub trait EpochOps<'scope, D: 'static> {
    /// Calls `f(time, data)` once for every time at which the stream carried data, in increasing time
    /// order, once the frontier has passed that time; what `f` returns is emitted at that time.
    fn per_epoch<O, F>(self, name: &str, f: F) -> StreamVec<'scope, u64, O>
    where
        O: Clone + 'static,
        F: FnMut(u64, Vec<D>) -> Option<O> + 'static;

    /// Calls `f(time, data, other_data)` once for every time at which either stream carried data, in
    /// increasing time order, once both frontiers have passed that time; what `f` returns is emitted at
    /// that time.
    fn pair_epochs<E, O, F>(
        self,
        other: StreamVec<'scope, u64, E>,
        name: &str,
        f: F,
    ) -> StreamVec<'scope, u64, O>
    where
        E: 'static,
        O: Clone + 'static,
        F: FnMut(u64, Vec<D>, Vec<E>) -> Option<O> + 'static;
}

impl<'scope, D: 'static> EpochOps<'scope, D> for StreamVec<'scope, u64, D> {
    fn per_epoch<O, F>(self, name: &str, mut f: F) -> StreamVec<'scope, u64, O>
    where
        O: Clone + 'static,
        F: FnMut(u64, Vec<D>) -> Option<O> + 'static,
    {
        self.unary_frontier::<CapacityContainerBuilder<Vec<O>>, _, _, _>(
            Pipeline,
            name,
            move |_cap, _info| {
                let mut stash: BTreeMap<u64, (Capability<u64>, Vec<D>)> = BTreeMap::new();
                move |(input, frontier), output| {
                    let port = output.output_index();
                    input.for_each(|cap, data| {
                        let time = *cap.least().expect("a message has a time");
                        let slot = stash
                            .entry(time)
                            .or_insert_with(|| (cap.delayed(&time, port), Vec::new()));
                        slot.1.append(data);
                    });
                    while let Some(entry) = stash.first_entry() {
                        if frontier.less_equal(entry.key()) {
                            break;
                        }
                        let (time, (cap, data)) = entry.remove_entry();
                        if let Some(out) = f(time, data) {
                            output.session(&cap).give(out);
                        }
                    }
                }
            },
        )
    }

    fn pair_epochs<E, O, F>(
        self,
        other: StreamVec<'scope, u64, E>,
        name: &str,
        mut f: F,
    ) -> StreamVec<'scope, u64, O>
    where
        E: 'static,
        O: Clone + 'static,
        F: FnMut(u64, Vec<D>, Vec<E>) -> Option<O> + 'static,
    {
        type Slot<D, E> = (Capability<u64>, Vec<D>, Vec<E>);
        self.binary_frontier::<_, CapacityContainerBuilder<Vec<O>>, _, _, _, _>(
            other,
            Pipeline,
            Pipeline,
            name,
            move |_cap, _info| {
                let mut stash: BTreeMap<u64, Slot<D, E>> = BTreeMap::new();
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use timely::dataflow::operators::vec::UnorderedInput;
    use timely::dataflow::operators::Inspect;

    /// Sends `(time, value)` records in the given (unordered) order and returns what `per_epoch` and
    /// `pair_epochs` saw, in the order they saw it.
    #[allow(clippy::type_complexity)]
    fn run(records: Vec<(u64, u32)>) -> (Vec<(u64, Vec<u32>)>, Vec<(u64, Vec<u32>, Vec<u32>)>) {
        let single = Arc::new(Mutex::new(Vec::new()));
        let paired = Arc::new(Mutex::new(Vec::new()));
        let (s, p) = (single.clone(), paired.clone());
        timely::execute_directly(move |worker| {
            let (mut input, cap) = worker.dataflow::<u64, _, _>(|scope| {
                let ((input, cap), stream) = scope.new_unordered_input::<u32>();
                let s = s.clone();
                stream
                    .clone()
                    .per_epoch("Single", |t, mut d: Vec<u32>| {
                        d.sort();
                        Some((t, d))
                    })
                    .inspect(move |x| s.lock().unwrap().push(x.clone()));
                let odd = stream.clone().per_epoch("Odd", |_t, d: Vec<u32>| {
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
                (0, vec![4, 7]),
                (2, vec![2, 5]),
                (5, vec![1, 3]),
                (9, vec![6])
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

    proptest::proptest! {
        #[test]
        fn per_epoch_groups_every_time_once_in_order(records in proptest::collection::vec((0u64..20, 0u32..1000), 0..60)) {
            let mut expected: BTreeMap<u64, Vec<u32>> = BTreeMap::new();
            for &(t, v) in &records {
                expected.entry(t).or_default().push(v);
            }
            let expected: Vec<(u64, Vec<u32>)> = expected.into_iter().map(|(t, mut v)| { v.sort(); (t, v) }).collect();
            let (single, _) = run(records);
            proptest::prop_assert_eq!(single, expected);
        }
    }
}
