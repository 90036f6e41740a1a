//! Checkpoint rounds over several processes: the messages the processes' coordinators exchange, and
//! the tally process 0 keeps of them (see the [module documentation](super) for the protocol).
//!
//! One process's [`Coordinator`](super::Coordinator) runs its rounds as on one process, with four
//! steps made global: process 0 (the *leader*) opens a round and tells the others; each process
//! reports the highest cut its source instances ask for once they have all seen the round, and the
//! leader announces the round's final cut (the highest of them); each process reports when its workers
//! have copied their state, and the leader lets every source go on once all have; each process writes
//! its workers' parts and reports them, and the leader writes the manifest (which makes the checkpoint
//! complete) once all are durable, and tells every process to commit its output. The final checkpoint
//! of a run whose input ended goes the same way. The messages travel on a small timely dataflow
//! beside the pipeline ([`super::control`]), so the processes talk over timely's own connections.
//!
//! A process that dies stops the others (timely's connections break); restarted with the same command,
//! every process resumes from the last checkpoint the leader completed.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use caudal_operators::EventTime;

use super::store::StagedFile;

/// Where the final checkpoint of a run over several processes stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FinalState {
    /// Not decided yet.
    Pending,
    /// Complete: the run's last output is committed.
    Taken,
    /// Not taken (a process did not end its input cleanly, or could not write its part).
    NotTaken,
}

/// One process's link to the others, kept by its coordinator.
pub(crate) struct Link {
    /// This process.
    pub(crate) process: usize,
    /// Processes in the run.
    pub(crate) processes: usize,
    /// Messages to send, with the process each goes to.
    outbox: Mutex<Vec<(usize, Control)>>,
    /// The leader's tally (on process 0 only).
    tally: Option<Mutex<Tally>>,
    /// On the leader: every process has built its dataflow.
    pub(crate) all_built: AtomicBool,
    /// The last round whose final cut has come.
    pub(crate) cut_final: AtomicU64,
    /// The last round this process has reported as seen.
    pub(crate) seen_sent: AtomicU64,
    /// What this process reported staged for the round being written (committed once it completes).
    pub(crate) reported: Mutex<Vec<StagedFile>>,
    /// This process has reported that it is finishing; with whether its input ended cleanly.
    pub(crate) finishing: AtomicBool,
    pub(crate) ended: AtomicBool,
    /// The round of the final checkpoint (0: not yet known).
    pub(crate) final_epoch: AtomicU64,
    final_state: AtomicU8,
}

impl Link {
    /// Process `process`'s link among `processes`.
    pub(crate) fn new(process: usize, processes: usize) -> Self {
        Link {
            process,
            processes,
            outbox: Mutex::default(),
            tally: (process == 0).then(|| Mutex::new(Tally::new(processes))),
            all_built: AtomicBool::new(false),
            cut_final: AtomicU64::new(0),
            seen_sent: AtomicU64::new(0),
            reported: Mutex::default(),
            finishing: AtomicBool::new(false),
            ended: AtomicBool::new(false),
            final_epoch: AtomicU64::new(0),
            final_state: AtomicU8::new(0),
        }
    }

    /// Whether this process leads the rounds.
    pub(crate) fn leads(&self) -> bool {
        self.process == 0
    }

    /// The leader's tally (`None` on other processes).
    pub(crate) fn tally(&self) -> Option<MutexGuard<'_, Tally>> {
        self.tally
            .as_ref()
            .map(|t| t.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Queues `message` for the leader.
    pub(crate) fn to_leader(&self, message: Control) {
        self.queue(0, message);
    }

    /// Queues `message` for every process (this one included).
    pub(crate) fn broadcast(&self, message: Control) {
        for process in 0..self.processes {
            self.queue(process, message.clone());
        }
    }

    /// Queues `message` for every other process.
    pub(crate) fn to_others(&self, message: Control) {
        for process in (0..self.processes).filter(|p| *p != self.process) {
            self.queue(process, message.clone());
        }
    }

    fn queue(&self, process: usize, message: Control) {
        self.outbox
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((process, message));
    }

    /// Takes the queued messages.
    pub(crate) fn take_outbox(&self) -> Vec<(usize, Control)> {
        std::mem::take(&mut *self.outbox.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Where the final checkpoint stands.
    pub(crate) fn final_state(&self) -> FinalState {
        match self.final_state.load(Ordering::Acquire) {
            0 => FinalState::Pending,
            1 => FinalState::Taken,
            _ => FinalState::NotTaken,
        }
    }

    /// Records whether the final checkpoint was taken.
    pub(crate) fn set_final(&self, taken: bool) {
        self.final_state
            .store(if taken { 1 } else { 2 }, Ordering::Release);
    }
}

/// A message between two processes' coordinators.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Control {
    // From a process to the leader.
    /// Every worker of `process` has built its dataflow.
    Built { process: usize },
    /// Every source instance of `process` has seen round `epoch`; `cut` is the highest cut they ask
    /// for.
    Seen {
        process: usize,
        epoch: u64,
        cut: EventTime,
    },
    /// Every worker of `process` has copied its state for round `epoch`.
    Copied { process: usize, epoch: u64 },
    /// `process` has written its parts of round `epoch` (durably, if `ok`), covering `staged`.
    Written {
        process: usize,
        epoch: u64,
        ok: bool,
        staged: Vec<StagedFile>,
    },
    /// `process` was asked to stop (SIGINT, SIGTERM): the next round is the last.
    Stop { process: usize },
    /// Every worker of `process` has come to the end of its input, and no round is under way there.
    Finishing { process: usize },
    /// `process` has written its parts of the final checkpoint (if `ok`: its input ended cleanly).
    Finished {
        process: usize,
        ok: bool,
        staged: Vec<StagedFile>,
    },

    // From the leader to every process.
    /// Round `epoch` is open; if `exit`, the workers leave after it.
    Open { epoch: u64, exit: bool },
    /// The final cut of round `epoch`.
    Cut { epoch: u64, cut: EventTime },
    /// Every worker has copied its state for round `epoch`: sources go on.
    Resume { epoch: u64 },
    /// Round `epoch` is complete (`ok`) or failed: commit the output it covers, or keep it pending.
    Complete { epoch: u64, ok: bool },
    /// Every process is finishing: write the final checkpoint as round `epoch`.
    Final { epoch: u64 },
    /// The final checkpoint is complete (`ok`) or was not taken.
    FinalDone { ok: bool },
}

/// What the leader does next, once a message completes a step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// Nothing yet.
    Wait,
    /// Every process has built its dataflow: rounds may open.
    AllBuilt,
    /// Send this to every process.
    Broadcast(Control),
    /// Every process has written its parts of round `epoch`: write the manifest (covering `staged`),
    /// or, if one failed, tell every process that the round failed.
    WriteManifest {
        epoch: u64,
        ok: bool,
        staged: Vec<StagedFile>,
    },
    /// Every process is finishing: take the final checkpoint.
    TakeFinal,
    /// Every process has written its final parts: write the final manifest (if all are `ok`).
    WriteFinal { ok: bool, staged: Vec<StagedFile> },
    /// A process asked for a stop.
    Stop,
}

/// The leader's tally of the processes' reports, for the round under way.
#[derive(Debug)]
pub(crate) struct Tally {
    processes: usize,
    built: usize,
    epoch: u64,
    seen: Vec<Option<EventTime>>,
    copied: usize,
    written: Vec<Option<(bool, Vec<StagedFile>)>>,
    finishing: usize,
    finished: Vec<Option<(bool, Vec<StagedFile>)>>,
}

impl Tally {
    /// A tally over `processes` processes.
    pub(crate) fn new(processes: usize) -> Self {
        Tally {
            processes,
            built: 0,
            epoch: 0,
            seen: vec![None; processes],
            copied: 0,
            written: vec![None; processes],
            finishing: 0,
            finished: vec![None; processes],
        }
    }

    /// Starts the tally of round `epoch`.
    pub(crate) fn open(&mut self, epoch: u64) {
        self.epoch = epoch;
        self.seen.iter_mut().for_each(|s| *s = None);
        self.copied = 0;
        self.written.iter_mut().for_each(|w| *w = None);
    }

    /// Counts `message`; says what to do once it completes a step. Reports of another round than the
    /// one under way are ignored.
    pub(crate) fn count(&mut self, message: Control) -> Next {
        match message {
            Control::Built { .. } => {
                self.built += 1;
                if self.built == self.processes {
                    return Next::AllBuilt;
                }
            }
            Control::Seen {
                process,
                epoch,
                cut,
            } if epoch == self.epoch => {
                self.seen[process] = Some(cut);
                if self.seen.iter().all(Option::is_some) {
                    let cut = self
                        .seen
                        .iter()
                        .flatten()
                        .copied()
                        .max()
                        .unwrap_or(EventTime::MIN);
                    return Next::Broadcast(Control::Cut { epoch, cut });
                }
            }
            Control::Copied { epoch, .. } if epoch == self.epoch => {
                self.copied += 1;
                if self.copied == self.processes {
                    return Next::Broadcast(Control::Resume { epoch });
                }
            }
            Control::Written {
                process,
                epoch,
                ok,
                staged,
            } if epoch == self.epoch => {
                self.written[process] = Some((ok, staged));
                if self.written.iter().all(Option::is_some) {
                    let (ok, staged) = gather(&mut self.written);
                    return Next::WriteManifest { epoch, ok, staged };
                }
            }
            Control::Stop { .. } => return Next::Stop,
            Control::Finishing { .. } => {
                self.finishing += 1;
                if self.finishing == self.processes {
                    return Next::TakeFinal;
                }
            }
            Control::Finished {
                process,
                ok,
                staged,
            } => {
                self.finished[process] = Some((ok, staged));
                if self.finished.iter().all(Option::is_some) {
                    let (ok, staged) = gather(&mut self.finished);
                    return Next::WriteFinal { ok, staged };
                }
            }
            _ => {}
        }
        Next::Wait
    }
}

/// Every process's report taken out: whether all were `ok`, and all they staged.
fn gather(reports: &mut [Option<(bool, Vec<StagedFile>)>]) -> (bool, Vec<StagedFile>) {
    let mut ok = true;
    let mut staged = Vec::new();
    for (fine, files) in reports.iter_mut().filter_map(Option::take) {
        ok &= fine;
        staged.extend(files);
    }
    (ok, staged)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staged(name: &str) -> StagedFile {
        StagedFile {
            staged: format!(".{name}").into(),
            committed: name.into(),
            publish: None,
        }
    }

    #[test]
    fn a_round_goes_on_only_when_every_process_has_reported_each_step() {
        let mut tally = Tally::new(2);
        assert_eq!(tally.count(Control::Built { process: 1 }), Next::Wait);
        assert_eq!(tally.count(Control::Built { process: 0 }), Next::AllBuilt);
        tally.open(3);
        let seen = |process, epoch, cut| Control::Seen {
            process,
            epoch,
            cut,
        };
        assert_eq!(tally.count(seen(0, 3, 40)), Next::Wait);
        // A late report of an earlier round changes nothing.
        assert_eq!(tally.count(seen(1, 2, 99)), Next::Wait);
        assert_eq!(
            tally.count(seen(1, 3, 57)),
            Next::Broadcast(Control::Cut { epoch: 3, cut: 57 })
        );
        assert_eq!(
            tally.count(Control::Copied {
                process: 1,
                epoch: 3
            }),
            Next::Wait
        );
        assert_eq!(
            tally.count(Control::Copied {
                process: 0,
                epoch: 3
            }),
            Next::Broadcast(Control::Resume { epoch: 3 })
        );
        let written = |process, ok, name| Control::Written {
            process,
            epoch: 3,
            ok,
            staged: vec![staged(name)],
        };
        assert_eq!(tally.count(written(0, true, "a")), Next::Wait);
        assert_eq!(
            tally.count(written(1, true, "b")),
            Next::WriteManifest {
                epoch: 3,
                ok: true,
                staged: vec![staged("a"), staged("b")]
            }
        );
        // The next round starts from nothing; one process failing to write fails the round.
        tally.open(4);
        let written = |process, ok| Control::Written {
            process,
            epoch: 4,
            ok,
            staged: vec![],
        };
        assert_eq!(tally.count(written(1, false)), Next::Wait);
        assert!(matches!(
            tally.count(written(0, true)),
            Next::WriteManifest { ok: false, .. }
        ));
    }

    #[test]
    fn the_final_checkpoint_waits_for_every_process() {
        let mut tally = Tally::new(2);
        assert_eq!(tally.count(Control::Finishing { process: 0 }), Next::Wait);
        assert_eq!(
            tally.count(Control::Finishing { process: 1 }),
            Next::TakeFinal
        );
        let finished = |process, ok| Control::Finished {
            process,
            ok,
            staged: vec![],
        };
        assert_eq!(tally.count(finished(1, false)), Next::Wait);
        assert_eq!(
            tally.count(finished(0, true)),
            Next::WriteFinal {
                ok: false,
                staged: vec![]
            }
        );
        assert_eq!(tally.count(Control::Stop { process: 1 }), Next::Stop);
    }
}
