//! NEXMark query 6: average selling price per seller, over their last 10 closed auctions.
//!
//! Reference: Beam's Query6 and the Flink SQL `q6.sql` (which Flink itself cannot run: "the OVER
//! WINDOW operator doesn't support to consume retractions"): `AVG(Q.price) OVER (PARTITION BY Q.seller
//! ORDER BY Q.dateTime ROWS BETWEEN 10 PRECEDING AND CURRENT ROW)` over the winning bids. The Flink
//! text's window holds 11 rows (10 preceding and the current one); Beam's and the query's own words,
//! "their last 10 closed auctions", hold 10, which is followed. Winning bids are those of
//! [`super::winning`]; each closed auction of a seller emits the seller's new average (the sum divided
//! by the count, rounded down, as Beam's `long` average), folding auctions in order of close time, then
//! id ([`super::in_order`]).

use caudal_operators::EventStream;
use serde::{Deserialize, Serialize};

use super::in_order::{Fold, InOrder};
use super::winning::{winning_bids, WinningBid};
use crate::workload::nexmark::NexmarkEvent;

/// How many of a seller's last auctions the average covers.
pub const LAST_AUCTIONS: usize = 10;

/// A seller's average selling price, after one more of their auctions closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SellerPrice {
    /// The seller.
    pub seller: u64,
    /// The average winning price of their last (up to) 10 closed auctions, in cents (rounded down).
    pub average: u64,
    /// How many auctions the average covers (at most 10).
    pub auctions: u64,
}

/// A seller's last winning prices, in a ring.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct LastPrices {
    /// The prices (the first `len` are valid).
    pub prices: [u64; LAST_AUCTIONS],
    /// How many are valid.
    pub len: u8,
    /// Where the next one goes.
    pub next: u8,
}

/// The average of the last 10 per seller.
struct SellerAverage;

impl Fold for SellerAverage {
    type Acc = LastPrices;
    type Out = SellerPrice;

    fn fold(&self, seller: u64, acc: &mut LastPrices, bid: &WinningBid) -> SellerPrice {
        acc.prices[acc.next as usize] = bid.price;
        acc.next = ((acc.next as usize + 1) % LAST_AUCTIONS) as u8;
        acc.len = (acc.len + 1).min(LAST_AUCTIONS as u8);
        let len = acc.len as usize;
        let sum: u64 = acc.prices[..len].iter().sum();
        SellerPrice {
            seller,
            average: sum / len as u64,
            auctions: len as u64,
        }
    }
}

/// Each seller's average selling price over their last 10 auctions, updated as their auctions close.
pub fn q6(events: EventStream<'_, NexmarkEvent>) -> EventStream<'_, SellerPrice> {
    winning_bids(events)
        .map(|w| (w.auction.seller, w))
        .process_by_key("NexmarkQ6", InOrder(SellerAverage))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::nexmark::Auction;

    #[test]
    fn the_average_covers_the_last_ten_prices() {
        let mut acc = LastPrices::default();
        let averages: Vec<(u64, u64)> = (1..=12u64)
            .map(|price| {
                let bid = WinningBid {
                    auction: Auction::default(),
                    price,
                    bid_time: 0,
                };
                let r = SellerAverage.fold(7, &mut acc, &bid);
                (r.average, r.auctions)
            })
            .collect();
        // 1, then (1 + 2) / 2 = 1, ... (1 + ... + 10) / 10 = 5; then 2..=11 → 6; 3..=12 → 7.
        assert_eq!(averages[0], (1, 1));
        assert_eq!(averages[1], (1, 2));
        assert_eq!(averages[9], (5, 10));
        assert_eq!(averages[10], (6, 10));
        assert_eq!(averages[11], (7, 10));
    }
}
