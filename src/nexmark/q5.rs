//! NEXMark query 5: hot items.
//!
//! Reference (Flink SQL `q5.sql`): per sliding window of 10 s every 2 s (`HOP(bid, dateTime, 2 s,
//! 10 s)`), count the bids of each auction, and keep the auctions whose count is the window's highest
//! (`AuctionBids.num >= MaxBids.maxn`: every auction tied for the most bids). Beam's Query5 is the
//! same with a 1-hour window every minute.
//!
//! Two windowed stages: the sliding count per auction ([`Count`] on panes of 2 s), then, keyed by the
//! window's end, a tumbling window of 2 s that holds exactly the counts of that one sliding window
//! (each fires at its window's last instant, `end - 1`, which falls in `[end - 2 s, end)`) and keeps
//! the highest.

use caudal_operators::window::aggregate::{Aggregate, Count};
use caudal_operators::window::{TimeWindows, Window};
use caudal_operators::EventStream;
use serde::{Deserialize, Serialize};

use super::bids;
use crate::workload::nexmark::NexmarkEvent;

/// The window's size, in ms.
pub const SIZE_MS: i64 = 10_000;
/// How often a window starts, in ms.
pub const SLIDE_MS: i64 = 2_000;

/// An auction with the most bids of a window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct HotItem {
    /// The window.
    pub window: Window,
    /// The auction.
    pub auction: u64,
    /// Its bids in the window (the window's most).
    pub bids: u64,
}

/// Keeps the highest count and every auction that has it.
#[derive(Clone, Copy, Debug, Default)]
pub struct MostBids;

impl Aggregate<(u64, u64)> for MostBids {
    /// The highest count, and the auctions with it.
    type Acc = (u64, Vec<u64>);
    type Out = (u64, Vec<u64>);

    fn create(&self) -> Self::Acc {
        (0, Vec::new())
    }

    fn add(&self, acc: &mut Self::Acc, (auction, count): (u64, u64)) {
        if count > acc.0 {
            acc.0 = count;
            acc.1.clear();
        }
        if count == acc.0 {
            acc.1.push(auction);
        }
    }

    fn merge(&self, acc: &mut Self::Acc, other: &Self::Acc) {
        for &auction in &other.1 {
            self.add(acc, (auction, other.0));
        }
    }

    fn result(&self, acc: &Self::Acc) -> Self::Out {
        acc.clone()
    }
}

/// The auctions with the most bids in each 10 s window, every 2 s.
pub fn q5(events: EventStream<'_, NexmarkEvent>) -> EventStream<'_, HotItem> {
    let sliding = TimeWindows::sliding(SIZE_MS, SLIDE_MS, 0).expect("valid windows");
    let per_window = TimeWindows::tumbling(SLIDE_MS, 0).expect("valid windows");
    let (counts, _late) = bids(events)
        .map(|b| (b.auction, ()))
        .window(sliding, 0, Count);
    let (hottest, _late) = counts
        .map(|r| (r.window.end, (r.key, r.value)))
        .window(per_window, 0, MostBids);
    hottest.flat_map(|r| {
        let end = r.key;
        let (bids, auctions) = r.value;
        auctions.into_iter().map(move |auction| HotItem {
            window: Window::new(end - SIZE_MS, end),
            auction,
            bids,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_bids_keeps_every_auction_tied_for_the_most() {
        let agg = MostBids;
        let mut acc = agg.create();
        for (auction, count) in [(1, 3), (2, 5), (3, 5), (4, 1)] {
            agg.add(&mut acc, (auction, count));
        }
        assert_eq!(agg.result(&acc), (5, vec![2, 3]));
        let mut other = agg.create();
        agg.add(&mut other, (9, 7));
        agg.merge(&mut acc, &other);
        assert_eq!(agg.result(&acc), (7, vec![9]));
    }
}
