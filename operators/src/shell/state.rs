//! [`KeyedState`]: the state of every key a worker owns, one value of the operator's state type per key.
//!
//! The shell owns it and hands it to the operator on every record and timer; checkpoints serialize it
//! whole (see [`super::registry`]).

use std::hash::Hash;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

/// The state of every key a worker owns.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound(
    serialize = "K: Serialize + Eq + Hash, S: Serialize",
    deserialize = "K: Deserialize<'de> + Eq + Hash, S: Deserialize<'de>"
))]
pub struct KeyedState<K, S> {
    states: FxHashMap<K, S>,
}

impl<K: Eq + Hash, S: PartialEq> PartialEq for KeyedState<K, S> {
    fn eq(&self, other: &Self) -> bool {
        self.states == other.states
    }
}

impl<K: Eq + Hash, S> Default for KeyedState<K, S> {
    fn default() -> Self {
        KeyedState {
            states: FxHashMap::default(),
        }
    }
}

impl<K: Eq + Hash, S> KeyedState<K, S> {
    /// Runs `logic` on `key` and its state (created by `init` if absent): one hash lookup for a key that
    /// has state, and no clone of the key.
    #[inline]
    pub fn apply<R>(
        &mut self,
        key: K,
        init: impl FnOnce() -> S,
        logic: impl FnOnce(&K, &mut S) -> R,
    ) -> R {
        if let Some(state) = self.states.get_mut(&key) {
            return logic(&key, state);
        }
        let mut state = init();
        let result = logic(&key, &mut state);
        self.states.insert(key, state);
        result
    }

    /// The state of `key`, if any.
    #[inline]
    pub fn get(&self, key: &K) -> Option<&S> {
        self.states.get(key)
    }

    /// The state of `key` to change, if any.
    #[inline]
    pub fn get_mut(&mut self, key: &K) -> Option<&mut S> {
        self.states.get_mut(key)
    }

    /// The state of `key`, created by `init` if absent.
    #[inline]
    pub fn get_or_insert_with(&mut self, key: K, init: impl FnOnce() -> S) -> &mut S {
        self.states.entry(key).or_insert_with(init)
    }

    /// Sets the state of `key`, returning the previous one.
    #[inline]
    pub fn insert(&mut self, key: K, state: S) -> Option<S> {
        self.states.insert(key, state)
    }

    /// Drops the state of `key` (for example when it expires).
    #[inline]
    pub fn remove(&mut self, key: &K) -> Option<S> {
        self.states.remove(key)
    }

    /// How many keys have state.
    pub fn len(&self) -> usize {
        self.states.len()
    }

    /// How many keys the table has room for without growing.
    pub fn capacity(&self) -> usize {
        self.states.capacity()
    }

    /// Whether no key has state.
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    /// Every key with its state, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &S)> {
        self.states.iter()
    }

    /// Takes over the keys of `other` that `keep` accepts (a restore onto another number of workers
    /// gathers each worker's keys from every old worker's state).
    pub(crate) fn absorb(&mut self, other: KeyedState<K, S>, keep: impl Fn(&K) -> bool) {
        self.states
            .extend(other.states.into_iter().filter(|(k, _)| keep(k)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_state_round_trips_through_serde() {
        let mut state: KeyedState<String, u64> = KeyedState::default();
        state.apply("a".into(), || 0, |_, s| *s += 2);
        state.apply("b".into(), || 0, |_, s| *s += 1);
        let bytes = serde_json::to_vec(&state).unwrap();
        let back: KeyedState<String, u64> = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(back, state);
        assert_eq!(back.get(&"a".to_string()), Some(&2));
    }
}
