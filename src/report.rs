//! What a run did: records read and written, lateness, micro-batches, dead letters and errors.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::dead_letter::DeadLetter;

/// One source's counters.
#[derive(Clone, Debug, Serialize)]
pub struct SourceReport {
    /// The source's name in the pipeline.
    pub name: String,
    /// Records read.
    pub records: u64,
    /// Records that were behind the watermark when read.
    pub late: u64,
    /// Micro-batches released (0 outside micro-batch mode).
    pub batches: u64,
    /// Micro-batches that reached the hold budget (the source stopped reading until they closed).
    pub capped: u64,
    /// Times the source stopped reading because a worker of the process had more than the exchange
    /// budget waiting for it (`RunConfig::exchange_budget`).
    pub throttled: u64,
    /// Times an instance stopped reading because its watermark was too far ahead of the slowest
    /// instance's (`RunConfig::max_watermark_drift`).
    pub aligned: u64,
}

/// One sink's counters.
#[derive(Clone, Debug, Serialize)]
pub struct SinkReport {
    /// The sink's name in the pipeline.
    pub name: String,
    /// Records written.
    pub records: u64,
    /// Results dropped by the at-most-once fence (an earlier attempt may have written them).
    pub fenced: u64,
    /// Failed writes.
    pub errors: u64,
    /// The first failure.
    pub first_error: Option<String>,
}

/// The outcome of a run (of this process's workers).
#[derive(Clone, Debug, Serialize)]
pub struct RunReport {
    /// The execution mode.
    pub mode: String,
    /// Worker threads in this process.
    pub workers: usize,
    /// Wall-clock time from start to the last worker's end.
    #[serde(serialize_with = "seconds")]
    pub elapsed: Duration,
    /// Every source, by name.
    pub sources: Vec<SourceReport>,
    /// Every sink, by name.
    pub sinks: Vec<SinkReport>,
    /// The most records that waited in the exchange queues for one worker at once (for a worker of
    /// another process: what this process sent it that it had not taken).
    pub exchange_peak: u64,
    /// How many inputs could not be read.
    pub dead_letters: u64,
    /// The first few of them.
    pub dead_letter_samples: Vec<DeadLetter>,
    /// What checkpoints cost, under a guarantee.
    pub checkpoints: Option<crate::checkpoint::CheckpointStats>,
    /// What this process's progress tracking sent, if counted
    /// ([`crate::config::RunConfig::count_progress`]).
    pub progress: Option<crate::progress_traffic::ProgressReport>,
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl RunReport {
    /// The first sink failure, if any.
    pub fn sink_error(&self) -> Option<&str> {
        self.sinks.iter().find_map(|s| s.first_error.as_deref())
    }
}

impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} run on {} worker(s) took {:.3} s",
            self.mode,
            self.workers,
            self.elapsed.as_secs_f64()
        )?;
        for s in &self.sources {
            write!(
                f,
                "  source {}: {} records read, {} behind the watermark",
                s.name, s.records, s.late
            )?;
            if s.batches > 0 {
                write!(f, ", {} micro-batches", s.batches)?;
            }
            if s.capped > 0 {
                write!(
                    f,
                    " ({} reached the hold budget: the source waited for them to close)",
                    s.capped
                )?;
            }
            if s.throttled > 0 {
                write!(
                    f,
                    " (stopped {} times while a worker had more than the exchange budget waiting)",
                    s.throttled
                )?;
            }
            if s.aligned > 0 {
                write!(
                    f,
                    " (an instance waited {} times for a slower one to catch up in event time)",
                    s.aligned
                )?;
            }
            writeln!(f)?;
        }
        for s in &self.sinks {
            write!(f, "  sink {}: {} records written", s.name, s.records)?;
            if s.fenced > 0 {
                write!(
                    f,
                    ", {} dropped as an earlier attempt may have written them (at-most-once)",
                    s.fenced
                )?;
            }
            if let Some(e) = &s.first_error {
                write!(f, ", {} failed writes (first: {e})", s.errors)?;
            }
            writeln!(f)?;
        }
        if let Some(checkpoints) = &self.checkpoints {
            write!(f, "{checkpoints}")?;
        }
        if let Some(p) = &self.progress {
            writeln!(
                f,
                "  progress: {} broadcasts of {} updates sent by this process's workers ({:.0}/s; about {:.1} KB/s to each other process)",
                p.messages,
                p.updates,
                p.messages_per_s,
                p.bytes_per_s / 1e3
            )?;
        }
        if self.dead_letters > 0 {
            writeln!(
                f,
                "  {} bad input(s) skipped; the first:",
                self.dead_letters
            )?;
            for d in &self.dead_letter_samples {
                writeln!(f, "    {}: {:?}: {}", d.origin, d.input, d.reason)?;
            }
        }
        Ok(())
    }
}
