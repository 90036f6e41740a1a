//! [`DStream`]: a stream of batches, and the transformations that apply to each batch on its own.
//!
//! A DStream is a timely stream of [`Rdd`]s at batch epochs: one `Rdd` at epoch `i` if the stream has a
//! batch at time `i` (a window off its slide has none). Narrow transformations (`map`, `filter`, ...) and
//! per-batch shuffles (`reduce_by_key`, `count_by_value`, ...) act on each batch as it comes; binary
//! ones (`union`, joins, `cogroup`, `transform_with`) pair the two streams' batches of the same epoch
//! once both frontiers have passed it.

use std::rc::Rc;
use std::time::Duration;

use caudal_operators::epoch::EpochOps;
use caudal_operators::EventTime;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::StreamVec;

use super::context::Graph;
use super::rdd::{Data, Key, Rdd};
use super::time::{batch_of, BatchTime};

/// A discretized stream: a batch per batch interval (or per slide, for windowed streams).
pub struct DStream<'s, T: 'static> {
    pub(crate) stream: StreamVec<'s, EventTime, Rdd<T>>,
    pub(crate) graph: Rc<Graph>,
    /// How many batch intervals apart this stream's batches are.
    pub(crate) slide: u64,
    /// How many partitions keyed operations on this stream shuffle into.
    pub(crate) partitions: usize,
}

impl<T: 'static> Clone for DStream<'_, T> {
    fn clone(&self) -> Self {
        DStream {
            stream: self.stream.clone(),
            graph: self.graph.clone(),
            slide: self.slide,
            partitions: self.partitions,
        }
    }
}

impl<'s, T: Data> DStream<'s, T> {
    pub(crate) fn new(
        stream: StreamVec<'s, EventTime, Rdd<T>>,
        graph: Rc<Graph>,
        slide: u64,
    ) -> Self {
        let partitions = graph.default_partitions;
        DStream {
            stream,
            graph,
            slide,
            partitions,
        }
    }

    /// A stream derived from this one, with the same slide and partitioning.
    pub(crate) fn derive<U: Data>(
        &self,
        stream: StreamVec<'s, EventTime, Rdd<U>>,
    ) -> DStream<'s, U> {
        DStream {
            stream,
            graph: self.graph.clone(),
            slide: self.slide,
            partitions: self.partitions,
        }
    }

    /// The same stream, whose keyed operations shuffle into `n` partitions (Spark's `numPartitions`
    /// argument; the default is the context's parallelism, 2).
    ///
    /// # Panics
    /// If `n` is 0.
    pub fn partitions(mut self, n: usize) -> Self {
        assert!(n > 0, "a keyed operation needs at least one partition");
        self.partitions = n;
        self
    }

    /// The interval between this stream's batches.
    pub fn slide_duration(&self) -> Duration {
        Duration::from_millis(self.slide * self.graph.clock.interval_ms())
    }

    /// `f(time, batch)` of every batch (Spark's `transform`, with the batch time).
    pub fn transform_with_time<U: Data>(
        &self,
        f: impl Fn(BatchTime, Rdd<T>) -> Rdd<U> + 'static,
    ) -> DStream<'s, U> {
        let graph = self.graph.clone();
        let stream = self
            .stream
            .clone()
            .unary::<CapacityContainerBuilder<Vec<Rdd<U>>>, _, _, _>(
                Pipeline,
                "Transform",
                move |_cap, _info| {
                    move |input, output| {
                        input.for_each(|cap, data| {
                            let batch = batch_of(*cap.least().expect("a message has a time"));
                            let time = graph.clock.time(batch);
                            let mut session = output.session(&cap);
                            for rdd in data.drain(..) {
                                session.give(f(time, rdd));
                            }
                        });
                    }
                },
            );
        self.derive(stream)
    }

    /// `f` of every batch (Spark's `transform`): any batch-level operation of [`Rdd`].
    pub fn transform<U: Data>(&self, f: impl Fn(Rdd<T>) -> Rdd<U> + 'static) -> DStream<'s, U> {
        self.transform_with_time(move |_, rdd| f(rdd))
    }

    /// `f` of every record.
    pub fn map<U: Data>(&self, f: impl Fn(T) -> U + 'static) -> DStream<'s, U> {
        self.transform(move |rdd| rdd.map(&f))
    }

    /// The records `f` gives for every record.
    pub fn flat_map<U: Data, I: IntoIterator<Item = U>>(
        &self,
        f: impl Fn(T) -> I + 'static,
    ) -> DStream<'s, U> {
        self.transform(move |rdd| rdd.flat_map(&f))
    }

    /// The records for which `f` is true.
    pub fn filter(&self, f: impl Fn(&T) -> bool + 'static) -> DStream<'s, T> {
        self.transform(move |rdd| rdd.filter(&f))
    }

    /// `f` of every partition.
    pub fn map_partitions<U: Data>(
        &self,
        f: impl Fn(Vec<T>) -> Vec<U> + 'static,
    ) -> DStream<'s, U> {
        self.transform(move |rdd| rdd.map_partitions(&f))
    }

    /// Each partition as one record.
    pub fn glom(&self) -> DStream<'s, Vec<T>> {
        self.transform(Rdd::glom)
    }

    /// Every batch's records spread over `n` partitions.
    pub fn repartition(&self, n: usize) -> DStream<'s, T> {
        assert!(n > 0, "repartition needs at least one partition");
        self.transform(move |rdd| rdd.repartition(n))
    }

    /// Each batch's record count, as PySpark counts (see [`Rdd::count`]): one record, 0 for a batch of
    /// empty partitions, and no record for a batch with no partition at all (a socket or file stream's
    /// batch in which nothing arrived).
    pub fn count(&self) -> DStream<'s, u64> {
        self.transform(|rdd| rdd.count())
    }

    /// Each batch's records folded with `f`, as a batch of one record (none for an empty batch).
    pub fn reduce(&self, f: impl Fn(T, T) -> T + 'static) -> DStream<'s, T> {
        self.transform(move |rdd| rdd.reduce(&f))
    }

    /// How many times each distinct record occurs in each batch.
    pub fn count_by_value(&self) -> DStream<'s, (T, u64)>
    where
        T: Key,
    {
        let n = self.partitions;
        self.transform(move |rdd| rdd.count_by_value(n))
    }

    /// Each batch of this stream with the same epoch's batch of `other` by `f` (Spark's
    /// `transformWith`). Both streams must have the same slide.
    pub fn transform_with<U: Data, V: Data>(
        &self,
        other: &DStream<'s, U>,
        f: impl Fn(Rdd<T>, Rdd<U>) -> Rdd<V> + 'static,
    ) -> DStream<'s, V> {
        self.pair_with(other, "TransformWith", move |a, b| match (a, b) {
            (Some(a), Some(b)) => Some(f(a, b)),
            _ => None,
        })
    }

    /// Pairs this stream's batch with `other`'s of the same epoch, once both are complete.
    pub(crate) fn pair_with<U: Data, V: Data>(
        &self,
        other: &DStream<'s, U>,
        name: &str,
        f: impl Fn(Option<Rdd<T>>, Option<Rdd<U>>) -> Option<Rdd<V>> + 'static,
    ) -> DStream<'s, V> {
        assert_eq!(
            self.slide, other.slide,
            "{name} needs streams of the same slide duration ({} and {} batches)",
            self.slide, other.slide
        );
        let stream = self.stream.clone().pair_epochs(
            other.stream.clone(),
            name,
            move |_batch, a: Vec<Rdd<T>>, b: Vec<Rdd<U>>| {
                let a = (!a.is_empty()).then(|| Rdd::union_all(a));
                let b = (!b.is_empty()).then(|| Rdd::union_all(b));
                f(a, b)
            },
        );
        self.derive(stream)
    }

    /// Each batch's partitions followed by `other`'s batch's (Spark's `union`).
    pub fn union(&self, other: &DStream<'s, T>) -> DStream<'s, T> {
        self.pair_with(other, "Union", |a, b| match (a, b) {
            (Some(a), Some(b)) => Some(a.union(b)),
            (a, b) => a.or(b),
        })
    }
}

impl<'s, K: Key, V: Data> DStream<'s, (K, V)> {
    /// `f` of every value, keys unchanged.
    pub fn map_values<U: Data>(&self, f: impl Fn(V) -> U + 'static) -> DStream<'s, (K, U)> {
        self.transform(move |rdd| rdd.map_values(&f))
    }

    /// The values `f` gives for every value, each with the value's key.
    pub fn flat_map_values<U: Data, I: IntoIterator<Item = U>>(
        &self,
        f: impl Fn(V) -> I + 'static,
    ) -> DStream<'s, (K, U)> {
        self.transform(move |rdd| {
            rdd.flat_map(|(k, v)| f(v).into_iter().map(move |u| (k.clone(), u)))
        })
    }

    /// Each batch's values of every key folded with `f`.
    pub fn reduce_by_key(&self, f: impl Fn(V, V) -> V + 'static) -> DStream<'s, (K, V)> {
        let n = self.partitions;
        self.transform(move |rdd| rdd.reduce_by_key(&f, n))
    }

    /// Each batch's values of every key, in order.
    pub fn group_by_key(&self) -> DStream<'s, (K, Vec<V>)> {
        let n = self.partitions;
        self.transform(move |rdd| rdd.group_by_key(n))
    }

    /// For each key of either batch, its values in this batch and in `other`'s.
    #[allow(clippy::type_complexity)]
    pub fn cogroup<W: Data>(
        &self,
        other: &DStream<'s, (K, W)>,
    ) -> DStream<'s, (K, (Vec<V>, Vec<W>))> {
        let n = self.partitions;
        self.binary_keyed(other, "Cogroup", move |a, b| a.cogroup(b, n))
    }

    /// Every pair of values of a key present in both batches.
    pub fn join<W: Data>(&self, other: &DStream<'s, (K, W)>) -> DStream<'s, (K, (V, W))> {
        let n = self.partitions;
        self.binary_keyed(other, "Join", move |a, b| a.join(b, n))
    }

    /// [`DStream::join`], plus `(v, None)` for keys only in this stream's batch.
    pub fn left_outer_join<W: Data>(
        &self,
        other: &DStream<'s, (K, W)>,
    ) -> DStream<'s, (K, (V, Option<W>))> {
        let n = self.partitions;
        self.binary_keyed(other, "LeftOuterJoin", move |a, b| a.left_outer_join(b, n))
    }

    /// [`DStream::join`], plus `(None, w)` for keys only in `other`'s batch.
    pub fn right_outer_join<W: Data>(
        &self,
        other: &DStream<'s, (K, W)>,
    ) -> DStream<'s, (K, (Option<V>, W))> {
        let n = self.partitions;
        self.binary_keyed(other, "RightOuterJoin", move |a, b| {
            a.right_outer_join(b, n)
        })
    }

    /// [`DStream::join`], plus `(v, None)` and `(None, w)` for keys in one batch only.
    #[allow(clippy::type_complexity)]
    pub fn full_outer_join<W: Data>(
        &self,
        other: &DStream<'s, (K, W)>,
    ) -> DStream<'s, (K, (Option<V>, Option<W>))> {
        let n = self.partitions;
        self.binary_keyed(other, "FullOuterJoin", move |a, b| a.full_outer_join(b, n))
    }

    /// A binary keyed operation on the batches of the same epoch; a stream with no batch at that epoch
    /// counts as an empty batch, and nothing is produced if neither has one.
    fn binary_keyed<W: Data, O: Data>(
        &self,
        other: &DStream<'s, (K, W)>,
        name: &str,
        f: impl Fn(Rdd<(K, V)>, Rdd<(K, W)>) -> Rdd<O> + 'static,
    ) -> DStream<'s, O> {
        self.pair_with(other, name, move |a, b| match (a, b) {
            (None, None) => None,
            (a, b) => Some(f(
                a.unwrap_or_else(|| Rdd::new(Vec::new())),
                b.unwrap_or_else(|| Rdd::new(Vec::new())),
            )),
        })
    }
}
