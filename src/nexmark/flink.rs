//! Caudal's NEXMark events and results in the forms of Flink's NEXMark suite (nexmark-flink, kept in
//! `peers/flink/nexmark`), so that the suite's SQL can run on Caudal's events and its results be
//! compared with Caudal's (`scripts/nexmark-results-vs-flink.sh`, `tests/peers.rs`).
//!
//! - [`datagen_json()`]: an event as a row of the suite's `datagen` table (`ddl_gen.sql`): its
//!   `event_type` (0 person, 1 auction, 2 bid) and the `person`, `auction` and `bid` rows, the other two
//!   null, in the field names the table declares. Times are `TIMESTAMP(3)` in the text Flink's JSON
//!   format reads by default (`json.timestamp-format.standard` `SQL`: `yyyy-MM-dd HH:mm:ss.SSS`), UTC.
//!   Fields Caudal's events do not keep (e-mails, credit cards, item names, descriptions, urls,
//!   `extra`) are left out: the JSON format reads them as null, and no query compared reads them.
//!   States are written in capitals (`OR`), as the Java reference generator writes them and as q3's
//!   `P.state = 'OR'` reads them; the `nexmark` crate, and so Caudal, keeps them in lower case.
//! - [`flink_row()`]: a result of Caudal's as the row the query's `SELECT` gives in Flink, its columns
//!   in the SELECT's order: times as ms since the epoch, q1's `DECIMAL(23, 3)` euro price as text with
//!   three decimals, `extra` as null.

use serde_json::{json, Value};

use super::{Output, Query};
use crate::prelude::*;
use crate::workload::nexmark::{Nexmark, NexmarkConfig, NexmarkEvent};
use crate::workload::Workload;

/// `query`'s results on `events` (in this order, each at its `date_time`), run per record on one
/// worker, as Flink's rows ([`flink_row()`]), in the order they came.
pub fn caudal_rows_on(query: Query, events: &[NexmarkEvent]) -> Vec<Value> {
    let source = crate::source::from_events(
        events
            .iter()
            .map(|e| Event::new(e.date_time() as EventTime, *e))
            .collect(),
    );
    let out = Collect::new();
    let sink = out.clone();
    crate::run(RunConfig::default(), move |df| {
        let events = df.source("events", &source);
        df.sink("out", query.build(events), &sink);
    })
    .expect("the query runs");
    out.take().iter().map(|r| flink_row(&r.data)).collect()
}

/// The first `events` events of the stream `config` makes, as lines of the `datagen` table
/// ([`datagen_json()`]), each ending in a newline: a file Flink's filesystem connector reads.
pub fn datagen_file(config: &NexmarkConfig, events: u64) -> String {
    let stream = Nexmark::new(config.clone());
    let mut out = String::new();
    for seq in 0..events {
        out.push_str(&datagen_json(&stream.record(seq)).to_string());
        out.push('\n');
    }
    out
}

/// `query`'s results, run per record on one worker over the first `events` events of the stream
/// `config` makes, as Flink's rows ([`flink_row()`]), in the order they came.
pub fn caudal_rows(query: Query, config: &NexmarkConfig, events: u64) -> Vec<Value> {
    caudal_rows_in(RunConfig::default(), query, config, events)
}

/// [`caudal_rows()`] under `run` (its watermark strategy, say).
pub fn caudal_rows_in(
    run: RunConfig,
    query: Query,
    config: &NexmarkConfig,
    events: u64,
) -> Vec<Value> {
    let source = GeneratorFactory::new(
        Nexmark::new(config.clone()),
        GeneratorConfig {
            limit: Some(events),
            ..Default::default()
        },
    );
    let out = Collect::new();
    let sink = out.clone();
    crate::run(run, move |df| {
        let events = df.source("nexmark", &source);
        df.sink("out", query.build(events), &sink);
    })
    .expect("the query runs");
    out.take().iter().map(|r| flink_row(&r.data)).collect()
}

/// `ms` since the epoch as Flink's JSON format writes and reads a `TIMESTAMP(3)` by default
/// (`yyyy-MM-dd HH:mm:ss.SSS`, no zone: UTC).
pub fn sql_timestamp(ms: u64) -> String {
    let days = (ms / 86_400_000) as i64;
    let in_day = ms % 86_400_000;
    // Days since 1970-01-01 to a civil date (Howard Hinnant's `civil_from_days`).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}.{:03}",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    )
}

/// An event as a row of the suite's `datagen` table, as one JSON object.
pub fn datagen_json(event: &NexmarkEvent) -> Value {
    match event {
        NexmarkEvent::Person(p) => json!({
            "event_type": 0,
            "person": {
                "id": p.id,
                "name": p.name.full(),
                "city": p.city_name(),
                "state": p.state_name().to_uppercase(),
                "dateTime": sql_timestamp(p.date_time),
            },
            "auction": null,
            "bid": null,
        }),
        NexmarkEvent::Auction(a) => json!({
            "event_type": 1,
            "person": null,
            "auction": {
                "id": a.id,
                "initialBid": a.initial_bid,
                "reserve": a.reserve,
                "dateTime": sql_timestamp(a.date_time),
                "expires": sql_timestamp(a.expires),
                "seller": a.seller,
                "category": a.category,
            },
            "bid": null,
        }),
        NexmarkEvent::Bid(b) => json!({
            "event_type": 2,
            "person": null,
            "auction": null,
            "bid": {
                "auction": b.auction,
                "bidder": b.bidder,
                "price": b.price,
                "channel": b.channel.name(),
                "dateTime": sql_timestamp(b.date_time),
            },
        }),
    }
}

/// A result of Caudal's as the row Flink's query gives, its columns in the order of the query's
/// SELECT (`peers/flink/nexmark/queries/qN.sql`).
pub fn flink_row(output: &Output) -> Value {
    match output {
        // SELECT auction, bidder, price, dateTime, extra FROM bid
        Output::Q0(b) => json!([b.auction, b.bidder, b.price, b.date_time, null]),
        // SELECT auction, bidder, 0.908 * price AS price, dateTime, extra FROM bid
        Output::Q1(b) => json!([
            b.auction,
            b.bidder,
            format!(
                "{}.{:03}",
                b.price_thousandths / 1000,
                b.price_thousandths % 1000
            ),
            b.date_time,
            null
        ]),
        // SELECT auction, price FROM bid WHERE MOD(auction, 123) = 0
        Output::Q2(r) => json!([r.auction, r.price]),
        // SELECT P.name, P.city, P.state, A.id
        Output::Q3(r) => {
            let person = crate::workload::nexmark::Person {
                name: r.name,
                city: r.city,
                state: r.state,
                ..Default::default()
            };
            json!([
                r.name.full(),
                person.city_name(),
                person.state_name().to_uppercase(),
                r.auction
            ])
        }
        // SELECT Q.category, AVG(Q.final)
        Output::Q4(r) => json!([r.category, r.average]),
        // SELECT AuctionBids.auction, AuctionBids.num
        Output::Q5(r) => json!([r.auction, r.bids]),
        // SELECT Q.seller, AVG(Q.price) OVER (...): not valid Flink SQL; the pair, for completeness.
        Output::Q6(r) => json!([r.seller, r.average]),
        // SELECT B.auction, B.price, B.bidder, B.dateTime, B.extra
        Output::Q7(r) => json!([
            r.bid.auction,
            r.bid.price,
            r.bid.bidder,
            r.bid.date_time,
            null
        ]),
        // SELECT P.id, P.name, P.starttime
        Output::Q8(r) => json!([r.id, r.name.full(), r.window_start]),
        // SELECT B.bidder, count(*), SESSION_START(...), SESSION_END(...)
        Output::Q11(r) => json!([r.bidder, r.bids, r.start, r.end]),
        // SELECT bidder, count(*), window_start, window_end (processing time)
        Output::Q12(r) => json!([r.bidder, r.bids, r.window.start, r.window.end]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::nexmark::{Bid, Channel};

    #[test]
    fn timestamps_are_written_as_flinks_json_format_reads_them() {
        assert_eq!(sql_timestamp(0), "1970-01-01 00:00:00.000");
        assert_eq!(sql_timestamp(10_007), "1970-01-01 00:00:10.007");
        // 2020-02-29 23:59:59.999 UTC, a leap day.
        assert_eq!(sql_timestamp(1_583_020_799_999), "2020-02-29 23:59:59.999");
        assert_eq!(sql_timestamp(1_583_020_800_000), "2020-03-01 00:00:00.000");
    }

    #[test]
    fn a_bid_is_a_datagen_row_and_q1_prices_have_three_decimals() {
        let bid = Bid {
            auction: 1000,
            bidder: 1001,
            price: 1234,
            date_time: 1500,
            channel: Channel::Hot(1),
        };
        assert_eq!(
            datagen_json(&NexmarkEvent::Bid(bid)),
            json!({"event_type": 2, "person": null, "auction": null, "bid": {
                "auction": 1000, "bidder": 1001, "price": 1234, "channel": "Facebook",
                "dateTime": "1970-01-01 00:00:01.500"}})
        );
        let euro = super::super::q1::to_euros(bid);
        assert_eq!(
            flink_row(&Output::Q1(euro)),
            json!([1000, 1001, "1120.472", 1500, null])
        );
    }
}
