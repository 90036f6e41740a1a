//! Windowed DStreams: each output batch spans the last `length` of input batches and comes every
//! `slide`, at batch times that are multiples of the slide (the first at batch `slide/interval − 1`).
//! Early windows are partial; after the input ends the windows drain and then stay empty.
//!
//! `window` keeps the batches it spans (sharing their partitions, not copying them).
//! `reduce_by_key_and_window` with an inverse function keeps the previous window's result and updates it
//! with the batches that enter (through the reduce function) and leave (through the inverse), as Spark
//! does: a key whose value has gone back to the zero stays unless the filter drops it. Without an
//! inverse, each window is reduced from its batches.

use std::collections::VecDeque;
use std::time::Duration;

use super::exchange::per_epoch;
use super::rdd::{place, Key, OrderedMap, StateData};
use super::slice::Slice;
use super::stream::DStream;
use super::time::batch_of;

/// A record filter for [`DStream::reduce_by_key_and_window_inverse`].
pub type KeyFilter<K, V> = Box<dyn Fn(&(K, V)) -> bool>;

impl<'s, T: StateData> DStream<'s, T> {
    /// `length` and `slide` in batches, checked against the batch interval and this stream's slide.
    fn window_batches(&self, length: Duration, slide: Duration, what: &str) -> (u64, u64) {
        let interval = self.graph.clock.interval_ms();
        let (length_ms, slide_ms) = (length.as_millis() as u64, slide.as_millis() as u64);
        let parent_ms = self.slide * interval;
        for (name, ms) in [("window length", length_ms), ("slide", slide_ms)] {
            assert!(
                ms > 0 && ms % parent_ms == 0,
                "{what}: the {name} ({ms} ms) must be a positive multiple of the parent stream's slide ({parent_ms} ms)"
            );
        }
        (length_ms / interval, slide_ms / interval)
    }

    /// Every `slide`, the union of the batches of the last `length` (each worker's slices of them).
    ///
    /// # Panics
    /// If `length` or `slide` is not a positive multiple of this stream's slide.
    pub fn window(&self, length: Duration, slide: Duration) -> DStream<'s, T> {
        let (length, slide) = self.window_batches(length, slide, "window");
        let held: VecDeque<(u64, Slice<T>)> = VecDeque::new();
        let stream = per_epoch(
            self.stream.clone(),
            &self.graph,
            "Window",
            held,
            move |held, epoch, slices: Vec<Slice<T>>| {
                let batch = batch_of(epoch);
                held.push_back((batch, Slice::union_all(slices)));
                while held.front().is_some_and(|(b, _)| b + length <= batch) {
                    held.pop_front();
                }
                (batch + 1)
                    .is_multiple_of(slide)
                    .then(|| Slice::union_all(held.iter().map(|(_, slice)| slice.clone())))
            },
        );
        let mut out = self.derive(stream);
        out.slide = slide;
        out
    }

    /// Every `slide`, the number of records in the last `length` (through an inverse, as Spark counts:
    /// no record until the first one comes, then 0 once they have all left).
    pub fn count_by_window(&self, length: Duration, slide: Duration) -> DStream<'s, u64> {
        self.map(|_| 1u64)
            .reduce_by_window_inverse(|a, b| a + b, |a, b| a - b, length, slide)
    }

    /// Every `slide`, the records of the last `length` folded with `f` (one record, none if there was
    /// no record).
    pub fn reduce_by_window(
        &self,
        f: impl Fn(T, T) -> T + Clone + 'static,
        length: Duration,
        slide: Duration,
    ) -> DStream<'s, T> {
        let g = f.clone();
        self.reduce(f)
            .window(length, slide)
            .transform(move |rdd| rdd.reduce(&g))
    }

    /// [`DStream::reduce_by_window`], updating the previous window's value with `f` for the batches
    /// that enter and `inverse` for those that leave.
    pub fn reduce_by_window_inverse(
        &self,
        f: impl Fn(T, T) -> T + 'static,
        inverse: impl Fn(T, T) -> T + 'static,
        length: Duration,
        slide: Duration,
    ) -> DStream<'s, T> {
        self.map(|x| (1u8, x))
            .partitions(1)
            .reduce_by_key_and_window_inverse(f, inverse, length, slide, None)
            .map(|(_, v)| v)
    }
}

impl<'s, T: Key + StateData> DStream<'s, T> {
    /// Every `slide`, how many times each record occurred in the last `length` (zero counts dropped).
    pub fn count_by_value_and_window(
        &self,
        length: Duration,
        slide: Duration,
    ) -> DStream<'s, (T, u64)> {
        self.map(|x| (x, 1u64)).reduce_by_key_and_window_inverse(
            |a, b| a + b,
            |a, b| a - b,
            length,
            slide,
            Some(Box::new(|(_, n): &(T, u64)| *n != 0)),
        )
    }
}

impl<'s, K: Key + StateData, V: StateData> DStream<'s, (K, V)> {
    /// Every `slide`, the values of each key in the last `length` folded with `f`.
    pub fn reduce_by_key_and_window(
        &self,
        f: impl Fn(V, V) -> V + 'static,
        length: Duration,
        slide: Duration,
    ) -> DStream<'s, (K, V)> {
        // Each batch reduced when it comes, and the window's reductions reduced again.
        let f = std::rc::Rc::new(f);
        let g = f.clone();
        self.reduce_by_key(move |a, b| g(a, b))
            .window(length, slide)
            .reduce_by_key(move |a, b| f(a, b))
    }

    /// Every `slide`, the values of each key in the last `length` folded with `f`, kept up to date
    /// incrementally: the previous window's values, plus the batches that entered (with `f`), minus
    /// those that left (with `inverse`). Keys stay with whatever value they reach unless `filter` drops
    /// them.
    pub fn reduce_by_key_and_window_inverse(
        &self,
        f: impl Fn(V, V) -> V + 'static,
        inverse: impl Fn(V, V) -> V + 'static,
        length: Duration,
        slide: Duration,
        filter: Option<KeyFilter<K, V>>,
    ) -> DStream<'s, (K, V)> {
        let (length, slide) = self.window_batches(length, slide, "reduce_by_key_and_window");
        let n = self.partitions;
        let (worker, workers) = (self.graph.worker, self.graph.workers);
        // Each worker keeps the keys of its partitions.
        let shuffled = self.by_key();
        let stream = per_epoch(
            shuffled.stream,
            &self.graph,
            "ReduceByKeyAndWindow",
            InverseWindow::<K, V>::default(),
            move |window, epoch, slices: Vec<Slice<(K, V)>>| {
                let batch = batch_of(epoch);
                let InverseWindow {
                    pending,
                    included,
                    state,
                } = window;
                let mut reduced = OrderedMap::default();
                for (_, records) in Slice::union_all(slices).into_placed() {
                    for (k, v) in records {
                        merge(&mut reduced, k, v, &f);
                    }
                }
                pending.push_back((batch, reduced));
                if !(batch + 1).is_multiple_of(slide) {
                    return None;
                }
                let in_window = |b: u64| b + length > batch;
                // Leaving batches are folded together with `f`, then taken off once with `inverse`
                // (Spark's `invReduce(previous, reduce(old values))`); only keys of the previous window.
                let mut old: Reduced<K, V> = OrderedMap::default();
                while included.front().is_some_and(|(b, _)| !in_window(*b)) {
                    let (_, leaving) = included.pop_front().expect("a leaving batch");
                    for (k, v) in leaving {
                        merge(&mut old, k, v.expect("a value"), &f);
                    }
                }
                for (k, v) in old {
                    if let Some(slot) = state.get_mut(&k) {
                        let current = slot.take().expect("a value");
                        *slot = Some(inverse(current, v.expect("a value")));
                    }
                }
                for (b, entering) in pending.drain(..).filter(|(b, _)| in_window(*b)) {
                    for (k, v) in &entering {
                        merge(state, k.clone(), v.clone().expect("a value"), &f);
                    }
                    included.push_back((b, entering));
                }
                let records = state
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone().expect("a value")))
                    .filter(|record| filter.as_ref().is_none_or(|keep| keep(record)));
                let placed = place(records, n);
                if filter.is_some() {
                    // The filtered result is the next window's previous value.
                    *state = placed
                        .iter()
                        .flatten()
                        .map(|(k, v)| (k.clone(), Some(v.clone())))
                        .collect();
                }
                Some(Slice::mine(placed, worker, workers))
            },
        );
        let mut out = self.derive(stream);
        out.slide = slide;
        out
    }

    /// Every `slide`, the values of each key in the last `length`, in order.
    pub fn group_by_key_and_window(
        &self,
        length: Duration,
        slide: Duration,
    ) -> DStream<'s, (K, Vec<V>)> {
        let n = self.partitions;
        self.window(length, slide)
            .transform(move |rdd| rdd.group_by_key(n))
    }
}

/// Values reduced by key, in first-seen order (always `Some`; `None` only while being replaced).
type Reduced<K, V> = OrderedMap<K, Option<V>>;

/// What `reduce_by_key_and_window_inverse` keeps from one batch to the next.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(bound = "K: Key + StateData, V: StateData")]
struct InverseWindow<K, V> {
    /// Each batch reduced by key when it comes, not yet in the window's value.
    pending: VecDeque<(u64, Reduced<K, V>)>,
    /// The batches in the window's value.
    included: VecDeque<(u64, Reduced<K, V>)>,
    /// The previous window's value, keys in output order.
    state: Reduced<K, V>,
}

impl<K: Key, V> Default for InverseWindow<K, V> {
    fn default() -> Self {
        InverseWindow {
            pending: VecDeque::new(),
            included: VecDeque::new(),
            state: OrderedMap::default(),
        }
    }
}

/// Folds `v` into `k`'s value with `f`, or inserts it.
fn merge<K: Key, V>(map: &mut Reduced<K, V>, k: K, v: V, f: &impl Fn(V, V) -> V) {
    match map.entry(k) {
        indexmap::map::Entry::Occupied(mut e) => {
            let old = e.get_mut().take().expect("a value");
            *e.get_mut() = Some(f(old, v));
        }
        indexmap::map::Entry::Vacant(e) => {
            e.insert(Some(v));
        }
    }
}
