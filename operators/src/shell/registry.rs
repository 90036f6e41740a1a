//! The worker's register of keyed-operator state, through which a checkpoint snapshots every keyed
//! operator of a worker and a restarted worker restores them (in the spirit of differential dataflow's
//! `TraceAgent`: a handle to state that lives inside an operator).
//!
//! Every operator built on the shell registers itself, under an [`OperatorId`] made of its name and its
//! place in the dataflow (stable from one run of a program to the next), with the [`StateRegistry`] of
//! the worker thread that builds it. Then:
//!
//! * [`StateRegistry::snapshot`] asks every live operator of the worker for its state: the per-key
//!   state and the pending timers, serialized with bincode inside a versioned envelope. The caller picks
//!   the moment: a snapshot describes a consistent cut at time `T` when it is taken after every
//!   operator's input frontier has reached `T` (a probe downstream has passed `T - 1`) and before any
//!   record at `T` or later has been fed in. Checkpoint coordinators pause their sources for that moment.
//! * [`StateRegistry::restore_from`] hands a snapshot to the worker before its dataflow is built: each
//!   operator takes its part as it is constructed and resumes with its state and timers.
//!   [`StateRegistry::restore_rescaled`] does the same with the snapshots of every worker of a run on
//!   another number of workers: each operator keeps, from all of them, the keys (state and timers)
//!   that the exchange now routes to this worker ([`Placement`]), as Flink redistributes key groups. A part that
//!   does not fit (another operator, another state version, damaged bytes) is not used: the operator
//!   starts empty and [`StateRegistry::restore_errors`] says which part and why, so that the runtime can
//!   refuse to run instead of computing from the wrong state.
//!
//! A timely worker is one thread, so the register is the thread's: [`StateRegistry::current`].

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::hash::Hash;
use std::rc::{Rc, Weak};

use serde::{Deserialize, Serialize};

use crate::hash::route;

/// The format of a snapshot's envelope. Bump it when the envelope changes. 2: event times are signed
/// (`i64`): the shell's timers, and the times in every operator's state, are negative before 1970.
pub const SNAPSHOT_FORMAT: u32 = 2;

/// Which keyed operator of a dataflow: its name, and how many keyed operators of that name the
/// dataflow had built before it. A rebuilt dataflow finds its operators again by it, on any number of
/// workers: unlike timely's operator addresses, it does not move when operators without state are
/// built or not (a probe that only several workers need, say).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct OperatorId {
    /// The operator's name, as given when it was built.
    pub name: String,
    /// How many keyed operators of the same name its dataflow had built before it.
    pub ordinal: usize,
}

impl fmt::Display for OperatorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} #{}", self.name, self.ordinal)
    }
}

/// One operator's state as a checkpoint stores it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorSnapshot {
    /// [`SNAPSHOT_FORMAT`] when it was written.
    pub format: u32,
    /// The version of the operator's state type ([`super::KeyedOperator::STATE_VERSION`]).
    pub state_version: u32,
    /// The Rust type of the operator, so that a snapshot is never read into another kind of operator.
    pub operator_type: String,
    /// The per-key state and the timers, serialized with bincode.
    pub bytes: Vec<u8>,
}

/// Every keyed operator's state on one worker.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerSnapshot {
    /// One entry per operator.
    pub operators: BTreeMap<OperatorId, OperatorSnapshot>,
}

/// Which keys a worker owns: those the keyed exchange sends it, `route(key) % peers == index`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The worker, over all processes.
    pub index: usize,
    /// Workers over all processes.
    pub peers: usize,
}

impl Placement {
    /// Whether `key`'s records (and so its state) come to this worker.
    #[inline]
    pub fn owns<K: Hash + ?Sized>(&self, key: &K) -> bool {
        route(key) % self.peers as u64 == self.index as u64
    }
}

/// An operator's share of a restore.
pub(crate) struct Restore {
    /// Its snapshots: this worker's own, or every worker's of a run on another number of workers.
    pub(crate) parts: Vec<OperatorSnapshot>,
    /// `Some` when the parts are every old worker's: keep only the keys this worker owns.
    pub(crate) placement: Option<Placement>,
}

/// Why an operator's part of a snapshot could not be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestoreError {
    /// The operator.
    pub operator: OperatorId,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for RestoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot restore {}: {}", self.operator, self.reason)
    }
}

impl std::error::Error for RestoreError {}

/// What the register needs of an operator's state.
pub(crate) trait Snapshotting {
    /// The operator's state in its envelope.
    fn snapshot(&self) -> OperatorSnapshot;
    /// What its per-key state holds now.
    fn footprint(&self) -> Footprint;
}

/// What a keyed operator's per-key state holds on one worker, at one moment
/// ([`StateRegistry::footprint`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Footprint {
    /// Keys with state.
    pub keys: u64,
    /// The per-key state serialized as a checkpoint stores it (bincode; keys included, timers not):
    /// what each key's state holds, its heap parts (vectors, queues) included.
    pub serialized_bytes: u64,
    /// The hash table's own allocation: its capacity times a slot (key and inline state) and a
    /// control byte; heap parts of the states are not in it.
    pub table_bytes: u64,
}

impl Footprint {
    /// Serialized bytes per key (0 without keys).
    pub fn serialized_per_key(&self) -> f64 {
        self.serialized_bytes as f64 / self.keys.max(1) as f64
    }

    /// Table bytes per key (0 without keys).
    pub fn table_per_key(&self) -> f64 {
        self.table_bytes as f64 / self.keys.max(1) as f64
    }
}

/// Held by an operator's logic beside its state: when the logic is dropped (its dataflow ended), the
/// state's last snapshot is left with the register, if it keeps them
/// ([`StateRegistry::keep_final_states`]).
pub(crate) struct Retiring {
    pub(crate) id: OperatorId,
    pub(crate) state: Rc<RefCell<dyn Snapshotting>>,
}

impl Drop for Retiring {
    fn drop(&mut self) {
        StateRegistry::retire(&self.id, &self.state);
    }
}

#[derive(Default)]
struct Register {
    live: Vec<(OperatorId, Weak<RefCell<dyn Snapshotting>>)>,
    /// Whether operators leave their last state behind when they are dropped.
    keep_retired: bool,
    /// The last state of operators that have been dropped (their dataflow ended), while
    /// `keep_retired`.
    retired: BTreeMap<OperatorId, OperatorSnapshot>,
    to_restore: BTreeMap<OperatorId, Vec<OperatorSnapshot>>,
    /// How many keyed operators of each name each dataflow (by index) has built.
    built: BTreeMap<(usize, String), usize>,
    /// Set when `to_restore` holds every worker's parts of a run on another number of workers.
    placement: Option<Placement>,
    errors: Vec<RestoreError>,
}

thread_local! {
    static CURRENT: StateRegistry = StateRegistry::default();
}

/// The register of keyed-operator state of the worker on this thread (a cheap handle to it).
#[derive(Clone, Default)]
pub struct StateRegistry {
    inner: Rc<RefCell<Register>>,
}

impl StateRegistry {
    /// The register of this thread's worker.
    pub fn current() -> StateRegistry {
        CURRENT.with(|r| r.clone())
    }

    /// Every live keyed operator's state, serialized (see the module documentation for when it forms a
    /// consistent cut).
    pub fn snapshot(&self) -> WorkerSnapshot {
        let mut register = self.inner.borrow_mut();
        register.live.retain(|(_, op)| op.strong_count() > 0);
        let mut operators: BTreeMap<OperatorId, OperatorSnapshot> = register.retired.clone();
        operators.extend(
            register
                .live
                .iter()
                .filter_map(|(id, op)| Some((id.clone(), op.upgrade()?.borrow().snapshot()))),
        );
        WorkerSnapshot { operators }
    }

    /// What every live keyed operator of this worker holds now (serializing each one's state: a
    /// measurement, not for a hot path).
    pub fn footprint(&self) -> Vec<(OperatorId, Footprint)> {
        let mut register = self.inner.borrow_mut();
        register.live.retain(|(_, op)| op.strong_count() > 0);
        register
            .live
            .iter()
            .filter_map(|(id, op)| Some((id.clone(), op.upgrade()?.borrow().footprint())))
            .collect()
    }

    /// Makes operators leave their last state behind when they are dropped (their dataflow ended),
    /// so that a [`StateRegistry::snapshot`] taken after the dataflow has ended still holds it: a run's
    /// final checkpoint needs it.
    pub fn keep_final_states(&self) {
        self.inner.borrow_mut().keep_retired = true;
    }

    /// An operator is being dropped with `state` (on its worker's thread): keeps it if asked to.
    pub(crate) fn retire(id: &OperatorId, state: &RefCell<dyn Snapshotting>) {
        // During the thread's own teardown the register may be gone already: nothing to keep then.
        let _ = CURRENT.try_with(|registry| {
            let Ok(mut register) = registry.inner.try_borrow_mut() else {
                return;
            };
            if register.keep_retired {
                let snapshot = state.borrow().snapshot();
                register.retired.insert(id.clone(), snapshot);
            }
        });
    }

    /// Makes operators built from now on on this worker start from their parts of `snapshot`.
    pub fn restore_from(&self, snapshot: WorkerSnapshot) {
        let mut register = self.inner.borrow_mut();
        register.to_restore = snapshot
            .operators
            .into_iter()
            .map(|(id, part)| (id, vec![part]))
            .collect();
        register.placement = None;
        register.errors.clear();
    }

    /// Makes operators built from now on on this worker start from the keys `placement` gives it in
    /// `snapshots`, the snapshots of every worker of a run on another number of workers.
    pub fn restore_rescaled(&self, snapshots: Vec<WorkerSnapshot>, placement: Placement) {
        let mut register = self.inner.borrow_mut();
        register.to_restore.clear();
        for snapshot in snapshots {
            for (id, part) in snapshot.operators {
                register.to_restore.entry(id).or_default().push(part);
            }
        }
        register.placement = Some(placement);
        register.errors.clear();
    }

    /// The parts of the snapshot given to [`StateRegistry::restore_from`] that no operator has taken
    /// (an operator of the snapshot that the new dataflow lacks).
    pub fn unclaimed(&self) -> Vec<OperatorId> {
        self.inner.borrow().to_restore.keys().cloned().collect()
    }

    /// What did not fit in the last restore, in words: the parts operators could not use, and the
    /// parts no operator took. Empty if everything fitted.
    pub fn restore_problems(&self) -> Vec<String> {
        let mut problems: Vec<String> = self
            .restore_errors()
            .iter()
            .map(|e| e.to_string())
            .collect();
        problems.extend(
            self.unclaimed()
                .iter()
                .map(|id| format!("it holds state of {id}, which this dataflow does not have")),
        );
        problems
    }

    /// The parts of the snapshot that operators could not use.
    pub fn restore_errors(&self) -> Vec<RestoreError> {
        self.inner.borrow().errors.clone()
    }

    /// How many operators of this worker are registered and alive.
    pub fn live_operators(&self) -> usize {
        let register = self.inner.borrow();
        register
            .live
            .iter()
            .filter(|(_, op)| op.strong_count() > 0)
            .count()
    }

    /// The id of the next keyed operator named `name` that dataflow `dataflow` builds.
    pub(crate) fn next_id(&self, dataflow: usize, name: &str) -> OperatorId {
        let mut register = self.inner.borrow_mut();
        let built = register
            .built
            .entry((dataflow, name.to_owned()))
            .or_default();
        *built += 1;
        OperatorId {
            name: name.to_owned(),
            ordinal: *built - 1,
        }
    }

    /// Registers an operator's state; returns its share of the snapshot being restored, if any.
    pub(crate) fn register(
        &self,
        id: OperatorId,
        state: Weak<RefCell<dyn Snapshotting>>,
    ) -> Option<Restore> {
        let mut register = self.inner.borrow_mut();
        register.live.retain(|(_, op)| op.strong_count() > 0);
        register.retired.remove(&id);
        register.live.push((id.clone(), state));
        let parts = register.to_restore.remove(&id)?;
        Some(Restore {
            parts,
            placement: register.placement,
        })
    }

    /// Notes that `id`'s part of the snapshot could not be used.
    pub(crate) fn restore_failed(&self, operator: OperatorId, reason: String) {
        self.inner
            .borrow_mut()
            .errors
            .push(RestoreError { operator, reason });
    }
}
