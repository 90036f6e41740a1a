//! [`CheckpointStats`]: what a run's checkpoints cost, for its report.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

/// What a run's checkpoints cost: how long the sources waited, how big and slow the writes were, and
/// how long the restore took.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CheckpointStats {
    /// The guarantee.
    pub guarantee: String,
    /// Rounds completed (written and committed), the final one included.
    pub rounds: u64,
    /// Rounds whose writing failed (the previous checkpoint stayed in force).
    pub failed: u64,
    /// The longest alignment: from a round's opening until every source had paused at its cut, in µs.
    pub max_alignment_us: u64,
    /// The longest pause of the sources: from alignment until every worker had copied its state, in µs
    /// (the stop of the flow that a round costs, beside the alignment).
    pub max_pause_us: u64,
    /// The longest copy by one worker (its state serialized, its sinks' buffers taken), in µs: the
    /// part of the pause that the checkpoint itself costs; the rest waits for the frontier to reach
    /// the cut (the work before it, a burst of window firings say).
    pub max_copy_us: u64,
    /// The longest write of a round (every part, fsync'd, and the manifest), in µs; off the workers.
    pub max_write_us: u64,
    /// The size of the last checkpoint's files, in bytes.
    pub last_bytes: u64,
    /// The checkpoint this run resumed from, if any.
    pub resumed_from: Option<u64>,
    /// From the run's start until every worker had restored its state and built its dataflow, in µs.
    pub restore_us: Option<u64>,
}

impl fmt::Display for CheckpointStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let us = |us: u64| format!("{:.1} ms", us as f64 / 1e3);
        write!(
            f,
            "  checkpoints ({}): {} taken, last {} bytes; longest alignment {}, longest pause {} (copy {}), longest write {}",
            self.guarantee,
            self.rounds,
            self.last_bytes,
            us(self.max_alignment_us),
            us(self.max_pause_us),
            us(self.max_copy_us),
            us(self.max_write_us)
        )?;
        if self.failed > 0 {
            write!(f, "; {} failed to write", self.failed)?;
        }
        if let (Some(epoch), Some(restore)) = (self.resumed_from, self.restore_us) {
            write!(f, "; resumed from {epoch}, restored in {}", us(restore))?;
        }
        writeln!(f)
    }
}

/// Microseconds of `d`, for the stats.
pub(crate) fn micros(d: Duration) -> u64 {
    d.as_micros().min(u64::MAX as u128) as u64
}
