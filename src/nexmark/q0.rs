//! NEXMark query 0: pass-through.
//!
//! Reference (Flink SQL `q0.sql`, "not in original suite"): `SELECT auction, bidder, price, dateTime,
//! extra FROM bid` — every bid, unchanged; it measures the cost of the source and the runtime. Here
//! the bids leave as the compact [`Bid`]s (no `extra` padding).

use caudal_operators::EventStream;

use super::bids;
use crate::workload::nexmark::{Bid, NexmarkEvent};

/// Every bid of the stream, at its own event time.
pub fn q0(events: EventStream<'_, NexmarkEvent>) -> EventStream<'_, Bid> {
    bids(events)
}
