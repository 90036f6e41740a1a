//! Caudal's time model: event time, the watermark, and how both map onto timely's progress tracking.
//!
//! * Every record carries an **event time** in milliseconds ([`EventTime`]), set by its source or by a
//!   user extractor. Records travel as [`Event`]s: the event time beside the data.
//! * The **watermark** `W` says "no more records at or before `W`" (Apache Flink's convention). Caudal
//!   represents it by timely's frontier: a source holds a capability at `W + 1`, the first event time that
//!   is still on time. So the frontier of a stream is always "watermark + 1", and an operator knows a
//!   window `[start, end)` is complete exactly when `!frontier.less_than(&end)`, that is when the
//!   watermark has reached `end - 1`.
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
//! ```

use serde::{Deserialize, Serialize};

/// Event time in milliseconds. The timely timestamp of every Caudal dataflow has this type.
pub type EventTime = u64;

/// The watermark an operator sees once its input has ended, and that firings caused by the end of the
/// input report (Flink's `Long.MAX_VALUE`).
pub const END_OF_INPUT: i64 = i64::MAX;

/// The largest event time: a watermark at `MAX_WATERMARK` means the end of the input.
pub const MAX_WATERMARK: EventTime = i64::MAX as u64;

/// A record with its event time.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Event<D> {
    /// When the record happened, in milliseconds.
    pub time: EventTime,
    /// The record itself.
    pub data: D,
}

impl<D> Event<D> {
    /// A record `data` that happened at `time` ms.
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

/// The timely frontier that stands for watermark `watermark`: the first event time still on time.
pub fn frontier_of_watermark(watermark: EventTime) -> EventTime {
    watermark.saturating_add(1)
}

/// The watermark that timely frontier `frontier` stands for; `None` before anything is complete.
pub fn watermark_of_frontier(frontier: EventTime) -> Option<EventTime> {
    frontier.checked_sub(1)
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
