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
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::{Operator, OutputBuilderSession};
use timely::ExchangeData;

use super::aggregate::Aggregate;
use super::assign::{SlidingWindows, Window};
use super::timers::Timers;
use super::{result_time, LateRecord, WindowOutput, WindowResult, END_OF_INPUT};
use crate::hash::route;
use crate::stream::EventStream;
use crate::time::{Event, EventTime};

/// One key's windows.
struct KeyWindows<Acc> {
    /// Pane accumulators by pane start, sorted.
    panes: Vec<(i64, Acc)>,
    /// Window ends with a firing queued (not fired yet), sorted.
    pending: Vec<i64>,
    /// Window ends that have fired and may re-fire, with their firing count, sorted.
    fired: Vec<(i64, u32)>,
}

impl<Acc> Default for KeyWindows<Acc> {
    fn default() -> Self {
        KeyWindows {
            panes: Vec::new(),
            pending: Vec::new(),
            fired: Vec::new(),
        }
    }
}

impl<Acc> KeyWindows<Acc> {
    fn firings(&self, end: i64) -> u32 {
        self.fired
            .binary_search_by_key(&end, |f| f.0)
            .map_or(0, |i| self.fired[i].1)
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

type Out<'a, K, V, O> = OutputBuilderSession<
    'a,
    EventTime,
    CapacityContainerBuilder<Vec<Event<WindowOutput<K, V, O>>>>,
>;

/// The fixed-window operator's state on one worker.
struct FixedWindows<K, A: Aggregate<V>, V> {
    windows: SlidingWindows,
    lateness: i64,
    agg: A,
    keys: FxHashMap<K, KeyWindows<A::Acc>>,
    timers: Timers<K>,
    /// Results of the current pass, handed to timely together.
    out: Vec<Event<WindowOutput<K, V, A::Out>>>,
    _value: std::marker::PhantomData<fn(V)>,
}

impl<K, V, A> FixedWindows<K, A, V>
where
    K: Hash + Eq + Clone + 'static,
    V: 'static,
    A: Aggregate<V>,
{
    /// The result of the window ending at `end` for `key`, if it holds anything.
    fn result(&self, key: &K, end: i64) -> Option<A::Out> {
        let state = self.keys.get(key)?;
        let start = end - self.windows.size();
        let from = state.panes.partition_point(|p| p.0 < start);
        let mut panes = state.panes[from..]
            .iter()
            .take_while(|p| p.0 < end)
            .peekable();
        panes.peek()?;
        let mut acc = self.agg.create();
        for (_, pane) in panes {
            self.agg.merge(&mut acc, pane);
        }
        Some(self.agg.result(&acc))
    }

    /// Fires `key`'s window ending at `end` into the pass's results, counting the firing if it can re-fire.
    fn fire(&mut self, key: &K, end: i64, watermark: i64) {
        let Some(value) = self.result(key, end) else {
            return;
        };
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
        let last_end = self
            .windows
            .ends_of_pane(pane)
            .last()
            .expect("a pane is in at least one window");
        if last_end + self.lateness <= c {
            // Every window of the record is past its cleanup time.
            self.out.push(Event::new(
                time,
                WindowOutput::Late(LateRecord { key, value, time }),
            ));
            return;
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
        let pact = Exchange::new(|e: &Event<(K, V)>| route(&e.data.0));
        let name = if windows.slide() == windows.size() {
            "TumblingWindow"
        } else {
            "SlidingWindow"
        };
        let stream = self.inner.unary_frontier(pact, name, move |_cap, _info| {
            let mut state = FixedWindows {
                windows,
                lateness: allowed_lateness_ms as i64,
                agg,
                keys: FxHashMap::default(),
                timers: Timers::default(),
                out: Vec::new(),
                _value: std::marker::PhantomData,
            };
            move |(input, frontier), output| {
                input.for_each(|cap, data| {
                    let now = *cap.least().expect("a message has a time");
                    for Event {
                        time,
                        data: (key, value),
                    } in data.drain(..)
                    {
                        state.on_record(key, value, time, now, &cap);
                    }
                    output.session(&cap).give_container(&mut state.out);
                    state.out.clear();
                });
                state.on_frontier(frontier.frontier().first().copied(), output);
            }
        });
        EventStream::new(stream)
    }
}
