//! Event number `n` of a NEXMark stream, as the reference generator makes it (`Event::new`,
//! `Person::new`, `Auction::new`, `Bid::new` in the `nexmark` crate 0.2), drawing the same random
//! numbers in the same order from a generator seeded by the event id, and keeping only the fields
//! [`super::event`] keeps.

use super::config::{Derived, EventKind};
use super::event::{
    Auction, Bid, Channel, Name, NexmarkEvent, Person, CHANNELS, CITIES, FIRST_NAMES, HOT_CHANNELS,
    LAST_NAMES, STATES,
};
use super::rng::SmallRng;

/// Of the people, auctions and bids that may be hot, 1 in this many is (the reference's
/// `HOT_*_RATIO` constants).
const HOT_RATIO: u64 = 100;

/// The event with number `n` (not its position in the stream: see [`Derived::event_number`]).
#[inline]
pub fn event(cfg: &Derived, n: u64) -> NexmarkEvent {
    let id = cfg.config.first_event_id + n;
    let time = cfg.event_timestamp(n);
    match cfg.kind(n) {
        EventKind::Person => NexmarkEvent::Person(person(cfg, id, time)),
        EventKind::Auction => NexmarkEvent::Auction(auction(cfg, n, id, time)),
        EventKind::Bid => NexmarkEvent::Bid(bid(cfg, id, time)),
    }
}

/// A random person id (from 0) among the active ones, or a little ahead of them.
#[inline]
fn next_person(cfg: &Derived, id: u64, rng: &mut SmallRng) -> u64 {
    let people = cfg.last_person(id) + 1;
    let active = people.min(cfg.config.active_people);
    people - active + rng.below_u64(active + cfg.config.person_id_lead)
}

/// A random auction id (from 0) among the in-flight ones, or a little ahead of them.
#[inline]
fn next_auction(cfg: &Derived, id: u64, rng: &mut SmallRng) -> u64 {
    let max = cfg.last_auction(id);
    let min = max.saturating_sub(cfg.config.in_flight_auctions);
    min + rng.below_u64(max - min + 1 + cfg.config.auction_id_lead)
}

#[inline]
fn person(cfg: &Derived, id: u64, time: u64) -> Person {
    let rng = &mut SmallRng::seed_from_u64(id);
    let first = rng.below_u32(FIRST_NAMES.len() as u32) as u8;
    let last = rng.below_u32(LAST_NAMES.len() as u32) as u8;
    // The email (7 + 5 letters) and the credit card (4 numbers below 10,000).
    rng.skip_letters(12);
    for _ in 0..4 {
        rng.below_u32(10_000);
    }
    let city = rng.below_u32(CITIES.len() as u32) as u8;
    let state = rng.below_u32(STATES.len() as u32) as u8;
    Person {
        id: cfg.last_person(id) + cfg.config.first_person_id,
        name: Name { first, last },
        city,
        state,
        date_time: time,
    }
}

#[inline]
fn auction(cfg: &Derived, n: u64, id: u64, time: u64) -> Auction {
    let c = &cfg.config;
    let rng = &mut SmallRng::seed_from_u64(id);
    // The item name (20 letters) and the description (100).
    rng.skip_letters(120);
    let initial_bid = rng.price();
    let reserve = initial_bid + rng.price();
    let horizon = cfg.event_timestamp(n + cfg.events_for_auctions) - time;
    let expires = time + 1 + rng.below_u64((horizon * 2).max(1));
    let seller = if rng.below_u64(c.hot_seller_ratio) > 0 {
        (cfg.last_person(id) / HOT_RATIO) * HOT_RATIO
    } else {
        next_person(cfg, id, rng)
    };
    let category = c.first_category_id + rng.below_u64(c.num_categories);
    Auction {
        id: cfg.last_auction(id) + c.first_auction_id,
        initial_bid,
        reserve,
        date_time: time,
        expires,
        seller: seller + c.first_person_id,
        category,
    }
}

#[inline]
fn bid(cfg: &Derived, id: u64, time: u64) -> Bid {
    let c = &cfg.config;
    let rng = &mut SmallRng::seed_from_u64(id);
    let auction = if rng.below_u64(c.hot_auction_ratio) > 0 {
        (cfg.last_auction(id) / HOT_RATIO) * HOT_RATIO
    } else {
        next_auction(cfg, id, rng)
    };
    let bidder = if rng.below_u64(c.hot_bidder_ratio) > 0 {
        (cfg.last_person(id) / HOT_RATIO) * HOT_RATIO + 1
    } else {
        next_person(cfg, id, rng)
    };
    let price = rng.price();
    let channel = if rng.below_u64(c.hot_channel_ratio) > 0 {
        Channel::Hot(rng.below_u64(HOT_CHANNELS.len() as u64) as u8)
    } else {
        Channel::Other(rng.below_u32(CHANNELS) as u16)
    };
    Bid {
        auction: auction + c.first_auction_id,
        bidder: bidder + c.first_person_id,
        price,
        date_time: time,
        channel,
    }
}
