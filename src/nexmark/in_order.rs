//! Folding each key's closed auctions in event-time order, for queries 4 and 6.
//!
//! Their results are running aggregates (an average over every closed auction of a category, or over a
//! seller's last ten), so each result depends on the order in which auctions are folded in. Records
//! from several workers arrive in no fixed order, so the fold waits for the watermark: a closed auction
//! is held until the watermark reaches its close time, then folded with the others of that time in the
//! order `(close time, auction id)`. Every mode and every number of workers then gives the same results.

use std::collections::VecDeque;

use caudal_operators::process::{KeyContext, KeyedProcess, Timer};
use caudal_operators::EventTime;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::winning::WinningBid;

/// A running aggregate of a key's winning bids.
pub trait Fold: 'static {
    /// The aggregate's state.
    type Acc: Default + Serialize + DeserializeOwned + 'static;
    /// What it emits after each winning bid.
    type Out: 'static;
    /// Folds `bid` into `acc`, and says what the aggregate now is.
    fn fold(&self, key: u64, acc: &mut Self::Acc, bid: &WinningBid) -> Self::Out;
}

/// A key's aggregate, and the winning bids waiting for the watermark, with their close times.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Ordered<A> {
    /// The aggregate so far.
    pub acc: A,
    /// Winning bids not folded yet, in the order `(close time, auction id)`.
    pub pending: VecDeque<(EventTime, WinningBid)>,
}

/// A [`Fold`] as a keyed process that folds in event-time order.
pub struct InOrder<F>(pub F);

impl<F: Fold> KeyedProcess<u64, WinningBid> for InOrder<F> {
    type State = Ordered<F::Acc>;
    type Out = F::Out;

    fn on_record(&mut self, bid: WinningBid, ctx: &mut KeyContext<'_, u64, Self::State, F::Out>) {
        let time = ctx.time();
        let pending = &mut ctx.state().get_or_insert_with(Ordered::default).pending;
        // Kept sorted as it fills (closes come nearly in order, so this is nearly always the end),
        // so that a timer takes only what is due, however much waits behind it.
        let order = (time, bid.auction.id);
        let at = pending.partition_point(|(t, b)| (*t, b.auction.id) <= order);
        pending.insert(at, (time, bid));
        ctx.set_event_timer(time);
    }

    fn on_timer(&mut self, timer: Timer, ctx: &mut KeyContext<'_, u64, Self::State, F::Out>) {
        let Timer::EventTime(now) = timer else {
            return;
        };
        let key = *ctx.key();
        let Some(mut state) = ctx.state().take() else {
            return;
        };
        while let Some(&(time, bid)) = state.pending.front() {
            if time > now {
                break;
            }
            state.pending.pop_front();
            let out = self.0.fold(key, &mut state.acc, &bid);
            ctx.emit(out);
        }
        *ctx.state() = Some(state);
    }
}
