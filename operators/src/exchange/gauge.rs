//! What the exchanges of a process hold: records handed to each of its workers and not yet taken, and
//! records sent to each worker of another process that it has not yet acknowledged.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use timely::dataflow::Scope;
use timely::progress::Timestamp;

/// The records in the exchange queues of one process, per receiving worker, and the budget that
/// sources keep them under. Clones share the counts.
///
/// A sender adds a message's records to the count of the worker it sends them to. For a worker of the
/// same process, that worker takes them off when it pulls the message, so its count is what waits for
/// it. A worker of another process acknowledges what it pulled (credits, as in Flink's credit-based
/// flow control: see [`Metered`](super::Metered)), so its count here is what this process has sent
/// it and it has not taken yet: its queue holds at most that much from each process.
///
/// ```
/// use caudal_operators::exchange::ExchangeGauge;
/// let gauge = ExchangeGauge::new(0, 2, 2, 1_000);
/// let mut config = timely::Config::process(2);
/// gauge.install(&mut config);
/// timely::execute(config, |worker| {
///     worker.dataflow::<caudal_operators::EventTime, _, _>(|scope| {
///         assert!(ExchangeGauge::of(scope).is_some());
///     });
/// })
/// .unwrap();
/// assert!(!gauge.congested());
/// ```
#[derive(Clone, Debug)]
pub struct ExchangeGauge(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    /// The global index of the process's first worker.
    first: usize,
    /// How many workers the process has.
    workers: usize,
    /// Per global worker: records queued for it (a worker of the process), or sent to it and not
    /// acknowledged (a worker of another process).
    queued: Box<[Padded]>,
    /// The most any worker has had queued.
    peak: AtomicU64,
    /// Above how many queued records of one worker the sources stop reading.
    budget: u64,
}

/// One counter per cache line, so that workers counting for each other do not share lines.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Padded(AtomicU64);

impl ExchangeGauge {
    /// The key under which the gauge is stored in timely's worker configuration.
    pub const CONFIG_KEY: &'static str = "caudal.exchange_gauge";

    /// A gauge for the `workers` workers of a process whose first worker has global index `first`, in a
    /// run of `peers` workers in all, with a budget of `budget` queued records per worker.
    pub fn new(first: usize, workers: usize, peers: usize, budget: u64) -> Self {
        let workers = workers.max(1);
        ExchangeGauge(Arc::new(Inner {
            first,
            workers,
            queued: (0..peers.max(first + workers))
                .map(|_| Padded::default())
                .collect(),
            peak: AtomicU64::new(0),
            budget: budget.max(1),
        }))
    }

    /// Stores (a handle to) this gauge in a timely configuration, for every worker of the process.
    pub fn install(&self, config: &mut timely::Config) {
        config
            .worker
            .set(Self::CONFIG_KEY.to_string(), self.clone());
    }

    /// The gauge of the process that builds `scope`, if one was installed.
    pub fn of<T: Timestamp>(scope: Scope<'_, T>) -> Option<Self> {
        scope
            .worker()
            .config()
            .get::<ExchangeGauge>(Self::CONFIG_KEY)
            .cloned()
    }

    /// The counter of global worker `worker`.
    #[inline]
    fn slot(&self, worker: usize) -> Option<&AtomicU64> {
        self.0.queued.get(worker).map(|p| &p.0)
    }

    /// Whether global worker `worker` is one of this process's.
    #[inline]
    pub fn is_local(&self, worker: usize) -> bool {
        worker
            .checked_sub(self.0.first)
            .is_some_and(|i| i < self.0.workers)
    }

    /// Whether the run has workers in other processes (whose receipts come as acknowledgements).
    pub fn has_remote(&self) -> bool {
        self.0.queued.len() > self.0.workers
    }

    /// `records` were handed to global worker `worker`.
    #[inline]
    pub(crate) fn sent(&self, worker: usize, records: usize) {
        if let Some(slot) = self.slot(worker) {
            let now = slot.fetch_add(records as u64, Ordering::Relaxed) + records as u64;
            if now > self.0.peak.load(Ordering::Relaxed) {
                self.0.peak.fetch_max(now, Ordering::Relaxed);
            }
        }
    }

    /// Global worker `worker` (of this process) took `records` sent by global worker `from`; what came
    /// from another process is settled by that process's gauge when `worker` acknowledges it.
    #[inline]
    pub(crate) fn taken(&self, worker: usize, from: usize, records: usize) {
        if self.is_local(from) {
            if let Some(slot) = self.slot(worker) {
                slot.fetch_sub(records as u64, Ordering::Relaxed);
            }
        }
    }

    /// Global worker `worker` (of another process) acknowledged taking `records` sent from this one.
    #[inline]
    pub(crate) fn acknowledged(&self, worker: usize, records: u64) {
        if let Some(slot) = self.slot(worker) {
            slot.fetch_sub(records, Ordering::Relaxed);
        }
    }

    /// Whether some worker has more than the budget queued for it (of this process), or sent to it and
    /// not acknowledged (of another): the process's sources should not read.
    #[inline]
    pub fn congested(&self) -> bool {
        self.0
            .queued
            .iter()
            .any(|p| p.0.load(Ordering::Relaxed) > self.0.budget)
    }

    /// Records queued for global worker `worker` now (of another process: sent from this one and not
    /// acknowledged).
    pub fn queued(&self, worker: usize) -> u64 {
        self.slot(worker).map_or(0, |s| s.load(Ordering::Relaxed))
    }

    /// The most records any worker has had queued at once (for a worker of another process: sent from
    /// this one and not acknowledged).
    pub fn peak(&self) -> u64 {
        self.0.peak.load(Ordering::Relaxed)
    }

    /// The budget: queued records per worker above which sources stop reading.
    pub fn budget(&self) -> u64 {
        self.0.budget
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_what_local_workers_were_sent_and_have_not_taken() {
        // Process 1 of a cluster with 2 workers per process: global workers 2 and 3.
        let gauge = ExchangeGauge::new(2, 2, 4, 10);
        assert!(gauge.has_remote() && gauge.is_local(3) && !gauge.is_local(0));
        gauge.sent(3, 8);
        assert_eq!(gauge.queued(3), 8);
        assert!(!gauge.congested());
        gauge.sent(3, 3);
        assert!(gauge.congested());
        gauge.taken(3, 2, 11);
        gauge.taken(3, 0, 50); // from another process: that process's gauge counted it
        assert_eq!(gauge.queued(3), 0);
        assert!(!gauge.congested());
        assert_eq!(gauge.peak(), 11);
    }

    #[test]
    fn counts_what_other_processes_workers_have_not_acknowledged() {
        // Process 0 of two, one worker each: worker 1 is the other process's.
        let gauge = ExchangeGauge::new(0, 1, 2, 10);
        gauge.sent(1, 12);
        assert!(gauge.congested(), "sent and not acknowledged");
        assert_eq!(gauge.queued(1), 12);
        gauge.acknowledged(1, 5);
        assert_eq!(gauge.queued(1), 7);
        assert!(!gauge.congested());
        assert_eq!(gauge.peak(), 12);
        assert!(!ExchangeGauge::new(0, 2, 2, 10).has_remote());
    }
}
