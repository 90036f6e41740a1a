//! Checkpoints, recovery and exactly-once output: what a run keeps so that a crash loses nothing its
//! [`Guarantee`] promises.
//!
//! # What each guarantee means
//!
//! | guarantee | after a crash and a restart with the same command |
//! |---|---|
//! | [`Guarantee::None`] (default) | nothing is kept: the run starts from scratch |
//! | [`Guarantee::AtMostOnce`] | the run resumes from the last complete checkpoint (state stays right); every sink drops the results an earlier attempt may have written ([`OutputFence`]): results in flight at the crash may be missing, none appears twice; sources that cannot replay read on from where they are |
//! | [`Guarantee::AtLeastOnce`] | the run resumes from the last complete checkpoint: state, timers, watermarks and source offsets as they were there; the input after it is read again, so output made after that checkpoint may appear twice; nothing is missing |
//! | [`Guarantee::ExactlyOnce`] | as at-least-once, and file output is staged per checkpoint and made visible only when the checkpoint that covers it is complete: the committed output of a crashed-and-resumed run equals, as a multiset of records, the output of a run without failure |
//!
//! Exactly-once output costs latency: a result becomes visible at the checkpoint after it was made
//! (once per `--checkpoint-interval`). At-least-once output is written as it comes.
//!
//! # How the cut is made (design note)
//!
//! A checkpoint is a *consistent cut*: the state of every keyed operator and the offset of every source
//! instance, as of the same set of input records. Caudal's timely timestamp is the event-time frontier
//! (the watermark plus one, [`caudal_operators::time`]), and windows close when it passes their end, so
//! the cut is made on that timestamp rather than beside it:
//!
//! 1. **Cut time.** A coordinator (one per process, shared by its workers) opens round `n` every
//!    checkpoint interval. Every source instance, when it first sees the round, raises the round's cut
//!    time `T` to one past its own capability (`fetch_max`), so once every instance has seen the round,
//!    `T` is above every capability any of them held before it, and it never moves again.
//! 2. **Alignment at the frontier.** Each source instance goes on reading and emitting as usual; its
//!    records go out at its capability, which is below `T`. The first time its watermark carries its
//!    capability to `T` or beyond (a normal watermark advance: no time is invented, no record is judged
//!    late that would not be), it records its offset and watermark and *pauses*: it reads nothing until
//!    the round is taken. Every record before the cut is therefore at a time `< T`, and no record after
//!    it has entered the dataflow.
//! 3. **Snapshot.** When every instance has paused, each worker waits until the frontier at its sinks
//!    has reached `T` (timely's progress tracking says then that every record `< T` has been processed
//!    by every operator, on every worker, and every event-time timer `< T` has fired), then copies its
//!    keyed operators' state from the [`caudal_operators::shell::StateRegistry`] (state, pending timers;
//!    versioned) and asks its sinks to *pre-commit* (stage what they have written since the last round).
//! 4. **Resume, then persist.** As soon as every worker has handed its copy over, the sources resume:
//!    records stop only for the alignment plus one copy of the state. Writing the copy (fsync'd files,
//!    checksummed) and the round's manifest happens on a background thread; the manifest is written
//!    last and makes the checkpoint *complete*. Only then are the staged outputs committed (made
//!    visible by an atomic rename). A crash before the manifest leaves an incomplete checkpoint, which
//!    the next run ignores (and clears), together with its staged output.
//!
//! Why it is consistent: an operator's state at the snapshot reflects exactly the records at times
//! `< T` (the frontier has passed them, and no record at `>= T` exists yet), and those are exactly the
//! records before each source's recorded offset. A restored run starts each source at its offset with
//! its capability at its recorded frontier, and each operator with its state and pending timers, so it
//! continues as the uninterrupted run would; windows still close from the event-time frontier, and a
//! resumed window fires once, with all its records.
//!
//! Cost per record: none. A source instance reads one atomic per activation to see whether a round is
//! open; nothing is added to records or timestamps. What a round costs is the alignment (until the
//! slowest source's watermark passes `T`: at most the time its watermark takes to move by the spread
//! of the instances' watermarks, usually one activation), and one copy of the state.
//!
//! Compared with the others: Bytewax puts an epoch beside the timestamp and snapshots at epoch ends, at
//! the price of a product timestamp on every record and windows that close on their own clock; Flink
//! aligns barriers that travel with the records, which stalls under backpressure (its users' most common
//! complaint, hence unaligned checkpoints). Here the frontier is the barrier: it passes through
//! backpressure as fast as the records before it are processed, and carries nothing extra.
//!
//! Sources that cannot replay (a TCP socket) keep a write-ahead log (`source::wal`) under `wal/` in
//! the job's directory: what they hand the dataflow is in it first, so their offset in a checkpoint
//! can be replayed too; a complete checkpoint lets them drop what is before its offset
//! (`Source::checkpointed`).
//!
//! On several processes (timely's cluster mode) the same steps are taken together: process 0 opens the
//! round, gathers the highest cut the processes' instances ask for and announces it, lets the sources
//! go on once every process's workers have copied their state, and writes the manifest once every
//! process has written its parts, which all share one checkpoint directory (`cluster`). The messages
//! travel on a small timely dataflow beside the pipeline (`control`). A process that dies breaks
//! timely's connections and so stops the others; the same command, run again on every process,
//! resumes them all from the last complete checkpoint.
//!
//! Limits today: the execution mode's frontier must move for a round to complete, so batch mode takes
//! only the final checkpoint at the end of its input; a source whose watermark stands still (no
//! input) delays the round until it moves.
//!
//! # Layout on disk
//!
//! One directory per job (`--checkpoint-dir`): `checkpoint-NNNNNNNNNN/` per round, with one file per
//! worker and a `MANIFEST`, each in a checksummed, versioned frame ([`store`]). The last
//! [`defaults::CHECKPOINTS_KEPT`](crate::config::defaults::CHECKPOINTS_KEPT) complete checkpoints are
//! kept. A checkpoint of another job, another number of workers, an unknown format or a damaged file is
//! refused with an error that names the file; nothing is overwritten.

mod cluster;
mod control;
mod coordinator;
mod fence;
mod in_flight;
pub mod publish;
mod source;
mod stats;
pub mod store;
mod worker;

pub use crate::config::CheckpointConfig;
pub use crate::guarantee::Guarantee;
pub(crate) use control::ControlChannel;
pub use coordinator::Coordinator;
pub use fence::OutputFence;
pub use in_flight::InFlight;
pub(crate) use source::SourceCheckpoint;
pub use stats::CheckpointStats;
pub use store::{CheckpointError, CheckpointStore, Manifest, Restored, SourcePart, WorkerPart};
pub(crate) use worker::{Stage, WorkerRecovery};

/// `name` (of a source or sink) as part of a file name in the checkpoint directory.
pub(crate) fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
