//! Timers of a keyed operator: one [`Timer`] type for event time and for the processing clock, both in
//! milliseconds, queued per key.
//!
//! Timers of the same time fire in the order they were set. A timer set twice fires twice, unless the
//! operator asks for distinct timers ([`super::KeyedOperator::DISTINCT_TIMERS`]): then setting a
//! pending timer again is a no-op, at the cost of a set of pending timers. Window operators keep their
//! own record of what is pending and do without it. Due timers fire in **passes**: a pass takes every timer due at
//! the frontier (and clock) of the moment it began, earliest time first, and the shell works through it
//! within its budget, over as many activations as it takes. Taking a time's timers into the pass moves
//! the whole set at once (no copy per key), so starting a pass over a million keys costs nothing.
//!
//! Pending timers, and what is left of a pass, are part of the operator's snapshot: a restored operator
//! fires exactly what was still to fire.

use std::collections::BTreeMap;
use std::hash::Hash;

use rustc_hash::FxHashSet;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::time::EventTime;

/// When a timer fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Timer {
    /// Once the watermark reaches this event time (signed ms since the Unix epoch, negative before
    /// 1970): the operator's input frontier has passed it.
    EventTime(EventTime),
    /// Once the processing clock ([`crate::time::wall_clock_ms`]) reaches this time (ms since the
    /// Unix epoch). At the end of the input every pending processing-time timer fires at once.
    ProcessingTime(u64),
}

type Keys<K> = Vec<K>;

/// What a pass covers: timers due at this frontier (`None`: the input has ended) and clock.
#[derive(Clone, Copy, Debug)]
struct Pass {
    frontier: Option<EventTime>,
    now_ms: u64,
}

/// The pending and due timers of one operator instance.
#[derive(Debug)]
pub(crate) struct TimerQueue<K> {
    event: BTreeMap<EventTime, Keys<K>>,
    processing: BTreeMap<u64, Keys<K>>,
    /// The pass in progress, if any.
    pass: Option<Pass>,
    /// The time whose timers are firing, and its keys still to fire.
    firing: Option<(Timer, std::vec::IntoIter<K>)>,
    /// The pending timers, for operators that want distinct timers.
    distinct: Option<FxHashSet<(Timer, K)>>,
}

impl<K> Default for TimerQueue<K> {
    fn default() -> Self {
        TimerQueue {
            event: BTreeMap::new(),
            processing: BTreeMap::new(),
            pass: None,
            firing: None,
            distinct: None,
        }
    }
}

impl<K: Hash + Eq + Clone> TimerQueue<K> {
    /// From now on, setting a timer that is pending is a no-op.
    pub(crate) fn make_distinct(&mut self) {
        let mut distinct = FxHashSet::default();
        for (t, keys) in &self.event {
            distinct.extend(keys.iter().map(|k| (Timer::EventTime(*t), k.clone())));
        }
        for (t, keys) in &self.processing {
            distinct.extend(keys.iter().map(|k| (Timer::ProcessingTime(*t), k.clone())));
        }
        self.distinct = Some(distinct);
    }

    /// Takes over the pending timers of `other` (a restored queue: no pass in progress) whose key `keep`
    /// accepts, after this queue's own timers of the same time.
    pub(crate) fn absorb(&mut self, other: TimerQueue<K>, keep: impl Fn(&K) -> bool) {
        debug_assert!(other.pass.is_none() && other.firing.is_none());
        for (t, keys) in other.event {
            let kept: Vec<K> = keys.into_iter().filter(|k| keep(k)).collect();
            if !kept.is_empty() {
                self.event.entry(t).or_default().extend(kept);
            }
        }
        for (t, keys) in other.processing {
            let kept: Vec<K> = keys.into_iter().filter(|k| keep(k)).collect();
            if !kept.is_empty() {
                self.processing.entry(t).or_default().extend(kept);
            }
        }
    }

    /// Sets `timer` for `key` (a no-op if the timers are distinct and that one is pending).
    #[inline]
    pub(crate) fn set(&mut self, key: K, timer: Timer) {
        if let Some(distinct) = self.distinct.as_mut() {
            if !distinct.insert((timer, key.clone())) {
                return;
            }
        }
        let keys = match timer {
            Timer::EventTime(t) => self.event.entry(t).or_default(),
            Timer::ProcessingTime(t) => self.processing.entry(t).or_default(),
        };
        keys.push(key);
    }

    /// Begins a pass over the timers due at `frontier` (`None`: the input has ended) and `now_ms`;
    /// returns whether anything is due. Event timers before the frontier are due; processing timers at
    /// or before the clock, or all of them once the input has ended.
    pub(crate) fn begin_pass(&mut self, frontier: Option<EventTime>, now_ms: u64) -> bool {
        debug_assert!(self.pass.is_none(), "a pass is in progress");
        let pass = Pass { frontier, now_ms };
        let due = self
            .event
            .first_key_value()
            .is_some_and(|(t, _)| is_due_event(*t, pass))
            || self
                .processing
                .first_key_value()
                .is_some_and(|(t, _)| is_due_processing(*t, pass));
        if due {
            self.pass = Some(pass);
        }
        due
    }

    /// The next timer of the pass in progress; `None` ends the pass.
    #[inline]
    pub(crate) fn next_due(&mut self) -> Option<(Timer, K)> {
        let pass = self.pass?;
        loop {
            if let Some((timer, keys)) = self.firing.as_mut() {
                if let Some(key) = keys.next() {
                    let due = (*timer, key);
                    if let Some(distinct) = self.distinct.as_mut() {
                        distinct.remove(&due);
                    }
                    return Some(due);
                }
                self.firing = None;
            }
            if let Some(entry) = self
                .event
                .first_entry()
                .filter(|e| is_due_event(*e.key(), pass))
            {
                let (t, keys) = entry.remove_entry();
                self.firing = Some((Timer::EventTime(t), keys.into_iter()));
            } else if let Some(entry) = self
                .processing
                .first_entry()
                .filter(|e| is_due_processing(*e.key(), pass))
            {
                let (t, keys) = entry.remove_entry();
                self.firing = Some((Timer::ProcessingTime(t), keys.into_iter()));
            } else {
                self.pass = None;
                return None;
            }
        }
    }

    /// Whether a pass is in progress.
    pub(crate) fn in_pass(&self) -> bool {
        self.pass.is_some()
    }

    /// Whether no timer is pending and no pass is in progress.
    pub(crate) fn is_empty(&self) -> bool {
        self.event.is_empty() && self.processing.is_empty() && self.pass.is_none()
    }

    /// The earliest event-time timer, firing or pending.
    pub(crate) fn earliest_event(&self) -> Option<EventTime> {
        let firing = match &self.firing {
            Some((Timer::EventTime(t), keys)) if !keys.as_slice().is_empty() => Some(*t),
            _ => None,
        };
        let pending = self.event.first_key_value().map(|(t, _)| *t);
        firing.into_iter().chain(pending).min()
    }

    /// Whether a processing-time timer is pending or firing.
    pub(crate) fn has_processing(&self) -> bool {
        !self.processing.is_empty() || matches!(self.firing, Some((Timer::ProcessingTime(_), _)))
    }

    /// The earliest pending processing-time timer.
    pub(crate) fn earliest_processing(&self) -> Option<u64> {
        self.processing.first_key_value().map(|(t, _)| *t)
    }
}

fn is_due_event(t: EventTime, pass: Pass) -> bool {
    pass.frontier.is_none_or(|f| t < f)
}

fn is_due_processing(t: u64, pass: Pass) -> bool {
    pass.frontier.is_none() || t <= pass.now_ms
}

/// The timers as a snapshot stores them: every timer not yet fired, by time, in firing order. A pass
/// in progress is not saved as such; its remaining timers fire in the restored operator's first pass.
#[derive(Serialize, Deserialize)]
struct Image<K> {
    event: Vec<(EventTime, Vec<K>)>,
    processing: Vec<(u64, Vec<K>)>,
}

impl<K: Serialize> Serialize for TimerQueue<K> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut event: BTreeMap<EventTime, Vec<&K>> = self
            .event
            .iter()
            .map(|(t, keys)| (*t, keys.iter().collect()))
            .collect();
        let mut processing: BTreeMap<u64, Vec<&K>> = self
            .processing
            .iter()
            .map(|(t, keys)| (*t, keys.iter().collect()))
            .collect();
        if let Some((timer, keys)) = &self.firing {
            let set = match *timer {
                Timer::EventTime(t) => event.entry(t).or_default(),
                Timer::ProcessingTime(t) => processing.entry(t).or_default(),
            };
            // The firing keys were set before any key set for the same time since.
            set.splice(0..0, keys.as_slice().iter());
        }
        Image {
            event: event.into_iter().collect(),
            processing: processing.into_iter().collect(),
        }
        .serialize(serializer)
    }
}

impl<'de, K: Deserialize<'de>> Deserialize<'de> for TimerQueue<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let image = Image::<K>::deserialize(deserializer)?;
        let mut queue = TimerQueue::default();
        for (t, keys) in image.event {
            queue.event.insert(t, keys);
        }
        for (t, keys) in image.processing {
            queue.processing.insert(t, keys);
        }
        Ok(queue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(q: &mut TimerQueue<char>) -> Vec<(Timer, char)> {
        std::iter::from_fn(|| q.next_due()).collect()
    }

    #[test]
    fn a_timer_set_twice_fires_twice_unless_timers_are_distinct() {
        let mut q = TimerQueue::default();
        q.set('a', Timer::EventTime(1));
        q.set('a', Timer::EventTime(1));
        assert!(q.begin_pass(Some(2), 0));
        assert_eq!(drain(&mut q).len(), 2);
        q.make_distinct();
        q.set('a', Timer::EventTime(1));
        q.set('a', Timer::EventTime(1));
        assert!(q.begin_pass(Some(2), 0));
        assert_eq!(drain(&mut q).len(), 1);
        // Once fired, the timer can be set again.
        q.set('a', Timer::EventTime(1));
        assert!(q.begin_pass(Some(2), 0));
        assert_eq!(drain(&mut q).len(), 1);
    }

    #[test]
    fn a_key_has_one_timer_per_time_and_times_fire_in_order() {
        let mut q = TimerQueue::default();
        q.make_distinct();
        q.set('b', Timer::EventTime(20));
        q.set('a', Timer::EventTime(10));
        q.set('c', Timer::EventTime(10));
        q.set('a', Timer::EventTime(10));
        q.set('a', Timer::ProcessingTime(5));
        assert_eq!(q.earliest_event(), Some(10));
        // The clock has not reached 5, and 20 is not before the frontier.
        assert!(q.begin_pass(Some(11), 0));
        assert_eq!(
            drain(&mut q),
            vec![(Timer::EventTime(10), 'a'), (Timer::EventTime(10), 'c')]
        );
        assert!(!q.in_pass());
        assert!(!q.begin_pass(Some(20), 4));
        assert!(q.begin_pass(Some(20), 5));
        assert_eq!(drain(&mut q), vec![(Timer::ProcessingTime(5), 'a')]);
        // At the end of the input everything is due.
        assert!(q.begin_pass(None, 0));
        assert_eq!(drain(&mut q), vec![(Timer::EventTime(20), 'b')]);
        assert!(q.is_empty());
    }

    #[test]
    fn a_pass_covers_only_what_was_due_when_it_began() {
        let mut q = TimerQueue::default();
        q.set('a', Timer::EventTime(1));
        assert!(q.begin_pass(Some(5), 0));
        // Set during the pass, for a time the pass covers, and for one it does not.
        q.set('b', Timer::EventTime(3));
        q.set('c', Timer::EventTime(5));
        assert_eq!(
            drain(&mut q),
            vec![(Timer::EventTime(1), 'a'), (Timer::EventTime(3), 'b')]
        );
        assert_eq!(q.earliest_event(), Some(5));
    }

    #[test]
    fn timers_not_yet_fired_round_trip_through_serde() {
        let mut q = TimerQueue::default();
        for k in ['a', 'b', 'c'] {
            q.set(k, Timer::EventTime(7));
        }
        q.set('z', Timer::ProcessingTime(9));
        assert!(q.begin_pass(Some(8), 0));
        assert_eq!(q.next_due(), Some((Timer::EventTime(7), 'a')));
        q.set('d', Timer::EventTime(7));
        let mut back: TimerQueue<char> =
            serde_json::from_str(&serde_json::to_string(&q).unwrap()).unwrap();
        assert_eq!(back.earliest_processing(), Some(9));
        assert!(back.begin_pass(Some(8), 0));
        assert_eq!(
            drain(&mut back),
            vec![
                (Timer::EventTime(7), 'b'),
                (Timer::EventTime(7), 'c'),
                (Timer::EventTime(7), 'd')
            ]
        );
    }
}
