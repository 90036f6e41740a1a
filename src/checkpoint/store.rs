//! The durable store of checkpoints: plain files, each written to a hidden temporary name, fsync'd and
//! renamed into place, in a versioned frame with a CRC-32 of its contents.
//!
//! Why files and not an embedded database: a checkpoint is written once and read once, whole, by the
//! worker that wrote it; what it needs is atomic replacement and detection of damage, which `rename`
//! and a checksum give without a dependency. (`redb`, measured at 1.4–1.8 ms per fsync'd 64 KiB commit,
//! would be the choice for incremental checkpoints that update keys in place.)
//!
//! Layout, one directory per job:
//!
//! ```text
//! DIR/checkpoint-0000000041/worker-00000.bin   one per worker: its operators' state, sources, staged output
//! DIR/checkpoint-0000000041/MANIFEST           written last: the checkpoint is complete once it exists
//! ```
//!
//! Every file is a frame: the magic `CAUDALCK`, the format version (`u32`), the payload's length
//! (`u64`) and CRC-32 (`u32`), then the payload (bincode). A file whose magic, length or checksum is
//! wrong is *damaged*; one whose version is unknown is refused as such; one of another job or another
//! number of workers is *foreign*. Each error names the file.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bincode::Options;
use caudal_operators::shell::WorkerSnapshot;
use caudal_operators::time::MIN_FRONTIER;
use caudal_operators::EventTime;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::in_flight::InFlight;

/// The format of checkpoint files (runtime and DStream checkpoints). Bump it when a stored type
/// changes. 3: DStream checkpoints keep input positions (Kafka direct streams). 4: a keyed operator is
/// known by its name and ordinal, not by its timely address (which moves with the number of workers).
/// 5: event times are signed (`i64`, negative before 1970): a source's frontier and largest event
/// time, and every time in operator state and timers; a source that has ended keeps `i64::MAX` (it
/// was `u64::MAX`, which would read as -1), and "nothing complete" is `i64::MIN` (it was 0).
pub const FORMAT: u32 = 5;

const MAGIC: &[u8; 8] = b"CAUDALCK";
const HEADER: usize = 8 + 4 + 8 + 4;
const MANIFEST: &str = "MANIFEST";

/// Why a checkpoint could not be written or used.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// Reading or writing failed.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not what was written: truncated, overwritten or flipped.
    #[error("checkpoint file {} is damaged: {what}; move the checkpoint directory {} away to resume from the one before it (output committed since then would appear again)", path.display(), path.parent().map_or(Path::new(""), |p| p).display())]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// The file was written by another version of Caudal.
    #[error("checkpoint file {} has format {found}, this Caudal reads format {FORMAT}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// Its format.
        found: u32,
    },
    /// The checkpoint belongs to another job or configuration.
    #[error("checkpoint {} belongs to another run: {what}; use another --checkpoint-dir, or remove this one to start afresh", path.display())]
    Foreign {
        /// The manifest.
        path: PathBuf,
        /// What differs.
        what: String,
    },
    /// The final checkpoint of a run over several processes was not taken.
    #[error("the final checkpoint was not taken: {what}; running the same command again resumes from the last complete checkpoint")]
    Unfinished {
        /// Why.
        what: String,
    },
    /// Output sent in the round was not acknowledged by its destination.
    #[error("output to {destination}: {what}")]
    Unacknowledged {
        /// Where the output went.
        destination: String,
        /// What went wrong.
        what: String,
    },
    /// The restored state does not fit the pipeline being built.
    #[error("checkpoint {} does not fit this pipeline: {what}", path.display())]
    Mismatch {
        /// The checkpoint's directory.
        path: PathBuf,
        /// What does not fit.
        what: String,
    },
}

/// One source instance's place in the input at a checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourcePart {
    /// Its offset ([`crate::source::Source::offset`]): where a restart reads on.
    pub offset: u64,
    /// Its capability (the watermark plus one, signed: `i64::MIN` before anything is complete,
    /// `i64::MAX` once its input has ended), where a restart puts it back.
    pub frontier: EventTime,
    /// The largest event time it had seen, so that its watermark goes on from there.
    pub max_seen: Option<EventTime>,
    /// Whether its input had ended.
    pub done: bool,
    /// What else the source needs to go on ([`crate::source::Source::position`]).
    pub position: Vec<u8>,
}

impl SourcePart {
    /// The part of a live source (a socket, a channel) whose input had ended: it reads again, from
    /// where its watermark was.
    pub fn reopened(self) -> Self {
        match self.done {
            false => self,
            true => SourcePart {
                frontier: self.max_seen.map_or(MIN_FRONTIER, |t| t.saturating_add(1)),
                done: false,
                ..self
            },
        }
    }

    /// One instance's part, from the parts of every instance of a run on another number of workers:
    /// `position` is the source's merge of theirs ([`crate::source::Source::merge_positions`]), the
    /// frontier and largest event time are the lowest of theirs (no record still to come is behind the
    /// watermark), the input has ended only if it had for all, and the offset counts afresh.
    pub fn merged(parts: &[SourcePart], position: Vec<u8>) -> SourcePart {
        SourcePart {
            offset: 0,
            frontier: parts
                .iter()
                .map(|p| p.frontier)
                .min()
                .unwrap_or(MIN_FRONTIER),
            max_seen: parts.iter().filter_map(|p| p.max_seen).min(),
            done: !parts.is_empty() && parts.iter().all(|p| p.done),
            position,
        }
    }
}

/// Output a sink wrote for a checkpoint: a file to make durable before the checkpoint completes, and,
/// if it is staged under a hidden name, the name that commits it (the same name for output that is
/// visible already).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagedFile {
    /// Where it is staged (a hidden name).
    pub staged: PathBuf,
    /// Its name once committed.
    pub committed: PathBuf,
    /// Where its records go when it is committed, for output that is not a file (a Kafka topic);
    /// `None` for a file that a rename commits.
    pub publish: Option<super::publish::Publish>,
}

impl StagedFile {
    /// Makes the file durable (the checkpoint's writer does it before the manifest, off the workers).
    pub fn sync(&self) -> std::io::Result<()> {
        if self.publish.is_some() && !self.staged.exists() {
            // Published already (a commit repeated after a crash).
            return Ok(());
        }
        let path = if self.staged.exists() {
            &self.staged
        } else {
            &self.committed
        };
        File::open(path)?.sync_all()
    }

    /// Makes the file visible; a file already committed (a commit repeated after a crash) is left as
    /// it is.
    pub fn commit(&self) -> std::io::Result<()> {
        if let Some(publish) = &self.publish {
            return super::publish::commit(publish, &self.staged);
        }
        match fs::rename(&self.staged, &self.committed) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && self.committed.exists() => Ok(()),
            other => other,
        }
    }
}

/// Bytes a sink hands to the checkpoint's writer at a round, to be written (and synced) off the worker:
/// the worker only gives up its buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeferredWrite {
    /// Where to write them (a hidden name).
    pub path: PathBuf,
    /// The bytes.
    pub bytes: Vec<u8>,
    /// The name to rename the file to once it is durable (output visible at once), if any.
    pub rename_to: Option<PathBuf>,
}

impl DeferredWrite {
    /// Writes the file (synced if `sync`), and renames it if asked.
    pub fn perform(&self, sync: bool) -> std::io::Result<()> {
        let mut file = File::create(&self.path)?;
        file.write_all(&self.bytes)?;
        if sync {
            file.sync_all()?;
        }
        match &self.rename_to {
            Some(to) => fs::rename(&self.path, to),
            None => Ok(()),
        }
    }
}

/// What a sink hands to the checkpoint's writer at a round, to be done off the worker before the round
/// is durable.
#[derive(Clone, Debug)]
pub enum Deferred {
    /// Bytes to write (and sync).
    Write(DeferredWrite),
    /// Output sent in the round, which its destination must acknowledge within `timeout` (an
    /// at-least-once sink's flush).
    Acknowledged {
        /// The round's records not yet acknowledged.
        in_flight: InFlight,
        /// How long the writer waits.
        timeout: Duration,
        /// Where the output went, for the error.
        destination: String,
    },
}

impl Deferred {
    /// Does it (on the checkpoint's writer): writes the bytes (synced if `sync`), or waits for the
    /// acknowledgements.
    pub fn perform(&self, sync: bool) -> Result<(), CheckpointError> {
        match self {
            Deferred::Write(write) => write.perform(sync).map_err(|source| CheckpointError::Io {
                what: "cannot write output",
                path: write.path.clone(),
                source,
            }),
            Deferred::Acknowledged {
                in_flight,
                timeout,
                destination,
            } => in_flight
                .wait(*timeout)
                .map_err(|what| CheckpointError::Unacknowledged {
                    destination: destination.clone(),
                    what,
                }),
        }
    }
}

/// What a sink hands over at a checkpoint round ([`crate::sink::Sink::pre_commit`]).
#[derive(Clone, Debug, Default)]
pub struct PreCommit {
    /// Files it wrote since the last round: made durable before the checkpoint completes, and
    /// committed (renamed to their visible name) once it has.
    pub files: Vec<StagedFile>,
    /// What the checkpoint's writer does first: buffers to write, acknowledgements to wait for.
    pub writes: Vec<Deferred>,
}

impl PreCommit {
    /// Adds `other` to this one.
    pub fn extend(&mut self, other: PreCommit) {
        self.files.extend(other.files);
        self.writes.extend(other.writes);
    }
}

/// One worker's part of a checkpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerPart {
    /// The worker.
    pub worker: usize,
    /// Its keyed operators' state and timers.
    pub state: WorkerSnapshot,
    /// Its source instances, by source name.
    pub sources: BTreeMap<String, SourcePart>,
    /// What its sinks staged in this round.
    pub staged: Vec<StagedFile>,
}

/// A complete checkpoint's description, written last.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The round.
    pub epoch: u64,
    /// The job ([`super::CheckpointConfig::job`]).
    pub job: String,
    /// Workers over all processes.
    pub workers: usize,
    /// When it was taken, in ms since the Unix epoch.
    pub taken_at_ms: u64,
    /// How many times the job had been resumed when it was taken.
    pub attempt: u64,
    /// Whether the run ended with it (its input was exhausted).
    pub final_: bool,
    /// Output staged by the round, committed once this manifest exists.
    pub staged: Vec<StagedFile>,
}

/// A checkpoint read back for a restart.
#[derive(Clone, Debug)]
pub struct Restored {
    /// Its manifest.
    pub manifest: Manifest,
    /// Its directory.
    pub dir: PathBuf,
    /// Each worker's part, by worker index.
    pub parts: Vec<WorkerPart>,
}

impl Restored {
    /// Whether it was taken on another number of workers than `workers`.
    pub fn rescaled(&self, workers: usize) -> bool {
        self.manifest.workers != workers
    }
}

/// One job's checkpoint directory.
#[derive(Clone, Debug)]
pub struct CheckpointStore {
    dir: PathBuf,
    keep: usize,
}

impl CheckpointStore {
    /// The store in `dir` (created if missing), keeping the last `keep` complete checkpoints.
    pub fn open(dir: impl Into<PathBuf>, keep: usize) -> Result<Self, CheckpointError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|source| CheckpointError::Io {
            what: "cannot create the checkpoint directory",
            path: dir.clone(),
            source,
        })?;
        Ok(CheckpointStore {
            dir,
            keep: keep.max(1),
        })
    }

    /// The job's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The directory of round `epoch`.
    pub fn epoch_dir(&self, epoch: u64) -> PathBuf {
        self.dir.join(format!("checkpoint-{epoch:010}"))
    }

    /// The bytes of round `epoch`'s files.
    pub fn size_of(&self, epoch: u64) -> u64 {
        fs::read_dir(self.epoch_dir(epoch)).map_or(0, |entries| {
            entries
                .filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
    }

    /// Writes `part` into round `epoch`, durably.
    pub fn write_part(&self, epoch: u64, part: &WorkerPart) -> Result<(), CheckpointError> {
        let dir = self.epoch_dir(epoch);
        fs::create_dir_all(&dir).map_err(|source| CheckpointError::Io {
            what: "cannot create",
            path: dir.clone(),
            source,
        })?;
        let path = dir.join(part_name(part.worker));
        let injected = |source| CheckpointError::Io {
            what: "cannot write",
            path: path.clone(),
            source,
        };
        failpoint("write", epoch).map_err(injected)?;
        if failpoint("torn", epoch).is_err() {
            // A write cut short, as a crash in the middle of it would leave it.
            let bytes = frame(part);
            let _ = fs::write(&path, &bytes[..bytes.len() / 2]);
            return Err(injected(std::io::Error::other("injected: torn write")));
        }
        write_framed(&path, part)
    }

    /// Writes the manifest of round `manifest.epoch`: from now on the checkpoint is complete.
    pub fn complete(&self, manifest: &Manifest) -> Result<(), CheckpointError> {
        let dir = self.epoch_dir(manifest.epoch);
        failpoint("fsync", manifest.epoch).map_err(|source| CheckpointError::Io {
            what: "cannot sync",
            path: dir.join(MANIFEST),
            source,
        })?;
        write_framed(&dir.join(MANIFEST), manifest)?;
        sync_dir(&self.dir)
    }

    /// The rounds in the directory, oldest first, with whether each is complete.
    fn rounds(&self) -> Result<Vec<(u64, bool)>, CheckpointError> {
        let entries = fs::read_dir(&self.dir).map_err(|source| CheckpointError::Io {
            what: "cannot list",
            path: self.dir.clone(),
            source,
        })?;
        let mut rounds: Vec<(u64, bool)> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let epoch = name.strip_prefix("checkpoint-")?.parse().ok()?;
                Some((epoch, e.path().join(MANIFEST).exists()))
            })
            .collect();
        rounds.sort_unstable();
        Ok(rounds)
    }

    /// The last complete checkpoint of `job`, on whatever number of workers it was taken, if any. A
    /// damaged, foreign or unreadable one is an error (never skipped silently: its output may already be
    /// committed).
    pub fn latest(&self, job: &str) -> Result<Option<Restored>, CheckpointError> {
        let Some(epoch) = self
            .rounds()?
            .into_iter()
            .rev()
            .find_map(|(e, complete)| complete.then_some(e))
        else {
            return Ok(None);
        };
        let dir = self.epoch_dir(epoch);
        let manifest_path = dir.join(MANIFEST);
        let manifest: Manifest = read_framed(&manifest_path)?;
        if manifest.job != job {
            return Err(CheckpointError::Foreign {
                path: manifest_path,
                what: format!("it is of `{}`, this run is `{job}`", manifest.job),
            });
        }
        let mut parts = Vec::with_capacity(manifest.workers);
        for worker in 0..manifest.workers {
            let path = dir.join(part_name(worker));
            let part: WorkerPart = read_framed(&path)?;
            if part.worker != worker {
                return Err(CheckpointError::Damaged {
                    path,
                    what: format!("it holds worker {}'s part", part.worker),
                });
            }
            parts.push(part);
        }
        Ok(Some(Restored {
            manifest,
            dir,
            parts,
        }))
    }

    /// Removes the rounds that did not complete after the last complete one (a crash during a round);
    /// returns how many. (Their staged output is discarded by the sinks as they start.)
    pub fn clear_incomplete(&self) -> Result<usize, CheckpointError> {
        let rounds = self.rounds()?;
        let last_complete = rounds.iter().rev().find(|(_, c)| *c).map(|(e, _)| *e);
        let mut removed = 0;
        for (epoch, complete) in rounds {
            if !complete && last_complete.is_none_or(|last| epoch > last) {
                remove_dir(&self.epoch_dir(epoch))?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Removes complete checkpoints beyond the last `keep`, and incomplete ones older than the last
    /// complete one.
    pub fn prune(&self) -> Result<(), CheckpointError> {
        let rounds = self.rounds()?;
        let complete: Vec<u64> = rounds.iter().filter(|(_, c)| *c).map(|(e, _)| *e).collect();
        let Some(&oldest_kept) = complete.get(complete.len().saturating_sub(self.keep)) else {
            return Ok(());
        };
        for (epoch, _) in rounds {
            if epoch < oldest_kept {
                remove_dir(&self.epoch_dir(epoch))?;
            }
        }
        Ok(())
    }
}

/// Fault injection for tests, in debug builds only: `CAUDAL_FAILPOINTS=write@3,fsync@4,torn@5` makes
/// writing round 3's parts fail as a full disk would, round 4's fsync fail, and round 5's part be
/// written half. Release builds never read the variable.
fn failpoint(point: &str, epoch: u64) -> std::io::Result<()> {
    #[cfg(debug_assertions)]
    if let Ok(spec) = std::env::var("CAUDAL_FAILPOINTS") {
        if spec.split(',').any(|p| p == format!("{point}@{epoch}")) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                format!("injected failure: {point} of checkpoint {epoch}"),
            ));
        }
    }
    let _ = (point, epoch);
    Ok(())
}

fn part_name(worker: usize) -> String {
    format!("worker-{worker:05}.bin")
}

fn remove_dir(path: &Path) -> Result<(), CheckpointError> {
    fs::remove_dir_all(path).map_err(|source| CheckpointError::Io {
        what: "cannot remove",
        path: path.to_path_buf(),
        source,
    })
}

fn sync_dir(path: &Path) -> Result<(), CheckpointError> {
    File::open(path)
        .and_then(|d| d.sync_all())
        .map_err(|source| CheckpointError::Io {
            what: "cannot sync",
            path: path.to_path_buf(),
            source,
        })
}

/// `value` in a frame.
fn frame<T: Serialize>(value: &T) -> Vec<u8> {
    let payload = bincode::serialize(value).expect("checkpoint types serialize");
    let mut bytes = Vec::with_capacity(HEADER + payload.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&FORMAT.to_le_bytes());
    bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    bytes.extend_from_slice(&payload);
    bytes
}

/// Writes `value` to `path` atomically and durably: a hidden temporary file, fsync, rename.
pub(crate) fn write_framed<T: Serialize>(path: &Path, value: &T) -> Result<(), CheckpointError> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let io = |what| {
        let path = tmp.clone();
        move |source| CheckpointError::Io { what, path, source }
    };
    let mut file = File::create(&tmp).map_err(io("cannot create"))?;
    file.write_all(&frame(value)).map_err(io("cannot write"))?;
    file.sync_all().map_err(io("cannot sync"))?;
    fs::rename(&tmp, path).map_err(io("cannot rename into place"))
}

/// Reads the value framed in `path`, checking magic, format, length and checksum.
pub(crate) fn read_framed<T: DeserializeOwned>(path: &Path) -> Result<T, CheckpointError> {
    let bytes = fs::read(path).map_err(|source| CheckpointError::Io {
        what: "cannot read",
        path: path.to_path_buf(),
        source,
    })?;
    unframe(&bytes).map_err(|e| match e {
        Unframe::Format(found) => CheckpointError::Format {
            path: path.to_path_buf(),
            found,
        },
        Unframe::Damaged(what) => CheckpointError::Damaged {
            path: path.to_path_buf(),
            what,
        },
    })
}

enum Unframe {
    Format(u32),
    Damaged(String),
}

/// Reads a checkpoint manifest from the bytes of its file, checking the frame (magic, format, length,
/// checksum) and the contents: what a run does with each `MANIFEST` it finds.
pub fn decode_manifest(bytes: &[u8]) -> Result<Manifest, String> {
    unframe(bytes).map_err(Unframe::into_message)
}

/// Reads a worker's part of a checkpoint from the bytes of its file (see [`decode_manifest`]).
pub fn decode_part(bytes: &[u8]) -> Result<WorkerPart, String> {
    unframe(bytes).map_err(Unframe::into_message)
}

impl Unframe {
    fn into_message(self) -> String {
        match self {
            Unframe::Format(found) => format!("format version {found} is not this build's"),
            Unframe::Damaged(what) => what,
        }
    }
}

fn unframe<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Unframe> {
    if bytes.len() < HEADER || &bytes[..8] != MAGIC {
        return Err(Unframe::Damaged(
            "it does not start with a checkpoint header".into(),
        ));
    }
    let word = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
    let format = word(8);
    if format != FORMAT {
        return Err(Unframe::Format(format));
    }
    let len = u64::from_le_bytes(bytes[12..20].try_into().expect("8 bytes"));
    let payload = &bytes[HEADER..];
    if payload.len() as u64 != len {
        return Err(Unframe::Damaged(format!(
            "it holds {} bytes of data, its header says {len} (a torn write?)",
            payload.len()
        )));
    }
    if crc32fast::hash(payload) != word(20) {
        return Err(Unframe::Damaged(
            "its checksum does not match its contents".into(),
        ));
    }
    // Bounded by the payload: a damaged length inside it cannot ask for more memory than that.
    bincode::options()
        .with_fixint_encoding()
        .allow_trailing_bytes()
        .with_limit(len)
        .deserialize(payload)
        .map_err(|e| Unframe::Damaged(format!("its contents cannot be read: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store in a directory of the test's own, removed when the directory is dropped.
    fn temp_store(name: &str) -> (tempfile::TempDir, CheckpointStore) {
        let dir = tempfile::TempDir::with_prefix(format!("caudal-store-{name}-")).unwrap();
        let store = CheckpointStore::open(dir.path().join("store"), 2).unwrap();
        (dir, store)
    }

    fn manifest(epoch: u64, workers: usize) -> Manifest {
        Manifest {
            epoch,
            job: "job".into(),
            workers,
            taken_at_ms: 7,
            attempt: 0,
            final_: false,
            staged: vec![],
        }
    }

    fn part(worker: usize, offset: u64) -> WorkerPart {
        let mut part = WorkerPart {
            worker,
            ..Default::default()
        };
        part.sources.insert(
            "input".into(),
            SourcePart {
                offset,
                frontier: offset as EventTime + 1,
                max_seen: Some(offset as EventTime),
                done: false,
                position: Vec::new(),
            },
        );
        part
    }

    fn take(store: &CheckpointStore, epoch: u64, workers: usize) {
        for w in 0..workers {
            store
                .write_part(epoch, &part(w, epoch * 10 + w as u64))
                .unwrap();
        }
        store.complete(&manifest(epoch, workers)).unwrap();
    }

    #[test]
    fn the_latest_complete_checkpoint_is_read_back_and_an_incomplete_one_is_ignored() {
        let (_dir, store) = temp_store("latest");
        assert!(store.latest("job").unwrap().is_none());
        take(&store, 1, 2);
        take(&store, 2, 2);
        // Round 3 crashed after one part: no manifest.
        store.write_part(3, &part(0, 99)).unwrap();
        let restored = store.latest("job").unwrap().unwrap();
        assert_eq!(restored.manifest.epoch, 2);
        assert_eq!(restored.parts, vec![part(0, 20), part(1, 21)]);
        assert_eq!(store.clear_incomplete().unwrap(), 1);
        assert!(!store.epoch_dir(3).exists());
    }

    #[test]
    fn pruning_keeps_the_last_complete_checkpoints() {
        let (_dir, store) = temp_store("prune");
        for epoch in 1..=4 {
            take(&store, epoch, 1);
        }
        store.prune().unwrap();
        let left: Vec<u64> = store
            .rounds()
            .unwrap()
            .into_iter()
            .map(|(e, _)| e)
            .collect();
        assert_eq!(left, vec![3, 4]);
    }

    #[test]
    fn a_damaged_file_is_refused_with_its_name_and_what_is_wrong() {
        let (_dir, store) = temp_store("damaged");
        take(&store, 1, 1);
        let path = store.epoch_dir(1).join(part_name(0));
        let good = fs::read(&path).unwrap();

        // A flipped byte in the payload.
        let mut flipped = good.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0x40;
        fs::write(&path, &flipped).unwrap();
        let err = store.latest("job").unwrap_err().to_string();
        assert!(
            err.contains("worker-00000.bin") && err.contains("checksum"),
            "{err}"
        );

        // A torn write: the file cut short.
        fs::write(&path, &good[..good.len() - 3]).unwrap();
        let err = store.latest("job").unwrap_err().to_string();
        assert!(
            err.contains("worker-00000.bin") && err.contains("torn"),
            "{err}"
        );

        // Not a checkpoint at all.
        fs::write(&path, b"hello").unwrap();
        let err = store.latest("job").unwrap_err().to_string();
        assert!(err.contains("header"), "{err}");

        // Another format version.
        let mut other = good.clone();
        other[8..12].copy_from_slice(&99u32.to_le_bytes());
        fs::write(&path, &other).unwrap();
        let err = store.latest("job").unwrap_err().to_string();
        assert!(err.contains("format 99"), "{err}");

        // Nothing was overwritten: the good bytes still read.
        fs::write(&path, &good).unwrap();
        assert!(store.latest("job").unwrap().is_some());
    }

    #[test]
    fn a_checkpoint_of_another_job_is_refused() {
        let (_dir, store) = temp_store("foreign");
        take(&store, 1, 2);
        let err = store.latest("other").unwrap_err().to_string();
        assert!(err.contains("MANIFEST") && err.contains("`job`"), "{err}");
    }

    #[test]
    fn a_checkpoint_of_another_worker_count_gives_every_old_part() {
        let (_dir, store) = temp_store("rescale");
        take(&store, 1, 2);
        let restored = store.latest("job").unwrap().unwrap();
        assert_eq!(restored.manifest.workers, 2);
        let workers: Vec<usize> = restored.parts.iter().map(|p| p.worker).collect();
        assert_eq!(workers, vec![0, 1]);
    }
}
