//! NEXMark query 8: monitor new users.
//!
//! Reference (Flink SQL `q8.sql`; Beam's Query8 with 10 s windows instead of 12 hours): the people who
//! joined and opened an auction in the same tumbling window of 10 s: people grouped by `(id, name,
//! window)` joined with auctions grouped by `(seller, window)` on `P.id = A.seller` and the same window;
//! one row per such person and window, `(id, name, window start)`.
//!
//! One tumbling window keyed by the person id over both kinds of events, whose aggregate notes the
//! person's name and whether an auction by them came; a window with both gives the row.

use caudal_operators::window::aggregate::Aggregate;
use caudal_operators::window::join::Side;
use caudal_operators::window::TimeWindows;
use caudal_operators::EventStream;
use serde::{Deserialize, Serialize};

use crate::workload::nexmark::{Name, NexmarkEvent};

/// The window's size, in ms.
pub const SIZE_MS: i64 = 10_000;

/// A person who opened an auction in the window they joined in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NewSeller {
    /// The person.
    pub id: u64,
    /// Their name.
    pub name: Name,
    /// The window's start, in ms.
    pub window_start: i64,
}

/// Notes a window's person (by name) and whether they opened an auction.
#[derive(Clone, Copy, Debug, Default)]
pub struct JoinedAndSold;

impl Aggregate<Side<Name, ()>> for JoinedAndSold {
    type Acc = (Option<Name>, bool);
    type Out = Option<Name>;

    fn create(&self) -> Self::Acc {
        (None, false)
    }

    #[inline]
    fn add(&self, acc: &mut Self::Acc, value: Side<Name, ()>) {
        match value {
            Side::Left(name) => acc.0 = Some(name),
            Side::Right(()) => acc.1 = true,
        }
    }

    fn merge(&self, acc: &mut Self::Acc, other: &Self::Acc) {
        acc.0 = acc.0.or(other.0);
        acc.1 |= other.1;
    }

    fn result(&self, acc: &Self::Acc) -> Option<Name> {
        acc.0.filter(|_| acc.1)
    }
}

/// The people who joined and opened an auction in the same 10 s window.
pub fn q8(events: EventStream<'_, NexmarkEvent>) -> EventStream<'_, NewSeller> {
    let tumbling = TimeWindows::tumbling(SIZE_MS, 0).expect("valid windows");
    let (joined, _late) = events
        .flat_map(|e| match e {
            NexmarkEvent::Person(p) => Some((p.id, Side::Left(p.name))),
            NexmarkEvent::Auction(a) => Some((a.seller, Side::Right(()))),
            NexmarkEvent::Bid(_) => None,
        })
        .window(tumbling, 0, JoinedAndSold);
    joined.flat_map(|r| {
        let (id, start) = (r.key, r.window.start);
        r.value.map(|name| NewSeller {
            id,
            name,
            window_start: start,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_gives_the_name_only_with_an_auction() {
        let agg = JoinedAndSold;
        let name = Name { first: 1, last: 2 };
        let mut acc = agg.create();
        agg.add(&mut acc, Side::Left(name));
        assert_eq!(agg.result(&acc), None);
        agg.add(&mut acc, Side::Right(()));
        assert_eq!(agg.result(&acc), Some(name));
        let mut sold_only = agg.create();
        agg.add(&mut sold_only, Side::Right(()));
        assert_eq!(agg.result(&sold_only), None);
    }
}
