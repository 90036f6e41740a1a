//! Processing-time windows: tumbling or sliding windows over the processing clock, which fire when the
//! clock passes their end (through a processing-time timer of the shell; the frontier plays no part).
//!
//! A record falls in the pane of its arrival time (ms since the Unix epoch, [`wall_clock_ms`]), whatever
//! its event time, and each window fires once, with the aggregation of its panes. Nothing is ever late.
//! When the input ends, every open window fires at once. For these windows [`WindowResult::watermark`]
//! is the processing time (ms) at which the window fired. Window ends are processing times, so a
//! checkpoint's timers mean the same after a restart.

use std::hash::Hash;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use timely::ExchangeData;

use super::aggregate::{add_to_pane, Aggregate};
use super::assign::{TimeWindows, Window};
use super::{result_time, WindowResult};
use crate::shell::{Context, KeyedOperator, Timer};
use crate::stream::EventStream;
use crate::time::{wall_clock_ms, EventTime};

/// One key's panes and the window ends waiting for the clock, sorted.
#[derive(Debug, Serialize, Deserialize)]
#[serde(bound = "Acc: Serialize + DeserializeOwned")]
pub struct ProcessingWindowState<Acc> {
    panes: Vec<(i64, Acc)>,
    pending: Vec<i64>,
}

struct ProcessingWindowOperator<A> {
    windows: TimeWindows,
    agg: A,
}

/// The context a processing-time window operator gets from the shell.
type Ctx<'c, K, V, A> = Context<
    'c,
    K,
    V,
    ProcessingWindowState<<A as Aggregate<V>>::Acc>,
    WindowResult<K, <A as Aggregate<V>>::Out>,
>;

impl<K, V, A> KeyedOperator<K, V> for ProcessingWindowOperator<A>
where
    K: Hash + Eq + Clone + 'static,
    V: 'static,
    A: Aggregate<V>,
{
    type State = ProcessingWindowState<A::Acc>;
    type Out = WindowResult<K, A::Out>;

    fn on_record(&mut self, key: K, value: V, _time: EventTime, ctx: &mut Ctx<'_, K, V, A>) {
        let assigned = self.windows.assign(wall_clock_ms() as EventTime);
        let pane = assigned.start;
        let state = ctx
            .states
            .get_or_insert_with(key.clone(), || ProcessingWindowState {
                panes: Vec::new(),
                pending: Vec::new(),
            });
        add_to_pane(&self.agg, &mut state.panes, pane, value);
        for end in assigned.ends() {
            if let Err(i) = state.pending.binary_search(&end) {
                state.pending.insert(i, end);
                ctx.timers
                    .set(key.clone(), Timer::ProcessingTime(end.max(0) as u64));
            }
        }
    }

    fn on_timer(&mut self, key: K, timer: Timer, ctx: &mut Ctx<'_, K, V, A>) {
        let Timer::ProcessingTime(at) = timer else {
            return;
        };
        let fired_at = wall_clock_ms() as i64;
        let Some(state) = ctx.states.get_mut(&key) else {
            return;
        };
        let size = self.windows.size();
        let due = state.pending.partition_point(|end| *end <= at as i64);
        for end in state.pending.drain(..due) {
            let from = state.panes.partition_point(|p| p.0 < end - size);
            let mut panes = state.panes[from..]
                .iter()
                .take_while(|p| p.0 < end)
                .peekable();
            if panes.peek().is_none() {
                continue;
            }
            let mut acc = self.agg.create();
            panes.for_each(|(_, pane)| self.agg.merge(&mut acc, pane));
            let window = Window::new(end - size, end);
            let result = WindowResult {
                key: key.clone(),
                window,
                value: self.agg.result(&acc),
                firing: 1,
                watermark: fired_at,
            };
            ctx.output.emit(result_time(&window), result);
            // Panes whose windows have all fired are done.
            let windows = self.windows;
            state
                .panes
                .retain(|(pane, _)| windows.pane_windows(*pane).last_end() > end);
        }
        if state.panes.is_empty() && state.pending.is_empty() {
            ctx.states.remove(&key);
        }
    }
}

impl<'scope, K, V> EventStream<'scope, (K, V)>
where
    K: ExchangeData + Hash + Eq + Clone,
    V: ExchangeData,
{
    /// Aggregates each key's records in fixed windows of processing time (the processing clock at
    /// arrival); see the module documentation.
    pub fn processing_time_window<A: Aggregate<V>>(
        self,
        windows: TimeWindows,
        agg: A,
    ) -> EventStream<'scope, WindowResult<K, A::Out>> {
        self.keyed_operator(
            "ProcessingTimeWindow",
            ProcessingWindowOperator { windows, agg },
        )
        .0
    }
}
