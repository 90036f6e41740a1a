//! [`InFlight`]: output a sink has sent in one checkpoint round and its destination has not yet
//! acknowledged, for the checkpoint's writer to wait for off the worker.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The records a sink sent in one round and has not had acknowledged, and the first that failed.
/// Clones share the count: the sink adds what it sends, whoever hears the acknowledgements (a Kafka
/// producer's delivery thread) takes them off, and the checkpoint's writer [waits](InFlight::wait) for
/// zero before the round is durable: an at-least-once sink's flush at a checkpoint, done without
/// stopping the worker (Flink's Kafka sink flushes in its pre-commit, on the task's thread).
#[derive(Clone, Debug, Default)]
pub struct InFlight(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    count: AtomicU64,
    failed: Mutex<Option<String>>,
}

/// The longest pause between two looks at the count while waiting.
const MAX_BACKOFF: Duration = Duration::from_millis(2);

impl InFlight {
    /// An empty count.
    pub fn new() -> Self {
        Self::default()
    }

    /// `records` are about to be sent (counted before, so that an acknowledgement never comes first).
    #[inline]
    pub fn sending(&self, records: u64) {
        self.0.count.fetch_add(records, Ordering::Relaxed);
    }

    /// One record was acknowledged, or failed with `error`.
    #[inline]
    pub fn acknowledged(&self, error: Option<String>) {
        if let Some(error) = error {
            let mut failed = self.0.failed.lock().unwrap_or_else(|e| e.into_inner());
            failed.get_or_insert(error);
        }
        self.0.count.fetch_sub(1, Ordering::Release);
    }

    /// Records sent and not yet acknowledged.
    pub fn pending(&self) -> u64 {
        self.0.count.load(Ordering::Acquire)
    }

    /// Waits until every record counted has been acknowledged: an error if one failed, or if some are
    /// still unacknowledged after `timeout`.
    pub fn wait(&self, timeout: Duration) -> Result<(), String> {
        let started = Instant::now();
        let mut backoff = Duration::from_micros(50);
        loop {
            if let Some(e) = self
                .0
                .failed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
            {
                return Err(format!("a result was not taken: {e}"));
            }
            let pending = self.pending();
            if pending == 0 {
                return Ok(());
            }
            if started.elapsed() >= timeout {
                return Err(format!(
                    "{pending} results were not acknowledged within {timeout:?}"
                ));
            }
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_for_every_acknowledgement_and_reports_a_failure() {
        let round = InFlight::new();
        round.sending(3);
        let acks = round.clone();
        let hearer = std::thread::spawn(move || {
            for _ in 0..3 {
                std::thread::sleep(Duration::from_millis(5));
                acks.acknowledged(None);
            }
        });
        round.wait(Duration::from_secs(10)).unwrap();
        assert_eq!(round.pending(), 0);
        hearer.join().unwrap();

        let failing = InFlight::new();
        failing.sending(2);
        failing.acknowledged(Some("broker down".into()));
        let err = failing.wait(Duration::from_secs(10)).unwrap_err();
        assert!(err.contains("broker down"), "{err}");
        let err = InFlight::new();
        err.sending(1);
        let err = err.wait(Duration::from_millis(10)).unwrap_err();
        assert!(err.contains("1 results were not acknowledged"), "{err}");
    }
}
