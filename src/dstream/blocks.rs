//! Spark's receiver blocks: a socket stream's batch has one partition per block its receiver cut.
//!
//! Spark's receiver adds each record to the current block as it arrives and cuts the block every
//! block interval (`spark.streaming.blockInterval`, 200 ms by default, on the wall clock, at multiples
//! of the interval); a block that received nothing is not made. A batch is a `BlockRDD` of the blocks
//! cut during its interval, one partition each. Caudal stamps each record with the wall-clock time at
//! which it was received ([`Received`]) and, when the batch is due, cuts the batch's records into a
//! partition per block interval they arrived in ([`into_blocks`]), in arrival order.

use caudal_operators::time::{wall_clock_ms, EventTime};
use caudal_operators::Event;

use super::rdd::Rdd;
use crate::source::{Poll, Source, SourceContext};

/// A source whose records carry, as their time, the wall-clock millisecond they were received in.
pub(crate) struct Received<S> {
    inner: Box<dyn Source<Item = S>>,
}

impl<S: 'static> Received<S> {
    /// `inner`, with its records stamped as they are received.
    pub(crate) fn new(inner: Box<dyn Source<Item = S>>) -> Self {
        Received { inner }
    }
}

impl<S: 'static> Source for Received<S> {
    type Item = S;
    fn start(&mut self, ctx: &SourceContext) {
        self.inner.start(ctx)
    }
    fn poll(&mut self, out: &mut Vec<Event<S>>, budget: usize) -> Poll {
        let before = out.len();
        let poll = self.inner.poll(out, budget);
        if out.len() > before {
            let now = wall_clock_ms() as EventTime;
            for event in &mut out[before..] {
                event.time = now;
            }
        }
        poll
    }
    fn offset(&self) -> u64 {
        self.inner.offset()
    }
    fn replayable(&self) -> bool {
        self.inner.replayable()
    }
    fn resume(&mut self, offset: u64) -> Result<(), String> {
        self.inner.resume(offset)
    }
    fn write_ahead(&mut self, dir: std::path::PathBuf) -> Result<(), String> {
        self.inner.write_ahead(dir)
    }
    fn checkpointed(&mut self, offset: u64) {
        self.inner.checkpointed(offset)
    }
    fn position(&self) -> Vec<u8> {
        self.inner.position()
    }
    fn resume_at(&mut self, offset: u64, position: &[u8]) -> Result<(), String> {
        self.inner.resume_at(offset, position)
    }
    fn merge_positions(&self, positions: &[&[u8]]) -> Result<Vec<u8>, String> {
        self.inner.merge_positions(positions)
    }
    fn caught_up(&self) -> bool {
        self.inner.caught_up()
    }
}

/// The records received by a batch's time as Spark's blocks: a partition for each block interval of
/// `block_ms` in which records arrived (by the times [`Received`] gave them), in arrival order; no
/// partition at all when nothing arrived.
pub(crate) fn into_blocks<T>(events: &mut Vec<Event<T>>, block_ms: u64) -> Rdd<T> {
    let block_ms = block_ms.max(1) as EventTime;
    let mut parts: Vec<Vec<T>> = Vec::new();
    let mut current = None;
    for event in events.drain(..) {
        let block = event.time / block_ms;
        if current != Some(block) {
            current = Some(block);
            parts.push(Vec::new());
        }
        parts.last_mut().expect("a block is open").push(event.data);
    }
    Rdd::new(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partition_per_block_interval_with_records() {
        let mut events = [
            (1_000, "a"),
            (1_150, "b"),
            (1_199, "c"),
            (1_200, "d"),
            (1_650, "e"),
            (1_799, "f"),
        ]
        .into_iter()
        .map(|(t, x)| Event::new(t, x))
        .collect::<Vec<_>>();
        let batch = into_blocks(&mut events, 200);
        // Blocks [1000, 1200), [1200, 1400) and [1600, 1800); none for [1400, 1600).
        assert_eq!(
            batch,
            Rdd::new(vec![vec!["a", "b", "c"], vec!["d"], vec!["e", "f"]])
        );
        assert!(events.is_empty());
        let nothing: Rdd<&str> = into_blocks(&mut Vec::new(), 200);
        assert_eq!(nothing.num_partitions(), 0);
    }
}
