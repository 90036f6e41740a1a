//! DStream checkpoints: what [`StreamingContext::checkpoint`](super::StreamingContext::checkpoint) keeps
//! so that [`StreamingContext::get_or_create`](super::StreamingContext::get_or_create) can bring a
//! program back after a crash, as Spark's metadata and state checkpoints do.
//!
//! A checkpoint is taken by the context's first worker after a batch, when every batch the input
//! streams have emitted is complete (its output operations have run): then every operator's state
//! reflects exactly the batches before the next one, nothing is in flight, and the inputs' offsets are
//! where that next batch starts. On several workers, the first holds the next batch back until every
//! worker has handed it a snapshot of its operators, taken at that same point. It holds the next batch's index, the context's settings (interval, clock,
//! partitions), each input's offset, and every stateful operator's state (`update_state_by_key`,
//! windows, `reduce_by_key_and_window`; they run on the keyed-operator shell, whose registry
//! snapshots them). One file per checkpoint, `batch-NNNNNNNNNN.ckpt`, in the checksummed, versioned
//! frame of the runtime's checkpoints, written to a hidden file, synced and renamed; the last two are
//! kept.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use caudal_operators::shell::WorkerSnapshot;
use serde::{Deserialize, Serialize};

use crate::checkpoint::store::{read_framed, write_framed};
use crate::checkpoint::CheckpointError;

/// How many checkpoints are kept.
const KEPT: usize = 2;

/// One DStream checkpoint (see the [module documentation](self)).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct DStreamCheckpoint {
    /// The batch the resumed program runs next.
    pub next_batch: u64,
    /// The batch interval, in milliseconds.
    pub interval_ms: u64,
    /// Whether the context ran on the manual clock.
    pub manual: bool,
    /// Whether batch times print in UTC.
    pub utc: bool,
    /// The default number of partitions.
    pub default_partitions: usize,
    /// The Unix time (ms) of batch -1, so that batch times go on where they were.
    pub zero_ms: u64,
    /// Each input stream's offset where the next batch starts, by the input's name.
    pub inputs: BTreeMap<String, u64>,
    /// The position of each input whose offset does not say it all (a Kafka stream's next offset per
    /// partition), by the input's name.
    pub positions: BTreeMap<String, Vec<u8>>,
    /// Every stateful operator's state, one snapshot per worker (a program resumes on as many
    /// workers as it had).
    pub states: Vec<WorkerSnapshot>,
}

/// A DStream program's checkpoint directory.
pub(crate) struct DStreamCheckpoints {
    dir: PathBuf,
}

impl DStreamCheckpoints {
    /// The checkpoints in `dir` (created if missing).
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, CheckpointError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|source| CheckpointError::Io {
            what: "cannot create",
            path: dir.clone(),
            source,
        })?;
        Ok(DStreamCheckpoints { dir })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The newest checkpoint and its file, if there is one. A damaged newest file is an error that names
    /// it (nothing is overwritten or guessed).
    pub fn latest(&self) -> Result<Option<(PathBuf, DStreamCheckpoint)>, CheckpointError> {
        match self.files()?.pop() {
            Some((_, path)) => read_framed(&path).map(|cp| Some((path, cp))),
            None => Ok(None),
        }
    }

    /// Writes `checkpoint` durably, then drops all but the last few.
    pub fn write(&self, checkpoint: &DStreamCheckpoint) -> Result<(), CheckpointError> {
        let path = self
            .dir
            .join(format!("batch-{:010}.ckpt", checkpoint.next_batch));
        write_framed(&path, checkpoint)?;
        let files = self.files()?;
        for (_, old) in files.iter().take(files.len().saturating_sub(KEPT)) {
            fs::remove_file(old).map_err(|source| CheckpointError::Io {
                what: "cannot remove an old checkpoint",
                path: old.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// The checkpoint files, oldest first.
    fn files(&self) -> Result<Vec<(u64, PathBuf)>, CheckpointError> {
        let entries = fs::read_dir(&self.dir).map_err(|source| CheckpointError::Io {
            what: "cannot list",
            path: self.dir.clone(),
            source,
        })?;
        let mut files: Vec<(u64, PathBuf)> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let batch = name
                    .strip_prefix("batch-")?
                    .strip_suffix(".ckpt")?
                    .parse()
                    .ok()?;
                Some((batch, e.path()))
            })
            .collect();
        files.sort();
        Ok(files)
    }
}
