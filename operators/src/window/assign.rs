//! Which windows a record belongs to: Apache Flink's assignment rules, and panes for sliding windows.
//!
//! Event times are signed ms since the Unix epoch, negative before 1970, and windows are aligned by
//! floor, as Flink's [`window_start_with_offset`] (`TimeWindow.getWindowStartWithOffset`) does:
//!
//! * Tumbling, size `S`, offset `O`: `t` belongs to `[s, s+S)` with
//!   `s = window_start_with_offset(t, O, S)`, the largest `s <= t` with `s ≡ O (mod S)`: `t = -1` is in
//!   `[-1000, 0)` for `S = 1000`, `t = -1001` in `[-2000, -1000)`.
//! * Sliding, size `S`, slide `L`, offset `O` (Flink's `SlidingEventTimeWindows.assignWindows`): from
//!   `last = window_start_with_offset(t, O, L)`, every `[s, s+S)` for `s = last, last - L, ...` while
//!   `s > t - S`.
//! * Panes: a sliding window is the union of consecutive panes of `gcd(S, L)`; a record lands in exactly
//!   one pane, and each window merges its panes when it fires, so no record is copied into every
//!   window it belongs to. A tumbling window is a sliding window whose slide is its size: one pane.
//!
//! Window bounds are [`EventTime`]s: a window may start before 0 (`[-500, 500)` holds `t = 100` for a
//! 1000/500 sliding window) or lie wholly before 1970.
//!
//! Near the ends of the `i64` range, where Flink's Java arithmetic would wrap around, an event time is
//! clamped instead: a time within `2 × (size + slide)` ms of either end (292 million years from 1970)
//! is assigned to the windows of the nearest time that is not ([`TimeWindows::exact_times`]).
//! Everywhere else the arithmetic is Flink's, plain: nothing overflows or panics, and assignment costs
//! what it cost with unsigned times. Windows are at most [`MAX_WINDOW_MS`] long.

use serde::{Deserialize, Serialize};

use crate::time::EventTime;

/// A window `[start, end)` in event time (signed ms since the Unix epoch, negative before 1970).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Window {
    /// First instant in the window.
    pub start: EventTime,
    /// First instant after the window.
    pub end: EventTime,
}

impl Window {
    /// The window `[start, end)`.
    pub fn new(start: EventTime, end: EventTime) -> Self {
        Window { start, end }
    }

    /// The last instant in the window (Flink's `maxTimestamp()`); it fires when the watermark reaches
    /// it.
    pub fn max_timestamp(&self) -> EventTime {
        self.end.saturating_sub(1)
    }
}

/// Flink's `TimeWindow.getWindowStartWithOffset(timestamp, offset, windowSize)`: the start of the
/// window of `window_size` ms aligned to `offset` that holds `timestamp`, that is the largest
/// `s <= timestamp` with `s ≡ offset (mod window_size)`. Alignment is by floor, before 1970 too:
///
/// ```text
/// remainder = (timestamp - offset) % window_size      // Java's and Rust's `%`: truncating
/// start = if remainder < 0 { timestamp - (remainder + window_size) } else { timestamp - remainder }
/// ```
///
/// `window_size` must be positive. Where `timestamp - offset` would overflow, the remainder is taken in
/// `i128`; a start before `i64::MIN` saturates there (Java would wrap around).
///
/// ```
/// use caudal_operators::window::assign::window_start_with_offset;
/// assert_eq!(window_start_with_offset(-1, 0, 1000), -1000);
/// assert_eq!(window_start_with_offset(-1000, 0, 1000), -1000);
/// assert_eq!(window_start_with_offset(-1001, 0, 1000), -2000);
/// assert_eq!(window_start_with_offset(999, 0, 1000), 0);
/// assert_eq!(window_start_with_offset(299, 300, 1000), -700);
/// ```
#[inline]
pub fn window_start_with_offset(timestamp: EventTime, offset: i64, window_size: i64) -> EventTime {
    debug_assert!(window_size > 0, "a window size must be positive");
    let remainder = match timestamp.checked_sub(offset) {
        Some(shifted) => shifted % window_size,
        None => wide_remainder(timestamp, offset, window_size),
    };
    if remainder < 0 {
        timestamp.saturating_sub(remainder + window_size)
    } else {
        timestamp.saturating_sub(remainder)
    }
}

/// `(timestamp - offset) % window_size` where the difference overflows `i64` (within `|offset|` of
/// the ends of the range): the same remainder, computed wider, off the hot path.
#[cold]
#[inline(never)]
fn wide_remainder(timestamp: EventTime, offset: i64, window_size: i64) -> i64 {
    ((i128::from(timestamp) - i128::from(offset)) % i128::from(window_size)) as i64
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// The longest window, in ms (2^60 ms, 36 million years): so that the arithmetic of window bounds
/// has room in `i64` around every event time but the last few window sizes of the range.
pub const MAX_WINDOW_MS: i64 = 1 << 60;

/// Event-time windows of a fixed size: tumbling (`slide == size`, [`TimeWindows::tumbling`]) or sliding
/// (`slide < size`, [`TimeWindows::sliding`]), aligned to `offset` (Kafka Streams calls them the same).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeWindows {
    size: i64,
    slide: i64,
    offset: i64,
    pane: i64,
}

/// Fixed windows whose parameters make no sense.
#[derive(Debug, PartialEq, Eq)]
pub struct InvalidWindows(pub String);

impl std::fmt::Display for InvalidWindows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvalidWindows {}

impl TimeWindows {
    /// Tumbling windows of `size` ms, aligned to `offset` ms.
    pub fn tumbling(size: i64, offset: i64) -> Result<Self, InvalidWindows> {
        Self::sliding(size, size, offset)
    }

    /// Windows of `size` ms every `slide` ms, aligned to `offset` ms.
    pub fn sliding(size: i64, slide: i64, offset: i64) -> Result<Self, InvalidWindows> {
        if size <= 0 || slide <= 0 {
            return Err(InvalidWindows(format!(
                "window size ({size} ms) and slide ({slide} ms) must be positive"
            )));
        }
        if slide > size {
            return Err(InvalidWindows(format!(
                "a slide ({slide} ms) longer than the window ({size} ms) would leave records in no window"
            )));
        }
        if size > MAX_WINDOW_MS {
            return Err(InvalidWindows(format!(
                "a window of {size} ms is longer than the longest Caudal windows: {MAX_WINDOW_MS} ms \
                 (2^60 ms, 36 million years)"
            )));
        }
        Ok(TimeWindows {
            size,
            slide,
            offset: offset.rem_euclid(slide),
            pane: gcd(size, slide),
        })
    }

    /// The window size.
    pub fn size(&self) -> i64 {
        self.size
    }

    /// The slide.
    pub fn slide(&self) -> i64 {
        self.slide
    }

    /// The pane length, `gcd(size, slide)`.
    pub fn pane(&self) -> i64 {
        self.pane
    }

    /// The offset, in `[0, slide)` (an offset and the same offset plus or minus the slide align the
    /// same windows).
    pub fn offset(&self) -> i64 {
        self.offset
    }

    /// The event times whose windows this assignment computes exactly: all but the last
    /// `2 × (size + slide)` ms at either end of the `i64` range. Within them nothing overflows, so the
    /// arithmetic stays as plain (and as fast) as Flink's; a time beyond them is clamped to the
    /// nearest one within them.
    #[inline]
    pub fn exact_times(&self) -> std::ops::RangeInclusive<EventTime> {
        // size and slide are at most MAX_WINDOW_MS (2^60): the margin is at most 2^62.
        let margin = 2 * (self.size + self.slide);
        EventTime::MIN + margin..=EventTime::MAX - margin
    }

    /// `t` clamped into [`TimeWindows::exact_times`].
    #[inline]
    fn clamp(&self, t: EventTime) -> EventTime {
        let exact = self.exact_times();
        t.clamp(*exact.start(), *exact.end())
    }

    /// The start of the pane holding `t`: Flink's alignment with the pane's length.
    #[inline]
    pub fn pane_of(&self, t: EventTime) -> EventTime {
        flink_start(self.clamp(t), self.offset, self.pane)
    }

    /// The pane holding `t` with the windows that hold it: what a record at `t` is assigned to.
    #[inline]
    pub fn assign(&self, t: EventTime) -> PaneWindows {
        self.pane_windows(self.pane_of(t))
    }

    /// The windows holding the pane that starts at `pane_start` (the windows of any instant of it:
    /// windows and panes are aligned to the same offset).
    #[inline]
    pub fn pane_windows(&self, pane_start: EventTime) -> PaneWindows {
        // Pane starts of exact times are at most a pane before them.
        let exact = self.exact_times();
        let start = pane_start.clamp(*exact.start() - self.size, *exact.end());
        // Flink's lastStart, then the earliest start whose window still reaches past the pane:
        // `first > start - size`, so `(last - start + size - 1) / slide` windows before `last`.
        let last = flink_start(start, self.offset, self.slide);
        let first = last - (last - start + self.size - 1).div_euclid(self.slide) * self.slide;
        PaneWindows {
            start,
            first,
            last,
            slide: self.slide,
            size: self.size,
        }
    }

    /// Every window holding `t`, latest first: Flink's `SlidingEventTimeWindows.assignWindows`,
    /// `for (start = lastStart; start > timestamp - size; start -= slide)`.
    pub fn windows_of(&self, t: EventTime) -> impl Iterator<Item = Window> + '_ {
        let t = self.clamp(t);
        let last = flink_start(t, self.offset, self.slide);
        (0..)
            .map(move |i| last - i * self.slide)
            .take_while(move |s| *s > t - self.size)
            .map(move |s| Window::new(s, s + self.size))
    }

    /// The end of the last (latest) window holding the pane that starts at `pane_start`.
    #[inline]
    pub fn last_end_of_pane(&self, pane_start: EventTime) -> EventTime {
        self.pane_windows(pane_start).last_end()
    }

    /// The end of the first (earliest) window holding the pane that starts at `pane_start`.
    #[inline]
    pub fn first_end_of_pane(&self, pane_start: EventTime) -> EventTime {
        self.pane_windows(pane_start).first_end()
    }

    /// The ends of every window holding the pane that starts at `pane_start`, earliest first.
    pub fn ends_of_pane(&self, pane_start: EventTime) -> impl Iterator<Item = EventTime> {
        self.pane_windows(pane_start).ends()
    }

    /// The starts of the panes of the window ending at `end`, earliest first.
    pub fn panes_of_window(&self, end: EventTime) -> impl Iterator<Item = EventTime> + '_ {
        // Window ends of exact times are at most a window after them.
        let exact = self.exact_times();
        let start = end.clamp(*exact.start(), *exact.end() + self.size) - self.size;
        (0..self.size / self.pane).map(move |i| start + i * self.pane)
    }
}

/// Flink's alignment for a time `t` that [`TimeWindows::exact_times`] holds (or a pane start of
/// one): nothing overflows, so it is Flink's formula as Flink writes it.
#[inline]
fn flink_start(t: EventTime, offset: i64, size: i64) -> EventTime {
    let remainder = (t - offset) % size;
    if remainder < 0 {
        t - (remainder + size)
    } else {
        t - remainder
    }
}

/// A pane and the windows that hold it ([`TimeWindows::assign`]): the windows starting every `slide`
/// from the earliest to the latest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PaneWindows {
    /// The pane's start.
    pub start: EventTime,
    /// The start of the earliest window holding it.
    first: EventTime,
    /// The start of the latest window holding it (Flink's `lastStart`).
    last: EventTime,
    slide: i64,
    size: i64,
}

impl PaneWindows {
    /// The end of the earliest window holding the pane: the first to fire.
    #[inline]
    pub fn first_end(&self) -> EventTime {
        self.first + self.size
    }

    /// The end of the latest window holding the pane: the last to fire.
    #[inline]
    pub fn last_end(&self) -> EventTime {
        self.last + self.size
    }

    /// The ends of every window holding the pane, earliest first.
    #[inline]
    pub fn ends(&self) -> impl Iterator<Item = EventTime> {
        let PaneWindows {
            first,
            last,
            slide,
            size,
            ..
        } = *self;
        (0..)
            .map(move |i| first + i * slide)
            .take_while(move |s| *s <= last)
            .map(move |s| s + size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn tumbling_windows_follow_flinks_formula_with_offsets_and_negative_times() {
        let w = TimeWindows::tumbling(1000, 0).unwrap();
        assert_eq!(
            w.windows_of(999).collect::<Vec<_>>(),
            vec![Window::new(0, 1000)]
        );
        assert_eq!(
            w.windows_of(1000).collect::<Vec<_>>(),
            vec![Window::new(1000, 2000)]
        );
        assert_eq!(
            w.windows_of(-1).collect::<Vec<_>>(),
            vec![Window::new(-1000, 0)]
        );
        let shifted = TimeWindows::tumbling(1000, 300).unwrap();
        assert_eq!(
            shifted.windows_of(299).collect::<Vec<_>>(),
            vec![Window::new(-700, 300)]
        );
        assert_eq!(
            shifted.windows_of(300).collect::<Vec<_>>(),
            vec![Window::new(300, 1300)]
        );
        let negative = TimeWindows::tumbling(1000, -300).unwrap();
        assert_eq!(
            negative.windows_of(0).collect::<Vec<_>>(),
            vec![Window::new(-300, 700)]
        );
    }

    #[test]
    fn sliding_1000_300_puts_a_record_in_3_or_4_windows() {
        let w = TimeWindows::sliding(1000, 300, 0).unwrap();
        assert_eq!(w.pane(), 100);
        let counts: Vec<usize> = (0..900)
            .step_by(100)
            .map(|t| w.windows_of(t).count())
            .collect();
        assert!(counts.iter().all(|c| *c == 3 || *c == 4), "{counts:?}");
        assert_eq!(
            w.windows_of(50).collect::<Vec<_>>(),
            vec![
                Window::new(0, 1000),
                Window::new(-300, 700),
                Window::new(-600, 400),
                Window::new(-900, 100)
            ]
        );
    }

    #[test]
    fn bad_parameters_are_refused_with_a_reason() {
        assert!(TimeWindows::sliding(1000, 0, 0)
            .unwrap_err()
            .0
            .contains("positive"));
        assert!(TimeWindows::sliding(100, 300, 0)
            .unwrap_err()
            .0
            .contains("no window"));
    }

    /// Tumbling windows before 1970, worked by hand from Flink's `getWindowStartWithOffset`.
    #[test]
    fn tumbling_windows_before_1970_follow_flinks_formula() {
        let w = TimeWindows::tumbling(1000, 0).unwrap();
        for (t, start) in [
            (-1, -1000),
            (-1000, -1000),
            (-999, -1000),
            (-1001, -2000),
            (-2000, -2000),
            (0, 0),
            (-123_456, -124_000),
        ] {
            assert_eq!(
                w.windows_of(t).collect::<Vec<_>>(),
                vec![Window::new(start, start + 1000)],
                "t = {t}"
            );
            assert_eq!(w.pane_of(t), start, "t = {t}");
        }
        // A window straddling 0: offset 500 aligns [-500, 500).
        let straddling = TimeWindows::tumbling(1000, 500).unwrap();
        for t in [-500, -1, 0, 499] {
            assert_eq!(
                straddling.windows_of(t).collect::<Vec<_>>(),
                vec![Window::new(-500, 500)],
                "t = {t}"
            );
        }
        assert_eq!(
            straddling.windows_of(-501).collect::<Vec<_>>(),
            vec![Window::new(-1500, -500)]
        );
    }

    /// Sliding windows before 1970, worked by hand from Flink's `SlidingEventTimeWindows`.
    #[test]
    fn sliding_windows_before_1970_follow_flinks_loop() {
        let w = TimeWindows::sliding(2000, 500, 0).unwrap();
        // lastStart = getWindowStartWithOffset(-1, 0, 500) = -500; starts -500, -1000, -1500, -2000
        // (each > -1 - 2000 = -2001).
        assert_eq!(
            w.windows_of(-1).collect::<Vec<_>>(),
            vec![
                Window::new(-500, 1500),
                Window::new(-1000, 1000),
                Window::new(-1500, 500),
                Window::new(-2000, 0),
            ]
        );
        // At a boundary: lastStart = -2000, starts down to -3500 (> -4000).
        assert_eq!(
            w.windows_of(-2000).map(|w| w.start).collect::<Vec<_>>(),
            vec![-2000, -2500, -3000, -3500]
        );
        let mut ends: Vec<i64> = w.ends_of_pane(w.pane_of(-1)).collect();
        ends.reverse();
        assert_eq!(ends, vec![1500, 1000, 500, 0]);
        assert_eq!(w.first_end_of_pane(w.pane_of(-1)), 0);
        assert_eq!(w.last_end_of_pane(w.pane_of(-1)), 1500);
    }

    /// Near the ends of the range a time is clamped: no overflow, and every record has its windows.
    #[test]
    fn extreme_times_are_clamped_instead_of_overflowing() {
        for w in [
            TimeWindows::tumbling(1000, 0).unwrap(),
            TimeWindows::tumbling(1000, 300).unwrap(),
            TimeWindows::sliding(1000, 300, 7).unwrap(),
            TimeWindows::tumbling(MAX_WINDOW_MS, 0).unwrap(),
        ] {
            let exact = w.exact_times();
            for t in [
                i64::MIN,
                i64::MIN + 1,
                i64::MIN + 999,
                i64::MAX - 999,
                i64::MAX,
            ] {
                let nearest = t.clamp(*exact.start(), *exact.end());
                let windows: Vec<Window> = w.windows_of(t).collect();
                assert_eq!(windows, w.windows_of(nearest).collect::<Vec<_>>());
                assert!(!windows.is_empty(), "{w:?} t = {t}");
                assert!(
                    windows
                        .iter()
                        .all(|win| win.end - win.start == w.size() && win.start <= nearest),
                    "{w:?} t = {t}"
                );
                let pane = w.assign(t);
                assert_eq!(pane.start, w.pane_of(t));
                assert_eq!(pane, w.pane_windows(pane.start));
                let mut ends: Vec<i64> = windows.iter().map(|w| w.end).collect();
                ends.sort();
                assert_eq!(pane.ends().collect::<Vec<_>>(), ends);
                assert_eq!(pane.first_end(), ends[0]);
                assert_eq!(pane.last_end(), *ends.last().unwrap());
                for end in ends {
                    assert!(w.panes_of_window(end).any(|p| p == pane.start));
                }
            }
        }
        // Flink's formula itself, for any time: a start before i64::MIN saturates there.
        assert_eq!(window_start_with_offset(i64::MIN, 0, 1000), i64::MIN);
        assert_eq!(window_start_with_offset(i64::MIN, 999, 1000), i64::MIN);
        assert_eq!(
            window_start_with_offset(i64::MAX, 0, 1000),
            i64::MAX - i64::MAX % 1000
        );
        assert_eq!(Window::new(i64::MIN, i64::MIN).max_timestamp(), i64::MIN);
        assert!(TimeWindows::tumbling(MAX_WINDOW_MS + 1, 0)
            .unwrap_err()
            .0
            .contains("longest"));
    }

    /// Flink's formula, written as floor division.
    fn reference_start(t: i64, offset: i64, size: i64) -> i64 {
        offset + (t - offset).div_euclid(size) * size
    }

    proptest! {
        /// Flink's `getWindowStartWithOffset` is floor alignment: the same start as `div_euclid`.
        #[test]
        fn window_start_is_floor_alignment(t in -(1i64 << 60)..(1i64 << 60), size in 1i64..10_000_000, offset_div in -1000i64..1000) {
            let offset = offset_div * size / 1000; // |offset| < size, as Flink asks
            let start = window_start_with_offset(t, offset, size);
            prop_assert_eq!(start, reference_start(t, offset, size));
            prop_assert!(start <= t && t < start + size);
            prop_assert_eq!(flink_start(t, offset, size), start);
            prop_assert_eq!(TimeWindows::tumbling(size, offset).unwrap().pane_of(t), start);
        }

        /// Every window of a record holds it, and they are exactly the aligned windows that hold it
        /// (a brute-force reference), before and after 1970.
        #[test]
        fn windows_of_are_every_aligned_window_holding_t(t in -(1i64 << 50)..(1i64 << 50), size in 1i64..200, slide_div in 1i64..10, offset in -300i64..300) {
            let slide = (size / slide_div).max(1);
            let w = TimeWindows::sliding(size, slide, offset).unwrap();
            let got: Vec<Window> = w.windows_of(t).collect();
            let mut expected = Vec::new();
            let mut start = reference_start(t, offset, slide);
            while start > t - size {
                expected.push(Window::new(start, start + size));
                start -= slide;
            }
            prop_assert_eq!(got, expected);
        }

        /// Panes tile windows exactly: the windows of a pane are the windows of every instant in it,
        /// and a window's panes cover exactly its span.
        #[test]
        fn panes_agree_with_direct_assignment(size in 1i64..50, slide_div in 1i64..10, offset in -60i64..60, t in -500i64..500) {
            let slide = (size / slide_div).max(1);
            let w = TimeWindows::sliding(size, slide, offset).unwrap();
            let direct: Vec<i64> = { let mut e: Vec<i64> = w.windows_of(t).map(|w| w.end).collect(); e.sort(); e };
            let via_pane: Vec<i64> = w.ends_of_pane(w.pane_of(t)).collect();
            prop_assert_eq!(&direct, &via_pane);
            for end in direct {
                let panes: Vec<i64> = w.panes_of_window(end).collect();
                prop_assert_eq!(panes.first().copied(), Some(end - size));
                prop_assert!(panes.contains(&w.pane_of(t)));
                prop_assert_eq!(panes.len() as i64 * w.pane(), size);
            }
        }
    }
}
