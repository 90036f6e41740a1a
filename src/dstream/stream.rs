//! [`DStream`]: a stream of batches, and the transformations that apply to each batch on its own.
//!
//! A DStream is a timely stream of `Slice`s at batch epochs: at epoch `i`, if the stream has a batch
//! at time `i` (a window off its slide has none), every worker has its slice of batch `i`, the
//! partitions it holds. Operations on single partitions (`map`, `filter`, ...) work where the
//! partitions are; per-batch shuffles (`reduce_by_key`, `count_by_value`, `repartition`, ...) move the
//! records to the worker of their output partition (`exchange.rs`); functions of a whole batch
//! (`transform`) run on the first worker, which gathers it. Binary ones (`union`, joins, `cogroup`,
//! `transform_with`) pair the two streams' batches of the same epoch once both frontiers have passed it.

use std::rc::Rc;
use std::time::Duration;

use caudal_operators::epoch::EpochOps;
use caudal_operators::EventTime;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::StreamVec;

use super::context::Graph;
use super::exchange::{self, Owner};
use super::rdd::{self, Data, Key, Rdd};
use super::slice::Slice;
use super::time::{batch_of, BatchTime};

/// A discretized stream: a batch per batch interval (or per slide, for windowed streams).
pub struct DStream<'s, T: 'static> {
    pub(crate) stream: StreamVec<'s, EventTime, Slice<T>>,
    pub(crate) graph: Rc<Graph>,
    /// How many batch intervals apart this stream's batches are.
    pub(crate) slide: u64,
    /// How many partitions keyed operations on this stream shuffle into.
    pub(crate) partitions: usize,
}

impl<T: Data> Clone for DStream<'_, T> {
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
        stream: StreamVec<'s, EventTime, Slice<T>>,
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
        stream: StreamVec<'s, EventTime, Slice<U>>,
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

    /// `f` of the partitions each worker holds, where they are: `f` gives a partition per partition.
    fn per_partition<U: Data>(
        &self,
        name: &str,
        f: impl Fn(Rdd<T>) -> Rdd<U> + 'static,
    ) -> DStream<'s, U> {
        let stream = self
            .stream
            .clone()
            .unary::<CapacityContainerBuilder<Vec<Slice<U>>>, _, _, _>(
                Pipeline,
                name,
                move |_cap, _info| {
                    move |input, output| {
                        input.for_each(|cap, data| {
                            output
                                .session(&cap)
                                .give_iterator(data.drain(..).map(|s| s.per_partition(&f)));
                        });
                    }
                },
            );
        self.derive(stream)
    }

    /// The batches redistributed (see [`exchange::redistribute`]).
    fn redistribute<M: Data, U: Data>(
        &self,
        name: &str,
        owner: Owner,
        total: impl Fn(usize) -> usize + 'static,
        split: impl FnMut(usize, Vec<T>, usize, &mut dyn FnMut(usize, Vec<M>)) + 'static,
        finish: impl FnMut(usize, Vec<M>) -> Vec<U> + 'static,
    ) -> DStream<'s, U> {
        let stream = exchange::redistribute(
            self.stream.clone(),
            &self.graph,
            name,
            owner,
            total,
            split,
            finish,
        );
        self.derive(stream)
    }

    /// Every batch whole on the first worker (on other workers, a slice with no partition).
    pub(crate) fn gathered(&self) -> StreamVec<'s, EventTime, Slice<T>> {
        if self.graph.workers == 1 {
            return self.stream.clone();
        }
        exchange::place(self.stream.clone(), &self.graph, "Gather", Owner::First)
    }

    /// Batches made whole on the first worker (and nowhere else), spread over the workers.
    pub(crate) fn spread<U: Data>(
        &self,
        whole: StreamVec<'s, EventTime, Slice<U>>,
    ) -> DStream<'s, U> {
        if self.graph.workers == 1 {
            return self.derive(whole);
        }
        self.derive(exchange::place(whole, &self.graph, "Spread", Owner::Spread))
    }

    /// `f(time, batch)` of every batch (Spark's `transform`, with the batch time); on several workers,
    /// the first gathers the batch, applies `f` and spreads the result's partitions.
    pub fn transform_with_time<U: Data>(
        &self,
        f: impl Fn(BatchTime, Rdd<T>) -> Rdd<U> + 'static,
    ) -> DStream<'s, U> {
        let graph = self.graph.clone();
        let leader = graph.worker == 0;
        let whole = self
            .gathered()
            .unary::<CapacityContainerBuilder<Vec<Slice<U>>>, _, _, _>(
                Pipeline,
                "Transform",
                move |_cap, _info| {
                    move |input, output| {
                        input.for_each(|cap, data| {
                            let batch = batch_of(*cap.least().expect("a message has a time"));
                            let time = graph.clock.time(batch);
                            let mut session = output.session(&cap);
                            for slice in data.drain(..).filter(|_| leader) {
                                session.give(Slice::whole(f(time, slice.into_rdd())));
                            }
                        });
                    }
                },
            );
        self.spread(whole)
    }

    /// `f` of every batch (Spark's `transform`): any batch-level operation of [`Rdd`].
    pub fn transform<U: Data>(&self, f: impl Fn(Rdd<T>) -> Rdd<U> + 'static) -> DStream<'s, U> {
        self.transform_with_time(move |_, rdd| f(rdd))
    }

    /// `f` of every record.
    pub fn map<U: Data>(&self, f: impl Fn(T) -> U + 'static) -> DStream<'s, U> {
        self.per_partition("Map", move |rdd| rdd.map(&f))
    }

    /// The records `f` gives for every record.
    pub fn flat_map<U: Data, I: IntoIterator<Item = U>>(
        &self,
        f: impl Fn(T) -> I + 'static,
    ) -> DStream<'s, U> {
        self.per_partition("FlatMap", move |rdd| rdd.flat_map(&f))
    }

    /// The records for which `f` is true.
    pub fn filter(&self, f: impl Fn(&T) -> bool + 'static) -> DStream<'s, T> {
        self.per_partition("Filter", move |rdd| rdd.filter(&f))
    }

    /// `f` of every partition.
    pub fn map_partitions<U: Data>(
        &self,
        f: impl Fn(Vec<T>) -> Vec<U> + 'static,
    ) -> DStream<'s, U> {
        self.per_partition("MapPartitions", move |rdd| rdd.map_partitions(&f))
    }

    /// Each partition as one record.
    pub fn glom(&self) -> DStream<'s, Vec<T>> {
        self.per_partition("Glom", Rdd::glom)
    }

    /// Every batch's records spread over `n` partitions (as PySpark spreads them, see
    /// [`Rdd::repartition`]).
    pub fn repartition(&self, n: usize) -> DStream<'s, T> {
        assert!(n > 0, "repartition needs at least one partition");
        self.redistribute(
            "Repartition",
            Owner::Spread,
            move |_| n,
            |place, records, n, emit| {
                for (to, records) in rdd::deal(place, records, n).into_iter().enumerate() {
                    if !records.is_empty() {
                        emit(to, records);
                    }
                }
            },
            |_, records| records,
        )
    }

    /// Each batch's record count, as PySpark counts (see [`Rdd::count`]): one record, 0 for a batch of
    /// empty partitions, and no record for a batch with no partition at all (a socket or file stream's
    /// batch in which nothing arrived).
    pub fn count(&self) -> DStream<'s, u64> {
        self.redistribute(
            "Count",
            Owner::Spread,
            |_| 1,
            |_, records, _, emit| emit(0, vec![records.len() as u64]),
            |_, counts| {
                if counts.is_empty() {
                    Vec::new()
                } else {
                    vec![counts.into_iter().sum()]
                }
            },
        )
    }

    /// Each batch's records folded with `f`, as a batch of one record (none for an empty batch).
    pub fn reduce(&self, f: impl Fn(T, T) -> T + 'static) -> DStream<'s, T> {
        self.redistribute(
            "Reduce",
            Owner::Spread,
            |_| 1,
            |_, records, _, emit| emit(0, records),
            move |_, records| records.into_iter().reduce(&f).into_iter().collect(),
        )
    }

    /// How many times each distinct record occurs in each batch.
    pub fn count_by_value(&self) -> DStream<'s, (T, u64)>
    where
        T: Key,
    {
        self.map(|x| (x, 1u64)).reduce_by_key(|a, b| a + b)
    }

    /// Each batch of this stream with the same epoch's batch of `other` by `f` (Spark's
    /// `transformWith`). Both streams must have the same slide.
    pub fn transform_with<U: Data, V: Data>(
        &self,
        other: &DStream<'s, U>,
        f: impl Fn(Rdd<T>, Rdd<U>) -> Rdd<V> + 'static,
    ) -> DStream<'s, V> {
        let leader = self.graph.worker == 0;
        let a = self.derive(self.gathered());
        let b = other.derive(other.gathered());
        let whole = a.pair_with(&b, "TransformWith", move |a, b| match (a, b) {
            (Some(a), Some(b)) if leader => Some(Slice::whole(f(a.into_rdd(), b.into_rdd()))),
            _ => None,
        });
        self.spread(whole.stream)
    }

    /// Pairs this stream's slice with `other`'s of the same epoch, once both are complete.
    pub(crate) fn pair_with<U: Data, V: Data>(
        &self,
        other: &DStream<'s, U>,
        name: &str,
        f: impl Fn(Option<Slice<T>>, Option<Slice<U>>) -> Option<Slice<V>> + 'static,
    ) -> DStream<'s, V> {
        assert_eq!(
            self.slide, other.slide,
            "{name} needs streams of the same slide duration ({} and {} batches)",
            self.slide, other.slide
        );
        let stream = self.stream.clone().pair_epochs(
            other.stream.clone(),
            name,
            move |_batch, a: Vec<Slice<T>>, b: Vec<Slice<U>>| {
                let a = (!a.is_empty()).then(|| Slice::union_all(a));
                let b = (!b.is_empty()).then(|| Slice::union_all(b));
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
        self.per_partition("MapValues", move |rdd| rdd.map_values(&f))
    }

    /// The values `f` gives for every value, each with the value's key.
    pub fn flat_map_values<U: Data, I: IntoIterator<Item = U>>(
        &self,
        f: impl Fn(V) -> I + 'static,
    ) -> DStream<'s, (K, U)> {
        self.per_partition("FlatMapValues", move |rdd| {
            rdd.flat_map(|(k, v)| f(v).into_iter().map(move |u| (k.clone(), u)))
        })
    }

    /// Each batch's records moved to their key's partition of this stream's [`partitions`], combined
    /// as Spark's `combineByKey` combines them: in each input partition, where it is, a key's first
    /// value starts its combiner (`create`) and the others are folded in (`merge_value`), in order; the
    /// combiners of a key from the input partitions are then merged in input-partition order
    /// (`merge_combiners`), and `finish` makes each output partition from its keys, in the order they
    /// were first seen going through the input partitions in order (PySpark's order). A key's partition
    /// (Spark's hash, costly for strings) is thus worked out once per key and input partition, not once
    /// per record.
    ///
    /// [`partitions`]: DStream::partitions
    pub(crate) fn combine_by_key<A: Data, U: Data>(
        &self,
        name: &str,
        create: impl Fn(V) -> A + 'static,
        merge_value: impl Fn(&mut A, V) + 'static,
        merge_combiners: impl Fn(&mut A, A) + 'static,
        finish: impl Fn(Vec<(K, A)>) -> Vec<U> + 'static,
    ) -> DStream<'s, U> {
        let n = self.partitions;
        self.redistribute(
            name,
            Owner::Spread,
            move |_| n,
            move |_, records, n, emit| {
                let combined = rdd::group(records, &create, &merge_value);
                for (to, part) in rdd::place(combined, n).into_iter().enumerate() {
                    if !part.is_empty() {
                        emit(to, part);
                    }
                }
            },
            move |_, combiners| {
                let merged = rdd::group(combiners, |a| a, &merge_combiners);
                finish(merged.into_iter().collect())
            },
        )
    }

    /// Each batch's keys with their values in order (see [`DStream::combine_by_key`]).
    fn shuffle<U: Data>(
        &self,
        name: &str,
        finish: impl Fn(Vec<(K, Vec<V>)>) -> Vec<U> + 'static,
    ) -> DStream<'s, U> {
        self.combine_by_key(
            name,
            |v| vec![v],
            |vs, v| vs.push(v),
            |vs, mut more| vs.append(&mut more),
            finish,
        )
    }

    /// Each batch's records on the worker of their key's partition (on one worker, as they are: the
    /// keyed state that follows keeps each partition's keys in the order they came either way).
    pub(crate) fn by_key(&self) -> DStream<'s, (K, V)> {
        if self.graph.workers == 1 {
            return self.clone();
        }
        self.shuffle("ByKey", |groups| {
            groups
                .into_iter()
                .flat_map(|(k, vs)| vs.into_iter().map(move |v| (k.clone(), v)))
                .collect()
        })
    }

    /// Each batch's values of every key folded with `f`.
    pub fn reduce_by_key(&self, f: impl Fn(V, V) -> V + 'static) -> DStream<'s, (K, V)> {
        // Folded where the records are, then across partitions, as PySpark's reduceByKey does (the
        // same fold on any number of workers).
        let f = Rc::new(f);
        let g = f.clone();
        self.combine_by_key(
            "ReduceByKey",
            |v| Some(v),
            move |acc: &mut Option<V>, v| *acc = acc.take().map(|a| f(a, v)),
            move |acc: &mut Option<V>, other| *acc = acc.take().zip(other).map(|(a, b)| g(a, b)),
            |reduced| {
                reduced
                    .into_iter()
                    .map(|(k, v)| (k, v.expect("a key has a value")))
                    .collect()
            },
        )
    }

    /// Each batch's values of every key, in order.
    pub fn group_by_key(&self) -> DStream<'s, (K, Vec<V>)> {
        self.shuffle("GroupByKey", |groups| groups)
    }

    /// For each key of either batch, its values in this batch and in `other`'s.
    #[allow(clippy::type_complexity)]
    pub fn cogroup<W: Data>(
        &self,
        other: &DStream<'s, (K, W)>,
    ) -> DStream<'s, (K, (Vec<V>, Vec<W>))> {
        let n = self.partitions;
        let tagged = self
            .map_values(Ok::<V, W>)
            .union(&other.map_values(Err::<V, W>));
        let mut out = tagged.partitions(n).shuffle("Cogroup", |groups| {
            groups
                .into_iter()
                .map(|(k, tagged)| {
                    let mut both = (Vec::new(), Vec::new());
                    for x in tagged {
                        match x {
                            Ok(v) => both.0.push(v),
                            Err(w) => both.1.push(w),
                        }
                    }
                    (k, both)
                })
                .collect()
        });
        out.partitions = n;
        out
    }

    /// Every pair of values of a key present in both batches.
    pub fn join<W: Data>(&self, other: &DStream<'s, (K, W)>) -> DStream<'s, (K, (V, W))> {
        self.cogroup(other).flat_map(rdd::inner_pairs)
    }

    /// [`DStream::join`], plus `(v, None)` for keys only in this stream's batch.
    pub fn left_outer_join<W: Data>(
        &self,
        other: &DStream<'s, (K, W)>,
    ) -> DStream<'s, (K, (V, Option<W>))> {
        self.full_outer_join(other)
            .flat_map(|(k, (v, w))| v.map(|v| (k, (v, w))))
    }

    /// [`DStream::join`], plus `(None, w)` for keys only in `other`'s batch.
    pub fn right_outer_join<W: Data>(
        &self,
        other: &DStream<'s, (K, W)>,
    ) -> DStream<'s, (K, (Option<V>, W))> {
        self.full_outer_join(other)
            .flat_map(|(k, (v, w))| w.map(|w| (k, (v, w))))
    }

    /// [`DStream::join`], plus `(v, None)` and `(None, w)` for keys in one batch only.
    #[allow(clippy::type_complexity)]
    pub fn full_outer_join<W: Data>(
        &self,
        other: &DStream<'s, (K, W)>,
    ) -> DStream<'s, (K, (Option<V>, Option<W>))> {
        self.cogroup(other).flat_map(rdd::outer_pairs)
    }
}
