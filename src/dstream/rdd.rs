//! [`Rdd`]: one batch of a DStream, its records in partitions, and the batch-level operations (Spark's
//! RDD operations) that DStream transformations apply to every batch.
//!
//! Partitions are shared, not copied, between the batches that hold them (a window holds the same
//! partitions as the batches it spans): an operation that consumes a partition takes it over when no
//! other batch holds it and clones it otherwise.
//!
//! Keyed operations place keys as Spark's `HashPartitioner` does (see [`super::hash`]) and keep, in each
//! partition, the order in which keys were first seen going through the input partitions in order, which
//! is the order PySpark's shuffles give.

use std::hash::Hash;
use std::sync::Arc;

use indexmap::map::Entry;
use indexmap::IndexMap;
use rustc_hash::FxBuildHasher;

use super::hash::PartitionKey;
use super::xorshift::XorShiftRandom;

/// How many records PySpark's `repartition` moves together: `coalesce(n, shuffle=True)` re-serializes
/// with a batch size of `min(10, batchSize or 1024)`, which is 10 under the default `batchSize = 0`.
pub const REPARTITION_BATCH: usize = 10;

/// What a DStream carries: records that can be cloned, sent to another worker and serialized (Spark
/// too ships records between executors), so that batches' partitions run on every worker.
pub trait Data: Clone + Send + serde::Serialize + serde::de::DeserializeOwned + 'static {}
impl<T: Clone + Send + serde::Serialize + serde::de::DeserializeOwned + 'static> Data for T {}

/// What the stateful steps of a DStream (windows, `update_state_by_key`) keep across batches: data that
/// can also be serialized, so that their state is checkpointed with the rest (Spark requires the same).
pub trait StateData: Data + Send + Sync + serde::Serialize + serde::de::DeserializeOwned {}
impl<T: Data + Send + Sync + serde::Serialize + serde::de::DeserializeOwned> StateData for T {}

/// A key of a keyed DStream: hashable as Spark hashes it, and comparable.
pub trait Key: PartitionKey + Eq + Hash + Data {}
impl<T: PartitionKey + Eq + Hash + Data> Key for T {}

/// A map from key to value that remembers the order keys were first inserted in.
pub(crate) type OrderedMap<K, V> = IndexMap<K, V, FxBuildHasher>;

/// One batch: records in partitions.
pub struct Rdd<T> {
    parts: Vec<Arc<Vec<T>>>,
}

impl<T> Clone for Rdd<T> {
    fn clone(&self) -> Self {
        Rdd {
            parts: self.parts.clone(),
        }
    }
}

/// A batch serializes as its partitions (a checkpoint stores what the batch holds; partitions shared
/// with other batches are written with each).
impl<T: serde::Serialize> serde::Serialize for Rdd<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.parts.iter().map(|p| p.as_slice()))
    }
}

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Rdd<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let parts = Vec::<Vec<T>>::deserialize(deserializer)?;
        Ok(Rdd {
            parts: parts.into_iter().map(Arc::new).collect(),
        })
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Rdd<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.parts.iter().map(|p| p.as_slice()))
            .finish()
    }
}

impl<T: PartialEq> PartialEq for Rdd<T> {
    fn eq(&self, other: &Self) -> bool {
        self.parts.len() == other.parts.len()
            && self.parts.iter().zip(&other.parts).all(|(a, b)| a == b)
    }
}

impl<T> From<Vec<Vec<T>>> for Rdd<T> {
    fn from(parts: Vec<Vec<T>>) -> Self {
        Rdd::new(parts)
    }
}

impl<T> Rdd<T> {
    /// A batch with these partitions.
    pub fn new(parts: Vec<Vec<T>>) -> Self {
        Rdd {
            parts: parts.into_iter().map(Arc::new).collect(),
        }
    }

    /// A batch of `n` empty partitions.
    pub fn empty(n: usize) -> Self {
        Rdd::new((0..n).map(|_| Vec::new()).collect())
    }

    /// `records` spread over `n` partitions as Spark's `parallelize` spreads them (partition `i` holds
    /// records `i·len/n .. (i+1)·len/n`).
    pub fn parallelize(records: Vec<T>, n: usize) -> Self {
        let len = records.len();
        let mut rest = records.into_iter();
        Rdd::new(
            (0..n)
                .map(|p| {
                    let size = (p + 1) * len / n - p * len / n;
                    rest.by_ref().take(size).collect()
                })
                .collect(),
        )
    }

    /// How many partitions the batch has.
    pub fn num_partitions(&self) -> usize {
        self.parts.len()
    }

    /// The partitions, in order.
    pub fn partitions(&self) -> impl Iterator<Item = &[T]> + '_ {
        self.parts.iter().map(|p| p.as_slice())
    }

    /// The records, partition after partition.
    pub fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.parts.iter().flat_map(|p| p.iter())
    }

    /// How many records the batch has.
    pub fn len(&self) -> usize {
        self.parts.iter().map(|p| p.len()).sum()
    }

    /// Whether the batch has no record (it may still have partitions).
    pub fn is_empty(&self) -> bool {
        self.parts.iter().all(|p| p.is_empty())
    }

    /// This batch's partitions followed by `other`'s (Spark's `union`).
    pub fn union(mut self, other: Rdd<T>) -> Rdd<T> {
        self.parts.extend(other.parts);
        self
    }

    /// The union of several batches.
    pub fn union_all(batches: impl IntoIterator<Item = Rdd<T>>) -> Rdd<T> {
        Rdd {
            parts: batches.into_iter().flat_map(|b| b.parts).collect(),
        }
    }
}

impl<T: Data> Rdd<T> {
    /// The partitions, taken over (cloned only when another batch shares them).
    pub fn into_partitions(self) -> impl Iterator<Item = Vec<T>> {
        self.parts
            .into_iter()
            .map(|p| Arc::try_unwrap(p).unwrap_or_else(|shared| (*shared).clone()))
    }

    /// The records, partition after partition.
    pub fn into_records(self) -> impl Iterator<Item = T> {
        self.into_partitions().flatten()
    }

    /// The records in one vector, partition after partition.
    pub fn collect(&self) -> Vec<T> {
        self.iter().cloned().collect()
    }

    /// Applies `f` to every partition.
    pub fn map_partitions<U>(self, mut f: impl FnMut(Vec<T>) -> Vec<U>) -> Rdd<U> {
        Rdd::new(self.into_partitions().map(&mut f).collect())
    }

    /// `f` of every record.
    pub fn map<U>(self, f: impl Fn(T) -> U) -> Rdd<U> {
        self.map_partitions(|p| p.into_iter().map(&f).collect())
    }

    /// The records `f` gives for every record.
    pub fn flat_map<U, I: IntoIterator<Item = U>>(self, f: impl Fn(T) -> I) -> Rdd<U> {
        self.map_partitions(|p| p.into_iter().flat_map(&f).collect())
    }

    /// The records for which `f` is true.
    pub fn filter(self, f: impl Fn(&T) -> bool) -> Rdd<T> {
        self.map_partitions(|mut p| {
            p.retain(&f);
            p
        })
    }

    /// Each partition as one record (Spark's `glom`).
    pub fn glom(self) -> Rdd<Vec<T>> {
        self.map_partitions(|p| vec![p])
    }

    /// All records in one partition (Spark's `coalesce(1)`).
    pub fn coalesce_one(self) -> Rdd<T> {
        Rdd::new(vec![self.into_records().collect()])
    }

    /// The number of records, as PySpark's `count()` gives it: a reduce over the partitions' counts,
    /// so one partition holding the count, or, when the batch has no partition at all, one empty
    /// partition (a batch of empty partitions counts 0).
    pub fn count(&self) -> Rdd<u64> {
        if self.parts.is_empty() {
            return Rdd::empty(1);
        }
        Rdd::new(vec![vec![self.len() as u64]])
    }

    /// The records folded with `f`, as a batch of one partition: empty when the batch has no record.
    pub fn reduce(self, f: impl Fn(T, T) -> T) -> Rdd<T> {
        Rdd::new(vec![self.into_records().reduce(&f).into_iter().collect()])
    }

    /// Every record with its position in the batch (Spark's `zipWithIndex`).
    pub fn zip_with_index(self) -> Rdd<(T, u64)> {
        let mut next = 0u64;
        self.map_partitions(|p| {
            p.into_iter()
                .map(|x| {
                    next += 1;
                    (x, next - 1)
                })
                .collect()
        })
    }

    /// The records spread over `n` partitions as PySpark's `repartition(n)` spreads them, so that
    /// `glom()` after it shows PySpark's partitions.
    ///
    /// PySpark's `coalesce(n, shuffle=True)` re-serializes each input partition in batches of up to
    /// [`REPARTITION_BATCH`] records, and the JVM's `coalesce` deals those batches out round robin:
    /// input partition `i` starts at `XORShiftRandom(i).nextInt(n)`, and each batch goes to the
    /// partition after the previous one's. An output partition holds its batches in input order.
    pub fn repartition(self, n: usize) -> Rdd<T> {
        assert!(n > 0, "repartition needs at least one partition");
        let mut out: Vec<Vec<T>> = (0..n).map(|_| Vec::new()).collect();
        for (index, part) in self.into_partitions().enumerate() {
            for (to, mut records) in deal(index, part, n).into_iter().enumerate() {
                out[to].append(&mut records);
            }
        }
        Rdd::new(out)
    }

    /// Each record as a key, with `f` of it as the value.
    pub fn key_by<K>(self, f: impl Fn(&T) -> K) -> Rdd<(K, T)> {
        self.map(|x| (f(&x), x))
    }

    /// The distinct records, hash-placed over as many partitions as the batch has.
    pub fn distinct(self) -> Rdd<T>
    where
        T: Key,
    {
        let n = self.num_partitions().max(1);
        self.map(|x| (x, ())).reduce_by_key(|a, _| a, n).keys()
    }

    /// `(record, how many times it occurs)`, hash-placed over `n` partitions.
    pub fn count_by_value(self, n: usize) -> Rdd<(T, u64)>
    where
        T: Key,
    {
        self.map(|x| (x, 1u64)).reduce_by_key(|a, b| a + b, n)
    }

    /// The records sorted, range-partitioned over as many partitions as the batch has (Spark's
    /// `sortBy(identity)`; bounds from the sorted records, as Spark's sample is all of them for batches of
    /// up to 20 records per partition).
    pub fn sort(self) -> Rdd<T>
    where
        T: Ord,
    {
        self.sort_by(|x| x.clone())
    }

    /// The records sorted by `key`, range-partitioned over as many partitions as the batch has.
    pub fn sort_by<S: Ord>(self, key: impl Fn(&T) -> S) -> Rdd<T> {
        let n = self.num_partitions();
        if self.is_empty() || n == 0 {
            return self;
        }
        let mut records: Vec<(S, T)> = self.into_records().map(|x| (key(&x), x)).collect();
        records.sort_by(|a, b| a.0.cmp(&b.0));
        let len = records.len();
        let bounds: Vec<usize> = (0..n - 1).map(|i| len * (i + 1) / n).collect();
        let mut parts: Vec<Vec<T>> = (0..n).map(|_| Vec::new()).collect();
        // A record's partition: how many bounds are less than its key (Python's bisect_left), that is
        // how many bounds end (their last equal record) before it.
        let after_bounds: Vec<usize> = bounds
            .iter()
            .map(|&b| records.partition_point(|r| r.0 <= records[b].0))
            .collect();
        for (i, (_, x)) in records.into_iter().enumerate() {
            let p = after_bounds.iter().filter(|&&after| after <= i).count();
            parts[p].push(x);
        }
        Rdd::new(parts)
    }

    /// The records of this batch not in `other`, over as many partitions as both batches have.
    pub fn subtract(self, other: Rdd<T>) -> Rdd<T>
    where
        T: Key,
    {
        self.map(|x| (x, ()))
            .subtract_by_key(other.map(|x| (x, ())))
            .keys()
    }

    /// The distinct records in both batches, over as many partitions as both batches have.
    pub fn intersection(self, other: Rdd<T>) -> Rdd<T>
    where
        T: Key,
    {
        let n = (self.num_partitions() + other.num_partitions()).max(1);
        self.map(|x| (x, ()))
            .cogroup(other.map(|x| (x, ())), n)
            .filter(|(_, (a, b))| !a.is_empty() && !b.is_empty())
            .keys()
    }
}

/// Where [`Rdd::repartition`] sends the records of input partition `index`: its batches of
/// [`REPARTITION_BATCH`] dealt out over `n` partitions, from the one after
/// `XorShiftRandom(index).nextInt(n)`.
pub(crate) fn deal<T>(index: usize, records: Vec<T>, n: usize) -> Vec<Vec<T>> {
    let bound = i32::try_from(n).expect("repartition takes at most i32::MAX partitions");
    let mut out: Vec<Vec<T>> = (0..n).map(|_| Vec::new()).collect();
    let mut position = XorShiftRandom::new(index as i64).next_int(bound) as usize;
    let mut records = records.into_iter().peekable();
    while records.peek().is_some() {
        position = (position + 1) % n;
        out[position].extend(records.by_ref().take(REPARTITION_BATCH));
    }
    out
}

/// The values of each key folded with `f`, keys in first-seen order.
pub(crate) fn reduce_values<K: Key, V>(
    records: impl IntoIterator<Item = (K, V)>,
    f: impl Fn(V, V) -> V,
) -> Vec<(K, V)> {
    group(records, Some, |acc: &mut Option<V>, v| {
        *acc = acc.take().map(|a| f(a, v));
    })
    .into_iter()
    .map(|(k, v)| (k, v.expect("a reduced value")))
    .collect()
}

/// The values of each key, in order, keys in first-seen order.
pub(crate) fn group_values<K: Key, V>(
    records: impl IntoIterator<Item = (K, V)>,
) -> Vec<(K, Vec<V>)> {
    group(records, |v| vec![v], |acc, v| acc.push(v))
        .into_iter()
        .collect()
}

/// For each key, its values from the first batch (`Ok`) and from the second (`Err`), keys in
/// first-seen order.
#[allow(clippy::type_complexity)]
pub(crate) fn cogroup_values<K: Key, V, W>(
    records: impl IntoIterator<Item = (K, Result<V, W>)>,
) -> Vec<(K, (Vec<V>, Vec<W>))> {
    group(
        records,
        |first| {
            let mut acc = (Vec::new(), Vec::new());
            match first {
                Ok(v) => acc.0.push(v),
                Err(w) => acc.1.push(w),
            }
            acc
        },
        |acc, x| match x {
            Ok(v) => acc.0.push(v),
            Err(w) => acc.1.push(w),
        },
    )
    .into_iter()
    .collect()
}

/// A cogrouped key's joined pairs (an inner join).
pub(crate) fn inner_pairs<K: Clone, V: Clone, W: Clone>(
    (k, (vs, ws)): (K, (Vec<V>, Vec<W>)),
) -> Vec<(K, (V, W))> {
    let mut out = Vec::with_capacity(vs.len() * ws.len());
    for v in &vs {
        for w in &ws {
            out.push((k.clone(), (v.clone(), w.clone())));
        }
    }
    out
}

/// A cogrouped key's pairs in a full outer join.
#[allow(clippy::type_complexity)]
pub(crate) fn outer_pairs<K: Clone, V: Clone, W: Clone>(
    (k, (vs, ws)): (K, (Vec<V>, Vec<W>)),
) -> Vec<(K, (Option<V>, Option<W>))> {
    let mut out = Vec::with_capacity(vs.len().max(1) * ws.len().max(1));
    match (vs.is_empty(), ws.is_empty()) {
        (false, true) => out.extend(vs.into_iter().map(|v| (k.clone(), (Some(v), None)))),
        (true, false) => out.extend(ws.into_iter().map(|w| (k.clone(), (None, Some(w))))),
        _ => {
            for v in &vs {
                for w in &ws {
                    out.push((k.clone(), (Some(v.clone()), Some(w.clone()))));
                }
            }
        }
    }
    out
}

/// Groups keyed records by key, keys in first-seen order, with `merge` folding each record into its
/// key's accumulator (made by `new` from the first).
pub(crate) fn group<K: Key, V, A>(
    records: impl IntoIterator<Item = (K, V)>,
    mut new: impl FnMut(V) -> A,
    mut merge: impl FnMut(&mut A, V),
) -> OrderedMap<K, A> {
    let mut groups: OrderedMap<K, A> = OrderedMap::default();
    for (k, v) in records {
        match groups.entry(k) {
            Entry::Occupied(mut e) => merge(e.get_mut(), v),
            Entry::Vacant(e) => {
                e.insert(new(v));
            }
        }
    }
    groups
}

/// The entries of an ordered map placed over `n` partitions by key hash, in the map's order.
pub(crate) fn place<K: Key, A>(
    entries: impl IntoIterator<Item = (K, A)>,
    n: usize,
) -> Vec<Vec<(K, A)>> {
    assert!(n > 0, "a keyed operation needs at least one partition");
    let mut parts: Vec<Vec<(K, A)>> = (0..n).map(|_| Vec::new()).collect();
    for (k, a) in entries {
        parts[k.partition(n)].push((k, a));
    }
    parts
}

impl<K: Key, V: Data> Rdd<(K, V)> {
    /// `f` of every value, keys unchanged.
    pub fn map_values<U>(self, f: impl Fn(V) -> U) -> Rdd<(K, U)> {
        self.map(|(k, v)| (k, f(v)))
    }

    /// The keys.
    pub fn keys(self) -> Rdd<K> {
        self.map(|(k, _)| k)
    }

    /// The values.
    pub fn values(self) -> Rdd<V> {
        self.map(|(_, v)| v)
    }

    /// The values of each key folded with `f`, over `n` partitions.
    pub fn reduce_by_key(self, f: impl Fn(V, V) -> V, n: usize) -> Rdd<(K, V)> {
        Rdd::new(place(reduce_values(self.into_records(), f), n))
    }

    /// The values of each key, in order, over `n` partitions.
    pub fn group_by_key(self, n: usize) -> Rdd<(K, Vec<V>)> {
        Rdd::new(place(group_values(self.into_records()), n))
    }

    /// For each key in either batch, its values here and its values in `other`, over `n` partitions.
    #[allow(clippy::type_complexity)]
    pub fn cogroup<W: Data>(self, other: Rdd<(K, W)>, n: usize) -> Rdd<(K, (Vec<V>, Vec<W>))> {
        let tagged = self
            .into_records()
            .map(|(k, v)| (k, Ok(v)))
            .chain(other.into_records().map(|(k, w)| (k, Err(w))));
        Rdd::new(place(cogroup_values(tagged), n))
    }

    /// Every pair of values of a key present in both batches.
    pub fn join<W: Data>(self, other: Rdd<(K, W)>, n: usize) -> Rdd<(K, (V, W))> {
        self.cogroup(other, n).flat_map(inner_pairs)
    }

    /// [`Rdd::join`], plus `(v, None)` for keys only in this batch.
    pub fn left_outer_join<W: Data>(
        self,
        other: Rdd<(K, W)>,
        n: usize,
    ) -> Rdd<(K, (V, Option<W>))> {
        self.full_outer_join(other, n)
            .flat_map(|(k, (v, w))| v.map(|v| (k, (v, w))))
    }

    /// [`Rdd::join`], plus `(None, w)` for keys only in `other`.
    pub fn right_outer_join<W: Data>(
        self,
        other: Rdd<(K, W)>,
        n: usize,
    ) -> Rdd<(K, (Option<V>, W))> {
        self.full_outer_join(other, n)
            .flat_map(|(k, (v, w))| w.map(|w| (k, (v, w))))
    }

    /// [`Rdd::join`], plus `(v, None)` and `(None, w)` for keys in one batch only.
    #[allow(clippy::type_complexity)]
    pub fn full_outer_join<W: Data>(
        self,
        other: Rdd<(K, W)>,
        n: usize,
    ) -> Rdd<(K, (Option<V>, Option<W>))> {
        self.cogroup(other, n).flat_map(outer_pairs)
    }

    /// The records whose key is not in `other`, over as many partitions as both batches have.
    pub fn subtract_by_key<W: Data>(self, other: Rdd<(K, W)>) -> Rdd<(K, V)> {
        let n = (self.num_partitions() + other.num_partitions()).max(1);
        self.cogroup(other, n).flat_map(|(k, (vs, ws))| {
            let keep = ws.is_empty();
            vs.into_iter()
                .filter(move |_| keep)
                .map(move |v| (k.clone(), v))
        })
    }

    /// The records sorted by key, range-partitioned over as many partitions as the batch has.
    pub fn sort_by_key(self) -> Rdd<(K, V)>
    where
        K: Ord,
    {
        self.sort_by(|(k, _)| k.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts<T: Clone>(rdd: &Rdd<T>) -> Vec<Vec<T>> {
        rdd.partitions().map(|p| p.to_vec()).collect()
    }

    #[test]
    fn keyed_results_go_to_hash_partitions_in_first_seen_order() {
        let input = Rdd::new(vec![
            vec![(1999, 7), (1999, 5), (2001, 1)],
            vec![(2000, 3), (1999, 6)],
        ]);
        let reduced = input.clone().reduce_by_key(|a, b| a.max(b), 2);
        assert_eq!(
            parts(&reduced),
            vec![vec![(2000, 3)], vec![(1999, 7), (2001, 1)]]
        );
        let grouped = input.group_by_key(2);
        assert_eq!(
            parts(&grouped),
            vec![
                vec![(2000, vec![3])],
                vec![(1999, vec![7, 5, 6]), (2001, vec![1])]
            ]
        );
    }

    #[test]
    fn joins_pair_values_of_the_same_key() {
        let a = Rdd::new(vec![vec![(1, 'a'), (2, 'b'), (1, 'c')]]);
        let b = Rdd::new(vec![vec![(1, 10), (3, 30)]]);
        assert_eq!(
            a.clone().join(b.clone(), 2).collect(),
            vec![(1, ('a', 10)), (1, ('c', 10))]
        );
        assert_eq!(
            a.clone().left_outer_join(b.clone(), 1).collect(),
            vec![(1, ('a', Some(10))), (1, ('c', Some(10))), (2, ('b', None))]
        );
        assert_eq!(
            a.clone().right_outer_join(b.clone(), 1).collect(),
            vec![(1, (Some('a'), 10)), (1, (Some('c'), 10)), (3, (None, 30))]
        );
        assert_eq!(
            a.full_outer_join(b, 1).collect(),
            vec![
                (1, (Some('a'), Some(10))),
                (1, (Some('c'), Some(10))),
                (2, (Some('b'), None)),
                (3, (None, Some(30)))
            ]
        );
    }

    #[test]
    fn reduce_and_count_of_an_empty_batch() {
        let empty: Rdd<i64> = Rdd::new(vec![]);
        assert_eq!(
            parts(&empty.clone().reduce(|a, b| a + b)),
            vec![Vec::<i64>::new()]
        );
        assert_eq!(parts(&empty.count()), vec![Vec::<u64>::new()]);
        let empty_partitions: Rdd<i64> = Rdd::empty(2);
        assert_eq!(parts(&empty_partitions.count()), vec![vec![0]]);
    }

    #[test]
    fn parallelize_splits_as_spark_does() {
        assert_eq!(
            parts(&Rdd::parallelize(vec![1, 2, 3, 4, 5], 2)),
            vec![vec![1, 2], vec![3, 4, 5]]
        );
        assert_eq!(
            parts(&Rdd::parallelize(vec![1], 3)),
            vec![vec![], vec![], vec![1]]
        );
    }

    #[test]
    fn sort_range_partitions() {
        let rdd = Rdd::new(vec![vec![5, 1, 4], vec![2, 3, 3]]);
        assert_eq!(parts(&rdd.sort()), vec![vec![1, 2, 3, 3], vec![4, 5]]);
    }

    #[test]
    fn repartition_keeps_every_record() {
        let rdd = Rdd::new(vec![vec![1, 2, 3], vec![4, 5]]);
        let out = rdd.repartition(3);
        assert_eq!(out.num_partitions(), 3);
        let mut all = out.collect();
        all.sort();
        assert_eq!(all, vec![1, 2, 3, 4, 5]);
    }

    /// `range(a, b)` as a partition.
    fn span(a: i64, b: i64) -> Vec<i64> {
        (a..b).collect()
    }

    #[test]
    fn repartition_moves_batches_of_ten_round_robin() {
        // Worked by hand from the rule: partition 0 of 100 records is 10 batches; XORShiftRandom(0)
        // .nextInt(7) is 2, so the batches go to partitions 3, 4, 5, 6, 0, 1, 2, 3, 4, 5.
        let out = Rdd::new(vec![span(0, 100)]).repartition(7);
        assert_eq!(
            parts(&out),
            vec![
                span(40, 50),
                span(50, 60),
                span(60, 70),
                [span(0, 10), span(70, 80)].concat(),
                [span(10, 20), span(80, 90)].concat(),
                [span(20, 30), span(90, 100)].concat(),
                span(30, 40),
            ]
        );
    }

    #[test]
    fn repartition_gives_pysparks_partitions() {
        // `rdd.repartition(n).glom().collect()` of PySpark 3.5.9 (local[2]) on these partitions.
        type Partitions = Vec<Vec<i64>>;
        let cases: Vec<(Partitions, usize, Partitions)> = vec![
            (
                vec![span(0, 5), span(5, 8)],
                3,
                vec![span(0, 5), span(5, 8), vec![]],
            ),
            (
                vec![span(0, 37), span(37, 40), vec![], span(40, 65)],
                4,
                vec![
                    [span(30, 37), span(50, 60)].concat(),
                    [span(0, 10), span(37, 40), span(60, 65)].concat(),
                    span(10, 20),
                    [span(20, 30), span(40, 50)].concat(),
                ],
            ),
            (
                (0..6).map(|i| span(13 * i, 13 * i + 13)).collect(),
                2,
                vec![
                    [
                        span(10, 13),
                        span(23, 36),
                        span(39, 49),
                        span(52, 62),
                        span(65, 75),
                    ]
                    .concat(),
                    [
                        span(0, 10),
                        span(13, 23),
                        span(36, 39),
                        span(49, 52),
                        span(62, 65),
                        span(75, 78),
                    ]
                    .concat(),
                ],
            ),
            (
                vec![span(0, 25), span(25, 50)],
                5,
                vec![
                    [span(10, 20), span(35, 45)].concat(),
                    [span(20, 25), span(45, 50)].concat(),
                    vec![],
                    vec![],
                    [span(0, 10), span(25, 35)].concat(),
                ],
            ),
            (vec![span(0, 3)], 1, vec![span(0, 3)]),
            (
                vec![vec![], vec![1, 2]],
                3,
                vec![vec![], vec![1, 2], vec![]],
            ),
        ];
        for (input, n, expected) in cases {
            let out = Rdd::new(input.clone()).repartition(n);
            assert_eq!(parts(&out), expected, "{input:?} into {n}");
        }
    }

    #[test]
    fn shared_partitions_are_cloned_not_stolen() {
        let rdd = Rdd::new(vec![vec![1, 2]]);
        let copy = rdd.clone();
        let doubled = rdd.map(|x| x * 2);
        assert_eq!(copy.collect(), vec![1, 2]);
        assert_eq!(doubled.collect(), vec![2, 4]);
    }
}
