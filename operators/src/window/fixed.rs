//! Tumbling and sliding windows over panes, closed by the frontier.
//!
//! State per worker: for each key, its panes' accumulators (sorted by start) and, under allowed
//! lateness, how often each of its windows has fired; a queue of window ends to fire (by end), a
//! queue of cleanups, and one capability held at the earliest pending window end. A record updates
//! exactly one pane; a firing merges the window's panes. A pane is dropped once every window holding
//! it is past its cleanup time, and a key with nothing left is forgotten, so memory follows the
//! number of open windows, not the stream's length.

use std::hash::Hash;

use rustc_hash::FxHashMap;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use timely::ExchangeData;

use super::aggregate::Aggregate;
use super::assign::{SlidingWindows, Window};
use super::timers::Timers;
use super::{keyed_window_operator, KeyedWindows, Out};
use super::{result_time, LateRecord, WindowOutput, WindowResult, END_OF_INPUT};
use crate::stream::EventStream;
use crate::time::{Event, EventTime};

/// One key's windows: what a checkpoint saves of the operator (the timer index is rebuilt from it).
#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound = "Acc: Serialize + DeserializeOwned")]
pub(crate) struct KeyWindows<Acc> {
    /// Pane accumulators by pane start, sorted.
    panes: Vec<(i64, Acc)>,
    /// Window ends with a firing queued (not fired yet), sorted.
    pending: Vec<i64>,
    /// Window ends that have fired and may re-fire, with their firing count, sorted.
    fired: Vec<(i64, u32)>,
    /// With an inverse function: the accumulator of the window ending at `.0` less its entering panes
    /// (the previous window less the panes that left it).
    carry: Option<(i64, Acc)>,
}

impl<Acc> Default for KeyWindows<Acc> {
    fn default() -> Self {
        KeyWindows {
            panes: Vec::new(),
            pending: Vec::new(),
            fired: Vec::new(),
            carry: None,
        }
    }
}

impl<Acc> KeyWindows<Acc> {
    fn firings(&self, end: i64) -> u32 {
        self.fired
            .binary_search_by_key(&end, |f| f.0)
            .map_or(0, |i| self.fired[i].1)
    }

    /// A late record in a pane the carry holds makes the carry wrong: drop it (the next firing merges
    /// the panes instead).
    fn invalidate_carry(&mut self, pane: i64, windows: &SlidingWindows) {
        let (size, slide) = (windows.size(), windows.slide());
        if self
            .carry
            .as_ref()
            .is_some_and(|(end, _)| (end - size..end - slide).contains(&pane))
        {
            self.carry = None;
        }
    }

    fn is_empty(&self) -> bool {
        self.panes.is_empty() && self.pending.is_empty() && self.fired.is_empty()
    }
}

/// Inserts `x` into the sorted vector `v` unless present; returns whether it was inserted.
fn insert_sorted(v: &mut Vec<i64>, x: i64) -> bool {
    match v.binary_search(&x) {
        Ok(_) => false,
        Err(i) => {
            v.insert(i, x);
            true
        }
    }
}

fn remove_sorted(v: &mut Vec<i64>, x: i64) -> bool {
    match v.binary_search(&x) {
        Ok(i) => {
            v.remove(i);
            true
        }
        Err(_) => false,
    }
}

/// The fixed-window operator's state on one worker.
struct FixedWindows<K, A: Aggregate<V>, V> {
    windows: SlidingWindows,
    lateness: i64,
    agg: A,
    keys: FxHashMap<K, KeyWindows<A::Acc>>,
    timers: Timers<K>,
    /// Results of the current pass, handed to timely together.
    out: Vec<Event<WindowOutput<K, V, A::Out>>>,
    /// Removes a pane's contents from an accumulator (Spark's inverse reduce), if given.
    inverse: Option<Inverse<A::Acc>>,
    _value: std::marker::PhantomData<fn(V)>,
}

/// Removes what the second accumulator holds from the first.
pub type Inverse<Acc> = Box<dyn Fn(&mut Acc, &Acc)>;

impl<K, V, A> FixedWindows<K, A, V>
where
    K: Hash + Eq + Clone + 'static,
    V: 'static,
    A: Aggregate<V>,
{
    /// The accumulator of `key`'s window ending at `end`, if the window holds anything. With an inverse
    /// function it starts from the carry left by the previous window, when there is one for this window,
    /// and leaves one for the next.
    fn window_acc(&mut self, key: &K, end: i64) -> Option<A::Acc> {
        let FixedWindows {
            windows,
            agg,
            keys,
            inverse,
            ..
        } = self;
        let (size, slide) = (windows.size(), windows.slide());
        let state = keys.get_mut(key)?;
        let start = end - size;
        let from = state.panes.partition_point(|p| p.0 < start);
        // Empty windows emit nothing.
        if state.panes[from..].first().is_none_or(|p| p.0 >= end) {
            return None;
        }
        let merge_from = |acc: &mut A::Acc, first: i64| {
            let i = state.panes.partition_point(|p| p.0 < first);
            state.panes[i..]
                .iter()
                .take_while(|p| p.0 < end)
                .for_each(|(_, pane)| agg.merge(acc, pane));
        };
        let acc = match state.carry.take() {
            Some((carry_end, mut acc)) if inverse.is_some() && carry_end == end => {
                merge_from(&mut acc, end - slide);
                acc
            }
            _ => {
                let mut acc = agg.create();
                merge_from(&mut acc, start);
                acc
            }
        };
        if let Some(inverse) = inverse {
            let mut carry = acc.clone();
            state.panes[from..]
                .iter()
                .take_while(|p| p.0 < start + slide)
                .for_each(|(_, pane)| inverse(&mut carry, pane));
            state.carry = Some((end + slide, carry));
        }
        Some(acc)
    }

    /// Fires `key`'s window ending at `end` into the pass's results, counting the firing if it can re-fire.
    fn fire(&mut self, key: &K, end: i64, watermark: i64) {
        let Some(acc) = self.window_acc(key, end) else {
            return;
        };
        let value = self.agg.result(&acc);
        let state = self
            .keys
            .get_mut(key)
            .expect("a key with a result has state");
        let firing = state.firings(end) + 1;
        if self.lateness > 0 {
            match state.fired.binary_search_by_key(&end, |f| f.0) {
                Ok(i) => state.fired[i].1 = firing,
                Err(i) => state.fired.insert(i, (end, firing)),
            }
        }
        let window = Window::new(end - self.windows.size(), end);
        let result = WindowResult {
            key: key.clone(),
            window,
            value,
            firing,
            watermark,
        };
        self.out.push(Event::new(
            result_time(&window),
            WindowOutput::Fired(result),
        ));
    }

    /// Drops what `key` no longer needs once the frontier is at `limit`.
    fn clean(&mut self, key: &K, limit: i64) {
        let Some(state) = self.keys.get_mut(key) else {
            return;
        };
        let (windows, lateness) = (self.windows, self.lateness);
        state.panes.retain(|(pane, _)| {
            windows
                .ends_of_pane(*pane)
                .last()
                .is_some_and(|e| e + lateness > limit)
        });
        state.fired.retain(|(end, _)| end + lateness > limit);
        if state.is_empty() {
            self.keys.remove(key);
        }
    }
}

impl<K, V, A> KeyedWindows<K, V, A::Out> for FixedWindows<K, A, V>
where
    K: Hash + Eq + Clone + 'static,
    V: 'static,
    A: Aggregate<V>,
{
    /// Takes one record read at message time `now` (the watermark then plus one).
    fn on_record(
        &mut self,
        key: K,
        value: V,
        time: EventTime,
        now: EventTime,
        cap: &timely::dataflow::operators::InputCapability<EventTime>,
    ) {
        let (t, c) = (time as i64, now as i64);
        let pane = self.windows.pane_of(t);
        let last_end = self.windows.last_end_of_pane(pane);
        if last_end + self.lateness <= c {
            // Every window of the record is past its cleanup time.
            self.out.push(Event::new(
                time,
                WindowOutput::Late(LateRecord { key, value, time }),
            ));
            return;
        }
        // Fast path: the pane exists and all its windows are still open, so they are registered already
        // (at the pane's creation, by a record no later than this one): only the pane changes.
        if self.windows.first_end_of_pane(pane) > c {
            if let Some(state) = self.keys.get_mut(&key) {
                if let Ok(i) = state.panes.binary_search_by_key(&pane, |p| p.0) {
                    self.agg.add(&mut state.panes[i].1, value);
                    state.invalidate_carry(pane, &self.windows);
                    return;
                }
            }
        }
        // Windows the watermark has passed but that have not fired yet fire first, without the record,
        // as they would have when the watermark passed them.
        let ends: Vec<i64> = self
            .windows
            .ends_of_pane(pane)
            .filter(|e| e + self.lateness > c)
            .collect();
        for &end in ends.iter().filter(|e| **e <= c) {
            let due = self
                .keys
                .get_mut(&key)
                .is_some_and(|s| remove_sorted(&mut s.pending, end));
            if due {
                self.fire(&key, end, c - 1);
            }
        }
        // Add the record to its pane.
        let state = self.keys.entry(key.clone()).or_default();
        state.invalidate_carry(pane, &self.windows);
        let new_pane = match state.panes.binary_search_by_key(&pane, |p| p.0) {
            Ok(i) => {
                self.agg.add(&mut state.panes[i].1, value);
                false
            }
            Err(i) => {
                let mut acc = self.agg.create();
                self.agg.add(&mut acc, value);
                state.panes.insert(i, (pane, acc));
                true
            }
        };
        if new_pane {
            self.timers.clean_at(last_end + self.lateness, key.clone());
        }
        for end in ends {
            if end <= c {
                // Fired already from this record's point of view: fire again at once, updated.
                self.fire(&key, end, c - 1);
            } else if insert_sorted(
                &mut self.keys.get_mut(&key).expect("just added").pending,
                end,
            ) {
                self.timers.fire_at(end, key.clone(), cap);
            }
        }
    }

    /// Fires every window the frontier has passed and cleans up; `None` is the end of the input.
    fn on_frontier(&mut self, frontier: Option<EventTime>, out: &mut Out<'_, K, V, A::Out>) {
        let limit = frontier.map_or(i64::MAX, |f| f as i64);
        let watermark = frontier.map_or(END_OF_INPUT, |f| f as i64 - 1);
        while let Some((end, keys, cap)) = self.timers.next_firing(limit) {
            for key in keys {
                let due = self
                    .keys
                    .get_mut(&key)
                    .is_some_and(|s| remove_sorted(&mut s.pending, end));
                if due {
                    self.fire(&key, end, watermark);
                }
            }
            out.session(&cap).give_container(&mut self.out);
            self.out.clear();
        }
        self.timers.settle();
        while let Some(keys) = self.timers.next_cleanup(limit) {
            for key in keys {
                self.clean(&key, limit);
            }
        }
    }

    fn results(&mut self) -> &mut Vec<Event<WindowOutput<K, V, A::Out>>> {
        &mut self.out
    }
}

impl<'scope, K, V> EventStream<'scope, (K, V)>
where
    K: ExchangeData + Hash + Eq + Clone,
    V: ExchangeData,
{
    /// Aggregates each key's records in fixed (tumbling or sliding) event-time windows.
    ///
    /// Records are exchanged by key. Each window fires when the frontier passes its end, and again, at
    /// once, for every record that arrives within `allowed_lateness_ms` after that; records later than
    /// that come out as [`WindowOutput::Late`]. Use [`super::split`] to separate the two.
    ///
    /// ```
    /// use caudal_operators::{Event, EventStream};
    /// use caudal_operators::window::{split, aggregate::Count, SlidingWindows, Window};
    /// use timely::dataflow::operators::{ToStream, Capture, capture::Extract};
    /// let out = timely::example(|scope| {
    ///     let input = vec![Event::new(100, ('a', ())), Event::new(300, ('a', ())), Event::new(1200, ('a', ()))];
    ///     let tumbling = SlidingWindows::tumbling(1000, 0).unwrap();
    ///     let (fired, _late) = split(EventStream::new(input.to_stream(scope)).window(tumbling, 0, Count));
    ///     fired.inner.capture()
    /// });
    /// let mut got: Vec<_> = out.extract().into_iter().flat_map(|(_, v)| v).map(|e| (e.data.window, e.data.value)).collect();
    /// got.sort();
    /// assert_eq!(got, vec![(Window::new(0, 1000), 2), (Window::new(1000, 2000), 1)]);
    /// ```
    pub fn window<A>(
        self,
        windows: SlidingWindows,
        allowed_lateness_ms: u64,
        agg: A,
    ) -> EventStream<'scope, WindowOutput<K, V, A::Out>>
    where
        A: Aggregate<V>,
        A::Out: Clone,
    {
        self.fixed_windows(windows, allowed_lateness_ms, agg, None)
    }

    /// Like [`EventStream::window`], with an inverse of the aggregation's merge (Spark's
    /// `reduceByKeyAndWindow` with an inverse function): each sliding window is computed from the previous
    /// one, less the panes that left and plus the panes that entered, instead of from all its panes.
    /// Worth it when windows hold many panes (a long window with a short slide). `inverse(acc, pane)`
    /// must undo `merge(acc, pane)`.
    ///
    /// ```
    /// use caudal_operators::{Event, EventStream};
    /// use caudal_operators::window::{split, aggregate::Sum, SlidingWindows};
    /// use timely::dataflow::operators::{ToStream, Capture, capture::Extract};
    /// let out = timely::example(|scope| {
    ///     let input = (0..10u64).map(|t| Event::new(t * 100, ('k', 1i64))).collect::<Vec<_>>();
    ///     let every_100ms = SlidingWindows::sliding(300, 100, 0).unwrap();
    ///     let sums = EventStream::new(input.to_stream(scope)).window_with_inverse(every_100ms, 0, Sum, |acc: &mut i64, pane: &i64| *acc -= pane);
    ///     split(sums).0.inner.capture()
    /// });
    /// let sums: Vec<i64> = out.extract().into_iter().flat_map(|(_, v)| v).map(|e| e.data.value).collect();
    /// assert_eq!(sums.iter().sum::<i64>(), 30); // each record in 3 windows
    /// ```
    pub fn window_with_inverse<A>(
        self,
        windows: SlidingWindows,
        allowed_lateness_ms: u64,
        agg: A,
        inverse: impl Fn(&mut A::Acc, &A::Acc) + 'static,
    ) -> EventStream<'scope, WindowOutput<K, V, A::Out>>
    where
        A: Aggregate<V>,
        A::Out: Clone,
    {
        self.fixed_windows(windows, allowed_lateness_ms, agg, Some(Box::new(inverse)))
    }

    fn fixed_windows<A>(
        self,
        windows: SlidingWindows,
        allowed_lateness_ms: u64,
        agg: A,
        inverse: Option<Inverse<A::Acc>>,
    ) -> EventStream<'scope, WindowOutput<K, V, A::Out>>
    where
        A: Aggregate<V>,
        A::Out: Clone,
    {
        let name = if windows.slide() == windows.size() {
            "TumblingWindow"
        } else {
            "SlidingWindow"
        };
        keyed_window_operator(
            self,
            name,
            FixedWindows {
                windows,
                lateness: allowed_lateness_ms as i64,
                agg,
                keys: FxHashMap::default(),
                timers: Timers::default(),
                out: Vec::new(),
                inverse,
                _value: std::marker::PhantomData,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_state_round_trips_through_serde() {
        let state = KeyWindows {
            panes: vec![(-500, 3u64), (0, 4)],
            pending: vec![500, 1000],
            fired: vec![(0, 2)],
            carry: Some((1000, 7)),
        };
        let bytes = serde_json::to_vec(&state).unwrap();
        let back: KeyWindows<u64> = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(back, state);
    }
}
