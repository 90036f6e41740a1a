//! The [`Coordinator`]'s side of a run over several processes: the messages it gets, the steps the
//! leader takes once every process has reported, and the writer thread's share of them (see
//! [`crate::checkpoint::cluster`] for the protocol).

use std::sync::atomic::Ordering;
use std::time::Instant;

use caudal_operators::EventTime;

use super::{Coordinator, Job, Persist};
use crate::checkpoint::cluster::{Control, FinalState, Link, Next};
use crate::checkpoint::stats::micros;
use crate::checkpoint::store::{Manifest, WorkerPart};

impl Coordinator {
    /// The link to the other processes, on a run over several.
    pub(crate) fn cluster(&self) -> Option<&Link> {
        self.cluster.as_ref()
    }

    /// Handles a message from a process (this one included), on the worker that receives them.
    pub(crate) fn receive(&self, message: Control) {
        let Some(link) = &self.cluster else {
            return;
        };
        tracing::debug!(process = link.process, ?message, "checkpoint control");
        match message {
            Control::Open { epoch, exit } => {
                let mut round = self.lock();
                round.opened_at = Some(Instant::now());
                if exit {
                    self.exit_after.store(epoch, Ordering::Release);
                }
                self.cut.store(EventTime::MIN, Ordering::Release);
                self.requested.store(epoch, Ordering::Release);
                self.check_aligned(&mut round, epoch);
            }
            Control::Cut { epoch, cut } => {
                self.cut.fetch_max(cut, Ordering::AcqRel);
                link.cut_final.store(epoch, Ordering::Release);
                let mut round = self.lock();
                self.check_aligned(&mut round, epoch);
            }
            Control::Resume { epoch } => self.resume(&mut self.lock(), epoch),
            Control::Complete { epoch, ok } => self.send(Job::Complete { epoch, ok }),
            Control::Final { epoch } => self.send(Job::Final { epoch }),
            Control::FinalDone { ok } => self.send(Job::FinalDone { ok }),
            report => self.lead(link, report),
        }
        self.wake_workers();
    }

    /// On the leader: counts a process's report and takes the next step once every process has made
    /// it.
    pub(super) fn lead(&self, link: &Link, report: Control) {
        let Some(next) = link.tally().map(|mut tally| tally.count(report)) else {
            return;
        };
        match next {
            Next::Wait => {}
            Next::AllBuilt => link.all_built.store(true, Ordering::Release),
            Next::Broadcast(message) => link.broadcast(message),
            Next::WriteManifest {
                epoch,
                ok: true,
                staged,
            } => self.send(Job::Manifest(self.manifest(epoch, false, staged))),
            Next::WriteManifest { epoch, .. } => {
                link.broadcast(Control::Complete { epoch, ok: false })
            }
            Next::Stop => self.stopping.store(true, Ordering::Release),
            Next::TakeFinal => {
                let epoch = self.requested().max(self.persisted()) + 1;
                link.final_epoch.store(epoch, Ordering::Release);
                link.broadcast(Control::Final { epoch });
            }
            Next::WriteFinal { ok: true, staged } => {
                let epoch = link.final_epoch.load(Ordering::Acquire);
                self.send(Job::Manifest(self.manifest(epoch, true, staged)));
            }
            Next::WriteFinal { .. } => link.broadcast(Control::FinalDone { ok: false }),
        }
    }

    pub(super) fn link(&self) -> &Link {
        self.cluster
            .as_ref()
            .expect("only a run over several processes has a link")
    }

    /// Writes this process's parts of a round and reports them to the leader (on the writer thread).
    pub(super) fn persist_part(&self, persist: Persist) {
        let link = self.link();
        let epoch = persist.manifest.epoch;
        let started = Instant::now();
        let written = match self.is_abandoned() {
            true => Err(None),
            false => self.write_parts(&persist).map_err(Some),
        };
        let ok = written.is_ok();
        match written {
            Ok(()) => {
                let mut stats = self.stats();
                stats.max_write_us = stats.max_write_us.max(micros(started.elapsed()));
            }
            Err(e) => {
                // The round fails: its output waits for the next one.
                self.lock().writes.extend(persist.writes);
                if let Some(e) = e {
                    eprintln!(
                        "checkpoint {epoch}: process {} could not write its part ({e}); the previous \
                         checkpoint stays in force",
                        link.process
                    );
                }
            }
        }
        *link.reported.lock().unwrap_or_else(|e| e.into_inner()) = persist.manifest.staged.clone();
        link.to_leader(Control::Written {
            process: link.process,
            epoch,
            ok,
            staged: persist.manifest.staged,
        });
        self.wake_workers();
    }

    /// On the leader: writes the manifest of a round (or of the final checkpoint) every process has
    /// written its parts of, which makes it complete, and tells every process.
    pub(super) fn write_manifest(&self, manifest: Manifest) {
        let link = self.link();
        let ok = match self.store.complete(&manifest) {
            Ok(()) => true,
            Err(e) => {
                eprintln!(
                    "checkpoint {}: the manifest could not be written ({e}); the previous one stays \
                     in force",
                    manifest.epoch
                );
                false
            }
        };
        link.broadcast(match manifest.final_ {
            true => Control::FinalDone { ok },
            false => Control::Complete {
                epoch: manifest.epoch,
                ok,
            },
        });
        self.wake_workers();
    }

    /// Round `epoch` is complete (`ok`) or failed: commits the output this process staged for it, or
    /// keeps it pending for the next round.
    pub(super) fn completed(&self, epoch: u64, ok: bool) {
        let link = self.link();
        let reported =
            std::mem::take(&mut *link.reported.lock().unwrap_or_else(|e| e.into_inner()));
        if ok {
            self.complete.store(epoch, Ordering::Release);
            if let Err(e) = self.commit_staged(&reported) {
                // What is not committed stays pending: the next round commits it again.
                tracing::error!("checkpoint {epoch}: {e}");
            }
            let mut stats = self.stats();
            stats.rounds += 1;
            stats.last_bytes = self.store.size_of(epoch);
        } else {
            self.stats().failed += 1;
        }
        self.persisted.store(epoch, Ordering::Release);
        self.wake_workers();
    }

    /// Once every worker of this process has left the pipeline (its input ended, or it failed) and no
    /// round is under way here: tells the leader that this process is finishing, with whether its
    /// input `ended` cleanly. The leader then has every process write its part of the final
    /// checkpoint.
    pub(crate) fn try_finishing(&self, ended: impl FnOnce() -> bool) {
        let link = self.link();
        if link.finishing.load(Ordering::Acquire)
            || self.lock().finished[self.local.clone()]
                .iter()
                .any(Option::is_none)
            || self.requested() > self.persisted()
        {
            return;
        }
        link.ended.store(ended(), Ordering::Release);
        if link.finishing.swap(true, Ordering::AcqRel) {
            return;
        }
        link.to_leader(Control::Finishing {
            process: link.process,
        });
    }

    /// Writes this process's parts of the final checkpoint, round `epoch`, and reports them.
    pub(super) fn write_final_part(&self, epoch: u64) {
        let link = self.link();
        link.final_epoch.store(epoch, Ordering::Release);
        let mut round = self.lock();
        let parts: Vec<WorkerPart> = round.finished.iter_mut().filter_map(Option::take).collect();
        let every_worker = parts.len() == self.local.len();
        let persist = Persist {
            parts,
            manifest: self.manifest(epoch, true, std::mem::take(&mut round.pending)),
            writes: std::mem::take(&mut round.writes),
        };
        drop(round);
        let ok = link.ended.load(Ordering::Acquire)
            && every_worker
            && !self.is_abandoned()
            && match self.write_parts(&persist) {
                Ok(()) => true,
                Err(e) => {
                    eprintln!(
                        "the final checkpoint: process {} could not write its part ({e})",
                        link.process
                    );
                    false
                }
            };
        *link.reported.lock().unwrap_or_else(|e| e.into_inner()) = persist.manifest.staged.clone();
        link.to_leader(Control::Finished {
            process: link.process,
            ok,
            staged: persist.manifest.staged,
        });
        self.wake_workers();
    }

    /// The final checkpoint is complete (`ok`: this process commits its last output) or was not
    /// taken.
    pub(super) fn final_done(&self, ok: bool) {
        let link = self.link();
        let reported =
            std::mem::take(&mut *link.reported.lock().unwrap_or_else(|e| e.into_inner()));
        if ok {
            let epoch = link.final_epoch.load(Ordering::Acquire);
            self.complete.store(epoch, Ordering::Release);
            self.persisted.store(epoch, Ordering::Release);
            if let Err(e) = self.commit_staged(&reported) {
                eprintln!("the final checkpoint is complete, but its output could not be committed ({e}); running the same command again commits it");
            }
        }
        link.set_final(ok);
        self.wake_workers();
    }

    /// On several processes: whether the workers may close the control channel and leave (the final
    /// checkpoint is decided, or the last round of a stop is written).
    pub(crate) fn cluster_done(&self) -> bool {
        self.cluster
            .as_ref()
            .is_some_and(|link| link.final_state() != FinalState::Pending)
    }
}
