//! Processing-time windows: tumbling or sliding windows over the wall clock, which fire when the clock
//! passes their end (through a timer activation; the frontier plays no part).
//!
//! A record falls in the pane of its arrival time (ms since the Unix epoch), whatever its event time, and
//! each window fires once, with the aggregation of its panes. Nothing is ever late. When the input ends,
//! every open window fires at once. For these windows [`WindowResult::watermark`] is the wall-clock time
//! (ms) at which the window fired.

use std::hash::Hash;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use timely::ExchangeData;

use super::aggregate::Aggregate;
use super::assign::{SlidingWindows, Window};
use super::{result_time, WindowOutput, WindowResult};
use crate::process::{KeyContext, KeyedProcess, Timer};
use crate::stream::EventStream;

fn wall_clock_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// One key's panes and the window ends waiting for their timer. A checkpoint saves the panes; the
/// pending timers hold instants of this process and are re-armed on restore.
#[derive(Serialize, Deserialize)]
#[serde(bound = "Acc: Serialize + DeserializeOwned")]
pub struct KeyPanes<Acc> {
    panes: Vec<(i64, Acc)>,
    #[serde(skip)]
    pending: Vec<(Instant, i64)>,
}

struct ProcessingWindows<A> {
    windows: SlidingWindows,
    agg: A,
}

impl<K: Clone + 'static, V: 'static, A: Aggregate<V>> KeyedProcess<K, V> for ProcessingWindows<A> {
    type State = KeyPanes<A::Acc>;
    type Out = WindowOutput<K, V, A::Out>;

    fn on_record(&mut self, value: V, ctx: &mut KeyContext<'_, K, Self::State, Self::Out>) {
        let now = wall_clock_ms();
        let pane = self.windows.pane_of(now);
        let ends: Vec<i64> = self.windows.ends_of_pane(pane).collect();
        let state = ctx.state().get_or_insert_with(|| KeyPanes {
            panes: Vec::new(),
            pending: Vec::new(),
        });
        match state.panes.binary_search_by_key(&pane, |p| p.0) {
            Ok(i) => self.agg.add(&mut state.panes[i].1, value),
            Err(i) => {
                let mut acc = self.agg.create();
                self.agg.add(&mut acc, value);
                state.panes.insert(i, (pane, acc));
            }
        }
        let new_ends: Vec<i64> = ends
            .into_iter()
            .filter(|e| !state.pending.iter().any(|(_, p)| p == e))
            .collect();
        for end in new_ends {
            let at = ctx.set_processing_timer(Duration::from_millis((end - now).max(0) as u64));
            ctx.state()
                .as_mut()
                .expect("just set")
                .pending
                .push((at, end));
        }
    }

    fn on_timer(&mut self, timer: Timer, ctx: &mut KeyContext<'_, K, Self::State, Self::Out>) {
        let Timer::ProcessingTime(at) = timer else {
            return;
        };
        let fired_at = wall_clock_ms();
        let key = ctx.key().clone();
        let Some(state) = ctx.state().as_mut() else {
            return;
        };
        let mut due: Vec<i64> = state
            .pending
            .iter()
            .filter(|(t, _)| *t <= at)
            .map(|(_, end)| *end)
            .collect();
        due.sort();
        state.pending.retain(|(t, _)| *t > at);
        let size = self.windows.size();
        let mut results = Vec::new();
        for end in due {
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
            results.push((result_time(&window), WindowOutput::Fired(result)));
            // Panes whose windows have all fired are done.
            let windows = self.windows;
            state.panes.retain(|(pane, _)| {
                windows
                    .ends_of_pane(*pane)
                    .last()
                    .is_some_and(|last| last > end)
            });
        }
        let finished = state.panes.is_empty() && state.pending.is_empty();
        for (time, out) in results {
            ctx.emit_at(time, out);
        }
        if finished {
            *ctx.state() = None;
        }
    }
}

impl<'scope, K, V> EventStream<'scope, (K, V)>
where
    K: ExchangeData + Hash + Eq + Clone,
    V: ExchangeData,
{
    /// Aggregates each key's records in fixed windows of processing time (the wall clock at arrival);
    /// see the module documentation.
    pub fn processing_time_window<A: Aggregate<V>>(
        self,
        windows: SlidingWindows,
        agg: A,
    ) -> EventStream<'scope, WindowOutput<K, V, A::Out>> {
        self.process_by_key("ProcessingTimeWindow", ProcessingWindows { windows, agg })
    }
}
