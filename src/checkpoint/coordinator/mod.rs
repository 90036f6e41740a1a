//! [`Coordinator`]: one process's checkpoint rounds, shared by its workers and source instances (see
//! the [module documentation](super) for the protocol).
//!
//! The hot path sees only atomics: a source instance loads [`Coordinator::requested`] once per
//! activation. The lock is taken a few times per round and instance (when it first sees a round, when
//! it pauses or resumes) and by workers while a round is aligned.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::thread::{JoinHandle, Thread};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use caudal_operators::EventTime;

use super::cluster::{Control, FinalState, Link};
use super::stats::{micros, CheckpointStats};
use super::store::{
    CheckpointError, CheckpointStore, Deferred, Manifest, Restored, SourcePart, StagedFile,
    WorkerPart,
};
use super::CheckpointConfig;

mod processes;

/// A source instance's place in the round.
#[derive(Default)]
struct Slot {
    worker: usize,
    name: String,
    /// The last round it has seen.
    seen: u64,
    /// Its part for that round, once it has paused at the cut.
    paused: Option<SourcePart>,
    /// Its last part once its input has ended.
    done: Option<SourcePart>,
}

#[derive(Default)]
struct Round {
    slots: Vec<Slot>,
    /// Workers that have built their dataflow.
    built: usize,
    /// Parts handed over for the open round, by worker.
    parts: Vec<Option<WorkerPart>>,
    /// Output staged and not yet committed by a complete checkpoint.
    pending: Vec<StagedFile>,
    /// Sinks' buffers handed over and not yet written.
    writes: Vec<Deferred>,
    /// When the last round was opened.
    opened_at: Option<Instant>,
    /// When the open round was aligned.
    aligned_at: Option<Instant>,
    /// Workers that have left their loop, with their last parts.
    finished: Vec<Option<WorkerPart>>,
}

/// What the writer thread is given: a round's parts and manifest.
struct Persist {
    parts: Vec<WorkerPart>,
    manifest: Manifest,
    writes: Vec<Deferred>,
}

/// The writer thread's work, in order.
enum Job {
    /// Write this process's parts of a round (and, on one process, its manifest).
    Round(Persist),
    /// Several processes, on the leader: every process has written its parts: write the manifest.
    Manifest(Manifest),
    /// Several processes: round `epoch` is complete (`ok`) or failed.
    Complete { epoch: u64, ok: bool },
    /// Several processes: write this process's parts of the final checkpoint, round `epoch`.
    Final { epoch: u64 },
    /// Several processes: the final checkpoint is complete (`ok`) or was not taken.
    FinalDone { ok: bool },
}

/// One process's checkpoint rounds.
pub struct Coordinator {
    config: CheckpointConfig,
    store: CheckpointStore,
    /// Workers over all processes.
    workers: usize,
    /// This process's workers.
    local: std::ops::Range<usize>,
    /// On several processes: the link to the others.
    cluster: Option<Link>,
    restored: Option<Restored>,
    /// The round sources take part in (0: none yet).
    requested: AtomicU64,
    /// The cut time of the requested round: the highest of its source instances' capabilities plus one
    /// (`EventTime::MIN` until one has seen it: sources may stand before 1970).
    cut: AtomicI64,
    /// The last round every source instance has paused for.
    aligned: AtomicU64,
    /// The last round every worker has handed its part to: its sources go on.
    resumed: AtomicU64,
    /// The last round written and committed.
    persisted: AtomicU64,
    /// The last round whose checkpoint is complete (`persisted` also counts rounds that failed).
    complete: AtomicU64,
    /// A stop was asked for: the next round is the last, and the workers leave after it.
    stopping: AtomicBool,
    /// The round after which the workers leave (0: none).
    exit_after: AtomicU64,
    /// Something failed that a checkpoint must not cover (a sink lost output): no round completes
    /// any more, so that a resume starts before the failure.
    abandoned: AtomicBool,
    round: Mutex<Round>,
    threads: Mutex<Vec<Thread>>,
    writer: Mutex<Option<(mpsc::Sender<Job>, JoinHandle<()>)>>,
    first_epoch: u64,
    attempt: u64,
    started: Instant,
    stats: Mutex<CheckpointStats>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Coordinator {
    /// Opens the job's checkpoints for a run on `workers` workers: reads the last complete checkpoint
    /// (to resume from), commits the output it covers (a crash may have come between its manifest
    /// and its commit) and clears rounds that did not complete.
    pub fn open(config: CheckpointConfig, workers: usize) -> Result<Arc<Self>, CheckpointError> {
        Self::open_on(config, workers, 0, 1)
    }

    /// Like [`Coordinator::open`], for process `process` of `processes` (each with the same number of
    /// workers): process 0 leads the rounds, and only it clears rounds that did not complete and prunes
    /// old ones.
    pub fn open_on(
        config: CheckpointConfig,
        workers: usize,
        process: usize,
        processes: usize,
    ) -> Result<Arc<Self>, CheckpointError> {
        let store = CheckpointStore::open(&config.dir, config.keep)?;
        if process == 0 {
            store.clear_incomplete()?;
        }
        let restored = store.latest(&config.job)?;
        if let Some(r) = &restored {
            commit_output(&r.manifest.staged)?;
        }
        let (first_epoch, attempt) = restored
            .as_ref()
            .map_or((1, 0), |r| (r.manifest.epoch + 1, r.manifest.attempt + 1));
        let last = first_epoch - 1;
        let per_process = workers / processes.max(1);
        let coordinator = Arc::new(Coordinator {
            store,
            workers,
            local: process * per_process..(process + 1) * per_process,
            cluster: (processes > 1).then(|| Link::new(process, processes)),
            restored,
            requested: AtomicU64::new(last),
            cut: AtomicI64::new(EventTime::MIN),
            aligned: AtomicU64::new(last),
            resumed: AtomicU64::new(last),
            persisted: AtomicU64::new(last),
            complete: AtomicU64::new(last),
            stopping: AtomicBool::new(false),
            exit_after: AtomicU64::new(0),
            abandoned: AtomicBool::new(false),
            round: Mutex::new(Round {
                parts: vec![None; workers],
                finished: vec![None; workers],
                ..Default::default()
            }),
            threads: Mutex::new(Vec::new()),
            writer: Mutex::new(None),
            first_epoch,
            attempt,
            started: Instant::now(),
            stats: Mutex::new(CheckpointStats {
                guarantee: config.guarantee.to_string(),
                resumed_from: (first_epoch > 1).then_some(first_epoch - 1),
                ..Default::default()
            }),
            config,
        });
        let (tx, rx) = mpsc::channel::<Job>();
        let writer = coordinator.clone();
        let handle = std::thread::Builder::new()
            .name("caudal-checkpoint".into())
            .spawn(move || {
                for job in rx {
                    writer.perform(job);
                }
            })
            .expect("the checkpoint writer thread starts");
        *coordinator.writer.lock().unwrap_or_else(|e| e.into_inner()) = Some((tx, handle));
        Ok(coordinator)
    }

    /// The configuration.
    pub fn config(&self) -> &CheckpointConfig {
        &self.config
    }

    /// Workers over all processes.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// The checkpoint this run resumes from, if any.
    pub fn restored(&self) -> Option<&Restored> {
        self.restored.as_ref()
    }

    /// How many times the job had been resumed before this run (0: a fresh start).
    pub fn attempt(&self) -> u64 {
        self.attempt
    }

    /// The round the output written from now on belongs to, before any round of this run.
    pub fn first_epoch(&self) -> u64 {
        self.first_epoch
    }

    /// The last checkpoint written and committed.
    pub fn persisted(&self) -> u64 {
        self.persisted.load(Ordering::Acquire)
    }

    /// The last round whose checkpoint is complete.
    pub(crate) fn complete(&self) -> u64 {
        self.complete.load(Ordering::Acquire)
    }

    fn lock(&self) -> MutexGuard<'_, Round> {
        self.round.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wake_workers(&self) {
        for thread in self
            .threads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            thread.unpark();
        }
    }

    // The worker's side.

    /// Registers a worker thread, to wake it when a round needs it.
    pub(crate) fn register_worker(&self) {
        self.threads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(std::thread::current());
    }

    /// A worker has built its dataflow (all its sources are registered).
    pub(crate) fn worker_built(&self) {
        let mut round = self.lock();
        round.built += 1;
        if round.built == self.local.len() {
            if self.restored.is_some() {
                self.stats().restore_us = Some(micros(self.started.elapsed()));
            }
            if let Some(link) = &self.cluster {
                link.to_leader(Control::Built {
                    process: link.process,
                });
                drop(round);
                self.wake_workers();
            }
        }
    }

    fn stats(&self) -> MutexGuard<'_, CheckpointStats> {
        self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A worker's copy for a round took `took`.
    pub(crate) fn note_copy(&self, took: Duration) {
        let mut stats = self.stats();
        stats.max_copy_us = stats.max_copy_us.max(micros(took));
    }

    /// What the run's checkpoints cost so far.
    pub fn stats_now(&self) -> CheckpointStats {
        self.stats().clone()
    }

    /// Whether a round is open (requested and not yet resumed from).
    pub(crate) fn round_open(&self) -> bool {
        self.requested.load(Ordering::Acquire) > self.resumed.load(Ordering::Acquire)
    }

    /// Opens the next round if it is time (or a stop was asked for) and none is under way: worker 0
    /// calls it after each step. Returns how long until the next round is due.
    pub(crate) fn maybe_open(&self, now: Instant, allow_timed: bool) -> Option<Duration> {
        let requested = self.requested.load(Ordering::Acquire);
        if requested > self.persisted.load(Ordering::Acquire)
            || self.exit_after() != 0
            || self.is_abandoned()
        {
            return None;
        }
        let mut round = self.lock();
        let built = match &self.cluster {
            None => round.built == self.workers,
            Some(link) => link.all_built.load(Ordering::Acquire),
        };
        if !built {
            return None;
        }
        let stopping = self.stopping.load(Ordering::Acquire);
        let opened_at = *round.opened_at.get_or_insert(now);
        let due = opened_at + self.config.interval;
        if !stopping && (!allow_timed || now < due) {
            return Some(due - now);
        }
        round.opened_at = Some(now);
        let epoch = requested + 1;
        if stopping {
            self.exit_after.store(epoch, Ordering::Release);
        }
        if let Some(link) = &self.cluster {
            if let Some(mut tally) = link.tally() {
                tally.open(epoch);
            }
            link.to_others(Control::Open {
                epoch,
                exit: stopping,
            });
        }
        self.cut.store(EventTime::MIN, Ordering::Release);
        self.requested.store(epoch, Ordering::Release);
        self.check_aligned(&mut round, epoch);
        drop(round);
        self.wake_workers();
        Some(self.config.interval)
    }

    /// Takes no further checkpoint in this run: something failed that one must not cover.
    pub(crate) fn abandon(&self) {
        self.abandoned.store(true, Ordering::Release);
        self.wake_workers();
    }

    fn is_abandoned(&self) -> bool {
        self.abandoned.load(Ordering::Acquire)
    }

    /// Asks for a last round, after which the workers leave without ending the input.
    pub(crate) fn request_stop(&self) {
        self.stopping.store(true, Ordering::Release);
        if let Some(link) = self.cluster.as_ref().filter(|l| !l.leads()) {
            link.to_leader(Control::Stop {
                process: link.process,
            });
        }
        self.wake_workers();
    }

    /// The round the workers leave after (0: none).
    pub(crate) fn exit_after(&self) -> u64 {
        self.exit_after.load(Ordering::Acquire)
    }

    /// The round that is aligned and waits for worker parts, with its cut.
    pub(crate) fn aligned_round(&self) -> Option<(u64, EventTime)> {
        let aligned = self.aligned.load(Ordering::Acquire);
        (aligned > self.resumed.load(Ordering::Acquire))
            .then(|| (aligned, self.cut.load(Ordering::Acquire)))
    }

    /// This worker's source parts for round `epoch`.
    pub(crate) fn source_parts(
        &self,
        worker: usize,
    ) -> std::collections::BTreeMap<String, SourcePart> {
        let round = self.lock();
        round
            .slots
            .iter()
            .filter(|s| s.worker == worker)
            .filter_map(|s| Some((s.name.clone(), s.done.clone().or(s.paused.clone())?)))
            .collect()
    }

    /// Hands over `part` for round `epoch`, with the sinks' buffers to write; the last worker to do so
    /// lets the sources go on and sends the round to the writer.
    pub(crate) fn contribute(&self, epoch: u64, part: WorkerPart, writes: Vec<Deferred>) {
        let mut round = self.lock();
        round.writes.extend(writes);
        round.pending.extend(part.staged.iter().cloned());
        let worker = part.worker;
        round.parts[worker] = Some(part);
        if round.parts[self.local.clone()].iter().any(Option::is_none) {
            return;
        }
        let parts: Vec<WorkerPart> = round.parts.iter_mut().filter_map(Option::take).collect();
        let manifest = self.manifest(epoch, false, round.pending.clone());
        let writes = std::mem::take(&mut round.writes);
        match &self.cluster {
            // The sources go on once every process has copied its state.
            Some(link) => link.to_leader(Control::Copied {
                process: link.process,
                epoch,
            }),
            None => self.resume(&mut round, epoch),
        }
        drop(round);
        self.send(Job::Round(Persist {
            parts,
            manifest,
            writes,
        }));
        self.wake_workers();
    }

    /// Every worker has copied its state for round `epoch`: the sources go on.
    fn resume(&self, round: &mut Round, epoch: u64) {
        for slot in round.slots.iter_mut() {
            slot.paused = None;
        }
        if let Some(aligned_at) = round.aligned_at.take() {
            let mut stats = self.stats();
            stats.max_pause_us = stats.max_pause_us.max(micros(aligned_at.elapsed()));
        }
        // After a stop's last round the sources stay paused: nothing past its cut is made before
        // the workers leave.
        if epoch != self.exit_after() {
            self.resumed.store(epoch, Ordering::Release);
        }
    }

    fn manifest(&self, epoch: u64, final_: bool, staged: Vec<StagedFile>) -> Manifest {
        Manifest {
            epoch,
            job: self.config.job.clone(),
            workers: self.workers,
            taken_at_ms: now_ms(),
            attempt: self.attempt,
            final_,
            staged,
        }
    }

    fn send(&self, job: Job) {
        if let Some((tx, _)) = self
            .writer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            let _ = tx.send(job);
        }
    }

    /// Does `job` (on the writer thread).
    fn perform(&self, job: Job) {
        match job {
            Job::Round(persist) if self.cluster.is_some() => self.persist_part(persist),
            Job::Round(persist) => self.persist(persist),
            Job::Manifest(manifest) => self.write_manifest(manifest),
            Job::Complete { epoch, ok } => self.completed(epoch, ok),
            Job::Final { epoch } => self.write_final_part(epoch),
            Job::FinalDone { ok } => self.final_done(ok),
        }
    }

    /// Writes a round and commits what it covers (on the writer thread).
    fn persist(&self, persist: Persist) {
        let epoch = persist.manifest.epoch;
        if self.is_abandoned() {
            return;
        }
        match self.write_round(&persist) {
            Ok(()) => {
                self.complete.store(epoch, Ordering::Release);
                if let Err(e) = self.commit_round(&persist.manifest) {
                    // What is not committed stays pending: the next round commits it again.
                    tracing::error!("checkpoint {epoch}: {e}");
                }
            }
            Err(e) => {
                // The round stays incomplete: its output waits for the next one.
                self.stats().failed += 1;
                self.lock().writes.extend(persist.writes);
                eprintln!("checkpoint {epoch} could not be written ({e}); the previous one stays in force");
            }
        }
        self.persisted.store(epoch, Ordering::Release);
        self.wake_workers();
    }

    /// Writes this process's share of a round durably: the sinks' buffers, the sync of the output it
    /// covers, and its workers' parts.
    fn write_parts(&self, round: &Persist) -> Result<(), CheckpointError> {
        let epoch = round.manifest.epoch;
        for deferred in &round.writes {
            deferred.perform(true)?;
        }
        sync_output(&round.manifest.staged)?;
        for part in &round.parts {
            self.store.write_part(epoch, part)?;
        }
        Ok(())
    }

    /// Writes a round durably: [its parts](Self::write_parts), and the manifest last, which makes
    /// the checkpoint complete.
    fn write_round(&self, round: &Persist) -> Result<(), CheckpointError> {
        let epoch = round.manifest.epoch;
        let started = Instant::now();
        self.write_parts(round)?;
        self.store.complete(&round.manifest)?;
        let mut stats = self.stats();
        stats.rounds += 1;
        stats.max_write_us = stats.max_write_us.max(micros(started.elapsed()));
        stats.last_bytes = self.store.size_of(epoch);
        Ok(())
    }

    /// Commits the output a complete checkpoint covers, then prunes old checkpoints.
    fn commit_round(&self, manifest: &Manifest) -> Result<(), CheckpointError> {
        self.commit_staged(&manifest.staged)
    }

    /// Commits `staged` (covered by a complete checkpoint), then prunes old checkpoints (on one
    /// process, or on the leader of several).
    fn commit_staged(&self, staged: &[StagedFile]) -> Result<(), CheckpointError> {
        commit_output(staged)?;
        self.lock().pending.retain(|f| !staged.contains(f));
        match self.cluster.as_ref().is_none_or(Link::leads) {
            true => self.store.prune(),
            false => Ok(()),
        }
    }

    /// A worker has left its loop: `part` holds its sources' last positions and what its sinks staged
    /// last.
    pub(crate) fn worker_finished(&self, part: WorkerPart) {
        let mut round = self.lock();
        round.pending.extend(part.staged.iter().cloned());
        let worker = part.worker;
        round.finished[worker] = Some(part);
    }

    /// Ends the run's checkpoints: waits for the writer, then, if every worker came to the end of its
    /// input, takes the final checkpoint and commits the last output. (On several processes, the
    /// workers have taken it together before they left: see [`Coordinator::try_finishing`].)
    pub(crate) fn finish(&self, input_ended: bool) -> Result<(), CheckpointError> {
        if let Some((tx, handle)) = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take() {
            drop(tx);
            let _ = handle.join();
        }
        if !input_ended || self.is_abandoned() {
            return Ok(());
        }
        if let Some(link) = &self.cluster {
            return match link.final_state() {
                FinalState::Taken => Ok(()),
                _ => Err(CheckpointError::Unfinished {
                    what: "a process did not come to the end of its input, or could not write its \
                           part"
                        .into(),
                }),
            };
        }
        let mut round = self.lock();
        if round.finished.iter().any(Option::is_none) {
            return Ok(());
        }
        let parts: Vec<WorkerPart> = round.finished.iter_mut().filter_map(Option::take).collect();
        let epoch = self.requested.load(Ordering::Acquire).max(self.persisted()) + 1;
        let last = Persist {
            parts,
            manifest: self.manifest(epoch, true, std::mem::take(&mut round.pending)),
            writes: std::mem::take(&mut round.writes),
        };
        drop(round);
        self.write_round(&last)?;
        self.persisted.store(epoch, Ordering::Release);
        self.complete.store(epoch, Ordering::Release);
        self.commit_round(&last.manifest)
    }

    // The source instance's side.

    /// Registers a source instance; returns its slot and its restored part, if any.
    pub(crate) fn register_source(&self, worker: usize, name: &str) -> (usize, Option<SourcePart>) {
        let mut round = self.lock();
        round.slots.push(Slot {
            worker,
            name: name.to_string(),
            seen: self.requested.load(Ordering::Acquire),
            ..Default::default()
        });
        // A checkpoint of another number of workers has no part of this instance's own: see
        // `rescaled_source_parts`.
        let restored = self
            .restored
            .as_ref()
            .filter(|r| !r.rescaled(self.workers))
            .and_then(|r| r.parts.get(worker))
            .and_then(|p| p.sources.get(name))
            .cloned();
        (round.slots.len() - 1, restored)
    }

    /// If the checkpoint being resumed was taken on another number of workers: every old instance's
    /// part of source `name`, for the source to merge ([`SourcePart::merged`]).
    pub(crate) fn rescaled_source_parts(&self, name: &str) -> Option<Vec<SourcePart>> {
        let restored = self.restored.as_ref()?;
        restored.rescaled(self.workers).then(|| {
            restored
                .parts
                .iter()
                .filter_map(|p| p.sources.get(name).cloned())
                .collect()
        })
    }

    /// The round sources take part in.
    #[inline]
    pub(crate) fn requested(&self) -> u64 {
        self.requested.load(Ordering::Acquire)
    }

    /// The cut of the requested round.
    #[inline]
    pub(crate) fn cut(&self) -> EventTime {
        self.cut.load(Ordering::Acquire)
    }

    /// The last round sources may go on after.
    #[inline]
    pub(crate) fn resumed(&self) -> u64 {
        self.resumed.load(Ordering::Acquire)
    }

    /// A source instance sees round `epoch` for the first time, at capability `frontier`: the cut
    /// rises above it.
    pub(crate) fn source_sees(&self, slot: usize, epoch: u64, frontier: EventTime) {
        self.cut
            .fetch_max(frontier.saturating_add(1), Ordering::AcqRel);
        let mut round = self.lock();
        round.slots[slot].seen = epoch;
        self.check_aligned(&mut round, epoch);
    }

    /// A source instance pauses at the cut of round `epoch` with `part`.
    pub(crate) fn source_pauses(&self, slot: usize, epoch: u64, part: SourcePart) {
        let mut round = self.lock();
        round.slots[slot].paused = Some(part);
        self.check_aligned(&mut round, epoch);
    }

    /// A paused source instance found the cut above its capability: it reads on.
    pub(crate) fn source_unpauses(&self, slot: usize) {
        self.lock().slots[slot].paused = None;
    }

    /// A source instance's input has ended.
    pub(crate) fn source_done(&self, slot: usize, part: SourcePart) {
        let mut round = self.lock();
        round.slots[slot].done = Some(part);
        let epoch = self.requested.load(Ordering::Acquire);
        self.check_aligned(&mut round, epoch);
    }

    /// Marks round `epoch` aligned once every instance has seen it and paused at its final cut.
    fn check_aligned(&self, round: &mut Round, epoch: u64) {
        if epoch <= self.aligned.load(Ordering::Acquire) || epoch <= self.resumed() {
            return;
        }
        if round.built < self.local.len() {
            return;
        }
        if let Some(link) = &self.cluster {
            // The cut is final once every process's instances have seen the round: report ours, and
            // wait for the leader's.
            let all_seen = round
                .slots
                .iter()
                .all(|s| s.done.is_some() || s.seen == epoch);
            if all_seen && link.seen_sent.fetch_max(epoch, Ordering::AcqRel) < epoch {
                link.to_leader(Control::Seen {
                    process: link.process,
                    epoch,
                    cut: self.cut(),
                });
                self.wake_workers();
            }
            if link.cut_final.load(Ordering::Acquire) != epoch {
                return;
            }
        }
        let cut = self.cut();
        let ready = round.slots.iter().all(|s| {
            s.done.is_some()
                || (s.seen == epoch && s.paused.as_ref().is_some_and(|p| p.frontier >= cut))
        });
        if ready {
            let now = Instant::now();
            if let Some(opened_at) = round.opened_at {
                let mut stats = self.stats();
                stats.max_alignment_us = stats
                    .max_alignment_us
                    .max(micros(now.saturating_duration_since(opened_at)));
            }
            round.aligned_at = Some(now);
            self.aligned.store(epoch, Ordering::Release);
            self.wake_workers();
        }
    }
}

/// Makes the output a round covers durable before its manifest is written.
fn sync_output(files: &[StagedFile]) -> Result<(), CheckpointError> {
    files.iter().try_for_each(|file| {
        file.sync().map_err(|source| CheckpointError::Io {
            what: "cannot sync output",
            path: file.staged.clone(),
            source,
        })
    })
}

/// Makes the output a complete checkpoint covers visible (again, after a crash between its manifest
/// and its commit: a file committed already is left as it is).
fn commit_output(files: &[StagedFile]) -> Result<(), CheckpointError> {
    files.iter().try_for_each(|file| {
        file.commit().map_err(|source| CheckpointError::Io {
            what: "cannot commit staged output",
            path: file.staged.clone(),
            source,
        })
    })
}
