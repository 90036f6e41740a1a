//! The keyed-operator shell: one home for what every keyed operator needs, so that each operator is
//! only its own logic.
//!
//! An operator implements [`KeyedOperator`]: what to do with a record, and what to do when one of its
//! timers fires. The shell ([`EventStream::keyed_operator`]) does the rest, the same way for all:
//!
//! * **exchange by key**: records are routed by a hash of their key, so one worker owns each key;
//! * **state**: a [`KeyedState`], one value of the operator's state type per key, owned by the shell,
//!   handed to the operator on every call, and registered with the worker's [`StateRegistry`], which
//!   snapshots it (with the timers, versioned) for checkpoints and restores it at start;
//! * **timers**: one [`Timer`] type, in milliseconds of event time (signed) or of the processing
//!   clock, at most one per key and time; event-time timers fire when the frontier passes them,
//!   processing-time timers through an activation when the clock reaches them, and every timer fires
//!   at the end of the input;
//! * **capabilities**: the shell holds one capability at the earliest output a pending timer can make,
//!   and moves it up as timers fire, so downstream frontiers advance as soon as nothing can come before
//!   them;
//! * **late data**: a second output for records that came too late ([`LateRecord`]), beside the results;
//! * **the watermark before the records**: a message's time is its sender's watermark plus one, and
//!   a record behind it (late by that watermark) is handled after the timers due before that time,
//!   as Flink takes a watermark in before the records that follow it. Such a message waits until the
//!   frontier reaches its time (another sender may be further behind, and the timers not yet due);
//!   on-time records never wait, since no timer before their message's time touches them;
//! * **a work budget** ([`crate::budget::WorkBudget`]): at most so many timers fire per activation. The
//!   rest wait for the next activation, which the shell asks for at once, with the frontier held, so a
//!   burst of firings no longer stalls every other operator of the worker. Records that arrive while a
//!   firing pass is under way wait until it is done, so results, and their times, are exactly those of
//!   an unbounded pass; an activation that holds records back may do that much more work (what they
//!   would have cost on arrival), so that a backlog shrinks however much input each activation brings.
//!
//! Results of a record leave with the record's message; results of a timer at event time `t` leave at
//! `t` itself, in one container per time and activation: the shell holds its capability at `t` while
//! the timer is pending. So a frontier downstream that has passed `t` means that every timer up to `t`
//! has fired *and its results have been processed*, which is what a checkpoint's cut needs (see
//! `caudal::checkpoint`), and a result is never stamped behind the time it carries, so a window over
//! window results judges them as the first window's records were judged, whatever the timing.

mod context;
mod operator;
pub mod registry;
mod state;
mod timers;

use std::hash::Hash;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use timely::ExchangeData;

pub use context::{Context, Output, Timers};
pub use registry::{
    Footprint, OperatorId, OperatorSnapshot, Placement, RestoreError, StateRegistry, WorkerSnapshot,
};
pub use state::KeyedState;
pub use timers::Timer;

use crate::stream::EventStream;
use crate::time::EventTime;

/// A record that came too late for the operator that read it (for a window operator: after every window
/// it belongs to had been cleaned up).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LateRecord<K, V> {
    /// The record's key.
    pub key: K,
    /// The record's value.
    pub value: V,
    /// The record's event time (signed ms since the Unix epoch, negative before 1970).
    pub time: EventTime,
}

/// The logic of a keyed operator; the shell ([`EventStream::keyed_operator`]) runs it.
pub trait KeyedOperator<K, V>: 'static {
    /// The state kept per key; serializable, so that checkpoints can save it.
    type State: Serialize + DeserializeOwned + 'static;
    /// What the operator emits.
    type Out: 'static;
    /// The version of [`KeyedOperator::State`]'s serialized form: bump it when the type changes, and a
    /// snapshot of the old form is refused instead of misread.
    const STATE_VERSION: u32 = 1;
    /// Whether [`KeyedOperator::on_timer`] may send records to the late output; if so the shell holds the
    /// late output's frontier at pending timers too.
    const LATE_ON_TIMER: bool = false;
    /// Whether a timer set again while pending is ignored (Flink's promise: once per key and time),
    /// at the cost of a set of the pending timers. Operators that know what they have pending (window
    /// operators do) leave it off and take a repeated timer as a no-op themselves.
    const DISTINCT_TIMERS: bool = false;

    /// Handles one record of `key` with event time `time`.
    fn on_record(
        &mut self,
        key: K,
        value: V,
        time: EventTime,
        ctx: &mut Context<'_, K, V, Self::State, Self::Out>,
    );

    /// Handles a timer that `key` set and that has come due.
    fn on_timer(
        &mut self,
        key: K,
        timer: Timer,
        ctx: &mut Context<'_, K, V, Self::State, Self::Out>,
    ) {
        let _ = (key, timer, ctx);
    }
}

impl<'scope, K, V> EventStream<'scope, (K, V)>
where
    K: ExchangeData + Hash + Eq + Clone,
    V: ExchangeData,
{
    /// Runs the keyed operator `op` (see the module documentation): returns its results and the records
    /// it found too late.
    #[allow(clippy::type_complexity)]
    pub fn keyed_operator<Op: KeyedOperator<K, V>>(
        self,
        name: &str,
        op: Op,
    ) -> (
        EventStream<'scope, Op::Out>,
        EventStream<'scope, LateRecord<K, V>>,
    ) {
        operator::build(self, name, op)
    }
}
