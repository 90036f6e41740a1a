//! NEXMark query 3: local item suggestion, an incremental join.
//!
//! Reference (Flink SQL `q3.sql`): `SELECT P.name, P.city, P.state, A.id FROM auction AS A INNER JOIN
//! person AS P ON A.seller = P.id WHERE A.category = 10 AND (P.state = 'OR' OR P.state = 'ID' OR
//! P.state = 'CA')`: who sells in Oregon, Idaho or California in category 10, and which auctions. It is
//! an unbounded (regular) join: each matching person–auction pair is emitted once, whichever of the two
//! arrives first. (The Rust generator writes states in lower case: `or`, `id`, `ca`.)
//!
//! Built as a keyed process on the person id: the key's state holds the person once seen, and the
//! category-10 auctions that came before their seller. As Flink's join, it keeps both for as long as
//! the stream runs (Beam's Query3 frees people after a while with a timer; that is not followed).

use caudal_operators::process::{KeyContext, KeyedProcess};
use caudal_operators::window::join::Side;
use caudal_operators::EventStream;
use serde::{Deserialize, Serialize};

use crate::workload::nexmark::{Name, NexmarkEvent, Person};

/// The category the query selects.
pub const CATEGORY: u64 = 10;

/// Whether a person lives in one of the query's states.
pub fn in_states(person: &Person) -> bool {
    matches!(person.state_name(), "or" | "id" | "ca")
}

/// A seller in one of the states, and one of their category-10 auctions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LocalItem {
    /// The seller's name.
    pub name: Name,
    /// The seller's city (index into the generator's cities).
    pub city: u8,
    /// The seller's state (index into the generator's states).
    pub state: u8,
    /// The auction.
    pub auction: u64,
}

/// What the join keeps for one person id.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SellerState {
    /// The person, once seen.
    pub person: Option<Person>,
    /// Auctions seen before the person.
    pub waiting: Vec<u64>,
}

/// The join, as a keyed process on the person id.
struct LocalItems;

fn item(p: &Person, auction: u64) -> LocalItem {
    LocalItem {
        name: p.name,
        city: p.city,
        state: p.state,
        auction,
    }
}

impl KeyedProcess<u64, Side<Person, u64>> for LocalItems {
    type State = SellerState;
    type Out = (u64, LocalItem);

    fn on_record(
        &mut self,
        value: Side<Person, u64>,
        ctx: &mut KeyContext<'_, u64, SellerState, (u64, LocalItem)>,
    ) {
        let state = ctx.state().get_or_insert_with(SellerState::default);
        match value {
            Side::Left(person) => {
                state.person = Some(person);
                let waiting = std::mem::take(&mut state.waiting);
                for auction in waiting {
                    ctx.emit((person.id, item(&person, auction)));
                }
            }
            Side::Right(auction) => {
                let person = state.person;
                match person {
                    Some(person) => ctx.emit((person.id, item(&person, auction))),
                    None => state.waiting.push(auction),
                }
            }
        }
    }
}

/// The people in OR, ID or CA joined with their auctions in category 10.
pub fn q3(events: EventStream<'_, NexmarkEvent>) -> EventStream<'_, LocalItem> {
    by_seller(events).map(|(_, item)| item)
}

/// [`q3()`]'s results, each with the seller's person id (which the query's output leaves out).
pub fn by_seller(events: EventStream<'_, NexmarkEvent>) -> EventStream<'_, (u64, LocalItem)> {
    events
        .flat_map(|e| match e {
            NexmarkEvent::Person(p) if in_states(&p) => Some((p.id, Side::Left(p))),
            NexmarkEvent::Auction(a) if a.category == CATEGORY => {
                Some((a.seller, Side::Right(a.id)))
            }
            _ => None,
        })
        .process_by_key("NexmarkQ3", LocalItems)
}
