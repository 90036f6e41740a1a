//! [`WorkerRecovery`]: one worker's side of the checkpoint rounds: its sinks' staging and the moment it
//! copies its state (see the [module documentation](super)).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

use caudal_operators::shell::{Placement, StateRegistry};
use caudal_operators::EventTime;

use super::store::{PreCommit, WorkerPart};
use super::Coordinator;

/// A sink as the checkpoint rounds see it.
pub(crate) trait Stage {
    /// Hands over what the sink wrote since the last call ([`crate::sink::Sink::pre_commit`]).
    fn pre_commit(&mut self, next_epoch: u64) -> Result<PreCommit, String>;
}

struct SinkEntry {
    name: String,
    stage: Rc<RefCell<dyn Stage>>,
    /// The frontier the sink has processed its input up to (`EventTime::MIN` before anything,
    /// `EventTime::MAX` once it has ended).
    frontier: Rc<Cell<EventTime>>,
}

/// One worker's side of the checkpoint rounds.
pub(crate) struct WorkerRecovery {
    coord: Arc<Coordinator>,
    worker: usize,
    sinks: RefCell<Vec<SinkEntry>>,
    /// What sinks staged as they ended.
    leftover: RefCell<PreCommit>,
    /// The last round this worker handed its part to.
    contributed: Cell<u64>,
    /// A sink failed to write: no checkpoint may cover output that was lost.
    sink_failure: RefCell<Option<String>>,
}

impl WorkerRecovery {
    /// Worker `worker`'s side of `coord`'s rounds; restores its keyed operators' state from the
    /// checkpoint being resumed, if any (call it before the dataflow is built).
    pub(crate) fn new(coord: Arc<Coordinator>, worker: usize) -> Rc<Self> {
        let registry = StateRegistry::current();
        // The final checkpoint is taken after the dataflow has ended: it needs the state its
        // operators leave behind.
        registry.keep_final_states();
        if let Some(restored) = coord.restored() {
            if restored.rescaled(coord.workers()) {
                // Taken on another number of workers: this worker's keys, from every old part.
                let states = restored.parts.iter().map(|p| p.state.clone()).collect();
                let placement = Placement {
                    index: worker,
                    peers: coord.workers(),
                };
                registry.restore_rescaled(states, placement);
            } else if let Some(part) = restored.parts.get(worker) {
                registry.restore_from(part.state.clone());
            }
        }
        coord.register_worker();
        Rc::new(WorkerRecovery {
            contributed: Cell::new(coord.first_epoch() - 1),
            coord,
            worker,
            sinks: RefCell::default(),
            leftover: RefCell::default(),
            sink_failure: RefCell::default(),
        })
    }

    /// The coordinator.
    pub(crate) fn coordinator(&self) -> &Arc<Coordinator> {
        &self.coord
    }

    /// Registers a sink; returns the cell its operator keeps its processed frontier in.
    pub(crate) fn register_sink(
        &self,
        name: &str,
        stage: Rc<RefCell<dyn Stage>>,
    ) -> Rc<Cell<EventTime>> {
        let frontier = Rc::new(Cell::new(EventTime::MIN));
        self.sinks.borrow_mut().push(SinkEntry {
            name: name.to_string(),
            stage,
            frontier: frontier.clone(),
        });
        frontier
    }

    /// A sink failed to write: the run must end without a further checkpoint.
    pub(crate) fn sink_failed(&self, error: String) {
        self.sink_failure.borrow_mut().get_or_insert(error);
    }

    /// A sink handed over its last output as it ended: its buffers are written here (the final
    /// checkpoint syncs them).
    pub(crate) fn staged_at_end(&self, mut staged: PreCommit) -> std::io::Result<()> {
        for deferred in staged.writes.drain(..) {
            deferred.perform(false).map_err(std::io::Error::other)?;
        }
        self.leftover.borrow_mut().extend(staged);
        Ok(())
    }

    /// The worker's dataflow is built: tells the coordinator (rounds open once every worker's is), and
    /// checks that the state of the checkpoint being resumed fitted it.
    pub(crate) fn dataflow_built(&self) -> Result<(), String> {
        let problems = StateRegistry::current().restore_problems();
        self.coord.worker_built();
        match (problems.is_empty(), self.coord.restored()) {
            (false, Some(r)) => Err(format!(
                "checkpoint {} does not fit this pipeline: {}",
                r.dir.display(),
                problems.join("; ")
            )),
            _ => Ok(()),
        }
    }

    /// After a worker step: if a round is aligned and every sink of this worker has processed its input
    /// up to the cut, copies the state, stages the sinks' output and hands the part over. Returns an
    /// error if a sink could not stage.
    pub(crate) fn after_step(&self) -> Result<(), String> {
        if let Some(error) = self.sink_failure.borrow_mut().take() {
            return Err(format!(
                "{error}: the run stops without a further checkpoint, so that a resume writes that output again"
            ));
        }
        let Some((epoch, cut)) = self.coord.aligned_round() else {
            return Ok(());
        };
        if self.contributed.get() >= epoch
            || self.sinks.borrow().iter().any(|s| s.frontier.get() < cut)
        {
            return Ok(());
        }
        let copy_started = std::time::Instant::now();
        let mut staged = PreCommit::default();
        for sink in self.sinks.borrow().iter() {
            let handed = sink
                .stage
                .borrow_mut()
                .pre_commit(epoch + 1)
                .map_err(|e| format!("sink {} could not stage its output: {e}", sink.name))?;
            staged.extend(handed);
        }
        let part = WorkerPart {
            worker: self.worker,
            state: StateRegistry::current().snapshot(),
            sources: self.coord.source_parts(self.worker),
            staged: staged.files,
        };
        self.coord.note_copy(copy_started.elapsed());
        self.contributed.set(epoch);
        self.coord.contribute(epoch, part, staged.writes);
        Ok(())
    }

    /// Whether the workers must leave now: the last round of a stop has been written.
    pub(crate) fn must_exit(&self) -> bool {
        let exit = self.coord.exit_after();
        exit != 0 && self.coord.persisted() >= exit
    }

    /// The worker has left its loop: hands over its sources' last positions and its sinks' last output.
    pub(crate) fn finish(&self) {
        let part = WorkerPart {
            worker: self.worker,
            state: StateRegistry::current().snapshot(),
            sources: self.coord.source_parts(self.worker),
            staged: std::mem::take(&mut self.leftover.borrow_mut().files),
        };
        self.coord.worker_finished(part);
    }
}
