//! Tumbling and sliding windows over panes, closed by the frontier.
//!
//! State per key (in the shell): its panes' accumulators (sorted by start), the window ends waiting to
//! fire and, under allowed lateness, how often each of its windows has fired. Each window end, and each
//! pane's cleanup time, is a shell timer of the key. A record updates exactly one pane; a firing merges
//! the window's panes. A pane is dropped once every window holding
//! it is past its cleanup time, and a key with nothing left is forgotten, so memory follows the
//! number of open windows, not the stream's length.

use std::hash::Hash;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use timely::ExchangeData;

use super::aggregate::{add_to_pane, Aggregate};
use super::assign::{TimeWindows, Window};
use super::{at_frontier, result_time, WindowResult, Windowed};
use crate::shell::{Context, KeyedOperator, Timer};
use crate::stream::EventStream;
use crate::time::{span_ms, EventTime};

/// One key's windows: the operator's state per key.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound = "Acc: Serialize + DeserializeOwned")]
pub struct FixedWindowState<Acc> {
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

impl<Acc> Default for FixedWindowState<Acc> {
    fn default() -> Self {
        FixedWindowState {
            panes: Vec::new(),
            pending: Vec::new(),
            fired: Vec::new(),
            carry: None,
        }
    }
}

impl<Acc> FixedWindowState<Acc> {
    fn firings(&self, end: i64) -> u32 {
        self.fired
            .binary_search_by_key(&end, |f| f.0)
            .map_or(0, |i| self.fired[i].1)
    }

    /// A late record in a pane the carry holds makes the carry wrong: drop it (the next firing merges
    /// the panes instead).
    fn invalidate_carry(&mut self, pane: i64, windows: &TimeWindows) {
        let (size, slide) = (windows.size(), windows.slide());
        if self.carry.as_ref().is_some_and(|(end, _)| {
            (end.saturating_sub(size)..end.saturating_sub(slide)).contains(&pane)
        }) {
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

/// The fixed-window operator: what does not vary by key.
struct FixedWindowOperator<A: Aggregate<V>, V> {
    windows: TimeWindows,
    lateness: i64,
    agg: A,
    /// Removes a pane's contents from an accumulator (Spark's inverse reduce), if given.
    inverse: Option<Inverse<A::Acc>>,
    _value: std::marker::PhantomData<fn(V)>,
}

/// The context a fixed-window operator gets from the shell.
type Ctx<'c, K, V, A> = Context<
    'c,
    K,
    V,
    FixedWindowState<<A as Aggregate<V>>::Acc>,
    WindowResult<K, <A as Aggregate<V>>::Out>,
>;

/// Removes what the second accumulator holds from the first.
pub type Inverse<Acc> = Box<dyn Fn(&mut Acc, &Acc)>;

impl<V, A: Aggregate<V>> FixedWindowOperator<A, V> {
    /// The accumulator of the window ending at `end` of a key's `state`, if the window holds anything.
    /// With an inverse function it starts from the carry left by the previous window, when there is one
    /// for this window, and leaves one for the next.
    fn window_acc(&self, state: &mut FixedWindowState<A::Acc>, end: i64) -> Option<A::Acc> {
        let (size, slide) = (self.windows.size(), self.windows.slide());
        let agg = &self.agg;
        let start = end.saturating_sub(size);
        let from = state.panes.partition_point(|p| p.0 < start);
        // Empty windows emit nothing.
        if state.panes[from..].first().is_none_or(|p| p.0 >= end) {
            return None;
        }
        let merge_from = |panes: &[(i64, A::Acc)], acc: &mut A::Acc, first: i64| {
            let i = panes.partition_point(|p| p.0 < first);
            panes[i..]
                .iter()
                .take_while(|p| p.0 < end)
                .for_each(|(_, pane)| agg.merge(acc, pane));
        };
        let acc = match state.carry.take() {
            Some((carry_end, mut acc)) if self.inverse.is_some() && carry_end == end => {
                merge_from(&state.panes, &mut acc, end.saturating_sub(slide));
                acc
            }
            _ => {
                let mut acc = agg.create();
                merge_from(&state.panes, &mut acc, start);
                acc
            }
        };
        if let Some(inverse) = &self.inverse {
            let mut carry = acc.clone();
            state.panes[from..]
                .iter()
                .take_while(|p| p.0 < start.saturating_add(slide))
                .for_each(|(_, pane)| inverse(&mut carry, pane));
            state.carry = Some((end.saturating_add(slide), carry));
        }
        Some(acc)
    }

    /// Fires `key`'s window ending at `end`, counting the firing if it can re-fire.
    fn fire<K: Clone>(
        &self,
        key: &K,
        state: &mut FixedWindowState<A::Acc>,
        end: i64,
        watermark: i64,
        ctx: &mut crate::shell::Output<'_, K, V, WindowResult<K, A::Out>>,
    ) {
        let Some(acc) = self.window_acc(state, end) else {
            return;
        };
        let value = self.agg.result(&acc);
        let firing = state.firings(end) + 1;
        if self.lateness > 0 {
            match state.fired.binary_search_by_key(&end, |f| f.0) {
                Ok(i) => state.fired[i].1 = firing,
                Err(i) => state.fired.insert(i, (end, firing)),
            }
        }
        let window = Window::new(end.saturating_sub(self.windows.size()), end);
        let result = WindowResult {
            key: key.clone(),
            window,
            value,
            firing,
            watermark,
        };
        ctx.emit(result_time(&window), result);
    }

    /// Drops what a key's `state` no longer needs once the frontier is at `limit`.
    fn clean(&self, state: &mut FixedWindowState<A::Acc>, limit: i64) {
        let (windows, lateness) = (self.windows, self.lateness);
        state.panes.retain(|(pane, _)| {
            windows
                .pane_windows(*pane)
                .last_end()
                .saturating_add(lateness)
                > limit
        });
        state
            .fired
            .retain(|(end, _)| end.saturating_add(lateness) > limit);
    }
}

impl<K, V, A> KeyedOperator<K, V> for FixedWindowOperator<A, V>
where
    K: Hash + Eq + Clone + 'static,
    V: 'static,
    A: Aggregate<V>,
{
    type State = FixedWindowState<A::Acc>;
    type Out = WindowResult<K, A::Out>;

    /// Takes one record read at message time `read_at` (the watermark then plus one).
    #[inline]
    fn on_record(&mut self, key: K, value: V, time: EventTime, ctx: &mut Ctx<'_, K, V, A>) {
        let c = ctx.read_at();
        let assigned = self.windows.assign(time);
        let (pane, last_end) = (assigned.start, assigned.last_end());
        if last_end.saturating_add(self.lateness) <= c {
            // Every window of the record is past its cleanup time.
            ctx.output.late(key, value, time);
            return;
        }
        // Fast path: the pane exists and all its windows are still open, so they are registered already
        // (at the pane's creation, by a record no later than this one): only the pane changes.
        if assigned.first_end() > c {
            if let Some(state) = ctx.states.get_mut(&key) {
                if let Ok(i) = state.panes.binary_search_by_key(&pane, |p| p.0) {
                    self.agg.add(&mut state.panes[i].1, value);
                    state.invalidate_carry(pane, &self.windows);
                    return;
                }
            }
        }
        let state = ctx
            .states
            .get_or_insert_with(key.clone(), FixedWindowState::default);
        // Windows the watermark has passed but that have not fired yet fire first, without the record,
        // as they would have when the watermark passed them.
        for end in assigned.ends() {
            if end.saturating_add(self.lateness) > c
                && end <= c
                && remove_sorted(&mut state.pending, end)
            {
                self.fire(&key, state, end, c.saturating_sub(1), &mut ctx.output);
            }
        }
        // Add the record to its pane.
        state.invalidate_carry(pane, &self.windows);
        // Without allowed lateness a new pane's cleanup is its last window's firing, whose timer (set
        // below) cleans up too.
        if add_to_pane(&self.agg, &mut state.panes, pane, value) && self.lateness > 0 {
            ctx.timers.set(
                key.clone(),
                at_frontier(last_end.saturating_add(self.lateness)),
            );
        }
        for end in assigned.ends() {
            if end.saturating_add(self.lateness) <= c {
                continue;
            }
            if end <= c {
                // Fired already from this record's point of view: fire again at once, updated.
                self.fire(&key, state, end, c.saturating_sub(1), &mut ctx.output);
            } else if insert_sorted(&mut state.pending, end) {
                ctx.timers.set(key.clone(), at_frontier(end));
            }
        }
    }

    /// Fires the key's window that ends where the timer's frontier is, and cleans up.
    fn on_timer(&mut self, key: K, timer: Timer, ctx: &mut Ctx<'_, K, V, A>) {
        let Timer::EventTime(t) = timer else {
            return;
        };
        let limit = t.saturating_add(1);
        let watermark = ctx.watermark();
        let Some(state) = ctx.states.get_mut(&key) else {
            return;
        };
        while let Some(&end) = state.pending.first().filter(|end| **end <= limit) {
            state.pending.remove(0);
            self.fire(&key, state, end, watermark, &mut ctx.output);
        }
        self.clean(state, limit);
        if state.is_empty() {
            ctx.states.remove(&key);
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
    /// that come out on the second stream, the late records.
    ///
    /// ```
    /// use caudal_operators::{Event, EventStream};
    /// use caudal_operators::window::{aggregate::Count, TimeWindows, Window};
    /// use timely::dataflow::operators::{ToStream, Capture, capture::Extract};
    /// let out = caudal_operators::example(|scope| {
    ///     let input = vec![Event::new(100, ('a', ())), Event::new(300, ('a', ())), Event::new(1200, ('a', ()))];
    ///     let tumbling = TimeWindows::tumbling(1000, 0).unwrap();
    ///     let (fired, _late) = EventStream::new(input.to_stream(scope)).window(tumbling, 0, Count);
    ///     fired.inner.capture()
    /// });
    /// let mut got: Vec<_> = out.extract().into_iter().flat_map(|(_, v)| v).map(|e| (e.data.window, e.data.value)).collect();
    /// got.sort();
    /// assert_eq!(got, vec![(Window::new(0, 1000), 2), (Window::new(1000, 2000), 1)]);
    /// ```
    pub fn window<A>(
        self,
        windows: TimeWindows,
        allowed_lateness_ms: u64,
        agg: A,
    ) -> Windowed<'scope, K, V, A::Out>
    where
        A: Aggregate<V>,
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
    /// use caudal_operators::window::{aggregate::Sum, TimeWindows};
    /// use timely::dataflow::operators::{ToStream, Capture, capture::Extract};
    /// let out = caudal_operators::example(|scope| {
    ///     let input = (-5..5i64).map(|t| Event::new(t * 100, ('k', 1i64))).collect::<Vec<_>>();
    ///     let every_100ms = TimeWindows::sliding(300, 100, 0).unwrap();
    ///     let sums = EventStream::new(input.to_stream(scope)).window_with_inverse(every_100ms, 0, Sum, |acc: &mut i64, pane: &i64| *acc -= pane);
    ///     sums.0.inner.capture()
    /// });
    /// let sums: Vec<i64> = out.extract().into_iter().flat_map(|(_, v)| v).map(|e| e.data.value).collect();
    /// assert_eq!(sums.iter().sum::<i64>(), 30); // each record in 3 windows
    /// ```
    pub fn window_with_inverse<A>(
        self,
        windows: TimeWindows,
        allowed_lateness_ms: u64,
        agg: A,
        inverse: impl Fn(&mut A::Acc, &A::Acc) + 'static,
    ) -> Windowed<'scope, K, V, A::Out>
    where
        A: Aggregate<V>,
    {
        self.fixed_windows(windows, allowed_lateness_ms, agg, Some(Box::new(inverse)))
    }

    fn fixed_windows<A>(
        self,
        windows: TimeWindows,
        allowed_lateness_ms: u64,
        agg: A,
        inverse: Option<Inverse<A::Acc>>,
    ) -> Windowed<'scope, K, V, A::Out>
    where
        A: Aggregate<V>,
    {
        let name = if windows.slide() == windows.size() {
            "TumblingWindow"
        } else {
            "SlidingWindow"
        };
        self.keyed_operator(
            name,
            FixedWindowOperator {
                windows,
                lateness: span_ms(allowed_lateness_ms),
                agg,
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
        let state = FixedWindowState {
            panes: vec![(-500, 3u64), (0, 4)],
            pending: vec![500, 1000],
            fired: vec![(0, 2)],
            carry: Some((1000, 7)),
        };
        let bytes = serde_json::to_vec(&state).unwrap();
        let back: FixedWindowState<u64> = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(back, state);
    }
}
