//! `update_state_by_key`: a state per key, updated every batch from the key's new values, and emitted
//! whole every batch (keys absent from the batch too) for as long as the stream runs.

use super::exchange::per_epoch;
use super::rdd::{group, place, Key, OrderedMap, Rdd, StateData};
use super::slice::Slice;
use super::stream::DStream;

impl<'s, K: Key + StateData, V: StateData> DStream<'s, (K, V)> {
    /// Every batch, `update(new_values, previous_state)` for every key in the state or in the batch
    /// (keys absent from the batch get no new values); `None` removes the key. Emits every key's state.
    pub fn update_state_by_key<S: StateData>(
        &self,
        update: impl FnMut(Vec<V>, Option<S>) -> Option<S> + 'static,
    ) -> DStream<'s, (K, S)> {
        self.update_state_by_key_with_initial(update, Rdd::new(Vec::new()))
    }

    /// [`DStream::update_state_by_key`], starting from the states in `initial`.
    pub fn update_state_by_key_with_initial<S: StateData>(
        &self,
        mut update: impl FnMut(Vec<V>, Option<S>) -> Option<S> + 'static,
        initial: Rdd<(K, S)>,
    ) -> DStream<'s, (K, S)> {
        let n = self.partitions;
        let (worker, workers) = (self.graph.worker, self.graph.workers);
        // Keys in output order: the previous state's keys first, then new keys as first seen (the order
        // PySpark's cogroup of state and batch gives). Each worker keeps the keys of its partitions.
        let state: OrderedMap<K, S> = initial
            .into_records()
            .filter(|(k, _)| k.partition(n) % workers == worker)
            .collect();
        let shuffled = self.by_key();
        let stream = per_epoch(
            shuffled.stream,
            &self.graph,
            "UpdateStateByKey",
            state,
            move |state, _batch, slices: Vec<Slice<(K, V)>>| {
                let records = Slice::union_all(slices)
                    .into_placed()
                    .flat_map(|(_, records)| records);
                let mut fresh: OrderedMap<K, Vec<V>> =
                    group(records, |v| vec![v], |acc, v| acc.push(v));
                let mut next: OrderedMap<K, S> = OrderedMap::with_capacity_and_hasher(
                    state.len() + fresh.len(),
                    Default::default(),
                );
                for (k, s) in state.drain(..) {
                    let values = fresh.get_mut(&k).map(std::mem::take).unwrap_or_default();
                    if let Some(s) = update(values, Some(s)) {
                        next.insert(k, s);
                    }
                }
                for (k, values) in fresh.drain(..) {
                    // Keys of the previous state have had their values taken above.
                    if values.is_empty() {
                        continue;
                    }
                    if let Some(s) = update(values, None) {
                        next.insert(k, s);
                    }
                }
                *state = next;
                let placed = place(state.iter().map(|(k, s)| (k.clone(), s.clone())), n);
                Some(Slice::mine(placed, worker, workers))
            },
        );
        self.derive(stream)
    }
}
