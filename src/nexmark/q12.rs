//! NEXMark query 12: processing-time windows.
//!
//! Reference (Flink SQL `q12.sql`, "not in original suite"): `SELECT B.bidder, count(*) AS bid_count,
//! TUMBLE_START(B.p_time, INTERVAL '10' SECOND), TUMBLE_END(...) FROM (SELECT *, PROCTIME() AS p_time
//! FROM bid) B GROUP BY B.bidder, TUMBLE(B.p_time, INTERVAL '10' SECOND)`: how many bids each bidder
//! makes in each 10 s of processing time. Windows are of the processing clock when a bid reaches the
//! operator, so which window a bid falls in depends on the run; every bid is counted in exactly one.

use caudal_operators::window::aggregate::Count;
use caudal_operators::window::{TimeWindows, Window};
use caudal_operators::EventStream;
use serde::{Deserialize, Serialize};

use super::bids;
use crate::workload::nexmark::NexmarkEvent;

/// The window's size, in ms of processing time.
pub const SIZE_MS: i64 = 10_000;

/// A bidder's bids in one window of processing time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BidderCount {
    /// The bidder.
    pub bidder: u64,
    /// Their bids in the window.
    pub bids: u64,
    /// The window, in processing time (ms since the Unix epoch).
    pub window: Window,
}

/// Each bidder's bids per 10 s of processing time.
pub fn q12(events: EventStream<'_, NexmarkEvent>) -> EventStream<'_, BidderCount> {
    let tumbling = TimeWindows::tumbling(SIZE_MS, 0).expect("valid windows");
    bids(events)
        .map(|b| (b.bidder, ()))
        .processing_time_window(tumbling, Count)
        .map(|r| BidderCount {
            bidder: r.key,
            bids: r.value,
            window: r.window,
        })
}
