//! Caudal's time model: event time, the watermark, and how both map onto timely's progress tracking.
//!
//! * Every record carries an **event time** ([`EventTime`]): signed milliseconds since the Unix epoch,
//!   negative before 1970, as Flink's (a Java `long`). Its source or a user extractor sets it. Records
//!   travel as [`Event`]s: the event time beside the data.
//! * The **watermark** `W` says "no more records at or before `W`" (Apache Flink's convention). Caudal
//!   represents it by timely's frontier: a source holds a capability at `W + 1`, the first event time that
//!   is still on time. So the frontier of a stream is always "watermark + 1", and an operator knows a
//!   window `[start, end)` is complete exactly when `!frontier.less_than(&end)`, that is when the
//!   watermark has reached `end - 1`.
//! * Before anything is complete the watermark is `i64::MIN` (Flink's initial watermark,
//!   `Long.MIN_VALUE`): a source's first capability is at [`MIN_FRONTIER`] (`i64::MIN`, timely's
//!   minimum for `i64`), so that a record at any time, however far before 1970, is on time.
//! * Records are sent at the source's current capability time, whatever their own event time: one epoch
//!   serves every record of a worker-loop iteration (adaptive epochs), which keeps per-record latency near
//!   timely's floor. The record's own event time travels in [`Event::time`].
//! * A record whose event time is behind the watermark (`time < frontier`) is **late**. It still flows and
//!   keeps its event time; each stateful operator decides what lateness means for it.
//!
//! ```
//! use caudal_operators::time::{Event, frontier_of_watermark, is_late};
//! let wm = 999; // "all records at or before 999 ms have been seen"
//! assert_eq!(frontier_of_watermark(wm), 1000);
//! assert!(is_late(&Event::new(999, "x"), 1000));
//! assert!(!is_late(&Event::new(1000, "y"), 1000));
//! // Before 1970 too: "all records at or before -1001 ms have been seen".
//! assert_eq!(frontier_of_watermark(-1001), -1000);
//! assert!(is_late(&Event::new(-1001, "z"), -1000));
//! ```

use serde::{Deserialize, Serialize};

/// Event time: signed, ms since the Unix epoch, negative before 1970 (Flink's `long` timestamps). The
/// timely timestamp of every Caudal dataflow has this type; timely's minimum for it is `i64::MIN`.
pub type EventTime = i64;

/// The frontier before anything is complete: timely's minimum time for [`EventTime`]. It stands for
/// the watermark `i64::MIN` (Flink's initial watermark), so no record is late against it.
pub const MIN_FRONTIER: EventTime = EventTime::MIN;

/// The watermark an operator sees once its input has ended, and that firings caused by the end of the
/// input report (Flink's `Long.MAX_VALUE`).
pub const END_OF_INPUT: i64 = i64::MAX;

/// The largest event time: a watermark at `MAX_WATERMARK` means the end of the input.
pub const MAX_WATERMARK: EventTime = EventTime::MAX;

/// A record with its event time.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Event<D> {
    /// When the record happened: signed ms since the Unix epoch, negative before 1970.
    pub time: EventTime,
    /// The record itself.
    pub data: D,
}

impl<D> Event<D> {
    /// A record `data` that happened at `time` (signed ms since the Unix epoch).
    pub fn new(time: EventTime, data: D) -> Self {
        Event { time, data }
    }

    /// The same event time with other data.
    pub fn with<D2>(&self, data: D2) -> Event<D2> {
        Event {
            time: self.time,
            data,
        }
    }
}

/// The timely frontier that stands for watermark `watermark`: the first event time still on time
/// ([`MAX_WATERMARK`] stays at `i64::MAX`: the end of the input is the empty frontier, not a time).
pub fn frontier_of_watermark(watermark: EventTime) -> EventTime {
    watermark.saturating_add(1)
}

/// The watermark that timely frontier `frontier` stands for; `None` before anything is complete
/// (at [`MIN_FRONTIER`]).
pub fn watermark_of_frontier(frontier: EventTime) -> Option<EventTime> {
    frontier.checked_sub(1)
}

/// The watermark an operator whose input frontier is `frontier` has seen: the frontier minus one,
/// `i64::MIN` before anything is complete (Flink's initial watermark), and [`END_OF_INPUT`] once the
/// input has ended (`None`, the empty frontier).
#[inline]
pub fn watermark_at(frontier: Option<EventTime>) -> i64 {
    frontier.map_or(END_OF_INPUT, |f| f.saturating_sub(1))
}

/// A span of `ms` milliseconds (a window size, a gap, an allowed lateness, a bound) as a difference of
/// event times: spans are unsigned, event times signed; a span beyond `i64::MAX` ms saturates there.
#[inline]
pub fn span_ms(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// Whether `event` is behind the watermark that `frontier` stands for.
pub fn is_late<D>(event: &Event<D>, frontier: EventTime) -> bool {
    event.time < frontier
}

/// The processing clock: the wall clock in milliseconds since the Unix epoch (0 if the clock is set
/// before 1970). Processing-time timers, processing-time windows and processing-time watermarks all
/// read this one function, so that their times are comparable and survive a restart (unlike
/// `Instant`s, which mean nothing to another process).
pub fn wall_clock_ms() -> u64 {
    wall_clock_us() / 1000
}

/// The wall clock in microseconds since the Unix epoch (0 if the clock is set before 1970).
pub fn wall_clock_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}
