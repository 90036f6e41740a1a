//! [`Slice`]: the partitions of one batch that one worker holds.
//!
//! A DStream's batch is an [`Rdd`] whose partitions are spread over the timely workers, as Spark spreads
//! an RDD's partitions over its executors. What flows between the operators of one worker is that
//! worker's slice of the batch: the partitions it holds, with their places in the whole batch. On one
//! worker a slice is the whole batch. Operations on single partitions (`map`, `filter`, ...) work on
//! the slice where it is; the others move partitions between workers (see [`super::exchange`]).

use super::rdd::{Data, Rdd};

/// One worker's partitions of one batch.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
#[serde(bound = "T: serde::Serialize + serde::de::DeserializeOwned")]
pub(crate) struct Slice<T> {
    /// How many partitions the whole batch has.
    total: usize,
    /// The place of each partition held in the whole batch, ascending.
    places: Vec<usize>,
    /// The partitions held, in the order of `places`.
    rdd: Rdd<T>,
}

impl<T> Slice<T> {
    /// All of `rdd`.
    pub(crate) fn whole(rdd: Rdd<T>) -> Self {
        Slice {
            total: rdd.num_partitions(),
            places: (0..rdd.num_partitions()).collect(),
            rdd,
        }
    }

    /// The partitions `parts` (place, records), in ascending places, of a batch of `total`.
    pub(crate) fn from_parts(total: usize, parts: Vec<(usize, Vec<T>)>) -> Self {
        debug_assert!(parts.windows(2).all(|w| w[0].0 < w[1].0));
        let (places, parts): (Vec<usize>, Vec<Vec<T>>) = parts.into_iter().unzip();
        Slice {
            total,
            places,
            rdd: Rdd::new(parts),
        }
    }

    /// Of a batch's partitions `parts`, those that worker `worker` of `workers` holds (partition `p`
    /// on worker `p % workers`).
    pub(crate) fn mine(parts: Vec<Vec<T>>, worker: usize, workers: usize) -> Self {
        let total = parts.len();
        let parts = parts
            .into_iter()
            .enumerate()
            .filter(|(p, _)| p % workers == worker)
            .collect();
        Slice::from_parts(total, parts)
    }

    /// How many partitions the whole batch has.
    pub(crate) fn total(&self) -> usize {
        self.total
    }

    /// Whether this slice holds every partition of its batch.
    pub(crate) fn is_whole(&self) -> bool {
        self.places.len() == self.total
    }

    /// The whole batch.
    ///
    /// # Panics
    /// If the slice does not hold every partition (a bug: whole batches are only taken where one worker
    /// has gathered them).
    pub(crate) fn into_rdd(self) -> Rdd<T> {
        assert!(
            self.is_whole(),
            "a slice of {} of {} partitions taken as a whole batch",
            self.places.len(),
            self.total
        );
        self.rdd
    }

    /// `f` of the partitions held, one by one: `f` must give a partition for each partition.
    pub(crate) fn per_partition<U>(self, f: impl FnOnce(Rdd<T>) -> Rdd<U>) -> Slice<U> {
        let rdd = f(self.rdd);
        assert_eq!(
            rdd.num_partitions(),
            self.places.len(),
            "a per-partition operation changed the number of partitions"
        );
        Slice {
            total: self.total,
            places: self.places,
            rdd,
        }
    }

    /// This batch's partitions followed by `other`'s (Spark's `union`).
    pub(crate) fn union(mut self, other: Slice<T>) -> Slice<T> {
        let offset = self.total;
        self.places
            .extend(other.places.into_iter().map(|p| p + offset));
        self.total += other.total;
        self.rdd = self.rdd.union(other.rdd);
        self
    }

    /// The batches' partitions one after the other (no partition for no batch).
    pub(crate) fn union_all(slices: impl IntoIterator<Item = Slice<T>>) -> Slice<T> {
        slices
            .into_iter()
            .reduce(Slice::union)
            .unwrap_or_else(|| Slice::whole(Rdd::new(Vec::new())))
    }
}

impl<T: Data> Slice<T> {
    /// The partitions held, each with its place in the whole batch.
    pub(crate) fn into_placed(self) -> impl Iterator<Item = (usize, Vec<T>)> {
        self.places.into_iter().zip(self.rdd.into_partitions())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_union_places_the_second_batch_after_all_of_the_first() {
        // Worker 1 of 2 holds partition 1 of a 2-partition batch and partitions 0 and 2 of a
        // 3-partition one.
        let a = Slice::from_parts(2, vec![(1, vec![10])]);
        let b = Slice::from_parts(3, vec![(0, vec![20]), (2, vec![21, 22])]);
        let u = a.union(b);
        assert_eq!(u.total(), 5);
        assert!(!u.is_whole());
        let placed: Vec<(usize, Vec<i32>)> = u.into_placed().collect();
        assert_eq!(
            placed,
            vec![(1, vec![10]), (2, vec![20]), (4, vec![21, 22])]
        );
    }

    #[test]
    fn a_whole_batch_comes_back_as_it_went() {
        let rdd = Rdd::new(vec![vec![1], vec![], vec![2, 3]]);
        let slice = Slice::whole(rdd.clone()).per_partition(|r| r.map(|x| x * 2));
        assert!(slice.is_whole());
        assert_eq!(
            slice.into_rdd(),
            Rdd::new(vec![vec![2], vec![], vec![4, 6]])
        );
        assert_eq!(Slice::<u8>::union_all([]).total(), 0);
    }
}
