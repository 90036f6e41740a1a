//! Window aggregations: an accumulator created, added to, merged and read (Flink's `AggregateFunction`).
//!
//! Merging is what makes panes and session merges work: a sliding window's result is the merge of its
//! panes' accumulators, and two sessions that merge merge their accumulators.

use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// How a window turns its values into a result.
pub trait Aggregate<V>: 'static {
    /// The running state of one window (or pane); serializable, so that checkpoints can save it.
    type Acc: Clone + Serialize + DeserializeOwned + 'static;
    /// The window's result.
    type Out: 'static;
    /// An empty accumulator.
    fn create(&self) -> Self::Acc;
    /// Adds one value.
    fn add(&self, acc: &mut Self::Acc, value: V);
    /// Adds everything `other` holds.
    fn merge(&self, acc: &mut Self::Acc, other: &Self::Acc);
    /// The result of what `acc` holds.
    fn result(&self, acc: &Self::Acc) -> Self::Out;
}

/// Adds `value` to the accumulator of pane `pane` in `panes` (sorted by pane start), creating it if
/// absent; returns whether the pane is new.
#[inline]
pub(crate) fn add_to_pane<V, A: Aggregate<V>>(
    agg: &A,
    panes: &mut Vec<(i64, A::Acc)>,
    pane: i64,
    value: V,
) -> bool {
    match panes.binary_search_by_key(&pane, |p| p.0) {
        Ok(i) => {
            agg.add(&mut panes[i].1, value);
            false
        }
        Err(i) => {
            let mut acc = agg.create();
            agg.add(&mut acc, value);
            panes.insert(i, (pane, acc));
            true
        }
    }
}

/// Counts the window's records.
#[derive(Clone, Copy, Debug, Default)]
pub struct Count;

impl<V> Aggregate<V> for Count {
    type Acc = u64;
    type Out = u64;
    fn create(&self) -> u64 {
        0
    }
    #[inline]
    fn add(&self, acc: &mut u64, _value: V) {
        *acc += 1;
    }
    fn merge(&self, acc: &mut u64, other: &u64) {
        *acc += other;
    }
    fn result(&self, acc: &u64) -> u64 {
        *acc
    }
}

/// Sums the window's values.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sum;

impl<V: Copy + Default + std::ops::AddAssign + Serialize + DeserializeOwned + 'static> Aggregate<V>
    for Sum
{
    type Acc = V;
    type Out = V;
    fn create(&self) -> V {
        V::default()
    }
    #[inline]
    fn add(&self, acc: &mut V, value: V) {
        *acc += value;
    }
    fn merge(&self, acc: &mut V, other: &V) {
        *acc += *other;
    }
    fn result(&self, acc: &V) -> V {
        *acc
    }
}

/// Reduces the window's values with a function (`min`, `max`, or any associative one).
pub struct Reduce<V, F> {
    reduce: F,
    _value: PhantomData<fn(V)>,
}

impl<V, F: Fn(&V, &V) -> V> Reduce<V, F> {
    /// Reduction by `reduce`, which must be associative.
    pub fn new(reduce: F) -> Self {
        Reduce {
            reduce,
            _value: PhantomData,
        }
    }
}

/// The smallest value.
pub fn min<V: Ord + Clone + Serialize + DeserializeOwned + 'static>() -> Reduce<V, fn(&V, &V) -> V>
{
    Reduce::new(|a: &V, b: &V| a.min(b).clone())
}

/// The largest value.
pub fn max<V: Ord + Clone + Serialize + DeserializeOwned + 'static>() -> Reduce<V, fn(&V, &V) -> V>
{
    Reduce::new(|a: &V, b: &V| a.max(b).clone())
}

impl<V: Clone + Serialize + DeserializeOwned + 'static, F: Fn(&V, &V) -> V + 'static> Aggregate<V>
    for Reduce<V, F>
{
    type Acc = Option<V>;
    type Out = V;
    fn create(&self) -> Option<V> {
        None
    }
    #[inline]
    fn add(&self, acc: &mut Option<V>, value: V) {
        *acc = Some(match acc.take() {
            Some(prev) => (self.reduce)(&prev, &value),
            None => value,
        });
    }
    fn merge(&self, acc: &mut Option<V>, other: &Option<V>) {
        if let Some(other) = other {
            self.add(acc, other.clone());
        }
    }
    fn result(&self, acc: &Option<V>) -> V {
        acc.clone()
            .expect("a window that fires holds at least one value")
    }
}

/// Keeps every value, and hands them, sorted, to a function when the window fires (Flink's
/// `ProcessWindowFunction`; costs memory per record, so prefer an accumulator when one exists).
pub struct WindowFunction<V, F> {
    process: F,
    _value: PhantomData<fn(V)>,
}

impl<V, O, F: Fn(&[V]) -> O> WindowFunction<V, F> {
    /// Calls `process` with all the window's values, in order.
    pub fn new(process: F) -> Self {
        WindowFunction {
            process,
            _value: PhantomData,
        }
    }
}

/// An aggregation that lists the window's values, sorted.
pub type Collect<V> = WindowFunction<V, fn(&[V]) -> Vec<V>>;

/// The window's values, sorted.
pub fn collect<V: Ord + Clone + Serialize + DeserializeOwned + 'static>() -> Collect<V> {
    WindowFunction::new(|values: &[V]| values.to_vec())
}

impl<
        V: Ord + Clone + Serialize + DeserializeOwned + 'static,
        O: 'static,
        F: Fn(&[V]) -> O + 'static,
    > Aggregate<V> for WindowFunction<V, F>
{
    type Acc = Vec<V>;
    type Out = O;
    fn create(&self) -> Vec<V> {
        Vec::new()
    }
    fn add(&self, acc: &mut Vec<V>, value: V) {
        acc.push(value);
    }
    fn merge(&self, acc: &mut Vec<V>, other: &Vec<V>) {
        acc.extend_from_slice(other);
    }
    fn result(&self, acc: &Vec<V>) -> O {
        let mut values = acc.clone();
        values.sort();
        (self.process)(&values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fold<A: Aggregate<i64>>(agg: &A, parts: &[&[i64]]) -> A::Out {
        // Split into partial accumulators and merge them, as panes do.
        let mut total = agg.create();
        for part in parts {
            let mut acc = agg.create();
            part.iter().for_each(|v| agg.add(&mut acc, *v));
            agg.merge(&mut total, &acc);
        }
        agg.result(&total)
    }

    #[test]
    fn merged_partials_equal_the_whole() {
        let parts: &[&[i64]] = &[&[3, -1], &[], &[7, 2, 2]];
        assert_eq!(fold(&Count, parts), 5);
        assert_eq!(fold(&Sum, parts), 13);
        assert_eq!(fold(&min(), parts), -1);
        assert_eq!(fold(&max(), parts), 7);
        assert_eq!(fold(&collect(), parts), vec![-1, 2, 2, 3, 7]);
    }
}
