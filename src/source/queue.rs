//! An in-memory queue of batches, each a list of partitions, like Spark's `queueStream`.
//!
//! Batch `i` holds the records of event time `i * interval`. Partition `p` of every batch is read by
//! worker `p % workers`. Unpaced, every batch is available at once; paced, batch `i` becomes available
//! `i * interval` after the source starts.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use caudal_operators::{Event, EventTime};

use super::{Poll, Source, WorkerInfo};

/// Queued batches of partitions of records.
pub struct QueueSource<D> {
    /// The batches still to read, by index.
    batches: VecDeque<(u32, Vec<D>)>,
    interval: Duration,
    paced: bool,
    start: Option<Instant>,
    current: Option<(EventTime, std::vec::IntoIter<D>)>,
    read: u64,
}

impl<D: 'static> QueueSource<D> {
    /// The part of `batches` that `worker` reads: batch `i` at event time `i * interval`.
    pub fn new(batches: Vec<Vec<Vec<D>>>, interval: Duration, worker: WorkerInfo) -> Self {
        let batches = batches
            .into_iter()
            .enumerate()
            .map(|(i, partitions)| {
                let mine = partitions
                    .into_iter()
                    .enumerate()
                    .filter(|(p, _)| p % worker.peers == worker.index)
                    .flat_map(|(_, records)| records)
                    .collect();
                (i as u32, mine)
            })
            .collect();
        QueueSource {
            batches,
            interval,
            paced: false,
            start: None,
            current: None,
            read: 0,
        }
    }

    /// Makes batch `i` available only `i * interval` after the source starts.
    pub fn paced(mut self) -> Self {
        self.paced = true;
        self
    }
}

impl<D: 'static> Source for QueueSource<D> {
    type Item = D;

    fn poll(&mut self, out: &mut Vec<Event<D>>, budget: usize) -> Poll {
        let now = Instant::now();
        let start = *self.start.get_or_insert(now);
        let mut taken = 0;
        while taken < budget {
            if let Some((time, records)) = self.current.as_mut() {
                match records.next() {
                    Some(data) => {
                        out.push(Event::new(*time, data));
                        taken += 1;
                        continue;
                    }
                    None => self.current = None,
                }
            }
            let Some(&(index, _)) = self.batches.front() else {
                break;
            };
            if self.paced && start + self.interval * index > now {
                self.read += taken as u64;
                return Poll::Pending {
                    wake_at: Some(start + self.interval * index),
                };
            }
            let (index, records) = self.batches.pop_front().expect("front checked");
            let time = index as EventTime * self.interval.as_millis() as EventTime;
            self.current = Some((time, records.into_iter()));
        }
        self.read += taken as u64;
        if self.current.is_none() && self.batches.is_empty() {
            Poll::Done
        } else {
            Poll::Ready
        }
    }

    fn offset(&self) -> u64 {
        self.read
    }

    fn replayable(&self) -> bool {
        true
    }

    fn resume(&mut self, offset: u64) -> Result<(), String> {
        let mut left = offset;
        while left > 0 {
            let Some((_, records)) = self.batches.front_mut() else {
                return Err(format!("offset {offset} is past the end of the queue"));
            };
            let n = left.min(records.len() as u64) as usize;
            records.drain(..n);
            left -= n as u64;
            if records.is_empty() && left > 0 {
                self.batches.pop_front();
            }
        }
        self.read = offset;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_go_to_their_workers_with_batch_times() {
        let batches = vec![
            vec![vec![1, 2], vec![3]],
            vec![vec![], vec![4, 5]],
            vec![vec![6]],
        ];
        let mut per_worker = Vec::new();
        for index in 0..2 {
            let mut q = QueueSource::new(
                batches.clone(),
                Duration::from_millis(100),
                WorkerInfo { index, peers: 2 },
            );
            let mut out = Vec::new();
            while q.poll(&mut out, 1) != Poll::Done {}
            per_worker.push(
                out.into_iter()
                    .map(|e| (e.time, e.data))
                    .collect::<Vec<_>>(),
            );
        }
        assert_eq!(per_worker[0], vec![(0, 1), (0, 2), (200, 6)]);
        assert_eq!(per_worker[1], vec![(0, 3), (100, 4), (100, 5)]);
    }
}
