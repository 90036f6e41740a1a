//! Event-time timers of a window operator: window ends to fire at and times to clean up at, with the
//! one capability that lets the operator emit firings once the frontier passes them.
//!
//! Entries are `(time, key)`; an entry may be stale (its window merged away or already fired), so the
//! operator checks its own state when an entry comes due. The capability is held at the earliest
//! pending firing and downgraded as firings are done, so downstream frontiers advance as soon as no
//! firing can come before them.

use std::collections::BTreeMap;

use timely::dataflow::operators::{Capability, InputCapability};

use crate::time::EventTime;

/// Pending firings and cleanups, and the capability for the firings.
pub(crate) struct Timers<K> {
    fire_at: BTreeMap<i64, Vec<K>>,
    cleanup_at: BTreeMap<i64, Vec<K>>,
    held: Option<Capability<EventTime>>,
}

impl<K> Default for Timers<K> {
    fn default() -> Self {
        Timers {
            fire_at: BTreeMap::new(),
            cleanup_at: BTreeMap::new(),
            held: None,
        }
    }
}

impl<K> Timers<K> {
    /// Schedules a firing of `key`'s window ending at `end`, which must be after `cap`'s time.
    pub(crate) fn fire_at(&mut self, end: i64, key: K, cap: &InputCapability<EventTime>) {
        self.fire_at.entry(end).or_default().push(key);
        let end = end as EventTime;
        if self.held.as_ref().is_none_or(|h| end < *h.time()) {
            self.held = Some(cap.delayed(&end, 0));
        }
    }

    /// Schedules a cleanup of `key` at `at`.
    pub(crate) fn clean_at(&mut self, at: i64, key: K) {
        self.cleanup_at.entry(at).or_default().push(key);
    }

    /// The earliest firing due by `limit` (the frontier), with a capability at its window end.
    pub(crate) fn next_firing(
        &mut self,
        limit: i64,
    ) -> Option<(i64, Vec<K>, Capability<EventTime>)> {
        let (&end, _) = self
            .fire_at
            .first_key_value()
            .filter(|(end, _)| **end <= limit)?;
        let (_, keys) = self.fire_at.pop_first().expect("checked");
        let held = self
            .held
            .as_ref()
            .expect("a capability is held while firings are pending");
        let cap = held.delayed(&(end as EventTime).max(*held.time()));
        Some((end, keys, cap))
    }

    /// Moves the held capability up to the earliest pending firing, or drops it if there is none.
    pub(crate) fn settle(&mut self) {
        match (self.fire_at.first_key_value(), self.held.as_mut()) {
            (Some((&next, _)), Some(held)) => {
                let next = (next as EventTime).max(*held.time());
                held.downgrade(&next);
            }
            (None, _) => self.held = None,
            (Some(_), None) => unreachable!("firings are pending without a capability"),
        }
    }

    /// The earliest cleanup due by `limit`.
    pub(crate) fn next_cleanup(&mut self, limit: i64) -> Option<Vec<K>> {
        self.cleanup_at
            .first_key_value()
            .filter(|(at, _)| **at <= limit)?;
        self.cleanup_at.pop_first().map(|(_, keys)| keys)
    }
}
