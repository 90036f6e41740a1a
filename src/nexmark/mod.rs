//! The NEXMark queries as Caudal pipelines, over the stream of [`crate::workload::nexmark`].
//!
//! Each query is a function from the stream of [`NexmarkEvent`]s to its results, built from Caudal's
//! operators only, so it runs unchanged per record, in micro-batches and as a batch. Each file's
//! documentation gives the query's semantics and the reference text it follows: the Flink SQL texts of
//! the `nexmark/nexmark` repository (`nexmark-flink/src/main/resources/queries/qN.sql`), which restate
//! the Beam suite's queries with shorter windows, and where they disagree, which one is followed.
//!
//! | query | what | operators |
//! |---|---|---|
//! | [`q0()`] | pass-through of the bids | `flat_map` |
//! | [`q1()`] | bids with prices converted to euros (× 0.908) | `flat_map` |
//! | [`q2()`] | bids on every 123rd auction | `flat_map` |
//! | [`q3()`] | sellers in OR, ID or CA of auctions in category 10 | incremental keyed join |
//! | [`q4()`] | average winning price per category | auction closing + ordered running average |
//! | [`q5()`] | auctions with the most bids, 10 s windows every 2 s | sliding count, then max per window |
//! | [`q6()`] | average winning price of each seller's last 10 auctions | auction closing + ordered last-10 |
//! | [`q7()`] | highest bids of each 10 s window | tumbling max per auction, then per window |
//! | [`q8()`] | people who opened an auction in the 10 s window they joined | tumbling windowed join |
//! | [`q11()`] | bids per bidder session, gap 10 s | session window count |
//! | [`q12()`] | bids per bidder per 10 s of processing time | processing-time window count |
//!
//! Time is the events' own (`date_time`, the generator's timestamps), as the sources stamp them.

pub mod flink;
pub mod in_order;
pub mod most;
pub mod q0;
pub mod q1;
pub mod q11;
pub mod q12;
pub mod q2;
pub mod q3;
pub mod q4;
pub mod q5;
pub mod q6;
pub mod q7;
pub mod q8;
pub mod winning;

use std::fmt;
use std::str::FromStr;

use caudal_operators::EventStream;
use serde::{Deserialize, Serialize};

pub use crate::workload::nexmark::{Auction, Bid, NexmarkEvent, Person};
pub use q0::q0;
pub use q1::{q1, EuroBid};
pub use q11::{q11, BidderSession};
pub use q12::{q12, BidderCount};
pub use q2::{q2, AuctionPrice};
pub use q3::{q3, LocalItem};
pub use q4::{q4, CategoryPrice};
pub use q5::{q5, HotItem};
pub use q6::{q6, SellerPrice};
pub use q7::{q7, HighestBid};
pub use q8::{q8, NewSeller};
pub use winning::{winning_bids, WinningBid};

/// One of the NEXMark queries Caudal runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Query {
    /// [`q0()`]
    Q0,
    /// [`q1()`]
    Q1,
    /// [`q2()`]
    Q2,
    /// [`q3()`]
    Q3,
    /// [`q4()`]
    Q4,
    /// [`q5()`]
    Q5,
    /// [`q6()`]
    Q6,
    /// [`q7()`]
    Q7,
    /// [`q8()`]
    Q8,
    /// [`q11()`]
    Q11,
    /// [`q12()`]
    Q12,
}

impl Query {
    /// Every query, in order.
    pub const ALL: [Query; 11] = [
        Query::Q0,
        Query::Q1,
        Query::Q2,
        Query::Q3,
        Query::Q4,
        Query::Q5,
        Query::Q6,
        Query::Q7,
        Query::Q8,
        Query::Q11,
        Query::Q12,
    ];

    /// Whether the query keeps state between events (all but the per-bid q0, q1 and q2).
    pub fn keeps_state(self) -> bool {
        !matches!(self, Query::Q0 | Query::Q1 | Query::Q2)
    }

    /// The query's name: `q0` to `q12`.
    pub fn name(self) -> &'static str {
        match self {
            Query::Q0 => "q0",
            Query::Q1 => "q1",
            Query::Q2 => "q2",
            Query::Q3 => "q3",
            Query::Q4 => "q4",
            Query::Q5 => "q5",
            Query::Q6 => "q6",
            Query::Q7 => "q7",
            Query::Q8 => "q8",
            Query::Q11 => "q11",
            Query::Q12 => "q12",
        }
    }

    /// What the query computes, in a line (the table above).
    pub fn what(self) -> &'static str {
        match self {
            Query::Q0 => "pass-through of the bids",
            Query::Q1 => "bids with prices converted to euros (× 0.908)",
            Query::Q2 => "bids on every 123rd auction",
            Query::Q3 => "sellers in OR, ID or CA of auctions in category 10 (incremental join)",
            Query::Q4 => "average winning price per category",
            Query::Q5 => "auctions with the most bids, 10 s windows every 2 s",
            Query::Q6 => "average winning price of each seller's last 10 auctions",
            Query::Q7 => "highest bids of each 10 s window",
            Query::Q8 => "people who opened an auction in the 10 s window they joined",
            Query::Q11 => "bids per bidder session, gap 10 s",
            Query::Q12 => "bids per bidder per 10 s of processing time",
        }
    }

    /// Builds the query on `events`; its results, each as an [`Output`].
    pub fn build<'s>(self, events: EventStream<'s, NexmarkEvent>) -> EventStream<'s, Output> {
        match self {
            // The stateless queries are one operator each, their own function and the wrap into
            // `Output` fused: an operator more is a copy of every result into another container.
            Query::Q0 => stateless(events, NexmarkEvent::bid, Output::Q0),
            Query::Q1 => stateless(events, q1::euro_bid, Output::Q1),
            Query::Q2 => stateless(events, q2::select, Output::Q2),
            Query::Q3 => q3(events).map(Output::Q3),
            Query::Q4 => q4(events).map(Output::Q4),
            Query::Q5 => q5(events).map(Output::Q5),
            Query::Q6 => q6(events).map(Output::Q6),
            Query::Q7 => q7(events).map(Output::Q7),
            Query::Q8 => q8(events).map(Output::Q8),
            Query::Q11 => q11(events).map(Output::Q11),
            Query::Q12 => q12(events).map(Output::Q12),
        }
    }
}

/// A query that maps each event to at most one result, as one operator: `select`, then `wrap`.
fn stateless<'s, T>(
    events: EventStream<'s, NexmarkEvent>,
    select: impl Fn(NexmarkEvent) -> Option<T> + 'static,
    wrap: impl Fn(T) -> Output + 'static,
) -> EventStream<'s, Output> {
    events.flat_map(move |e| select(e).map(&wrap))
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Query {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Query::ALL
            .into_iter()
            .find(|q| q.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                let names: Vec<&str> = Query::ALL.iter().map(|q| q.name()).collect();
                format!(
                    "no NEXMark query `{s}`: the queries are {}",
                    names.join(", ")
                )
            })
    }
}

/// A result of any query, for code that runs a query chosen at run time.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Output {
    /// A result of [`q0()`].
    Q0(Bid),
    /// A result of [`q1()`].
    Q1(EuroBid),
    /// A result of [`q2()`].
    Q2(AuctionPrice),
    /// A result of [`q3()`].
    Q3(LocalItem),
    /// A result of [`q4()`].
    Q4(CategoryPrice),
    /// A result of [`q5()`].
    Q5(HotItem),
    /// A result of [`q6()`].
    Q6(SellerPrice),
    /// A result of [`q7()`].
    Q7(HighestBid),
    /// A result of [`q8()`].
    Q8(NewSeller),
    /// A result of [`q11()`].
    Q11(BidderSession),
    /// A result of [`q12()`].
    Q12(BidderCount),
}

/// A result as one line of JSON, the query's own fields (`caudal run nexmark:q5` prints it so).
impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let json = match self {
            Output::Q0(r) => serde_json::to_string(r),
            Output::Q1(r) => serde_json::to_string(r),
            Output::Q2(r) => serde_json::to_string(r),
            Output::Q3(r) => serde_json::to_string(r),
            Output::Q4(r) => serde_json::to_string(r),
            Output::Q5(r) => serde_json::to_string(r),
            Output::Q6(r) => serde_json::to_string(r),
            Output::Q7(r) => serde_json::to_string(r),
            Output::Q8(r) => serde_json::to_string(r),
            Output::Q11(r) => serde_json::to_string(r),
            Output::Q12(r) => serde_json::to_string(r),
        };
        f.write_str(&json.map_err(|_| fmt::Error)?)
    }
}

/// The bids of a NEXMark stream: the input of most queries.
pub fn bids(events: EventStream<'_, NexmarkEvent>) -> EventStream<'_, Bid> {
    events.flat_map(NexmarkEvent::bid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_read_back_from_their_names() {
        for q in Query::ALL {
            assert_eq!(q.name().parse::<Query>(), Ok(q));
        }
        assert_eq!("Q5".parse::<Query>(), Ok(Query::Q5));
        assert!("q9".parse::<Query>().unwrap_err().contains("q12"));
    }
}
