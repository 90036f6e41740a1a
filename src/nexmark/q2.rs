//! NEXMark query 2: selection.
//!
//! Reference (Flink SQL `q2.sql`): `SELECT auction, price FROM bid WHERE MOD(auction, 123) = 0`. The
//! original query selects a handful of fixed auction ids; the Flink and Beam texts take every 123rd
//! auction instead, so that results keep coming on a stream of any size.

use caudal_operators::EventStream;
use serde::{Deserialize, Serialize};

use crate::workload::nexmark::NexmarkEvent;

/// The modulus of the selection: bids on auctions whose id it divides.
pub const AUCTION_MODULUS: u64 = 123;

/// An auction id and a price bid on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AuctionPrice {
    /// The auction.
    pub auction: u64,
    /// The price bid, in cents.
    pub price: u64,
}

/// The bids on auctions whose id is a multiple of 123.
pub fn q2(events: EventStream<'_, NexmarkEvent>) -> EventStream<'_, AuctionPrice> {
    events.flat_map(select)
}

/// The query's work on each event: a bid on a selected auction, as its auction and price.
#[inline]
pub fn select(e: NexmarkEvent) -> Option<AuctionPrice> {
    match e {
        NexmarkEvent::Bid(b) if b.auction % AUCTION_MODULUS == 0 => Some(AuctionPrice {
            auction: b.auction,
            price: b.price,
        }),
        _ => None,
    }
}
