//! The NEXMark queries in the lab (`--workload nexmark:q5`): NEXMark's events offered open loop at the
//! run's rate, each query's results measured from the event that made them due.
//!
//! The stream is [`crate::workload::nexmark`]'s with its event time running at the offered rate from 0
//! (`base_time` 0, `first_rate` = `next_rate` = the rate, events in order), so that an event's time is
//! its intended send time to the millisecond, as the posts' are. Each event comes with its position in
//! the stream (its `seq`), and each result is measured from:
//!
//! * q0, q1, q2 (one result per bid): the bid itself; the lab applies the queries' own per-bid
//!   functions to the numbered events;
//! * q3 (a join emitted when the second of a person and an auction arrives): the later of the two,
//!   whose positions follow from their ids;
//! * the others (windows, sessions, auctions closing at their expiry): the first event whose time moves
//!   the watermark past the result's event time `t`, i.e. the first at `t + 1` (plus the watermark's
//!   delay): every such result is fired by an event-time timer at `t` (a window's last instant, a
//!   session's, an auction's expiry), which fires when the frontier passes `t`;
//! * q12 (processing-time windows): the first event due when the wall clock reached the window's end.
//!   Its results depend on when each event arrived, so they are reported, not checked across modes.

use super::config::LabWorkload;
use super::pipelines::Measured;
use crate::nexmark::{q1, q2, q3, Output, Query};
use crate::workload::nexmark::{Derived, Nexmark, NexmarkConfig, NexmarkEvent};
use crate::workload::Workload;
use caudal_operators::{Event, EventStream, EventTime};
use timely::dataflow::operators::vec::Map;

/// NEXMark's events, each with its position in the stream.
#[derive(Clone, Debug)]
pub struct NumberedNexmark {
    stream: Nexmark,
}

impl NumberedNexmark {
    /// The lab's NEXMark stream at `rate` events/s: event time runs from 0 at the offered rate.
    pub fn at_rate(rate: f64) -> Self {
        let rate = rate.round().max(1.0) as u64;
        NumberedNexmark {
            stream: Nexmark::new(NexmarkConfig {
                base_time: 0,
                first_rate: rate,
                next_rate: rate,
                out_of_order_group_size: 1,
                first_event_number: 0,
                ..NexmarkConfig::default()
            }),
        }
    }

    /// The configuration, with what is derived from it.
    pub fn config(&self) -> &Derived {
        self.stream.config()
    }
}

impl Workload for NumberedNexmark {
    type Record = (u64, NexmarkEvent);

    #[inline]
    fn record(&self, seq: u64) -> (u64, NexmarkEvent) {
        (seq, self.stream.record(seq))
    }

    #[inline]
    fn event_time(&self, seq: u64) -> Option<u64> {
        self.stream.event_time(seq)
    }
}

/// Whether a query's results are the same in every run and mode (all but q12's, of processing time).
pub fn comparable(query: Query) -> bool {
    query != Query::Q12
}

/// The first event (its `seq`) whose event time is at least `at` ms, in `config`'s stream.
pub fn first_at(config: &Derived, at: i64) -> u64 {
    let time = |seq: u64| config.event_timestamp(config.event_number(seq)) as i64;
    // Event times do not decrease with seq; the stream's rate over its first million events gives the
    // search a close start.
    const SPAN: u64 = 1_000_000;
    let per_span = (time(SPAN) - time(0)).max(1) as f64;
    let estimate = (at.max(0) as f64 * SPAN as f64 / per_span) as u64;
    super::pipelines::first_reaching(at, estimate, time)
}

/// The position of the event that created person `id` (the stream of [`NumberedNexmark`], whose event
/// numbers are positions).
pub fn person_seq(config: &Derived, id: u64) -> u64 {
    let c = &config.config;
    let n = id - c.first_person_id;
    n / c.person_proportion * config.proportion_denominator + n % c.person_proportion
}

/// The position of the event that created auction `id`.
pub fn auction_seq(config: &Derived, id: u64) -> u64 {
    let c = &config.config;
    let n = id - c.first_auction_id;
    n / c.auction_proportion * config.proportion_denominator
        + c.person_proportion
        + n % c.auction_proportion
}

/// `query` on the lab's numbered `events`, offered at `rate` from Unix ms `from_ms` (for q12's
/// processing-time windows); every result carries the `seq` it is measured from.
pub fn lab_query<'s>(
    query: Query,
    events: EventStream<'s, (u64, NexmarkEvent)>,
    rate: f64,
    from_ms: i64,
) -> EventStream<'s, Measured<Output>> {
    let per_bid = |seq: u64, date_time: u64, out: Output| Measured {
        seq,
        event_ms: date_time as i64,
        value: out,
        burst: false,
    };
    match query {
        Query::Q0 => events
            .flat_map(move |(seq, e)| e.bid().map(|b| per_bid(seq, b.date_time, Output::Q0(b)))),
        Query::Q1 => events.flat_map(move |(seq, e)| {
            e.bid()
                .map(|b| per_bid(seq, b.date_time, Output::Q1(q1::to_euros(b))))
        }),
        Query::Q2 => events.flat_map(move |(seq, e)| {
            q2::select(e).map(|p| per_bid(seq, e.date_time(), Output::Q2(p)))
        }),
        Query::Q3 => {
            let config = NumberedNexmark::at_rate(rate).config().clone();
            q3::by_seller(events.map(|(_, e)| e)).map(move |(seller, item)| {
                let seq = person_seq(&config, seller).max(auction_seq(&config, item.auction));
                Measured {
                    seq,
                    event_ms: config.event_timestamp(config.event_number(seq)) as i64,
                    value: Output::Q3(item),
                    burst: false,
                }
            })
        }
        Query::Q12 => {
            let out = query.build(events.map(|(_, e)| e));
            // The first event due at or after the window's end, on the wall clock.
            with_time(out, move |t, value| {
                let end = t + 1 - from_ms;
                Measured {
                    seq: super::pipelines::closing_seq(end, rate),
                    event_ms: end,
                    value,
                    burst: false,
                }
            })
        }
        _ => {
            let config = NumberedNexmark::at_rate(rate).config().clone();
            // The watermark trails the largest event time by this much (q11's, as the `session`
            // workload's, allows 1 ms of disorder: see [`LabWorkload::watermark`]).
            let delay = LabWorkload::Nexmark(query).watermark_delay();
            let out = query.build(events.map(|(_, e)| e));
            with_time(out, move |t, value| Measured {
                seq: first_at(&config, t + 1 + delay),
                event_ms: t + 1,
                value,
                burst: false,
            })
        }
    }
}

/// Maps each record of `stream` with its event time.
fn with_time<'s, D: 'static, O: 'static>(
    stream: EventStream<'s, D>,
    mut logic: impl FnMut(EventTime, D) -> O + 'static,
) -> EventStream<'s, O> {
    EventStream::new(stream.inner.map(move |e: Event<D>| Event {
        time: e.time,
        data: logic(e.time, e.data),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::nexmark::EventKind;

    #[test]
    fn event_time_runs_at_the_offered_rate_from_zero() {
        for rate in [1000.0, 10_000.0, 100_000.0] {
            let stream = NumberedNexmark::at_rate(rate);
            for seq in [0u64, 1, 999, 123_456, 2_000_000] {
                let expected = (seq as f64 * 1000.0 / rate).round() as u64;
                let got = stream.event_time(seq).unwrap();
                assert!(
                    got.abs_diff(expected) <= 1,
                    "rate {rate}, seq {seq}: {got} ms, expected {expected}"
                );
                assert_eq!(stream.record(seq).0, seq);
            }
        }
    }

    #[test]
    fn first_at_is_the_first_event_at_or_after_a_time() {
        for rate in [1000.0, 3333.0, 100_000.0] {
            let stream = NumberedNexmark::at_rate(rate);
            let config = stream.config();
            let time = |seq: u64| stream.event_time(seq).unwrap() as i64;
            for at in [0i64, 1, 7, 1000, 10_001, 123_457] {
                let seq = first_at(config, at);
                assert!(time(seq) >= at, "rate {rate}, at {at}");
                assert!(seq == 0 || time(seq - 1) < at, "rate {rate}, at {at}");
            }
        }
    }

    #[test]
    fn ids_lead_back_to_the_events_that_created_them() {
        let stream = NumberedNexmark::at_rate(10_000.0);
        let config = stream.config();
        let (mut people, mut auctions) = (0, 0);
        for seq in 0..5_000u64 {
            match stream.record(seq).1 {
                NexmarkEvent::Person(p) => {
                    assert_eq!(person_seq(config, p.id), seq);
                    people += 1;
                }
                NexmarkEvent::Auction(a) => {
                    assert_eq!(auction_seq(config, a.id), seq);
                    auctions += 1;
                }
                NexmarkEvent::Bid(_) => {
                    assert_eq!(config.kind(config.event_number(seq)), EventKind::Bid)
                }
            }
        }
        assert_eq!((people, auctions), (100, 300));
    }
}
