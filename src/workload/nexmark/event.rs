//! NEXMark's events as small `Copy` structs: people, auctions and bids, with the numbers the queries
//! read and the few strings they read (a person's name, city and state; a bid's channel) as indices
//! into the reference generator's fixed tables.
//!
//! The reference events (`nexmark::event` in the `nexmark` crate) carry `String`s (names, emails,
//! credit cards, descriptions, urls, padding); these keep none, so that an event costs no allocation
//! and at most 64 bytes.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// The reference's first names.
pub const FIRST_NAMES: [&str; 11] = [
    "peter", "paul", "luke", "john", "saul", "vicky", "kate", "julie", "sarah", "deiter", "walter",
];
/// The reference's last names.
pub const LAST_NAMES: [&str; 9] = [
    "shultz", "abrams", "spencer", "white", "bartels", "walton", "smith", "jones", "noris",
];
/// The reference's US cities.
pub const CITIES: [&str; 10] = [
    "phoenix",
    "los angeles",
    "san francisco",
    "boise",
    "portland",
    "bend",
    "redmond",
    "seattle",
    "kent",
    "cheyenne",
];
/// The reference's US states (lower case, as the `nexmark` crate has them).
pub const STATES: [&str; 6] = ["az", "ca", "id", "or", "wa", "wy"];
/// The reference's hot channels.
pub const HOT_CHANNELS: [&str; 4] = ["Google", "Facebook", "Baidu", "Apple"];
/// How many channels the reference's channel table holds (`channel-0` to `channel-9999`).
pub const CHANNELS: u32 = 10_000;

/// A person's name: indices into [`FIRST_NAMES`] and [`LAST_NAMES`].
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Name {
    /// Index into [`FIRST_NAMES`].
    pub first: u8,
    /// Index into [`LAST_NAMES`].
    pub last: u8,
}

impl Name {
    /// The name as the reference writes it: `first last`.
    pub fn full(&self) -> String {
        format!(
            "{} {}",
            FIRST_NAMES[self.first as usize], LAST_NAMES[self.last as usize]
        )
    }
}

/// A new person (the reference's `Person`, without email, credit card and padding).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Person {
    /// The person's id.
    pub id: u64,
    /// The person's name.
    pub name: Name,
    /// Index into [`CITIES`].
    pub city: u8,
    /// Index into [`STATES`].
    pub state: u8,
    /// When the person joined, in ms since the Unix epoch.
    pub date_time: u64,
}

impl Person {
    /// The person's city.
    pub fn city_name(&self) -> &'static str {
        CITIES[self.city as usize]
    }

    /// The person's state, lower case.
    pub fn state_name(&self) -> &'static str {
        STATES[self.state as usize]
    }
}

/// A new auction (the reference's `Auction`, without item name, description and padding).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Auction {
    /// The auction's id.
    pub id: u64,
    /// The opening price, in cents.
    pub initial_bid: u64,
    /// The reserve price, in cents.
    pub reserve: u64,
    /// When the auction opened, in ms since the Unix epoch.
    pub date_time: u64,
    /// When it closes, in ms since the Unix epoch.
    pub expires: u64,
    /// The seller's person id.
    pub seller: u64,
    /// The auction's category.
    pub category: u64,
}

/// Where a bid came from: one of the hot channels or one of the channel table's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Channel {
    /// Index into [`HOT_CHANNELS`].
    Hot(u8),
    /// `channel-N`, N below [`CHANNELS`].
    Other(u16),
}

impl Channel {
    /// The channel's name, as the reference writes it.
    pub fn name(&self) -> Cow<'static, str> {
        match *self {
            Channel::Hot(i) => Cow::Borrowed(HOT_CHANNELS[i as usize]),
            Channel::Other(i) => Cow::Owned(format!("channel-{i}")),
        }
    }
}

/// A bid (the reference's `Bid`, with its channel as an index, and no url or padding).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Bid {
    /// The auction bid on.
    pub auction: u64,
    /// The bidder's person id.
    pub bidder: u64,
    /// The price, in cents.
    pub price: u64,
    /// When the bid was made, in ms since the Unix epoch.
    pub date_time: u64,
    /// Where it came from.
    pub channel: Channel,
}

/// One NEXMark event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum NexmarkEvent {
    /// A new person.
    Person(Person),
    /// A new auction.
    Auction(Auction),
    /// A bid.
    Bid(Bid),
}

impl NexmarkEvent {
    /// The event's time, in ms since the Unix epoch.
    #[inline]
    pub fn date_time(&self) -> u64 {
        match self {
            NexmarkEvent::Person(p) => p.date_time,
            NexmarkEvent::Auction(a) => a.date_time,
            NexmarkEvent::Bid(b) => b.date_time,
        }
    }

    /// The bid, if it is one.
    #[inline]
    pub fn bid(self) -> Option<Bid> {
        match self {
            NexmarkEvent::Bid(b) => Some(b),
            _ => None,
        }
    }

    /// The auction, if it is one.
    #[inline]
    pub fn auction(self) -> Option<Auction> {
        match self {
            NexmarkEvent::Auction(a) => Some(a),
            _ => None,
        }
    }

    /// The person, if it is one.
    #[inline]
    pub fn person(self) -> Option<Person> {
        match self {
            NexmarkEvent::Person(p) => Some(p),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_small() {
        assert!(std::mem::size_of::<NexmarkEvent>() <= 64);
    }

    #[test]
    fn names_read_as_the_reference_writes_them() {
        assert_eq!(Name { first: 5, last: 8 }.full(), "vicky noris");
        assert_eq!(Channel::Hot(2).name(), "Baidu");
        assert_eq!(Channel::Other(42).name(), "channel-42");
    }
}
