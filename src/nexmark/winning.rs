//! Winning bids: each auction's highest bid, once the auction has closed. The core of queries 4 and 6.
//!
//! Reference: the inner query of Flink SQL `q4.sql` and `q6.sql`: `SELECT MAX(B.price) ... FROM
//! auction A, bid B WHERE A.id = B.auction AND B.dateTime BETWEEN A.dateTime AND A.expires GROUP BY
//! A.id`, that is, a bid counts if it is made between the auction's opening and its expiry, both
//! included; the winning bid is the highest. An auction without such a bid has no winner and gives
//! nothing (an inner join). Flink SQL updates each maximum as bids come; here, as in Beam's
//! `WinningBids`, an auction gives its winner once, when it *closes*: when the watermark reaches its
//! expiry, so every bid it can count has been seen. (Beam also requires `price >= reserve`; the Flink
//! text, which the lab's Flink peer runs, does not, and is followed.) Ties go to the earlier bid.
//!
//! A keyed process on the auction id: its state holds the auction and its best bid so far, and an
//! event-time timer at `expires` closes it. A bid can come before its auction (bids may name the next
//! few auctions, and two workers interleave): it waits in the key's state until the auction comes, and
//! is dropped once the watermark passes its time, since an auction that comes after that opened after
//! the bid.

use caudal_operators::process::{KeyContext, KeyedProcess, Timer};
use caudal_operators::window::join::Side;
use caudal_operators::{EventStream, EventTime};
use serde::{Deserialize, Serialize};

use crate::workload::nexmark::{Auction, NexmarkEvent};

/// A closed auction and its winning bid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct WinningBid {
    /// The auction.
    pub auction: Auction,
    /// The winning price, in cents.
    pub price: u64,
    /// When the winning bid was made, in ms.
    pub bid_time: u64,
}

/// A bid's time and price.
type BidAt = (u64, u64);

/// What is kept for one auction id.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AuctionState {
    /// The auction, once seen.
    pub auction: Option<Auction>,
    /// The best bid that counts, as `(time, price)`.
    pub best: Option<BidAt>,
    /// Bids seen before the auction, as `(time, price)`.
    pub early: Vec<BidAt>,
}

impl AuctionState {
    /// Takes bid `(time, price)` into account for `auction`.
    #[inline]
    fn offer(&mut self, auction: &Auction, (time, price): BidAt) {
        if time < auction.date_time || time > auction.expires {
            return;
        }
        let better = match self.best {
            None => true,
            Some((t, p)) => price > p || (price == p && time < t),
        };
        if better {
            self.best = Some((time, price));
        }
    }
}

/// Closes auctions and finds their winners.
struct Closing;

impl KeyedProcess<u64, Side<Auction, BidAt>> for Closing {
    type State = AuctionState;
    type Out = WinningBid;

    fn on_record(
        &mut self,
        value: Side<Auction, BidAt>,
        ctx: &mut KeyContext<'_, u64, AuctionState, WinningBid>,
    ) {
        let state = ctx.state().get_or_insert_with(AuctionState::default);
        let timer = match value {
            Side::Left(auction) => {
                state.auction = Some(auction);
                let early = std::mem::take(&mut state.early);
                for bid in early {
                    state.offer(&auction, bid);
                }
                auction.expires
            }
            Side::Right(bid) => match state.auction {
                Some(auction) => {
                    state.offer(&auction, bid);
                    return;
                }
                None => {
                    // One timer, at the earliest early bid, drops them: a later one would fire
                    // with the auction still missing only after it, and it sets the next.
                    let earliest = state.early.iter().all(|(t, _)| bid.0 < *t);
                    state.early.push(bid);
                    if !earliest {
                        return;
                    }
                    bid.0
                }
            },
        };
        ctx.set_event_timer(timer as EventTime);
    }

    fn on_timer(&mut self, timer: Timer, ctx: &mut KeyContext<'_, u64, AuctionState, WinningBid>) {
        let Timer::EventTime(now) = timer else {
            return;
        };
        let now = now as u64;
        let Some(mut state) = ctx.state().take() else {
            return;
        };
        let auction = state.auction;
        match auction {
            Some(auction) if now >= auction.expires => {
                // Closed: the state goes, and the winner (if any) comes out.
                if let Some((bid_time, price)) = state.best {
                    ctx.emit(WinningBid {
                        auction,
                        price,
                        bid_time,
                    });
                }
            }
            Some(_) => *ctx.state() = Some(state),
            None => {
                // Bids before any auction: those the watermark has passed can no longer count; a
                // timer at the earliest of the others drops them in turn.
                state.early.retain(|(time, _)| *time > now);
                if let Some(next) = state.early.iter().map(|(time, _)| *time).min() {
                    *ctx.state() = Some(state);
                    ctx.set_event_timer(next as EventTime);
                }
            }
        }
    }
}

/// The winning bid of every auction, each when the auction closes (at its `expires`).
pub fn winning_bids(events: EventStream<'_, NexmarkEvent>) -> EventStream<'_, WinningBid> {
    events
        .flat_map(|e| match e {
            NexmarkEvent::Auction(a) => Some((a.id, Side::Left(a))),
            NexmarkEvent::Bid(b) => Some((b.auction, Side::Right((b.date_time, b.price)))),
            NexmarkEvent::Person(_) => None,
        })
        .process_by_key("WinningBids", Closing)
}
