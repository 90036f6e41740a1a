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
//! the auctions tied for the most ([`Most`]).

use caudal_operators::window::aggregate::Count;
use caudal_operators::window::{TimeWindows, Window};
use caudal_operators::EventStream;
use serde::{Deserialize, Serialize};

use super::bids;
use super::most::Most;
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

/// The auctions with the most bids in each 10 s window, every 2 s.
pub fn q5(events: EventStream<'_, NexmarkEvent>) -> EventStream<'_, HotItem> {
    let sliding = TimeWindows::sliding(SIZE_MS, SLIDE_MS, 0).expect("valid windows");
    let per_window = TimeWindows::tumbling(SLIDE_MS, 0).expect("valid windows");
    let (counts, _late) = bids(events)
        .map(|b| (b.auction, ()))
        .window(sliding, 0, Count);
    let (hottest, _late) = counts.map(|r| (r.window.end, (r.key, r.value))).window(
        per_window,
        0,
        Most(|&(_, bids): &(u64, u64)| bids),
    );
    hottest.flat_map(|r| {
        let end = r.key;
        r.value.into_iter().map(move |(auction, bids)| HotItem {
            window: Window::new(end - SIZE_MS, end),
            auction,
            bids,
        })
    })
}
