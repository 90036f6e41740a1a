//! NEXMark query 7: highest bid.
//!
//! Reference (Flink SQL `q7.sql`; Beam's Query7 with a 10 s window instead of a minute): per tumbling
//! window of 10 s, the highest price bid, and the bids with that price (`JOIN ... ON B.price =
//! B1.maxprice`: every bid tied for the highest). The Flink text matches a bid to a window when
//! `B.dateTime BETWEEN window_end - 10 s AND window_end`, both ends included, so a bid at exactly a
//! window's end can also match the previous window's maximum; here each bid is in its one window
//! `[start, end)`, as in Beam's.
//!
//! Two tumbling stages, so that no single worker sees every bid: the highest bids per auction and
//! window, then, keyed by the window, the highest of those.

use caudal_operators::window::{TimeWindows, Window};
use caudal_operators::EventStream;
use serde::{Deserialize, Serialize};

use super::bids;
use super::most::Most;
use crate::workload::nexmark::{Bid, NexmarkEvent};

/// The window's size, in ms.
pub const SIZE_MS: i64 = 10_000;

/// A bid with the highest price of its window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct HighestBid {
    /// The window.
    pub window: Window,
    /// The bid.
    pub bid: Bid,
}

/// The highest bids of each 10 s window.
pub fn q7(events: EventStream<'_, NexmarkEvent>) -> EventStream<'_, HighestBid> {
    let tumbling = TimeWindows::tumbling(SIZE_MS, 0).expect("valid windows");
    let (per_auction, _late) =
        bids(events)
            .map(|b| (b.auction, b))
            .window(tumbling, 0, Most(|b: &Bid| b.price));
    let (per_window, _late) = per_auction
        .flat_map(|r| {
            let end = r.window.end;
            r.value.into_iter().map(move |bid| (end, bid))
        })
        .window(tumbling, 0, Most(|b: &Bid| b.price));
    per_window.flat_map(|r| {
        let window = r.window;
        r.value
            .into_iter()
            .map(move |bid| HighestBid { window, bid })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::nexmark::Channel;
    use caudal_operators::window::aggregate::Aggregate;

    fn bid(auction: u64, price: u64) -> Bid {
        Bid {
            auction,
            bidder: 1,
            price,
            date_time: 0,
            channel: Channel::Hot(0),
        }
    }

    #[test]
    fn most_by_price_keeps_the_ties_of_the_highest_price() {
        let agg = Most(|b: &Bid| b.price);
        let mut acc = agg.create();
        for b in [bid(1, 10), bid(2, 30), bid(3, 20), bid(4, 30)] {
            agg.add(&mut acc, b);
        }
        assert_eq!(agg.result(&acc), vec![bid(2, 30), bid(4, 30)]);
        agg.merge(&mut acc, &vec![bid(5, 40)]);
        assert_eq!(agg.result(&acc), vec![bid(5, 40)]);
    }
}
