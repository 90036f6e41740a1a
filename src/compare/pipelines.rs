//! The lab's pipelines, and the results they hand the latency sink.

use super::config::{LabWorkload, Shape};
use crate::source::generator::EventTimeline;
use crate::workload::{Post, Tag};
use caudal_operators::window::aggregate::{Count, Sum};
use caudal_operators::window::join::JoinKind;
use caudal_operators::window::{TimeWindows, WindowResult};
use caudal_operators::EventStream;
use serde::Serialize;
use std::hash::Hash;

/// A result tagged with the record that produced it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Deserialize, Serialize)]
pub struct Measured<T> {
    /// The producing record's position in the stream (or the window-closing record's).
    pub seq: u64,
    /// The event time the result is about, in ms: its record's, or its window's end.
    pub event_ms: i64,
    /// The result.
    pub value: T,
    /// A window result of the burst workload's bursts: its latency is reported apart from the
    /// per-record results'.
    pub burst: bool,
}

/// How many keys the burst workload's windows cover: all of them close at the same watermark.
pub const BURST_KEYS: u64 = 1_000_000;

/// The burst workload's tumbling windows, in ms: a burst of [`BURST_KEYS`] firings this often.
pub const BURST_WINDOW_MS: i64 = 5000;

/// The event time of generated record `seq` at `rate`, in ms (the generator's own timeline), moved
/// back by up to `disorder_ms` as the generator moves it.
pub fn event_ms(seq: u64, rate: f64, disorder_ms: u64) -> i64 {
    EventTimeline::new(rate).disordered(seq, disorder_ms) as i64
}

/// The first record whose event time reaches `end`: with a monotonic watermark, the record whose
/// arrival moved the watermark past a window ending at `end`, from whose intended send time the window
/// result's latency is measured. Event times follow the generator's [`EventTimeline`].
pub fn closing_seq(end: i64, rate: f64) -> u64 {
    let estimate = (end.max(0) as f64 * rate / 1000.0) as u64;
    first_reaching(end, estimate, |seq| event_ms(seq, rate, 0))
}

/// The first `seq` whose `time(seq)` reaches `at`, for a `time` that does not decrease with `seq`,
/// searched outwards from `estimate` (steps that double, then bisection): a handful of evaluations
/// when the estimate is close, about 2·log2 of its error otherwise.
pub fn first_reaching(at: i64, estimate: u64, time: impl Fn(u64) -> i64) -> u64 {
    // Bracket the answer in (lo, hi], with time(lo) < at <= time(hi).
    let (mut lo, mut hi);
    let mut step = 1u64;
    if time(estimate) >= at {
        hi = estimate;
        loop {
            if hi == 0 {
                return 0;
            }
            let probe = hi.saturating_sub(step);
            if time(probe) < at {
                lo = probe;
                break;
            }
            hi = probe;
            step = step.saturating_mul(2);
        }
    } else {
        lo = estimate;
        loop {
            let probe = lo.saturating_add(step);
            if time(probe) >= at {
                hi = probe;
                break;
            }
            lo = probe;
            step = step.saturating_mul(2);
        }
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if time(mid) < at {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

/// [`closing_seq`] in a stream whose event times are moved back by up to `disorder_ms`: the first
/// record whose (moved) event time reaches `end`, which is the first to move the largest event time
/// seen, and so the watermark, that far.
pub fn closing_seq_disordered(end: i64, rate: f64, disorder_ms: u64) -> u64 {
    let mut seq = closing_seq(end, rate);
    while event_ms(seq, rate, disorder_ms) < end {
        seq += 1;
    }
    seq
}

/// What the lab's windows are of.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LabTime {
    /// Event time: the generator's timeline (every mode but Spark's model).
    #[default]
    Event,
    /// Processing time as Spark's windows have it, under Spark's model (`micro-batch:I:spark`): a
    /// record's time is its batch's, in Unix ms, and the generator's clock started at this Unix ms.
    /// A window ending at batch time `T` is measured from the first record due at or after `T`, as
    /// real Spark's are (see [`super::peer`]).
    SparkBatches {
        /// The Unix ms at which the generator's record 0 was due.
        from_ms: i64,
    },
}

/// The lab's pipelines over posts offered at `rate` (every workload but NEXMark's queries, which
/// [`super::nexmark::lab_query`] builds), with the windows and gap of `shape`, their
/// windows of `time`. Every result carries the `seq` of the post it is measured from (the post itself,
/// or the post that closed its window) and `(key, window start, value)`.
pub fn lab_pipeline(
    workload: LabWorkload,
    posts: EventStream<'_, Post>,
    rate: f64,
    shape: Shape,
    time: LabTime,
) -> EventStream<'_, Measured<(u64, i64, u64)>> {
    // The record that moved the watermark past a window's end: the first at `end + delay`.
    let delay = shape.watermark_delay(workload);
    let disorder = shape.disorder_ms();
    let keys = shape.key_draw();
    let key = move |p: &Post, own: u64| keys.key(p.seq, own);
    let measured = move |r: WindowResult<u64, u64>| match time {
        LabTime::Event => Measured {
            seq: closing_seq_disordered(r.window.end + delay, rate, disorder),
            event_ms: r.window.end,
            value: (r.key, r.window.start, r.value),
            burst: false,
        },
        LabTime::SparkBatches { from_ms } => {
            let (start, end) = (r.window.start - from_ms, r.window.end - from_ms);
            Measured {
                seq: closing_seq(end, rate),
                event_ms: end,
                value: (r.key, start, r.value),
                burst: false,
            }
        }
    };
    match workload {
        LabWorkload::Filter => posts
            .filter(|p| p.has_tag(Tag::VIU))
            .map(move |p| Measured {
                seq: p.seq,
                event_ms: event_ms(p.seq, rate, disorder),
                value: (Tag::VIU.0 as u64, 0, p.user as u64),
                burst: false,
            }),
        LabWorkload::KeyedCount => posts
            .map(move |p| (key(&p, p.tags()[0].0 as u64), p.seq))
            .map_with_state(
                "KeyedCount",
                || 0u64,
                move |tag, n, seq| {
                    *n += 1;
                    Some(Measured {
                        seq,
                        event_ms: event_ms(seq, rate, disorder),
                        value: (*tag, 0, *n),
                        burst: false,
                    })
                },
            ),
        LabWorkload::Tumbling => {
            let tumbling = TimeWindows::tumbling(shape.window_ms(), 0).expect("valid windows");
            posts
                .map(move |p| (key(&p, p.tags()[0].0 as u64), ()))
                .window(tumbling, 0, Count)
                .0
                .map(measured)
        }
        LabWorkload::Sliding => {
            let sliding = TimeWindows::sliding(shape.window_ms(), shape.slide_ms(), 0)
                .expect("valid windows");
            posts
                .map(move |p| (key(&p, p.tags()[0].0 as u64), 1u64))
                .window(sliding, 0, Sum)
                .0
                .map(measured)
        }
        LabWorkload::Session => posts
            .map(move |p| (key(&p, p.user as u64), ()))
            .session_window(shape.gap_ms() as u64, 0, Count)
            .0
            .map(measured),
        LabWorkload::Join => {
            let even = posts.clone().filter(|p| p.seq % 2 == 0).map({
                let key = key.clone();
                move |p| (key(&p, p.user as u64), p.seq)
            });
            let odd = posts
                .filter(|p| p.seq % 2 == 1)
                .map(move |p| (key(&p, p.user as u64), p.seq));
            let tumbling = TimeWindows::tumbling(100, 0).expect("valid windows");
            let (rows, _late) = even.window_join(odd, tumbling, 0, JoinKind::Inner);
            rows.map(move |r| Measured {
                seq: closing_seq_disordered(r.window.end + delay, rate, disorder),
                event_ms: r.window.end,
                value: (
                    r.key,
                    r.window.start,
                    r.left
                        .unwrap_or(0)
                        .wrapping_mul(1_000_003)
                        .wrapping_add(r.right.unwrap_or(0)),
                ),
                burst: false,
            })
        }
        LabWorkload::Burst => {
            // Enough keys per post that every window holds all BURST_KEYS keys.
            let window_s = BURST_WINDOW_MS as f64 / 1000.0;
            let fan_out = (BURST_KEYS as f64 / (rate * window_s)).ceil().max(1.0) as u64;
            let steady = posts.clone().map(move |p| Measured {
                seq: p.seq,
                event_ms: event_ms(p.seq, rate, disorder),
                value: (p.tags()[0].0 as u64, 0, p.user as u64),
                burst: false,
            });
            let keys = posts.flat_map(move |p| {
                (0..fan_out).map(move |j| ((p.seq * fan_out + j) % BURST_KEYS, ()))
            });
            let tumbling = TimeWindows::tumbling(BURST_WINDOW_MS, 0).expect("valid windows");
            let (fired, _late) = keys.window(tumbling, 0, Count);
            steady.union([fired.map(move |r| Measured {
                burst: true,
                ..measured(r)
            })])
        }
        // Its callers take NEXMark's queries elsewhere ([`super::nexmark`]), or refuse them.
        LabWorkload::Nexmark(query) => {
            unreachable!("NEXMark's {query} runs on NEXMark's events, not on posts")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn first_reaching_finds_what_a_scan_finds_from_any_estimate(
            steps in proptest::collection::vec(0i64..4, 1..200),
            at in -3i64..400,
            estimate in 0u64..400,
        ) {
            // Non-decreasing times with plateaus; past the end they keep growing.
            let times: Vec<i64> = steps
                .iter()
                .scan(0i64, |t, s| {
                    *t += s;
                    Some(*t)
                })
                .collect();
            let last = *times.last().unwrap();
            let n = times.len() as u64;
            let time = |seq: u64| match times.get(seq as usize) {
                Some(t) => *t,
                None => last + (seq - n + 1) as i64,
            };
            let scanned = (0u64..).find(|&seq| time(seq) >= at).unwrap();
            proptest::prop_assert_eq!(first_reaching(at, estimate, time), scanned);
        }
    }

    #[test]
    fn closing_seq_is_the_first_record_at_or_after_the_end() {
        for rate in [1000.0, 3333.0, 200_000.0, 1_000_000.0] {
            let time = |seq: u64| EventTimeline::new(rate).event_time(seq);
            for end in [1i64, 7, 100, 999, 1000, 12_345] {
                let seq = closing_seq(end, rate);
                assert!(time(seq) >= end as u64, "rate {rate}, end {end}");
                assert!(
                    seq == 0 || time(seq - 1) < end as u64,
                    "rate {rate}, end {end}"
                );
            }
        }
    }
}
