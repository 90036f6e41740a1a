//! [`Most`]: the values tied for the most of a window, by a measure of each. Query 5 keeps the
//! auctions with the most bids, query 7 the bids with the highest price; both keep every tie, as
//! the reference texts' `>=` against the window's maximum does.

use caudal_operators::window::aggregate::Aggregate;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Keeps every value whose `measure` is the highest seen, in the order they came.
#[derive(Clone, Copy, Debug)]
pub struct Most<M>(pub M);

impl<V, M> Aggregate<V> for Most<M>
where
    V: Clone + Serialize + DeserializeOwned + 'static,
    M: Fn(&V) -> u64 + 'static,
{
    /// The values tied for the highest measure.
    type Acc = Vec<V>;
    type Out = Vec<V>;

    fn create(&self) -> Vec<V> {
        Vec::new()
    }

    #[inline]
    fn add(&self, acc: &mut Vec<V>, value: V) {
        let measure = (self.0)(&value);
        match acc.first().map(&self.0) {
            Some(best) if measure < best => {}
            Some(best) if measure == best => acc.push(value),
            _ => {
                acc.clear();
                acc.push(value);
            }
        }
    }

    fn merge(&self, acc: &mut Vec<V>, other: &Vec<V>) {
        for value in other {
            self.add(acc, value.clone());
        }
    }

    fn result(&self, acc: &Vec<V>) -> Vec<V> {
        acc.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_keeps_every_value_tied_for_the_highest_measure() {
        // (auction, bids): the auctions with the most bids, as query 5 keeps them.
        let agg = Most(|&(_, count): &(u64, u64)| count);
        let mut acc = agg.create();
        for (auction, count) in [(1, 3), (2, 5), (3, 5), (4, 1)] {
            agg.add(&mut acc, (auction, count));
        }
        assert_eq!(agg.result(&acc), vec![(2, 5), (3, 5)]);
        let mut other = agg.create();
        agg.add(&mut other, (9, 7));
        agg.merge(&mut acc, &other);
        assert_eq!(agg.result(&acc), vec![(9, 7)]);
    }
}
