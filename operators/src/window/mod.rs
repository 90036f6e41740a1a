//! Event-time windows closed by timely's frontier: tumbling, sliding and session windows, with allowed
//! lateness and a late side output. The semantics are Apache Flink's (DESIGN §4):
//!
//! * A window `[start, end)` fires when the watermark reaches `end - 1`, that is when the operator's
//!   input frontier (watermark + 1) reaches `end`: once, with its key, bounds and result. Empty windows
//!   emit nothing. When the input ends (the frontier empties) every pending window fires.
//! * **Lateness is decided per window.** A record is judged against the watermark in force when it was
//!   read, which is its message's timely time minus one (sources send at watermark + 1). A window whose
//!   end the watermark had passed has fired from the record's point of view: with allowed lateness `A`,
//!   its state lives until the watermark reaches `end - 1 + A`, and a record for it within that span
//!   re-fires it at once with the full, updated result (results are **updates**: the latest firing of a
//!   window supersedes the earlier ones). A record whose windows are all past that span is **late**: it
//!   goes to the late output with its key and event time. Nothing is dropped silently.
//! * Because lateness depends only on each record's own message time, results do not depend on how the
//!   worker happens to interleave data and progress.
//!
//! Operators take an [`EventStream`] of `(key, value)` and return a stream of
//! [`WindowOutput`]s, which [`split`] separates into results and late records.

pub mod aggregate;
pub mod assign;
pub mod fixed;
pub mod join;
pub mod marker;
pub mod processing;
pub mod replay;
pub mod session;
mod timers;

use std::hash::Hash;

use serde::{Deserialize, Serialize};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::core::OkErr;
use timely::dataflow::operators::generic::{Operator, OutputBuilderSession};
use timely::dataflow::operators::InputCapability;
use timely::ExchangeData;

use crate::hash::route;

use crate::stream::EventStream;
use crate::time::{Event, EventTime};

pub use aggregate::Aggregate;
pub use assign::{SlidingWindows, Window};

/// The watermark reported for firings caused by the end of the input (Flink's `Long.MAX_VALUE`).
pub const END_OF_INPUT: i64 = i64::MAX;

/// One firing of a window.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct WindowResult<K, O> {
    /// The key.
    pub key: K,
    /// The window.
    pub window: Window,
    /// The aggregation's result over everything the window holds.
    pub value: O,
    /// 1 for the first firing of this window, 2 for its first re-firing under allowed lateness, ...
    pub firing: u32,
    /// The watermark that fired it ([`END_OF_INPUT`] at the end of the input).
    pub watermark: i64,
}

/// A record that came after every window it belongs to had been cleaned up.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LateRecord<K, V> {
    /// The record's key.
    pub key: K,
    /// The record's value.
    pub value: V,
    /// The record's event time.
    pub time: EventTime,
}

/// What a window operator emits: a firing, or a late record.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum WindowOutput<K, V, O> {
    /// A window fired.
    Fired(WindowResult<K, O>),
    /// A record was too late for all its windows.
    Late(LateRecord<K, V>),
}

/// Separates a window operator's output into firings and late records.
#[allow(clippy::type_complexity)]
pub fn split<'scope, K: 'static, V: 'static, O: 'static>(
    output: EventStream<'scope, WindowOutput<K, V, O>>,
) -> (
    EventStream<'scope, WindowResult<K, O>>,
    EventStream<'scope, LateRecord<K, V>>,
) {
    let (fired, late) =
        output
            .inner
            .ok_err::<Vec<_>, _, Vec<_>, _, _>(|e: Event<WindowOutput<K, V, O>>| match e.data {
                WindowOutput::Fired(r) => Ok(Event::new(e.time, r)),
                WindowOutput::Late(l) => Err(Event::new(e.time, l)),
            });
    (EventStream::new(fired), EventStream::new(late))
}

/// The event time given to a firing: the window's last instant (0 for windows that end before 1).
pub(crate) fn result_time(window: &Window) -> EventTime {
    window.max_timestamp().max(0) as EventTime
}

/// The output handle of a keyed window operator.
pub(crate) type Out<'a, K, V, O> = OutputBuilderSession<
    'a,
    EventTime,
    CapacityContainerBuilder<Vec<Event<WindowOutput<K, V, O>>>>,
>;

/// What varies between keyed window operators: how a record changes the windows, and what the
/// frontier fires. The operator around it ([`keyed_window_operator`]) is the same for all.
pub(crate) trait KeyedWindows<K: 'static, V: 'static, O: 'static>: 'static {
    /// Takes one record read at message time `now` (the watermark then plus one); results go to
    /// [`KeyedWindows::results`].
    fn on_record(
        &mut self,
        key: K,
        value: V,
        time: EventTime,
        now: EventTime,
        cap: &InputCapability<EventTime>,
    );
    /// Fires what the frontier has passed (`None`: the input has ended) and cleans up.
    fn on_frontier(&mut self, frontier: Option<EventTime>, out: &mut Out<'_, K, V, O>);
    /// The results of the current pass, handed to timely together.
    fn results(&mut self) -> &mut Vec<Event<WindowOutput<K, V, O>>>;
}

/// A window operator: records exchanged by key, each message's results sent in one container at its
/// time, then the frontier's firings.
pub(crate) fn keyed_window_operator<'scope, K, V, O, L>(
    stream: EventStream<'scope, (K, V)>,
    name: &str,
    mut logic: L,
) -> EventStream<'scope, WindowOutput<K, V, O>>
where
    K: ExchangeData + Hash,
    V: ExchangeData,
    O: 'static,
    L: KeyedWindows<K, V, O>,
{
    let pact = Exchange::new(|e: &Event<(K, V)>| route(&e.data.0));
    let out = stream.inner.unary_frontier(pact, name, move |_cap, _info| {
        move |(input, frontier), output| {
            input.for_each(|cap, data| {
                let now = *cap.least().expect("a message has a time");
                for Event {
                    time,
                    data: (key, value),
                } in data.drain(..)
                {
                    logic.on_record(key, value, time, now, &cap);
                }
                output.session(&cap).give_container(logic.results());
                logic.results().clear();
            });
            logic.on_frontier(frontier.frontier().first().copied(), output);
        }
    });
    EventStream::new(out)
}
