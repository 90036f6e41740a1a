//! Each NEXMark query, run as a Caudal pipeline on a generated stream, gives what a plain reference
//! implementation computes from the same events, per record and as a batch, on one and two workers
//! (and in micro-batches on one worker).
//!
//! The stream: 40,000 events at 1,000 events per second of event time (40 s: 4 tumbling windows of
//! 10 s, 24 sliding ones), 800 people, 2,400 auctions, 36,800 bids.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use caudal::nexmark as queries;
use caudal::nexmark::{
    AuctionPrice, BidderSession, CategoryPrice, EuroBid, HighestBid, HotItem, LocalItem, NewSeller,
    SellerPrice, WinningBid,
};
use caudal::operators::window::Window;
use caudal::prelude::*;
use caudal::workload::nexmark::{Auction, Bid, Nexmark, NexmarkConfig, NexmarkEvent, Person};
use caudal::workload::Workload;

const EVENTS: u64 = 40_000;

fn config() -> NexmarkConfig {
    NexmarkConfig {
        first_rate: 1000,
        next_rate: 1000,
        ..NexmarkConfig::default()
    }
}

/// The stream's events, in order.
fn events() -> Vec<NexmarkEvent> {
    let stream = Nexmark::new(config());
    (0..EVENTS).map(|seq| stream.record(seq)).collect()
}

fn bids() -> Vec<Bid> {
    events().into_iter().filter_map(NexmarkEvent::bid).collect()
}

/// The runs each query is checked in: mode and workers.
const RUNS: [(&str, usize); 5] = [
    ("per-record", 1),
    ("per-record", 2),
    ("batch", 1),
    ("batch", 2),
    ("micro-batch:5ms", 1),
];

/// Runs `query` over the stream in `mode` on `workers` workers; its sorted results.
fn run<O: Ord + Clone + Send + 'static>(
    mode: &str,
    workers: usize,
    query: impl for<'s> Fn(EventStream<'s, NexmarkEvent>) -> EventStream<'s, O> + Send + Sync + 'static,
) -> Vec<O> {
    let source = GeneratorFactory::new(
        Nexmark::new(config()),
        GeneratorConfig {
            limit: Some(EVENTS),
            ..Default::default()
        },
    );
    let out = Collect::new();
    let sink = out.clone();
    let config = RunConfig::new(mode.parse().unwrap()).workers(workers);
    caudal::run(config, move |df| {
        let events = df.source("nexmark", &source);
        df.sink("out", query(events), &sink);
    })
    .unwrap();
    out.sorted_data()
}

/// Checks `query` against `expected` in every run.
fn check<O: Ord + Clone + Send + std::fmt::Debug + 'static>(
    expected: Vec<O>,
    query: impl for<'s> Fn(EventStream<'s, NexmarkEvent>) -> EventStream<'s, O>
        + Send
        + Sync
        + Clone
        + 'static,
) {
    let mut expected = expected;
    expected.sort();
    assert!(!expected.is_empty(), "the stream should give results");
    for (mode, workers) in RUNS {
        let got = run(mode, workers, query.clone());
        if let Some(i) = (0..got.len().min(expected.len())).find(|&i| got[i] != expected[i]) {
            panic!(
                "{mode} on {workers} workers: result {i} is {:?}, expected {:?}",
                got[i], expected[i]
            );
        }
        assert_eq!(got.len(), expected.len(), "{mode} on {workers} workers");
    }
}

#[test]
fn the_generator_source_stamps_events_with_their_own_times() {
    // Events are 1 ms apart: event 1,000 is at 1 s.
    let stream = Nexmark::new(config());
    assert_eq!(stream.event_time(1000), Some(1000));
    let source = GeneratorFactory::new(
        stream,
        GeneratorConfig {
            limit: Some(EVENTS),
            ..Default::default()
        },
    );
    let out = Collect::new();
    let sink = out.clone();
    caudal::run(RunConfig::default().workers(2), move |df| {
        let events = df.source("nexmark", &source);
        df.sink("out", events, &sink);
    })
    .unwrap();
    let mut got = out.take();
    got.sort_by_key(|e| e.time);
    assert_eq!(got.len() as u64, EVENTS);
    assert!(got.iter().all(|e| e.time == e.data.date_time() as i64));
    assert_eq!(got.last().unwrap().time, EVENTS as i64 - 1);
}

#[test]
fn q0_passes_every_bid_through() {
    check(bids(), queries::q0);
}

#[test]
fn q1_converts_prices_at_0_908() {
    let expected = bids()
        .into_iter()
        .map(|b| EuroBid {
            auction: b.auction,
            bidder: b.bidder,
            price_thousandths: b.price * 908,
            date_time: b.date_time,
        })
        .collect();
    // A price of 100 cents is 90.8 euro cents.
    assert_eq!(
        EuroBid {
            auction: 0,
            bidder: 0,
            price_thousandths: 100 * 908,
            date_time: 0
        }
        .price(),
        90.8
    );
    check(expected, queries::q1);
}

#[test]
fn q2_selects_every_123rd_auction() {
    let expected: Vec<AuctionPrice> = bids()
        .into_iter()
        .filter(|b| b.auction % 123 == 0)
        .map(|b| AuctionPrice {
            auction: b.auction,
            price: b.price,
        })
        .collect();
    assert!(
        expected
            .iter()
            .map(|r| r.auction)
            .collect::<BTreeSet<_>>()
            .len()
            > 3
    );
    check(expected, queries::q2);
}

#[test]
fn q3_joins_local_sellers_with_their_category_10_auctions() {
    let events = events();
    let people: HashMap<u64, Person> = events
        .iter()
        .filter_map(|e| e.person())
        .filter(|p| ["or", "id", "ca"].contains(&p.state_name()))
        .map(|p| (p.id, p))
        .collect();
    let expected: Vec<LocalItem> = events
        .iter()
        .filter_map(|e| e.auction())
        .filter(|a| a.category == 10)
        .filter_map(|a| {
            people.get(&a.seller).map(|p| LocalItem {
                name: p.name,
                city: p.city,
                state: p.state,
                auction: a.id,
            })
        })
        .collect();
    check(expected, queries::q3);
}

/// Every auction's winning bid (the highest bid made between its opening and its expiry, both
/// included; ties to the earlier), in order of close: `(expires, id)`.
fn winning_bids() -> Vec<WinningBid> {
    let events = events();
    let mut bids_of: HashMap<u64, Vec<Bid>> = HashMap::new();
    for b in events.iter().filter_map(|e| e.bid()) {
        bids_of.entry(b.auction).or_default().push(b);
    }
    let mut auctions: Vec<Auction> = events.iter().filter_map(|e| e.auction()).collect();
    auctions.sort_by_key(|a| (a.expires, a.id));
    auctions
        .into_iter()
        .filter_map(|a| {
            let valid = bids_of
                .get(&a.id)?
                .iter()
                .filter(|b| a.date_time <= b.date_time && b.date_time <= a.expires);
            // The highest price; among equal prices, the earliest.
            let best = valid.max_by_key(|b| (b.price, std::cmp::Reverse(b.date_time)))?;
            Some(WinningBid {
                auction: a,
                price: best.price,
                bid_time: best.date_time,
            })
        })
        .collect()
}

#[test]
fn winning_bids_close_each_auction_once() {
    let expected = winning_bids();
    // Most of the 2,400 auctions get a bid in time.
    assert!(
        expected.len() > 1000 && expected.len() <= 2400,
        "{}",
        expected.len()
    );
    check(expected, queries::winning_bids);
}

#[test]
fn q4_averages_winning_prices_per_category() {
    let mut totals: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    let expected: Vec<CategoryPrice> = winning_bids()
        .into_iter()
        .map(|w| {
            let (sum, n) = totals.entry(w.auction.category).or_default();
            *sum += w.price;
            *n += 1;
            CategoryPrice {
                category: w.auction.category,
                average: *sum / *n,
                auctions: *n,
            }
        })
        .collect();
    assert_eq!(totals.len(), 5, "five categories");
    check(expected, queries::q4);
}

#[test]
fn q5_finds_the_hot_items_of_each_sliding_window() {
    // Count per (window end, auction): a bid at t is in the windows ending at multiples of 2 s in
    // (t, t + 10 s].
    let mut counts: BTreeMap<(i64, u64), u64> = BTreeMap::new();
    for b in bids() {
        let t = b.date_time as i64;
        let first_end = (t / 2000 + 1) * 2000;
        for end in (first_end..=t + 10_000).step_by(2000) {
            *counts.entry((end, b.auction)).or_default() += 1;
        }
    }
    let mut max: BTreeMap<i64, u64> = BTreeMap::new();
    for (&(end, _), &n) in &counts {
        let m = max.entry(end).or_default();
        *m = (*m).max(n);
    }
    let expected: Vec<HotItem> = counts
        .iter()
        .filter(|((end, _), n)| **n == max[end])
        .map(|(&(end, auction), &bids)| HotItem {
            window: Window::new(end - 10_000, end),
            auction,
            bids,
        })
        .collect();
    assert_eq!(max.len(), 24, "windows ending at 2 s to 48 s");
    check(expected, queries::q5);
}

#[test]
fn q6_averages_each_sellers_last_ten_auctions() {
    let mut last: HashMap<u64, Vec<u64>> = HashMap::new();
    let expected: Vec<SellerPrice> = winning_bids()
        .into_iter()
        .map(|w| {
            let prices = last.entry(w.auction.seller).or_default();
            prices.push(w.price);
            let window = &prices[prices.len().saturating_sub(10)..];
            SellerPrice {
                seller: w.auction.seller,
                average: window.iter().sum::<u64>() / window.len() as u64,
                auctions: window.len() as u64,
            }
        })
        .collect();
    assert!(
        last.values().any(|p| p.len() > 10),
        "some seller should close more than ten auctions"
    );
    check(expected, queries::q6);
}

#[test]
fn q7_finds_the_highest_bids_of_each_window() {
    let mut by_window: BTreeMap<i64, Vec<Bid>> = BTreeMap::new();
    for b in bids() {
        by_window
            .entry(b.date_time as i64 / 10_000 * 10_000)
            .or_default()
            .push(b);
    }
    let expected: Vec<HighestBid> = by_window
        .into_iter()
        .flat_map(|(start, bids)| {
            let max = bids.iter().map(|b| b.price).max().unwrap();
            bids.into_iter()
                .filter(move |b| b.price == max)
                .map(move |bid| HighestBid {
                    window: Window::new(start, start + 10_000),
                    bid,
                })
        })
        .collect();
    assert!(expected.len() >= 4);
    check(expected, queries::q7);
}

#[test]
fn q8_finds_people_who_sold_in_the_window_they_joined() {
    let events = events();
    let window = |t: u64| t as i64 / 10_000 * 10_000;
    let sold: BTreeSet<(u64, i64)> = events
        .iter()
        .filter_map(|e| e.auction())
        .map(|a| (a.seller, window(a.date_time)))
        .collect();
    let expected: Vec<NewSeller> = events
        .iter()
        .filter_map(|e| e.person())
        .filter(|p| sold.contains(&(p.id, window(p.date_time))))
        .map(|p| NewSeller {
            id: p.id,
            name: p.name,
            window_start: window(p.date_time),
        })
        .collect();
    check(expected, queries::q8);
}

#[test]
fn q11_counts_bids_per_bidder_session() {
    let mut times: BTreeMap<u64, Vec<i64>> = BTreeMap::new();
    for b in bids() {
        times.entry(b.bidder).or_default().push(b.date_time as i64);
    }
    let mut expected = Vec::new();
    for (bidder, mut ts) in times {
        ts.sort();
        let (mut start, mut last, mut n) = (ts[0], ts[0], 0u64);
        for t in ts {
            // Sessions [t, t + 10 s) that touch or overlap merge.
            if t > last + 10_000 {
                expected.push(BidderSession {
                    bidder,
                    bids: n,
                    start,
                    end: last + 10_000,
                });
                (start, n) = (t, 0);
            }
            last = t;
            n += 1;
        }
        expected.push(BidderSession {
            bidder,
            bids: n,
            start,
            end: last + 10_000,
        });
    }
    assert!(expected.iter().any(|s| s.bids > 100));
    check(expected, queries::q11);
}

#[test]
fn q12_counts_every_bid_once_in_processing_time_windows() {
    // Which processing-time window a bid falls in depends on the run; how many bids each bidder made
    // over all windows does not.
    let mut expected: BTreeMap<u64, u64> = BTreeMap::new();
    for b in bids() {
        *expected.entry(b.bidder).or_default() += 1;
    }
    for (mode, workers) in RUNS {
        let mut got: BTreeMap<u64, u64> = BTreeMap::new();
        for r in run(mode, workers, queries::q12) {
            assert_eq!(r.window.end - r.window.start, 10_000);
            assert_eq!(r.window.start % 10_000, 0);
            *got.entry(r.bidder).or_default() += r.bids;
        }
        assert_eq!(got, expected, "{mode} on {workers} workers");
    }
}

#[test]
fn every_query_runs_by_name() {
    for query in queries::Query::ALL {
        let q = query;
        let results = run("batch", 1, move |s| q.build(s));
        assert!(!results.is_empty(), "{query}");
    }
}
