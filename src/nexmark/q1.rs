//! NEXMark query 1: currency conversion.
//!
//! Reference (Flink SQL `q1.sql`): `SELECT auction, bidder, 0.908 * price AS price, dateTime, extra
//! FROM bid`, the price a `DECIMAL(23, 3)`. (Beam's Query1 uses `price * 89 / 100`; the Flink text is
//! followed.) The euro price is kept exact as an integer count of thousandths: `price * 908` is
//! `0.908 * price` times 1,000.

use caudal_operators::EventStream;
use serde::{Deserialize, Serialize};

use crate::workload::nexmark::{Bid, NexmarkEvent};

/// A bid with its price in euros.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EuroBid {
    /// The auction bid on.
    pub auction: u64,
    /// The bidder.
    pub bidder: u64,
    /// The price in euro cents, times 1,000 (`0.908 × price` exactly, Flink's three decimals).
    pub price_thousandths: u64,
    /// When the bid was made, in ms.
    pub date_time: u64,
}

impl EuroBid {
    /// The price in euro cents.
    pub fn price(&self) -> f64 {
        self.price_thousandths as f64 / 1000.0
    }
}

/// Every bid, its price converted from dollars to euros at 0.908.
pub fn q1(events: EventStream<'_, NexmarkEvent>) -> EventStream<'_, EuroBid> {
    events.flat_map(euro_bid)
}

/// An event's result: a bid's price in euros; nothing for people and auctions.
#[inline]
pub fn euro_bid(e: NexmarkEvent) -> Option<EuroBid> {
    e.bid().map(to_euros)
}

/// One bid, its price converted (the query's work on each bid).
#[inline]
pub fn to_euros(b: Bid) -> EuroBid {
    EuroBid {
        auction: b.auction,
        bidder: b.bidder,
        price_thousandths: b.price * 908,
        date_time: b.date_time,
    }
}
