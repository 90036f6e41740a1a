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
//! Every window operator runs on the keyed-operator shell ([`crate::shell`]): its per-key state is the
//! shell's, its window ends and cleanups are the shell's timers (so firing is bounded by the work
//! budget), and it returns two streams: the firings ([`WindowResult`]) and the late records
//! ([`LateRecord`]).

pub mod aggregate;
pub mod assign;
pub mod fixed;
pub mod join;
pub mod marker;
pub mod processing;
pub mod replay;
pub mod session;

use serde::{Deserialize, Serialize};

use crate::time::EventTime;

pub use crate::shell::LateRecord;
pub use aggregate::Aggregate;
pub use assign::{PaneWindows, TimeWindows, Window};

pub use crate::time::END_OF_INPUT;

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

/// The event time given to a firing: the window's last instant, [`Window::max_timestamp`] (Flink's
/// `window.maxTimestamp()`), negative for a window that ends at or before 0.
pub(crate) fn result_time(window: &Window) -> EventTime {
    window.max_timestamp()
}

/// The shell timer that fires at the watermark `at - 1` (the frontier reaching `at`): window ends and
/// cleanup times are such frontiers.
pub(crate) fn at_frontier(at: EventTime) -> crate::shell::Timer {
    crate::shell::Timer::EventTime(at.saturating_sub(1))
}

/// What a window operator returns: its firings, and the records that came too late for every window
/// they belong to.
pub type Windowed<'scope, K, V, O> = (
    crate::stream::EventStream<'scope, WindowResult<K, O>>,
    crate::stream::EventStream<'scope, LateRecord<K, V>>,
);
