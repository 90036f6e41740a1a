//! Which windows a record belongs to: Apache Flink's assignment rules, and panes for sliding windows.
//!
//! * Tumbling, size `S`, offset `O`: `t` belongs to `[s, s+S)` with `s = t - (t - O).rem_euclid(S)`.
//! * Sliding, size `S`, slide `L`, offset `O`: `t` belongs to every `[s, s+S)` with `s ≡ O (mod L)` and
//!   `t - S < s <= t`.
//! * Panes: a sliding window is the union of consecutive panes of `gcd(S, L)`; a record lands in exactly
//!   one pane, and each window merges its panes when it fires, so no record is copied into every
//!   window it belongs to. A tumbling window is a sliding window whose slide is its size: one pane.
//!
//! Window bounds are `i64`: a window may start before 0 (`[-500, 500)` holds `t = 100` for a 1000/500
//! sliding window).

use serde::{Deserialize, Serialize};

/// A window `[start, end)` in event time (ms).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Window {
    /// First instant in the window.
    pub start: i64,
    /// First instant after the window.
    pub end: i64,
}

impl Window {
    /// The window `[start, end)`.
    pub fn new(start: i64, end: i64) -> Self {
        Window { start, end }
    }

    /// The last instant in the window; it fires when the watermark reaches it.
    pub fn max_timestamp(&self) -> i64 {
        self.end - 1
    }
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

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

    /// The start of the pane holding `t`.
    #[inline]
    pub fn pane_of(&self, t: i64) -> i64 {
        t - (t - self.offset).rem_euclid(self.pane)
    }

    /// The start of the last (latest) window holding `t`.
    #[inline]
    fn last_start(&self, t: i64) -> i64 {
        t - (t - self.offset).rem_euclid(self.slide)
    }

    /// Every window holding `t`, latest first (Flink's order).
    pub fn windows_of(&self, t: i64) -> impl Iterator<Item = Window> + '_ {
        let last = self.last_start(t);
        (0..)
            .map(move |i| last - i * self.slide)
            .take_while(move |s| *s > t - self.size)
            .map(move |s| Window::new(s, s + self.size))
    }

    /// The end of the last (latest) window holding the pane that starts at `pane_start`.
    #[inline]
    pub fn last_end_of_pane(&self, pane_start: i64) -> i64 {
        self.last_start(pane_start) + self.size
    }

    /// The end of the first (earliest) window holding the pane that starts at `pane_start`.
    #[inline]
    pub fn first_end_of_pane(&self, pane_start: i64) -> i64 {
        let last = self.last_start(pane_start);
        last - (last - pane_start + self.size - 1).div_euclid(self.slide) * self.slide + self.size
    }

    /// The ends of every window holding the pane that starts at `pane_start`, earliest first.
    pub fn ends_of_pane(&self, pane_start: i64) -> impl Iterator<Item = i64> + '_ {
        // The same windows as for any instant of the pane: take its first.
        let last = self.last_start(pane_start);
        // The earliest window start still after `pane_start - size`: every window from it to `last`
        // holds the whole pane, since windows and panes are aligned to the same offset.
        let first = last - (last - pane_start + self.size - 1).div_euclid(self.slide) * self.slide;
        (0..)
            .map(move |i| first + i * self.slide)
            .take_while(move |s| *s <= last)
            .map(move |s| s + self.size)
    }

    /// The starts of the panes of the window ending at `end`, earliest first.
    pub fn panes_of_window(&self, end: i64) -> impl Iterator<Item = i64> + '_ {
        let start = end - self.size;
        (0..self.size / self.pane).map(move |i| start + i * self.pane)
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

    proptest! {
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
