//! NEXMark query 4: average winning price per category.
//!
//! Reference (Flink SQL `q4.sql`): `SELECT Q.category, AVG(Q.final) FROM (SELECT MAX(B.price) AS final,
//! A.category FROM auction A, bid B WHERE A.id = B.auction AND B.dateTime BETWEEN A.dateTime AND
//! A.expires GROUP BY A.id, A.category) Q GROUP BY Q.category`: for each category, the average of the
//! winning prices of its auctions. Winning bids are those of [`super::winning`]: one per auction, when
//! it closes. Each closed auction updates its category's average, and the new average is emitted (as
//! Flink's grouped aggregate emits an update per change; here without the retraction of the previous
//! value: the latest result of a category supersedes the earlier ones). The average is `AVG` of
//! `BIGINT` in Flink, an integer: the sum divided by the count, rounded down. Auctions of a category
//! are folded in order of close time, then id ([`super::in_order`]).

use caudal_operators::EventStream;
use serde::{Deserialize, Serialize};

use super::in_order::{Fold, InOrder};
use super::winning::{winning_bids, WinningBid};
use crate::workload::nexmark::NexmarkEvent;

/// A category's average winning price, after one more of its auctions closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CategoryPrice {
    /// The category.
    pub category: u64,
    /// The average winning price of its closed auctions, in cents (rounded down).
    pub average: u64,
    /// How many of its auctions have closed with a winner.
    pub auctions: u64,
}

/// The running average per category: `(sum, count)`.
struct CategoryAverage;

impl Fold for CategoryAverage {
    type Acc = (u64, u64);
    type Out = CategoryPrice;

    fn fold(&self, category: u64, acc: &mut (u64, u64), bid: &WinningBid) -> CategoryPrice {
        acc.0 += bid.price;
        acc.1 += 1;
        CategoryPrice {
            category,
            average: acc.0 / acc.1,
            auctions: acc.1,
        }
    }
}

/// Each category's average winning price, updated as its auctions close.
pub fn q4(events: EventStream<'_, NexmarkEvent>) -> EventStream<'_, CategoryPrice> {
    winning_bids(events)
        .map(|w| (w.auction.category, w))
        .process_by_key("NexmarkQ4", InOrder(CategoryAverage))
}
