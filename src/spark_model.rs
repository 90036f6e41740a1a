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
//! * **processes** it, in a time that grows with its size: a fixed part for the job's stages, a part
//!   per block (each block is a task of the first stage) and a part per record;
//! * is slow at first and speeds up over tens of seconds (class loading, the JIT compiling the hot
//!   paths): its first job costs more again, and every job's time is multiplied by a **warm-up**
//!   factor that decays with the context's age;
//! * takes a different time for jobs of the same size (garbage collection, the JIT, the other
//!   threads): the model draws each job's time from a log-normal **spread** around its median, from
//!   a fixed seed, so that runs of the model repeat; part of the spread is relative (the same share
//!   of any job) and part absolute (a **jitter** of a few ms whatever the job, so that short jobs
//!   vary more, relatively, than long ones, as Spark's do);
//! * runs one job at a time (`spark.streaming.concurrentJobs` = 1): a batch whose predecessor is still
//!   running **queues**, so that an interval shorter than the processing time makes the delay grow
//!   without bound (Spark's "scheduling delay"), which is how a too short interval shows in Spark.
//!
//! The records of a batch are released when its emulated job ends and its results are out (a
//! little later: collecting and writing them is not in Spark's processing time). The model only decides *when*;
//! the pipeline computes the same results as in every other mode.

use std::fmt;
use std::time::Duration;

/// One term of Spark's warm-up: the job's time is multiplied by `1 + extra_pct / 100 *
/// exp(-age / decay)` (summed over the terms), `age` from the start of the context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Warmup {
    /// How much longer than warm a job takes at age 0, in percent.
    pub extra_pct: u32,
    /// The time constant of its decay.
    pub decay: Duration,
}

impl Warmup {
    /// No warm-up.
    pub const NONE: Warmup = Warmup {
        extra_pct: 0,
        decay: Duration::from_secs(1),
    };
}

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
    /// The fixed part of a warm batch's processing time.
    pub fixed: Duration,
    /// The part of a warm batch's processing time per record, in nanoseconds.
    pub per_record_ns: u64,
    /// The part of a warm batch's processing time per block (non-empty blocks: Spark makes none of
    /// an empty one).
    pub per_block: Duration,
    /// The warm-up: a fast and a slow term.
    pub warmup: [Warmup; 2],
    /// From a job's end to its results' arrival (collecting them to the driver and writing them
    /// out, beyond what Spark's listener counts as processing).
    pub output: Duration,
    /// How long the context had run when the source started: the age of the model's Spark at the
    /// source's first activation (a real Spark is started, and runs its first batches, before the
    /// load it is given).
    pub head_start: Duration,
    /// What the context's first job costs on top (its stages' classes are loaded).
    pub first_job: Duration,
    /// The relative spread of job times, in percent: with [`SparkModel::jitter`] `0`, the standard
    /// deviation of their logarithm (`0` and no jitter: every job of a size takes the same time).
    pub spread_pct: u32,
    /// The absolute spread of job times: a job whose median time is `m` has the standard deviation
    /// `sqrt(spread² + (jitter / m)²)` in its logarithm, so that a jitter of a few ms weighs on a
    /// 40 ms job and hardly on a 400 ms one.
    pub jitter: Duration,
    /// The seed of the spread's draws: the same seed, the same job times (the lab gives each
    /// repetition its own, as each run of a real Spark has its own).
    pub seed: u64,
}

/// What the model needs to know of a batch's job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Job {
    /// The records in the batch.
    pub records: usize,
    /// The non-empty blocks in the batch.
    pub blocks: usize,
    /// From the start of the source to the batch time (the model adds
    /// [`SparkModel::head_start`] for the context's age).
    pub age: Duration,
    /// The job's number, from 0: the first job pays [`SparkModel::first_job`], and the spread is
    /// drawn from it.
    pub index: u64,
}

impl SparkModel {
    /// The parameters that ship for per-record results (`keyed-count`, `filter`), calibrated
    /// (`caudal compare --calibrate spark --workload keyed-count --modes
    /// micro-batch:500ms,micro-batch:1s --rate 100000 --duration 15s --warmup 15s`) against real
    /// Spark 3.5.9 (the DStream API on the JVM, Java 17, local[2], a socket receiver) on this
    /// project's 2-core machine: Spark's default block interval, the job 2 ms after the batch time,
    /// 97 ms plus 2.36 µs a record of processing (Spark's own listener, 90 batches of 5,000 to
    /// 100,000 records, from 15 s to 30 s after the start, so that the warm-up left by then is in
    /// these figures). Other workloads and machines differ: calibrate for them and pass
    /// `--spark-model`.
    pub const DEFAULT: SparkModel = SparkModel {
        block: Duration::from_millis(200),
        schedule: Duration::from_millis(2),
        fixed: Duration::from_millis(97),
        per_record_ns: 2_360,
        per_block: Duration::ZERO,
        warmup: [Warmup::NONE; 2],
        head_start: Duration::ZERO,
        output: Duration::ZERO,
        first_job: Duration::ZERO,
        spread_pct: 0,
        jitter: Duration::ZERO,
        seed: 0,
    };

    /// The parameters that ship for Spark's windows (`tumbling`, `sliding`: `reduceByKeyAndWindow`),
    /// `--calibrate`'s fit of real Spark 3.5.9's batches (Java 17, local[2], a socket receiver, this
    /// project's 2-core machine, nothing else running) of a 2 s window sliding every batch, from the
    /// start of the context to the end of the load (`tests/conformance/spark_sliding_batches.json`,
    /// 63 runs, 3,936 batches): three sets of up to fifteen runs with 10 s of warm-up and 10 s
    /// measured (three runs at each of 100 ms, 500 ms and 1 s batches at 10,000 records/s and
    /// 500 ms and 1 s at 100,000), and two sets of twelve with 30 s measured (500 ms and 1 s at both
    /// rates), so that Spark's warm-up is measured to 41 s rather than extrapolated past 21 s:
    /// 26.2 ms + 11.7 ms a block + 0.35 µs a record warm; at the start 7 times as long (4 times
    /// more decaying over 2 s, 2 times more over 8 s, so 1.5 times as long 10 s into the load,
    /// 1.14 times 20 s in and 1.04 times 30 s in: Spark's JIT on two busy cores); the first job
    /// 171 ms more; a spread of 18% and 6.4 ms; results 10 ms after the job; Spark up 1.4 s before
    /// the load.
    pub const WINDOWED: SparkModel = SparkModel {
        block: Duration::from_millis(200),
        schedule: Duration::from_millis(1),
        fixed: Duration::from_micros(26_249),
        per_record_ns: 350,
        per_block: Duration::from_micros(11_728),
        warmup: [
            Warmup {
                extra_pct: 400,
                decay: Duration::from_secs(2),
            },
            Warmup {
                extra_pct: 200,
                decay: Duration::from_secs(8),
            },
        ],
        output: Duration::from_micros(10_010),
        head_start: Duration::from_millis(1_376),
        first_job: Duration::from_micros(170_663),
        spread_pct: 18,
        jitter: Duration::from_micros(6_438),
        seed: 0,
    };

    /// The defaults for a workload: [`SparkModel::WINDOWED`] for Spark's windows, else
    /// [`SparkModel::DEFAULT`].
    pub fn default_for(windowed: bool) -> SparkModel {
        match windowed {
            true => Self::WINDOWED,
            false => Self::DEFAULT,
        }
    }

    /// The first block cut after `now_us` (wall-clock microseconds since the epoch).
    pub fn next_block_cut_us(&self, now_us: u64) -> u64 {
        let block = (self.block.as_micros() as u64).max(1);
        (now_us / block + 1) * block
    }

    /// How long a warm job of `records` records in `blocks` blocks runs, without the spread.
    pub fn warm_processing(&self, records: usize, blocks: usize) -> Duration {
        self.fixed
            + Duration::from_nanos(self.per_record_ns.saturating_mul(records as u64))
            + self
                .per_block
                .saturating_mul(blocks.min(u32::MAX as usize) as u32)
    }

    /// The warm-up factor at `age`: 1 once warm.
    pub fn warmup_factor(&self, age: Duration) -> f64 {
        warmup_factor(
            self.warmup
                .iter()
                .map(|w| (w.extra_pct as f64 / 100.0, w.decay.as_secs_f64())),
            age.as_secs_f64(),
        )
    }

    /// The spread factor of job `index`, whose median time is `median`: `exp(σZ)` for a standard
    /// normal `Z` drawn from the job's number and the seed, with `σ = sqrt(spread² + (jitter /
    /// median)²)`, so that its median is 1 and the model's median job time is the fitted one (the fit
    /// is of logarithms).
    pub fn spread_factor(&self, index: u64, median: Duration) -> f64 {
        let relative = self.spread_pct as f64 / 100.0;
        let absolute = match median.is_zero() {
            true => 0.0,
            false => self.jitter.as_secs_f64() / median.as_secs_f64(),
        };
        let sigma = relative.hypot(absolute);
        if sigma == 0.0 {
            return 1.0;
        }
        (sigma * standard_normal(self.seed, index)).exp()
    }

    /// How long `job` runs.
    pub fn processing(&self, job: &Job) -> Duration {
        let warm = self.warm_processing(job.records, job.blocks).as_secs_f64();
        let median = warm * self.warmup_factor(job.age + self.head_start);
        let mut seconds = median * self.spread_factor(job.index, Duration::from_secs_f64(median));
        if job.index == 0 {
            seconds += self.first_job.as_secs_f64();
        }
        Duration::from_secs_f64(seconds)
    }

    /// When `job`, of the batch at `batch_us`, ends, if the job before it ended at
    /// `previous_end_us` (jobs run one at a time).
    pub fn job_end_us(&self, batch_us: u64, previous_end_us: u64, job: &Job) -> u64 {
        let start = (batch_us + self.schedule.as_micros() as u64).max(previous_end_us);
        start + self.processing(job).as_micros() as u64
    }

    /// When the results of a job that ended at `job_end_us` are out.
    pub fn results_us(&self, job_end_us: u64) -> u64 {
        job_end_us + self.output.as_micros() as u64
    }
}

/// The warm-up factor at `age_s` of the terms `(extra, decay_s)`: `1 + Σ extra · exp(-age / decay)`
/// (the model's, and its fit's over candidate terms).
pub fn warmup_factor(terms: impl IntoIterator<Item = (f64, f64)>, age_s: f64) -> f64 {
    1.0 + terms
        .into_iter()
        .map(|(extra, decay_s)| extra * (-age_s / decay_s).exp())
        .sum::<f64>()
}

/// A standard normal number drawn from `seed` and `index` (SplitMix64 for two uniforms, then
/// Box–Muller).
fn standard_normal(seed: u64, index: u64) -> f64 {
    let mut state = index
        .wrapping_mul(2)
        .wrapping_add(0x5eed)
        .wrapping_add(seed.wrapping_mul(0xd1b5_4a32_d192_ed03));
    let mut uniform = || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        // In (0, 1]: the logarithm below stays finite.
        ((z >> 11) + 1) as f64 / (1u64 << 53) as f64
    };
    let (u1, u2) = (uniform(), uniform());
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

impl fmt::Display for SparkModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms =
            |d: Duration| humantime::format_duration(Duration::from_millis(d.as_millis() as u64));
        write!(
            f,
            "Spark's model: blocks of {}, the job {} after the batch time, processing {} + {} ns a record",
            ms(self.block),
            ms(self.schedule),
            humantime::format_duration(self.fixed),
            self.per_record_ns,
        )?;
        if !self.per_block.is_zero() {
            write!(
                f,
                " + {} a block",
                humantime::format_duration(self.per_block)
            )?;
        }
        for w in self.warmup.iter().filter(|w| w.extra_pct > 0) {
            write!(
                f,
                ", +{}% at start decaying over {}",
                w.extra_pct,
                humantime::format_duration(w.decay)
            )?;
        }
        if !self.first_job.is_zero() {
            write!(f, ", the first job {} more", ms(self.first_job))?;
        }
        if !self.output.is_zero() {
            write!(f, ", results {} after the job", ms(self.output))?;
        }
        if !self.head_start.is_zero() {
            write!(f, ", Spark up {} before the load", ms(self.head_start))?;
        }
        match (self.spread_pct, self.jitter.is_zero()) {
            (0, true) => {}
            (pct, true) => write!(f, ", spread {pct}% (log-normal)")?,
            (pct, false) => write!(
                f,
                ", spread {pct}% and {} (log-normal)",
                humantime::format_duration(Duration::from_micros(self.jitter.as_micros() as u64))
            )?,
        }
        write!(f, ", one job at a time")?;
        let unseeded = SparkModel { seed: 0, ..*self };
        if unseeded == Self::DEFAULT {
            write!(f, " (the defaults, calibrated against real Spark 3.5.9 on a 2-core machine: keyed-count)")?;
        } else if unseeded == Self::WINDOWED {
            write!(f, " (the defaults for windows, fitted to real Spark 3.5.9 on a 2-core machine: sliding)")?;
        }
        Ok(())
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

    fn job(records: usize) -> Job {
        Job {
            records,
            blocks: 0,
            age: Duration::from_secs(3_600),
            index: 1,
        }
    }

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
            schedule: Duration::from_millis(5),
            fixed: Duration::from_millis(60),
            per_record_ns: 1_000,
            ..SparkModel::DEFAULT
        };
        // 10,000 records: 60 ms + 10 ms, from 5 ms after the batch time.
        assert_eq!(model.job_end_us(1_000 * MS, 0, &job(10_000)), 1_075 * MS);
        // The job before still runs: this one waits for it.
        assert_eq!(
            model.job_end_us(1_000 * MS, 1_200 * MS, &job(10_000)),
            1_270 * MS
        );
    }

    #[test]
    fn blocks_the_first_job_and_the_warm_up_add_to_the_processing_time() {
        let model = SparkModel {
            fixed: Duration::from_millis(50),
            per_record_ns: 1_000,
            per_block: Duration::from_millis(10),
            warmup: [
                Warmup {
                    extra_pct: 300,
                    decay: Duration::from_secs(2),
                },
                Warmup {
                    extra_pct: 100,
                    decay: Duration::from_secs(10),
                },
            ],
            first_job: Duration::from_millis(400),
            ..SparkModel::DEFAULT
        };
        let at = |records, blocks, age_s, index| {
            model.processing(&Job {
                records,
                blocks,
                age: Duration::from_secs(age_s),
                index,
            })
        };
        // Warm (an hour in): 50 ms + 3 blocks of 10 ms + 20,000 records of 1 µs.
        assert_eq!(at(20_000, 3, 3_600, 7), Duration::from_millis(100));
        // At age 0 the factor is 1 + 3 + 1 = 5; the first job pays 400 ms more.
        assert_eq!(at(0, 0, 0, 1), Duration::from_millis(250));
        assert_eq!(at(0, 0, 0, 0), Duration::from_millis(650));
        // At 10 s: 1 + 3 e^-5 + e^-1 = 1.38809...
        let ten = at(0, 0, 10, 1).as_secs_f64();
        let expected = 0.050 * (1.0 + 3.0 * (-5.0f64).exp() + (-1.0f64).exp());
        assert!((ten - expected).abs() < 1e-9, "{ten} {expected}");
        // A context up for 4 s before the source started is 4 s older at each batch.
        let earlier = SparkModel {
            head_start: Duration::from_secs(4),
            ..model
        };
        let job = Job {
            records: 0,
            blocks: 0,
            age: Duration::from_secs(6),
            index: 1,
        };
        assert_eq!(earlier.processing(&job), at(0, 0, 10, 1));
    }

    /// The mean and standard deviation of the logarithm of 20,000 spread factors of `model` for
    /// jobs of median `median_ms`, and their median.
    fn spread_of(model: &SparkModel, median_ms: u64) -> (f64, f64, f64) {
        let median = Duration::from_millis(median_ms);
        let mut logs: Vec<f64> = (0..20_000)
            .map(|i| model.spread_factor(i, median).ln())
            .collect();
        let n = logs.len() as f64;
        let mean_log = logs.iter().sum::<f64>() / n;
        let sd = (logs.iter().map(|l| (l - mean_log).powi(2)).sum::<f64>() / n).sqrt();
        logs.sort_by(f64::total_cmp);
        (mean_log, sd, logs[logs.len() / 2].exp())
    }

    #[test]
    fn the_spread_keeps_the_median_and_has_the_asked_for_deviation_and_repeats() {
        let model = SparkModel {
            spread_pct: 30,
            ..SparkModel::DEFAULT
        };
        let (mean_log, sd, median_factor) = spread_of(&model, 100);
        assert!((median_factor - 1.0).abs() < 0.01, "{median_factor}");
        assert!(mean_log.abs() < 0.01, "{mean_log}");
        assert!((sd - 0.30).abs() < 0.01, "{sd}");
        // The same job number, the same draw: runs of the model repeat.
        let ms = Duration::from_millis(100);
        assert_eq!(model.spread_factor(17, ms), model.spread_factor(17, ms));
        assert_ne!(model.spread_factor(17, ms), model.spread_factor(18, ms));
        // Another seed, other draws.
        let reseeded = SparkModel { seed: 1, ..model };
        assert_ne!(model.spread_factor(17, ms), reseeded.spread_factor(17, ms));
        assert_eq!(SparkModel::DEFAULT.spread_factor(17, ms), 1.0);
    }

    #[test]
    fn the_jitter_spreads_short_jobs_more_than_long_ones() {
        let model = SparkModel {
            spread_pct: 20,
            jitter: Duration::from_millis(15),
            ..SparkModel::DEFAULT
        };
        // sqrt(0.2² + (15 / 20)²) = 0.776 for a 20 ms job, sqrt(0.2² + (15 / 500)²) = 0.202 for a
        // 500 ms one; the median stays the job's.
        for (median_ms, expected) in [(20, 0.2f64.hypot(0.75)), (500, 0.2f64.hypot(0.03))] {
            let (mean_log, sd, median_factor) = spread_of(&model, median_ms);
            assert!(
                (sd - expected).abs() < 0.02,
                "{median_ms} ms: {sd} {expected}"
            );
            assert!(mean_log.abs() < 0.02, "{mean_log}");
            assert!((median_factor - 1.0).abs() < 0.02, "{median_factor}");
        }
        // A jitter alone spreads too.
        let jitter_only = SparkModel {
            spread_pct: 0,
            ..model
        };
        let (_, sd, _) = spread_of(&jitter_only, 100);
        assert!((sd - 0.15).abs() < 0.01, "{sd}");
    }

    #[test]
    fn an_interval_shorter_than_the_processing_time_makes_the_delay_grow() {
        let model = SparkModel {
            schedule: Duration::from_millis(5),
            fixed: Duration::from_millis(100),
            per_record_ns: 1_000,
            ..SparkModel::DEFAULT
        };
        let delays = |interval_ms: u64, records: usize| -> Vec<u64> {
            let mut end = 0;
            (1..=20)
                .map(|k| {
                    let batch = k * interval_ms * MS;
                    end = model.job_end_us(batch, end, &job(records));
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
