//! [`SparkModel`]: what a Spark Streaming micro-batch adds to holding records to batch boundaries
//! (`micro-batch:500ms:spark`), emulated in the source operator.
//!
//! Plain micro-batch mode releases a batch at its boundary: the idealized lower bound of micro-batch
//! latency. Spark Streaming also
//! * cuts the receiver's input into **blocks** every block interval (`spark.streaming.blockInterval`,
//!   200 ms by default); a batch at time `T` takes the blocks reported before `T`, so the records of
//!   the block still open at `T` (and of a block cut exactly at `T`, reported just after it) wait for
//!   the next batch;
//! * **schedules** the batch's job a little after `T`;
//! * **processes** it, in a time that grows with its size (a fixed part for the job's stages and
//!   tasks, and a part per record);
//! * runs one job at a time (`spark.streaming.concurrentJobs` = 1): a batch whose predecessor is still
//!   running **queues**, so that an interval shorter than the processing time makes the delay grow
//!   without bound (Spark's "scheduling delay"), which is how a too short interval shows in Spark.
//!
//! The records of a batch are released when its emulated job ends. The model only decides *when*;
//! the pipeline computes the same results as in every other mode.

use std::fmt;
use std::time::Duration;

/// The parameters of Spark's micro-batch latency (see the module's documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SparkModel {
    /// The receiver's block interval. Blocks are cut at multiples of it, as batches are at multiples
    /// of the batch interval: Spark starts both timers (`RecurringTimer.getStartTime`) at the next
    /// multiple of their period, so with a batch interval that is a multiple of the block interval, a
    /// block is cut at every batch time, and reported just after it.
    pub block: Duration,
    /// From the batch time to the start of its job.
    pub schedule: Duration,
    /// The fixed part of a batch's processing time.
    pub fixed: Duration,
    /// The part of a batch's processing time per record, in nanoseconds.
    pub per_record_ns: u64,
}

impl SparkModel {
    /// The parameters that ship, calibrated (`caudal compare --calibrate spark --workload
    /// keyed-count --modes micro-batch:500ms,micro-batch:1s --rate 100000 --duration 15s --warmup
    /// 15s`) against real Spark 3.5.9 (the DStream API on the JVM, Java 17, local[2], a socket
    /// receiver) on this project's 2-core machine: Spark's default block interval, the job 2 ms after
    /// the batch time, 97 ms plus 2.36 µs a record of processing (Spark's own listener, 90 batches
    /// of 5,000 to 100,000 records). Other workloads and machines differ: calibrate for them and pass
    /// `--spark-model`.
    pub const DEFAULT: SparkModel = SparkModel {
        block: Duration::from_millis(200),
        schedule: Duration::from_millis(2),
        fixed: Duration::from_millis(97),
        per_record_ns: 2_360,
    };

    /// The first block cut after `now_us` (wall-clock microseconds since the epoch).
    pub fn next_block_cut_us(&self, now_us: u64) -> u64 {
        let block = (self.block.as_micros() as u64).max(1);
        (now_us / block + 1) * block
    }

    /// How long the job of a batch of `records` runs.
    pub fn processing(&self, records: usize) -> Duration {
        self.fixed + Duration::from_nanos(self.per_record_ns.saturating_mul(records as u64))
    }

    /// When the job of the batch at `batch_us` with `records` records ends, if the job before it ended
    /// at `previous_end_us` (jobs run one at a time).
    pub fn job_end_us(&self, batch_us: u64, previous_end_us: u64, records: usize) -> u64 {
        let start = (batch_us + self.schedule.as_micros() as u64).max(previous_end_us);
        start + self.processing(records).as_micros() as u64
    }
}

impl fmt::Display for SparkModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Spark's model: blocks of {}, the job {} after the batch time, processing {} + {} ns a record, one job at a time{}",
            humantime::format_duration(self.block),
            humantime::format_duration(self.schedule),
            humantime::format_duration(self.fixed),
            self.per_record_ns,
            if *self == Self::DEFAULT {
                " (the defaults, calibrated against real Spark 3.5.9 on a 2-core machine: keyed-count)"
            } else {
                ""
            }
        )
    }
}

impl Default for SparkModel {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000;

    #[test]
    fn blocks_are_cut_at_multiples_of_the_block_interval_as_batches_are_of_theirs() {
        let model = SparkModel::DEFAULT;
        assert_eq!(model.next_block_cut_us(0), 200 * MS);
        assert_eq!(model.next_block_cut_us(100 * MS), 200 * MS);
        assert_eq!(model.next_block_cut_us(200 * MS), 400 * MS);
        assert_eq!(model.next_block_cut_us(399 * MS), 400 * MS);
        // With 1 s batches, a block is cut at every batch time.
        assert_eq!(model.next_block_cut_us(999 * MS), 1_000 * MS);
    }

    #[test]
    fn a_job_starts_after_the_batch_time_or_after_the_job_before_it() {
        let model = SparkModel {
            block: Duration::from_millis(200),
            schedule: Duration::from_millis(5),
            fixed: Duration::from_millis(60),
            per_record_ns: 1_000,
        };
        // 10,000 records: 60 ms + 10 ms, from 5 ms after the batch time.
        assert_eq!(model.job_end_us(1_000 * MS, 0, 10_000), 1_075 * MS);
        // The job before still runs: this one waits for it.
        assert_eq!(model.job_end_us(1_000 * MS, 1_200 * MS, 10_000), 1_270 * MS);
    }

    #[test]
    fn an_interval_shorter_than_the_processing_time_makes_the_delay_grow() {
        let model = SparkModel {
            block: Duration::from_millis(200),
            schedule: Duration::from_millis(5),
            fixed: Duration::from_millis(100),
            per_record_ns: 1_000,
        };
        let delays = |interval_ms: u64, records: usize| -> Vec<u64> {
            let mut end = 0;
            (1..=20)
                .map(|k| {
                    let batch = k * interval_ms * MS;
                    end = model.job_end_us(batch, end, records);
                    end - batch
                })
                .collect()
        };
        // 500 ms batches of 50,000 records (100,000/s): 150 ms of work, the same delay every batch.
        let stable = delays(500, 50_000);
        assert!(stable.windows(2).all(|w| w[0] == w[1]), "{stable:?}");
        // 100 ms batches of 10,000 records: 110 ms of work each, so every batch waits longer.
        let unstable = delays(100, 10_000);
        assert!(unstable.windows(2).all(|w| w[1] > w[0]), "{unstable:?}");
    }
}
