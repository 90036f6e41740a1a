//! Writes results to text files in a directory, atomically.
//!
//! Each worker buffers its lines and, when the frontier moves (so the buffered records are complete) and
//! at least `roll_interval` has passed since its last file, or when the stream ends, writes them to a
//! hidden temporary file, syncs it and renames it to `part-WWWWW-NNNNNN.EXT`. A reader never sees a
//! partial file, and a crash leaves only hidden `.tmp` files behind. In micro-batch mode with a roll
//! interval no longer than the batch interval, that is one file per batch and worker.
//!
//! Under a delivery guarantee, each checkpoint round takes the buffer (one part file per round and
//! worker, written and synced by the checkpoint's writer thread, so the worker does not wait for the
//! disk); the worker writes a part itself only if its buffer outgrows
//! `defaults::FILE_BUFFER_UNDER_CHECKPOINTS` between two rounds. Part names carry the checkpoint
//! round and the attempt (`part-WWWWW-EEEEEEEE-AAA-NNNN.EXT`), so that a resumed run never reuses a
//! name. With exactly-once the files are *staged*: written under a hidden name (`.part-....staged`)
//! and renamed to their visible name only when the checkpoint that covers them is complete; a run that
//! starts removes what a crashed run of the same worker staged and never committed.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use caudal_operators::{Event, EventTime};

use super::{Format, Sink, SinkContext, SinkError, SinkFactory};
use crate::checkpoint::store::{Deferred, DeferredWrite, PreCommit, StagedFile};
use crate::config::defaults;
use crate::source::WorkerInfo;

/// Atomically written part files in a directory.
pub struct FileSink<D> {
    dir: PathBuf,
    format: Format<D>,
    roll_interval: Duration,
}

impl<D: 'static> FileSink<D> {
    /// Part files in `dir` (created if missing), in `format`, rolled at most once a second.
    pub fn new(dir: impl Into<PathBuf>, format: Format<D>) -> Self {
        FileSink {
            dir: dir.into(),
            format,
            roll_interval: defaults::FILE_ROLL_INTERVAL,
        }
    }

    /// Starts a new file at most every `interval` (and at the end).
    pub fn roll_every(mut self, interval: Duration) -> Self {
        self.roll_interval = interval;
        self
    }
}

struct FileSinkWorker<D> {
    dir: PathBuf,
    format: Format<D>,
    roll_interval: Duration,
    worker: usize,
    next_part: u64,
    last_roll: Instant,
    buf: Vec<u8>,
    ctx: SinkContext,
    /// Files staged since the last pre-commit.
    staged: Vec<StagedFile>,
}

fn io(what: String) -> impl FnOnce(std::io::Error) -> SinkError {
    move |source| SinkError::Io { what, source }
}

impl<D> FileSinkWorker<D> {
    /// The buffered lines as the next part file: where to write them, and the name that makes them
    /// visible. Under a guarantee, part names carry the round and the attempt; under exactly-once the
    /// file is staged under a hidden name and committed with its checkpoint.
    fn next_write(&mut self) -> Option<(DeferredWrite, StagedFile)> {
        if self.buf.is_empty() {
            return None;
        }
        let ext = &self.format.extension;
        let name = match self.ctx.guarantee.checkpoints() {
            false => format!("part-{:05}-{:06}.{ext}", self.worker, self.next_part),
            true => format!(
                "part-{:05}-{:08}-{:03}-{:04}.{ext}",
                self.worker, self.ctx.epoch, self.ctx.attempt, self.next_part
            ),
        };
        let done = self.dir.join(&name);
        let (path, rename_to, staged) = if self.ctx.guarantee.transactional() {
            let staged = self.dir.join(format!(".{name}.staged"));
            (staged.clone(), None, staged)
        } else {
            let tmp = self.dir.join(format!(".{name}.tmp"));
            (tmp, Some(done.clone()), done.clone())
        };
        self.next_part += 1;
        self.last_roll = Instant::now();
        let write = DeferredWrite {
            path,
            bytes: std::mem::take(&mut self.buf),
            rename_to,
        };
        Some((
            write,
            StagedFile {
                staged,
                committed: done,
                publish: None,
            },
        ))
    }

    /// Writes the buffered lines now (a roll, or the end of the stream). Without a guarantee the file
    /// is synced before it is renamed into sight; under one, the checkpoint's writer syncs it before
    /// the checkpoint completes, off this worker.
    fn commit(&mut self) -> Result<(), SinkError> {
        let Some((write, staged)) = self.next_write() else {
            return Ok(());
        };
        write
            .perform(!self.ctx.guarantee.checkpoints())
            .map_err(io(format!("writing {}", write.path.display())))?;
        if self.ctx.guarantee.checkpoints() {
            self.staged.push(staged);
        }
        // Keep the buffer's capacity for the next part.
        self.buf = write.bytes;
        self.buf.clear();
        Ok(())
    }
}

/// The visible part files in `dir` (a run's committed output), in name order; none if `dir` does not
/// exist.
pub fn part_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut parts = Vec::new();
    for entry in entries {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with("part-") && entry.path().is_file() {
            parts.push(entry.path());
        }
    }
    parts.sort();
    Ok(parts)
}

impl<D> FileSinkWorker<D> {
    /// Removes this worker's hidden files that a killed run left: temporary files, and staged output
    /// that no complete checkpoint covers (what one covers was committed before the sinks start).
    fn clear_leftovers(&self) -> Result<(), SinkError> {
        let prefix = format!(".part-{:05}-", self.worker);
        let entries =
            std::fs::read_dir(&self.dir).map_err(io(format!("listing {}", self.dir.display())))?;
        let mut removed = 0;
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(&prefix) && (name.ends_with(".staged") || name.ends_with(".tmp")) {
                std::fs::remove_file(entry.path())
                    .map_err(io(format!("removing {}", entry.path().display())))?;
                removed += 1;
            }
        }
        if removed > 0 {
            tracing::warn!(
                "removed {removed} unfinished part files that an interrupted run left in {}",
                self.dir.display()
            );
        }
        Ok(())
    }
}

impl<D: 'static> Sink<D> for FileSinkWorker<D> {
    fn start(&mut self, ctx: &SinkContext) -> Result<(), SinkError> {
        self.ctx = *ctx;
        self.clear_leftovers()
    }

    /// Hands the buffered lines to the checkpoint's writer (the worker does not wait for the disk),
    /// with the files written since the last round.
    fn pre_commit(&mut self, next_epoch: u64) -> Result<PreCommit, SinkError> {
        let mut handed = PreCommit {
            files: std::mem::take(&mut self.staged),
            writes: Vec::new(),
        };
        if let Some((write, staged)) = self.next_write() {
            handed.writes.push(Deferred::Write(write));
            handed.files.push(staged);
        }
        self.ctx.epoch = next_epoch;
        self.next_part = 0;
        Ok(handed)
    }

    fn write(&mut self, records: &mut Vec<Event<D>>) -> Result<(), SinkError> {
        for event in records.iter() {
            self.format.line(event, &mut self.buf);
        }
        Ok(())
    }

    fn progress(&mut self, frontier: Option<EventTime>) -> Result<(), SinkError> {
        // Under a guarantee every checkpoint round hands the buffer to the checkpoint's writer, so
        // the worker itself writes only a buffer grown past its bound between two rounds.
        let roll = match self.ctx.guarantee.checkpoints() {
            false => self.last_roll.elapsed() >= self.roll_interval,
            true => self.buf.len() >= defaults::FILE_BUFFER_UNDER_CHECKPOINTS,
        };
        if frontier.is_none() || roll {
            self.commit()?;
        }
        Ok(())
    }
}

impl<D: 'static> SinkFactory<D> for FileSink<D> {
    fn make(&self, worker: WorkerInfo) -> Result<Box<dyn Sink<D>>, SinkError> {
        std::fs::create_dir_all(&self.dir)
            .map_err(io(format!("creating {}", self.dir.display())))?;
        Ok(Box::new(FileSinkWorker {
            dir: self.dir.clone(),
            format: self.format.clone(),
            roll_interval: self.roll_interval,
            worker: worker.index,
            next_part: 0,
            last_roll: Instant::now(),
            buf: Vec::new(),
            ctx: SinkContext::default(),
            staged: Vec::new(),
        }))
    }
}
