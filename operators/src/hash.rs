//! Routing records to workers by key.
//!
//! Timely routes an exchanged record by the low bits of a `u64` when the number of workers is a power of
//! two, so keys must be hashed well first: small integers would otherwise all land on a few workers.

use std::hash::{Hash, Hasher};

/// A well-mixed 64-bit hash of `key` (FxHash, whose `finish` moves the best-mixed bits low), stable
/// within one build: every worker and process of a run routes a key to the same place.
#[inline]
pub fn route<K: Hash + ?Sized>(key: &K) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    key.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_integer_keys_spread_over_power_of_two_workers() {
        let mut per_worker = [0usize; 4];
        for k in 0u64..4000 {
            per_worker[(route(&k) & 3) as usize] += 1;
        }
        for n in per_worker {
            assert!((800..=1200).contains(&n), "skewed routing: {per_worker:?}");
        }
    }

    #[test]
    fn equal_keys_route_equally() {
        assert_eq!(route("VIU"), route(&String::from("VIU")));
    }
}
