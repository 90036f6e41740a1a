//! NEXMark query 11: user sessions.
//!
//! Reference (Flink SQL `q11.sql`, "not in original suite"): `SELECT B.bidder, count(*) AS bid_count,
//! SESSION_START(B.dateTime, INTERVAL '10' SECOND), SESSION_END(...) FROM bid B GROUP BY B.bidder,
//! SESSION(B.dateTime, INTERVAL '10' SECOND)`: the bids of each bidder's sessions, a session ending
//! after 10 s without a bid. Caudal's session windows are Flink's (DESIGN §4): a session is `[first
//! bid, last bid + 10 s)`, and bids 10 s apart or less are in one session.

use caudal_operators::window::aggregate::Count;
use caudal_operators::EventStream;
use serde::{Deserialize, Serialize};

use super::bids;
use crate::workload::nexmark::NexmarkEvent;

/// The session gap, in ms.
pub const GAP_MS: u64 = 10_000;

/// One bidder's session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BidderSession {
    /// The bidder.
    pub bidder: u64,
    /// Their bids in the session.
    pub bids: u64,
    /// The session's start (its first bid), in ms.
    pub start: i64,
    /// The session's end (its last bid plus the gap), in ms.
    pub end: i64,
}

/// Each bidder's sessions and their numbers of bids.
pub fn q11(events: EventStream<'_, NexmarkEvent>) -> EventStream<'_, BidderSession> {
    let (sessions, _late) = bids(events)
        .map(|b| (b.bidder, ()))
        .session_window(GAP_MS, 0, Count);
    sessions.map(|r| BidderSession {
        bidder: r.key,
        bids: r.value,
        start: r.window.start,
        end: r.window.end,
    })
}
