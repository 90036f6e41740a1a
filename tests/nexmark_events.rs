//! Caudal's compact NEXMark events equal the reference generator's (the `nexmark` crate 0.2) on every
//! field they keep, for the same configuration: a sweep over the first events of several
//! configurations, and random positions far into the stream.

use caudal::workload::nexmark::{Nexmark, NexmarkConfig, NexmarkEvent, RateShape};
use caudal::workload::Workload;
use nexmark::config::{NexmarkConfig as RefConfig, RateShape as RefShape};
use nexmark::event::Event as RefEvent;
use nexmark::EventGenerator;
use proptest::prelude::*;

/// The reference's configuration with the same numbers as `c` (and its default tables).
fn reference(c: &NexmarkConfig) -> RefConfig {
    RefConfig {
        active_people: c.active_people as usize,
        in_flight_auctions: c.in_flight_auctions as usize,
        out_of_order_group_size: c.out_of_order_group_size as usize,
        hot_seller_ratio: c.hot_seller_ratio as usize,
        hot_auction_ratio: c.hot_auction_ratio as usize,
        hot_bidder_ratio: c.hot_bidder_ratio as usize,
        hot_channel_ratio: c.hot_channel_ratio as usize,
        first_event_id: c.first_event_id as usize,
        first_event_number: c.first_event_number as usize,
        base_time: c.base_time,
        num_categories: c.num_categories as usize,
        auction_id_lead: c.auction_id_lead as usize,
        person_proportion: c.person_proportion as usize,
        auction_proportion: c.auction_proportion as usize,
        bid_proportion: c.bid_proportion as usize,
        first_auction_id: c.first_auction_id as usize,
        first_person_id: c.first_person_id as usize,
        first_category_id: c.first_category_id as usize,
        person_id_lead: c.person_id_lead as usize,
        sine_approx_steps: c.sine_approx_steps as usize,
        num_event_generators: c.num_event_generators as usize,
        rate_shape: match c.rate_shape {
            RateShape::Square => RefShape::Square,
            RateShape::Sine => RefShape::Sine,
        },
        rate_period: c.rate_period as usize,
        first_rate: c.first_rate as usize,
        next_rate: c.next_rate as usize,
        us_per_unit: c.us_per_unit as usize,
        ..RefConfig::default()
    }
}

/// Checks that `mine` keeps `theirs`'s kind and every field it keeps.
fn assert_same(seq: u64, mine: NexmarkEvent, theirs: &RefEvent) {
    match (mine, theirs) {
        (NexmarkEvent::Person(p), RefEvent::Person(q)) => {
            assert_eq!(p.id, q.id as u64, "person id at {seq}");
            assert_eq!(p.name.full(), q.name, "name at {seq}");
            assert_eq!(p.city_name(), q.city, "city at {seq}");
            assert_eq!(p.state_name(), q.state, "state at {seq}");
            assert_eq!(p.date_time, q.date_time, "person time at {seq}");
        }
        (NexmarkEvent::Auction(a), RefEvent::Auction(b)) => {
            let mine = (
                a.id,
                a.initial_bid,
                a.reserve,
                a.date_time,
                a.expires,
                a.seller,
                a.category,
            );
            let theirs = (
                b.id as u64,
                b.initial_bid as u64,
                b.reserve as u64,
                b.date_time,
                b.expires,
                b.seller as u64,
                b.category as u64,
            );
            assert_eq!(mine, theirs, "auction at {seq}");
        }
        (NexmarkEvent::Bid(a), RefEvent::Bid(b)) => {
            let mine = (a.auction, a.bidder, a.price, a.date_time);
            let theirs = (
                b.auction as u64,
                b.bidder as u64,
                b.price as u64,
                b.date_time,
            );
            assert_eq!(mine, theirs, "bid at {seq}");
            assert_eq!(a.channel.name(), b.channel, "channel at {seq}");
        }
        (mine, theirs) => panic!("event {seq}: {mine:?} is not {theirs:?}"),
    }
}

/// Compares the first `n` events of `config`'s stream, and their event times.
fn sweep(config: NexmarkConfig, n: usize) {
    let mine = Nexmark::new(config.clone());
    let reference = EventGenerator::new(reference(&config));
    let mut kinds = [0usize; 3];
    for (seq, theirs) in reference.take(n).enumerate() {
        let seq = seq as u64;
        let event = mine.record(seq);
        assert_same(seq, event, &theirs);
        assert_eq!(
            mine.event_time(seq),
            Some(theirs.timestamp()),
            "time at {seq}"
        );
        kinds[match event {
            NexmarkEvent::Person(_) => 0,
            NexmarkEvent::Auction(_) => 1,
            NexmarkEvent::Bid(_) => 2,
        }] += 1;
    }
    // The proportions of the stream: 1 person, 3 auctions, 46 bids in 50 (by default).
    let total = config.person_proportion + config.auction_proportion + config.bid_proportion;
    let people = (n as u64 * config.person_proportion / total) as i64;
    assert!((kinds[0] as i64 - people).abs() <= 2, "{kinds:?}");
    assert!(kinds[1] > 0 && kinds[2] > kinds[1]);
}

#[test]
fn the_default_stream_equals_the_reference() {
    sweep(NexmarkConfig::default(), 50_000);
}

#[test]
fn another_configuration_equals_the_reference() {
    sweep(
        NexmarkConfig {
            base_time: 1_700_000_000_123,
            first_event_id: 7,
            first_event_number: 3,
            out_of_order_group_size: 10,
            num_categories: 7,
            first_rate: 1000,
            next_rate: 1000,
            active_people: 50,
            in_flight_auctions: 20,
            hot_seller_ratio: 3,
            hot_auction_ratio: 5,
            hot_bidder_ratio: 2,
            hot_channel_ratio: 3,
            ..NexmarkConfig::default()
        },
        20_000,
    );
}

#[test]
fn a_varying_rate_gives_the_reference_times() {
    sweep(
        NexmarkConfig {
            first_rate: 20_000,
            next_rate: 5_000,
            rate_period: 10,
            ..NexmarkConfig::default()
        },
        20_000,
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn events_far_into_the_stream_equal_the_reference(seq in 0u64..(1 << 40)) {
        let config = NexmarkConfig { base_time: 1_000_000, ..NexmarkConfig::default() };
        let theirs = EventGenerator::new(reference(&config))
            .with_offset(seq)
            .next()
            .unwrap();
        let mine = Nexmark::new(config);
        assert_same(seq, mine.record(seq), &theirs);
        prop_assert_eq!(mine.event_time(seq), Some(theirs.timestamp()));
    }
}
