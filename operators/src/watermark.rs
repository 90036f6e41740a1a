//! Watermark strategies: how a source turns the event times it has seen into a watermark.
//!
//! A [`WatermarkTracker`] is the pure logic a source operator runs: it observes event times and the wall
//! clock, and says where the source's capability (the frontier, "watermark + 1", see [`crate::time`])
//! may move. It never moves backwards. Idleness is tracked here too: a source that has produced nothing
//! for its idle timeout is idle and should not hold the watermark of the whole stream back.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::time::{EventTime, MIN_FRONTIER};

/// How a source derives its watermark from the records it reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WatermarkStrategy {
    /// Event times never decrease: the watermark is `max_seen - 1`.
    Monotonic,
    /// Records may arrive up to `B` ms out of order: the watermark is `max_seen - B - 1` (Flink's rule).
    BoundedOutOfOrderness {
        /// The out-of-orderness bound `B`, in milliseconds.
        max_delay_ms: u64,
    },
    /// Records are stamped with the wall clock (ms since the Unix epoch) when they are read, and the
    /// watermark follows the wall clock.
    ProcessingTime,
}

impl WatermarkStrategy {
    /// The frontier (watermark + 1) after seeing records up to `max_seen`, for the event-time strategies.
    /// `None` for [`WatermarkStrategy::ProcessingTime`], whose frontier is the clock. Event times are
    /// signed: near `i64::MIN` the frontier saturates there (nothing complete) instead of wrapping.
    pub fn frontier_for_max_seen(&self, max_seen: EventTime) -> Option<EventTime> {
        match *self {
            WatermarkStrategy::Monotonic => Some(max_seen),
            // watermark = max_seen - B - 1, frontier = watermark + 1 = max_seen - B.
            WatermarkStrategy::BoundedOutOfOrderness { max_delay_ms } => {
                Some(max_seen.saturating_sub_unsigned(max_delay_ms))
            }
            WatermarkStrategy::ProcessingTime => None,
        }
    }
}

/// Tracks one source instance's watermark and idleness.
#[derive(Clone, Debug)]
pub struct WatermarkTracker {
    strategy: WatermarkStrategy,
    idle_timeout: Option<Duration>,
    max_seen: Option<EventTime>,
    frontier: EventTime,
    last_record: Instant,
}

impl WatermarkTracker {
    /// A tracker that has seen nothing yet, at [`MIN_FRONTIER`] (watermark `i64::MIN`, so a record at
    /// any event time, before 1970 too, is on time); `idle_timeout` of `None` never goes idle.
    pub fn new(strategy: WatermarkStrategy, idle_timeout: Option<Duration>, now: Instant) -> Self {
        WatermarkTracker {
            strategy,
            idle_timeout,
            max_seen: None,
            frontier: MIN_FRONTIER,
            last_record: now,
        }
    }

    /// Puts the tracker back where a checkpoint left it: at `frontier`, having seen up to `max_seen`.
    pub fn restore(&mut self, frontier: EventTime, max_seen: Option<EventTime>) {
        self.frontier = self.frontier.max(frontier);
        self.max_seen = self.max_seen.max(max_seen);
    }

    /// The strategy in force.
    pub fn strategy(&self) -> WatermarkStrategy {
        self.strategy
    }

    /// Notes a record at event time `time`, read at `now`.
    #[inline]
    pub fn observe(&mut self, time: EventTime, now: Instant) {
        self.last_record = now;
        self.max_seen = Some(self.max_seen.map_or(time, |m| m.max(time)));
    }

    /// The largest event time seen so far.
    pub fn max_seen(&self) -> Option<EventTime> {
        self.max_seen
    }

    /// The frontier the records seen so far allow (never behind the current one).
    pub fn frontier_from_records(&self) -> EventTime {
        let candidate = self
            .max_seen
            .and_then(|m| self.strategy.frontier_for_max_seen(m))
            .unwrap_or(MIN_FRONTIER);
        candidate.max(self.frontier)
    }

    /// The frontier the records seen so far allow when the watermark may count only event times up to
    /// `cap` as seen (a source of several splits, such as Kafka partitions, passes the smallest of
    /// their largest event times: per-split watermarks, as Flink has per-partition ones). Never behind
    /// the current frontier.
    pub fn frontier_from_records_up_to(&self, cap: EventTime) -> EventTime {
        let candidate = self
            .max_seen
            .map(|m| m.min(cap))
            .and_then(|m| self.strategy.frontier_for_max_seen(m))
            .unwrap_or(MIN_FRONTIER);
        candidate.max(self.frontier)
    }

    /// Moves the frontier to `to` if that is ahead; returns the frontier now in force.
    pub fn advance_to(&mut self, to: EventTime) -> EventTime {
        self.frontier = self.frontier.max(to);
        self.frontier
    }

    /// The frontier in force: the watermark plus one.
    pub fn frontier(&self) -> EventTime {
        self.frontier
    }

    /// The watermark in force, `None` before anything is complete.
    pub fn watermark(&self) -> Option<EventTime> {
        crate::time::watermark_of_frontier(self.frontier)
    }

    /// Whether the source has read nothing for longer than its idle timeout.
    pub fn is_idle(&self, now: Instant) -> bool {
        self.idle_timeout
            .is_some_and(|t| now.saturating_duration_since(self.last_record) >= t)
    }

    /// How long it has been since the source last read a record (or since the tracker was made).
    pub fn quiet_for(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.last_record)
    }

    /// When the source will turn idle if it reads nothing more.
    pub fn idle_deadline(&self) -> Option<Instant> {
        self.idle_timeout.map(|t| self.last_record + t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_out_of_orderness_follows_flinks_rule() {
        let now = Instant::now();
        let mut t = WatermarkTracker::new(
            WatermarkStrategy::BoundedOutOfOrderness { max_delay_ms: 100 },
            None,
            now,
        );
        assert_eq!(t.frontier_from_records(), i64::MIN);
        assert_eq!(t.watermark(), None);
        t.observe(1000, now);
        // watermark = 1000 - 100 - 1 = 899, frontier = 900.
        assert_eq!(t.frontier_from_records(), 900);
        t.advance_to(900);
        t.observe(500, now); // out of order: the watermark does not go back
        assert_eq!(t.frontier_from_records(), 900);
        assert_eq!(t.watermark(), Some(899));
    }

    #[test]
    fn bounded_out_of_orderness_before_1970() {
        let now = Instant::now();
        let mut t = WatermarkTracker::new(
            WatermarkStrategy::BoundedOutOfOrderness { max_delay_ms: 100 },
            None,
            now,
        );
        // Nothing seen: a record at any time is on time.
        assert!(!crate::time::is_late(
            &crate::time::Event::new(i64::MIN, ()),
            t.frontier()
        ));
        t.observe(-1000, now);
        // watermark = -1000 - 100 - 1 = -1101, frontier = -1100.
        assert_eq!(t.advance_to(t.frontier_from_records()), -1100);
        assert_eq!(t.watermark(), Some(-1101));
        assert!(crate::time::is_late(
            &crate::time::Event::new(-1101, ()),
            t.frontier()
        ));
        assert!(!crate::time::is_late(
            &crate::time::Event::new(-1100, ()),
            t.frontier()
        ));
        // Across zero.
        t.observe(50, now);
        assert_eq!(t.advance_to(t.frontier_from_records()), -50);
        assert_eq!(t.watermark(), Some(-51));
    }

    #[test]
    fn the_watermark_saturates_near_the_ends_of_time() {
        let now = Instant::now();
        let bounded = WatermarkStrategy::BoundedOutOfOrderness {
            max_delay_ms: u64::MAX,
        };
        assert_eq!(bounded.frontier_for_max_seen(0), Some(i64::MIN));
        assert_eq!(bounded.frontier_for_max_seen(i64::MAX), Some(i64::MIN));
        let near_min = WatermarkStrategy::BoundedOutOfOrderness { max_delay_ms: 10 };
        assert_eq!(near_min.frontier_for_max_seen(i64::MIN + 5), Some(i64::MIN));
        let mut t = WatermarkTracker::new(near_min, None, now);
        t.observe(i64::MIN, now);
        assert_eq!(t.frontier_from_records(), i64::MIN);
        assert_eq!(t.watermark(), None);
        t.observe(i64::MAX, now);
        assert_eq!(t.advance_to(t.frontier_from_records()), i64::MAX - 10);
        assert_eq!(
            WatermarkStrategy::Monotonic.frontier_for_max_seen(i64::MAX),
            Some(i64::MAX)
        );
    }

    #[test]
    fn per_split_watermarks_follow_the_slowest_split_before_1970() {
        let now = Instant::now();
        let mut t = WatermarkTracker::new(WatermarkStrategy::Monotonic, None, now);
        t.observe(-10, now);
        assert_eq!(t.frontier_from_records_up_to(-500), -500);
        assert_eq!(t.frontier_from_records_up_to(0), -10);
    }

    #[test]
    fn monotonic_keeps_equal_times_on_time() {
        let now = Instant::now();
        let mut t = WatermarkTracker::new(WatermarkStrategy::Monotonic, None, now);
        t.observe(42, now);
        assert_eq!(t.advance_to(t.frontier_from_records()), 42);
        // Another record at 42 is not late: 42 >= frontier.
        assert!(!crate::time::is_late(
            &crate::time::Event::new(42, ()),
            t.frontier()
        ));
        assert!(crate::time::is_late(
            &crate::time::Event::new(41, ()),
            t.frontier()
        ));
    }

    #[test]
    fn goes_idle_after_its_timeout_only() {
        let start = Instant::now();
        let mut t = WatermarkTracker::new(
            WatermarkStrategy::Monotonic,
            Some(Duration::from_millis(50)),
            start,
        );
        assert!(!t.is_idle(start + Duration::from_millis(49)));
        assert!(t.is_idle(start + Duration::from_millis(50)));
        t.observe(1, start + Duration::from_millis(60));
        assert!(!t.is_idle(start + Duration::from_millis(100)));
        assert_eq!(t.idle_deadline(), Some(start + Duration::from_millis(110)));
    }

    #[test]
    fn without_timeout_never_idle() {
        let start = Instant::now();
        let t = WatermarkTracker::new(WatermarkStrategy::Monotonic, None, start);
        assert!(!t.is_idle(start + Duration::from_secs(3600)));
    }
}
